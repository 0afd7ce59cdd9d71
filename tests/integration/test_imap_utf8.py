"""UTF8=ACCEPT (RFC 9755, which obsoletes RFC 6855) with real clients:
the capability, SEARCH's CHARSET before and after ENABLE, UTF-8 in quoted
strings, an internationalized message (RFC 6532, delivered over SMTP with
SMTPUTF8) fetched by an enabled client (raw UTF-8) and by a legacy one
(downgraded to encoded words, docs/imap.md "UTF-8"), mailbox names both
ways. Driven by imaplib (which sends UTF-8 once enable("UTF8=ACCEPT") is
OK) and raw sockets."""
import base64
import email.header
import imaplib
import re
import smtplib

import pytest

from harness import DOMAIN
from imap_util import Raw, USER, PASSWORD, login, ok, server

NAME = "J\u00fcrgen M\u00fcller"
ADDR = "j\u00fcrgen@b\u00fccher.example"
SUBJECT = "Gr\u00fc\u00dfe aus K\u00f6ln \u2013 \U0001F600"
FILE = "r\u00e9sum\u00e9 \u00e9t\u00e9.txt"
ZOE = "Zo\u00eb Ascii"


def intl_msg():
    """An RFC 6532 message: UTF-8 in From (name and address), To's display
    name, Subject and a MIME parameter, as SMTPUTF8 senders write it."""
    return (
        f"From: {NAME} <{ADDR}>\r\n"
        f"To: {ZOE} <{USER}>, plain@remote.test\r\n"
        f"Subject: {SUBJECT}\r\n"
        "Message-ID: <intl1@remote.test>\r\n"
        "Date: Sun, 06 Dec 2026 12:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n'
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Hallo aus K\u00f6ln\r\n"
        "--b1\r\n"
        f'Content-Type: text/plain; charset=utf-8; name="{FILE}"\r\n'
        f'Content-Disposition: attachment; filename="{FILE}"\r\n'
        "\r\n"
        "Anhang\r\n"
        "--b1--\r\n").encode()


def deliver_utf8(h, msg):
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        s.sendmail(ADDR, [USER], msg, mail_options=["SMTPUTF8"])


@pytest.fixture
def h(herald_factory):
    h = server(herald_factory)
    deliver_utf8(h, intl_msg())
    return h


def utf8_client(h):
    c = login(h)
    ok(c.enable("UTF8=ACCEPT"))
    typ, data = c._untagged_response("OK", [None], "ENABLED")
    assert data == [b"UTF8=ACCEPT"], data
    return c


def decode_words(text):
    """What a reader shows for header text with encoded words."""
    return str(email.header.make_header(email.header.decode_header(text)))


def fetch_raw(c, item):
    """The whole FETCH response of message 1 as bytes, literals inline."""
    data = ok(c.fetch("1", item))
    out = b""
    for part in data:
        out += b"".join(part) if isinstance(part, tuple) else part
    return out


def test_capability_after_login(herald_factory):
    h = server(herald_factory)
    c = imaplib.IMAP4("127.0.0.1", h.ports["imap"], timeout=30)
    # LOGIN is not extended to UTF-8 (RFC 9755 5): offered after login
    assert "UTF8=ACCEPT" not in c.capabilities
    c.login(USER, PASSWORD)
    caps = ok(c.capability())[0].decode().split()
    assert "UTF8=ACCEPT" in caps and "UTF8=ONLY" not in caps, caps
    c.logout()


def test_search_charset_ok_before_bad_after_enable(h):
    c = login(h)
    ok(c.select("INBOX"))
    # before ENABLE: CHARSET UTF-8 with the UTF-8 string as a literal
    c.literal = "K\u00f6ln".encode()
    assert ok(c.search("UTF-8", "SUBJECT")) == [b"1"]
    assert ok(c.search("US-ASCII", "SUBJECT", "aus")) == [b"1"]
    typ, data = c.search("KOI8-R", "ALL")
    assert typ == "NO" and b"[BADCHARSET" in data[0], (typ, data)
    c.logout()

    c = utf8_client(h)
    ok(c.select("INBOX"))
    # RFC 9755 3: strings are UTF-8 now, a CHARSET label conflicts
    for cs in ("UTF-8", "US-ASCII"):
        # (imaplib itself refuses a charset in UTF-8 mode: sent raw)
        with pytest.raises(imaplib.IMAP4.error, match="CHARSET"):
            c._simple_command("SEARCH", "CHARSET", cs, "SUBJECT", "aus")
    with pytest.raises(imaplib.IMAP4.error, match="CHARSET"):
        c._simple_command("SEARCH", "RETURN", "(COUNT)", "CHARSET",
                          "UTF-8", "ALL")
    # the same search without CHARSET, UTF-8 in a quoted string
    assert ok(c.search(None, "SUBJECT", '"K\u00f6ln \u2013"')) == [b"1"]
    assert ok(c.search(None, "FROM", f'"{ADDR}"')) == [b"1"]
    assert ok(c.search(None, "SUBJECT", '"K\u00f6lner"')) == [b""]
    c.logout()


def test_rev2_keeps_charset(h):
    """IMAP4rev2's grammar has CHARSET (RFC 9051 6.4.4), UTF8=ACCEPT or
    not; ENABLE lists both capabilities when a client asks for both."""
    r = Raw(h)
    r.login()
    lines = r.cmd("e", "ENABLE IMAP4rev2 UTF8=ACCEPT")
    assert lines[0] == "* ENABLED IMAP4rev2 UTF8=ACCEPT", lines
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("a", "SEARCH CHARSET UTF-8 SUBJECT aus")
    assert lines == ['* ESEARCH (TAG "a") ALL 1', "a OK SEARCH completed"]
    r.close()


def test_utf8_quoted_strings_after_enable(h):
    r = Raw(h)
    r.login()
    assert r.cmd("e", "ENABLE UTF8=ACCEPT")[0] == "* ENABLED UTF8=ACCEPT"
    box = "Gr\u00fc\u00dfe/\u041f\u0440\u0438\u0432\u0435\u0442"
    assert r.cmd("a", f'CREATE "{box}"')[-1].startswith("a OK")
    lines = r.cmd("b", f'STATUS "{box}" (MESSAGES)')
    assert lines[0] == f'* STATUS "{box}" (MESSAGES 0)', lines
    lines = r.cmd("c", 'SELECT "INBOX"')
    assert lines[-1].startswith("c OK"), lines
    lines = r.cmd("d", f'SEARCH SUBJECT "{SUBJECT}"')
    assert lines[0] == "* SEARCH 1", lines
    lines = r.cmd("f", f'UID COPY 1 "{box}"')
    assert re.match(r"f OK \[COPYUID \d+ 1 1\]", lines[-1]), lines
    # invalid UTF-8 in a quoted string is BAD (RFC 9755 3), also after
    r.send(b'g SELECT "caf\xe9"\r\n')
    assert r.until_tagged("g")[-1].startswith("g BAD")
    r.send(b'h SEARCH SUBJECT "\xc3"\r\n')
    assert r.until_tagged("h")[-1].startswith("h BAD")
    # RFC 9755 3: no line or paragraph separator in a name
    lines = r.cmd("j", 'CREATE "a\u2028b"')
    assert lines[-1].startswith("j NO [CANNOT]"), lines
        # a literal naming a mailbox must be UTF-8 too
    r.send(b"i SELECT {4+}\r\ncaf\xe9\r\n")
    assert r.until_tagged("i")[-1].startswith("i BAD")
    r.close()


def test_enabled_client_gets_raw_utf8(h):
    c = utf8_client(h)
    ok(c.select("INBOX"))
    env = fetch_raw(c, "(ENVELOPE)").decode("utf-8")
    # quoted strings in UTF-8 (RFC 9755 3), no literal needed
    assert f'"{SUBJECT}"' in env, env
    assert (f'(("{NAME}" NIL "j\u00fcrgen" "b\u00fccher.example"))'
            in env), env
    assert f'(("{ZOE}" NIL "alice" ' in env, env
    bs = fetch_raw(c, "(BODYSTRUCTURE)").decode("utf-8")
    assert f'("FILENAME" "{FILE}")' in bs, bs
    hdr = fetch_raw(c, "(BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])")
    assert f"Subject: {SUBJECT}\r\n".encode() in hdr, hdr
    assert f"From: {NAME} <{ADDR}>\r\n".encode() in hdr, hdr
    c.logout()


def test_legacy_client_gets_downgraded_header_text(h):
    """RFC 9755 7: no raw UTF-8 for a client that did not enable it;
    ENVELOPE, BODYSTRUCTURE and the header sections carry RFC 2047
    encoded words (an address without an ASCII form becomes an empty
    group named after it, RFC 6858 3); the message itself is served as
    stored."""
    c = login(h)
    ok(c.select("INBOX"))
    env = fetch_raw(c, "(ENVELOPE)")
    assert max(env) < 0x80, env
    words = re.findall(rb'"(=\?UTF-8\?B\?[^"]*)"', env)
    shown = [decode_words(w.decode()) for w in words]
    assert SUBJECT in shown, shown
    assert f"{NAME} <{ADDR}>" in shown, shown       # the From group
    assert ZOE in shown, shown
    # From and Sender/Reply-To (defaulting to From) are that group
    m = re.search(rb"\(\(NIL NIL \"=\?UTF-8\?B\?[^\"]+\" NIL\)"
                  rb"\(NIL NIL NIL NIL\)\)", env)
    assert m, env
    assert f'NIL "alice" "{DOMAIN}")'.encode() in env, env
    assert b'(NIL NIL "plain" "remote.test")' in env, env

    bs = fetch_raw(c, "(BODYSTRUCTURE)")
    assert max(bs) < 0x80, bs
    fn = re.search(rb'\("FILENAME" "([^"]+)"\)', bs).group(1).decode()
    assert decode_words(fn) == FILE, fn

    for item in ("BODY.PEEK[HEADER]", "BODY.PEEK[HEADER.FIELDS (FROM TO "
                 "SUBJECT)]", "BODY.PEEK[HEADER.FIELDS.NOT (DATE)]",
                 "BODY.PEEK[2.MIME]", "RFC822.HEADER"):
        hdr = fetch_raw(c, f"({item})")
        assert max(hdr) < 0x80, (item, hdr)
    parsed = email.message_from_bytes(
        ok(c.fetch("1", "(BODY.PEEK[HEADER])"))[0][1])
    assert decode_words(parsed["Subject"]) == SUBJECT
    shown = decode_words(parsed["From"]).replace(" :;", ":;")
    assert shown == f"{NAME} <{ADDR}>:;", shown
    to = decode_words(parsed["To"])
    assert ZOE in to and USER in to and "plain@remote.test" in to, to
    mime = ok(c.fetch("1", "(BODY.PEEK[2.MIME])"))[0][1].decode()
    fn = re.search(r'filename="([^"]+)"', mime).group(1)
    assert decode_words(fn) == FILE, mime

    # BODY[] and RFC822.SIZE stay the stored message: a sync client keeps
    # the real one (and its signatures)
    full = ok(c.fetch("1", "(RFC822.SIZE BODY.PEEK[])"))
    size = int(re.search(rb"RFC822.SIZE (\d+)", full[0][0]).group(1))
    assert intl_msg() in full[0][1]
    assert size == len(full[0][1])
    c.logout()


def test_legacy_ascii_message_unchanged(h):
    """A message without UTF-8 is served byte for byte as before."""
    msg = (b"From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\n"
           b"Subject: =?ISO-8859-1?Q?caf=E9?=\r\nMessage-ID: <a@b>\r\n\r\n"
           b"hello\r\n")
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        s.sendmail("carol@remote.test", [USER], msg)
    c = login(h)
    ok(c.select("INBOX"))
    data = ok(c.fetch("2", "(BODY.PEEK[HEADER] ENVELOPE)"))
    full = ok(c.fetch("2", "(BODY.PEEK[])"))[0][1]
    assert full.endswith(msg)       # after the Return-Path delivery adds
    assert data[0][1] == full[:full.index(b"\r\n\r\n") + 4]
    assert b'"=?ISO-8859-1?Q?caf=E9?="' in data[1], data
    c.logout()


def test_mailbox_names_both_ways(h):
    box = "\u00dcbersicht/\U0001F4E7 Post"
    c = utf8_client(h)
    ok(c.create(f'"{box}"'))
    ok(c.subscribe(f'"{box}"'))
    listed = b"".join(ok(c.list('""', '"*"')))
    assert box.encode() in listed, listed
    lsub = b"".join(ok(c.lsub('""', '"*"')))
    assert box.encode() in lsub, lsub
    ok(c.select(f'"{box}"'))
    c.logout()

    mutf7 = "&ANw-bersicht/&2D3c5w- Post"
    c = login(h)
    answers = {
        "LIST": ok(c.list('""', '"*"')),
        "LSUB": ok(c.lsub('""', '"*"')),
        "STATUS": ok(c.status(f'"{mutf7}"', "(MESSAGES)")),
    }
    typ, _ = c._simple_command("LIST", '""', '"*"', "RETURN",
                               "(STATUS (MESSAGES))")
    assert typ == "OK"
    answers["LIST-STATUS"] = (c._untagged_response(typ, [None], "LIST")[1] +
                              c._untagged_response(typ, [None],
                                                   "STATUS")[1])
    for name, lines in answers.items():
        joined = b"".join(x if isinstance(x, bytes) else b"".join(x)
                          for x in lines if x is not None)
        assert joined and max(joined) < 0x80, (name, joined)
        assert mutf7.encode() in joined, (name, joined)
    ok(c.select(f'"{mutf7}"'))
    c.logout()


def test_append_utf8_message_legacy_and_enabled(h):
    """APPEND of a message with UTF-8 header fields: literal8 in UTF8 (...)
    after ENABLE, a plain literal from a legacy client (accepted: see
    docs/imap.md "UTF-8" for why RFC 9755 4's NO is not given)."""
    msg = intl_msg().replace(b"intl1@", b"intl2@")
    c = login(h)
    ok(c.append("INBOX", None, None, msg))
    c.logout()
    r = Raw(h)
    r.login()
    assert r.cmd("e", "ENABLE UTF8=ACCEPT")[-1].startswith("e OK")
    r.send(f"a APPEND INBOX UTF8 (~{{{len(msg)}+}}\r\n".encode() + msg +
           b")\r\n")
    assert r.until_tagged("a")[-1].startswith("a OK [APPENDUID ")
    r.close()
    c = utf8_client(h)
    assert ok(c.select("INBOX")) == [b"3"]
    assert ok(c.search(None, "SUBJECT", f'"{SUBJECT}"')) == [b"1 2 3"]
    c.logout()


def test_message_global_legacy_is_basic(herald_factory):
    """RFC 3501's media-message is MESSAGE/RFC822 only; a legacy session
    gets message/global as a basic part, an enabled one as a message
    (RFC 9755 6)."""
    h = server(herald_factory)
    inner = f"Subject: {SUBJECT}\r\nFrom: {ADDR}\r\n\r\ninner\r\n"
    msg = ("From: a@remote.test\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/mixed; boundary="q"\r\n\r\n--q\r\n'
           "Content-Type: text/plain\r\n\r\nx\r\n--q\r\n"
           "Content-Type: message/global\r\n\r\n" + inner +
           "--q--\r\n").encode()
    deliver_utf8(h, msg)
    c = login(h)
    ok(c.select("INBOX"))
    bs = fetch_raw(c, "(BODYSTRUCTURE)")
    assert max(bs) < 0x80, bs
    assert re.search(rb'\("MESSAGE" "GLOBAL" NIL NIL NIL "7BIT" \d+ NIL',
                     bs), bs
    c.logout()
    c = utf8_client(h)
    ok(c.select("INBOX"))
    bs = fetch_raw(c, "(BODYSTRUCTURE)").decode()
    assert re.search(r'\("MESSAGE" "GLOBAL" NIL NIL NIL "7BIT" \d+ \(NIL '
                     f'"{SUBJECT}"', bs), bs
    c.logout()
