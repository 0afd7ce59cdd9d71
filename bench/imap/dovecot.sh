# Sourced by bench/imap/run.sh: a private Dovecot (Debian's dovecot-imapd)
# serving IMAP and IMAPS on 127.0.0.1 high ports from a config under a
# temporary directory: Maildir under DIR/mail/%u, users from a passwd-file
# with the same {SHA512-CRYPT} hashes Herald holds, the mailboxes a new
# Herald account gets (with their special-use roles, subscribed), and the
# login processes in Dovecot's high-performance mode (service_count = 0,
# one long-lived imap-login process per core). Never the system instance.

# dovecot_setup DIR IMAP_PORT IMAPS_PORT PASSWD_FILE UID GID
dovecot_setup() {
	local d=$1 port=$2 sport=$3 passwd=$4 uid=$5 gid=$6
	mkdir -p "$d/run" "$d/state" "$d/mail"
	chown "$uid:$gid" "$d/mail"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1
	chmod 600 "$d/key.pem"
	cat > "$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <$d/cert.pem
ssl_key = <$d/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$d/mail/%u
first_valid_uid = $uid
first_valid_gid = $gid
mail_max_userip_connections = 100000
default_process_limit = 20000
default_client_limit = 18000
default_vsz_limit = 1G
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$d/mail/%u
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $sport
    ssl = yes
  }
  # high-performance mode: long-lived login processes, one per core
  service_count = 0
  process_min_avail = $(nproc)
  client_limit = 18000
}
service imap {
  process_limit = 20000
}
service anvil {
  client_limit = 18000
}
service auth {
  client_limit = 18000
}
service stats {
  client_limit = 18000
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
CONF
}

# dovecot_start DIR: runs it in the foreground of a background job; sets
# DOVECOT_PID.
dovecot_start() {
	local d=$1
	/usr/sbin/dovecot -c "$d/dovecot.conf" -F >>"$d/dovecot.out" 2>&1 &
	DOVECOT_PID=$!
}

# dovecot_stop PID
dovecot_stop() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
