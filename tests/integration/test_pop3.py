"""POP3 server (issue 4) driven by Python's poplib and raw sockets.

Tests that need mail in the mailbox deliver it over Herald's own SMTP
listener with smtplib; while the build has no SMTP server they are skipped
with that reason, unless $HERALD_POP3_FILL names a built bench/pop3/pop3-fill
(which stores a message through store.h, the way delivery does)."""
import base64
import hashlib
import hmac
import os
import poplib
import re
import smtplib
import socket
import ssl
import time

import subprocess

import pytest

from harness import DOMAIN, build_protocols

USER = f"alice@{DOMAIN}"
PASSWORD = "correct horse"

_smtp_state = {}


def smtp_available():
    """Whether this build serves SMTP (herald serve --protocols, asked once
    per run). A build that has it and cannot start it fails the test."""
    if "ok" not in _smtp_state:
        _smtp_state["ok"] = "smtp" in build_protocols()
        _smtp_state["why"] = ("smtp is not in this build (herald serve "
                              "--protocols): delivery tests need it")
    return _smtp_state["ok"]


FILL = os.environ.get("HERALD_POP3_FILL")


def smtp_or_skip():
    if not smtp_available() and not FILL:
        pytest.skip(_smtp_state["why"])


def server(factory, smtp=False, listeners=("pop3", "pop3s"), pop3="",
           users=(USER,), **kw):
    if smtp:
        smtp_or_skip()
        if smtp_available():
            listeners = tuple(listeners) + ("smtp",)
    sections = kw.pop("sections", {})
    if pop3:
        sections["pop3"] = pop3
    h = factory(listeners=listeners, sections=sections or None, **kw)
    h.add_domain()
    for u in users:
        h.add_user(u, PASSWORD)
    return h.start()


def deliver(h, rcpt, msg, sender="bob@remote.test"):
    if isinstance(msg, str):
        msg = msg.encode()
    if "smtp" not in h.ports:
        subprocess.run([FILL, h.conf, rcpt, "-"], input=msg, check=True)
        return
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        s.sendmail(sender, [rcpt], msg)


def make_msg(i, body_lines=3, subject=None):
    subject = subject or f"message {i}"
    lines = ["From: bob@remote.test", f"To: {USER}",
             f"Subject: {subject}", f"Message-ID: <m{i}@remote.test>", ""]
    lines += [f"body line {j} of message {i}" for j in range(body_lines)]
    return ("\r\n".join(lines) + "\r\n").encode()


def pop(h, tls=False):
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return poplib.POP3_SSL("127.0.0.1", h.ports["pop3s"], context=ctx,
                               timeout=30)
    return poplib.POP3("127.0.0.1", h.ports["pop3"], timeout=30)


def login(h, tls=False):
    p = pop(h, tls)
    p.user(USER)
    p.pass_(PASSWORD)
    return p


class Raw:
    """A line-oriented raw client for what poplib cannot send."""

    def __init__(self, h, port_name="pop3"):
        self.sock = socket.create_connection(("127.0.0.1", h.ports[port_name]),
                                             timeout=15)
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        return self.f.readline().decode("latin-1").rstrip("\r\n")

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        out = []
        while True:
            l = self.line()
            if l == ".":
                return out
            out.append(l)

    def close(self):
        self.sock.close()


def ok(resp):
    if isinstance(resp, bytes):
        resp = resp.decode()
    assert resp.startswith("+OK"), resp
    return resp


# ---------------------------------------------------------------------------
# without mail

def test_greeting_capa_and_empty_maildrop(herald_factory):
    h = server(herald_factory)
    p = pop(h)
    assert p.getwelcome().startswith(b"+OK")
    caps = p.capa()
    for c in ("TOP", "UIDL", "USER", "SASL", "RESP-CODES", "PIPELINING",
              "AUTH-RESP-CODE", "STLS", "EXPIRE", "IMPLEMENTATION"):
        assert c in caps, (c, caps)
    assert "PLAIN" in caps["SASL"] and "SCRAM-SHA-256" in caps["SASL"]
    assert "APOP" not in caps
    p.user(USER)
    ok(p.pass_(PASSWORD))
    caps = p.capa()
    assert "STLS" not in caps and "USER" not in caps
    assert p.stat() == (0, 0)
    resp, lst, _ = p.list()
    assert lst == []
    ok(p.noop())
    ok(p.quit())


def test_failed_login_is_refused_and_logged(herald_factory):
    h = server(herald_factory)
    p = pop(h)
    p.user(USER)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert b"[AUTH]" in e.value.args[0]
    # unknown user looks the same
    p.user(f"nobody@{DOMAIN}")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert b"[AUTH]" in e.value.args[0]
    p.user(USER)
    ok(p.pass_(PASSWORD))
    p.quit()
    assert h.wait_log(f"sasl auth-failed user=<{USER}> method=USER "
                      f"proto=pop3 rip=127.0.0.1")
    assert h.wait_log(f"user=<nobody@{DOMAIN}> method=USER proto=pop3 "
                      f"rip=127.0.0.1")


def test_rate_limit_after_failures(herald_factory):
    h = server(herald_factory,
               sections={"auth": "argon2_memlimit = 8M\nargon2_opslimit = 1\n"
                                 "fail_delay = 0ms\nfail_per_ip = 3"})
    p = pop(h)
    for _ in range(3):
        p.user(USER)
        with pytest.raises(poplib.error_proto):
            p.pass_("wrong")
    p.user(USER)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert b"Too many failed logins" in e.value.args[0]


def test_commands_in_wrong_state_and_bad_input(herald_factory):
    h = server(herald_factory, pop3="max_errors = 7")
    r = Raw(h)
    assert r.greeting.startswith("+OK")
    assert r.cmd("STAT").startswith("-ERR")
    assert r.cmd("PASS x").startswith("-ERR")          # no USER yet
    assert r.cmd("FOOBAR").startswith("-ERR")
    assert r.cmd("XYZZ").startswith("-ERR Unknown command")
    assert r.cmd("USER").startswith("-ERR Wrong number")
    assert r.cmd("A" * 5000).startswith("-ERR Line too long")
    # the seventh error closes the session
    assert r.cmd("RETR 1").startswith("-ERR")
    assert r.line().startswith("-ERR Too many errors")
    assert r.f.read() == b""
    r.close()


def test_control_bytes_and_bare_lf(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    assert r.cmd("NO\x00OP").startswith("-ERR")
    r.send("CAPA\n")                     # bare LF is accepted
    assert r.line().startswith("+OK")
    assert "TOP" in r.multi()
    assert r.cmd("QUIT").startswith("+OK")
    r.close()


def test_message_number_errors(herald_factory):
    h = server(herald_factory)
    p = login(h)
    for cmd in ("RETR 1", "LIST 1", "DELE 0", "TOP 1 -1", "UIDL 99999999999",
                "RETR x"):
        with pytest.raises(poplib.error_proto):
            p._shortcmd(cmd)
    p.quit()


def test_in_use(herald_factory):
    h = server(herald_factory)
    p1 = login(h)
    p2 = pop(h)
    p2.user(USER)
    with pytest.raises(poplib.error_proto) as e:
        p2.pass_(PASSWORD)
    assert e.value.args[0].startswith(b"-ERR [IN-USE]")
    p1.quit()
    p2.user(USER)
    ok(p2.pass_(PASSWORD))
    p2.quit()


def test_in_use_released_when_connection_drops(herald_factory):
    h = server(herald_factory)
    p1 = login(h)
    p1.sock.shutdown(socket.SHUT_RDWR)
    p1.close()
    deadline = time.monotonic() + 5
    while True:
        p2 = pop(h)
        p2.user(USER)
        try:
            ok(p2.pass_(PASSWORD))
            break
        except poplib.error_proto:
            p2.close()
            assert time.monotonic() < deadline, "lock never released"
            time.sleep(0.05)
    p2.quit()


def test_stls_then_login(herald_factory):
    h = server(herald_factory)
    p = pop(h)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ok(p.stls(ctx))
    caps = p.capa()
    assert "STLS" not in caps
    p.user(USER)
    ok(p.pass_(PASSWORD))
    assert p.stat() == (0, 0)
    p.quit()


def test_stls_discards_pipelined_commands(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    r.send("STLS\r\nUSER injected\r\n")
    assert r.line().startswith("+OK")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(r.sock, server_hostname="mail.example.test")
    f = tls.makefile("rb")
    tls.sendall(b"PASS x\r\n")
    # USER injected before the handshake was dropped: PASS has no USER
    assert f.readline().startswith(b"-ERR Send USER first")
    tls.close()


def test_pop3s_implicit_tls(herald_factory):
    h = server(herald_factory)
    p = login(h, tls=True)
    assert "STLS" not in p.capa()
    assert p.stat() == (0, 0)
    p.quit()


def test_auth_plain_initial_and_continuation(herald_factory):
    h = server(herald_factory)
    cred = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    r = Raw(h)
    assert r.cmd(f"AUTH PLAIN {cred}").startswith("+OK")
    assert r.cmd("STAT").startswith("+OK 0 0")
    r.cmd("QUIT")
    r.close()
    r = Raw(h)
    assert r.cmd("AUTH PLAIN").startswith("+ ")
    assert r.cmd(cred).startswith("+OK")
    r.cmd("QUIT")
    r.close()
    r = Raw(h)
    assert r.cmd("AUTH PLAIN").startswith("+ ")
    assert r.cmd("*").startswith("-ERR")              # cancelled
    bad = base64.b64encode(f"\0{USER}\0nope".encode()).decode()
    assert r.cmd(f"AUTH PLAIN {bad}").startswith("-ERR [AUTH]")
    assert r.cmd("AUTH PLAIN !!!").startswith("-ERR")
    assert r.cmd("AUTH CRAM-MD5").startswith("-ERR")
    r.send("AUTH\r\n")
    assert r.line().startswith("+OK")
    assert "PLAIN" in r.multi()
    r.close()


def test_auth_login(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    assert r.cmd("AUTH LOGIN").startswith("+ ")
    assert r.cmd(base64.b64encode(USER.encode()).decode()).startswith("+ ")
    assert r.cmd(base64.b64encode(PASSWORD.encode()).decode()).startswith("+OK")
    r.close()


def _scram_client(r, user, password):
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    resp = r.cmd("AUTH SCRAM-SHA-256 " +
                 base64.b64encode(("n,," + first_bare).encode()).decode())
    assert resp.startswith("+ "), resp
    server_first = base64.b64decode(resp[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salt = base64.b64decode(attrs["s"])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt,
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    final_wo = f"c=biws,r={attrs['r']}"
    auth_msg = f"{first_bare},{server_first},{final_wo}".encode()
    sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    final = f"{final_wo},p={base64.b64encode(proof).decode()}"
    resp = r.cmd(base64.b64encode(final.encode()).decode())
    assert resp.startswith("+ "), resp
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    want = base64.b64encode(hmac.new(server_key, auth_msg,
                                     hashlib.sha256).digest()).decode()
    assert base64.b64decode(resp[2:]).decode() == f"v={want}"
    return r.cmd("")


def test_auth_scram_sha256(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    assert _scram_client(r, USER, PASSWORD).startswith("+OK")
    assert r.cmd("STAT").startswith("+OK")
    r.close()


def test_idle_timeout(herald_factory):
    h = server(herald_factory, pop3="idle_timeout = 1s")
    r = Raw(h)
    t = time.monotonic()
    assert r.line().startswith("-ERR Autologout")
    assert time.monotonic() - t < 5
    r.close()


def test_apop_off_by_default_and_on(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    assert "<" not in r.greeting
    assert r.cmd("APOP a b").startswith("-ERR")
    r.close()


# ---------------------------------------------------------------------------
# with mail (delivered over SMTP)

def raw_retr(p, which):
    """RETR through poplib, rebuilt as the exact bytes of the message."""
    resp, lines, octets = p.retr(which)
    data = b"".join(l + b"\r\n" for l in lines)
    return resp, data, octets


def test_stat_list_uidl_top_retr_dele(herald_factory):
    h = server(herald_factory, smtp=True)
    msgs = [make_msg(1),
            make_msg(2, subject="dots") + b".leading dot\r\n..two dots\r\n.\r\n",
            make_msg(3, body_lines=50)]
    for m in msgs:
        deliver(h, USER, m)
    p = login(h)
    count, size = p.stat()
    assert count == 3
    resp, lst, _ = p.list()
    sizes = {int(a): int(b) for a, b in (l.split() for l in lst)}
    assert sum(sizes.values()) == size
    resp, uidls, _ = p.uidl()
    uid_map = {int(a): b for a, b in (l.split() for l in uidls)}
    assert len(set(uid_map.values())) == 3
    assert all(re.fullmatch(rb"[0-9A-F]{16}", u) for u in uid_map.values())
    assert p.uidl(2).split()[2] == uid_map[2]
    for i, m in enumerate(msgs, 1):
        resp, data, octets = raw_retr(p, i)
        # Herald prepends its Received header; the rest is byte for byte
        assert data.endswith(m), (i, data[-200:])
        assert len(data) == sizes[i]
        assert ok(resp).split()[1] == str(sizes[i])
    # TOP 1 0: the header and the blank line only
    resp, lines, _ = p.top(1, 0)
    assert lines[-1] == b"" and b"Subject: message 1" in lines
    assert b"body line 0 of message 1" not in lines
    resp, lines, _ = p.top(3, 2)
    assert lines[-2:] == [b"body line 0 of message 3",
                          b"body line 1 of message 3"]
    ok(p.dele(1))
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    assert p.stat() == (2, size - sizes[1])
    ok(p.rset())
    assert p.stat() == (3, size)
    ok(p.dele(1))
    ok(p.quit())
    p = login(h)
    assert p.stat()[0] == 2
    resp, uidls2, _ = p.uidl()
    # the same messages keep their UIDLs (stable across sessions)
    assert sorted(l.split()[1] for l in uidls2) == sorted([uid_map[2],
                                                            uid_map[3]])
    p.quit()
    assert h.wait_log("pop3 update user=<" + USER + "> deleted=1 expunged=1")


def test_dropped_connection_applies_no_deletions(herald_factory):
    h = server(herald_factory, smtp=True)
    for i in range(3):
        deliver(h, USER, make_msg(i))
    p = login(h)
    p.dele(1)
    p.dele(2)
    p.sock.shutdown(socket.SHUT_RDWR)
    p.close()
    time.sleep(0.3)
    for _ in range(50):
        try:
            p = login(h)
            break
        except poplib.error_proto:
            time.sleep(0.1)
    assert p.stat()[0] == 3
    p.quit()


def test_snapshot_semantics(herald_factory):
    h = server(herald_factory, smtp=True)
    deliver(h, USER, make_msg(1))
    p = login(h)
    assert p.stat()[0] == 1
    deliver(h, USER, make_msg(2))
    assert p.stat()[0] == 1
    assert len(p.list()[1]) == 1
    p.quit()
    p = login(h)
    assert p.stat()[0] == 2
    p.quit()


def test_pipelined_commands(herald_factory):
    h = server(herald_factory, smtp=True)
    for i in range(5):
        deliver(h, USER, make_msg(i))
    r = Raw(h)
    batch = f"USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\n"
    batch += "".join(f"RETR {i}\r\n" for i in range(1, 6)) + "QUIT\r\n"
    r.send(batch)
    assert r.line().startswith("+OK")          # USER
    assert r.line().startswith("+OK Logged in")
    assert r.line().startswith("+OK 5 ")
    for i in range(5):
        assert r.line().startswith("+OK")
        body = r.multi()
        assert f"Subject: message {i}" in body
    assert r.line().startswith("+OK")
    r.close()


def test_big_message_streams(herald_factory):
    h = server(herald_factory, smtp=True)
    body = b"".join(b"%07d " % i + b"x" * 90 + b"\r\n" for i in range(40000))
    msg = make_msg(1, body_lines=0) + body + b".\r\n"
    deliver(h, USER, msg)
    p = login(h)
    count, size = p.stat()
    resp, data, octets = raw_retr(p, 1)
    assert data.endswith(msg)
    assert len(data) == size
    p.quit()


def fill_lines(out, upto, first=b"y"):
    """Appends CRLF lines of about 80 bytes to out up to exactly upto
    bytes; the first one starts with first."""
    while len(out) < upto:
        left = upto - len(out)
        n = 80 if left >= 160 else left
        assert n >= 3
        out += first + b"z" * (n - 3) + b"\r\n"
        first = b"y"


def unstuff(lines):
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n"
                    for l in lines)


def test_pipelined_retr_boundaries_and_quit(herald_factory):
    """More pipelined RETRs than one batch (64) takes, bodies kept in the
    database and as files, sizes around the 128 KiB database limit and at
    multiples of the 64 KiB read size, lines starting with '.' right at
    those offsets; then QUIT with another RETR pipelined behind it, which
    is never answered."""
    h = server(herald_factory, smtp=True)
    probe = make_msg(0)
    deliver(h, USER, probe)
    p = login(h)
    # what Herald prepends (Received:) moves every offset by this much
    overhead = int(p.list(1).split()[2]) - len(probe)
    p.quit()
    msgs = [probe]
    for target in (131071, 131072, 131073, 196608, 262144):
        for shift in (-1, 0, 1):
            total = target + shift - overhead
            out = bytearray(make_msg(len(msgs), body_lines=0))
            first = b"y"
            for q in (65536, 131072, 196608):
                if q - overhead < total - 3:
                    fill_lines(out, q - overhead + shift, first)
                    first = b"."
            fill_lines(out, total, first)
            msgs.append(bytes(out))
    for i in range(70):
        msgs.append(make_msg(len(msgs), body_lines=20) +
                    b".dot line\r\n..\r\n.\r\n")
    for m in msgs[1:]:
        deliver(h, USER, m)
    p = login(h)
    assert p.stat()[0] == len(msgs)
    sizes = {int(a): int(b) for a, b in (l.split() for l in p.list()[1])}
    assert 131072 in sizes.values() and 262144 in sizes.values()
    p.quit()
    r = Raw(h)
    r.send(f"USER {USER}\r\nPASS {PASSWORD}\r\n" +
           "".join(f"RETR {i}\r\n" for i in range(1, len(msgs) + 1)) +
           "QUIT\r\nRETR 1\r\n")
    assert r.line().startswith("+OK")
    assert r.line().startswith("+OK Logged in")
    for i, m in enumerate(msgs, 1):
        assert r.line() == f"+OK {sizes[i]} octets"
        lines = []
        while True:
            l = r.f.readline()
            assert l.endswith(b"\r\n"), (i, l[-40:])
            if l == b".\r\n":
                break
            lines.append(l[:-2])
        data = unstuff(lines)
        assert len(data) == sizes[i], i
        assert data.endswith(m), i
    assert r.line().startswith("+OK")   # QUIT
    assert r.f.readline() == b""        # closed: the last RETR never ran
    r.close()


def _seen_flags(h):
    """The \\Seen bit of every INBOX message, in UID order."""
    db = h.db()
    try:
        rows = db.execute(
            "SELECT m.flags FROM messages m JOIN mailboxes b"
            " ON b.id = m.mailbox_id WHERE b.name = 'INBOX'"
            " ORDER BY m.uid").fetchall()
    finally:
        db.close()
    return [bool(f & 1) for (f,) in rows]


def test_retr_sets_seen_top_does_not(herald_factory):
    """RETR marks the message \\Seen in the store (IMAP shows it read,
    issue 11); TOP, a refused RETR and a pipelined batch behave."""
    h = server(herald_factory, smtp=True)
    for i in range(1, 6):
        deliver(h, USER, make_msg(i))
    p = login(h)
    p.top(1, 0)
    p.top(2, 5)
    assert _seen_flags(h) == [False] * 5
    raw_retr(p, 2)
    assert _seen_flags(h) == [False, True, False, False, False]
    # a second RETR of it changes nothing; a missing one is refused
    raw_retr(p, 2)
    with pytest.raises(poplib.error_proto):
        p.retr(9)
    # RETR 4 and 5 pipelined: one batch, both marked
    p._putcmd("RETR 4\r\nRETR 5")
    for _ in range(2):
        p._getlongresp()
    ok(p.quit())
    assert _seen_flags(h) == [False, True, False, True, True]
