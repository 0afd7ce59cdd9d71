"""The small IMAP extensions of issue 13 item 9 that Herald has: WITHIN
(RFC 5032, OLDER and YOUNGER on the internal date, seconds before now),
UNAUTHENTICATE (RFC 8437) and SAVEDATE (RFC 8514, FETCH SAVEDATE and the
SAVED* search keys). Driven by imaplib, raw lines where the exact response matters."""
import datetime
import imaplib
import re
import time

import pytest

from imap_util import (PASSWORD, USER, USER2, Conn, Raw, connect, deliver,
                       login, make_msg, notify, ok, quiet, server)


def test_within_older_younger(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    caps = ok(c.capability())[0].split()
    assert b"WITHIN" in caps, caps
    now = time.time()
    # internal dates: 10 days ago, 2 hours ago, now (no date given)
    for i, age in ((1, 10 * 86400), (2, 7200)):
        ok(c.append("INBOX", None, imaplib.Time2Internaldate(now - age),
                    make_msg(i)))
    ok(c.append("INBOX", None, None, make_msg(3)))
    ok(c.select("INBOX"))

    def search(*keys, uid=False):
        data = ok(c.uid("SEARCH", *keys) if uid else c.search(None, *keys))
        return data[0].split()

    assert search("OLDER", "3600") == [b"1", b"2"]
    assert search("YOUNGER", "3600") == [b"3"]
    assert search("YOUNGER", "86400") == [b"2", b"3"]
    assert search("OLDER", str(9 * 86400)) == [b"1"]
    assert search("OLDER", "4294967295") == []
    assert search("YOUNGER", "4294967295") == [b"1", b"2", b"3"]
    assert search("NOT", "OLDER", "3600") == [b"3"]
    assert search("OR", "OLDER", str(9 * 86400), "YOUNGER", "600") == \
        [b"1", b"3"]
    assert search("YOUNGER", "86400", "OLDER", "600", uid=True) == [b"2"]
    # in SORT too, which shares SEARCH's keys
    data = ok(c.sort("(REVERSE ARRIVAL)", "UTF-8", "YOUNGER", "86400"))
    assert data[0].split() == [b"3", b"2"], data
    c.logout()

    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    for tag, text in (("a", "SEARCH OLDER 0"), ("b", "SEARCH OLDER"),
                      ("c", "SEARCH YOUNGER -5"), ("d", "SEARCH OLDER x"),
                      ("e", "SEARCH YOUNGER 4294967296"),
                      ("f", 'SEARCH OLDER "60"')):
        lines = r.cmd(tag, text)
        assert lines[-1].startswith(f"{tag} BAD"), (text, lines)
    r.close()


def test_unauthenticate_then_another_user_over_tls(herald_factory):
    h = server(herald_factory, users=(USER, USER2))
    deliver(h, USER, make_msg(1, subject="for alice"))
    deliver(h, USER2, make_msg(2, subject="for bob"))
    r = Raw(h, "imaps", tls=True)
    before = r.cmd("a", "CAPABILITY")[0].split()
    assert "UNAUTHENTICATE" not in before
    lines = r.cmd("b", "UNAUTHENTICATE")
    assert lines[-1].startswith("b BAD"), lines
    caps = r.login()[-1]
    assert "UNAUTHENTICATE" in caps, caps
    lines = r.cmd("c", "ENABLE IMAP4rev2")
    assert lines[0] == "* ENABLED IMAP4rev2", lines
    lines = r.cmd("d", "SELECT INBOX")
    assert lines[-1].startswith("d OK [READ-WRITE]"), lines
    lines = r.cmd("e", "STORE 1 +FLAGS (\\Deleted)")
    assert lines[-1].startswith("e OK"), lines
    lines = r.cmd("f", "UNAUTHENTICATE extra")
    assert lines[-1].startswith("f BAD"), lines
    lines = r.cmd("g", "UNAUTHENTICATE")
    assert lines == ["g OK UNAUTHENTICATE completed"], lines
    h.wait_log(f"imap unauthenticate user=<{USER}> rip=127.0.0.1")
    # not authenticated again: no mailbox commands, the pre-login words
    for tag, text in (("h", "SELECT INBOX"), ("i", "FETCH 1 FLAGS"),
                      ("j", "STATUS INBOX (MESSAGES)"), ("k", "NOOP")):
        lines = r.cmd(tag, text)
        want = "OK" if text == "NOOP" else "BAD"
        assert lines[-1].startswith(f"{tag} {want}"), (text, lines)
    caps = r.cmd("l", "CAPABILITY")[0].split()
    assert "AUTH=PLAIN" in caps and "UNAUTHENTICATE" not in caps, caps
    assert "STARTTLS" not in caps, caps      # still over TLS
    # bob on the same connection sees his mail, not alice's
    r.login(USER2)
    lines = r.cmd("m", "SELECT INBOX")
    assert "* 1 EXISTS" in lines, lines
    # ENABLE went with alice: bob's session is IMAP4rev1 (SEARCH, not
    # ESEARCH) until he enables it himself
    lines = r.cmd("n", "SEARCH SUBJECT bob")
    assert lines == ["* SEARCH 1", "n OK SEARCH completed"], lines
    lines = r.cmd("o", "SEARCH SUBJECT alice")
    assert lines == ["* SEARCH", "o OK SEARCH completed"], lines
    r.close()
    # UNAUTHENTICATE left alice's mailbox without expunging
    assert len(h.messages(USER)) == 1


def test_unauthenticate_resets_enabled_notify_and_selection(herald_factory):
    """RFC 8437 3: as if newly connected. CONDSTORE, QRESYNC,
    UTF8=ACCEPT and IMAP4rev2 are off again (ENABLE lists each as newly
    enabled), no MODSEQ in FETCH, EXPUNGE instead of VANISHED, no
    NOTIFY events, no mailbox selected, no saved search result."""
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    for i in (1, 2, 3):
        ok(c.append("INBOX", None, None, make_msg(i)))
    r = Conn(h)
    r.login()
    everything = "ENABLE CONDSTORE QRESYNC UTF8=ACCEPT IMAP4rev2"
    lines = r.cmd("e", everything)
    assert lines[0] == "* ENABLED CONDSTORE QRESYNC UTF8=ACCEPT IMAP4rev2", \
        lines
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("x", "SEARCH RETURN (SAVE) ALL")[-1].startswith("x OK")
    notify(r, "SET (selected (MessageNew MessageExpunge)) "
              "(personal (MessageNew MessageExpunge))")
    assert r.cmd("u", "UNAUTHENTICATE")[-1] == "u OK UNAUTHENTICATE completed"
    # NOTIFY went with the login: another session's change says nothing
    ok(c.create("Lists"))
    ok(c.append("Lists", None, None, make_msg(4)))
    assert quiet(r) == []
    r.login()
    ok(c.append("Lists", None, None, make_msg(5)))
    assert quiet(r) == []
    # no mailbox selected, nothing saved
    lines = r.cmd("f", "FETCH 1 (FLAGS)")
    assert lines[-1].startswith("f BAD"), lines
    r.cmd("s2", "SELECT INBOX")
    lines = r.cmd("f2", "FETCH $ (FLAGS)")
    assert lines == ["f2 OK FETCH completed"], lines
    # CONDSTORE off: no MODSEQ; QRESYNC off: EXPUNGE, not VANISHED
    lines = r.cmd("f3", "FETCH 1 (FLAGS)")
    assert lines == ["* 1 FETCH (FLAGS ())", "f3 OK FETCH completed"], \
        lines
    r.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("x2", "EXPUNGE")
    assert lines == ["* 1 EXPUNGE", "x2 OK EXPUNGE completed"], lines
    # rev1 again (SEARCH, not ESEARCH), and every one of them enabled anew
    lines = r.cmd("s3", "SEARCH ALL")
    assert lines[0] == "* SEARCH 1 2", lines
    assert r.cmd("un", "UNSELECT")[-1].startswith("un OK")
    lines = r.cmd("e2", everything)
    assert lines[0] == "* ENABLED CONDSTORE QRESYNC UTF8=ACCEPT IMAP4rev2", \
        lines
    r.close()
    c.logout()


def test_unauthenticate_frees_the_session_slot(herald_factory):
    h = server(herald_factory, imap="max_sessions_per_user = 1",
               users=(USER, USER2))
    c = login(h)
    other = connect(h)
    with pytest.raises(imaplib.IMAP4.error, match=r"\[LIMIT\]"):
        other.login(USER, PASSWORD)
    # imaplib has no UNAUTHENTICATE of its own: taught here
    imaplib.Commands.setdefault("UNAUTHENTICATE", ("AUTH", "SELECTED"))
    typ, data = c._simple_command("UNAUTHENTICATE")
    assert typ == "OK", data
    c.state = "NONAUTH"
    # alice's slot is free at once; the first connection logs in as bob
    assert other.login(USER, PASSWORD)[0] == "OK"
    assert c.login(USER2, PASSWORD)[0] == "OK"
    assert ok(c.select("INBOX")) == [b"0"]
    c.logout()
    other.logout()


_SAVEDATE = re.compile(rb'SAVEDATE "([^"]+)"')
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def _dates(c, uid, pattern):
    data = ok(c.uid("FETCH", uid, "(UID SAVEDATE INTERNALDATE)"))
    return [datetime.datetime.strptime(m.decode().strip(),
                                       "%d-%b-%Y %H:%M:%S %z")
            for m in pattern.findall(b" ".join(
                d if isinstance(d, bytes) else d[0] for d in data))]


def test_savedate_fetch_and_search(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    caps = ok(c.capability())[0].split()
    assert b"SAVEDATE" in caps, caps
    old = time.time() - 10 * 86400
    ok(c.append("INBOX", None, imaplib.Time2Internaldate(old), make_msg(1)))
    ok(c.select("INBOX"))
    before = time.time()
    saved = _dates(c, "1", _SAVEDATE)
    internal = _dates(c, "1", _INTERNALDATE)
    assert len(saved) == 1 and len(internal) == 1
    # the save date is when the APPEND ran, not the internal date it gave
    assert abs(saved[0].timestamp() - before) < 120, saved
    assert abs(internal[0].timestamp() - old) < 2, internal
    assert saved[0].utcoffset() == datetime.timedelta(0)

    day = saved[0].strftime("%d-%b-%Y")
    old_day = internal[0].strftime("%d-%b-%Y")
    assert ok(c.search(None, "SAVEDON", day)) == [b"1"]
    assert ok(c.search(None, "SAVEDSINCE", day)) == [b"1"]
    assert ok(c.search(None, "SAVEDBEFORE", day)) == [b""]
    assert ok(c.search(None, "SAVEDON", old_day)) == [b""]
    assert ok(c.search(None, "ON", old_day)) == [b"1"]
    assert ok(c.search(None, "SAVEDATESUPPORTED")) == [b"1"]
    assert ok(c.search(None, "NOT", "SAVEDATESUPPORTED")) == [b""]

    # a copy is saved anew in its mailbox (RFC 8514 2): a later save date
    time.sleep(1.1)
    ok(c.copy("1", "Archive"))
    ok(c.select("Archive"))
    copied = _dates(c, "1", _SAVEDATE)
    assert copied[0] > saved[0], (copied, saved)
    assert _dates(c, "1", _INTERNALDATE) == internal
    c.logout()

    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("a", "FETCH 1 (SAVEDATE)")
    assert re.fullmatch(r'\* 1 FETCH \(SAVEDATE "[ 0-9]\d-[A-Z][a-z]{2}-'
                        r'\d{4} \d\d:\d\d:\d\d \+0000"\)', lines[0]), lines
    for tag, text in (("b", "SEARCH SAVEDBEFORE"),
                      ("c", "SEARCH SAVEDON 31-Feb-2026"),
                      ("d", "SEARCH SAVEDSINCE yesterday"),
                      ("e", "FETCH 1 SAVEDATE[]")):
        lines = r.cmd(tag, text)
        assert lines[-1].startswith(f"{tag} BAD"), (text, lines)
    r.close()
