"""`herald sendmail` run by users who cannot write the store (PHP's mail()
as www-data, cron jobs of ordinary users): the message goes to the running
server over its local submission socket ([listen] sendmail), which learns
the user id from the socket (SO_PEERCRED). Runs the client as `nobody`, so
most tests need root; without it they are skipped. The client run as nobody
is a copy of $HERALD_BIN nobody can reach (a checkout under /root is not)."""
import os
import select
import smtplib
import socket
import stat
import subprocess
import threading
import time

import pytest

from harness import HERALD_BIN, binary_for_all_users

EX_DATAERR, EX_NOUSER, EX_CANTCREAT, EX_TEMPFAIL, EX_NOPERM = 65, 67, 73, 75, 77
NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="runs the client as nobody")


def as_nobody():
    os.setgid(NOBODY)
    os.setgroups([])
    os.setuid(NOBODY)


def server(herald_factory, users=("bob",), extra="", start=True):
    h = herald_factory(listeners=("smtp", "sendmail_unix"), extra=extra)
    h.add_domain()
    for u in users:
        h.add_user(f"{u}@example.test")
    # what a packaged config is: readable by all (secrets elsewhere)
    os.chmod(h.conf, 0o644)
    if start:
        h.start()
    return h


def sendmail(h, *args, input=b"", user=as_nobody, shell=None):
    """Runs sendmail as `user` (a preexec function; None: as we are), from
    / since our working directory may be out of nobody's reach."""
    if shell is not None:
        return subprocess.run(shell, shell=True, input=input,
                              capture_output=True, preexec_fn=user,
                              timeout=60, cwd="/")
    binary = HERALD_BIN if user is None else binary_for_all_users()
    return subprocess.run([binary, "sendmail", "-C", h.conf, *args],
                          input=input, capture_output=True, preexec_fn=user,
                          timeout=60, cwd="/")


def header(msg, name):
    head = msg.split(b"\r\n\r\n", 1)[0]
    return [l for l in head.split(b"\r\n")
            if l.lower().startswith(name.lower() + b":")]


@needs_root
def test_nobody_delivers_through_the_socket(herald_factory):
    h = server(herald_factory)
    st = os.stat(h.sendmail_path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o666
    assert stat.S_IMODE(os.stat(os.path.dirname(h.sendmail_path)).st_mode) \
        == 0o755
    p = sendmail(h, shell=f'echo "Subject: hi" | {binary_for_all_users()} '
                          f'sendmail -i bob@example.test -C {h.conf}')
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"" and p.stderr == b""
    [m] = h.messages("bob@example.test")
    lines = m.split(b"\r\n")
    assert lines[0] == b"Return-Path: <nobody@mail.example.test>"
    assert lines[1] == b"Delivered-To: bob@example.test"
    # the user id is the kernel's, not the client's word
    assert lines[2] == (b"Received: by mail.example.test (Herald sendmail, "
                        b"from userid 65534)")
    assert lines[3].startswith(b"\tid ")
    assert header(m, b"Subject") == [b"Subject: hi"]
    assert len(header(m, b"Date")) == 1 and len(header(m, b"Message-ID")) == 1
    [frm] = header(m, b"From")
    assert b"<nobody@mail.example.test>" in frm or \
        frm == b"From: nobody@mail.example.test"
    assert m.count(b"Received:") == 1
    assert h.wait_log("proto=sendmail")
    assert h.wait_log(" uid=65534")
    log = h.log()
    assert "connect rip=uid:65534 pid=" in log
    assert "from=<nobody@mail.example.test> to=<bob@example.test>" in log


@needs_root
def test_php_style_message(herald_factory):
    """What PHP's mail() pipes: LF lines, a long HTML line, -t and -f."""
    h = server(herald_factory, users=("bob", "carol"))
    long_line = b"<p>" + b"x" * 3000 + b"</p>"
    msg = (b"To: bob@example.test\nCc: carol@example.test\n"
           b"Bcc: bob@example.test\nSubject: php\n"
           b"Content-Type: text/html\n\n" + long_line + b"\n.\n..\nend\n")
    p = sendmail(h, "-t", "-i", "-f", "www@example.test", input=msg)
    assert p.returncode == 0, p.stderr
    [mb] = h.messages("bob@example.test")
    [mc] = h.messages("carol@example.test")
    for m in (mb, mc):
        assert header(m, b"Bcc") == []
        assert m.startswith(b"Return-Path: <www@example.test>\r\n")
        body = m.split(b"\r\n\r\n", 1)[1]
        # dot lines survive the socket's dot-stuffing both ways
        assert body == long_line + b"\r\n.\r\n..\r\nend\r\n"


@needs_root
def test_unknown_user_and_remote_and_dsn(herald_factory):
    h = server(herald_factory)
    p = sendmail(h, "bob@example.test", "nosuch@example.test",
                 input=b"Subject: x\n\nbody\n")
    assert p.returncode == EX_NOUSER, p.stderr
    assert b"<nosuch@example.test>: unknown user" in p.stderr
    assert h.messages("bob@example.test") == []
    # local users may send anywhere: the outbound queue takes it, with
    # the DSN parameters given on the command line
    p = sendmail(h, "-N", "failure,delay", "-R", "hdrs", "-V", "env+1",
                 "-f", "bob@example.test", "friend@example.org",
                 input=b"Subject: out\n\nbody\n")
    assert p.returncode == 0, p.stderr
    db = h.db()
    try:
        [(ret, envid)] = db.execute(
            "SELECT dsn_ret, dsn_envid FROM queue").fetchall()
        [(addr, notify)] = db.execute(
            "SELECT address, dsn_notify FROM queue_rcpts").fetchall()
    finally:
        db.close()
    assert (ret, envid, addr, notify) == ("HDRS", "env+1",
                                          "friend@example.org",
                                          "FAILURE,DELAY")


@needs_root
def test_over_quota_and_too_big(herald_factory):
    h = herald_factory(listeners=("smtp", "sendmail_unix"), sections={
        "smtp": "message_size_limit = 64k"})
    h.add_domain()
    h.add_user("bob@example.test")
    os.chmod(h.conf, 0o644)
    h.cli("user", "quota", "bob@example.test", "1k")
    h.start()
    p = sendmail(h, "bob@example.test",
                 input=b"Subject: q\n\n" + b"x" * 2000 + b"\n")
    assert p.returncode == EX_CANTCREAT, p.stderr
    assert b"over quota" in p.stderr
    p = sendmail(h, "bob@example.test",
                 input=b"Subject: q\n\n" + b"x\n" * 40000)
    assert p.returncode == EX_DATAERR, p.stderr
    assert h.messages("bob@example.test") == []


@needs_root
def test_server_not_running_is_75(herald_factory):
    h = server(herald_factory, start=False)
    os.makedirs(os.path.dirname(h.sendmail_path), exist_ok=True)
    p = sendmail(h, "bob@example.test", input=b"Subject: x\n\n")
    assert p.returncode == EX_TEMPFAIL, p.stderr
    assert b"is herald serve running?" in p.stderr
    assert len(p.stderr.splitlines()) == 1


@needs_root
def test_without_socket_nobody_is_refused(herald_factory):
    h = herald_factory(listeners=("smtp",))
    h.add_domain()
    h.add_user("bob@example.test")
    os.chmod(h.conf, 0o644)
    h.start()
    p = sendmail(h, "bob@example.test", input=b"Subject: x\n\n")
    assert p.returncode == EX_NOPERM, p.stderr
    assert b"[listen] sendmail" in p.stderr


@needs_root
def test_mailq_stays_privileged(herald_factory):
    h = server(herald_factory)
    p = sendmail(h, "-bp")
    assert p.returncode == EX_NOPERM, p.stderr
    assert b"root" in p.stderr


@needs_root
def test_bs_through_the_socket(herald_factory):
    h = server(herald_factory)
    dialogue = (b"EHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\n"
                b"DATA\r\nSubject: bs\r\n\r\n..dot\r\n.\r\nQUIT\r\n")
    p = sendmail(h, "-bs", input=dialogue)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert out.startswith("220 mail.example.test ESMTP Herald\r\n"), out
    assert "AUTH" not in out and "STARTTLS" not in out
    assert "250 2.0.0 Ok: queued as " in out and out.endswith("221 2.0.0 Bye\r\n")
    [m] = h.messages("bob@example.test")
    assert b"(Herald sendmail, from userid 65534)" in m
    assert m.endswith(b"\r\n\r\n.dot\r\n")


@needs_root
def test_socket_smtp_with_smtplib(herald_factory):
    """The socket speaks SMTP to any client; identity comes from the socket
    (root here), never from AUTH, which is not offered."""
    h = server(herald_factory)

    class UnixSMTP(smtplib.SMTP):
        def _get_socket(self, host, port, timeout):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(host)
            return s

    with UnixSMTP(timeout=30) as s:
        s.connect(h.sendmail_path)
        code, caps = s.ehlo("x")
        assert code == 250
        assert not s.has_extn("auth") and not s.has_extn("starttls")
        assert s.has_extn("pipelining") and s.has_extn("chunking")
        s.sendmail("", ["bob@example.test", "other@example.net"],
                   b"Subject: smtplib\r\n\r\nbare\nlf\r\n")
    [m] = h.messages("bob@example.test")
    assert f"from userid {os.getuid()})".encode() in m
    assert m.endswith(b"\r\n\r\nbare\r\nlf\r\n")


def test_tcp_address_is_refused_for_sendmail(herald_factory):
    h = herald_factory(listeners=("smtp",))
    with open(h.conf) as f:
        text = f.read()
    with open(h.conf, "w") as f:
        f.write(text.replace("[listen]\n",
                             "[listen]\nsendmail = 127.0.0.1:2525\n"))
    p = h.cli("config", "check", check=False)
    assert p.returncode != 0
    assert "unix socket only" in p.stdout + p.stderr


@needs_root
def test_connections_are_limited_per_user(herald_factory):
    """The socket is open to every local user: max_connections_per_ip
    counts each user id as TCP counts each address."""
    h = herald_factory(listeners=("smtp", "sendmail_unix"),
                       extra="max_connections_per_ip = 2")
    h.add_domain()
    h.start()

    def connect(uid):
        pid = os.fork()
        if pid == 0:    # a child that connects as uid, reports the greeting
            try:
                os.setgid(uid)
                os.setgroups([])
                os.setuid(uid)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect(h.sendmail_path)
                line = s.recv(200)
                os.write(w, line[:3] if line else b"EOF")
                time.sleep(3)
            finally:
                os._exit(0)
        return pid

    def report():
        # bounded: a child that died before writing must not hang the run
        ready, _, _ = select.select([r], [], [], 20)
        return os.read(r, 3) if ready else b"none"

    r, w = os.pipe()
    pids = []
    try:
        pids += [connect(NOBODY) for _ in range(3)]
        got = sorted(report() for _ in range(3))
        assert got == [b"220", b"220", b"421"], got
        # another user is not held to nobody's count
        pids.append(connect(1))
        assert report() == b"220"
    finally:
        for p in pids:
            os.waitpid(p, 0)
        os.close(r)
        os.close(w)
    assert h.wait_log("too-many-connections rip=uid:65534")


def test_starttls_refused_on_the_socket(herald_factory):
    h = server(herald_factory)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(h.sendmail_path)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220 ")
    s.sendall(b"EHLO x\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    s.sendall(b"STARTTLS\r\n")
    assert f.readline().startswith(b"502 ")
    s.sendall(b"AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n")
    assert f.readline()[:1] == b"5"
    s.close()


@needs_root
def test_lost_connection_is_75_not_permanent(herald_factory):
    """A server that goes away in the middle of the dialogue (a restart)
    must give 'try again later', never a permanent refusal."""
    h = herald_factory(listeners=("smtp", "sendmail_unix"))
    os.chmod(h.conf, 0o644)
    os.makedirs(os.path.dirname(h.sendmail_path), mode=0o755, exist_ok=True)
    for drop_after in (b"MAIL", b"DATA", b"."):
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(h.sendmail_path):
            os.unlink(h.sendmail_path)
        srv.bind(h.sendmail_path)
        os.chmod(h.sendmail_path, 0o666)
        srv.listen(1)
        # bounded: when sendmail never connects (it could not start), the
        # fake server gives up instead of waiting in accept() for good
        srv.settimeout(0.1)
        seen, done = [], threading.Event()

        def fake():
            deadline = time.monotonic() + 20
            while True:
                if done.is_set() or time.monotonic() > deadline:
                    return
                try:
                    c, _ = srv.accept()
                    break
                except socket.timeout:
                    continue
            with c:
                c.settimeout(20)
                seen.append("connected")
                f = c.makefile("rb")
                c.sendall(b"220 fake ESMTP\r\n")
                while True:
                    line = f.readline()
                    if not line or line.startswith(drop_after) or \
                            (drop_after == b"." and line == b".\r\n"):
                        break
                    if line.startswith(b"EHLO"):
                        c.sendall(b"250-fake\r\n250 PIPELINING\r\n")
                    elif line.startswith(b"DATA"):
                        c.sendall(b"354 go\r\n")
                    elif line.startswith((b"MAIL", b"RCPT")):
                        c.sendall(b"250 2.1.0 Ok\r\n")

        t = threading.Thread(target=fake, daemon=True)
        t.start()
        try:
            p = sendmail(h, "bob@example.test",
                         input=b"Subject: x\n\nbody\n")
        finally:
            done.set()
            t.join(30)
            srv.close()
        assert not t.is_alive()
        assert seen == ["connected"], (drop_after, p.returncode, p.stderr)
        assert p.returncode == EX_TEMPFAIL, (drop_after, p.returncode,
                                             p.stderr)


@needs_root
def test_unreadable_config_uses_the_default_socket(herald_factory):
    """A config kept from other users (mode 0600): sendmail falls back to
    /run/herald/sendmail.sock and qualifies bare names with the host name
    the server greets with, not this machine's."""
    default = "/run/herald/sendmail.sock"
    if os.path.exists(default):
        pytest.skip(f"{default} exists: a real Herald on this machine, "
                    "left alone")
    h = herald_factory(listeners=("smtp",))
    with open(h.conf) as f:
        text = f.read()
    with open(h.conf, "w") as f:
        f.write(text.replace("[listen]\n",
                             f"[listen]\nsendmail = unix:{default}\n"))
    h.add_domain()
    h.add_user("bob@example.test")
    os.chmod(h.conf, 0o600)
    h.start()
    try:
        p = sendmail(h, "bob@example.test", "root",
                     input=b"Subject: fallback\n\nbody\n")
        assert p.returncode == 0, p.stderr
        [m] = h.messages("bob@example.test")
        assert m.startswith(b"Return-Path: <nobody@mail.example.test>\r\n")
        assert b"from userid 65534" in m
        db = h.db()
        try:
            [(addr,)] = db.execute(
                "SELECT address FROM queue_rcpts").fetchall()
        finally:
            db.close()
        assert addr == "root@mail.example.test"
    finally:
        h.stop()
        if os.path.exists(default):
            os.unlink(default)
        try:
            os.rmdir(os.path.dirname(default))
        except OSError:
            pass
