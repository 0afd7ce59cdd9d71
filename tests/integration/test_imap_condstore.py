"""IMAP CONDSTORE (RFC 7162, issue 13 item 1): advertised after login;
ENABLE CONDSTORE, SEARCH MODSEQ, SELECT/EXAMINE [HIGHESTMODSEQ n] and SELECT
(CONDSTORE), the FETCH MODSEQ item and the (CHANGEDSINCE n) modifier,
MODSEQ with the FETCH responses of STORE and of other sessions' flag
changes once CONDSTORE is on, STORE (UNCHANGEDSINCE n) with [MODIFIED]."""
import re

from imap_util import Raw, raw_with_inbox, login, ok, server


def modseqs(lines):
    """{uid: modseq} from FETCH response lines."""
    out = {}
    for line in lines:
        m = re.search(r"UID (\d+)", line)
        q = re.search(r"MODSEQ \((\d+)\)", line)
        if m and q:
            out[int(m.group(1))] = int(q.group(1))
    return out


def start(herald_factory, n=5):
    return raw_with_inbox(herald_factory, n)


def hms(lines):
    for line in lines:
        m = re.match(r"\* OK \[HIGHESTMODSEQ (\d+)\]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(lines)


def test_advertised_after_login(herald_factory):
    """RFC 7162 3.1, 3.2: both words once logged in (not before: every
    command that uses them needs a login), and an admin may hide them
    ([imap] capabilities_hide)."""
    h = server(herald_factory, listeners=("imap", "smtp"))
    r = Raw(h)
    assert "CONDSTORE" not in r.greeting and "QRESYNC" not in r.greeting
    r.login()
    caps = r.cmd("a", "CAPABILITY")[0].split()
    assert "CONDSTORE" in caps and "QRESYNC" in caps, caps
    r.close()
    h.stop()
    h = server(herald_factory, listeners=("imap", "smtp"),
               imap="capabilities_hide = QRESYNC")
    r = Raw(h)
    r.login()
    caps = r.cmd("a", "CAPABILITY")[0].split()
    assert "CONDSTORE" in caps and "QRESYNC" not in caps, caps
    r.close()


def test_select_highestmodseq_and_fetch_modseq(herald_factory):
    h, r = start(herald_factory)
    lines = r.cmd("s", "SELECT INBOX")
    top = hms(lines)
    st = r.cmd("t", "STATUS INBOX (HIGHESTMODSEQ)")
    assert st[0] == f"* STATUS INBOX (HIGHESTMODSEQ {top})", st
    lines = r.cmd("f", "UID FETCH 1:* (MODSEQ)")
    ms = modseqs(lines)
    assert sorted(ms) == [1, 2, 3, 4, 5], lines
    assert max(ms.values()) == top
    assert all(re.match(r"\* \d+ FETCH \(UID \d+ MODSEQ \(\d+\)\)$", x)
               for x in lines[:-1]), lines
    # MODSEQ turned CONDSTORE on: STORE's FETCH carries it
    lines = r.cmd("w", "STORE 2 +FLAGS (\\Flagged)")
    assert re.match(r"\* 2 FETCH \(FLAGS \(\\Flagged\) MODSEQ \((\d+)\)\)$",
                    lines[0]), lines
    new = int(re.search(r"MODSEQ \((\d+)\)", lines[0]).group(1))
    assert new > top
    # CHANGEDSINCE: only the message changed since, with MODSEQ
    lines = r.cmd("c", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {top})")
    assert lines[:-1] == [f"* 2 FETCH (UID 2 FLAGS (\\Flagged) "
                          f"MODSEQ ({new}))"], lines
    assert lines[-1].startswith("c OK"), lines
    lines = r.cmd("d", f"FETCH 1:* (UID) (CHANGEDSINCE {new})")
    assert lines == ["d OK FETCH completed"], lines
    r.close()


def test_enable_and_select_param(herald_factory):
    h, r = start(herald_factory, 2)
    assert r.cmd("e", "ENABLE CONDSTORE")[0] == "* ENABLED CONDSTORE"
    assert r.cmd("e2", "ENABLE CONDSTORE")[0] == "* ENABLED"
    r.close()
    r = Raw(h)
    r.login()
    lines = r.cmd("s", "SELECT INBOX (CONDSTORE)")
    assert lines[-1].startswith("s OK"), lines
    hms(lines)
    # another session's change reaches this one with MODSEQ
    c = login(h)
    ok(c.select("INBOX"))
    ok(c.store("1", "+FLAGS", "(\\Seen)"))
    c.logout()
    lines = r.cmd("n", "NOOP")
    assert any(re.match(r"\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) "
                        r"MODSEQ \(\d+\)\)$", x) for x in lines), lines
    r.close()


def test_bad_syntax(herald_factory):
    h, r = start(herald_factory, 2)
    r.cmd("s", "SELECT INBOX")
    for bad in ("FETCH 1 (FLAGS) (CHANGEDSINCE 0)",
                "FETCH 1 (FLAGS) (CHANGEDSINCE)",
                "FETCH 1 (FLAGS) (CHANGEDSINCE x)",
                "FETCH 1 (FLAGS) ()",
                "FETCH 1 (FLAGS) (FOO 1)",
                "UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)",
                "FETCH 1 (FLAGS) (CHANGEDSINCE 99999999999999999999)"):
        lines = r.cmd("b", bad)
        assert lines[-1].startswith("b BAD"), (bad, lines)
    for bad in ("SELECT INBOX (FOO)", "SELECT INBOX CONDSTORE",
                "EXAMINE INBOX ()"):
        lines = r.cmd("x", bad)
        assert lines[-1].startswith("x BAD"), (bad, lines)
    r.close()


def test_search_modseq(herald_factory):
    h, r = start(herald_factory)
    top = hms(r.cmd("s", "SELECT INBOX"))
    lines = r.cmd("w", "STORE 2,4 +FLAGS (\\Flagged)")
    assert lines[-1].startswith("w OK"), lines
    lines = r.cmd("m", "UID FETCH 2,4 (MODSEQ)")
    ms = modseqs(lines)
    new = max(ms.values())
    assert new > top
    lines = r.cmd("a", f"SEARCH MODSEQ {top + 1}")
    assert lines[0] == f"* SEARCH 2 4 (MODSEQ {new})", lines
    lines = r.cmd("b", f'UID SEARCH MODSEQ "/flags/\\\\flagged" all '
                       f'{top + 1}')
    assert lines[0] == f"* SEARCH 2 4 (MODSEQ {new})", lines
    # nothing found: no MODSEQ
    lines = r.cmd("c", f"SEARCH MODSEQ {new + 1}")
    assert lines[0] == "* SEARCH", lines
    # 0 is a valid mod-sequence-valzer: every message
    lines = r.cmd("d", "SEARCH MODSEQ 0 NOT FLAGGED")
    assert re.match(r"\* SEARCH 1 3 5 \(MODSEQ \d+\)$", lines[0]), lines
    lines = r.cmd("e", f"SEARCH RETURN (MIN COUNT) MODSEQ {top + 1}")
    assert lines[0] == (f'* ESEARCH (TAG "e") MIN 2 COUNT 2 '
                        f'MODSEQ {new}'), lines
    for bad in ("SEARCH MODSEQ", "SEARCH MODSEQ x",
                'SEARCH MODSEQ "/flags/\\\\seen" 5',
                'SEARCH MODSEQ "/flags/\\\\seen" private 5',
                'SEARCH MODSEQ "/other" all 5',
                "SEARCH MODSEQ 99999999999999999999"):
        lines = r.cmd("x", bad)
        assert lines[-1].startswith("x BAD"), (bad, lines)
    r.close()


def test_store_unchangedsince(herald_factory):
    h, r = start(herald_factory)
    top = hms(r.cmd("s", "SELECT INBOX"))
    # another session changes message 1 after this one read top
    c = login(h)
    ok(c.select("INBOX"))
    ok(c.store("1", "+FLAGS", "(\\Answered)"))
    c.logout()
    lines = r.cmd("w", f"STORE 1:3 (UNCHANGEDSINCE {top}) +FLAGS "
                       f"(\\Flagged)")
    assert lines[-1] == ("w OK [MODIFIED 1] Conditional STORE failed "
                         "for some messages"), lines
    fl = [x for x in lines if re.match(r"\* [23] FETCH", x)]
    assert len(fl) == 2, lines
    for x in fl:
        assert re.match(r"\* [23] FETCH \(FLAGS \(\\Flagged\) "
                        r"MODSEQ \(\d+\)\)$", x), lines
    # message 1 kept its flags: only \Answered
    lines = r.cmd("f", "FETCH 1 (FLAGS)")
    assert re.match(r"\* 1 FETCH \(FLAGS \(\\Answered\)[ )]", lines[0]), lines
    # UNCHANGEDSINCE 0 fails for every message; UID STORE names UIDs
    lines = r.cmd("z", "UID STORE 4,5 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)")
    assert lines == ["z OK [MODIFIED 4:5] Conditional UID STORE failed "
                     "for some messages"], lines
    lines = r.cmd("g", "FETCH 4:5 (FLAGS)")
    assert all("\\Seen" not in x for x in lines), lines
    # .SILENT in a CONDSTORE session: no FLAGS, but the new MODSEQ
    lines = r.cmd("q", f"UID STORE 4 (UNCHANGEDSINCE {top}) +FLAGS.SILENT "
                       f"(\\Seen)")
    assert re.match(r"\* 4 FETCH \(UID 4 MODSEQ \(\d+\)\)$", lines[0]), lines
    assert lines[-1] == "q OK UID STORE completed", lines
    for bad in ("STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)",
                "STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)",
                "STORE 1 () +FLAGS (\\Seen)",
                "STORE 1 (FOO 1) +FLAGS (\\Seen)",
                "STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) +FLAGS x",
                "STORE 1 (UNCHANGEDSINCE 1) +FLAGS",
                "STORE 1 (UNCHANGEDSINCE 99999999999999999999) FLAGS x"):
        lines = r.cmd("x", bad)
        assert lines[-1].startswith("x BAD"), (bad, lines)
    r.close()


def test_store_unchangedsince_race(herald_factory):
    """Two sessions store on one message with the same UNCHANGEDSINCE at
    once, many times: the store checks in its write, so exactly one wins
    each round."""
    import threading
    h, a = start(herald_factory, 1)
    b = Raw(h)
    b.login()
    a.cmd("s", "SELECT INBOX")
    b.cmd("s", "SELECT INBOX")
    for rnd in range(10):
        top = hms(a.cmd("s", "SELECT INBOX"))
        b.cmd("s", "SELECT INBOX")
        out = {}
        kw = [f"$a{rnd}", f"$b{rnd}"]

        def go(name, r, k):
            out[name] = r.cmd("w", f"UID STORE 1 (UNCHANGEDSINCE {top}) "
                                   f"+FLAGS ({k})")[-1]
        ts = [threading.Thread(target=go, args=("a", a, kw[0])),
              threading.Thread(target=go, args=("b", b, kw[1]))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        won = [n for n, v in out.items() if v == "w OK UID STORE completed"]
        lost = [n for n, v in out.items() if v.startswith("w OK [MODIFIED 1]")]
        assert len(won) == 1 and len(lost) == 1, out
        flags = a.cmd("f", "UID FETCH 1 (FLAGS)")[0]
        k_won = kw[0] if won == ["a"] else kw[1]
        k_lost = kw[1] if won == ["a"] else kw[0]
        assert k_won in flags and k_lost not in flags, (out, flags)
    a.close()
    b.close()


def test_sort_modseq(herald_factory):
    h, r = start(herald_factory)
    top = hms(r.cmd("s", "SELECT INBOX"))
    r.cmd("w", "STORE 2,4 +FLAGS (\\Flagged)")
    new = max(modseqs(r.cmd("m", "UID FETCH 2,4 (MODSEQ)")).values())
    lines = r.cmd("a", f"SORT (ARRIVAL) UTF-8 MODSEQ {top + 1}")
    assert lines[0] == f"* SORT 2 4 (MODSEQ {new})", lines
    lines = r.cmd("b", f"UID SORT RETURN (COUNT) (ARRIVAL) UTF-8 "
                       f"MODSEQ {top + 1}")
    assert lines[0] == f'* ESEARCH (TAG "b") UID COUNT 2 MODSEQ {new}', \
        lines
    # nothing found, or no MODSEQ criterion: no MODSEQ
    lines = r.cmd("c", f"SORT (ARRIVAL) UTF-8 MODSEQ {new + 1}")
    assert lines[0] == "* SORT", lines
    lines = r.cmd("d", "SORT (ARRIVAL) UTF-8 ALL")
    assert lines[0] == "* SORT 1 2 3 4 5", lines
    r.close()
