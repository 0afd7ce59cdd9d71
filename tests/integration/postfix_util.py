"""A private Postfix instance from Debian for the tests that talk to it.

Everything lives under a temporary directory: config_directory,
queue_directory, data_directory, the log (maillog_file), virtual Maildirs
and an optional Cyrus sasldb. smtpd listens only on the loopback
addresses and ports the test names (master.cf lines), nothing is
chrooted, and the system's own Postfix instance is never touched. stop()
ends the master and its children in every case (kill -9 of the master
when `postfix stop` hangs).
"""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from harness import free_port, wait_port

# the services besides smtpd, shared with bench/lib.sh
MASTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                      "data", "postfix-master.cf")


class Postfix:
    """services: (address, port, extra smtpd args) for each smtpd
    listener; port None picks a free high port on address. settings: more
    main.cf parameters (key=value), applied after the defaults."""

    def __init__(self, services=(("127.0.0.1", None, ""),), settings=(),
                 hostname="postfix.relay.test"):
        self.dir = tempfile.mkdtemp(prefix="herald-it-postfix-")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.vmail = os.path.join(self.dir, "vmail")
        self.maillog = os.path.join(self.dir, "maillog")
        self.hostname = hostname
        self.started = False
        for d in (self.etc, self.spool, self.data, self.vmail):
            os.makedirs(d)
        os.chmod(self.etc, 0o755)
        shutil.chown(self.data, "postfix", "postfix")
        shutil.chown(self.vmail, "nobody", "nogroup")
        open(self.maillog, "w").close()
        self.listen = []
        lines = []
        for addr, port, args in services:
            port = port or free_port(addr)
            self.listen.append((addr, port))
            lines.append(f"{addr}:{port} inet n - n - - smtpd {args}".rstrip())
        self.port = self.listen[0][1]
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("\n".join(lines) + "\n")
            with open(MASTER) as m:
                f.write(m.read())
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("")
        domain = hostname.split(".", 1)[1]
        self.postconf(
            "compatibility_level=3.6",
            f"config_directory={self.etc}",
            f"queue_directory={self.spool}",
            f"data_directory={self.data}",
            f"maillog_file={self.maillog}",
            f"maillog_file_prefixes={self.dir}",
            "mail_owner=postfix", "setgid_group=postdrop",
            f"myhostname={hostname}", f"mydomain={domain}",
            f"myorigin={hostname}", "mydestination=",
            "local_transport=error:no local delivery",
            "alias_maps=", "alias_database=",
            # Postfix wants inet_interfaces on an interface (127.0.0.4 is
            # loopback but not assigned); master.cf's host:port services
            # bind their own addresses whatever this says
            "inet_interfaces=127.0.0.1", "inet_protocols=ipv4",
            "mynetworks=127.0.0.0/8", "relayhost=", "biff=no",
            "smtputf8_enable=no",
            "smtpd_banner=$myhostname ESMTP Postfix",
            "master_service_disable=",
            # fail fast instead of deferring for minutes
            "smtp_connect_timeout=10s", "lmtp_connect_timeout=10s",
            "maximal_backoff_time=5s", "minimal_backoff_time=1s",
            "queue_run_delay=1s", *settings)

    def postconf(self, *settings):
        subprocess.run(["postconf", "-c", self.etc, "-e", *settings],
                       check=True, capture_output=True, timeout=30)

    def tls(self, cert, key, ca=None):
        """STARTTLS offered by smtpd and used when offered by smtp, both
        logged (loglevel 1) and shown in the Received header."""
        settings = [f"smtpd_tls_cert_file={cert}", f"smtpd_tls_key_file={key}",
                    "smtpd_tls_security_level=may",
                    "smtpd_tls_received_header=yes", "smtpd_tls_loglevel=1",
                    "smtp_tls_security_level=may", "smtp_tls_loglevel=1"]
        if ca:
            settings += [f"smtp_tls_CAfile={ca}", f"smtpd_tls_CAfile={ca}"]
        self.postconf(*settings)
        # smtpd and smtp get their entropy and session cache from tlsmgr:
        # without it they log "disabling TLS support" and talk in clear
        with open(os.path.join(self.etc, "master.cf"), "a") as f:
            f.write("tlsmgr    unix  - - n 1000? 1 tlsmgr\n")

    def virtual_mailboxes(self, domain, users):
        """Delivery to Maildirs under vmail/DOMAIN/USER/ (virtual(8), as
        nobody)."""
        path = os.path.join(self.etc, "vmailbox")
        with open(path, "w") as f:
            f.writelines(f"{u}@{domain} {domain}/{u}/\n" for u in users)
        nogroup = subprocess.run(["getent", "group", "nogroup"],
                                 capture_output=True, text=True,
                                 check=True).stdout.split(":")[2]
        self.postconf(f"virtual_mailbox_domains={domain}",
                      f"virtual_mailbox_maps=texthash:{path}",
                      f"virtual_mailbox_base={self.vmail}",
                      "virtual_transport=virtual",
                      f"virtual_uid_maps=static:{pwd.getpwnam('nobody').pw_uid}",
                      f"virtual_gid_maps=static:{nogroup}")

    def maildir(self, domain, user):
        """The messages delivered to user@domain, oldest first."""
        files = glob.glob(os.path.join(self.vmail, domain, user, "new", "*"))
        files.sort(key=os.path.getmtime)
        out = []
        for p in files:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def transport(self, routes):
        """routes: domain -> transport (`smtp:[127.0.0.3]:25`): Postfix's
        own resolver reads the system's resolv.conf, not the tests' DNS
        server, so the tests route it by address."""
        path = os.path.join(self.etc, "transport")
        with open(path, "w") as f:
            f.writelines(f"{d} {t}\n" for d, t in routes.items())
        self.postconf(f"transport_maps=texthash:{path}")

    def sasl_users(self, users):
        """SMTP AUTH (PLAIN, LOGIN) against a Cyrus sasldb of the given
        {"user@realm": password} under the instance's directory."""
        # Debian's Postfix reads $config_directory/sasl/smtpd.conf
        # whatever cyrus_sasl_config_path says (set too, for others)
        sasl = os.path.join(self.etc, "sasl")
        os.makedirs(sasl)
        os.chmod(sasl, 0o755)
        db = os.path.join(sasl, "sasldb2")
        for user, pw in users.items():
            name, realm = user.split("@", 1)
            subprocess.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", realm,
                            name], input=pw + "\n", text=True, check=True,
                           capture_output=True, timeout=30)
        shutil.chown(db, "postfix", "postfix")
        os.chmod(db, 0o600)
        with open(os.path.join(sasl, "smtpd.conf"), "w") as f:
            f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                    f"sasldb_path: {db}\nmech_list: PLAIN LOGIN\n")
        self.postconf("smtpd_sasl_type=cyrus", "smtpd_sasl_path=smtpd",
                      f"cyrus_sasl_config_path={sasl}",
                      "smtpd_sasl_security_options=noanonymous",
                      "smtpd_sasl_local_domain=")

    def _postfix(self, cmd):
        return subprocess.run(["postfix", "-c", self.etc, cmd],
                              capture_output=True, text=True, timeout=60)

    def start(self):
        for cmd in ("check", "start"):
            p = self._postfix(cmd)
            if cmd == "start":
                self.started = True
            assert p.returncode == 0, \
                f"postfix {cmd}: {p.stdout}{p.stderr}\n{self.log()}"
        for addr, port in self.listen:
            assert wait_port(addr, port, 20), \
                f"postfix smtpd does not listen on {addr}:{port}:\n{self.log()}"
        return self

    def log(self):
        with open(self.maillog, errors="replace") as f:
            return f.read()

    def wait_log(self, pred, timeout=30.0):
        """Until pred(log text) holds; returns the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if pred(log):
                return log
            time.sleep(0.1)
        return self.log()

    def master_pid(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        try:
            self._postfix("stop")
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 10
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.started = False

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
