"""IMAP UIDONLY (RFC 9586, issue 13 item 9): ENABLE UIDONLY, then BAD
[UIDREQUIRED] for every command or search key with message numbers,
UIDFETCH instead of FETCH, VANISHED instead of EXPUNGE (with or without
QRESYNC), and the CLIENT-QUIRKS case of a client that enables UIDONLY and
still sends a sequence-number FETCH (Office 365, mox #388)."""
import imaplib
import re

from imap_util import Raw, USER, login, make_msg, ok, server


def start(herald_factory, n=6, gone=(1, 3)):
    """n messages in INBOX with the UIDs in gone expunged, so that UIDs
    and sequence numbers differ; a Raw client logged in."""
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    for i in range(1, n + 1):
        ok(c.append("INBOX", None, None, make_msg(i)))
    if gone:
        ok(c.select("INBOX"))
        ok(c.uid("STORE", ",".join(map(str, gone)), "+FLAGS.SILENT",
                 "(\\Deleted)"))
        ok(c.expunge())
    c.logout()
    r = Raw(h)
    r.login()
    return h, r


def enable_select(r, extra=""):
    lines = r.cmd("e", f"ENABLE UIDONLY{extra}")
    assert lines[-1] == "e OK ENABLE completed", lines
    assert lines[0].startswith("* ENABLED") and "UIDONLY" in lines[0], lines
    lines = r.cmd("s", "SELECT INBOX")
    assert lines[-1].startswith("s OK"), lines
    return lines


def test_advertised_and_enabled(herald_factory):
    h, r = start(herald_factory, n=1, gone=())
    lines = r.cmd("c", "CAPABILITY")
    assert "UIDONLY" in lines[0].split(), lines
    lines = r.cmd("e", "ENABLE UIDONLY")
    assert lines == ["* ENABLED UIDONLY", "e OK ENABLE completed"], lines
    # twice: nothing new to enable
    assert r.cmd("f", "ENABLE UIDONLY")[0] == "* ENABLED"
    r.close()


def test_capabilities_hide_uidonly(herald_factory):
    """The admin switch of CLIENT-QUIRKS: the word can be hidden."""
    h = server(herald_factory, listeners=("imap",),
               imap="capabilities_hide = UIDONLY")
    r = Raw(h)
    lines = r.login()
    assert "UIDONLY" not in lines[-1], lines
    assert "UIDONLY" not in r.cmd("c", "CAPABILITY")[0]
    r.close()


def test_quirk_sequence_fetch_after_enable(herald_factory):
    """CLIENT-QUIRKS (mox #388): a client ENABLEs UIDONLY, then sends
    FETCH with sequence numbers. RFC 9586 3 decides: tagged BAD with
    [UIDREQUIRED], nothing fetched or changed, and the session goes on."""
    h, _ = start(herald_factory)
    c = login(h)
    typ, data = c._simple_command("ENABLE", "UIDONLY")
    assert typ == "OK", data
    assert c.untagged_responses.pop("ENABLED") == [b"UIDONLY"]
    ok(c.select("INBOX"))
    try:
        c.fetch("1:*", "(BODY[])")
    except imaplib.IMAP4.error as e:
        assert "UIDREQUIRED" in str(e), e
    else:
        raise AssertionError("FETCH with sequence numbers was not BAD")
    assert "FETCH" not in c.untagged_responses
    # the body items would have set \Seen: nothing was read
    typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK", data
    # imaplib files "* uid UIDFETCH (...)" under UIDFETCH, not FETCH
    got = c.untagged_responses.pop("UIDFETCH")
    assert len(got) == 4 and all(b"\\Seen" not in d for d in got), got
    c.logout()


def test_sequence_commands_bad(herald_factory):
    h, r = start(herald_factory)
    enable_select(r)
    for text in ("FETCH 1 (FLAGS)", "FETCH 1:* (UID)",
                 "STORE 1 +FLAGS (\\Flagged)", "COPY 1 Archive",
                 "MOVE 1 Archive", "SEARCH ALL", "SEARCH RETURN (ALL) 1",
                 "SORT (DATE) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL",
                 # message numbers inside a UID command's search program
                 "UID SEARCH 1", "UID SEARCH NOT 2:*",
                 "UID SEARCH OR UID 2 1:3", "UID SORT (DATE) UTF-8 1",
                 "UID THREAD ORDEREDSUBJECT UTF-8 1:*",
                 # REPLACE (RFC 8508) takes a message number too
                 "REPLACE 1 INBOX {14+}\r\nSubject: x\r\n\r\n"):
        lines = r.cmd("b", text)
        assert lines[-1].startswith("b BAD [UIDREQUIRED] "), (text, lines)
        assert not [x for x in lines if x.startswith("* ")], (text, lines)
    # nothing moved, copied or flagged
    lines = r.cmd("k", "STATUS Archive (MESSAGES)")
    assert lines[0].endswith("(MESSAGES 0)"), lines
    lines = r.cmd("f", "UID FETCH 1:* (FLAGS)")
    assert "\\Flagged" not in " ".join(lines), lines
    # UID sets with "*" and "$" are fine
    lines = r.cmd("u", "UID SEARCH RETURN (SAVE) UID 2:*")
    assert lines[-1].startswith("u OK"), lines
    lines = r.cmd("v", "UID SEARCH $")
    assert lines[0] == "* SEARCH 2 4 5 6", lines
    lines = r.cmd("w", "UID SORT (ARRIVAL) UTF-8 UID 4:*")
    assert lines[0] == "* SORT 4 5 6", lines
    # EXPUNGE has no numbers in it: allowed
    assert r.cmd("x", "EXPUNGE")[-1].startswith("x OK")
    # UID REPLACE: the old message goes as VANISHED
    lines = r.cmd("r", "UID REPLACE 6 INBOX {14+}\r\nSubject: x\r\n\r\n")
    assert lines[-1] == "r OK UID REPLACE completed", lines
    assert "* VANISHED 6" in lines, lines
    r.close()


def test_uidfetch_responses(herald_factory):
    h, r = start(herald_factory)
    enable_select(r)
    lines = r.cmd("f", "UID FETCH 1:* (FLAGS)")
    assert lines[:-1] == [f"* {u} UIDFETCH (UID {u} FLAGS ())"
                          for u in (2, 4, 5, 6)], lines
    assert lines[-1] == "f OK UID FETCH completed", lines
    lines = r.cmd("g", "UID FETCH 5 (RFC822.SIZE INTERNALDATE)")
    assert re.match(r"\* 5 UIDFETCH \(UID 5 RFC822\.SIZE \d+ INTERNALDATE ",
                    lines[0]), lines
    # UID STORE answers with UIDFETCH too
    lines = r.cmd("s", "UID STORE 4:5 +FLAGS (\\Flagged)")
    assert lines == ["* 4 UIDFETCH (UID 4 FLAGS (\\Flagged))",
                     "* 5 UIDFETCH (UID 5 FLAGS (\\Flagged))",
                     "s OK UID STORE completed"], lines
    # another session's flag change arrives as UIDFETCH
    c = login(h)
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "6", "+FLAGS", "(\\Answered)"))
    lines = r.cmd("n", "NOOP")
    assert lines == ["* 6 UIDFETCH (UID 6 FLAGS (\\Answered))",
                     "n OK NOOP completed"], lines
    # a delivery still counts in EXISTS (a count, not a number)
    ok(c.append("INBOX", None, None, make_msg(9)))
    lines = r.cmd("n", "NOOP")
    assert lines == ["* 5 EXISTS", "n OK NOOP completed"], lines
    c.logout()
    r.close()


def test_vanished_instead_of_expunge(herald_factory):
    h, r = start(herald_factory)
    enable_select(r)
    r.cmd("d", "UID STORE 2,5 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("x", "EXPUNGE")
    assert lines == ["* VANISHED 2,5", "x OK EXPUNGE completed"], lines
    r.cmd("d", "UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("y", "UID EXPUNGE 4")
    assert lines == ["* VANISHED 4", "y OK UID EXPUNGE completed"], lines
    # another session's expunge, and a MOVE
    c = login(h)
    ok(c.append("INBOX", None, None, make_msg(7)))
    ok(c.append("INBOX", None, None, make_msg(8)))
    lines = r.cmd("n", "NOOP")
    assert lines[0] == "* 3 EXISTS", lines
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "7", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(c.expunge())
    c.logout()
    lines = r.cmd("n", "NOOP")
    assert lines == ["* VANISHED 7", "n OK NOOP completed"], lines
    lines = r.cmd("m", "UID MOVE 8 Archive")
    assert lines[-2:] == ["* VANISHED 8", "m OK MOVE completed"] or \
        (lines[-1].startswith("m OK") and "* VANISHED 8" in lines), lines
    assert not [x for x in lines if x.endswith(" EXPUNGE")], lines
    r.close()


def test_search_results(herald_factory):
    """UID SEARCH answers with UIDs: "* SEARCH" in IMAP4rev1 sessions,
    ESEARCH with UID in IMAP4rev2 and with RETURN."""
    h, r = start(herald_factory)
    enable_select(r)
    lines = r.cmd("a", "UID SEARCH ALL")
    assert lines == ["* SEARCH 2 4 5 6", "a OK UID SEARCH completed"], lines
    lines = r.cmd("b", "UID SEARCH RETURN (MIN MAX COUNT) ALL")
    assert lines[0] == '* ESEARCH (TAG "b") UID MIN 2 MAX 6 COUNT 4', lines
    r.close()
    r = Raw(h)
    r.login()
    enable_select(r, " IMAP4rev2")
    lines = r.cmd("c", "UID SEARCH ALL")
    assert lines[0] == '* ESEARCH (TAG "c") UID ALL 2,4:6', lines
    # no [UNSEEN n] (a message number) in a rev1 SELECT either
    r.close()
    r = Raw(h)
    r.login()
    lines = enable_select(r)
    assert not [x for x in lines if "[UNSEEN" in x], lines
    r.close()


def test_with_condstore_and_qresync(herald_factory):
    """UIDONLY whether or not CONDSTORE / QRESYNC are on: SELECT
    (QRESYNC ...) answers with VANISHED (EARLIER) and UIDFETCH, its
    sequence match data are message numbers (BAD [UIDREQUIRED]), and
    UID FETCH (CHANGEDSINCE) / UID STORE give UIDFETCH with MODSEQ."""
    h, r = start(herald_factory)
    lines = r.cmd("e", "ENABLE QRESYNC UIDONLY")
    assert lines[0] == "* ENABLED QRESYNC UIDONLY", lines
    lines = r.cmd("s", "SELECT INBOX")
    uv = int(re.search(r"UIDVALIDITY (\d+)", " ".join(lines)).group(1))
    ms = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(lines)).group(1))
    r.cmd("d", "UID STORE 2 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("x", "UID EXPUNGE 2")
    assert lines[0] == "* VANISHED 2", lines
    lines = r.cmd("t", "UID STORE 5 +FLAGS (\\Seen)")
    assert re.match(r"\* 5 UIDFETCH \(UID 5 FLAGS \(\\Seen\) "
                    r"MODSEQ \(\d+\)\)$", lines[0]), lines
    lines = r.cmd("q", f"SELECT INBOX (QRESYNC ({uv} {ms} 1:6))")
    assert lines[-1].startswith("q OK"), lines
    assert "* VANISHED (EARLIER) 2" in lines, lines
    fetches = [x for x in lines if "FETCH" in x]
    assert len(fetches) == 1 and re.match(
        r"\* 5 UIDFETCH \(UID 5 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$",
        fetches[0]), lines
    lines = r.cmd("m", f"SELECT INBOX (QRESYNC ({uv} {ms} 1:6 (1:2 4:5)))")
    assert lines[-1].startswith("m BAD [UIDREQUIRED] "), lines
    lines = r.cmd("s", "SELECT INBOX")
    lines = r.cmd("c", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {ms} "
                       f"VANISHED)")
    assert lines[0] == "* VANISHED (EARLIER) 2", lines
    assert re.match(r"\* 5 UIDFETCH \(UID 5 FLAGS \(\\Seen\) "
                    r"MODSEQ \(\d+\)\)$", lines[1]), lines
    r.close()
    # CONDSTORE alone: UIDFETCH with MODSEQ, VANISHED without QRESYNC
    r = Raw(h)
    r.login()
    lines = r.cmd("e", "ENABLE CONDSTORE UIDONLY")
    assert lines[0] == "* ENABLED CONDSTORE UIDONLY", lines
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("f", "UID FETCH 6 (MODSEQ)")
    assert re.match(r"\* 6 UIDFETCH \(UID 6 MODSEQ \(\d+\)\)$",
                    lines[0]), lines
    r.cmd("d", "UID STORE 6 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("x", "EXPUNGE")
    assert lines == ["* VANISHED 6", "x OK EXPUNGE completed"], lines
    r.close()


def test_unauthenticate_forgets_uidonly(herald_factory):
    h, r = start(herald_factory)
    enable_select(r)
    assert r.cmd("u", "UNAUTHENTICATE")[-1].startswith("u OK")
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("f", "FETCH 1 (UID)")
    assert lines == ["* 1 FETCH (UID 2)", "f OK FETCH completed"], lines
    r.close()
