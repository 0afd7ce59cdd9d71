"""PARTIAL (RFC 9394): SEARCH and UID SEARCH RETURN (PARTIAL range) over
a mailbox whose UIDs have gaps, from the start and from the end, past the
end (NIL), with COUNT and SAVE, the errors; and the UID FETCH (PARTIAL)
modifier. Raw lines: imaplib does not parse ESEARCH."""
from imap_util import Raw, login, make_msg, ok, server


def fill_gaps(h):
    """20 messages, then UIDs 2, 4, 6, ..., 20 expunged: 10 left, UIDs
    1, 3, ..., 19, sequence numbers 1..10."""
    c = login(h)
    for i in range(1, 21):
        ok(c.append("INBOX", None, None, make_msg(i)))
    ok(c.select("INBOX"))
    ok(c.uid("STORE", ",".join(str(u) for u in range(2, 21, 2)),
             "+FLAGS.SILENT", "(\\Deleted)"))
    ok(c.expunge())
    assert b"PARTIAL" in ok(c.capability())[0].split()
    c.logout()
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    return r


def one(r, tag, text):
    lines = r.cmd(tag, text)
    assert lines[-1].startswith(f"{tag} OK"), (text, lines)
    return lines[:-1]


def test_search_partial(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    r = fill_gaps(h)
    assert one(r, "a", "UID SEARCH RETURN (PARTIAL 1:3) ALL") == \
        ['* ESEARCH (TAG "a") UID PARTIAL (1:3 1,3,5)']
    # from the end, given in either order
    assert one(r, "b", "UID SEARCH RETURN (PARTIAL -3:-1) ALL") == \
        ['* ESEARCH (TAG "b") UID PARTIAL (-1:-3 15,17,19)']
    assert one(r, "c", "UID SEARCH RETURN (PARTIAL 5:4) UID 5:*") == \
        ['* ESEARCH (TAG "c") UID PARTIAL (4:5 11,13)']
    # past the end, and a window that runs past it
    assert one(r, "d", "UID SEARCH RETURN (PARTIAL 11:20) ALL") == \
        ['* ESEARCH (TAG "d") UID PARTIAL (11:20 NIL)']
    assert one(r, "e", "UID SEARCH RETURN (PARTIAL -9:-100) ALL") == \
        ['* ESEARCH (TAG "e") UID PARTIAL (-9:-100 1,3)']
    # sequence numbers, with COUNT
    assert one(r, "f", "SEARCH RETURN (COUNT PARTIAL 2:4) ALL") == \
        ['* ESEARCH (TAG "f") COUNT 10 PARTIAL (2:4 2:4)']
    # nothing found
    assert one(r, "g", "SEARCH RETURN (PARTIAL 1:10) DELETED") == \
        ['* ESEARCH (TAG "g") PARTIAL (1:10 NIL)']
    # SAVE keeps the page
    assert one(r, "h", "UID SEARCH RETURN (SAVE PARTIAL -1:-2) ALL") == \
        ['* ESEARCH (TAG "h") UID PARTIAL (-1:-2 17,19)']
    lines = one(r, "i", "UID FETCH $ (UID)")
    assert lines == ["* 9 FETCH (UID 17)", "* 10 FETCH (UID 19)"], lines
    for tag, text in (("j", "SEARCH RETURN (PARTIAL 1:5 ALL) ALL"),
                      ("k", "SEARCH RETURN (PARTIAL 0:5) ALL"),
                      ("l", "SEARCH RETURN (PARTIAL 1:-5) ALL"),
                      ("m", "SEARCH RETURN (PARTIAL) ALL"),
                      ("n", "SEARCH RETURN (PARTIAL 1:4294967296) ALL")):
        lines = r.cmd(tag, text)
        assert lines[-1].startswith(f"{tag} BAD"), (text, lines)
    r.close()


def test_fetch_partial(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    r = fill_gaps(h)
    assert one(r, "a", "UID FETCH 1:* (FLAGS) (PARTIAL -1:-3)") == [
        "* 8 FETCH (UID 15 FLAGS ())", "* 9 FETCH (UID 17 FLAGS ())",
        "* 10 FETCH (UID 19 FLAGS ())"]
    assert one(r, "b", "UID FETCH 5:* (UID) (PARTIAL 1:2)") == [
        "* 3 FETCH (UID 5)", "* 4 FETCH (UID 7)"]
    assert one(r, "c", "FETCH 1:* (UID) (PARTIAL 9:100)") == [
        "* 9 FETCH (UID 17)", "* 10 FETCH (UID 19)"]
    assert one(r, "d", "UID FETCH 1:* (UID) (PARTIAL 11:12)") == []
    for tag, text in (("e", "UID FETCH 1:* (UID) (PARTIAL)"),
                      ("f", "UID FETCH 1:* (UID) (PARTIAL 0:1)"),
                      ("g", "UID FETCH 1:* (UID) (PARTIAL 1:2 PARTIAL 1:2)")):
        lines = r.cmd(tag, text)
        assert lines[-1].startswith(f"{tag} BAD"), (text, lines)
    r.close()
