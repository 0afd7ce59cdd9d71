"""Issue 11's first "Done when", as a new user's client would run it with
Python's imaplib: LOGIN, LIST, SELECT, FETCH BODYSTRUCTURE of a
multipart/mixed message with a nested message/rfc822 and a base64
attachment (octet and line counts checked against the raw bytes),
BODY[2.1.TEXT]<10.20>, SEARCH with OR/NOT/HEADER/TEXT on a UTF-8 word
inside a quoted-printable ISO-8859-1 part, STORE, MOVE, EXPUNGE, APPEND
with APPENDUID, each answer checked."""
import base64
import os
import re
from datetime import datetime, timezone

from imap_util import USER, deliver, login, make_msg, ok, server

INNER = (b"From: Carol <carol@remote.test>\r\n"
         b"To: Dave <dave@remote.test>\r\n"
         b"Subject: inner message\r\n"
         b"Message-ID: <inner@remote.test>\r\n"
         b"Date: Sat, 05 Dec 2026 08:00:00 +0100\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: text/plain; charset=us-ascii\r\n"
         b"\r\n"
         b"This is the body of the nested message, long enough for a\r\n"
         b"partial fetch of twenty octets from offset ten.\r\n")
ATTACH = bytes(range(256)) + os.urandom(300)


def b64_lines(data):
    enc = base64.b64encode(data)
    return b"".join(enc[i:i + 76] + b"\r\n" for i in range(0, len(enc), 76))


QP_BODY = (b"Gr=FC=DFe aus M=FCnchen, sagt der B=E4cker.\r\n"
           b"Zweite Zeile.\r\n")
ATT_BODY = b64_lines(ATTACH)


def build():
    """The message and, per part, (body bytes) as the client must count
    them: a part's body runs from after its header's empty line to the
    CRLF that precedes the next boundary (RFC 2046 5.1.1)."""
    parts = [
        b"--outer\r\n"
        b"Content-Type: text/plain; charset=ISO-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + QP_BODY,
        b"--outer\r\n"
        b"Content-Type: multipart/mixed; boundary=\"inner-b\"\r\n\r\n"
        b"--inner-b\r\n"
        b"Content-Type: message/rfc822\r\n"
        b"Content-Description: forwarded\r\n\r\n" + INNER +
        b"\r\n--inner-b\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        b"a note\r\n"
        b"\r\n--inner-b--\r\n",
        b"--outer\r\n"
        b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
        b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + ATT_BODY,
    ]
    head = (f"From: Alice <{USER}>\r\n"
            "To: Bob <bob@example.test>\r\n"
            "Subject: done when\r\n"
            "Message-ID: <done-when@example.test>\r\n"
            "Date: Sun, 06 Dec 2026 12:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
            "\r\n").encode()
    # the CRLF before each boundary belongs to the boundary
    body = b"\r\n".join(p.rstrip(b"\r\n") if i < len(parts) else p
                        for i, p in enumerate(parts, 1))
    return head + body + b"\r\n--outer--\r\n"


def tokenize(s):
    """An IMAP response's parenthesised data as nested Python lists of
    str (quoted strings unquoted) and None for NIL."""
    pos = 0
    tok = re.compile(rb'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+)')

    def parse():
        nonlocal pos
        out = []
        while True:
            m = tok.match(s, pos)
            if not m:
                raise AssertionError(f"cannot parse at {s[pos:pos+40]!r}")
            t = m.group(1)
            pos = m.end()
            if t == b"(":
                out.append(parse())
            elif t == b")":
                return out
            elif t.startswith(b'"'):
                out.append(re.sub(rb'\\(.)', rb'\1', t[1:-1]).decode())
            elif t.upper() == b"NIL":
                out.append(None)
            else:
                out.append(t.decode())
    m = tok.match(s, pos)
    assert m and m.group(1) == b"("
    pos = m.end()
    return parse()


def lines(b):
    return b.count(b"\r\n")


def test_imaplib_done_when(herald_factory):
    h = server(herald_factory)
    msg = build()
    deliver(h, USER, make_msg(1, subject="plain one",
                              body="no umlaut: Munchen\r\n"))
    deliver(h, USER, msg)
    deliver(h, USER, make_msg(3, subject="to delete"))
    c = login(h)

    # LIST: the special-use folders of a new account
    listing = b"\n".join(ok(c.list()))
    for name, use in (("Drafts", b"\\Drafts"), ("Sent", b"\\Sent"),
                      ("Junk", b"\\Junk"), ("Trash", b"\\Trash"),
                      ("Archive", b"\\Archive")):
        assert re.search(rb"\([^)]*" + re.escape(use) + rb"[^)]*\) \"/\" "
                         + name.encode(), listing), listing

    assert ok(c.select("INBOX")) == [b"3"]

    # the stored message is what was delivered plus our trace headers:
    # find where the original starts to count from the raw bytes
    raw = ok(c.fetch("2", "(BODY.PEEK[])"))[0][1]
    assert raw.endswith(msg)
    data = ok(c.fetch("2", "(BODYSTRUCTURE)"))
    bs = tokenize(re.search(rb"BODYSTRUCTURE (\(.*\))\)", data[0]).group(1))
    # [part1, part2, part3, "mixed", params, disposition, lang, location]
    p1, p2, p3 = bs[0], bs[1], bs[2]
    assert bs[3].lower() == "mixed"
    assert [x.lower() for x in p1[:2]] == ["text", "plain"]
    assert p1[2] == ["CHARSET", "ISO-8859-1"] or \
        [x.lower() for x in p1[2]] == ["charset", "iso-8859-1"]
    assert p1[5].lower() == "quoted-printable"
    # the CRLF before "--outer" belongs to the delimiter: the body is
    # QP_BODY without its last CRLF, two lines (docs/mime.md)
    assert int(p1[6]) == len(QP_BODY) - 2 and int(p1[7]) == 2
    # 2 is multipart/mixed holding 2.1 message/rfc822 and 2.2 text
    p21 = p2[0]
    assert [x.lower() for x in p21[:2]] == ["message", "rfc822"]
    assert p21[4] == "forwarded"
    assert int(p21[6]) == len(INNER)
    env = p21[7]
    assert env[1] == "inner message" and env[9] == "<inner@remote.test>"
    inner_body = INNER.split(b"\r\n\r\n", 1)[1]
    assert int(p21[8][6]) == len(inner_body)        # the nested body
    assert int(p21[9]) == lines(INNER)
    assert [x.lower() for x in p3[:2]] == ["application", "octet-stream"]
    assert p3[5].lower() == "base64"
    assert int(p3[6]) == len(ATT_BODY)
    assert [x.lower() if isinstance(x, str) else x for x in p3[8][:1]] == \
        ["attachment"]

    # BODY[2.1.TEXT]<10.20>: 20 octets from offset 10 of the nested body
    data = ok(c.fetch("2", "(BODY.PEEK[2.1.TEXT]<10.20>)"))
    assert b"BODY[2.1.TEXT]<10>" in data[0][0]
    assert data[0][1] == inner_body[10:30]
    # BINARY of the attachment is the decoded bytes
    data = ok(c.fetch("2", "(BINARY.PEEK[3])"))
    assert data[0][1] == ATTACH

    # SEARCH: OR/NOT/HEADER/TEXT with a UTF-8 word that is only in a QP
    # ISO-8859-1 part; "Munchen" in message 1 must not match
    c.literal = "München".encode()
    found = ok(c.search("UTF-8", "OR", "HEADER", "Subject", "zzz", "NOT",
                        "FROM", "nobody@nowhere.test", "TEXT"))
    assert found == [b"2"], found
    c.literal = "Grüße".encode()
    assert ok(c.search("UTF-8", "BODY")) == [b"2"]
    assert ok(c.search(None, "NOT", "HEADER", "Subject", "done")) == \
        [b"1 3"]

    # STORE: flags and a keyword
    data = ok(c.store("1", "+FLAGS", "(\\Flagged $Important)"))
    assert b"\\Flagged" in data[0] and b"$Important" in data[0]
    data = ok(c.fetch("1", "(FLAGS)"))
    assert b"\\Flagged" in data[0]

    # MOVE message 2 to Archive, with COPYUID
    typ, data = c._simple_command("MOVE", "2", "Archive")
    assert typ == "OK", data
    copyuid = c.untagged_responses.get("OK", []) + data
    assert any(b"[COPYUID " in x for x in copyuid if x), copyuid
    assert ok(c.select("Archive", readonly=True)) == [b"1"]
    got = ok(c.fetch("1", "(BODY.PEEK[])"))[0][1]
    assert got == raw
    assert ok(c.select("INBOX")) == [b"2"]

    # EXPUNGE: the message marked \Deleted goes, the other stays
    ok(c.store("2", "+FLAGS.SILENT", "(\\Deleted)"))
    typ, data = c.expunge()
    assert typ == "OK" and data == [b"2"], data
    assert ok(c.select("INBOX")) == [b"1"]

    # APPEND with flags and a date: APPENDUID, and the message is there
    new = make_msg(9, subject="appended")
    typ, data = c.append("Drafts", "(\\Draft \\Seen)",
                         '"06-Dec-2026 10:11:12 +0100"', new)
    assert typ == "OK", data
    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
    assert m, data
    ok(c.select("Drafts"))
    data = ok(c.uid("FETCH", m.group(2).decode(),
                    "(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"))
    assert b"\\Draft" in data[0][0] and b"\\Seen" in data[0][0]
    # the same instant (Herald answers in UTC)
    d = re.search(rb'INTERNALDATE "([^"]+)"', data[0][0]).group(1).decode()
    assert datetime.strptime(d.strip(), "%d-%b-%Y %H:%M:%S %z") == \
        datetime(2026, 12, 6, 9, 11, 12, tzinfo=timezone.utc)
    assert data[0][1] == new
    assert f"RFC822.SIZE {len(new)}".encode() in data[0][0]
    c.logout()
