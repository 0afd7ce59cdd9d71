"""IMAP QRESYNC (RFC 7162 3.2, issue 13 item 1): ENABLE QRESYNC, SELECT
(QRESYNC (uidvalidity modseq known-uids)) with VANISHED (EARLIER) and the
FETCH of what changed, VANISHED instead of EXPUNGE once enabled, and
[CLOSED]; the fallback once the change log is pruned (RFC 7162 3.2.5.2).
Advertised after login (test_imap_condstore.py)."""
import re
import time

from imap_util import Raw, raw_with_inbox, deliver_many, login, make_msg, ok, server


def select_codes(lines):
    out = {}
    for line in lines:
        m = re.match(r"\* OK \[(UIDVALIDITY|HIGHESTMODSEQ) (\d+)\]", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def test_done_when_resync_1000(herald_factory):
    """The issue's done-when: A caches 1,000 messages; B flags 10 and
    expunges 5; A's SELECT (QRESYNC ...) gets exactly those 10 FETCH and
    one VANISHED (EARLIER) for the 5, nothing more."""
    h = server(herald_factory, listeners=("imap", "smtp"))
    deliver_many(h, [make_msg(i) for i in range(1, 1001)])
    a = login(h)
    typ, _ = a.select("INBOX")
    assert typ == "OK"
    uidvalidity = int(a.untagged_responses["UIDVALIDITY"][-1])
    modseq = int(a.untagged_responses["HIGHESTMODSEQ"][-1])
    typ, data = a.uid("SEARCH", "ALL")
    uids = [int(x) for x in data[0].split()]
    assert len(uids) == 1000
    a.logout()

    flagged = uids[100:110]
    gone = uids[500:505]
    b = login(h)
    ok(b.select("INBOX"))
    ok(b.uid("STORE", ",".join(map(str, flagged)), "+FLAGS", "(\\Flagged)"))
    ok(b.uid("STORE", ",".join(map(str, gone)), "+FLAGS", "(\\Deleted)"))
    ok(b.expunge())
    b.logout()

    a = login(h)
    typ, data = a._simple_command("ENABLE", "QRESYNC")
    assert typ == "OK"
    assert a.untagged_responses.pop("ENABLED") == [b"QRESYNC"]
    a.untagged_responses = {}
    typ, data = a._simple_command(
        "SELECT", "INBOX",
        f"(QRESYNC ({uidvalidity} {modseq} {uids[0]}:{uids[-1]}))")
    assert typ == "OK", data
    got = a.untagged_responses
    # imaplib files the response codes of the OKs under their names
    assert set(got) <= {"FLAGS", "EXISTS", "RECENT", "OK", "LIST",
                        "VANISHED", "FETCH", "READ-WRITE", "UIDVALIDITY",
                        "UIDNEXT", "HIGHESTMODSEQ", "MAILBOXID",
                        "PERMANENTFLAGS", "UNSEEN"}, got
    assert got["EXISTS"] == [b"995"], got
    assert got["VANISHED"] == [b"(EARLIER) " + f"{gone[0]}:{gone[-1]}"
                               .encode()], got["VANISHED"]
    fetches = got["FETCH"]
    assert len(fetches) == 10, fetches
    seen = []
    for f in fetches:
        m = re.match(rb"(\d+) \(UID (\d+) FLAGS \(\\Flagged\) "
                     rb"MODSEQ \((\d+)\)\)$", f)
        assert m, f
        uid = int(m.group(2))
        assert int(m.group(1)) == uids.index(uid) + 1  # before the 5 gone
        assert int(m.group(3)) > modseq
        seen.append(uid)
    assert sorted(seen) == flagged
    # the OK lines are SELECT's own codes, nothing else
    for line in got["OK"]:
        assert re.match(rb"\[(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ|MAILBOXID|"
                        rb"PERMANENTFLAGS|UNSEEN) ", line), line
    a.logout()


def start(herald_factory, n=6):
    return raw_with_inbox(herald_factory, n)


def test_select_qresync_known_uids_and_uidvalidity(herald_factory):
    h, r = start(herald_factory)
    # without ENABLE QRESYNC the parameter is BAD (RFC 7162 3.2.5)
    lines = r.cmd("x", "SELECT INBOX (QRESYNC (1 1))")
    assert lines[-1].startswith("x BAD"), lines
    assert r.cmd("e", "ENABLE QRESYNC")[0] == "* ENABLED QRESYNC"
    codes = select_codes(r.cmd("s", "SELECT INBOX"))
    uv, ms = codes["UIDVALIDITY"], codes["HIGHESTMODSEQ"]
    r.cmd("d", "UID STORE 2,3,5 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("w", "UID STORE 4,6 +FLAGS (\\Seen)")
    lines = r.cmd("u", "UID EXPUNGE 2,3,5")
    # VANISHED instead of EXPUNGE
    assert lines == ["* VANISHED 2:3,5", "u OK UID EXPUNGE completed"], \
        lines
    # known-uids 1:4: only 2:3 vanished and 4's FETCH; a SELECT while one
    # is selected says [CLOSED] first
    lines = r.cmd("q", f"SELECT INBOX (QRESYNC ({uv} {ms} 1:4))")
    assert lines[0] == "* OK [CLOSED] Previous mailbox closed", lines
    extra = [x for x in lines if re.match(r"\* (VANISHED|\d+ FETCH)", x)]
    assert extra[0] == "* VANISHED (EARLIER) 2:3", lines
    assert len(extra) == 2, lines
    assert re.match(r"\* 2 FETCH \(UID 4 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$",
                    extra[1]), lines
    # with the seq-match data and no known-uids limit: 4 and 6, 2:3,5
    lines = r.cmd("q", f"EXAMINE INBOX (QRESYNC ({uv} {ms} 1:* "
                       f"(1:3 1,4,6)))")
    extra = [x for x in lines if re.match(r"\* (VANISHED|\d+ FETCH)", x)]
    assert extra[0] == "* VANISHED (EARLIER) 2:3,5", lines
    assert [re.match(r"\* \d+ FETCH \(UID (\d+)", x).group(1)
            for x in extra[1:]] == ["4", "6"], lines
    # another UIDVALIDITY: nothing extra
    lines = r.cmd("v", f"SELECT INBOX (QRESYNC ({uv + 1} {ms}))")
    assert lines[-1].startswith("v OK"), lines
    assert not [x for x in lines if re.match(r"\* (VANISHED|\d+ FETCH)",
                                              x)], lines
    for bad in ("SELECT INBOX (QRESYNC)", "SELECT INBOX (QRESYNC ())",
                "SELECT INBOX (QRESYNC (1))", "SELECT INBOX (QRESYNC (0 1))",
                "SELECT INBOX (QRESYNC (1 0))",
                "SELECT INBOX (QRESYNC (1 1 x))",
                "SELECT INBOX (QRESYNC (1 1 1:2 (1)))",
                "SELECT INBOX (QRESYNC (1 1 1:2 (1 1) 3))",
                "SELECT INBOX (QRESYNC (1 1) QRESYNC (1 1))"):
        lines = r.cmd("x", bad)
        assert lines[-1].startswith("x BAD"), (bad, lines)
    r.close()


def test_vanished_from_other_sessions_and_move(herald_factory):
    h, r = start(herald_factory)
    r.cmd("e", "ENABLE QRESYNC")
    r.cmd("s", "SELECT INBOX")
    c = login(h)
    ok(c.select("INBOX"))
    ok(c.store("1,2", "+FLAGS", "(\\Deleted)"))
    ok(c.expunge())
    c.logout()
    lines = r.cmd("n", "NOOP")
    assert "* VANISHED 1:2" in lines, lines
    assert not [x for x in lines if "EXPUNGE" in x], lines
    r.cmd("c", "CREATE Other")
    lines = r.cmd("m", "UID MOVE 4:5 Other")
    assert "* VANISHED 4:5" in lines, lines
    assert not [x for x in lines if "EXPUNGE" in x], lines
    r.close()


def test_uid_fetch_vanished(herald_factory):
    h, r = start(herald_factory)
    r.cmd("e", "ENABLE QRESYNC")
    ms = select_codes(r.cmd("s", "SELECT INBOX"))["HIGHESTMODSEQ"]
    c = login(h)
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1,3,6", "+FLAGS", "(\\Deleted)"))
    ok(c.expunge())
    ok(c.uid("STORE", "4", "+FLAGS", "(\\Seen)"))
    c.logout()
    lines = r.cmd("n", "NOOP")
    assert "* VANISHED 1,3,6" in lines, lines
    # VANISHED (EARLIER) for the expunged UIDs in the set, then the FETCHes
    lines = r.cmd("f", f"UID FETCH 2:5 (FLAGS) (CHANGEDSINCE {ms} VANISHED)")
    assert lines[0] == "* VANISHED (EARLIER) 3", lines
    assert re.match(r"\* 2 FETCH \(UID 4 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$",
                    lines[1]), lines
    assert lines[2] == "f OK UID FETCH completed", lines
    lines = r.cmd("g", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {ms} VANISHED)")
    assert lines[0] == "* VANISHED (EARLIER) 1,3,6", lines
    assert len(lines) == 3, lines
    for bad in (f"FETCH 1:* (FLAGS) (CHANGEDSINCE {ms} VANISHED)",
                "UID FETCH 1:* (FLAGS) (VANISHED)",
                f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {ms} VANISHED "
                f"VANISHED)"):
        lines = r.cmd("x", bad)
        assert lines[-1].startswith("x BAD"), (bad, lines)
    r.close()


def test_held_vanished_lowers_highestmodseq(herald_factory):
    """RFC 7162 3.2: an expunge held back during a FETCH by number while
    a flag change goes out with its MODSEQ: HIGHESTMODSEQ below the
    expunge's follows, and the VANISHED comes with the next command."""
    h, r = start(herald_factory)
    r.cmd("e", "ENABLE QRESYNC")
    ms = select_codes(r.cmd("s", "SELECT INBOX"))["HIGHESTMODSEQ"]
    c = login(h)
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1", "+FLAGS", "(\\Deleted)"))
    ok(c.expunge())
    ok(c.uid("STORE", "3", "+FLAGS", "(\\Seen)"))
    c.logout()
    lines = r.cmd("f", "FETCH 2 (UID)")
    assert not [x for x in lines if "VANISHED" in x], lines
    fl = [x for x in lines if re.match(r"\* 3 FETCH \(UID 3 FLAGS", x)]
    assert fl and "MODSEQ" in fl[0], lines
    held = [int(m.group(1)) for m in
            (re.match(r"\* OK \[HIGHESTMODSEQ (\d+)\]", x) for x in lines)
            if m]
    assert held and held[-1] <= ms, lines
    lines = r.cmd("n", "NOOP")
    assert "* VANISHED 1" in lines, lines
    # from the lowered mark a reconnect still learns of the expunge
    r.close()
    r = Raw(h)
    r.login()
    r.cmd("e", "ENABLE QRESYNC")
    uv = select_codes(r.cmd("s", "EXAMINE INBOX"))["UIDVALIDITY"]
    lines = r.cmd("q", f"EXAMINE INBOX (QRESYNC ({uv} {held[-1]}))")
    assert "* VANISHED (EARLIER) 1" in lines, lines
    r.close()


def held_marks(lines):
    return [(i, int(m.group(1))) for i, m in
            enumerate(re.match(r"\* OK \[HIGHESTMODSEQ (\d+)\]", x)
                      for x in lines) if m]


def test_held_vanished_fetch_seen_lowers_highestmodseq(herald_factory):
    """RFC 7162 3.2 on FETCH's implicit \\Seen: while an expunge is held
    back (FETCH by number), the \\Seen a FETCH sets goes out with a
    MODSEQ above the expunge's, so a HIGHESTMODSEQ below the expunge's
    follows before the OK; a reconnect from that mark still learns of
    it. Both orders: the expunge found by this FETCH's closing sync, and
    one held since an earlier command."""
    h, r = start(herald_factory)
    r.cmd("e", "ENABLE QRESYNC")
    ms = select_codes(r.cmd("s", "SELECT INBOX"))["HIGHESTMODSEQ"]
    c = login(h)
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1", "+FLAGS", "(\\Deleted)"))
    ok(c.expunge())
    lines = r.cmd("f", "FETCH 2 (BODY[]<0.10>)")
    assert not [x for x in lines if "VANISHED" in x], lines
    fl = [x for x in lines if "FLAGS (\\Seen) MODSEQ (" in x]
    assert len(fl) == 1, lines
    assert int(re.search(r"MODSEQ \((\d+)\)", fl[0]).group(1)) > ms
    held = held_marks(lines)
    assert len(held) == 1, lines
    at, mark = held[0]
    assert mark <= ms, lines
    # after the FETCH response, before the tagged OK
    assert at > lines.index(fl[0]) and lines[-1].startswith("f OK"), lines
    # no MODSEQ out: no such line, the expunge still held
    lines = r.cmd("g", "FETCH 2 (UID)")
    assert not held_marks(lines) and lines[-1].startswith("g OK"), lines
    # another expunge, held by a command without MODSEQ, then a \Seen
    ok(c.uid("STORE", "4", "+FLAGS", "(\\Deleted)"))
    ok(c.expunge())
    c.logout()
    lines = r.cmd("h", "FETCH 2 (UID)")
    assert not held_marks(lines) and lines[-1].startswith("h OK"), lines
    lines = r.cmd("i", "FETCH 3 (BODY[]<0.10>)")
    held = held_marks(lines)
    assert len(held) == 1 and held[0][1] == mark, lines
    assert [x for x in lines if "FLAGS (\\Seen) MODSEQ (" in x], lines
    lines = r.cmd("n", "NOOP")
    assert "* VANISHED 1,4" in lines, lines
    r.close()
    r = Raw(h)
    r.login()
    r.cmd("e", "ENABLE QRESYNC")
    uv = select_codes(r.cmd("s", "EXAMINE INBOX"))["UIDVALIDITY"]
    lines = r.cmd("q", f"EXAMINE INBOX (QRESYNC ({uv} {mark}))")
    assert "* VANISHED (EARLIER) 1,4" in lines, lines
    r.close()


PRUNE = {"store": "change_log_retention = 1s\nblob_gc_interval = 200ms"}


def pruned_start(herald_factory, n=10):
    """A server that prunes the change log after a second; n messages,
    UID 1 expunged; a reader's SELECT state (uidvalidity, modseq) from
    before B expunges UIDs 3, 4 and 7 and flags 5 (expunge_and_prune)."""
    h = server(herald_factory, listeners=("imap", "smtp"), sections=PRUNE)
    c = login(h)
    for i in range(1, n + 1):
        ok(c.append("INBOX", None, None, make_msg(i)))
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1", "+FLAGS", "(\\Deleted)"))
    ok(c.expunge())
    typ, _ = c.select("INBOX")
    assert typ == "OK"
    uv = int(c.untagged_responses["UIDVALIDITY"][-1])
    ms = int(c.untagged_responses["HIGHESTMODSEQ"][-1])
    c.logout()
    return h, uv, ms


def expunge_and_prune(h):
    """B's changes, then a wait until every expunge record is pruned
    (the table says so, the writer logged it)."""
    b = login(h)
    ok(b.select("INBOX"))
    ok(b.uid("STORE", "3:4,7", "+FLAGS", "(\\Deleted)"))
    ok(b.expunge())
    ok(b.uid("STORE", "5", "+FLAGS", "(\\Flagged)"))
    b.logout()
    deadline = time.time() + 20
    while True:
        db = h.db()
        try:
            left = db.execute("SELECT count(*) FROM changes WHERE"
                              " change = 'destroyed'").fetchone()[0]
            horizon = db.execute("SELECT count(*) FROM"
                                 " expunge_horizons").fetchone()[0]
        finally:
            db.close()
        if left == 0 and horizon == 1:
            break
        assert time.time() < deadline, (left, horizon)
        time.sleep(0.2)
    # the writer logs after its commit, which we may have seen first
    assert h.wait_log("store change-log-pruned rows=", 5), h.log()


def test_pruned_log_select_qresync(herald_factory):
    """RFC 7162 3.2.5.2: the expunge records of a client's modseq are
    pruned; SELECT (QRESYNC ...) still names every UID gone (of
    known-uids, or of all below UIDNEXT), and the FETCH of the flag
    change as always. UID 1, gone before the client's modseq, is in the
    answer too (as the RFC allows): the fallback, not the log, spoke."""
    h, uv, ms = pruned_start(herald_factory)
    expunge_and_prune(h)
    r = Raw(h)
    r.login()
    r.cmd("e", "ENABLE QRESYNC")
    for known, vanished in ((" 1:10", "1,3:4,7"), ("", "1,3:4,7"),
                            (" 2:3,5,7:20", "3,7"), (" 5:6,8:10", None)):
        lines = r.cmd("s", f"EXAMINE INBOX (QRESYNC ({uv} {ms}{known}))")
        assert lines[-1].startswith("s OK"), lines
        got = [x for x in lines if "VANISHED" in x]
        if vanished is None:
            assert not got, (known, lines)
        else:
            assert got == [f"* VANISHED (EARLIER) {vanished}"], (known,
                                                                 lines)
        fetches = [x for x in lines if x.startswith("* ") and " FETCH (" in x]
        assert len(fetches) == 1 and "UID 5 " in fetches[0] and \
            "\\Flagged" in fetches[0], (known, lines)
        assert "* 6 EXISTS" in lines, lines
    # from the current HIGHESTMODSEQ nothing is sent
    hms = select_codes(lines)["HIGHESTMODSEQ"]
    lines = r.cmd("t", f"EXAMINE INBOX (QRESYNC ({uv} {hms} 1:10))")
    assert not [x for x in lines if "VANISHED" in x or " FETCH (" in x], \
        lines
    r.close()


def test_pruned_log_uid_fetch_vanished(herald_factory):
    """UID FETCH (CHANGEDSINCE n VANISHED) with n before the pruned
    expunges: VANISHED (EARLIER) with the UIDs of the set gone, then the
    FETCH of what changed."""
    h, uv, ms = pruned_start(herald_factory)
    r = Raw(h)
    r.login()
    r.cmd("e", "ENABLE QRESYNC")
    r.cmd("s", "SELECT INBOX")
    expunge_and_prune(h)
    # the session's own sync first (it sends VANISHED 3:4,7 for its view)
    lines = r.cmd("n", "NOOP")
    assert "* VANISHED 3:4,7" in lines, lines
    lines = r.cmd("f", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {ms} VANISHED)")
    assert lines[-1].startswith("f OK"), lines
    assert lines[0] == "* VANISHED (EARLIER) 1,3:4,7", lines
    fetches = [x for x in lines if x.startswith("* ") and " FETCH (" in x]
    assert len(fetches) == 1 and "UID 5 " in fetches[0], lines
    lines = r.cmd("g", f"UID FETCH 5:6 (FLAGS) (CHANGEDSINCE {ms} VANISHED)")
    assert not [x for x in lines if "VANISHED" in x], lines
    lines = r.cmd("h", f"UID FETCH 2:4 (FLAGS) (CHANGEDSINCE {ms} VANISHED)")
    assert "* VANISHED (EARLIER) 3:4" in lines, lines
    r.close()


def test_pruned_log_live_session(herald_factory):
    """A session whose view is older than the pruned expunges (selected
    before them, silent meanwhile) still learns of them: EXPUNGE in a
    rev1 session without QRESYNC, at the right sequence numbers, and a
    later sync is exact again."""
    h, uv, ms = pruned_start(herald_factory)
    a = login(h)
    ok(a.select("INBOX"))
    expunge_and_prune(h)
    typ, _ = a.noop()
    assert typ == "OK"
    # UIDs 2 3 4 5 6 7 8 9 10 at 1..9: 7, 4, 3 from the highest down
    assert a.untagged_responses.get("EXPUNGE") == [b"6", b"3", b"2"], \
        a.untagged_responses
    a.untagged_responses.clear()
    typ, data = a.uid("SEARCH", "ALL")
    assert data[0].split() == [b"2", b"5", b"6", b"8", b"9", b"10"]
    b = login(h)
    ok(b.select("INBOX"))
    ok(b.uid("STORE", "9", "+FLAGS", "(\\Deleted)"))
    ok(b.expunge())
    b.logout()
    typ, _ = a.noop()
    assert a.untagged_responses.get("EXPUNGE") == [b"5"], \
        a.untagged_responses
    a.logout()
