"""Postfix from Debian hands mail to Herald over LMTP.

A private Postfix instance (its own config, queue and data directories
under a temporary directory, smtpd on a loopback high port, log in a file)
accepts one message for two Herald users over SMTP and delivers it with
its lmtp(8) client to Herald's LMTP listener: both users' INBOXes must
hold the message and Postfix must log status=sent for each recipient
(per-recipient LMTP replies, RFC 2033). Skipped only when this build does
not serve `lmtp`. The Postfix instance is stopped in every case.
"""
import os
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
import uuid

import pytest

from harness import DOMAIN, HERALD_BIN, free_port, wait_port

USERS = ("alice", "bob")


def build_protocols():
    p = subprocess.run([HERALD_BIN, "serve", "--protocols"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"herald serve --protocols: {p.stderr}"
    return p.stdout.split()


class Postfix:
    """A private Postfix instance under a temporary directory."""

    # the services are shared with bench/lib.sh
    MASTER = os.path.join(os.path.dirname(__file__), "..", "data",
                          "postfix-master.cf")

    def __init__(self, transport, recipients):
        self.dir = tempfile.mkdtemp(prefix="herald-it-postfix-")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        data = os.path.join(self.dir, "data")
        self.maillog = os.path.join(self.dir, "maillog")
        self.port = free_port()
        self.started = False
        for d in (self.etc, self.spool, data):
            os.makedirs(d)
        os.chmod(self.etc, 0o755)
        shutil.chown(data, "postfix", "postfix")
        open(self.maillog, "w").close()
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(f"127.0.0.1:{self.port} inet n - n - - smtpd\n")
            with open(self.MASTER) as m:
                f.write(m.read())
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            f.writelines(f"{r} ok\n" for r in recipients)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("")
        self.postconf(
            "compatibility_level=3.6",
            f"config_directory={self.etc}",
            f"queue_directory={self.spool}",
            f"data_directory={data}",
            f"maillog_file={self.maillog}",
            f"maillog_file_prefixes={self.dir}",
            "mail_owner=postfix", "setgid_group=postdrop",
            "myhostname=postfix.relay.test", "mydomain=relay.test",
            "myorigin=postfix.relay.test", "mydestination=",
            "local_transport=error:no local delivery",
            "alias_maps=", "alias_database=",
            "inet_interfaces=127.0.0.1", "inet_protocols=ipv4",
            "mynetworks=127.0.0.0/8", "relayhost=", "biff=no",
            "smtputf8_enable=no",
            f"virtual_mailbox_domains={DOMAIN}",
            f"virtual_mailbox_maps=texthash:{self.etc}/vmailbox",
            f"virtual_transport={transport}",
            # fail fast instead of deferring for minutes
            "lmtp_connect_timeout=10s", "maximal_backoff_time=5s",
            "minimal_backoff_time=1s", "queue_run_delay=1s")

    def postconf(self, *settings):
        subprocess.run(["postconf", "-c", self.etc, "-e", *settings],
                       check=True, capture_output=True, timeout=30)

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
        assert wait_port("127.0.0.1", self.port, 20), \
            f"postfix smtpd does not listen:\n{self.log()}"

    def log(self):
        with open(self.maillog, errors="replace") as f:
            return f.read()

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


def sent_lines(log, rcpt):
    return [l for l in log.splitlines()
            if "postfix/lmtp[" in l and f"to=<{rcpt}>" in l
            and "status=sent" in l]


@pytest.mark.parametrize("listener", ["lmtp", "lmtp_unix"])
def test_postfix_delivers_to_two_users_over_lmtp(herald_factory, listener):
    if "lmtp" not in build_protocols():
        pytest.skip("this build does not serve lmtp (herald serve --protocols)")
    h = herald_factory(listeners=(listener,))
    h.add_domain()
    rcpts = [f"{u}@{DOMAIN}" for u in USERS]
    for r in rcpts:
        h.add_user(r)
    h.start()
    if listener == "lmtp":
        endpoint = f"127.0.0.1[127.0.0.1]:{h.ports['lmtp']}"
        transport = f"lmtp:inet:127.0.0.1:{h.ports['lmtp']}"
    else:
        assert h.wait_log("ready"), h.log()
        # The socket is mode 0660 for Herald's user and group; a deployment
        # adds postfix to the herald group. The test grants the same access
        # without touching the system's groups: the socket's group becomes
        # postfix's.
        shutil.chown(h.lmtp_path, group="postfix")
        endpoint = f"[{h.lmtp_path}]"  # relay=HOSTNAME[/path]
        transport = f"lmtp:unix:{h.lmtp_path}"

    pf = Postfix(transport, rcpts)
    try:
        pf.start()
        token = uuid.uuid4().hex
        body = (f"From: carol@sender.test\r\nTo: {', '.join(rcpts)}\r\n"
                f"Subject: lmtp {token}\r\nMessage-ID: <{token}@sender.test>\r\n"
                f"\r\nHello over LMTP, {token}.\r\n")
        with smtplib.SMTP("127.0.0.1", pf.port, timeout=30) as s:
            refused = s.sendmail("carol@sender.test", rcpts, body)
        assert refused == {}

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log = pf.log()
            if all(sent_lines(log, r) for r in rcpts):
                break
            time.sleep(0.2)
        log = pf.log()
        for r in rcpts:
            lines = sent_lines(log, r)
            assert lines, (f"postfix did not log status=sent for {r} via lmtp:\n"
                           f"{log}\n--- herald ---\n{h.log()}")
            relay = lines[0].split("relay=", 1)[1].split(",", 1)[0]
            assert relay.endswith(endpoint), lines[0]

        for u in USERS:
            msgs = h.messages(f"{u}@{DOMAIN}")
            assert len(msgs) == 1, f"{u}: {len(msgs)} messages in INBOX"
            data = msgs[0]
            assert f"Subject: lmtp {token}".encode() in data
            assert f"Hello over LMTP, {token}.".encode() in data
    finally:
        pf.cleanup()
