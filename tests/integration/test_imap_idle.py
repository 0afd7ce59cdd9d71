"""IDLE (RFC 2177) and the changes made elsewhere (issue 11 item 7): a
delivery over SMTP reaches a session in IDLE within a second, also when it
lands on the other worker process; another session's flag change and
expunge reach a session at its next command, EXPUNGE never during a
command that uses sequence numbers (RFC 9051 7.5.1); DONE with a command
behind it in the same packet (iOS Mail); the keepalive."""
import imaplib
import re
import shutil
import subprocess
import threading
import time

import pytest

from imap_util import (USER, Raw, deliver, login, make_msg, ok, read_until,
                       server, worker_of)

def idle_start(r, tag="I1"):
    r.send(f"{tag} IDLE\r\n")
    ln = r.line()
    assert ln.startswith("+ "), ln
    return ln


def test_idle_is_advertised(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    assert " IDLE" in r.greeting, r.greeting
    r.login()
    caps = r.cmd("C1", "CAPABILITY")
    assert any(ln.startswith("* CAPABILITY ") and " IDLE" in ln + " "
               for ln in caps), caps
    r.close()


def test_idle_exists_within_a_second_from_the_other_worker(herald_factory):
    """Two workers; the IDLE session on one, the SMTP delivery made on the
    other (connections are retried until one lands there): EXISTS within a
    second of the 250, then DONE ends IDLE with OK."""
    h = server(herald_factory, workers=2)
    _, workers = h.pids()
    assert len(workers) == 2, workers
    r = Raw(h)
    r.login()
    imap_pid = worker_of(h, "imap", r.sock.getsockname()[1])
    lines = r.cmd("S1", "SELECT INBOX")
    assert "* 0 EXISTS" in lines, lines
    idle_start(r)

    import smtplib
    for _ in range(200):
        s = smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30)
        if worker_of(h, "smtp", s.sock.getsockname()[1]) != imap_pid:
            break
        s.quit()
    else:
        pytest.fail("every SMTP connection landed on the IMAP worker")
    s.sendmail("carol@remote.test", [USER], make_msg(1))
    t0 = time.monotonic()
    s.quit()
    lines, found = read_until(r, lambda ln: ln == "* 1 EXISTS", 5)
    elapsed = time.monotonic() - t0
    assert found, lines
    assert elapsed < 1.0, f"EXISTS after {elapsed:.3f} s"
    r.send("DONE\r\n")
    lines = r.until_tagged("I1")
    assert lines[-1].startswith("I1 OK"), lines
    # told once: the next command repeats nothing
    lines = r.cmd("N1", "NOOP")
    assert lines == ["N1 OK NOOP completed"] or \
        not any("EXISTS" in ln for ln in lines), lines
    r.close()
    assert not h.sanitizer_errors()


def test_idle_sees_several_deliveries_and_append(herald_factory):
    """Each delivery gives its EXISTS with the new count; a message
    APPENDed by another session of the same user too."""
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    r.cmd("S1", "SELECT INBOX")
    idle_start(r)
    for i in range(1, 4):
        deliver(h, USER, make_msg(i))
        lines, found = read_until(r, lambda ln, i=i: ln == f"* {i} EXISTS",
                                  3)
        assert found, (i, lines)
    c = login(h)
    call("APPEND", c.append, "INBOX", None, None, make_msg(9))
    lines, found = read_until(r, lambda ln: ln == "* 4 EXISTS", 3)
    assert found, lines
    c.logout()
    r.send("DONE\r\n")
    assert r.until_tagged("I1")[-1].startswith("I1 OK")
    r.close()


def call(what, fn, *args):
    """imaplib's call, the test skipped while the command is a stub of
    another cut (imaplib raises on BAD)."""
    try:
        typ, data = fn(*args)
    except imaplib.IMAP4.error as e:
        if "not implemented" in str(e):
            pytest.skip(f"{what} is not implemented yet")
        raise
    assert typ == "OK", data
    return data


def test_flag_change_shows_at_next_noop(herald_factory):
    """A flag change in session A is a FETCH FLAGS (with the UID) in
    session B at its next NOOP, not before; a new keyword is announced by
    FLAGS before it is used."""
    h = server(herald_factory)
    deliver(h, USER, make_msg(1))
    deliver(h, USER, make_msg(2))
    a = login(h)
    ok(a.select("INBOX"))
    b = Raw(h)
    b.login()
    b.cmd("S1", "SELECT INBOX")
    call("STORE", a.store, "1", "+FLAGS", "(\\Flagged)")
    lines = b.cmd("N1", "NOOP")
    assert any(re.fullmatch(r"\* 1 FETCH \(UID \d+ FLAGS \(\\Flagged\)\)",
                            ln) for ln in lines), lines
    assert lines[-1].startswith("N1 OK"), lines
    # told once
    lines = b.cmd("N2", "NOOP")
    assert lines == ["N2 OK NOOP completed"] or \
        not any("FETCH" in ln for ln in lines), lines

    call("STORE", a.store, "2", "+FLAGS", "($Important)")
    lines = b.cmd("N3", "NOOP")
    fl = [i for i, ln in enumerate(lines) if ln.startswith("* FLAGS (")]
    fe = [i for i, ln in enumerate(lines) if " FETCH " in ln]
    assert fl and fe and fl[0] < fe[0], lines
    assert "$Important" in lines[fl[0]], lines
    assert re.fullmatch(r"\* 2 FETCH \(UID \d+ FLAGS \(\$Important\)\)",
                        lines[fe[0]]), lines
    a.logout()
    b.close()


def test_expunge_waits_for_a_command_that_allows_it(herald_factory):
    """An expunge in A: B's FETCH (sequence numbers) gets no EXPUNGE, nor
    does its SEARCH; its NOOP does, with the number B knows; the EXISTS
    count stays right."""
    h = server(herald_factory)
    for i in range(1, 4):
        deliver(h, USER, make_msg(i))
    a = login(h)
    ok(a.select("INBOX"))
    b = Raw(h)
    b.login()
    b.cmd("S1", "SELECT INBOX")
    call("STORE", a.store, "2", "+FLAGS", "(\\Deleted)")
    call("EXPUNGE", a.expunge)
    # COPY and FETCH use sequence numbers
    lines = b.cmd("C1", "COPY 1:3 Trash")
    assert not any("EXPUNGE" in ln for ln in lines), lines
    assert lines[-1].split()[1] in ("OK", "NO"), lines
    lines = b.cmd("F1", "FETCH 1:3 (FLAGS)")
    assert not any("EXPUNGE" in ln for ln in lines), lines
    # the expunged message 2 still answers from the view (docs/imap.md)
    assert [ln.split()[1] for ln in lines if ln.startswith("* ")] == \
        ["1", "2", "3"], lines
    assert lines[-1].startswith("F1 OK"), lines
    # a UID command may see it (RFC 9051 7.5.1)
    lines = b.cmd("N1", "NOOP")
    assert "* 2 EXPUNGE" in lines, lines
    assert lines[-1].startswith("N1 OK"), lines
    # the view has the two others, numbered 1 and 2
    lines = b.cmd("F2", "UID STORE 1:* +FLAGS (\\Seen)")
    assert [ln.split()[1] for ln in lines if " FETCH " in ln] == \
        ["1", "2"], lines
    # and told once
    assert not any("EXPUNGE" in ln for ln in b.cmd("N2", "NOOP")), lines
    a.logout()
    b.close()


def test_expunge_in_idle_at_once(herald_factory):
    """IDLE is a command that uses no sequence numbers: an expunge made
    elsewhere is an EXPUNGE at once."""
    h = server(herald_factory)
    for i in range(1, 3):
        deliver(h, USER, make_msg(i))
    a = login(h)
    ok(a.select("INBOX"))
    r = Raw(h)
    r.login()
    r.cmd("S1", "SELECT INBOX")
    idle_start(r)
    call("STORE", a.store, "1", "+FLAGS", "(\\Deleted)")
    lines, found = read_until(r, lambda ln: "FETCH" in ln, 3)
    assert found, lines
    call("EXPUNGE", a.expunge)
    lines, found = read_until(r, lambda ln: ln == "* 1 EXPUNGE", 3)
    assert found, lines
    r.send("DONE\r\n")
    assert r.until_tagged("I1")[-1].startswith("I1 OK")
    a.logout()
    r.close()


def test_done_and_next_command_in_one_packet(herald_factory):
    """iOS Mail sends DONE and its next commands together: both are
    answered, in order (CLIENT-QUIRKS)."""
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    r.cmd("S1", "SELECT INBOX")
    idle_start(r)
    r.send("DONE\r\nN1 NOOP\r\nN2 CHECK\r\n")
    lines = r.until_tagged("I1")
    assert lines[-1].startswith("I1 OK"), lines
    lines = r.until_tagged("N1")
    assert lines[-1].startswith("N1 OK"), lines
    lines = r.until_tagged("N2")
    assert lines[-1].split()[1] in ("OK", "BAD"), lines
    # IDLE again, and DONE typed in lower case
    idle_start(r, "I2")
    r.send("done\r\n")
    assert r.until_tagged("I2")[-1].startswith("I2 OK")
    # the whole thing in one packet, before the "+"
    r.send("I3 IDLE\r\nDONE\r\nN3 NOOP\r\n")
    assert r.line().startswith("+ ")
    assert r.until_tagged("I3")[-1].startswith("I3 OK")
    assert r.until_tagged("N3")[-1].startswith("N3 OK")
    r.close()


def test_idle_other_line_is_bad(herald_factory):
    """Anything but DONE ends IDLE with BAD; the session goes on."""
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    idle_start(r)
    r.send("N1 NOOP\r\n")
    lines = r.until_tagged("I1")
    assert lines[-1].startswith("I1 BAD"), lines
    assert r.cmd("N2", "NOOP")[-1].startswith("N2 OK")
    # IDLE takes no arguments
    assert r.cmd("I2", "IDLE now")[-1].startswith("I2 BAD")
    # in the authenticated state IDLE works too (nothing to report)
    idle_start(r, "I3")
    r.send("DONE\r\n")
    assert r.until_tagged("I3")[-1].startswith("I3 OK")
    r.close()


def test_idle_keepalive(herald_factory):
    """With [imap] idle_keepalive = 1s an untagged OK comes every second
    while the session idles, and none after DONE."""
    h = server(herald_factory, imap="idle_keepalive = 1s")
    r = Raw(h)
    r.login()
    r.cmd("S1", "SELECT INBOX")
    idle_start(r)
    t0 = time.monotonic()
    lines, found = read_until(r, lambda ln: ln == "* OK Still here", 3)
    assert found, lines
    lines, found = read_until(r, lambda ln: ln == "* OK Still here", 3)
    assert found, lines
    assert time.monotonic() - t0 < 3.5
    r.send("DONE\r\n")
    assert r.until_tagged("I1")[-1].startswith("I1 OK")
    lines, found = read_until(r, lambda ln: True, 1.5)
    assert not found, lines
    r.close()


def test_idle_keepalive_setting_bounds(herald_factory):
    """The keepalive has bounds: below a second it is refused at start."""
    from harness import Herald
    h = Herald(listeners=("imap",), sections={"imap": "idle_keepalive = 10ms"})
    try:
        p = h.cli("config", "check", check=False)
        assert p.returncode != 0
        assert "idle_keepalive" in (p.stderr + p.stdout)
    finally:
        h.cleanup()


def test_delivery_racing_select_loses_and_repeats_nothing(herald_factory):
    """Deliveries while a session SELECTs again and again: after a final
    NOOP the session has every message once (the count of EXISTS and a
    UID FETCH agree with what was delivered)."""
    h = server(herald_factory, workers=2)
    r = Raw(h)
    r.login()
    n = 30
    done = threading.Event()

    def run():
        try:
            for i in range(n):
                deliver(h, USER, make_msg(i))
        finally:
            done.set()

    t = threading.Thread(target=run)
    t.start()
    k = 0
    exists = None
    while not done.is_set() or k < 3:
        k += 1
        lines = r.cmd(f"S{k}", "SELECT INBOX")
        assert lines[-1].startswith(f"S{k} OK"), lines
        for ln in lines:
            m = re.fullmatch(r"\* (\d+) EXISTS", ln)
            if m:
                exists = int(m.group(1))
        if done.is_set() and k > 3:
            break
    t.join()
    lines = r.cmd("N1", "NOOP")
    for ln in lines:
        m = re.fullmatch(r"\* (\d+) EXISTS", ln)
        if m:
            exists = int(m.group(1))
    assert exists == n, (exists, lines)
    # UID STORE answers FETCH (seq, UID) for every message of the view
    lines = r.cmd("F1", "UID STORE 1:* +FLAGS (\\Seen)")
    assert lines[-1].startswith("F1 OK"), lines
    uids = [int(m.group(1)) for ln in lines
            for m in [re.search(r"UID (\d+)", ln)] if m and "FETCH" in ln]
    assert len(uids) == n and len(set(uids)) == n, lines
    seqs = [int(ln.split()[1]) for ln in lines if " FETCH " in ln]
    assert seqs == list(range(1, n + 1)), lines
    r.close()


def test_idle_keepalive_looks_without_a_wakeup(herald_factory):
    """The safety net: a change committed without a wake-up (here written
    by another program straight into the database, as a writer killed
    between its commit and its publish would leave it) reaches a session
    in IDLE at the next keepalive: FETCH FLAGS, then EXPUNGE."""
    h = server(herald_factory, imap="idle_keepalive = 1s")
    deliver(h, USER, make_msg(1))
    deliver(h, USER, make_msg(2))
    r = Raw(h)
    r.login()
    r.cmd("S1", "SELECT INBOX")
    idle_start(r)
    db = h.db()
    box, acc, hms = db.execute(
        "SELECT m.id, m.account_id, m.highestmodseq FROM mailboxes m"
        " WHERE m.role = 'inbox'").fetchone()
    with db:
        db.execute("UPDATE messages SET flags = flags | 4, modseq = ?"
                   " WHERE mailbox_id = ? AND uid = 1", (hms + 1, box))
        db.execute("UPDATE mailboxes SET highestmodseq = ? WHERE id = ?",
                   (hms + 1, box))
    lines, found = read_until(
        r, lambda ln: re.fullmatch(r"\* 1 FETCH \(UID 1 FLAGS "
                                   r"\(\\Flagged\)\)", ln), 4)
    assert found, lines
    with db:
        mid = db.execute("SELECT id FROM messages WHERE mailbox_id = ?"
                         " AND uid = 2", (box,)).fetchone()[0]
        db.execute("DELETE FROM messages WHERE id = ?", (mid,))
        db.execute("INSERT INTO changes (account_id, mailbox_id, modseq,"
                   " kind, object_id, uid, change, at) VALUES"
                   " (?, ?, ?, 'email', ?, 2, 'destroyed', 0)",
                   (acc, box, hms + 2, mid))
        db.execute("UPDATE mailboxes SET highestmodseq = ? WHERE id = ?",
                   (hms + 2, box))
    lines, found = read_until(r, lambda ln: ln == "* 2 EXPUNGE", 4)
    assert found, lines
    db.close()
    r.send("DONE\r\n")
    assert r.until_tagged("I1")[-1].startswith("I1 OK")
    r.close()


def test_idle_session_leaves_a_draining_worker(herald_factory):
    """After a reload (SIGHUP) the old worker drains; a session in IDLE
    there gets BYE at its next keepalive instead of keeping the old
    worker (and configuration) alive, and a new connection works."""
    import signal
    h = server(herald_factory, imap="idle_keepalive = 1s")
    r = Raw(h)
    r.login()
    r.cmd("S1", "SELECT INBOX")
    idle_start(r)
    h.signal(signal.SIGHUP)
    lines, found = read_until(r, lambda ln: ln.startswith("* BYE"), 6)
    assert found, lines
    r.close()
    r2 = Raw(h)
    r2.login()
    assert r2.cmd("N1", "NOOP")[-1].startswith("N1 OK")
    r2.close()


def test_selected_mailbox_deleted_under_idle(herald_factory):
    """`herald user del` (another process, with no IMAP in it) deletes the
    account and its mailboxes: the session idling in its INBOX is told
    with BYE at once, and the connection closes."""
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    r.cmd("S1", "SELECT INBOX")
    idle_start(r)
    h.cli("user", "del", USER)
    lines, found = read_until(
        r, lambda ln: ln.startswith("* BYE Selected mailbox was deleted"), 3)
    assert found, lines
    assert r.line() == "", "the connection stays open after BYE"
    r.close()
    # the line is written at the end of the worker's loop turn
    # (docs/logging.md), which may come after the close we saw
    assert h.wait_log("imap mailbox-gone", 5), h.log()


def test_fetch_of_a_message_expunged_elsewhere(herald_factory):
    """B still numbers a message A expunged (its EXPUNGE held back during
    FETCH): FETCH of its flags works from the view; once its body is
    collected, FETCH of the body is NO [EXPUNGEISSUED] (RFC 9051 7.1), not
    a server error; NOOP then sends the EXPUNGE."""
    h = server(herald_factory, sections={"store": "blob_gc_interval = 100ms"})
    for i in range(1, 4):
        deliver(h, USER, make_msg(i))
    a = login(h)
    ok(a.select("INBOX"))
    b = Raw(h)
    b.login()
    b.cmd("S1", "SELECT INBOX")
    call("STORE", a.store, "2", "+FLAGS", "(\\Deleted)")
    call("EXPUNGE", a.expunge)
    lines = b.cmd("F1", "FETCH 2 (UID FLAGS)")
    assert any(ln.startswith("* 2 FETCH (") for ln in lines), lines
    assert not any("EXPUNGE" in ln for ln in lines), lines
    deadline = time.monotonic() + 10
    while True:
        lines = b.cmd("F2", "FETCH 2 (BODY.PEEK[]<0.10>)")
        assert not any(re.fullmatch(r"\* \d+ EXPUNGE", ln)
                       for ln in lines), lines
        if lines[-1].startswith("F2 NO"):
            break
        assert time.monotonic() < deadline, "the blob was never collected"
        time.sleep(0.2)
    assert lines[-1].startswith("F2 NO [EXPUNGEISSUED]"), lines
    lines = b.cmd("N1", "NOOP")
    assert "* 2 EXPUNGE" in lines, lines
    a.logout()
    b.close()


def test_noop_sends_no_status(herald_factory):
    """CLIENT-QUIRKS: STATUS responses in NOOP replies break Thunderbird's
    Drafts. Changes to the selected mailbox and to others reach a NOOP as
    EXISTS / FETCH, never as STATUS."""
    h = server(herald_factory)
    deliver(h, USER, make_msg(1))
    a = Raw(h)
    a.login()
    a.cmd("S1", "SELECT INBOX")
    b = login(h)
    ok(b.append("Drafts", None, None, make_msg(2)))
    ok(b.select("INBOX"))
    ok(b.store("1", "+FLAGS", "\\Flagged"))
    deliver(h, USER, make_msg(3))
    lines = a.cmd("N1", "NOOP")
    assert "* 2 EXISTS" in lines, lines
    assert any(ln.startswith("* 1 FETCH") for ln in lines), lines
    assert not [ln for ln in lines if ln.startswith("* STATUS")], lines
    lines = a.cmd("N2", "NOOP")
    assert lines == ["N2 OK NOOP completed"], lines
    b.logout()
    a.close()


def server_keepalive(h, client_port):
    """The TCP timer ss shows for the server's end of our connection."""
    out = subprocess.run(["ss", "-tnoH", "state", "established",
                          f"( dport = :{client_port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    return out


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) "
                    "is not installed")
def test_idle_sets_so_keepalive(herald_factory):
    """CLIENT-QUIRKS: carrier NATs drop silent TCP; IDLE turns on TCP
    keepalive probes on the server's socket (SO_KEEPALIVE), which ss shows
    as a keepalive timer."""
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    r.cmd("S1", "SELECT INBOX")
    port = r.sock.getsockname()[1]
    before = server_keepalive(h, port)
    assert f":{port}" in before and "keepalive" not in before, before
    idle_start(r)
    deadline = time.monotonic() + 5
    while "keepalive" not in server_keepalive(h, port):
        assert time.monotonic() < deadline, server_keepalive(h, port)
        time.sleep(0.1)
    r.send("DONE\r\n")
    assert r.until_tagged("I1")[-1].startswith("I1 OK")
    r.close()


def test_autologout_after_login_and_idle_renews_it(herald_factory):
    """Issue 11, 2: autologout after login ([imap] idle_timeout, at least
    a minute, so this test takes about 100 s); IDLE renews it, the
    server's own keepalives do not."""
    h = server(herald_factory, imap="idle_timeout = 1m\n"
                                    "idle_keepalive = 10s")
    r = Raw(h)
    r.login()
    r.cmd("S1", "SELECT INBOX")
    t0 = time.monotonic()
    time.sleep(40)
    idle_start(r)                   # renews the timer: 60 s from here
    t_idle = time.monotonic()
    # One read for the BYE, timed: it must come a minute after IDLE (not
    # a minute after SELECT), with the keepalives before it. (Two reads
    # split at 50 s raced the keepalive due at 50 s.)
    lines, found = read_until(r, lambda ln: ln.startswith("* BYE"), 80)
    assert found, lines
    t_bye = time.monotonic()
    assert lines[-1].startswith("* BYE Autologout"), lines
    assert t_bye - t0 >= 85, (t_bye - t0, lines)
    assert 55 <= t_bye - t_idle <= 75, (t_bye - t_idle, lines)
    assert lines.count("* OK Still here") >= 4, lines
    assert r.f.read() == b""
    r.close()
    h.wait_log("imap timeout rip=127.0.0.1")


def test_no_expunge_for_a_message_never_announced(herald_factory):
    """CLIENT-QUIRKS (stalwart #102): a message delivered and expunged
    between two of B's commands was never announced to B, so B gets
    neither its EXISTS nor an EXPUNGE; a message B knows that goes at the
    same time is announced with B's number for it."""
    h = server(herald_factory)
    deliver(h, USER, make_msg(1))
    deliver(h, USER, make_msg(2))
    b = Raw(h)
    b.login()
    b.cmd("S1", "SELECT INBOX")
    deliver(h, USER, make_msg(3))
    a = login(h)
    ok(a.select("INBOX"))
    ok(a.store("2:3", "+FLAGS", "(\\Deleted)"))
    ok(a.expunge())
    a.logout()
    lines = b.cmd("N1", "NOOP")
    assert lines == ["* 2 EXPUNGE", "N1 OK NOOP completed"], lines
    lines = b.cmd("F1", "FETCH 1:* (UID)")
    assert lines[0].startswith("* 1 FETCH (UID 1)"), lines
    assert len(lines) == 2, lines
    b.close()
