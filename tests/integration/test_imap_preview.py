"""PREVIEW (RFC 8970): FETCH PREVIEW and PREVIEW (LAZY) over messages
whose text is plain, HTML only, base64, quoted-printable Latin-1, in a
multipart/alternative, or absent; the 256-character cut; the legacy
(rev1 without UTF8=ACCEPT) downgrade; the syntax errors. Raw lines where
the exact response matters, imaplib for the rest."""
import base64
import email.header
import re

from imap_util import Raw, login, ok, server

HDR = ("From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\n"
       "Subject: preview\r\nDate: Sun, 06 Dec 2026 12:00:00 +0000\r\n")

MESSAGES = [
    # 1: plain text, white space collapsed
    (HDR + "\r\n  Hello,\r\n\r\n\tworld   again\r\n",
     "Hello, world again"),
    # 2: HTML only
    (HDR + "Content-Type: text/html; charset=utf-8\r\n\r\n"
     "<html><head><title>T</title><style>p {color: red}</style></head>"
     "<body><p>Hi&nbsp;<b>there</b> &amp; you</p><script>x()</script>"
     "<p>second</p></body></html>\r\n",
     "Hi there & you second"),
    # 3: base64 UTF-8
    (HDR + "Content-Type: text/plain; charset=utf-8\r\n"
     "Content-Transfer-Encoding: base64\r\n\r\n"
     + base64.b64encode("Grüße aus Köln".encode()).decode() + "\r\n",
     "Grüße aus Köln"),
    # 4: quoted-printable ISO-8859-1
    (HDR + "Content-Type: text/plain; charset=iso-8859-1\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
     "caf=E9 cr=E8me=\r\n br=FBl=E9e\r\n",
     "café crème brûlée"),
    # 5: multipart/alternative: the plain part wins
    (HDR + "MIME-Version: 1.0\r\n"
     "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
     "--b\r\nContent-Type: text/html\r\n\r\n<p>the html</p>\r\n"
     "--b\r\nContent-Type: text/plain\r\n\r\nthe plain text\r\n"
     "--b--\r\n",
     "the plain text"),
    # 6: no text at all: a zero-length string (RFC 8970 3.2)
    (HDR + "MIME-Version: 1.0\r\n"
     "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
     "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: "
     "base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n",
     ""),
    # 7: an empty body
    (HDR + "\r\n", ""),
]

PREVIEW_RE = re.compile(r'PREVIEW (NIL|"((?:[^"\\]|\\.)*)")')


def preview_of(line):
    m = PREVIEW_RE.search(line)
    assert m, line
    if m.group(1) == "NIL":
        return None
    return re.sub(r"\\(.)", r"\1", m.group(2))


def fill(h):
    c = login(h)
    for body, _ in MESSAGES:
        ok(c.append("INBOX", None, None, body.encode()))
    c.logout()


def test_preview_texts(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    fill(h)
    c = login(h)
    assert b"PREVIEW" in ok(c.capability())[0].split()
    c.logout()
    r = Raw(h)
    r.login()
    # UTF-8 raw in quoted strings needs UTF8=ACCEPT
    assert r.cmd("e", "ENABLE UTF8=ACCEPT")[-1].startswith("e OK")
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("f", "FETCH 1:* (PREVIEW)")
    assert lines[-1].startswith("f OK"), lines
    got = [preview_of(ln) for ln in lines[:-1] if " FETCH " in ln]
    assert got == [want for _, want in MESSAGES], got
    # with other items, in UID FETCH, and as a single item
    lines = r.cmd("u", "UID FETCH 1 (FLAGS PREVIEW RFC822.SIZE)")
    assert re.match(r'\* 1 FETCH \(UID 1 FLAGS \([^)]*\) PREVIEW '
                    r'"Hello, world again" RFC822.SIZE \d+\)$',
                    lines[0]), lines
    lines = r.cmd("g", "FETCH 2 PREVIEW")
    assert lines[0] == '* 2 FETCH (PREVIEW "Hi there & you second")', lines
    # PREVIEW does not set \Seen
    lines = r.cmd("h", "FETCH 1:2 (FLAGS)")
    assert all("\\Seen" not in ln for ln in lines), lines
    r.close()


def test_preview_cut_at_256_characters(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    words = " ".join(f"wörd{i}" for i in range(200))
    ok(c.append("INBOX", None, None,
                (HDR + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                 + words + "\r\n").encode()))
    ok(c.enable("UTF8=ACCEPT"))
    ok(c.select("INBOX"))
    data = ok(c.fetch("1", "(PREVIEW)"))
    text = data[0].decode()
    p = preview_of(text)
    assert len(p) <= 256 and words.startswith(p), p
    assert len(p) >= 250
    c.logout()


def test_preview_lazy(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    fill(h)
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    # not made yet: LAZY asks for no work (RFC 8970 4)
    lines = r.cmd("a", "FETCH 1 (PREVIEW (LAZY))")
    assert lines[0] == "* 1 FETCH (PREVIEW NIL)", lines
    lines = r.cmd("b", "FETCH 1 PREVIEW (LAZY)")
    assert lines[0] == "* 1 FETCH (PREVIEW NIL)", lines
    lines = r.cmd("c", "FETCH 1 (PREVIEW)")
    assert lines[0] == '* 1 FETCH (PREVIEW "Hello, world again")', lines
    # now cached: LAZY gets it
    lines = r.cmd("d", "FETCH 1 (UID PREVIEW (LAZY))")
    assert lines[0] == '* 1 FETCH (UID 1 PREVIEW "Hello, world again")', \
        lines
    # asked for both ways: made
    lines = r.cmd("e", "FETCH 2 (PREVIEW (LAZY) PREVIEW)")
    assert lines[0] == '* 2 FETCH (PREVIEW "Hi there & you second")', lines
    r.close()


def test_preview_downgraded_for_legacy_sessions(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    fill(h)
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("a", "FETCH 3:4 (PREVIEW)")
    assert lines[-1].startswith("a OK"), lines
    for ln, want in zip(lines[:2], ("Grüße aus Köln", "café crème brûlée")):
        p = preview_of(ln)
        assert p.isascii() and "=?UTF-8?" in p, ln
        decoded = "".join(
            t.decode(cs) if isinstance(t, bytes) and cs else
            (t.decode() if isinstance(t, bytes) else t)
            for t, cs in email.header.decode_header(p))
        assert decoded.replace(" ", "") == want.replace(" ", ""), decoded
    # ASCII text stays as it is
    lines = r.cmd("b", "FETCH 1 (PREVIEW)")
    assert lines[0] == '* 1 FETCH (PREVIEW "Hello, world again")', lines
    r.close()


def test_preview_errors(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    fill(h)
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    for tag, text in (("a", "FETCH 1 (PREVIEW (FOO))"),
                      ("b", "FETCH 1 (PREVIEW ())"),
                      ("c", "FETCH 1 PREVIEW (LAZY FOO)"),
                      ("d", "FETCH 1 (PREVIEW[])"),
                      ("e", "FETCH 1 (PREVIEW (LAZY) (LAZY))")):
        lines = r.cmd(tag, text)
        assert lines[-1].startswith(f"{tag} BAD"), (text, lines)
    # the session goes on
    lines = r.cmd("f", "FETCH 7 (PREVIEW)")
    assert lines == ['* 7 FETCH (PREVIEW "")', "f OK FETCH completed"], lines
    r.close()
