"""IMAP CATENATE (RFC 4469, issue 13 item 9): APPEND ... CATENATE (TEXT
literal / URL url ...) with IMAP URLs (RFC 5092: ;UIDVALIDITY=, ;UID=,
;SECTION=, ;PARTIAL=) naming messages in the user's own mailboxes,
[BADURL url] and [TOOBIG], with MULTIAPPEND (all or nothing), durable
before the OK like any APPEND (kill -9 right after it)."""
import re

from imap_util import USER, USER2, PASSWORD, Raw, login, ok, server

SIMPLE = (b"From: Carol <carol@remote.test>\r\n"
          b"Subject: the draft\r\n"
          b"Message-ID: <draft1@remote.test>\r\n"
          b"\r\n"
          b"Hello Bob,\r\nsee you.\r\n")

MULTI = (b"From: Carol <carol@remote.test>\r\n"
         b"Subject: with attachment\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
         b"\r\n"
         b"--XX\r\n"
         b"Content-Type: text/plain\r\n"
         b"\r\n"
         b"part one text\r\n"
         b"--XX\r\n"
         b"Content-Type: application/octet-stream\r\n"
         b"Content-Transfer-Encoding: base64\r\n"
         b"\r\n"
         b"AAECAwQF\r\n"
         b"--XX--\r\n")


def start(herald_factory, **kw):
    """Drafts holds SIMPLE (UID 1) and MULTI (UID 2); returns the server,
    a Raw client logged in, and Drafts' UIDVALIDITY."""
    h = server(herald_factory, listeners=("imap", "smtp"),
               users=(USER, USER2), **kw)
    c = login(h)
    ok(c.append("Drafts", None, None, SIMPLE))
    ok(c.append("Drafts", None, None, MULTI))
    typ, data = c.status("Drafts", "(UIDVALIDITY)")
    uv = int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
    c.logout()
    r = Raw(h)
    r.login()
    return h, r, uv


def lit(data):
    """A non-synchronising literal (LITERAL+ after login)."""
    if isinstance(data, str):
        data = data.encode()
    return b"{%d+}\r\n" % len(data) + data


def send(r, tag, *parts):
    """Sends a command built of str and bytes parts, returns its lines."""
    r.send(b"".join(p.encode() if isinstance(p, str) else p
                    for p in parts) + b"\r\n")
    return r.until_tagged(tag)


def body_of(h, mailbox, uid):
    c = login(h)
    ok(c.select(mailbox, readonly=True))
    typ, data = c.uid("FETCH", str(uid), "(BODY.PEEK[])")
    assert typ == "OK", data
    c.logout()
    return data[0][1]


def count(h, mailbox="INBOX"):
    c = login(h)
    typ, data = c.status(mailbox, "(MESSAGES)")
    c.logout()
    return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))


def appenduid(line):
    m = re.match(r"\S+ OK \[APPENDUID (\d+) ([\d:,]+)\]", line)
    assert m, line
    return m.group(2)


def test_advertised(herald_factory):
    h = server(herald_factory, listeners=("imap",))
    r = Raw(h)
    assert "CATENATE" not in r.greeting
    assert "CATENATE" in r.login()[-1].split()
    r.close()


def test_rfc4469_example(herald_factory):
    """RFC 4469 5's shape: a forwarded draft from the old one's header, a
    new text, and its parts by URL."""
    h, r, uv = start(herald_factory)
    base = f"/Drafts;UIDVALIDITY={uv}/;UID=2"
    new_text = (b"\r\n--XX\r\nContent-Type: text/plain\r\n\r\n"
                b"a new first part\r\n--XX\r\n")
    lines = send(r, "a", "a APPEND INBOX (\\Seen) CATENATE (",
                 f'URL "{base}/;SECTION=HEADER" TEXT ', lit(new_text),
                 f' URL "{base}/;SECTION=2.MIME" URL "{base}/;SECTION=2"',
                 " TEXT ", lit("\r\n--XX--\r\n"), ")")
    assert lines[-1].startswith("a OK [APPENDUID "), lines
    uid = appenduid(lines[-1])
    got = body_of(h, "INBOX", uid)
    header, _, _ = MULTI.partition(b"\r\n\r\n")
    expect = (header + b"\r\n\r\n" + new_text +
              b"Content-Type: application/octet-stream\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n" +
              b"AAECAwQF" + b"\r\n--XX--\r\n")
    assert got == expect, got
    r.close()


def test_url_forms(herald_factory):
    h, r, uv = start(herald_factory)
    cases = [
        # whole message, no UIDVALIDITY, INBOX-style case folding of
        # the name does not apply to Drafts
        ("/Drafts/;UID=1", SIMPLE),
        (f"/Drafts;UIDVALIDITY={uv}/;uid=1/;section=TEXT",
         b"Hello Bob,\r\nsee you.\r\n"),
        ("/Drafts/;UID=1/;SECTION=HEADER.FIELDS%20(Subject)",
         b"Subject: the draft\r\n\r\n"),
        ("/Drafts/;UID=1/;SECTION=HEADER.FIELDS.NOT%20(Subject%20From)",
         b"Message-ID: <draft1@remote.test>\r\n\r\n"),
        ("/Drafts/;UID=2/;SECTION=1", b"part one text"),
        ("/Drafts/;UID=1/;SECTION=TEXT/;PARTIAL=6.3", b"Bob"),
        ("/Drafts/;UID=1/;PARTIAL=6", SIMPLE[6:]),
        (f"imap://{USER.replace('@', '%40')}@127.0.0.1/Drafts/;UID=1",
         SIMPLE),
        ("imap://any.host.example/Drafts/;UID=1", SIMPLE),
    ]
    for i, (url, want) in enumerate(cases):
        tag = f"u{i}"
        lines = send(r, tag, f'{tag} APPEND INBOX CATENATE (URL "{url}")')
        assert lines[-1].startswith(f"{tag} OK [APPENDUID "), (url, lines)
        assert body_of(h, "INBOX", appenduid(lines[-1])) == want, url
    # a URL into INBOX itself, any case
    lines = send(r, "i", 'i APPEND Archive CATENATE (URL "/inbox/;UID=1")')
    assert lines[-1].startswith("i OK"), lines
    assert body_of(h, "Archive", appenduid(lines[-1])) == SIMPLE
    r.close()


def test_badurl(herald_factory):
    h, r, uv = start(herald_factory)
    before = count(h)
    bads = [
        f"/Drafts;UIDVALIDITY={uv + 1}/;UID=1",     # another UIDVALIDITY
        "/Drafts/;UID=99",                           # no such message
        "/Nowhere/;UID=1",                           # no such mailbox
        "/Drafts/;UID=1/;SECTION=5",                 # no such part
        "/Drafts/;UID=1/;SECTION=BOGUS",             # not a section
        "/Drafts",                                   # no UID
        "/Drafts?SUBJECT%20draft",                   # a search URL
        "Drafts/;UID=1",                             # not a URL
        f"imap://{USER2.replace('@', '%40')}@localhost/INBOX/;UID=1",
        "/Drafts/;UID=1;URLAUTH=anonymous:internal:0123456789abcdef",
    ]
    for i, url in enumerate(bads):
        tag = f"b{i}"
        lines = send(r, tag, f"{tag} APPEND INBOX CATENATE (TEXT ",
                     lit("Subject: x\r\n\r\n"), f' URL "{url}")')
        assert len(lines) == 1, lines
        m = re.match(rf"{tag} NO \[BADURL ([^\]]*)\] ", lines[0])
        assert m, (url, lines)
        assert m.group(1) == url, (url, lines)
    assert count(h) == before
    # bob's mailboxes are not alice's: his own INBOX by a relative URL
    # is his, and it is empty
    b = Raw(h)
    b.login(user=USER2, password=PASSWORD)
    lines = send(b, "c", 'c APPEND INBOX CATENATE (URL "/Drafts/;UID=1")')
    assert lines[0].startswith("c NO [BADURL /Drafts/;UID=1]"), lines
    b.close()
    r.close()


def test_bad_syntax(herald_factory):
    h, r, _ = start(herald_factory)
    for i, text in enumerate(["CATENATE ()", "CATENATE (TEXT)",
                              'CATENATE (TEXT "quoted")',
                              'CATENATE (URL)', 'CATENATE (FOO "x")',
                              'CATENATE (URL ("/Drafts/;UID=1"))',
                              "CATENATE"]):
        tag = f"s{i}"
        lines = send(r, tag, f"{tag} APPEND INBOX {text}")
        assert lines[-1].startswith(f"{tag} BAD"), (text, lines)
    # an empty result
    lines = send(r, "e", 'e APPEND INBOX CATENATE (URL '
                         '"/Drafts/;UID=1/;PARTIAL=100000")')
    assert lines[-1].startswith("e NO "), lines
    r.close()


def test_toobig(herald_factory):
    """The message built over [imap] literal_max (APPENDLIMIT) is NO
    [TOOBIG], whatever its literals were."""
    h, r, _ = start(herald_factory, imap="literal_max = 1024")
    before = count(h)
    url = 'URL "/Drafts/;UID=2"'       # MULTI: about 330 octets
    lines = send(r, "t", f"t APPEND INBOX CATENATE ({url} {url} {url} "
                         f"{url})")
    assert lines[-1].startswith("t NO [TOOBIG] "), lines
    assert count(h) == before
    lines = send(r, "u", f"u APPEND INBOX CATENATE ({url} {url})")
    assert lines[-1].startswith("u OK"), lines
    r.close()


def test_toobig_multiappend_total(herald_factory):
    """The messages of one MULTIAPPEND count together against
    literal_max, as its literals do: URL parts are small on the wire but
    each message may grow to the limit, and all are built before any is
    stored, so per-message checks alone let one short command hold
    (messages x literal_max) octets."""
    h, r, _ = start(herald_factory, imap="literal_max = 1024")
    before = count(h)
    url = 'URL "/Drafts/;UID=2"'       # MULTI: about 330 octets
    msg = f" CATENATE ({url} {url})"   # about 660 octets, under 1024
    lines = send(r, "t", "t APPEND INBOX" + msg * 3)
    assert lines[-1].startswith("t NO [TOOBIG] "), lines
    assert count(h) == before
    lines = send(r, "u", "u APPEND INBOX" + msg)
    assert lines[-1].startswith("u OK"), lines
    assert count(h) == before + 1
    r.close()


def test_multiappend(herald_factory):
    """MULTIAPPEND with CATENATE messages among plain ones: all stored
    with one APPENDUID, or none when one URL is bad."""
    h, r, _ = start(herald_factory)
    before = count(h)
    lines = send(r, "m", "m APPEND INBOX (\\Flagged) CATENATE (URL "
                 '"/Drafts/;UID=1/;SECTION=HEADER" TEXT ',
                 lit("first\r\n"), ") ", lit("Subject: plain\r\n\r\nx\r\n"),
                 ' CATENATE (URL "/Drafts/;UID=1")')
    assert lines[-1].startswith("m OK [APPENDUID "), lines
    uids = appenduid(lines[-1])
    first, last = (int(x) for x in uids.split(":"))
    assert last - first == 2, uids
    assert body_of(h, "INBOX", first) == \
        SIMPLE.partition(b"\r\n\r\n")[0] + b"\r\n\r\nfirst\r\n"
    assert body_of(h, "INBOX", first + 1) == b"Subject: plain\r\n\r\nx\r\n"
    assert body_of(h, "INBOX", last) == SIMPLE
    assert count(h) == before + 3
    lines = send(r, "n", "n APPEND INBOX ", lit("Subject: a\r\n\r\na\r\n"),
                 ' CATENATE (URL "/Drafts/;UID=77")')
    assert lines[-1].startswith("n NO [BADURL /Drafts/;UID=77]"), lines
    assert count(h) == before + 3
    r.close()


def test_durable_before_ok(herald_factory):
    """As any APPEND: once OK is out, kill -9 does not lose it."""
    h, r, _ = start(herald_factory)
    lines = send(r, "d", "d APPEND INBOX CATENATE (TEXT ",
                 lit("Subject: kept\r\n\r\n"),
                 ' URL "/Drafts/;UID=1/;SECTION=TEXT")')
    assert lines[-1].startswith("d OK [APPENDUID "), lines
    h.kill9()
    h.start()
    want = b"Subject: kept\r\n\r\nHello Bob,\r\nsee you.\r\n"
    assert want in h.messages(USER)


def test_replace_with_catenate(herald_factory):
    """REPLACE takes a CATENATE message too (RFC 8508 4): the new draft
    from the old one's header and a new text; the old one goes."""
    h, r, uv = start(herald_factory)
    r.cmd("s", "SELECT Drafts")
    lines = send(r, "p", "p UID REPLACE 1 Drafts CATENATE (URL "
                 f'"/Drafts;UIDVALIDITY={uv}/;UID=1/;SECTION=HEADER" TEXT ',
                 lit("Hello again,\r\nBob.\r\n"), ")")
    assert lines[-1] == "p OK UID REPLACE completed", lines
    assert "* 1 EXPUNGE" in lines, lines
    m = re.match(r"\* OK \[APPENDUID \d+ (\d+)\]", lines[0])
    assert m, lines
    assert body_of(h, "Drafts", m.group(1)) == \
        SIMPLE.partition(b"\r\n\r\n")[0] + b"\r\n\r\nHello again,\r\nBob.\r\n"
    # a bad URL leaves the old message
    lines = send(r, "q", 'q UID REPLACE 2 Drafts CATENATE (URL '
                         '"/Drafts/;UID=1")')
    assert lines[-1].startswith("q NO [BADURL /Drafts/;UID=1]"), lines
    assert count(h, "Drafts") == 2
    r.close()
