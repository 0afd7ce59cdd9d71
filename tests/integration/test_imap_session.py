"""IMAP session (issue 11): greeting, capabilities, login through the one
login service, STARTTLS, literals, limits, pipelining, autologout,
SELECT/EXAMINE/UNSELECT, ID, ENABLE. Driven by imaplib and raw sockets."""
import base64
import hashlib
import hmac
import imaplib
import os
import socket
import ssl
import threading
import time

import pytest

from harness import ROOT
from imap_util import (PASSWORD, USER, Raw, connect, deliver, login,
                       make_msg, server, tls_context)


def caps_of(line):
    start = line.index("[CAPABILITY ") + len("[CAPABILITY ")
    return line[start:line.index("]", start)].split()


def test_greeting_and_capabilities(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    assert r.greeting.startswith("* OK [CAPABILITY "), r.greeting
    caps = caps_of(r.greeting)
    for word in ("IMAP4rev1", "IMAP4rev2", "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN",
                 "AUTH=SCRAM-SHA-256", "SASL-IR", "LITERAL-", "ID",
                 "ENABLE"):
        assert word in caps, caps
    assert "LOGINDISABLED" not in caps      # loopback may log in in clear
    assert "LITERAL+" not in caps
    lines = r.cmd("a", "CAPABILITY")
    assert lines[0].startswith("* CAPABILITY IMAP4rev1 "), lines
    assert lines[-1] == "a OK CAPABILITY completed"
    ok = r.login()[-1]
    after = caps_of(ok)
    assert "LITERAL+" in after and "LITERAL-" not in after
    assert "STATUS=SIZE" in after and "IMAP4rev2" in after
    assert not [c for c in after if c.startswith("AUTH=")], after
    assert "STARTTLS" not in after and "SASL-IR" not in after
    # CLIENT-QUIRKS: nothing that is not complete; UIDONLY once complete
    # (test_imap_uidonly.py); QUOTA only with what the store enforces
    # (test_imap_quota.py); COMPRESS=DEFLATE after login only
    # (test_imap_compress.py); CONDSTORE and QRESYNC after login
    # (test_imap_condstore.py, test_imap_qresync.py)
    assert not [c for c in caps + after if c.startswith(
        ("UTF8=ONLY", "QUOTASET"))], after
    assert "QUOTA" not in caps and "QUOTA=RES-STORAGE" in after
    assert "QUOTA=RES-MESSAGE" not in caps and "QUOTA=RES-MESSAGE" in after
    assert "COMPRESS=DEFLATE" not in caps and "COMPRESS=DEFLATE" in after
    # METADATA after login only (test_imap_metadata.py)
    assert "METADATA" not in caps and "METADATA" in after
    assert "METADATA-SERVER" in after
    # issue 13 item 9, after login (test_imap_preview.py,
    # test_imap_uidonly.py, test_imap_replace.py, test_imap_partial.py,
    # test_imap_multisearch.py, test_imap_messagelimit.py,
    # test_imap_catenate.py, test_imap_inprogress.py; CONDSTORE and QRESYNC:
    # test_imap_condstore.py, test_imap_qresync.py)
    for word in ("PREVIEW", "UIDONLY", "REPLACE", "PARTIAL",
                 "MULTISEARCH", "MESSAGELIMIT=1000000", "CATENATE",
                 "INPROGRESS", "CONDSTORE", "QRESYNC"):
        assert word not in caps and word in after, (word, after)
    # NOTIFY after login only (test_imap_notify.py)
    assert "NOTIFY" not in caps and "NOTIFY" in after
    # ACL after login only (test_imap_acl.py)
    assert "ACL" not in caps and "ACL" in after and "RIGHTS=texk" in after
    r.close()
    # imaps: no STARTTLS on implicit TLS
    t = Raw(h, "imaps", tls=True)
    assert "STARTTLS" not in caps_of(t.greeting)
    t.close()


def test_no_plaintext_login_without_tls(herald_factory):
    h = server(herald_factory, sections={"auth": "plaintext_on_loopback = no"})
    r = Raw(h)
    caps = caps_of(r.greeting)
    assert "LOGINDISABLED" in caps and "AUTH=PLAIN" not in caps, caps
    lines = r.cmd("a", f'LOGIN "{USER}" "{PASSWORD}"')
    assert lines[-1].startswith("a NO [PRIVACYREQUIRED]"), lines
    lines = r.cmd("b", "AUTHENTICATE PLAIN")
    assert lines[-1].startswith("b NO [PRIVACYREQUIRED]"), lines
    r.close()
    c = connect(h)
    c.starttls(ssl_context=tls_context())
    typ, _ = c.login(USER, PASSWORD)
    assert typ == "OK"
    c.logout()
    c = connect(h, tls=True)
    assert c.login(USER, PASSWORD)[0] == "OK"
    c.logout()


def test_login_and_failure_logged(herald_factory):
    h = server(herald_factory)
    c = login(h)
    assert c.state == "AUTH"
    assert c.logout()[0] == "BYE"
    c = connect(h)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login(USER, "wrong")
    # the same line the fail2ban filter reads, with proto=imap
    h.wait_log("sasl auth-failed user=<alice@example.test> method=LOGIN "
               "proto=imap rip=127.0.0.1")
    # a failure is a NO, the session stays usable
    assert c.login(USER, PASSWORD)[0] == "OK"
    c.logout()


def test_authenticate_plain(herald_factory):
    h = server(herald_factory)
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    r = Raw(h)
    # SASL-IR (RFC 4959)
    lines = r.cmd("a", f"AUTHENTICATE PLAIN {token}")
    assert lines[-1].startswith("a OK [CAPABILITY "), lines
    r.close()
    r = Raw(h)
    r.send("b AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send(token + "\r\n")
    assert r.until_tagged("b")[-1].startswith("b OK"), "no IR"
    r.close()
    # imaplib's own AUTHENTICATE
    c = connect(h)
    typ, _ = c.authenticate("PLAIN", lambda _: f"\0{USER}\0{PASSWORD}")
    assert typ == "OK"
    c.logout()


def test_authenticate_login_challenges(herald_factory):
    # CLIENT-QUIRKS: Outlook needs "Username:" and "Password:"
    h = server(herald_factory)
    r = Raw(h)
    r.send("a AUTHENTICATE LOGIN\r\n")
    assert r.line() == "+ " + base64.b64encode(b"Username:").decode()
    r.send(base64.b64encode(USER.encode()).decode() + "\r\n")
    assert r.line() == "+ " + base64.b64encode(b"Password:").decode()
    r.send(base64.b64encode(PASSWORD.encode()).decode() + "\r\n")
    assert r.until_tagged("a")[-1].startswith("a OK")
    r.close()


def test_authenticate_cancel_and_bad_base64(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    r.send("a AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send("*\r\n")
    assert r.until_tagged("a")[-1] == "a BAD Authentication cancelled"
    r.send("b AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send("!!!notbase64\r\n")
    assert r.until_tagged("b")[-1].startswith("b BAD")
    lines = r.cmd("c", "AUTHENTICATE NOSUCH")
    assert lines[-1].startswith("c NO"), lines
    r.login()
    r.close()


def test_authenticate_scram_sha256(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={USER},r={nonce}"
    r.send("a AUTHENTICATE SCRAM-SHA-256 " +
           base64.b64encode(("n,," + first_bare).encode()).decode() + "\r\n")
    resp = r.line()
    assert resp.startswith("+ "), resp
    server_first = base64.b64decode(resp[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(),
                                 base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    final_wo = f"c=biws,r={attrs['r']}"
    auth_msg = f"{first_bare},{server_first},{final_wo}".encode()
    sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    r.send(base64.b64encode(
        f"{final_wo},p={base64.b64encode(proof).decode()}".encode())
        .decode() + "\r\n")
    resp = r.line()
    assert resp.startswith("+ "), resp
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    want = base64.b64encode(hmac.new(server_key, auth_msg,
                                     hashlib.sha256).digest()).decode()
    assert base64.b64decode(resp[2:]).decode() == f"v={want}"
    r.send("\r\n")
    assert r.until_tagged("a")[-1].startswith("a OK")
    r.close()


def test_literal_continuation_has_text(herald_factory):
    # CLIENT-QUIRKS: "+ " with a space and a text, never a bare "+"
    h = server(herald_factory)
    r = Raw(h)
    r.send("a LOGIN {%d}\r\n" % len(USER))
    cont = r.line()
    assert cont.startswith("+ ") and len(cont) > 2, cont
    r.send(USER + " {%d}\r\n" % len(PASSWORD))
    assert r.line().startswith("+ ")
    r.send(PASSWORD + "\r\n")
    assert r.until_tagged("a")[-1].startswith("a OK")
    # LITERAL+ after login: no continuation
    lines = r.cmd("b", 'ID ("name" {4+}\r\nmutt)')
    assert lines[-1] == "b OK ID completed", lines
    r.close()


def test_huge_literal_refused_without_allocation(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    lines = r.cmd("a", "LOGIN {4294967296}")
    assert lines[-1].startswith("a BAD"), lines
    r.login()
    lines = r.cmd("b", "APPEND INBOX {4294967296}")
    assert lines[-1].startswith(("b NO [TOOBIG]", "b BAD")), lines
    # the session and the server go on
    assert r.cmd("c", "NOOP")[-1] == "c OK NOOP completed"
    r.close()
    c = login(h)
    c.logout()


def test_deep_nesting_is_bad(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    lines = r.cmd("a", "ID " + "(" * 10000 + ")" * 10000)
    assert lines[-1].startswith("a BAD"), lines[-1][:100]
    assert r.cmd("b", "NOOP")[-1] == "b OK NOOP completed"
    r.close()


def test_pipelined_commands_answer_in_order(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    r.send(f'a LOGIN "{USER}" "{PASSWORD}"\r\nb CAPABILITY\r\nc SELECT '
           'INBOX\r\nd NOOP\r\ne UNSELECT\r\nf NOOP\r\n')
    tags = [ln.split()[0] for ln in r.until_tagged("f")
            if not ln.startswith("*")]
    assert tags == ["a", "b", "c", "d", "e", "f"]
    r.close()


def test_logout_after_half_close(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    r.send(f'a LOGIN "{USER}" "{PASSWORD}"\r\nb LOGOUT\r\n')
    r.sock.shutdown(socket.SHUT_WR)
    lines = r.until_tagged("b")
    assert "* BYE Logging out" in lines
    assert lines[-1] == "b OK LOGOUT completed"
    assert r.f.read() == b""


def test_autologout_before_login(herald_factory):
    h = server(herald_factory, imap="login_timeout = 1s")
    r = Raw(h)
    t0 = time.monotonic()
    assert r.line() == "* BYE Autologout; idle for too long"
    assert time.monotonic() - t0 < 5
    h.wait_log("imap timeout rip=127.0.0.1 state=not-authenticated")


def test_select_examine_unselect(herald_factory):
    h = server(herald_factory)
    for i in range(3):
        deliver(h, USER, make_msg(i))
    r = Raw(h)
    r.login()
    lines = r.cmd("a", "SELECT INBOX")
    assert "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)" in lines
    assert "* 3 EXISTS" in lines and "* 0 RECENT" in lines
    assert "* OK [UNSEEN 1] First unseen" in lines
    assert any(ln.startswith("* OK [UIDVALIDITY ") for ln in lines)
    assert "* OK [UIDNEXT 4] Predicted next UID" in lines
    assert ("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
            "\\Draft \\*)] Flags permitted") in lines
    assert lines[-1] == "a OK [READ-WRITE] SELECT completed"
    lines = r.cmd("b", "EXAMINE inbox")
    assert "* OK [PERMANENTFLAGS ()] Read-only mailbox" in lines
    assert lines[-1] == "b OK [READ-ONLY] EXAMINE completed"
    # a failed SELECT leaves no mailbox selected (RFC 9051 6.3.2)
    lines = r.cmd("c", "SELECT Nosuch")
    assert lines[-1].startswith("c NO [NONEXISTENT]"), lines
    assert r.cmd("d", "UNSELECT")[-1].startswith("d BAD")
    assert r.cmd("e", "SELECT INBOX")[-1].startswith("e OK")
    assert r.cmd("f", "UNSELECT")[-1] == "f OK UNSELECT completed"
    assert r.cmd("g", "CHECK")[-1].startswith("g BAD")
    r.close()
    # imaplib agrees
    c = login(h)
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK" and data == [b"3"]
    c.logout()


def test_rev2_select(herald_factory):
    h = server(herald_factory)
    deliver(h, USER, make_msg(1))
    r = Raw(h)
    r.login()
    lines = r.cmd("a", "ENABLE IMAP4rev2")
    assert lines == ["* ENABLED IMAP4rev2", "a OK ENABLE completed"]
    lines = r.cmd("b", "SELECT INBOX")
    assert '* LIST () "/" INBOX' in lines
    assert not [ln for ln in lines if "RECENT" in ln or "UNSEEN" in ln]
    # reselecting says CLOSED first (RFC 9051 7.1)
    lines = r.cmd("c", "EXAMINE INBOX")
    assert lines[0] == "* OK [CLOSED] Previous mailbox closed", lines
    # ENABLE is for the authenticated state only
    assert r.cmd("d", "ENABLE UTF8=ACCEPT")[-1].startswith("d BAD")
    # rev2 answers: ESEARCH, not SEARCH; STATUS SIZE and DELETED; no
    # \Recent anywhere
    lines = r.cmd("e", "SEARCH ALL")
    assert lines == ['* ESEARCH (TAG "e") ALL 1', "e OK SEARCH completed"]
    lines = r.cmd("f", "STATUS INBOX (MESSAGES DELETED SIZE)")
    assert lines[0].startswith("* STATUS INBOX (MESSAGES 1 DELETED 0 SIZE ")
    lines = r.cmd("g", "FETCH 1 FLAGS")
    assert lines[0] == "* 1 FETCH (FLAGS ())", lines
    r.close()


def test_id_and_enable(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    lines = r.cmd("a", 'ID ("name" "test client" "version" NIL)')
    assert lines[0].startswith('* ID ("name" "Herald" "version" "'), lines
    assert lines[-1] == "a OK ID completed"
    assert r.cmd("b", "ID NIL")[-1] == "b OK ID completed"
    assert r.cmd("c", 'ID ("odd")')[-1].startswith("c BAD")
    assert r.cmd("d", "ENABLE IMAP4rev2")[-1].startswith("d BAD")
    r.login()
    lines = r.cmd("e", "ENABLE UTF8=ACCEPT X-UNKNOWN")
    assert lines == ["* ENABLED UTF8=ACCEPT", "e OK ENABLE completed"]
    assert r.cmd("f", "ENABLE UTF8=ACCEPT")[0] == "* ENABLED"
    r.close()
    h.wait_log('imap id client="name=test client version="')


def test_bad_commands_and_error_limit(herald_factory):
    h = server(herald_factory, imap="max_errors = 3")
    r = Raw(h)
    assert r.cmd("a", "FROBNICATE")[-1] == "a BAD Unknown command"
    assert r.cmd("b", "SELECT INBOX")[-1] == "b BAD Log in first"
    r.send("c UID FROB 1\r\n")
    lines = r.until_tagged("c")
    assert lines[-1] == "c BAD Unknown UID command"
    assert r.line() == "* BYE Too many invalid commands"
    assert r.f.read() == b""
    r = Raw(h)
    r.login()
    assert r.cmd("a", "FETCH 1 FLAGS")[-1] == "a BAD Select a mailbox first"
    r.send("\x01garbage\r\n")
    assert r.line().startswith("* BAD"), "untagged BAD without a tag"
    r.close()


def test_starttls_drops_pipelined_input(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    # b is sent in clear behind STARTTLS: it must never run (RFC 9051
    # 6.2.1, the STARTTLS injection class of bugs)
    r.send("a STARTTLS\r\nb LOGOUT\r\n")
    assert r.line() == "a OK Begin TLS negotiation now"
    tls = tls_context().wrap_socket(r.sock)
    tls.sendall(b"c NOOP\r\n")
    f = tls.makefile("rb")
    assert f.readline() == b"c OK NOOP completed\r\n"
    tls.sendall(b"d CAPABILITY\r\n")
    caps = f.readline().decode()
    assert "STARTTLS" not in caps and "AUTH=PLAIN" in caps, caps
    tls.close()


def test_connection_limit_refusal(herald_factory):
    h = server(herald_factory, extra="max_connections_per_ip = 2")
    # the harness's port probes count until the worker saw them close
    deadline = time.monotonic() + 10
    while (h.log().count(" disconnect ") +
           h.log().count(" conn too-many-connections ")) < len(h.ports):
        assert time.monotonic() < deadline, h.log()
        time.sleep(0.05)
    held = [Raw(h), Raw(h)]
    assert all(r.greeting.startswith("* OK") for r in held)
    s = socket.create_connection(("127.0.0.1", h.ports["imap"]), timeout=10)
    line = s.makefile("rb").readline()
    assert line.startswith(b"* BYE [UNAVAILABLE] Too many connections"), line
    s.close()
    for r in held:
        r.close()


def test_nonsync_literal_limit_before_login(herald_factory):
    # LITERAL- (RFC 7888 5): {n+} over 4096 before login is refused and
    # its octets are skipped, never read as commands
    h = server(herald_factory)
    r = Raw(h)
    payload = ("x NOOP\r\n" * 700).encode()[:5000]
    r.send(b"a LOGIN {5000+}\r\n" + payload + b"\r\n")
    lines = r.until_tagged("a")
    assert lines[-1].startswith("a BAD"), lines
    assert not [ln for ln in lines if ln.startswith("x ")], lines
    assert r.cmd("b", "NOOP")[-1] == "b OK NOOP completed"
    # after login LITERAL+ takes any size up to literal_max
    r.login()
    lines = r.cmd("c", 'ID ("name" {5000+}\r\n' + "n" * 5000 + ")")
    assert lines[-1].startswith("c BAD"), "value over RFC 2971's 1024"
    assert r.cmd("d", "NOOP")[-1] == "d OK NOOP completed"
    r.close()


def test_sessions_per_user_limit(herald_factory):
    h = server(herald_factory, imap="max_sessions_per_user = 2",
               users=(USER, "bob@example.test"))
    a, b = login(h), login(h)
    c = connect(h)
    with pytest.raises(imaplib.IMAP4.error, match=r"\[LIMIT\]"):
        c.login(USER, PASSWORD)
    h.wait_log("imap too-many-sessions user=<alice@example.test> "
               "rip=127.0.0.1 max=2")
    # another account is not affected, and a closed session frees a slot
    assert c.login("bob@example.test", PASSWORD)[0] == "OK"
    a.logout()
    deadline = time.monotonic() + 10
    while True:
        d = connect(h)
        try:
            d.login(USER, PASSWORD)
            break
        except imaplib.IMAP4.error:
            assert time.monotonic() < deadline, "slot never freed"
            time.sleep(0.1)
    for x in (b, c, d):
        x.logout()


def test_capabilities_hide(herald_factory):
    """CLIENT-QUIRKS: an admin switch to hide a capability from a client
    that misbehaves once it sees it ([imap] capabilities_hide); the
    command still works for a client that uses it anyway."""
    h = server(herald_factory,
               imap='capabilities_hide = UTF8=ACCEPT, idle LITERAL-')
    r = Raw(h)
    caps = caps_of(r.greeting)
    assert "IDLE" not in caps and "LITERAL-" not in caps, caps
    assert caps[0] == "IMAP4rev1" and "ENABLE" in caps, caps
    after = caps_of(r.login()[-1])
    assert "UTF8=ACCEPT" not in after and "IDLE" not in after, after
    assert "LITERAL+" in after and "IMAP4rev2" in after, after
    lines = r.cmd("c", "CAPABILITY")
    assert "IDLE" not in lines[0].split(), lines
    assert r.cmd("e", "ENABLE UTF8=ACCEPT")[0] == "* ENABLED UTF8=ACCEPT"
    r.close()
    from harness import Herald
    for bad in ("IMAP4rev1", "STARTTLS", "AUTH=PLAIN", "X-NONE"):
        h2 = Herald(listeners=("imap",),
                    sections={"imap": f"capabilities_hide = {bad}"})
        try:
            p = h2.cli("config", "check", check=False)
            assert p.returncode != 0, bad
            assert "capabilities_hide" in p.stderr + p.stdout, bad
        finally:
            h2.cleanup()


def test_huge_literal_reserves_no_memory(herald_factory):
    """Issue 11 "Done when": {4294967296} is refused without an
    allocation. The worker's peak virtual size (VmPeak, which a 4 GiB
    malloc raises even when no page is touched) stays where it was; the
    release binary, since ASan maps its own arenas."""
    release = os.path.join(ROOT, "build", "herald")
    if not os.access(release, os.X_OK):
        pytest.skip("the release binary build/herald is not built (make)")
    h = server(herald_factory, binary=release, workers=1)
    _, (worker,) = h.pids()
    r = Raw(h)
    r.login()
    assert r.cmd("a", "NOOP")[-1].startswith("a OK")

    def peak_kb():
        with open(f"/proc/{worker}/status") as f:
            for line in f:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1])
        raise AssertionError("no VmPeak")

    base = peak_kb()
    for i, text in enumerate(("APPEND INBOX {4294967296}",
                              "APPEND INBOX (\\Seen) ~{4294967296}",
                              'ID ("name" {4294967295})',
                              "APPEND INBOX {18446744073709551615}")):
        lines = r.cmd(f"b{i}", text)
        assert lines[-1].startswith((f"b{i} NO [TOOBIG]", f"b{i} BAD")), \
            lines
    assert r.cmd("c", "NOOP")[-1] == "c OK NOOP completed"
    assert peak_kb() - base < 256 * 1024, (base, peak_kb())
    r.close()


def test_line_over_line_max_is_bad(herald_factory):
    """Issue 11, 8: the command line length is bounded ([imap] line_max):
    a longer command is BAD, its rest skipped, and the session goes on."""
    h = server(herald_factory, imap="line_max = 8192")
    r = Raw(h)
    r.login()
    lines = r.cmd("a", 'SELECT "' + "x" * 9000 + '"')
    assert lines[-1].startswith("a BAD"), lines[-1][:80]
    # literal data does not count, the command text around it does
    msg = "Subject: long\r\n\r\n" + ("y" * 70 + "\r\n") * 130
    lines = r.cmd("b", f"APPEND INBOX {{{len(msg)}+}}\r\n" + msg)
    assert lines[-1].startswith("b OK [APPENDUID "), lines[-1][:80]
    lines = r.cmd("c", "ID (" + '"k" "v" ' * 1100 + ")")
    assert lines[-1].startswith("c BAD"), lines[-1][:80]
    assert r.cmd("d", "NOOP")[-1] == "d OK NOOP completed"
    r.close()


def test_pipelined_flood_holds_bounded_memory(herald_factory):
    """Issue 11, 8: the number of pipelined commands is bounded: a client
    that sends a million NOOPs without reading a reply stalls on TCP
    flow control (the worker reads no further while its output is
    unread), so the worker's memory stays flat; then every command is
    answered, in order. Release binary, for honest memory figures."""
    release = os.path.join(ROOT, "build", "herald")
    if not os.access(release, os.X_OK):
        pytest.skip("the release binary build/herald is not built (make)")
    h = server(herald_factory, binary=release, workers=1)
    _, (worker,) = h.pids()
    r = Raw(h)
    r.login()
    r.cmd("a", "SELECT INBOX")

    def rss_kb():
        with open(f"/proc/{worker}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    n = 1000000
    base = rss_kb()
    flood = b"".join(b"n%d NOOP\r\n" % i for i in range(n))
    sender = threading.Thread(target=r.sock.sendall, args=(flood,))
    sender.start()
    time.sleep(3)
    grown = rss_kb() - base
    assert sender.is_alive(), "the server read and buffered it all"
    assert grown < 8 * 1024, f"worker grew by {grown} KiB"
    count = 0
    while True:
        ln = r.line()
        assert ln, "connection closed"
        assert ln == f"n{count} OK NOOP completed", ln
        count += 1
        if count == n:
            break
    sender.join(30)
    assert r.cmd("z", "NOOP")[-1] == "z OK NOOP completed"
    # nothing kept per command either (64 octets per tagged reply were:
    # 80 MB after the million)
    grown = rss_kb() - base
    assert grown < 8 * 1024, f"worker grew by {grown} KiB after {n} commands"
    r.close()
