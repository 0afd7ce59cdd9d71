"""INPROGRESS (RFC 9585): a SEARCH whose keys need the store over 4,500
messages runs in slices of 2,000 and, with [imap] inprogress_interval =
0, reports * OK [INPROGRESS ("tag" done total)] between them, before its
results; with the default interval (10 s) a quick SEARCH reports nothing,
nor does one the view decides alone."""
import re

from imap_util import Raw, login, make_msg, ok, server

N = 4500


def fill(r, n):
    for start in range(0, n, 500):
        data = b""
        for i in range(start, min(n, start + 500)):
            m = make_msg(i, subject="needle" if i % 100 == 0 else None)
            data += b" " + f"{{{len(m)}+}}\r\n".encode() + m
        r.send(b"a APPEND INBOX" + data + b"\r\n")
        lines = r.until_tagged("a")
        assert lines[-1].startswith("a OK"), lines[-1][:200]


def test_search_reports_progress(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"),
               imap="inprogress_interval = 0")
    c = login(h)
    assert b"INPROGRESS" in ok(c.capability())[0].split()
    c.logout()
    r = Raw(h)
    r.login()
    fill(r, N)
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("t", "SEARCH TEXT needle")
    assert lines[-1] == "t OK SEARCH completed", lines[-3:]
    progress = [ln for ln in lines if "INPROGRESS" in ln]
    assert progress == [
        '* OK [INPROGRESS ("t" 2000 4500)] Searching',
        '* OK [INPROGRESS ("t" 4000 4500)] Searching'], progress
    # progress comes before the results
    res = [i for i, ln in enumerate(lines) if ln.startswith("* SEARCH")]
    assert res and res[0] > lines.index(progress[-1])
    assert lines[res[0]] == "* SEARCH " + " ".join(
        str(i + 1) for i in range(0, N, 100)), lines[res[0]][:200]
    # decided by the view alone: no slices, no progress
    lines = r.cmd("u", "SEARCH FLAGGED")
    assert not [ln for ln in lines if "INPROGRESS" in ln], lines
    r.close()


def test_no_progress_within_the_interval(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    r = Raw(h)
    r.login()
    fill(r, 2500)
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("t", "UID SEARCH TEXT needle")
    assert lines[-1] == "t OK UID SEARCH completed", lines[-3:]
    assert not [ln for ln in lines if "INPROGRESS" in ln], lines[:3]
    assert re.match(r"\* SEARCH( \d+){25}$", lines[0]), lines[0][:200]
    r.close()
