"""IMAP commands that change messages (issue 11): STORE with keywords and
.SILENT, EXPUNGE and UID EXPUNGE sequence numbers, CLOSE, COPY and MOVE
with COPYUID and TRYCREATE, APPEND with flags, date and APPENDUID,
MULTIAPPEND, APPENDLIMIT, and kill -9 during 10 clients' APPENDs. Driven
by imaplib and, where exact response lines matter, a raw line client."""
import contextlib
import hashlib
import imaplib
import re
import socket
import struct
import threading
import time

import pytest

from harness import DOMAIN
from imap_util import (PASSWORD, USER, Raw, deliver, login, make_msg,
                       server)


def deliver_n(h, n, start=1):
    for i in range(start, start + n):
        deliver(h, USER, make_msg(i))


def raw_selected(h, mailbox="INBOX", examine=False):
    r = Raw(h)
    r.login()
    lines = r.cmd("S", f"{'EXAMINE' if examine else 'SELECT'} {mailbox}")
    assert lines[-1].startswith("S OK"), lines
    return r, lines


def untagged(lines):
    return [ln for ln in lines if ln.startswith("* ")]


def flags_of(r, tag="F"):
    """{seq: set of flags} from a STORE that adds nothing (+FLAGS ()
    answers every message's current flags)."""
    lines = r.cmd(tag, "STORE 1:* +FLAGS ()")
    assert lines[-1].startswith(f"{tag} OK"), lines
    out = {}
    for ln in lines:
        m = re.match(r"\* (\d+) FETCH \(FLAGS \(([^)]*)\)\)$", ln)
        if m:
            out[int(m.group(1))] = set(m.group(2).split())
    return out


def uidvalidity_of(lines):
    for ln in lines:
        m = re.search(r"\[UIDVALIDITY (\d+)\]", ln)
        if m:
            return int(m.group(1))
    raise AssertionError(lines)


# ---- STORE ----------------------------------------------------------------

def test_store_keywords_and_silent(herald_factory):
    h = server(herald_factory)
    deliver_n(h, 3)
    r, sel = raw_selected(h)
    assert any("[PERMANENTFLAGS (" in ln and "\\*)" in ln for ln in sel), sel

    # a new keyword is announced by FLAGS (and PERMANENTFLAGS) before
    # the FETCH that uses it
    lines = r.cmd("a", "STORE 1 +FLAGS (\\Seen $Label1)")
    assert lines[-1] == "a OK STORE completed", lines
    u = untagged(lines)
    assert u[0].startswith("* FLAGS (") and "$Label1" in u[0], u
    assert "[PERMANENTFLAGS (" in u[1] and "$Label1" in u[1], u
    assert u[2] == "* 1 FETCH (FLAGS (\\Seen $Label1))", u
    assert len(u) == 3, u

    # known keyword in another case: the mailbox's spelling, no FLAGS
    lines = r.cmd("b", "STORE 2:3 +FLAGS ($LABEL1 \\Flagged)")
    u = untagged(lines)
    assert u == ["* 2 FETCH (FLAGS (\\Flagged $Label1))",
                 "* 3 FETCH (FLAGS (\\Flagged $Label1))"], u

    # .SILENT: no FETCH
    lines = r.cmd("c", "STORE 1:3 -FLAGS.SILENT (\\Flagged)")
    assert lines == ["c OK STORE completed"], lines

    # UID STORE answers with the UID; FLAGS replaces flags and keywords;
    # flags without parentheses are allowed too
    lines = r.cmd("d", "UID STORE 2 FLAGS \\Answered Work")
    u = untagged(lines)
    assert u[0].startswith("* FLAGS (") and "Work" in u[0], u
    assert u[-1] == "* 2 FETCH (UID 2 FLAGS (\\Answered Work))", u
    assert lines[-1] == "d OK UID STORE completed"

    lines = r.cmd("e", "STORE 1 -FLAGS ($label1)")
    assert untagged(lines) == ["* 1 FETCH (FLAGS (\\Seen))"], lines

    assert flags_of(r) == {1: {"\\Seen"}, 2: {"\\Answered", "Work"},
                           3: {"$Label1"}}
    r.close()

    # they were stored: a new session sees the keywords in FLAGS and on
    # the messages
    r, sel = raw_selected(h)
    flags_line = [ln for ln in sel if ln.startswith("* FLAGS (")][0]
    assert "$Label1" in flags_line and "Work" in flags_line, flags_line
    assert flags_of(r) == {1: {"\\Seen"}, 2: {"\\Answered", "Work"},
                           3: {"$Label1"}}
    r.close()

    # imaplib, as a client uses it
    c = login(h)
    c.select("INBOX")
    typ, data = c.store("1:2", "+FLAGS", "(\\Deleted)")
    assert typ == "OK"
    assert data == [b"1 (FLAGS (\\Deleted \\Seen))",
                    b"2 (FLAGS (\\Answered \\Deleted Work))"], data
    c.logout()


def test_store_refused(herald_factory):
    h = server(herald_factory, imap="keywords_max = 3")
    deliver_n(h, 2)
    r, _ = raw_selected(h)
    for bad in ("STORE 1 +FLAGS (\\Bogus)", "STORE 1 +FLAGS (\\Recent)",
                "STORE 1 FLAGS.LOUD (\\Seen)", "STORE 1 +FLAGS",
                "STORE 1 +FLAGS (a%b)", "STORE 3 +FLAGS (\\Seen)",
                "STORE 0 +FLAGS (\\Seen)",
                # (UNCHANGEDSINCE n) works: test_imap_condstore.py
                "STORE 1 (UNCHANGED 5) +FLAGS (\\Seen)"):
        lines = r.cmd("x", bad)
        assert lines[-1].startswith("x BAD"), (bad, lines)
    lines = r.cmd("a", "STORE 1 +FLAGS (k1 k2 k3)")
    assert lines[-1] == "a OK STORE completed", lines
    # a fourth keyword is over [imap] keywords_max; nothing changes
    lines = r.cmd("b", "STORE 1:2 +FLAGS (\\Seen k4)")
    assert lines[-1].startswith("b NO [LIMIT]"), lines
    assert flags_of(r) == {1: {"k1", "k2", "k3"}, 2: set()}
    # known ones are still fine, and PERMANENTFLAGS no longer has \*
    lines = r.cmd("c", "STORE 2 +FLAGS (K2)")
    assert untagged(lines) == ["* 2 FETCH (FLAGS (k2))"], lines
    r.close()
    r, sel = raw_selected(h)
    perm = [ln for ln in sel if "[PERMANENTFLAGS" in ln][0]
    assert "\\*" not in perm and "k3" in perm, perm
    r.close()
    # EXAMINE: read-only
    r, _ = raw_selected(h, examine=True)
    lines = r.cmd("d", "STORE 1 +FLAGS (\\Seen)")
    assert lines[-1].startswith("d NO [READ-ONLY]"), lines
    r.close()


def test_keyword_from_another_session_announced(herald_factory):
    """A keyword another session sets reaches this one as FLAGS and
    PERMANENTFLAGS before the FETCH; at the limit without \\*."""
    h = server(herald_factory, imap="keywords_max = 1")
    deliver_n(h, 1)
    r, _ = raw_selected(h)
    c = login(h)
    c.select("INBOX")
    c.store("1", "+FLAGS", "(Todo)")
    c.logout()
    lines = r.cmd("a", "NOOP")
    assert lines[0] == ("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
                        "\\Draft Todo)"), lines
    assert lines[1] == ("* OK [PERMANENTFLAGS (\\Answered \\Flagged "
                        "\\Deleted \\Seen \\Draft Todo)] Flags permitted"), \
        lines
    assert lines[2] == "* 1 FETCH (UID 1 FLAGS (Todo))", lines
    r.close()


# ---- EXPUNGE, UID EXPUNGE, CLOSE --------------------------------------------

def test_expunge_sequence_numbers(herald_factory):
    h = server(herald_factory)
    deliver_n(h, 6)
    r, _ = raw_selected(h)
    r.cmd("a", "STORE 2,3,5 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("b", "EXPUNGE")
    # RFC 9051 7.5.1: each EXPUNGE renumbers the messages after it
    assert lines == ["* 2 EXPUNGE", "* 2 EXPUNGE", "* 3 EXPUNGE",
                     "b OK EXPUNGE completed"], lines
    # left: UIDs 1, 4, 6 as 1, 2, 3
    lines = r.cmd("c", "UID STORE 1,4 +FLAGS.SILENT (\\Deleted)")
    assert lines[-1].startswith("c OK"), lines
    lines = r.cmd("d", "UID EXPUNGE 4:6")
    assert lines == ["* 2 EXPUNGE", "d OK UID EXPUNGE completed"], lines
    # UID 1 kept its \Deleted; nothing else to expunge in 4:*
    lines = r.cmd("e", "UID EXPUNGE 4:*")
    assert lines == ["e OK UID EXPUNGE completed"], lines
    assert flags_of(r) == {1: {"\\Deleted"}, 2: set()}
    # \Deleted cleared meanwhile by another session: not expunged
    c = login(h)
    c.select("INBOX")
    c.store("1", "-FLAGS.SILENT", "(\\Deleted)")
    c.logout()
    lines = r.cmd("f", "EXPUNGE")
    assert [ln for ln in lines if ln.endswith(" EXPUNGE")] == [], lines
    assert lines[-1] == "f OK EXPUNGE completed"
    r.close()
    assert len(h.messages(USER)) == 2

    c = login(h)
    c.select("INBOX")
    c.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    typ, data = c.expunge()
    assert typ == "OK" and data == [b"1"], data
    c.logout()


def test_expunge_deleted_by_another_session(herald_factory):
    """A \\Deleted set in another session, once this one was told (the
    FETCH before NOOP's OK), is expunged by this session's EXPUNGE."""
    h = server(herald_factory)
    deliver_n(h, 3)
    r, _ = raw_selected(h)
    c = login(h)
    c.select("INBOX")
    c.store("2", "+FLAGS.SILENT", "(\\Deleted)")
    c.logout()
    lines = r.cmd("a", "NOOP")
    assert "* 2 FETCH (UID 2 FLAGS (\\Deleted))" in lines, lines
    lines = r.cmd("b", "EXPUNGE")
    assert lines == ["* 2 EXPUNGE", "b OK EXPUNGE completed"], lines
    r.close()
    assert len(h.messages(USER)) == 2


def test_pipelined_store_expunge_in_order(herald_factory):
    """CLIENT-QUIRKS: pipelined STORE and EXPUNGE run in order."""
    h = server(herald_factory)
    deliver_n(h, 3)
    r, _ = raw_selected(h)
    r.send("a STORE 1 +FLAGS.SILENT (\\Deleted)\r\nb EXPUNGE\r\n"
           "c STORE 1 +FLAGS (\\Deleted)\r\nd UID EXPUNGE 2\r\n"
           "e NOOP\r\n")
    lines = r.until_tagged("e")
    assert lines == ["a OK STORE completed", "* 1 EXPUNGE",
                     "b OK EXPUNGE completed",
                     "* 1 FETCH (FLAGS (\\Deleted))",
                     "c OK STORE completed", "* 1 EXPUNGE",
                     "d OK UID EXPUNGE completed", "e OK NOOP completed"], \
        lines
    r.close()
    assert len(h.messages(USER)) == 1


def test_close(herald_factory):
    h = server(herald_factory)
    deliver_n(h, 3)
    # EXAMINE then CLOSE expunges nothing
    c = login(h)
    c.select("INBOX")
    c.store("1:2", "+FLAGS.SILENT", "(\\Deleted)")
    c.select("INBOX", readonly=True)
    typ, _ = c.close()
    assert typ == "OK"
    assert len(h.messages(USER)) == 3
    r, _ = raw_selected(h)
    lines = r.cmd("a", "CLOSE")
    # silently: no EXPUNGE responses
    assert lines == ["a OK CLOSE completed"], lines
    lines = r.cmd("b", "STORE 1 +FLAGS (\\Seen)")
    assert lines[-1].startswith("b BAD"), lines     # no mailbox selected
    r.close()
    assert len(h.messages(USER)) == 1


# ---- COPY and MOVE ---------------------------------------------------------

def test_copy_copyuid_and_same_message_twice(herald_factory):
    h = server(herald_factory)
    deliver_n(h, 3)
    r, sel = raw_selected(h, "Archive")
    v_arch = uidvalidity_of(sel)
    r.cmd("s", "SELECT INBOX")
    r.cmd("a", "STORE 2 +FLAGS.SILENT (\\Flagged $Important)")
    lines = r.cmd("b", "COPY 1:2 Archive")
    assert lines == [f"b OK [COPYUID {v_arch} 1:2 1:2] COPY completed"], \
        lines
    # CLIENT-QUIRKS: the same messages again get new UIDs, never a no-op
    lines = r.cmd("c", "UID COPY 2,3 Archive")
    assert lines == [f"c OK [COPYUID {v_arch} 2:3 3:4] UID COPY "
                     "completed"], lines
    lines = r.cmd("d", "COPY 1 Nowhere")
    assert lines == ["d NO [TRYCREATE] No such mailbox"], lines
    lines = r.cmd("e", "COPY 4 Archive")
    assert lines[-1].startswith("e BAD"), lines
    # a UID set naming nothing: OK, no COPYUID
    lines = r.cmd("f", "UID COPY 99 Archive")
    assert lines == ["f OK UID COPY completed"], lines
    r.cmd("g", "SELECT Archive")
    assert flags_of(r) == {1: set(), 2: {"\\Flagged", "$Important"},
                           3: {"\\Flagged", "$Important"}, 4: set()}
    r.close()
    inbox, archive = h.messages(USER), h.messages(USER, "Archive")
    assert archive == [inbox[0], inbox[1], inbox[1], inbox[2]]

    c = login(h)
    c.select("INBOX")
    typ, data = c.copy("3", "Archive")
    assert typ == "OK" and b"[COPYUID" in data[0] and b" 3 5]" in data[0], \
        data
    c.logout()


def test_move(herald_factory):
    h = server(herald_factory)
    deliver_n(h, 4)
    r, sel = raw_selected(h, "Trash")
    v_trash = uidvalidity_of(sel)
    r.cmd("s", "SELECT INBOX")
    r.cmd("a", "STORE 3 +FLAGS.SILENT (\\Seen Todo)")
    lines = r.cmd("b", "MOVE 2:3 Trash")
    # RFC 6851 3.3: untagged COPYUID, the EXPUNGEs, the tagged OK
    assert lines == [f"* OK [COPYUID {v_trash} 2:3 1:2] Moved",
                     "* 2 EXPUNGE", "* 2 EXPUNGE",
                     "b OK MOVE completed"], lines
    lines = r.cmd("c", "UID MOVE 4 Trash")
    assert lines == [f"* OK [COPYUID {v_trash} 4 3] Moved", "* 2 EXPUNGE",
                     "c OK UID MOVE completed"], lines
    lines = r.cmd("d", "MOVE 1 Nowhere")
    assert lines == ["d NO [TRYCREATE] No such mailbox"], lines
    assert flags_of(r) == {1: set()}
    r.cmd("e", "SELECT Trash")
    assert flags_of(r) == {1: set(), 2: {"\\Seen", "Todo"}, 3: set()}
    r.close()
    assert len(h.messages(USER)) == 1
    assert len(h.messages(USER, "Trash")) == 3
    # read-only: no MOVE
    r, _ = raw_selected(h, "Trash", examine=True)
    lines = r.cmd("f", "MOVE 1 INBOX")
    assert lines[-1].startswith("f NO [READ-ONLY]"), lines
    r.close()


# ---- APPEND ------------------------------------------------------------------

def test_append_flags_date_appenduid(herald_factory):
    h = server(herald_factory)
    c = login(h)
    typ, data = c.select("Drafts")
    msg = make_msg(1)
    typ, data = c.append("Drafts", "(\\Seen \\Draft $Pending)",
                         '"07-Feb-1994 22:43:04 -0800"', msg)
    assert typ == "OK", data
    m = re.match(rb"\[APPENDUID (\d+) (\d+)\] APPEND completed", data[0])
    assert m and m.group(2) == b"1", data
    v = int(m.group(1))
    typ, data = c.append("Drafts", None, None, make_msg(2))
    assert data[0] == f"[APPENDUID {v} 2] APPEND completed".encode(), data
    typ, data = c.append("Nowhere", None, None, msg)
    assert typ == "NO" and data[0].startswith(b"[TRYCREATE]"), data
    c.logout()
    assert h.messages(USER, "Drafts") == [msg, make_msg(2)]
    db = h.db()
    rows = db.execute("SELECT m.internal_date, m.flags FROM messages m"
                      " JOIN mailboxes b ON b.id = m.mailbox_id"
                      " WHERE b.name = 'Drafts' ORDER BY m.uid").fetchall()
    db.close()
    assert rows[0] == (760689784, 1 | 16), rows   # \Seen | \Draft
    assert abs(rows[1][0] - time.time()) < 120, rows
    r, _ = raw_selected(h, "Drafts")
    assert flags_of(r) == {1: {"\\Seen", "\\Draft", "$Pending"}, 2: set()}
    r.close()
    # and as FETCH gives them back
    c = login(h)
    c.select("Drafts")
    typ, data = c.fetch("1", "(INTERNALDATE FLAGS)")
    assert typ == "OK", data
    t = imaplib.Internaldate2tuple(data[0])
    assert int(time.mktime(t)) == 760689784, data
    assert b"$Pending" in data[0] and b"\\Draft" in data[0], data
    c.logout()


def test_append_bare_lf_normalised(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    # imaplib would make the LFs CRLF itself: a raw client sends them
    lf = b"Subject: lf\n\nline one\nline two\r\nline three\n"
    r.send(f"a APPEND INBOX {{{len(lf)}+}}\r\n".encode() + lf + b"\r\n")
    lines = r.until_tagged("a")
    assert lines[-1].startswith("a OK [APPENDUID "), lines
    r.close()
    # stored with CRLF only, so the size and the bytes served agree
    want = b"Subject: lf\r\n\r\nline one\r\nline two\r\nline three\r\n"
    assert h.messages(USER) == [want]
    c = login(h)
    c.select("INBOX")
    typ, data = c.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
    assert typ == "OK", data
    assert data[0][1] == want, data
    assert re.search(rb"RFC822\.SIZE (\d+)", data[0][0]).group(1) == \
        str(len(want)).encode(), data
    c.logout()


def test_append_copy_move_into_selected_mailbox(herald_factory):
    """RFC 9051 6.3.12: APPEND to the selected mailbox gives EXISTS before
    the tagged OK; so do COPY and MOVE into it (new UIDs in the same
    mailbox), MOVE with its EXPUNGE first."""
    h = server(herald_factory)
    r, sel = raw_selected(h)
    assert "* 0 EXISTS" in sel, sel
    m1 = make_msg(1)
    lines = r.cmd("a", f"APPEND INBOX (\\Seen) {{{len(m1)}+}}\r\n" +
                  m1.decode())
    assert lines[0] == "* 1 EXISTS", lines
    assert lines[-1].startswith("a OK [APPENDUID "), lines
    lines = r.cmd("b", "COPY 1 INBOX")
    assert lines[0] == "* 2 EXISTS", lines
    assert re.match(r"b OK \[COPYUID \d+ 1 2\] COPY completed$",
                    lines[-1]), lines
    lines = r.cmd("c", "UID MOVE 1 INBOX")
    assert lines[1:] == ["* 1 EXPUNGE", "* 2 EXISTS",
                         "c OK UID MOVE completed"], lines
    assert re.match(r"\* OK \[COPYUID \d+ 1 3\] Moved$", lines[0]), lines
    assert flags_of(r) == {1: {"\\Seen"}, 2: {"\\Seen"}}
    r.close()
    assert len(h.messages(USER)) == 2


def test_append_utf8(herald_factory):
    """RFC 6855 4: after ENABLE UTF8=ACCEPT a message may come as UTF8
    (literal8), here with UTF-8 in its header. (imaplib 3.11 puts the
    "UTF8 (" inside its literal, so a raw client sends it.)"""
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    assert r.cmd("e", "ENABLE UTF8=ACCEPT")[-1].startswith("e OK")
    msg = ("Subject: Gr\u00fc\u00dfe\r\nFrom: J\u00fcrgen <j@remote.test>"
           "\r\n\r\nHallo\r\n").encode()
    r.send(f"a APPEND INBOX UTF8 (~{{{len(msg)}+}}\r\n".encode() + msg +
           b")\r\n")
    lines = r.until_tagged("a")
    assert lines[-1].startswith("a OK [APPENDUID "), lines
    r.close()
    assert h.messages(USER) == [msg]


def test_append_bad(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    for bad in ('APPEND INBOX "not a date" {3+}\r\nabc',
                "APPEND INBOX (\\Bogus) {3+}\r\nabc",
                "APPEND INBOX (\\Seen)",
                'APPEND INBOX "07-Feb-1994 22:43:04 -0800"',
                "APPEND INBOX {0+}\r\n",
                "APPEND INBOX abc"):
        lines = r.cmd("x", bad)
        assert lines[-1].startswith("x BAD"), (bad, lines)
    r.close()
    assert h.messages(USER) == []


def test_multiappend(herald_factory):
    h = server(herald_factory)
    r = Raw(h)
    r.login()
    m1, m2, m3 = make_msg(1), make_msg(2), make_msg(3)
    # synchronising literals: each waits for "+ "
    r.send(f"a APPEND INBOX (\\Seen) {{{len(m1)}}}\r\n")
    assert r.line().startswith("+ ")
    r.send(m1 + f' "01-Jan-2020 10:00:00 +0000" {{{len(m2)}}}\r\n'.encode())
    assert r.line().startswith("+ ")
    r.send(m2 + f" (Work) {{{len(m3)}+}}\r\n".encode() + m3 + b"\r\n")
    lines = r.until_tagged("a")
    m = re.match(r"a OK \[APPENDUID (\d+) 1:3\] APPEND completed$",
                 lines[-1])
    assert m, lines
    assert h.messages(USER) == [m1, m2, m3]
    # all or nothing: a bad second message stores none of them
    lines = r.cmd("b", f"APPEND INBOX {{{len(m1)}+}}\r\n".encode().decode()
                  + m1.decode() + " (\\Nope) {3+}\r\nabc")
    assert lines[-1].startswith("b BAD"), lines
    r.close()
    assert len(h.messages(USER)) == 3


def test_multiappend_over_quota_stores_nothing(herald_factory):
    h = herald_factory(listeners=("imap", "smtp"))
    h.add_domain()
    h.cli("user", "add", USER, "--quota", "3K", input=PASSWORD + "\n")
    h.start()
    big = make_msg(1, body_lines=40)        # about 1.3 KB each
    r = Raw(h)
    r.login()
    lines = r.cmd("a", f"APPEND INBOX {{{len(big)}+}}\r\n" + big.decode() +
                  f" {{{len(big)}+}}\r\n" + big.decode() +
                  f" {{{len(big)}+}}\r\n" + big.decode())
    assert lines[-1].startswith("a NO [OVERQUOTA]"), lines
    assert h.messages(USER) == []
    lines = r.cmd("b", f"APPEND INBOX {{{len(big)}+}}\r\n" + big.decode())
    assert lines[-1].startswith("b OK [APPENDUID"), lines
    r.close()


def test_append_limit_refused_before_data(herald_factory):
    h = server(herald_factory, imap="literal_max = 2048")
    r = Raw(h)
    caps = r.login()[-1]
    assert "APPENDLIMIT=2048" in caps, caps
    # a synchronising literal over the limit: NO [TOOBIG] at once, no
    # "+ ", and the client sends no data
    r.send("a APPEND INBOX {4096}\r\n")
    ln = r.line()
    assert ln.startswith("a NO [TOOBIG]"), ln
    lines = r.cmd("b", "NOOP")
    assert lines[-1] == "b OK NOOP completed", lines
    msg = b"Subject: x\r\n\r\n" + b"y" * 1900 + b"\r\n"
    lines = r.cmd("c", f"APPEND INBOX {{{len(msg)}+}}\r\n" + msg.decode())
    assert lines[-1].startswith("c OK [APPENDUID"), lines
    r.close()
    assert h.messages(USER) == [msg]


def test_append_capabilities(herald_factory):
    h = server(herald_factory)
    c = login(h)
    typ, data = c.capability()      # after login: the full list
    caps = data[0].decode().split()
    for word in ("UIDPLUS", "MOVE", "MULTIAPPEND"):
        assert word in caps, caps
    assert any(w.startswith("APPENDLIMIT=") for w in caps), caps
    c.logout()


@contextlib.contextmanager
def writes_held(h):
    """Holds the database's write lock: the server's writer waits for it
    (busy_timeout), so an APPEND handed to the group commit stays there
    until the block ends."""
    db = h.db()
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        db.rollback()
        db.close()


def test_append_client_gone_while_committing(herald_factory):
    """The client closes the connection while its APPEND waits for the
    commit: the message is stored once (it was handed to the store), the
    session is freed only after the commit's callback, and the server
    serves the next client (the sanitizer report is checked at stop)."""
    h = server(herald_factory)
    msgs = [make_msg(i) for i in range(1, 4)]
    conns = []
    for _ in msgs:
        r = Raw(h)
        r.login()
        conns.append(r)
    with writes_held(h):
        for i, (r, msg) in enumerate(zip(conns, msgs)):
            r.send(f"a APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg +
                   b"\r\n")
            time.sleep(0.3)     # read and handed to the writer
            if i == 1:
                # a reset, not a FIN: nothing can be written any more
                r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  struct.pack("ii", 1, 0))
            r.close()
        time.sleep(0.2)
        assert h.messages(USER) == []
    deadline = time.monotonic() + 10
    while len(h.messages(USER)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h.messages(USER) == msgs
    c = login(h)
    typ, data = c.select("INBOX")
    assert typ == "OK" and data[0] == b"3", data
    typ, data = c.append("INBOX", None, None, make_msg(4))
    assert typ == "OK", data
    c.logout()


def test_append_reply_after_half_close(herald_factory):
    """A client that sends its APPEND and then shuts down its side (EOF)
    still gets the OK, once the message is durable, and then the
    server's close."""
    h = server(herald_factory)
    msg = make_msg(1)
    r = Raw(h)
    r.login()
    with writes_held(h):
        r.send(f"a APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg +
               b"\r\n")
        r.sock.shutdown(socket.SHUT_WR)
        time.sleep(0.3)
    lines = []
    while True:
        ln = r.line()
        if ln == "":
            break
        lines.append(ln)
    r.close()
    assert len(lines) == 1 and lines[0].startswith("a OK [APPENDUID "), \
        lines
    assert h.messages(USER) == [msg]


def test_append_big_and_many(herald_factory):
    """A message over the store's inline size (kept as a file) and a
    MULTIAPPEND of small ones over 256 KiB in all, then the same
    MULTIAPPEND into a missing mailbox: the answers and the bytes kept."""
    h = server(herald_factory)
    big = make_msg(1, body=("x" * 998 + "\r\n") * 300)     # 300 KB
    r = Raw(h)
    r.login()
    lines = r.cmd("a", f"APPEND INBOX {{{len(big)}+}}\r\n" + big.decode())
    assert re.match(r"a OK \[APPENDUID \d+ 1\] APPEND completed$",
                    lines[-1]), lines
    smalls = [make_msg(i, body=("y%d line\r\n" % i) * 7000)
              for i in range(2, 7)]     # 63 KB each
    cmd = "APPEND INBOX" + "".join(f" {{{len(m)}+}}\r\n" + m.decode()
                                   for m in smalls)
    lines = r.cmd("b", cmd)
    assert re.match(r"b OK \[APPENDUID \d+ 2:6\] APPEND completed$",
                    lines[-1]), lines
    # and a failure there: the whole MULTIAPPEND into a missing mailbox
    lines = r.cmd("c", cmd.replace("INBOX", "Nowhere", 1))
    assert lines[-1].startswith("c NO [TRYCREATE]"), lines
    r.close()
    assert h.messages(USER) == [big] + smalls


def test_kill9_during_appends(herald_factory):
    """kill -9 of the server during 10 clients' APPENDs: every APPEND
    that got OK is there after restart, exactly once."""
    h = server(herald_factory, listeners=("imap",), workers=2)
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def client(n):
        try:
            c = login(h)
        except (OSError, imaplib.IMAP4.error):
            return
        i = 0
        while not stop.is_set():
            token = f"client{n}-msg{i}"
            body = (f"Subject: {token}\r\n\r\n" + (token + "\r\n") * 40 +
                    "END " + token + "\r\n").encode()
            try:
                typ, _ = c.append("INBOX", None, None, body)
            except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
                return
            if typ == "OK":
                with lock:
                    acked.append(body)
            i += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True)
               for n in range(10)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            if len(acked) > 100:
                break
        time.sleep(0.02)
    time.sleep(0.05)
    h.kill9()
    stop.set()
    for t in threads:       # each call is bounded by imaplib's timeout
        t.join(40)
    assert not any(t.is_alive() for t in threads), "a client thread hangs"
    with lock:
        acked_now = list(acked)
    assert len(acked_now) > 100, "too few APPENDs got through"
    h.start()
    stored = h.messages(USER)       # checks every blob's size
    counts = {}
    for raw in stored:
        counts[raw] = counts.get(raw, 0) + 1
    for body in acked_now:
        assert counts.get(body) == 1, \
            f"{body[:30]!r} stored {counts.get(body, 0)} times"
    # nothing half-written: every stored message is whole
    for raw in stored:
        token = raw.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0]
        assert raw.endswith(b"END " + token + b"\r\n")
    # and the server serves them
    c = login(h)
    typ, data = c.select("INBOX")
    assert int(data[0]) == len(stored)
    c.logout()
