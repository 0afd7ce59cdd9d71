"""IMAP OBJECTID (RFC 8474, issue 13 item 2): MAILBOXID in CREATE's OK,
SELECT/EXAMINE and STATUS; EMAILID and THREADID in FETCH and SEARCH; the
ids are the store's (the ones JMAP uses), unchanged by RENAME, and an
email's ids follow it through MOVE and COPY."""
import re

from imap_util import USER, USER2, Raw, deliver, login, make_msg, ok, server

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


def reply_msg(i, parent, subject, to=USER):
    """make_msg(i) as a reply to <m{parent}@remote.test>."""
    return make_msg(i, subject=subject, to=to).replace(
        b"\r\nDate:", f"\r\nIn-Reply-To: <m{parent}@remote.test>\r\n"
        f"References: <m{parent}@remote.test>\r\nDate:".encode(), 1)


def test_threadid_is_the_thread(herald_factory):
    """docs/store.md "Threads": a reply delivered over SMTP gets its
    parent's THREADID (same account, same base subject), SEARCH THREADID
    finds both; a reply with another subject, an unrelated message and
    another account's copies get other ids; an APPENDed reply that came
    before its parent shares the parent's."""
    h = server(herald_factory, listeners=("imap", "smtp"),
               users=(USER, USER2))
    deliver(h, USER, make_msg(1, subject="Budget 2027"))
    for rcpt in (USER, USER2):
        deliver(h, rcpt, reply_msg(2, 1, "Re: budget 2027"))
    deliver(h, USER, reply_msg(3, 1, "Re: lunch?"))
    deliver(h, USER, make_msg(4, subject="Budget 2027"))
    c = login(h)
    # a reply APPENDed before its parent arrives
    ok(c.append("INBOX", None, None, reply_msg(5, 6, "Re: Offsite")))
    deliver(h, USER, make_msg(6, subject="Offsite"))
    deliver(h, USER2, make_msg(1, subject="Budget 2027", to=USER2))
    ok(c.select("INBOX"))
    ids = fetch_ids(c)
    assert sorted(ids) == [1, 2, 3, 4, 5, 6]
    t = {uid: tid for uid, (_, tid) in ids.items()}
    assert t[1] == t[2]
    assert len({t[1], t[3], t[4], t[5]}) == 4
    assert t[5] == t[6]
    assert ok(c.uid("SEARCH", "THREADID", t[1])) == [b"1 2"]
    assert ok(c.search(None, "THREADID", t[6])) == [b"5 6"]
    # the emails stay distinct
    assert len({e for e, _ in ids.values()}) == 6
    c.logout()
    # bob's copies thread among themselves, never with alice's
    b = login(h, user=USER2)
    ok(b.select("INBOX"))
    bids = fetch_ids(b)
    assert sorted(bids) == [1, 2]
    assert bids[1][1] == bids[2][1]
    assert bids[1][1] not in t.values()
    b.logout()


def linked_msg(i, subject, irt=None, refs=()):
    """make_msg(i) with In-Reply-To <m{irt}@remote.test> and References
    naming <m{r}@remote.test> for each r in refs."""
    extra = ""
    if irt is not None:
        extra += f"In-Reply-To: <m{irt}@remote.test>\r\n"
    if refs:
        extra += "References: " + " ".join(
            f"<m{r}@remote.test>" for r in refs) + "\r\n"
    return make_msg(i, subject=subject).replace(
        b"\r\nDate:", ("\r\n" + extra + "Date:").encode(), 1)


def fetch_threads_modseqs(c):
    """{uid: (threadid, modseq)}."""
    out = {}
    for line in ok(c.uid("FETCH", "1:*", "(THREADID MODSEQ)")):
        m = re.search(rb"UID (\d+)", line)
        t = re.search(rb"THREADID \(([^)]*)\)", line)
        s = re.search(rb"MODSEQ \((\d+)\)", line)
        assert m and t and s, line
        out[int(m.group(1))] = (t.group(1), int(s.group(1)))
    return out


def test_threadid_linked_threads(herald_factory):
    """docs/store.md "Threads", linked threads: m3 (a reply to m2) comes
    before m2 and starts a thread; m2 (a reply to m1) links m1's thread
    and m3's and joins the older, m1's. THREADID never changes once
    reported (RFC 8474 5.2): m3 keeps its id and its MODSEQ (nothing
    changed for CONDSTORE); m4, a reply to m3 only, joins m1's thread."""
    h = server(herald_factory, listeners=("imap", "smtp"))
    deliver(h, USER, linked_msg(1, "Offsite plan"))
    deliver(h, USER, linked_msg(3, "Re: Offsite plan", irt=2, refs=(2,)))
    c = login(h)
    ok(c.enable("CONDSTORE"))
    ok(c.select("INBOX"))
    before = fetch_threads_modseqs(c)
    assert sorted(before) == [1, 2]
    t1, t3 = before[1][0], before[2][0]
    assert t1 != t3
    # m2 names m1 and is named by m3
    deliver(h, USER, linked_msg(2, "Re: Offsite plan", irt=1, refs=(1,)))
    # m4 names m3 alone; m5 names both sides, m3's first
    deliver(h, USER, linked_msg(4, "Re: Offsite plan", irt=3, refs=(3,)))
    ok(c.append("INBOX", None, None,
                linked_msg(5, "RE: offsite plan", irt=3, refs=(3, 1))))
    after = fetch_threads_modseqs(c)
    assert sorted(after) == [1, 2, 3, 4, 5]
    assert after[1] == before[1] and after[2] == before[2]
    assert after[3][0] == t1 and after[4][0] == t1 and after[5][0] == t1
    assert ok(c.uid("SEARCH", "THREADID", t1)) == [b"1 3 4 5"]
    assert ok(c.uid("SEARCH", "THREADID", t3)) == [b"2"]
    # nothing older than m2's delivery changed
    found = ok(c.uid("SEARCH", "MODSEQ", str(before[2][1] + 1)))
    assert found[0].split(b" (MODSEQ")[0] == b"3 4 5", found
    c.logout()


def test_thread_settings(herald_factory):
    """[store] thread_references_max (docs/config.md): a reply whose
    In-Reply-To names a message that never came and whose References
    name its parent joins the parent's thread by default, and starts its
    own when only one referenced id is looked at."""
    parent = linked_msg(1, "Quarterly numbers")
    reply = linked_msg(2, "Re: Quarterly numbers", irt=9, refs=(1, 9))
    for refs_max, same in ((None, True), (1, False)):
        sections = ({"store": f"thread_references_max = {refs_max}"}
                    if refs_max else None)
        h = server(herald_factory, listeners=("imap", "smtp"),
                   sections=sections)
        deliver(h, USER, parent)
        deliver(h, USER, reply)
        c = login(h)
        ok(c.select("INBOX"))
        ids = fetch_ids(c)
        assert (ids[1][1] == ids[2][1]) is same, (refs_max, ids)
        c.logout()
        h.stop()
