"""IMAP METADATA and METADATA-SERVER (RFC 5464, issue 13 item 8):
SETMETADATA and GETMETADATA on mailboxes and on the server (""), DEPTH and
MAXSIZE with [METADATA LONGENTRIES n], the limits ([METADATA MAXSIZE n],
[METADATA TOOMANY], all or nothing), entry-name syntax (BAD), binary
values in literal8 with NUL octets, values across a restart, DELETE and
RENAME, /private/specialuse (RFC 6154), the server's read-only /shared
entries, and a second user who never sees the first one's /private
entries. A raw socket client: imaplib has no METADATA commands and cannot
read literal8."""
import re
import socket

from imap_util import PASSWORD, USER, USER2, server


class Conn:
    """Sends commands (bytes, literals as {n+} / ~{n+}) and reads whole
    responses with their literals."""

    def __init__(self, h, user=USER, login=True):
        self.sock = socket.create_connection(("127.0.0.1", h.ports["imap"]),
                                             timeout=15)
        self.f = self.sock.makefile("rb")
        self.greeting = self.f.readline()
        self.n = 0
        if login:
            lines = self.cmd(f'LOGIN "{user}" "{PASSWORD}"')
            assert lines[-1].split()[1] == b"OK", lines

    def response(self):
        """One response line with any literal data inline, as bytes."""
        out = b""
        while True:
            line = self.f.readline()
            assert line, f"connection closed after {out!r}"
            out += line
            m = re.search(rb"~?\{(\d+)\}\r\n$", line)
            if not m:
                return out.rstrip(b"\r\n")
            out += self.f.read(int(m.group(1)))

    def cmd(self, *parts):
        """Runs a command (str / bytes parts joined by nothing); the
        responses up to the tagged one."""
        self.n += 1
        tag = f"t{self.n}".encode()
        data = b"".join(p.encode() if isinstance(p, str) else p
                        for p in parts)
        self.sock.sendall(tag + b" " + data + b"\r\n")
        lines = []
        while True:
            r = self.response()
            lines.append(r)
            if r.startswith(tag + b" "):
                return lines

    def close(self):
        self.sock.close()


def lit(value):
    """A non-synchronising literal (LITERAL+ after login)."""
    return b"{%d+}\r\n" % len(value) + value


def lit8(value):
    return b"~{%d+}\r\n" % len(value) + value


def tokens(data):
    """The IMAP tokens of a response: atoms and strings as bytes, NIL as
    None, lists as Python lists."""
    pos = 0

    def parse():
        nonlocal pos
        out = []
        while pos < len(data):
            c = data[pos:pos + 1]
            if c == b" ":
                pos += 1
            elif c == b"(":
                pos += 1
                out.append(parse())
            elif c == b")":
                pos += 1
                return out
            elif c == b'"':
                pos += 1
                s = b""
                while data[pos:pos + 1] != b'"':
                    if data[pos:pos + 1] == b"\\":
                        pos += 1
                    s += data[pos:pos + 1]
                    pos += 1
                pos += 1
                out.append(s)
            elif c in (b"{", b"~"):
                m = re.compile(rb"~?\{(\d+)\}\r\n").match(data, pos)
                n = int(m.group(1))
                pos = m.end()
                out.append(data[pos:pos + n])
                pos += n
            else:
                m = re.compile(rb"[^ ()]+").match(data, pos)
                pos = m.end()
                out.append(None if m.group(0).upper() == b"NIL"
                           else m.group(0))
        return out

    return parse()


def metadata(lines):
    """{mailbox: {entry: value}} of the METADATA responses in lines."""
    out = {}
    for ln in lines:
        if ln.startswith(b"* METADATA "):
            t = tokens(ln[len(b"* METADATA "):])
            assert len(t) == 2 and isinstance(t[1], list), ln
            vals = t[1]
            assert len(vals) % 2 == 0, ln
            d = out.setdefault(t[0].decode(), {})
            for i in range(0, len(vals), 2):
                d[vals[i].decode()] = vals[i + 1]
    return out


def tagged(lines):
    return lines[-1].split(b" ", 2)[1:]


def assert_ok(lines):
    assert tagged(lines)[0] == b"OK", lines
    return lines


def md_server(factory, imap="", users=(USER, USER2)):
    return server(factory, listeners=("imap",), imap=imap, users=users)


def test_capabilities(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h, login=False)
    before = c.cmd("CAPABILITY")[0].split()
    assert b"METADATA" not in before and b"METADATA-SERVER" not in before
    # commands need a login (RFC 5464 4.2, 4.3)
    assert tagged(c.cmd("GETMETADATA INBOX /private/comment"))[0] == b"BAD"
    assert_ok(c.cmd(f'LOGIN "{USER}" "{PASSWORD}"'))
    after = c.cmd("CAPABILITY")[0].split()
    assert b"METADATA" in after and b"METADATA-SERVER" in after, after
    c.close()


def test_set_get_delete(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h)
    assert_ok(c.cmd('SETMETADATA INBOX (/private/comment "My comment"'
                    ' /shared/comment "Its sunny outside!")'))
    lines = assert_ok(c.cmd("GETMETADATA INBOX (/private/comment"
                            " /shared/comment)"))
    assert metadata(lines) == {"INBOX": {
        "/private/comment": b"My comment",
        "/shared/comment": b"Its sunny outside!"}}, lines
    # one entry without a list; names are case-insensitive
    lines = assert_ok(c.cmd('GETMETADATA "inbox" /Private/COMMENT'))
    assert metadata(lines) == {"INBOX": {"/private/comment":
                                         b"My comment"}}, lines
    # an entry that is not set reads NIL
    lines = assert_ok(c.cmd("GETMETADATA INBOX /private/vendor/x"))
    assert metadata(lines) == {"INBOX": {"/private/vendor/x": None}}
    # replaced, then removed with NIL; an empty string is a value
    assert_ok(c.cmd('SETMETADATA INBOX (/private/comment "")'))
    lines = assert_ok(c.cmd("GETMETADATA INBOX /private/comment"))
    assert metadata(lines) == {"INBOX": {"/private/comment": b""}}
    assert_ok(c.cmd("SETMETADATA INBOX (/private/comment NIL"
                    " /shared/comment nil)"))
    lines = assert_ok(c.cmd("GETMETADATA INBOX (/private/comment"
                            " /shared/comment)"))
    assert metadata(lines) == {"INBOX": {"/private/comment": None,
                                         "/shared/comment": None}}
    # removing what is not there is fine
    assert_ok(c.cmd("SETMETADATA INBOX (/private/comment NIL)"))
    lines = c.cmd("GETMETADATA Nowhere /private/comment")
    assert tagged(lines)[0] == b"NO" and b"[NONEXISTENT]" in lines[-1]
    lines = c.cmd('SETMETADATA Nowhere (/private/comment "x")')
    assert tagged(lines)[0] == b"NO" and b"[NONEXISTENT]" in lines[-1]
    c.close()


def test_depth(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h)
    assert_ok(c.cmd('SETMETADATA Drafts (/private/vendor/x/a "1"'
                    ' /private/vendor/x/a/b "2" /private/vendor/x/c "3"'
                    ' /private/vendor/xy "4" /shared/vendor/x/s "5")'))
    lines = assert_ok(c.cmd("GETMETADATA Drafts /private/vendor/x"))
    assert metadata(lines) == {"Drafts": {"/private/vendor/x": None}}
    lines = assert_ok(c.cmd("GETMETADATA (DEPTH 1) Drafts"
                            " /private/vendor/x"))
    assert metadata(lines) == {"Drafts": {"/private/vendor/x/a": b"1",
                                          "/private/vendor/x/c": b"3"}}
    # the options after the mailbox, as RFC 5464's examples have them
    lines = assert_ok(c.cmd("GETMETADATA Drafts (DEPTH infinity)"
                            " /private/vendor/x"))
    assert metadata(lines) == {"Drafts": {"/private/vendor/x/a": b"1",
                                          "/private/vendor/x/a/b": b"2",
                                          "/private/vendor/x/c": b"3"}}
    # the /private root: every private entry, the special-use one too
    lines = assert_ok(c.cmd("GETMETADATA (DEPTH infinity) Drafts"
                            " /private"))
    assert metadata(lines) == {"Drafts": {
        "/private/vendor/x/a": b"1", "/private/vendor/x/a/b": b"2",
        "/private/vendor/x/c": b"3", "/private/vendor/xy": b"4",
        "/private/specialuse": b"\\Drafts"}}, lines
    lines = assert_ok(c.cmd("GETMETADATA (DEPTH 1) Drafts (/shared"
                            " /shared/vendor/x)"))
    assert metadata(lines) == {"Drafts": {"/shared/vendor/x/s": b"5"}}
    # nothing there: no METADATA response at all
    lines = assert_ok(c.cmd("GETMETADATA (DEPTH infinity) INBOX /shared"))
    assert metadata(lines) == {}, lines
    c.close()


def test_maxsize_longentries(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h)
    assert_ok(c.cmd(b"SETMETADATA INBOX (/private/small \"tiny\""
                    b" /private/big " + lit(b"x" * 100) +
                    b" /private/bigger " + lit(b"y" * 300) + b")"))
    lines = assert_ok(c.cmd("GETMETADATA (MAXSIZE 50) INBOX"
                            " (/private/small /private/big"
                            " /private/bigger)"))
    # left out, not NIL; the biggest one's size in the tagged OK
    assert metadata(lines) == {"INBOX": {"/private/small": b"tiny"}}
    assert b"OK [METADATA LONGENTRIES 300]" in lines[-1], lines
    lines = assert_ok(c.cmd("GETMETADATA (MAXSIZE 100 DEPTH 1) INBOX"
                            " /private"))
    assert metadata(lines) == {"INBOX": {"/private/small": b"tiny",
                                         "/private/big": b"x" * 100}}
    assert b"[METADATA LONGENTRIES 300]" in lines[-1], lines
    lines = assert_ok(c.cmd("GETMETADATA (MAXSIZE 1000) INBOX"
                            " /private/small"))
    assert b"LONGENTRIES" not in lines[-1]
    c.close()


LIMITS = ("metadata_value_max = 1024\n"
          "metadata_mailbox_entries_max = 10\n"
          "metadata_account_entries_max = 14\n"
          "metadata_account_size_max = 4096\n")


def entries(prefix, n, start=0, value=b"v"):
    return b" ".join(b"%s%d " % (prefix, i) + lit(value)
                     for i in range(start, start + n))


def test_limits(herald_factory):
    h = md_server(herald_factory, imap=LIMITS)
    c = Conn(h)
    lines = c.cmd(b"SETMETADATA INBOX (/private/v " + lit(b"a" * 1025) +
                  b")")
    assert b"NO [METADATA MAXSIZE 1024]" in lines[-1], lines
    assert_ok(c.cmd(b"SETMETADATA INBOX (/private/v " + lit(b"a" * 1024) +
                    b")"))
    # ten entries a mailbox, shared and private together
    assert_ok(c.cmd(b"SETMETADATA INBOX (" +
                    entries(b"/shared/e", 5) + b" " +
                    entries(b"/private/e", 4) + b")"))
    lines = c.cmd(b'SETMETADATA INBOX (/private/e7 "x" /private/e8 "y")')
    assert tagged(lines)[0] == b"NO", lines
    assert b"[METADATA TOOMANY]" in lines[-1], lines
    # all or nothing: e7 was not set either
    lines = assert_ok(c.cmd("GETMETADATA INBOX /private/e7"))
    assert metadata(lines) == {"INBOX": {"/private/e7": None}}
    # replacing a value adds no entry; removing one frees a place
    assert_ok(c.cmd('SETMETADATA INBOX (/private/e0 "new")'))
    assert_ok(c.cmd('SETMETADATA INBOX (/private/e0 NIL /private/e7 "x")'))
    # fourteen an account: 10 in INBOX, 4 more elsewhere
    assert_ok(c.cmd(b"SETMETADATA Drafts (" + entries(b"/shared/d", 3) +
                    b")"))
    assert_ok(c.cmd('SETMETADATA "" (/private/s "1")'))
    lines = c.cmd('SETMETADATA Trash (/shared/t "1")')
    assert b"NO [METADATA TOOMANY]" in lines[-1], lines
    # the other user has his own count
    b = Conn(h, USER2)
    assert_ok(b.cmd(b"SETMETADATA INBOX (" + entries(b"/shared/e", 10) +
                    b")"))
    b.close()
    c.close()


def test_account_size_limit(herald_factory):
    h = md_server(herald_factory, imap=LIMITS)
    c = Conn(h)
    for i in range(3):
        assert_ok(c.cmd(b"SETMETADATA INBOX (/private/v%d " % i +
                        lit(b"a" * 1020) + b")"))
    # names and values count: 3 x (11 + 1020) + 11 + 1000 > 4096
    lines = c.cmd(b"SETMETADATA Drafts (/shared/big " + lit(b"b" * 1000) +
                  b")")
    assert b"NO [METADATA TOOMANY]" in lines[-1], lines
    # shrinking a value is allowed
    assert_ok(c.cmd(b"SETMETADATA INBOX (/private/v0 " + lit(b"a" * 10) +
                    b")"))
    assert_ok(c.cmd(b"SETMETADATA Drafts (/shared/big " + lit(b"b" * 1000) +
                    b")"))
    c.close()


BAD_NAMES = [b"/private/a*b", b"/private/a%", b"/private//a",
             b"/private/a/", b"/foo/a", b"private/a", b"/privatex/a",
             b"/shared", b"/private", b"", b"/"]


def test_bad_entry_names(herald_factory):
    h = md_server(herald_factory)

    class C:
        # a new session every 10 commands: one is closed after 20 BADs
        # ([imap] max_errors)
        conn = None
        n = 0

        def cmd(self, *parts):
            if self.n % 10 == 0:
                if self.conn:
                    self.conn.close()
                self.conn = Conn(h)
            self.n += 1
            return self.conn.cmd(*parts)

    c = C()
    for name in BAD_NAMES:
        lines = c.cmd(b"SETMETADATA INBOX (" + lit(name) + b' "v")')
        assert tagged(lines)[0] == b"BAD", (name, lines)
    for name in (b"/private/a\x01b", b"/private/\x7f", "/private/é".encode(),
                 b"/shared/a\tb"):
        lines = c.cmd(b"SETMETADATA INBOX (" + lit(name) + b' "v")')
        assert tagged(lines)[0] == b"BAD", (name, lines)
        lines = c.cmd(b"GETMETADATA INBOX " + lit(name))
        assert tagged(lines)[0] == b"BAD", (name, lines)
    for args in ("INBOX /private/a*", "INBOX (/shared/x /private/%)",
                 "INBOX ()", "(DEPTH 2) INBOX /shared",
                 "(MAXSIZE x) INBOX /shared/a", "(DEPTH 1 DEPTH 1) INBOX"
                 " /shared", "(FOO 1) INBOX /shared/a", "() INBOX /shared/a",
                 "INBOX", "(DEPTH 1) (DEPTH 1) /shared/a"):
        lines = c.cmd("GETMETADATA " + args)
        assert tagged(lines)[0] == b"BAD", (args, lines)
    for args in ("INBOX (/private/a)", "INBOX ()", "INBOX /private/a x",
                 "INBOX (/private/a x)", "INBOX (/private/a (x))",
                 "(INBOX) (/private/a NIL)"):
        lines = c.cmd("SETMETADATA " + args)
        assert tagged(lines)[0] == b"BAD", (args, lines)
    # nothing was stored by any of them
    lines = assert_ok(c.cmd("GETMETADATA (DEPTH infinity) INBOX"
                            " (/private /shared)"))
    assert metadata(lines) == {}, lines
    c.conn.close()


def test_binary_values(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h)
    blob = bytes(range(256)) + b"\x00\r\n\x00end"
    text = "Grüße\r\nzweite Zeile".encode()
    assert_ok(c.cmd(b"SETMETADATA INBOX (/private/vendor/bin " + lit8(blob) +
                    b" /shared/vendor/text " + lit(text) + b")"))
    lines = assert_ok(c.cmd("GETMETADATA INBOX (/private/vendor/bin"
                            " /shared/vendor/text)"))
    got = metadata(lines)["INBOX"]
    assert got["/private/vendor/bin"] == blob
    assert got["/shared/vendor/text"] == text
    # a value with NUL goes out as literal8 (RFC 5464 5: value = nstring
    # / literal8), the text one as a literal
    raw = b"".join(lines)
    assert b"~{%d}\r\n" % len(blob) in raw, raw[:200]
    assert b"~{%d}" % len(text) not in raw
    c.close()


def test_values_survive_restart(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h)
    assert_ok(c.cmd(b"SETMETADATA Sent (/shared/comment " +
                    lit8(b"kept\x00over") + b")"))
    assert_ok(c.cmd('SETMETADATA "" (/private/vendor/app "state")'))
    c.close()
    h.stop()
    h.start()
    c = Conn(h)
    lines = assert_ok(c.cmd("GETMETADATA Sent /shared/comment"))
    assert metadata(lines) == {"Sent": {"/shared/comment": b"kept\x00over"}}
    lines = assert_ok(c.cmd('GETMETADATA "" /private/vendor/app'))
    assert metadata(lines) == {"": {"/private/vendor/app": b"state"}}
    c.close()


def test_delete_and_rename(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h)
    assert_ok(c.cmd("CREATE Proj/Sub"))
    assert_ok(c.cmd('SETMETADATA Proj (/shared/comment "team")'))
    assert_ok(c.cmd('SETMETADATA Proj/Sub (/private/comment "mine")'))
    # RENAME keeps them, children's too (RFC 5464 4.1)
    assert_ok(c.cmd("RENAME Proj Work"))
    lines = assert_ok(c.cmd("GETMETADATA Work /shared/comment"))
    assert metadata(lines) == {"Work": {"/shared/comment": b"team"}}
    lines = assert_ok(c.cmd("GETMETADATA Work/Sub /private/comment"))
    assert metadata(lines) == {"Work/Sub": {"/private/comment": b"mine"}}
    lines = c.cmd("GETMETADATA Proj /shared/comment")
    assert b"NO [NONEXISTENT]" in lines[-1], lines
    # a new mailbox of the old name starts empty
    assert_ok(c.cmd("CREATE Proj"))
    lines = assert_ok(c.cmd("GETMETADATA Proj /shared/comment"))
    assert metadata(lines) == {"Proj": {"/shared/comment": None}}
    # DELETE takes them with it
    assert_ok(c.cmd("DELETE Work/Sub"))
    assert_ok(c.cmd("CREATE Work/Sub"))
    lines = assert_ok(c.cmd("GETMETADATA Work/Sub /private/comment"))
    assert metadata(lines) == {"Work/Sub": {"/private/comment": None}}
    assert_ok(c.cmd("DELETE Work/Sub"))
    assert_ok(c.cmd("DELETE Work"))
    c.close()
    rows = h.db().execute("SELECT count(*) FROM metadata").fetchone()[0]
    assert rows == 0, rows


def test_server_entries(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h)
    assert_ok(c.cmd('SETMETADATA "" (/private/comment "my server note")'))
    lines = assert_ok(c.cmd('GETMETADATA "" (/private/comment'
                            ' /shared/comment /shared/admin)'))
    # no admin address in the configuration: /shared/admin is NIL
    assert metadata(lines) == {"": {"/private/comment": b"my server note",
                                    "/shared/comment": None,
                                    "/shared/admin": None}}, lines
    # the server's shared entries are the administrator's
    lines = c.cmd('SETMETADATA "" (/shared/comment "hello all")')
    assert b"NO [NOPERM]" in lines[-1], lines
    lines = c.cmd('SETMETADATA "" (/shared/admin NIL)')
    assert b"NO [NOPERM]" in lines[-1], lines
    # server entries are not INBOX's
    lines = assert_ok(c.cmd("GETMETADATA INBOX /private/comment"))
    assert metadata(lines) == {"INBOX": {"/private/comment": None}}
    c.close()


def test_private_is_per_user(herald_factory):
    h = md_server(herald_factory)
    a = Conn(h, USER)
    b = Conn(h, USER2)
    assert_ok(a.cmd('SETMETADATA "" (/private/vendor/secret "alice")'))
    assert_ok(a.cmd('SETMETADATA INBOX (/private/comment "alice inbox"'
                    ' /shared/comment "alice shared")'))
    lines = assert_ok(b.cmd('GETMETADATA (DEPTH infinity) "" /private'))
    assert metadata(lines) == {}, lines
    lines = assert_ok(b.cmd('GETMETADATA "" /private/vendor/secret'))
    assert metadata(lines) == {"": {"/private/vendor/secret": None}}
    lines = assert_ok(b.cmd("GETMETADATA INBOX (/private/comment"
                            " /shared/comment)"))
    assert metadata(lines) == {"INBOX": {"/private/comment": None,
                                         "/shared/comment": None}}
    assert_ok(b.cmd('SETMETADATA "" (/private/vendor/secret "bob")'))
    lines = assert_ok(a.cmd('GETMETADATA "" /private/vendor/secret'))
    assert metadata(lines) == {"": {"/private/vendor/secret": b"alice"}}
    a.close()
    b.close()


def test_specialuse_entry(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h)
    lines = assert_ok(c.cmd("GETMETADATA Junk /private/specialuse"))
    assert metadata(lines) == {"Junk": {"/private/specialuse": b"\\Junk"}}
    lines = assert_ok(c.cmd("GETMETADATA INBOX /private/specialuse"))
    assert metadata(lines) == {"INBOX": {"/private/specialuse": None}}
    assert_ok(c.cmd("CREATE Notes"))
    lines = assert_ok(c.cmd("GETMETADATA Notes /private/specialuse"))
    assert metadata(lines) == {"Notes": {"/private/specialuse": None}}
    # read-only: SPECIAL-USE is set with CREATE (USE (...))
    lines = c.cmd('SETMETADATA Notes (/private/specialuse "\\\\Flagged")')
    assert b"NO [CANNOT]" in lines[-1], lines
    lines = c.cmd("SETMETADATA Junk (/private/specialuse NIL)")
    assert b"NO [CANNOT]" in lines[-1], lines
    lines = assert_ok(c.cmd("GETMETADATA Junk /private/specialuse"))
    assert metadata(lines) == {"Junk": {"/private/specialuse": b"\\Junk"}}
    c.close()


def test_utf8_mailbox_name(herald_factory):
    h = md_server(herald_factory)
    c = Conn(h)
    # modified UTF-7 in, modified UTF-7 out (no UTF8=ACCEPT)
    assert_ok(c.cmd("CREATE Gr&APw-n"))
    assert_ok(c.cmd('SETMETADATA Gr&APw-n (/shared/comment "gruen")'))
    lines = assert_ok(c.cmd("GETMETADATA Gr&APw-n /shared/comment"))
    assert metadata(lines) == {"Gr&APw-n": {"/shared/comment": b"gruen"}}
    c.close()
