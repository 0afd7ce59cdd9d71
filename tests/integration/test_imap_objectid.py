"""IMAP OBJECTID (RFC 8474, issue 13 item 2): MAILBOXID in CREATE's OK,
SELECT/EXAMINE and STATUS; EMAILID and THREADID in FETCH and SEARCH; the
ids are the store's (the ones JMAP uses), unchanged by RENAME, and an
email's ids follow it through MOVE and COPY."""
import re

from imap_util import Raw, login, make_msg, ok, server

OBJID = re.compile(rb"^[A-Za-z0-9_-]{1,255}$")


def fetch_ids(c, uid_set="1:*"):
    """{uid: (emailid, threadid)} by UID FETCH."""
    out = {}
    for line in ok(c.uid("FETCH", uid_set, "(EMAILID THREADID)")):
        m = re.search(rb"UID (\d+)", line)
        e = re.search(rb"EMAILID \(([^)]*)\)", line)
        t = re.search(rb"THREADID \(([^)]*)\)", line)
        assert m and e and t, line
        assert OBJID.match(e.group(1)) and OBJID.match(t.group(1)), line
        out[int(m.group(1))] = (e.group(1), t.group(1))
    return out


def status_id(c, name):
    data = ok(c.status(name, "(MAILBOXID)"))
    m = re.search(rb"\(MAILBOXID \(([^)]*)\)\)", data[0])
    assert m, data
    return m.group(1)


def test_capability_after_login(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    r = Raw(h)
    assert "OBJECTID" not in r.cmd("a", "CAPABILITY")[0].split()
    r.login()
    assert "OBJECTID" in r.cmd("b", "CAPABILITY")[0].split()
    r.close()


def test_mailboxid_create_select_status_rename(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    typ, data = c.create("Projects")
    assert typ == "OK", data
    m = re.match(rb"\[MAILBOXID \(([A-Za-z0-9_-]+)\)\] ", data[0])
    assert m, data
    mid = m.group(1)
    assert status_id(c, "Projects") == mid
    ok(c.select("Projects"))
    assert c.response("MAILBOXID")[1] == [b"(" + mid + b")"]
    ok(c.close())
    ok(c.select("Projects", readonly=True))
    assert c.response("MAILBOXID")[1] == [b"(" + mid + b")"]
    ok(c.close())
    # another mailbox has another id; STATUS mixes it with other items
    inbox = status_id(c, "INBOX")
    assert inbox != mid
    data = ok(c.status("INBOX", "(MESSAGES MAILBOXID UIDNEXT)"))
    assert re.search(rb"\(MESSAGES 0 MAILBOXID \(" + inbox +
                     rb"\) UIDNEXT 1\)", data[0]), data
    # RENAME keeps the id (RFC 8474 4)
    ok(c.rename("Projects", "Archive/Projects"))
    assert status_id(c, "Archive/Projects") == mid
    ok(c.select("Archive/Projects"))
    assert c.response("MAILBOXID")[1] == [b"(" + mid + b")"]
    c.logout()


def test_emailid_threadid_fetch_move_copy(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    for i in range(1, 4):
        ok(c.append("INBOX", None, None, make_msg(i)))
    ok(c.select("INBOX"))
    ids = fetch_ids(c)
    assert sorted(ids) == [1, 2, 3]
    # one email, one id; each appended message is its own email
    assert len({e for e, _ in ids.values()}) == 3
    # FETCH without UID, EMAILID alone
    data = ok(c.fetch("2", "(EMAILID)"))
    assert data == [b"2 (EMAILID (" + ids[2][0] + b"))"], data
    # MOVE and COPY keep EMAILID and THREADID (RFC 8474 5.1)
    ok(c.uid("MOVE", "2", "Archive"))
    ok(c.uid("COPY", "3", "Archive"))
    ok(c.select("Archive"))
    moved = fetch_ids(c)
    assert sorted(moved.values()) == sorted([ids[2], ids[3]])
    c.logout()


def test_search_emailid_threadid(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    for i in range(1, 6):
        ok(c.append("INBOX", None, None, make_msg(i)))
    ok(c.select("INBOX"))
    ids = fetch_ids(c)
    e4, t4 = ids[4]
    assert ok(c.search(None, "EMAILID", e4)) == [b"4"]
    assert ok(c.uid("SEARCH", "THREADID", t4)) == [b"4"]
    assert ok(c.search(None, "NOT", "EMAILID", e4)) == [b"1 2 3 5"]
    assert ok(c.search(None, "OR", "EMAILID", ids[1][0], "THREADID",
                       ids[5][1])) == [b"1 5"]
    # a well-formed id no message has
    assert ok(c.search(None, "EMAILID", "Enotanid")) == [b""]
    # ids are case-sensitive
    if e4.swapcase() != e4:
        assert ok(c.search(None, "EMAILID", e4.swapcase())) == [b""]
    c.logout()
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    for bad in ("EMAILID", 'EMAILID "a b"', "EMAILID a.b", "THREADID (x)",
                "EMAILID " + "a" * 256):
        lines = r.cmd("t", "SEARCH " + bad)
        assert lines[-1].startswith("t BAD"), (bad, lines)
    r.close()
