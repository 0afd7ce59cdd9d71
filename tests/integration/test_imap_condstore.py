"""IMAP CONDSTORE (RFC 7162, issue 13 item 1), the part that is built:
ENABLE CONDSTORE, SEARCH MODSEQ, SELECT/EXAMINE [HIGHESTMODSEQ n] and SELECT
(CONDSTORE), the FETCH MODSEQ item and the (CHANGEDSINCE n) modifier,
MODSEQ with the FETCH responses of STORE and of other sessions' flag
changes once CONDSTORE is on. Not advertised yet (STORE UNCHANGEDSINCE
and QRESYNC are not built)."""
import re

from imap_util import Raw, login, make_msg, ok, server


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
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    for i in range(1, n + 1):
        ok(c.append("INBOX", None, None, make_msg(i)))
    c.logout()
    r = Raw(h)
    r.login()
    return h, r


def hms(lines):
    for line in lines:
        m = re.match(r"\* OK \[HIGHESTMODSEQ (\d+)\]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(lines)


def test_not_advertised_yet(herald_factory):
    h, r = start(herald_factory, 0)
    caps = r.cmd("a", "CAPABILITY")[0].split()
    assert "CONDSTORE" not in caps and "QRESYNC" not in caps
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
