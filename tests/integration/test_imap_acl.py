"""ACL (RFC 4314) and shared folders (issue 13 item 7): alice shares "Team"
with bob (SETACL, and `herald share`); bob finds it under the "Other
Users" namespace (RFC 2342), appends to it and alice's IDLE sees the new
message within a second, also from the other worker; carol, with no
right, gets for every command on it the answer she gets for a mailbox
that does not exist; a grantee missing exactly one right is refused the
command that needs it with NO [NOPERM]; PERMANENTFLAGS and READ-ONLY /
READ-WRITE follow the rights; the owner is never locked out."""
import re
import subprocess
import time

import pytest

from harness import DOMAIN
from imap_util import (USER, USER2, Raw, login, make_msg, ok, read_until,
                       server, worker_of)

CAROL = f"carol@{DOMAIN}"
ALICE, BOB = USER, USER2
TEAM = f"Other Users/{ALICE}/Team"
NOPE = f"Other Users/{ALICE}/Nope"
ALL = "lrswipkxtea"


def acl_server(herald_factory, **kw):
    h = server(herald_factory, listeners=("imap", "smtp"),
               users=(ALICE, BOB, CAROL), **kw)
    a = Raw(h)
    a.login(ALICE)
    assert a.cmd("c", "CREATE Team")[-1].startswith("c OK")
    a.close()
    return h


def raw(h, user):
    r = Raw(h)
    r.login(user)
    return r


def tagged(lines):
    return lines[-1].split(" ", 1)[1]


def q(name):
    return '"' + name + '"'


def setacl(h, who, rights, box="Team"):
    a = raw(h, ALICE)
    lines = a.cmd("s", f"SETACL {box} {who} {rights}")
    assert lines[-1].startswith("s OK"), lines
    a.close()


def idle_start(r, tag="I1"):
    r.send(f"{tag} IDLE\r\n")
    ln = r.line()
    assert ln.startswith("+ "), ln


def test_capabilities_and_namespace(herald_factory):
    h = acl_server(herald_factory)
    r = Raw(h)
    assert " ACL" not in r.greeting
    caps = r.login()[-1]
    for words in (caps, r.cmd("c", "CAPABILITY")[0]):
        assert " ACL " in words + " ", words
        # RFC 4314 2.1.1 / 5.1.1: the rights beyond RFC 2086
        assert " RIGHTS=texk " in words + " ", words
    lines = r.cmd("n", "NAMESPACE")
    assert lines[0] == '* NAMESPACE (("" "/")) (("Other Users/" "/")) NIL', \
        lines
    r.close()


def bob_sees_team_and_alice_idles(h):
    """The done-when: bob lists Team under the other users' namespace,
    appends to it, and alice's IDLE on Team (on the other worker than
    bob's session when there are two) sees it within a second."""
    b = raw(h, BOB)
    lines = b.cmd("l", 'LIST "" "*"')
    assert f'* LIST (\\HasNoChildren) "/" "{TEAM}"' in lines, lines
    assert '* LIST (\\Noselect \\HasChildren) "/" "Other Users"' in lines, \
        lines
    assert f'* LIST (\\Noselect \\HasChildren) "/" "Other Users/{ALICE}"' \
        in lines, lines
    # the namespace root alone, as clients walk it (CLIENT-QUIRKS)
    lines = b.cmd("l2", 'LIST "" "%"')
    assert '* LIST (\\Noselect \\HasChildren) "/" "Other Users"' in lines, \
        lines
    lines = b.cmd("l3", 'LIST "Other Users/" "%"')
    assert lines[:-1] == [
        f'* LIST (\\Noselect \\HasChildren) "/" "Other Users/{ALICE}"'], lines

    a = Raw(h)
    a.login(ALICE)
    alice_pid = worker_of(h, "imap", a.sock.getsockname()[1])
    assert "* 0 EXISTS" in a.cmd("s", "SELECT Team")
    idle_start(a)
    _, workers = h.pids()
    if len(workers) > 1:
        for _ in range(100):
            if worker_of(h, "imap", b.sock.getsockname()[1]) != alice_pid:
                break
            b.close()
            b = raw(h, BOB)
        else:
            pytest.fail("every connection landed on alice's worker")
    msg = make_msg(1).decode()
    b.send(f"A1 APPEND {q(TEAM)} (\\Seen) {{{len(msg)}}}\r\n")
    assert b.line().startswith("+ ")
    b.send(msg + "\r\n")
    lines = b.until_tagged("A1")
    t0 = time.monotonic()
    assert lines[-1].startswith("A1 OK [APPENDUID "), lines
    lines, found = read_until(a, lambda ln: ln == "* 1 EXISTS", 5)
    elapsed = time.monotonic() - t0
    assert found, lines
    assert elapsed < 1.0, f"EXISTS after {elapsed:.3f} s"
    a.send("DONE\r\n")
    assert a.until_tagged("I1")[-1].startswith("I1 OK")
    # the message is alice's, with the \Seen bob had the right to keep
    lines = a.cmd("f", "FETCH 1 (FLAGS)")
    assert "FLAGS (\\Seen)" in lines[0], lines
    a.close()
    return b


def test_done_when_setacl(herald_factory):
    h = acl_server(herald_factory, workers=2)
    setacl(h, BOB, "lrswite")
    b = bob_sees_team_and_alice_idles(h)
    # bob reads and writes it like his own
    lines = b.cmd("s", f"SELECT {q(TEAM)}")
    assert "* 1 EXISTS" in lines, lines
    assert lines[-1].startswith("s OK [READ-WRITE]"), lines
    assert "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen " \
           "\\Draft \\*)] Flags permitted" in lines, lines
    lines = b.cmd("f", "FETCH 1 (FLAGS)")
    assert lines[0] == "* 1 FETCH (FLAGS (\\Seen))", lines
    assert b.cmd("t", "STORE 1 +FLAGS (\\Flagged $Team)")[-1] \
        .startswith("t OK")
    lines = b.cmd("x", "SEARCH TEXT \"message 1\"")
    assert "* SEARCH 1" in lines, lines
    assert b.cmd("st", f"STATUS {q(TEAM)} (MESSAGES UNSEEN)")[0] == \
        f'* STATUS "{TEAM}" (MESSAGES 1 UNSEEN 0)'
    lines = b.cmd("m", f"MYRIGHTS {q(TEAM)}")
    assert lines[0] == f'* MYRIGHTS "{TEAM}" lrswited', lines
    b.close()


def test_done_when_herald_share(herald_factory):
    h = acl_server(herald_factory)
    p = h.cli("share", "add", ALICE, "Team", BOB, "lrswite")
    assert p.stdout == "", p.stdout
    p = h.cli("share", "list")
    assert p.stdout == f"{ALICE}\tTeam\t{BOB}\tlrswite\n", p.stdout
    p = h.cli("share", "list", ALICE)
    assert p.stdout == f"{ALICE}\tTeam\t{BOB}\tlrswite\n", p.stdout
    assert h.cli("share", "list", BOB).stdout == ""
    bob_sees_team_and_alice_idles(h).close()
    # +/- change what is there; the owner cannot be given or refused
    h.cli("share", "add", ALICE, "Team", BOB, "-we")
    h.cli("share", "add", ALICE, "Team", "anyone", "l")
    assert h.cli("share", "list").stdout == (
        f"{ALICE}\tTeam\tanyone\tl\n{ALICE}\tTeam\t{BOB}\tlrsit\n")
    p = h.cli("share", "add", ALICE, "Team", ALICE, "l", check=False)
    assert p.returncode == 1 and "always has every right" in p.stderr, p
    p = h.cli("share", "add", ALICE, "Team", BOB, "lrQ", check=False)
    assert p.returncode == 1 and "bad rights" in p.stderr, p
    p = h.cli("share", "add", ALICE, "Nope", BOB, "l", check=False)
    assert p.returncode == 1 and "no mailbox" in p.stderr, p
    p = h.cli("share", "add", ALICE, "Team", f"zed@{DOMAIN}", "l",
              check=False)
    assert p.returncode == 1 and "no account" in p.stderr, p
    assert h.cli("share", "add", check=False).returncode == 2
    h.cli("share", "remove", ALICE, "Team", BOB)
    h.cli("share", "remove", ALICE, "Team", "anyone")
    assert h.cli("share", "list").stdout == ""
    b = raw(h, BOB)
    assert not any(TEAM in ln for ln in b.cmd("l", 'LIST "" "*"'))
    b.close()
    p = subprocess.run([h.binary, "help"], capture_output=True, text=True,
                       timeout=60)
    assert "share" in p.stdout, p.stdout
    assert "herald share add OWNER MAILBOX GRANTEE RIGHTS" in \
        h.cli("share", "--help").stdout


# Every command that names a mailbox, with what carol sends for it; each
# answer must be the one she gets for a mailbox that does not exist.
def carol_commands(name):
    msg = make_msg(9).decode()
    return [
        ("SELECT", f"SELECT {q(name)}"),
        ("EXAMINE", f"EXAMINE {q(name)}"),
        ("STATUS", f"STATUS {q(name)} (MESSAGES)"),
        ("APPEND", (f"APPEND {q(name)} {{{len(msg)}+}}\r\n{msg}")),
        ("CREATE", f"CREATE {q(name + '/sub')}"),
        ("DELETE", f"DELETE {q(name)}"),
        ("RENAME", f"RENAME {q(name)} Mine"),
        ("RENAME-TO", f"RENAME INBOX {q(name + '/sub')}"),
        ("SUBSCRIBE", f"SUBSCRIBE {q(name)}"),
        ("UNSUBSCRIBE", f"UNSUBSCRIBE {q(name)}"),
        ("GETACL", f"GETACL {q(name)}"),
        ("SETACL", f"SETACL {q(name)} {CAROL} lr"),
        ("DELETEACL", f"DELETEACL {q(name)} {BOB}"),
        ("LISTRIGHTS", f"LISTRIGHTS {q(name)} {BOB}"),
        ("MYRIGHTS", f"MYRIGHTS {q(name)}"),
        ("GETQUOTAROOT", f"GETQUOTAROOT {q(name)}"),
    ]


def test_carol_without_rights_learns_nothing(herald_factory):
    h = acl_server(herald_factory)
    setacl(h, BOB, "lrswite")
    c = raw(h, CAROL)
    n = 0
    for (what, cmd), (_, nope) in zip(carol_commands(TEAM),
                                      carol_commands(NOPE)):
        n += 1
        got = c.cmd(f"t{n}", cmd)
        n += 1
        ref = c.cmd(f"t{n}", nope)
        assert tagged(got) == tagged(ref), (what, got, ref)
        assert all(TEAM not in ln for ln in got), (what, got)
        if what not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            assert tagged(got).startswith("NO "), (what, got)
    # SUBSCRIBE takes any name, as for one's own (it tells nothing); LIST
    # shows neither, LIST (SUBSCRIBED) shows both as not existing
    for name in (TEAM, NOPE):
        assert c.cmd("u", f"SUBSCRIBE {q(name)}")[-1].startswith("u OK")
    lines = c.cmd("l", 'LIST "" "*"')
    assert not any("Other Users" in ln for ln in lines), lines
    lines = c.cmd("l2", 'LIST (SUBSCRIBED) "" "Other Users/*"')
    assert lines[:-1] == [
        f'* LIST (\\Noselect \\Subscribed) "/" "{NOPE}"',
        f'* LIST (\\Noselect \\Subscribed) "/" "{TEAM}"'], lines
    # COPY and MOVE into it from her own INBOX
    ok_ = c.cmd("a", f"APPEND INBOX {{{len(make_msg(1))}+}}\r\n"
                     f"{make_msg(1).decode()}")
    assert ok_[-1].startswith("a OK"), ok_
    assert c.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    for verb in ("COPY", "MOVE", "UID COPY", "UID MOVE"):
        got = c.cmd("c1", f"{verb} 1 {q(TEAM)}")
        ref = c.cmd("c2", f"{verb} 1 {q(NOPE)}")
        assert tagged(got) == tagged(ref), (verb, got, ref)
        assert tagged(got).startswith("NO [TRYCREATE]"), got
    c.close()
    # nothing of it reached alice's mailbox
    a = raw(h, ALICE)
    assert "* 0 EXISTS" in a.cmd("s", "SELECT Team")
    lines = a.cmd("g", "GETACL Team")
    assert lines[0] == f"* ACL Team {ALICE} lrswipkxteacd {BOB} lrswited", \
        lines
    a.close()


def test_lookup_right_hides_and_shows(herald_factory):
    """Without "l" a grantee still uses what its other rights allow, but
    whatever it may not do is answered as for no mailbox (RFC 4314 6);
    with "l" alone it lists the mailbox and is refused with NOPERM."""
    h = acl_server(herald_factory)
    setacl(h, BOB, "r")
    b = raw(h, BOB)
    assert not any(TEAM in ln for ln in b.cmd("l", 'LIST "" "*"'))
    assert b.cmd("s", f"EXAMINE {q(TEAM)}")[-1].startswith("s OK")
    assert tagged(b.cmd("g", f"GETACL {q(TEAM)}")) == \
        tagged(b.cmd("g", f"GETACL {q(NOPE)}"))
    assert b.cmd("m", f"MYRIGHTS {q(TEAM)}")[0] == \
        f'* MYRIGHTS "{TEAM}" r'
    setacl(h, BOB, "l")
    assert f'* LIST (\\HasNoChildren) "/" "{TEAM}"' in \
        b.cmd("l", 'LIST "" "*"')
    lines = b.cmd("s", f"SELECT {q(TEAM)}")
    assert tagged(lines) == "NO [NOPERM] Permission denied (needs the r " \
                            "right)", lines
    # LIST-STATUS leaves out the STATUS it may not read
    lines = b.cmd("ls", 'LIST "" "Other Users/*" RETURN (STATUS (MESSAGES))')
    assert not any(ln.startswith("* STATUS") for ln in lines), lines
    b.close()


def refused(lines, right):
    t = tagged(lines)
    assert t.startswith("NO [NOPERM]") and f"needs the {right}" in t, lines


def bob_on_team(h, rights, select=True):
    setacl(h, BOB, rights)
    b = raw(h, BOB)
    if select:
        lines = b.cmd("s", f"SELECT {q(TEAM)}")
        assert lines[-1].startswith("s OK"), lines
    return b


def fill_team(h, n=2, flags=""):
    a = raw(h, ALICE)
    for i in range(n):
        m = make_msg(i + 1).decode()
        lines = a.cmd("a", f"APPEND Team {flags}{{{len(m)}+}}\r\n{m}")
        assert lines[-1].startswith("a OK"), lines
    a.close()


def all_but(right):
    return ALL.replace(right, "")


def test_right_r(herald_factory):
    h = acl_server(herald_factory)
    b = bob_on_team(h, all_but("r"), select=False)
    refused(b.cmd("s", f"SELECT {q(TEAM)}"), "r")
    refused(b.cmd("e", f"EXAMINE {q(TEAM)}"), "r")
    refused(b.cmd("t", f"STATUS {q(TEAM)} (MESSAGES)"), "r")
    b.close()


def test_right_i(herald_factory):
    h = acl_server(herald_factory)
    b = bob_on_team(h, all_but("i"), select=False)
    m = make_msg(1).decode()
    refused(b.cmd("a", f"APPEND {q(TEAM)} {{{len(m)}+}}\r\n{m}"), "i")
    assert b.cmd("a", f"APPEND INBOX {{{len(m)}+}}\r\n{m}")[-1] \
        .startswith("a OK")
    assert b.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    refused(b.cmd("c", f"COPY 1 {q(TEAM)}"), "i")
    refused(b.cmd("m", f"MOVE 1 {q(TEAM)}"), "i")
    b.close()


def test_right_s(herald_factory):
    h = acl_server(herald_factory)
    fill_team(h)
    b = bob_on_team(h, all_but("s"))
    refused(b.cmd("t", "STORE 1 +FLAGS (\\Seen)"), "s")
    # a body fetch does not set \Seen without "s" (RFC 4314 4)
    b.cmd("f", "FETCH 1 BODY[TEXT]")
    assert b.cmd("g", "FETCH 1 FLAGS")[0] == "* 1 FETCH (FLAGS ())"
    # STORE of \Seen and another flag changes what it may
    lines = b.cmd("t2", "STORE 1 +FLAGS (\\Seen \\Flagged)")
    assert lines[-1].startswith("t2 OK"), lines
    assert "* 1 FETCH (FLAGS (\\Flagged))" in lines, lines
    # APPEND and COPY keep the flags it may set, drop \Seen
    m = make_msg(3).decode()
    assert b.cmd("a", f"APPEND {q(TEAM)} (\\Seen \\Answered) "
                      f"{{{len(m)}+}}\r\n{m}")[-1].startswith("a OK")
    lines = b.cmd("g", "FETCH 3 FLAGS")
    assert "* 3 FETCH (FLAGS (\\Answered))" in lines, lines
    lines = b.cmd("s", f"SELECT {q(TEAM)}")
    assert "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Draft " \
           "\\*)] Flags permitted" in lines, lines
    b.close()


def test_right_w(herald_factory):
    h = acl_server(herald_factory)
    fill_team(h)
    b = bob_on_team(h, all_but("w"))
    refused(b.cmd("t", "STORE 1 +FLAGS (\\Flagged)"), "w")
    refused(b.cmd("t", "STORE 1 +FLAGS ($label)"), "w")
    refused(b.cmd("t", "STORE 1 -FLAGS (\\Answered)"), "w")
    lines = b.cmd("s", f"SELECT {q(TEAM)}")
    assert "* OK [PERMANENTFLAGS (\\Deleted \\Seen)] Flags permitted" in \
        lines, lines
    # FLAGS replace changes only what it may: \Seen on, \Flagged stays
    a = raw(h, ALICE)
    assert a.cmd("s", "SELECT Team")[-1].startswith("s OK")
    assert a.cmd("t", "STORE 2 +FLAGS (\\Flagged $x)")[-1].startswith("t OK")
    a.close()
    lines = b.cmd("t2", "STORE 2 FLAGS (\\Seen)")
    assert lines[-1].startswith("t2 OK"), lines
    lines = b.cmd("f", "FETCH 2 FLAGS")
    assert "\\Flagged" in lines[0] and "$x" in lines[0] and \
        "\\Seen" in lines[0], lines
    b.close()


def test_right_t(herald_factory):
    h = acl_server(herald_factory)
    fill_team(h)
    b = bob_on_team(h, all_but("t"))
    refused(b.cmd("t", "STORE 1 +FLAGS (\\Deleted)"), "t")
    # MOVE out of it needs "t" and "e" (RFC 6851 4.3)
    refused(b.cmd("m", "MOVE 1 INBOX"), "te")
    # and so does REPLACE (RFC 8508), which expunges like MOVE
    m = make_msg(5).decode()
    refused(b.cmd("r", f"REPLACE 1 INBOX {{{len(m)}+}}\r\n{m}"), "te")
    assert b.cmd("c", "COPY 1 INBOX")[-1].startswith("c OK")
    b.close()


def test_right_e(herald_factory):
    h = acl_server(herald_factory)
    fill_team(h, flags="(\\Deleted) ")
    b = bob_on_team(h, all_but("e"))
    refused(b.cmd("x", "EXPUNGE"), "e")
    refused(b.cmd("x", "UID EXPUNGE 1:*"), "e")
    refused(b.cmd("m", "MOVE 1 INBOX"), "te")
    # CLOSE succeeds and expunges nothing (RFC 4314 4)
    assert b.cmd("c", "CLOSE")[-1].startswith("c OK")
    assert b.cmd("t", f"STATUS {q(TEAM)} (MESSAGES)")[0].endswith(
        "(MESSAGES 2)")
    b.close()


def test_right_k(herald_factory):
    h = acl_server(herald_factory)
    b = bob_on_team(h, all_but("k"), select=False)
    refused(b.cmd("c", f"CREATE {q(TEAM + '/sub')}"), "k")
    b.close()
    # with "k": the new mailbox is alice's and gets Team's ACL
    b = bob_on_team(h, ALL, select=False)
    lines = b.cmd("c", f"CREATE {q(TEAM + '/sub')}")
    assert lines[-1].startswith("c OK"), lines
    assert f'* LIST (\\HasNoChildren) "/" "{TEAM}/sub"' in \
        b.cmd("l", 'LIST "" "*"')
    b.close()
    a = raw(h, ALICE)
    lines = a.cmd("g", "GETACL Team/sub")
    assert lines[0] == f'* ACL Team/sub {ALICE} lrswipkxteacd {BOB} ' \
                       'lrswipkxteacd', lines
    a.close()


def test_right_x(herald_factory):
    h = acl_server(herald_factory)
    b = bob_on_team(h, all_but("x"), select=False)
    refused(b.cmd("d", f"DELETE {q(TEAM)}"), "x")
    refused(b.cmd("r", f"RENAME {q(TEAM)} {q(TEAM + '2')}"), "x")
    b.close()
    # with "x" (and "k" on nothing above: Team is at the top) bob may
    # delete it, not move it into his own mailboxes
    b = bob_on_team(h, "lrx", select=False)
    lines = b.cmd("r", f"RENAME {q(TEAM)} Mine")
    assert tagged(lines).startswith("NO [CANNOT]"), lines
    assert b.cmd("d", f"DELETE {q(TEAM)}")[-1].startswith("d OK")
    b.close()
    a = raw(h, ALICE)
    assert "Team" not in " ".join(a.cmd("l", 'LIST "" "*"'))
    a.close()


def test_right_a(herald_factory):
    h = acl_server(herald_factory)
    b = bob_on_team(h, all_but("a"), select=False)
    refused(b.cmd("g", f"GETACL {q(TEAM)}"), "a")
    refused(b.cmd("s", f"SETACL {q(TEAM)} {CAROL} l"), "a")
    refused(b.cmd("d", f"DELETEACL {q(TEAM)} {BOB}"), "a")
    refused(b.cmd("l", f"LISTRIGHTS {q(TEAM)} {CAROL}"), "a")
    b.close()
    # with "a" bob administers it for alice
    b = bob_on_team(h, "la", select=False)
    assert b.cmd("s", f"SETACL {q(TEAM)} {CAROL} +lr")[-1] \
        .startswith("s OK")
    lines = b.cmd("g", f"GETACL {q(TEAM)}")
    assert lines[0] == (f'* ACL "{TEAM}" {ALICE} lrswipkxteacd {BOB} la '
                        f'{CAROL} lr'), lines
    lines = b.cmd("l", f"LISTRIGHTS {q(TEAM)} {CAROL}")
    assert lines[0] == f'* LISTRIGHTS "{TEAM}" {CAROL} "" l r s w i p k ' \
                       'x t e a c d', lines
    lines = b.cmd("l", f"LISTRIGHTS {q(TEAM)} {ALICE}")
    # RFC 2.1.1: "c" and "d" with the members the owner always has
    assert lines[0] == f'* LISTRIGHTS "{TEAM}" {ALICE} lrswipkxteacd', \
        lines
    b.close()


def test_read_only_follows_rights(herald_factory):
    """RFC 4314 5.2: READ-ONLY unless one of i e s w t; PERMANENTFLAGS
    lists only what the rights let the user change."""
    h = acl_server(herald_factory)
    fill_team(h, 1)
    b = bob_on_team(h, "lr", select=False)
    lines = b.cmd("s", f"SELECT {q(TEAM)}")
    # a SELECT made read-only by the rights is still a SELECT
    assert lines[-1] == "s OK [READ-ONLY] SELECT completed", lines
    assert "* OK [PERMANENTFLAGS ()] Read-only mailbox" in lines, lines
    assert tagged(b.cmd("t", "STORE 1 +FLAGS (\\Seen)")).startswith("NO")
    b.close()
    b = bob_on_team(h, "lrs", select=False)
    lines = b.cmd("s", f"SELECT {q(TEAM)}")
    assert lines[-1].startswith("s OK [READ-WRITE]"), lines
    assert "* OK [PERMANENTFLAGS (\\Seen)] Flags permitted" in lines, lines
    assert b.cmd("t", "STORE 1 +FLAGS (\\Seen)")[-1].startswith("t OK")
    b.close()


def test_owner_never_locked_out(herald_factory):
    h = acl_server(herald_factory)
    a = raw(h, ALICE)
    lines = a.cmd("s", f"SETACL Team {ALICE} l")
    assert tagged(lines).startswith("NO [CANNOT]"), lines
    lines = a.cmd("d", f"DELETEACL Team {ALICE}")
    assert tagged(lines).startswith("NO [CANNOT]"), lines
    assert a.cmd("s", "SETACL Team anyone \"\"")[-1].startswith("s OK")
    assert a.cmd("m", "MYRIGHTS Team")[0] == "* MYRIGHTS Team " \
                                             "lrswipkxteacd"
    assert a.cmd("m", "MYRIGHTS INBOX")[0] == "* MYRIGHTS INBOX " \
                                              "lrswipkxteacd"
    assert a.cmd("g", "GETACL INBOX")[0] == f"* ACL INBOX {ALICE} " \
                                            "lrswipkxteacd"
    # bad rights and identifiers (RFC 4314 3.1: BAD, never dropped)
    assert tagged(a.cmd("b", f"SETACL Team {BOB} lrQ")).startswith("BAD")
    assert tagged(a.cmd("b", f"SETACL Team {BOB} lrq")).startswith("BAD")
    assert tagged(a.cmd("b", 'SETACL Team "" lr')).startswith("BAD")
    lines = a.cmd("u", f"SETACL Team zed@{DOMAIN} lr")
    assert tagged(lines).startswith("NO [CANNOT]"), lines
    # "d" and "c" stand for their members (RFC 4314 2.1.1)
    assert a.cmd("s", f"SETACL Team {BOB} lrcd")[-1].startswith("s OK")
    assert a.cmd("g", "GETACL Team")[0] == \
        f"* ACL Team {ALICE} lrswipkxteacd {BOB} lrkxtecd"
    assert a.cmd("s", f"DELETEACL Team {BOB}")[-1].startswith("s OK")
    assert a.cmd("g", "GETACL Team")[0] == \
        f"* ACL Team {ALICE} lrswipkxteacd"
    # nobody creates in the namespace itself
    lines = a.cmd("c", 'CREATE "Other Users/x"')
    assert tagged(lines).startswith("NO [NOPERM]"), lines
    a.close()


def test_copy_move_between_accounts(herald_factory):
    """bob copies and moves from his INBOX into alice's Team: new UIDs,
    alice's usage grows, bob's drops by what moved; and out of it."""
    h = acl_server(herald_factory)
    b = bob_on_team(h, "lrswite", select=False)
    for i in range(3):
        m = make_msg(i + 1).decode()
        assert b.cmd("a", f"APPEND INBOX (\\Flagged) {{{len(m)}+}}\r\n"
                          f"{m}")[-1].startswith("a OK")
    assert b.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    lines = b.cmd("c", f"COPY 1 {q(TEAM)}")
    assert re.match(r"c OK \[COPYUID \d+ 1 1\]", lines[-1]), lines
    lines = b.cmd("m", f"UID MOVE 2:3 {q(TEAM)}")
    assert lines[-1].startswith("m OK"), lines
    assert "* 2 EXPUNGE" in lines or "* 3 EXPUNGE" in lines, lines
    lines = b.cmd("s2", f"SELECT {q(TEAM)}")
    assert "* 3 EXISTS" in lines, lines
    lines = b.cmd("f", "FETCH 1:3 FLAGS")
    assert all("\\Flagged" in ln for ln in lines[:-1]), lines
    lines = b.cmd("m2", "MOVE 3 INBOX")
    assert lines[-1].startswith("m2 OK"), lines
    b.close()
    a = raw(h, ALICE)
    assert "* 2 EXISTS" in a.cmd("s", "SELECT Team")
    a.close()
    b = login(h, BOB)
    ok(b.select("INBOX"))
    typ, data = b.search(None, "ALL")
    assert data[0].split() == [b"1", b"2"], data
    b.logout()


def test_rename_into_another_account_refused(herald_factory):
    """RENAME never makes a mailbox of one account under another's name:
    from a shared mailbox or from one's own to a mailbox of a third
    account the user sees is NO [CANNOT], and no account gets a mailbox
    named in the other users' namespace."""
    h = acl_server(herald_factory)
    setacl(h, BOB, "lrx")
    c = raw(h, CAROL)
    assert c.cmd("c", "CREATE X")[-1].startswith("c OK")
    assert c.cmd("s", f"SETACL X {BOB} lr")[-1].startswith("s OK")
    c.close()
    carol_x = f"Other Users/{CAROL}/X"
    b = raw(h, BOB)
    assert b.cmd("c", "CREATE Mine")[-1].startswith("c OK")
    for src in (TEAM, "Mine"):
        lines = b.cmd("r", f"RENAME {q(src)} {q(carol_x)}")
        assert tagged(lines).startswith("NO [CANNOT]"), (src, lines)
    # onto a mailbox of the same other account it sees: it exists
    lines = b.cmd("r", f"RENAME Mine {q(TEAM)}")
    assert tagged(lines).startswith("NO [CANNOT]"), lines
    lines = b.cmd("l", 'LIST "" "*"')
    assert [ln for ln in lines if "Other Users/" in ln] == [
        f'* LIST (\\Noselect \\HasChildren) "/" "Other Users/{ALICE}"',
        f'* LIST (\\HasNoChildren) "/" "{TEAM}"',
        f'* LIST (\\Noselect \\HasChildren) "/" "Other Users/{CAROL}"',
        f'* LIST (\\HasNoChildren) "/" "{carol_x}"'], lines
    assert '* LIST (\\HasNoChildren) "/" Mine' in lines, lines
    b.close()
    a = raw(h, ALICE)
    lines = a.cmd("l", 'LIST "" "*"')
    assert not any("Other Users" in ln for ln in lines), lines
    assert '* LIST (\\HasNoChildren) "/" Team' in lines, lines
    a.close()


def test_rename_target_hidden_like_missing(herald_factory):
    """RENAME onto a mailbox the user may not see answers as onto a name
    where it may not create (RFC 4314 6), never NONEXISTENT."""
    h = acl_server(herald_factory)
    a = raw(h, ALICE)
    for box in ("Team/sub", "Secret", "Team/hidden"):
        assert a.cmd("c", f"CREATE {box}")[-1].startswith("c OK")
    assert a.cmd("s", f"SETACL Team/sub {BOB} lrx")[-1].startswith("s OK")
    a.close()
    b = raw(h, BOB)
    hidden = b.cmd("r", f"RENAME {q(TEAM + '/sub')} "
                        f"{q('Other Users/' + ALICE + '/Secret')}")
    missing = b.cmd("r", f"RENAME {q(TEAM + '/sub')} {q(NOPE)}")
    assert tagged(hidden) == tagged(missing) == \
        "NO [NOPERM] Permission denied", (hidden, missing)
    # with "k" on Team a missing name is made; a hidden one is refused as
    # CREATE refuses it
    setacl(h, BOB, "lrk")
    lines = b.cmd("r", f"RENAME {q(TEAM + '/sub')} {q(TEAM + '/hidden')}")
    assert tagged(lines) == "NO [NOPERM] Permission denied", lines
    assert tagged(b.cmd("c", f"CREATE {q(TEAM + '/hidden')}")) == \
        "NO [NOPERM] Permission denied"
    b.close()


def test_owner_address_with_slash(herald_factory):
    """An owner whose address holds the hierarchy separator is reached by
    the name LIST shows: the owner ends at the first "/" after its "@"."""
    h = acl_server(herald_factory)
    odd = f"sl/ash@{DOMAIN}"
    h.add_user(odd, "correct horse")
    o = raw(h, odd)
    for box in ("Box", "Lists", "Lists/a@b"):
        assert o.cmd("c", f"CREATE {q(box)}")[-1].startswith("c OK")
        assert o.cmd("s", f"SETACL {q(box)} {BOB} lr")[-1] \
            .startswith("s OK")
    o.close()
    b = raw(h, BOB)
    lines = b.cmd("l", f'LIST "" "Other Users/{odd}/*"')
    assert lines[:-1] == [
        f'* LIST (\\HasNoChildren) "/" "Other Users/{odd}/Box"',
        f'* LIST (\\HasChildren) "/" "Other Users/{odd}/Lists"',
        f'* LIST (\\HasNoChildren) "/" "Other Users/{odd}/Lists/a@b"'], \
        lines
    for box in ("Box", "Lists/a@b"):
        lines = b.cmd("s", f'EXAMINE "Other Users/{odd}/{box}"')
        assert lines[-1] == "s OK [READ-ONLY] EXAMINE completed", lines
        lines = b.cmd("m", f'MYRIGHTS "Other Users/{odd}/{box}"')
        assert lines[0] == f'* MYRIGHTS "Other Users/{odd}/{box}" lr', \
            lines
    b.close()


def test_grantee_gives_no_special_use(herald_factory):
    """A special use is the owner's to give: a grantee with "k" who
    CREATEs with USE in a shared mailbox is refused (else the owner's
    client would keep its drafts in a mailbox the grantee reads), and
    without USE the mailbox is made."""
    h = acl_server(herald_factory)
    setacl(h, BOB, ALL)
    a = raw(h, ALICE)
    assert a.cmd("d", "DELETE Drafts")[-1].startswith("d OK")
    a.close()
    b = raw(h, BOB)
    lines = b.cmd("c", f"CREATE {q(TEAM + '/d')} (USE (\\Drafts))")
    assert tagged(lines).startswith("NO [CANNOT]"), lines
    assert b.cmd("c", f"CREATE {q(TEAM + '/d')}")[-1].startswith("c OK")
    b.close()
    a = raw(h, ALICE)
    lines = a.cmd("l", 'LIST "" "*" RETURN (SPECIAL-USE)')
    assert not any("\\Drafts" in ln for ln in lines), lines
    assert '* LIST (\\HasNoChildren) "/" Team/d' in lines, lines
    a.close()


def test_shared_inbox_not_deleted(herald_factory):
    """DELETE of the owner's INBOX with "x" is refused as the owner's own
    DELETE INBOX is."""
    h = acl_server(herald_factory)
    setacl(h, BOB, "lrx", box="INBOX")
    b = raw(h, BOB)
    lines = b.cmd("d", f'DELETE "Other Users/{ALICE}/INBOX"')
    assert lines == ["d NO [CANNOT] INBOX cannot be deleted"], lines
    b.close()


def test_owner_create_inherits_acl(herald_factory):
    """RFC 4314 4: a new mailbox gets its parent's ACL, also when the
    owner makes it: a folder alice makes in the shared Team is shared
    with the team as Team is."""
    h = acl_server(herald_factory)
    setacl(h, BOB, "lrs")
    a = raw(h, ALICE)
    assert a.cmd("s", "SETACL Team anyone l")[-1].startswith("s OK")
    assert a.cmd("c", "CREATE Team/2026")[-1].startswith("c OK")
    lines = a.cmd("g", "GETACL Team/2026")
    assert lines[0] == f"* ACL Team/2026 {ALICE} lrswipkxteacd anyone l " \
                       f"{BOB} lrs", lines
    # a mailbox without a parent gets none
    assert a.cmd("c", "CREATE Solo")[-1].startswith("c OK")
    assert a.cmd("g", "GETACL Solo")[0] == \
        f"* ACL Solo {ALICE} lrswipkxteacd"
    a.close()
    b = raw(h, BOB)
    assert f'* LIST (\\HasNoChildren) "/" "{TEAM}/2026"' in \
        b.cmd("l", 'LIST "" "*"')
    b.close()


def test_create_intermediates_inherit_acl(herald_factory):
    """RFC 4314 4: every mailbox CREATE makes gets the parent's ACL, also
    the ones it makes on the way to the name: after alice creates
    Team/2026/Q1 in the shared Team, bob can open Team/2026 as well as
    the leaf; so when bob (with k) creates deeper in Team."""
    h = acl_server(herald_factory)
    setacl(h, BOB, "lrsk")
    a = raw(h, ALICE)
    assert a.cmd("c", "CREATE Team/2026/Q1")[-1].startswith("c OK")
    for box in ("Team/2026", "Team/2026/Q1"):
        lines = a.cmd("g", f"GETACL {box}")
        assert lines[0] == f"* ACL {box} {ALICE} lrswipkxteacd {BOB} lrskc", \
            lines
    # the parent's ACL, not some other mailbox's
    assert a.cmd("c", "CREATE Solo/a/b")[-1].startswith("c OK")
    assert a.cmd("g", "GETACL Solo/a")[0] == \
        f"* ACL Solo/a {ALICE} lrswipkxteacd"
    a.close()
    b = raw(h, BOB)
    listed = b.cmd("l", 'LIST "" "*"')
    assert f'* LIST (\\HasChildren) "/" "{TEAM}/2026"' in listed, listed
    assert f'* LIST (\\HasNoChildren) "/" "{TEAM}/2026/Q1"' in listed, listed
    assert b.cmd("m", f'MYRIGHTS "{TEAM}/2026"')[0] == \
        f'* MYRIGHTS "{TEAM}/2026" lrskc'
    assert b.cmd("e", f'EXAMINE "{TEAM}/2026"')[-1].startswith("e OK")
    # a grantee's CREATE makes its intermediates with the ACL too
    assert b.cmd("c", f'CREATE "{TEAM}/x/y/z"')[-1].startswith("c OK")
    for box in ("x", "x/y", "x/y/z"):
        assert b.cmd("m", f'MYRIGHTS "{TEAM}/{box}"')[0] == \
            f'* MYRIGHTS "{TEAM}/{box}" lrskc'
    b.close()


def acl_of(c, box):
    """GETACL over imaplib: {identifier: rights}."""
    data = ok(c.getacl(box))
    words = data[0].decode().split()
    # the mailbox name comes first (an atom in these tests)
    assert words[0] == box, data
    return dict(zip(words[1::2], words[2::2]))


def test_rename_parents_inherit_acl(herald_factory):
    """RFC 4314 4, as for CREATE: the parents a RENAME makes for the new
    name get the ACL of the nearest mailbox above them, or the grantees
    would find the moved mailbox under a folder they cannot open. The
    moved mailbox and its children keep their own ACL; renaming INBOX
    makes a new mailbox, which gets the parent's ACL as a CREATE would.
    So does a grantee's RENAME in the shared mailbox. Driven by imaplib."""
    h = acl_server(herald_factory)
    setacl(h, BOB, "lrskx")
    owner = "lrswipkxteacd"
    a = login(h, ALICE)
    team = acl_of(a, "Team")
    assert set(team) == {ALICE, BOB}, team
    ok(a.create("Old/child"))
    ok(a.setacl("Old", CAROL, "lr"))
    ok(a.rename("Old", "Team/2026/Q1"))
    assert acl_of(a, "Team/2026") == team
    # the moved mailbox and its child keep theirs
    assert acl_of(a, "Team/2026/Q1") == {ALICE: owner, CAROL: "lr"}
    assert acl_of(a, "Team/2026/Q1/child") == {ALICE: owner}
    # no ACL above the new name: the parents get none
    ok(a.create("Solo"))
    ok(a.rename("Team/2026/Q1/child", "Solo/a/b"))
    assert acl_of(a, "Solo/a") == {ALICE: owner}
    assert acl_of(a, "Solo/a/b") == {ALICE: owner}
    # INBOX's messages go to a new mailbox: it and its parents inherit
    ok(a.rename("INBOX", "Team/inbox/2026"))
    assert acl_of(a, "Team/inbox") == team
    assert acl_of(a, "Team/inbox/2026") == team
    assert acl_of(a, "INBOX") == {ALICE: owner}
    a.logout()

    b = login(h, BOB)
    listed = ok(b.list('""', "*"))
    listed = [x.decode() for x in listed]
    # Q1 is not shared with bob: it is no child of Team/2026 for him
    assert f'(\\HasNoChildren) "/" "{TEAM}/2026"' in listed, \
        "\n".join(listed)
    assert not any(f"{TEAM}/2026/Q1" in x for x in listed), listed
    mine = ok(b.myrights(f'"{TEAM}"'))[0].decode().rsplit(" ", 1)[1]
    ok(b.select(f'"{TEAM}/2026"', readonly=True))
    # a grantee with k and x renames deeper into Team: the levels made
    # on the way are Team's too
    ok(b.rename(f'"{TEAM}/inbox/2026"', f'"{TEAM}/x/y/2026"'))
    for box in ("x", "x/y"):
        got = ok(b.myrights(f'"{TEAM}/{box}"'))[0].decode()
        assert got.rsplit(" ", 1)[1] == mine, got
    b.logout()
    a = login(h, ALICE)
    assert acl_of(a, "Team/x") == acl_of(a, "Team/x/y") == team
    a.logout()
