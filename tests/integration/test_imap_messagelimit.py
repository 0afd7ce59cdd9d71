"""MESSAGELIMIT (RFC 9738) with [imap] message_limit = 10 over 25
messages: the capability carries the value; FETCH, SEARCH, STORE, MOVE
and UID EXPUNGE over more messages work on the 10 highest and answer
OK [MESSAGELIMIT 10 uid] with the lowest UID processed (an untagged NO
with the code when the OK has a code of its own, as MOVE's); SEARCH
counts the messages its UID and sequence-set keys leave, so a client
goes on below the lowest UID; COPY of more is NO [MESSAGELIMIT 10] and
copies none (COPY is all or nothing); a set within the limit gets a
plain OK; an APPEND of 11 messages is NO [MESSAGELIMIT 10] and stores
none. UIDAFTER and UIDBEFORE (RFC 9738) narrow SEARCH as a UID set
does; SORT and THREAD over more than the limit are NO [MESSAGELIMIT 10].
Raw lines for the exact responses, imaplib to check."""
import re

from imap_util import Raw, login, make_msg, ok, server

LIMIT = 10


def fill(h, n=25):
    h_ = server(h, listeners=("imap", "smtp"),
                imap=f"message_limit = {LIMIT}")
    c = login(h_)
    for i in range(1, n + 1):
        ok(c.append("INBOX", None, None, make_msg(i)))
    return h_, c


def uids_of(lines):
    return [int(m.group(1)) for ln in lines
            for m in [re.search(r"UID (\d+)", ln)] if m]


def test_capability_fetch_search(herald_factory):
    h, c = fill(herald_factory)
    caps = ok(c.capability())[0].decode().split()
    assert f"MESSAGELIMIT={LIMIT}" in caps, caps
    c.logout()
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("a", "UID FETCH 1:* (UID)")
    assert uids_of(lines[:-1]) == list(range(16, 26)), lines
    assert lines[-1] == "a OK [MESSAGELIMIT 10 16] UID FETCH completed", \
        lines
    lines = r.cmd("b", "FETCH 1:* (UID)")
    assert lines[0] == "* 16 FETCH (UID 16)", lines
    assert lines[-1].startswith("b OK [MESSAGELIMIT 10 16] "), lines
    # the client goes on below the lowest UID it got
    lines = r.cmd("c", "UID FETCH 1:15 (UID)")
    assert uids_of(lines[:-1]) == list(range(6, 16)), lines
    assert lines[-1] == "c OK [MESSAGELIMIT 10 6] UID FETCH completed", \
        lines
    lines = r.cmd("d", "UID FETCH 1:5 (UID)")
    assert uids_of(lines[:-1]) == [1, 2, 3, 4, 5], lines
    assert lines[-1] == "d OK UID FETCH completed", lines
    lines = r.cmd("e", "UID SEARCH ALL")
    assert lines[0] == "* SEARCH " + " ".join(str(u) for u in
                                              range(16, 26)), lines
    assert lines[-1].startswith("e OK [MESSAGELIMIT 10 16] "), lines
    lines = r.cmd("f", "SEARCH RETURN (COUNT) ALL")
    assert lines[0] == '* ESEARCH (TAG "f") COUNT 10', lines
    # SEARCH counts what its UID and sequence-set keys leave: the client
    # goes on below the lowest UID it was answered for, as with FETCH
    lines = r.cmd("g", "UID SEARCH UID 1:15 ALL")
    assert lines[0] == "* SEARCH " + " ".join(str(u) for u in
                                              range(6, 16)), lines
    assert lines[-1] == "g OK [MESSAGELIMIT 10 6] UID SEARCH completed", \
        lines
    lines = r.cmd("h", "UID SEARCH UID 1:5 NOT DELETED")
    assert lines == ["* SEARCH 1 2 3 4 5", "h OK UID SEARCH completed"], \
        lines
    lines = r.cmd("i", "SEARCH 3:22 OR SEEN UNSEEN")
    assert lines[0] == "* SEARCH " + " ".join(str(u) for u in
                                              range(13, 23)), lines
    assert lines[-1] == "i OK [MESSAGELIMIT 10 13] SEARCH completed", lines
    lines = r.cmd("j", "SEARCH RETURN (COUNT) 1:9 ALL")
    assert lines == ['* ESEARCH (TAG "j") COUNT 9', "j OK SEARCH completed"], \
        lines
    r.close()


def test_store_copy_move_expunge(herald_factory):
    h, c = fill(herald_factory)
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("a", "UID STORE 1:* +FLAGS.SILENT (\\Flagged)")
    assert lines[-1] == "a OK [MESSAGELIMIT 10 16] UID STORE completed", \
        lines
    lines = r.cmd("b", "UID FETCH 11:20 (FLAGS)")
    flagged = [u for u, ln in zip(uids_of(lines[:-1]), lines)
               if "\\Flagged" in ln]
    assert flagged == list(range(16, 21)), lines
    # COPY is all or nothing (RFC 9051 6.4.7): refused, nothing copied
    lines = r.cmd("c", "UID COPY 1:* Trash")
    assert lines == ["c NO [MESSAGELIMIT 10] COPY of more than 10 messages"
                     ": nothing copied"], lines
    lines = r.cmd("c2", "UID COPY 16:* Trash")
    assert re.match(r"c2 OK \[COPYUID \d+ 16:25 1:10\]", lines[-1]), lines
    lines = r.cmd("d", "UID MOVE 1:20 Archive")
    assert lines[-1] == "d OK [MESSAGELIMIT 10 11] UID MOVE completed", \
        lines
    assert any(ln.startswith("* OK [COPYUID ") and " 11:20 " in ln
               for ln in lines), lines
    # an OK with a code of its own: the limit comes in an untagged NO
    lines = r.cmd("d2", "UID STORE 1:* (UNCHANGEDSINCE 1) "
                        "+FLAGS.SILENT (\\Seen)")
    assert "* NO [MESSAGELIMIT 10 6] Only the last 10 messages were " \
           "processed" in lines, lines
    assert lines[-1].startswith("d2 OK [MODIFIED "), lines
    lines = r.cmd("e", "UID STORE 1:10 +FLAGS.SILENT (\\Deleted)")
    assert lines[-1] == "e OK UID STORE completed", lines
    lines = r.cmd("f", "UID EXPUNGE 1:5")
    assert lines[-1] == "f OK UID EXPUNGE completed", lines
    r.close()
    ok(c.select("Trash"))
    assert ok(c.search(None, "ALL"))[0].split() == \
        [str(i).encode() for i in range(1, 11)]
    ok(c.select("Archive"))
    assert len(ok(c.search(None, "ALL"))[0].split()) == 10
    ok(c.select("INBOX"))
    left = [int(u) for u in ok(c.uid("SEARCH", "ALL"))[0].split()]
    assert left == list(range(6, 11)) + list(range(21, 26)), left
    c.logout()


def test_append_over_the_limit(herald_factory):
    h, c = fill(herald_factory, n=0)
    r = Raw(h)
    r.login()

    def multiappend(tag, n):
        data = b""
        for i in range(n):
            m = make_msg(100 + i)
            data += b" " + f"{{{len(m)}+}}\r\n".encode() + m
        r.send(f"{tag} APPEND INBOX".encode() + data + b"\r\n")
        return r.until_tagged(tag)

    lines = multiappend("a", LIMIT + 1)
    assert lines[-1].startswith("a NO [MESSAGELIMIT 10] "), lines
    lines = multiappend("b", LIMIT)
    assert re.match(r"b OK \[APPENDUID \d+ 1:10\]", lines[-1]), lines
    r.close()
    ok(c.select("INBOX"))
    assert len(ok(c.search(None, "ALL"))[0].split()) == LIMIT
    c.logout()


def test_fetch_partial(herald_factory):
    """UID FETCH (PARTIAL range) (RFC 9394) counts the messages of its
    range, not of the set: a range within the limit gets those messages
    (not a window of the set's highest ones), a larger range is
    NO [MESSAGELIMIT 10] and fetches nothing."""
    h, c = fill(herald_factory)
    c.logout()
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("a", "UID FETCH 1:* (UID) (PARTIAL 1:5)")
    assert uids_of(lines[:-1]) == [1, 2, 3, 4, 5], lines
    assert lines[-1] == "a OK UID FETCH completed", lines
    lines = r.cmd("b", "UID FETCH 1:* (UID) (PARTIAL -1:-10)")
    assert uids_of(lines[:-1]) == list(range(16, 26)), lines
    assert lines[-1] == "b OK UID FETCH completed", lines
    lines = r.cmd("c", "UID FETCH 1:* (UID) (PARTIAL 3:14)")
    assert lines == ["c NO [MESSAGELIMIT 10] UID FETCH of more than 10 "
                     "messages"], lines
    r.close()


def test_uidafter_uidbefore(herald_factory):
    h, c = fill(herald_factory)
    ok(c.select("INBOX"))
    # imaplib: UID SEARCH and SEARCH with the RFC 9738 keys
    assert ok(c.uid("SEARCH", "UIDAFTER", "20")) == [b"21 22 23 24 25"]
    assert ok(c.uid("SEARCH", "UIDBEFORE", "4")) == [b"1 2 3"]
    assert ok(c.search(None, "UIDAFTER", "3", "UIDBEFORE", "6")) == \
        [b"4 5"]
    assert ok(c.uid("SEARCH", "uidafter", "25")) == [b""]
    assert ok(c.uid("SEARCH", "UIDBEFORE", "9", "NOT", "UIDAFTER",
                    "2")) == [b"1 2"]
    # NOT narrows no scope: the 10 highest are looked at, none matches
    assert ok(c.uid("SEARCH", "NOT", "UIDAFTER", "2")) == [b""]
    for bad in (("UIDAFTER", "0"), ("UIDBEFORE", "0"), ("UIDAFTER", "x"),
                ("UIDAFTER", "*"), ("UIDBEFORE", "1:5"), ("UIDAFTER",),
                ("UIDBEFORE", "4294967296"), ("UIDAFTER", "$")):
        try:
            typ, dat = c.uid("SEARCH", *bad)
        except c.error as e:
            assert "UIDAFTER and UIDBEFORE" in str(e) or \
                "argument" in str(e), (bad, e)
        else:
            raise AssertionError(f"{bad}: {typ} {dat}")
    c.logout()
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    # a UID past UIDNEXT: UIDBEFORE leaves all 25, so the limit cuts
    lines = r.cmd("a", "UID SEARCH UIDBEFORE 4294967295")
    assert lines == ["* SEARCH " + " ".join(str(u) for u in range(16, 26)),
                     "a OK [MESSAGELIMIT 10 16] UID SEARCH completed"], \
        lines
    # and the client goes on below the lowest UID with UIDBEFORE
    lines = r.cmd("b", "UID SEARCH UIDBEFORE 16")
    assert lines == ["* SEARCH " + " ".join(str(u) for u in range(6, 16)),
                     "b OK [MESSAGELIMIT 10 6] UID SEARCH completed"], \
        lines
    lines = r.cmd("c", "UID SEARCH UIDBEFORE 6")
    assert lines == ["* SEARCH 1 2 3 4 5", "c OK UID SEARCH completed"], \
        lines
    # under OR they narrow nothing: the 10 highest are looked at
    lines = r.cmd("d", "UID SEARCH OR UIDAFTER 20 UIDBEFORE 3")
    assert lines == ["* SEARCH 21 22 23 24 25",
                     "d OK [MESSAGELIMIT 10 16] UID SEARCH completed"], \
        lines
    # ESEARCH (RFC 4731) and MULTISEARCH's selected mailbox
    lines = r.cmd("e", "UID SEARCH RETURN (MIN MAX COUNT) UIDAFTER 10 "
                       "UIDBEFORE 14")
    assert lines == ['* ESEARCH (TAG "e") UID MIN 11 MAX 13 COUNT 3',
                     "e OK UID SEARCH completed"], lines
    lines = r.cmd("f", "SEARCH RETURN (ALL) UIDAFTER 22")
    assert lines == ['* ESEARCH (TAG "f") ALL 23:25',
                     "f OK SEARCH completed"], lines
    lines = r.cmd("g", "ESEARCH IN (selected) UIDAFTER 22")
    assert lines[0].startswith('* ESEARCH (TAG "g" MAILBOX INBOX '), lines
    assert lines[0].endswith(" UID ALL 23:25"), lines
    assert lines[-1] == "g OK ESEARCH completed", lines
    # bad arguments are BAD, nothing searched
    for n, bad in enumerate(("UIDAFTER 0", "UIDBEFORE 007", "UIDAFTER",
                             "UIDAFTER \"5\"", "UIDBEFORE *")):
        lines = r.cmd(f"x{n}", f"UID SEARCH {bad}")
        assert len(lines) == 1 and lines[0].startswith(f"x{n} BAD "), lines
    r.close()


def test_sort_thread_limited(herald_factory):
    h, c = fill(herald_factory)
    ok(c.select("INBOX"))
    # more than the limit: NO [MESSAGELIMIT 10], nothing sorted
    typ, dat = c.sort("(ARRIVAL)", "UTF-8", "ALL")
    assert typ == "NO", (typ, dat)
    typ, dat = c.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "NO", (typ, dat)
    # within it (the keys that narrow SEARCH narrow SORT): answered
    assert ok(c.uid("SORT", "(REVERSE SUBJECT)", "UTF-8", "UIDAFTER",
                    "15")) == [b"25 24 23 22 21 20 19 18 17 16"]
    assert ok(c.uid("SORT", "(SUBJECT)", "UTF-8", "UID", "1:3",
                    "SEEN")) == [b""]
    assert ok(c.uid("THREAD", "ORDEREDSUBJECT", "UTF-8", "UIDBEFORE",
                    "4")) == [b"(1)(2)(3)"]
    # a key that does not narrow the scope leaves it over the limit
    typ, dat = c.sort("(DATE)", "UTF-8", "UNSEEN")
    assert typ == "NO", (typ, dat)
    c.logout()
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("a", "SORT (DATE) UTF-8 ALL")
    assert lines == ["a NO [MESSAGELIMIT 10] SORT of more than 10 "
                     "messages"], lines
    lines = r.cmd("b", "UID THREAD REFERENCES UTF-8 UID 5:20")
    assert lines == ["b NO [MESSAGELIMIT 10] THREAD of more than 10 "
                     "messages"], lines
    lines = r.cmd("c", "SORT (ARRIVAL) UTF-8 16:*")
    assert lines == ["* SORT " + " ".join(str(u) for u in range(16, 26)),
                     "c OK SORT completed"], lines
    r.close()
