"""REPLACE and UID REPLACE (RFC 8508): the new message stored and the old
one expunged in one store operation, into another mailbox or the selected
one, the untagged APPENDUID and EXPUNGE, and the errors (a bad sequence
number, an unknown UID, a missing target mailbox that leaves the old
message in place, a read-only mailbox, two messages). imaplib has no
REPLACE: raw lines with LITERAL+ literals, imaplib to check the result."""
import re

from imap_util import Raw, login, make_msg, ok, server


def literal(msg):
    return f"{{{len(msg)}+}}\r\n".encode() + msg


def replace(r, tag, text, msg):
    r.send(f"{tag} {text} ".encode() + literal(msg) + b"\r\n")
    return r.until_tagged(tag)


def subjects(c, mailbox):
    ok(c.select(mailbox))
    data = ok(c.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS "
                              "(SUBJECT)])"))
    out = []
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1)
            subj = item[1].decode().strip().split(": ", 1)[1]
            out.append((uid, subj, flags.decode()))
    return out


def fill(h, n=3):
    c = login(h)
    for i in range(1, n + 1):
        ok(c.append("INBOX", None, None, make_msg(i)))
    return c


def test_replace_into_another_mailbox(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = fill(h)
    assert b"REPLACE" in ok(c.capability())[0].split()
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    new = make_msg(10, subject="draft v2")
    lines = replace(r, "r", "REPLACE 2 Drafts (\\Seen \\Draft)", new)
    assert len(lines) == 3, lines
    m = re.fullmatch(r"\* OK \[APPENDUID (\d+) 1\] .*", lines[0])
    assert m, lines
    assert lines[1] == "* 2 EXPUNGE", lines
    assert lines[2] == "r OK REPLACE completed", lines
    # the sequence numbers moved: message 2 is the old 3
    lines = r.cmd("f", "FETCH 2 (UID)")
    assert lines[0] == "* 2 FETCH (UID 3)", lines
    r.close()
    assert [s for _, s, _ in subjects(c, "INBOX")] == ["message 1",
                                                        "message 3"]
    drafts = subjects(c, "Drafts")
    assert [(u, s) for u, s, _ in drafts] == [(1, "draft v2")]
    assert set(drafts[0][2].split()) >= {"\\Seen", "\\Draft"}
    ok(c.select("Drafts"))
    assert int(ok(c.status("Drafts", "(UIDVALIDITY)"))[0].split()[-1]
               .strip(b")")) == int(m.group(1))
    c.logout()


def test_uid_replace_in_the_selected_mailbox(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = fill(h)
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = replace(r, "u", 'UID REPLACE 1 INBOX "7-Dec-2026 10:00:00 +0000"',
                    make_msg(20, subject="replaced"))
    assert lines[-1] == "u OK UID REPLACE completed", lines
    assert re.fullmatch(r"\* OK \[APPENDUID \d+ 4\] .*", lines[0]), lines
    assert "* 1 EXPUNGE" in lines and "* 3 EXISTS" in lines, lines
    assert lines.index("* 1 EXPUNGE") < lines.index("* 3 EXISTS"), lines
    lines = r.cmd("f", "FETCH 1:* (UID INTERNALDATE)")
    assert [ln.split(" (")[1].split()[1] for ln in lines[:-1]] == \
        ["2", "3", "4"], lines
    assert '"07-Dec-2026 10:00:00 +0000"' in lines[2] or \
        '" 7-Dec-2026 10:00:00 +0000"' in lines[2], lines
    # * is the last message
    lines = replace(r, "v", "REPLACE * INBOX", make_msg(21, subject="last"))
    assert lines[-1] == "v OK REPLACE completed", lines
    assert "* 3 EXPUNGE" in lines and "* 3 EXISTS" in lines, lines
    r.close()
    assert [(u, s) for u, s, _ in subjects(c, "INBOX")] == \
        [(2, "message 2"), (3, "message 3"), (5, "last")]
    c.logout()


def test_replace_errors_keep_the_old_message(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = fill(h)
    r = Raw(h)
    r.login()
    # not selected
    lines = replace(r, "a", "REPLACE 1 INBOX", make_msg(30))
    assert lines[-1].startswith("a BAD"), lines
    r.cmd("s", "SELECT INBOX")
    msg = make_msg(31)
    for tag, text, want in (
            ("b", "REPLACE 4 INBOX", "BAD"),
            ("c", "REPLACE 0 INBOX", "BAD"),
            ("d", "UID REPLACE 99 INBOX", "NO"),
            ("e", "REPLACE 1:2 INBOX", "BAD"),
            ("f", "UID REPLACE * INBOX", "BAD"),
            ("g", "REPLACE 1 Nowhere", "NO [TRYCREATE]")):
        lines = replace(r, tag, text, msg)
        assert lines[-1].startswith(f"{tag} {want}"), (text, lines)
        assert not any("EXPUNGE" in ln for ln in lines), lines
    # two messages: REPLACE takes one
    r.send(b"h REPLACE 1 INBOX " + literal(msg) + b" " + literal(msg) +
           b"\r\n")
    lines = r.until_tagged("h")
    assert lines[-1].startswith("h BAD"), lines
    # no message at all
    lines = r.cmd("i", "REPLACE 1 INBOX")
    assert lines[-1].startswith("i BAD"), lines
    # read-only
    r.cmd("x", "EXAMINE INBOX")
    lines = replace(r, "j", "REPLACE 1 INBOX", msg)
    assert lines[-1].startswith("j NO [READ-ONLY]"), lines
    r.close()
    assert [s for _, s, _ in subjects(c, "INBOX")] == \
        ["message 1", "message 2", "message 3"]
    assert "Nowhere" not in str(ok(c.list()))
    c.logout()


def test_replace_seen_by_another_session(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = fill(h, 2)
    ok(c.select("INBOX"))
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = replace(r, "r", "UID REPLACE 2 INBOX",
                    make_msg(40, subject="v2"))
    assert lines[-1] == "r OK UID REPLACE completed", lines
    r.close()
    # the other session learns both changes at its next command
    typ, data = c.noop()
    assert typ == "OK"
    assert ok(c.uid("SEARCH", "ALL"))[0].split() == [b"1", b"3"]
    c.logout()
