# Shared by the install scripts: install Debian packages by name, quietly,
# only those not installed yet, and never let a package start its service
# (peers such as postfix or dovecot must not grab the real ports).
apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
			|| missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "herald: need root to install: ${missing[*]}" >&2
		return 1
	fi
	echo "installing: ${missing[*]}" >&2
	local prc=/usr/sbin/policy-rc.d created=0
	if [ ! -e "$prc" ]; then
		printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod 755 "$prc"; created=1
	fi
	if [ ! -f /var/lib/apt/periodic/herald-updated ] || \
	   [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
		apt-get update -qq >&2 && mkdir -p /var/lib/apt/periodic && \
			touch /var/lib/apt/periodic/herald-updated
	fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/tmp/herald-apt.log 2>&1
	local rc=$?
	[ $created -eq 1 ] && rm -f "$prc"
	if [ $rc -ne 0 ]; then
		# a stale package list: refresh once and retry
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/tmp/herald-apt.log 2>&1 || {
			tail -20 /tmp/herald-apt.log >&2; return 1; }
	fi
}

ensure_herald_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	id herald >/dev/null 2>&1 && return 0
	useradd --system --user-group --no-create-home --home-dir /var/lib/herald \
		--shell /usr/sbin/nologin herald
}
