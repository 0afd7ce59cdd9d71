"""Shared mailboxes (RFC 4314, issue 13 item 7) in the commands beyond the
ACL table of test_imap_acl.py: METADATA (RFC 5464 3.3: "l" and one of
"rswip", "w" too for a /shared entry, which counts against the owner's
limits), MULTISEARCH (RFC 7377: "Other Users" mailboxes with "l" and "r",
never through "personal" or "inboxes"), QUOTA (RFC 9208: the owner's root
and usage, seen only with some right; APPEND and COPY over the owner's
quota are NO [OVERQUOTA]) and CATENATE (RFC 4469: a URL into a shared
mailbox needs "r"). For each, a user without rights gets the answer for a
mailbox that does not exist."""
import re
import time

from imap_util import login, make_msg, ok
from test_imap_acl import (ALICE, BOB, CAROL, NOPE, TEAM, acl_server, q, raw,
                           setacl, tagged)

OWNER_ROOT = f"Other Users/{ALICE}"


def same_answer(r, cmd_team, cmd_nope):
    """The tagged answers to a command on TEAM and on NOPE (which does
    not exist), with TEAM nowhere in the first."""
    got = r.cmd("t1", cmd_team)
    ref = r.cmd("t2", cmd_nope)
    assert tagged(got) == tagged(ref), (got, ref)
    assert all(TEAM not in ln for ln in got), got
    return got


def fill_team(h, msgs):
    c = login(h, ALICE)
    for m in msgs:
        ok(c.append("Team", None, None, m))
    c.logout()


# ---- METADATA ----

def getmeta(name, entry="/shared/comment"):
    return f"GETMETADATA {q(name)} {entry}"


def setmeta(name, entry, value):
    return f'SETMETADATA {q(name)} ({entry} "{value}")'


def test_metadata_on_shared_mailbox(herald_factory):
    h = acl_server(herald_factory)
    a = raw(h, ALICE)
    assert a.cmd("a", setmeta("Team", "/shared/comment", "team box"))[-1] \
        .startswith("a OK")
    setacl(h, BOB, "lr")
    b = raw(h, BOB)
    # reading: "l" and "r"
    lines = b.cmd("g", getmeta(TEAM))
    assert lines == [f'* METADATA "{TEAM}" (/shared/comment "team box")',
                     "g OK GETMETADATA completed"], lines
    # a private entry is the grantee's own: alice does not see it
    assert b.cmd("p", setmeta(TEAM, "/private/comment", "bob's"))[-1] \
        .startswith("p OK")
    assert b.cmd("g2", getmeta(TEAM, "/private/comment"))[0] == \
        f'* METADATA "{TEAM}" (/private/comment "bob\'s")'
    assert a.cmd("g", "GETMETADATA Team /private/comment")[0] == \
        '* METADATA Team (/private/comment NIL)'
    # a shared entry needs "w" as well
    lines = b.cmd("s", setmeta(TEAM, "/shared/comment", "mine now"))
    assert tagged(lines) == "NO [NOPERM] Permission denied (needs the lw " \
                            "rights)", lines
    setacl(h, BOB, "lrw")
    assert b.cmd("s2", setmeta(TEAM, "/shared/comment", "mine now"))[-1] \
        .startswith("s2 OK")
    assert a.cmd("g2", "GETMETADATA Team /shared/comment")[0] == \
        '* METADATA Team (/shared/comment "mine now")'
    # "l" alone: seen, refused with NOPERM
    setacl(h, BOB, "l")
    for cmd in (getmeta(TEAM), setmeta(TEAM, "/private/x", "y")):
        lines = b.cmd("n", cmd)
        assert tagged(lines) == "NO [NOPERM] Permission denied (needs the " \
                                "l right and one of r s w i p)", lines
    # "i" with "l" is enough to read (RFC 5464 3.3: any of r s w i p)
    setacl(h, BOB, "li")
    assert b.cmd("i", getmeta(TEAM))[-1].startswith("i OK")
    # "r" without "l": as if there were no such mailbox (RFC 4314 6)
    setacl(h, BOB, "r")
    for cmd, ref in ((getmeta(TEAM), getmeta(NOPE)),
                     (setmeta(TEAM, "/private/x", "y"),
                      setmeta(NOPE, "/private/x", "y"))):
        got = same_answer(b, cmd, ref)
        assert tagged(got).startswith("NO [NONEXISTENT]"), got
    b.close()
    a.close()


def test_metadata_carol_learns_nothing(herald_factory):
    h = acl_server(herald_factory)
    setacl(h, BOB, "lrswipkxtea")
    c = raw(h, CAROL)
    for cmd, ref in ((getmeta(TEAM), getmeta(NOPE)),
                     (setmeta(TEAM, "/private/x", "y"),
                      setmeta(NOPE, "/private/x", "y")),
                     (setmeta(TEAM, "/shared/x", "y"),
                      setmeta(NOPE, "/shared/x", "y"))):
        got = same_answer(c, cmd, ref)
        assert tagged(got).startswith("NO [NONEXISTENT]"), got
    c.close()
    a = raw(h, ALICE)
    lines = a.cmd("g", "GETMETADATA Team (DEPTH infinity) (/shared /private)")
    assert lines == ["g OK GETMETADATA completed"], lines
    a.close()


def test_metadata_shared_entry_counts_against_owner(herald_factory):
    """A /shared entry a grantee sets is the mailbox's, so the owner's
    limit holds it; the grantee's /private one is the grantee's."""
    h = acl_server(herald_factory, imap="metadata_account_entries_max = 10\n")
    a = raw(h, ALICE)
    for i in range(10):
        assert a.cmd("a", setmeta("INBOX", f"/shared/e{i}", "v"))[-1] \
            .startswith("a OK")
    a.close()
    setacl(h, BOB, "lrw")
    b = raw(h, BOB)
    lines = b.cmd("s", setmeta(TEAM, "/shared/one", "more"))
    assert tagged(lines).startswith("NO [METADATA TOOMANY]"), lines
    assert b.cmd("p", setmeta(TEAM, "/private/one", "more"))[-1] \
        .startswith("p OK")
    b.close()


# ---- MULTISEARCH ----

def esearch_boxes(lines):
    """{mailbox: "UID ALL ..." text} of ESEARCH responses."""
    out = {}
    for ln in lines:
        m = re.match(r'\* ESEARCH \(TAG "[^"]*" MAILBOX ("[^"]*"|\S+) '
                     r'UIDVALIDITY \d+\) UID (.*)', ln)
        if m:
            out[m.group(1).strip('"')] = m.group(2)
    return out


def multisearch_server(herald_factory):
    h = acl_server(herald_factory)
    fill_team(h, [make_msg(1, subject="needle team",
                           body="the zeppelinwords live here\r\n"),
                  make_msg(2, subject="other")])
    c = login(h, BOB)
    ok(c.append("INBOX", None, None, make_msg(3, subject="needle own")))
    c.logout()
    return h


def test_multisearch_shared(herald_factory):
    h = multisearch_server(herald_factory)
    setacl(h, BOB, "lr")
    b = raw(h, BOB)

    def search(tag, sources, key='SUBJECT needle'):
        lines = b.cmd(tag, f"ESEARCH IN ({sources}) {key}")
        assert lines[-1].startswith(f"{tag} OK"), lines
        return esearch_boxes(lines)

    # personal and inboxes are the personal namespace only
    assert search("a", "personal") == {"INBOX": "ALL 1"}
    assert search("b", "inboxes") == {"INBOX": "ALL 1"}
    # subtree, subtree-one and mailboxes reach the other users' namespace
    assert search("c", 'subtree "Other Users"') == {TEAM: "ALL 1"}
    assert search("d", f'subtree-one "{OWNER_ROOT}"') == {TEAM: "ALL 1"}
    assert search("e", f'personal mailboxes "{TEAM}"') == \
        {"INBOX": "ALL 1", TEAM: "ALL 1"}
    # subscribed: the grantee's own subscription to the shared name
    assert search("f", "subscribed") == {"INBOX": "ALL 1"}
    assert b.cmd("u", f"SUBSCRIBE {q(TEAM)}")[-1].startswith("u OK")
    assert search("g", "subscribed") == {"INBOX": "ALL 1", TEAM: "ALL 1"}
    # a body search over two accounts' indexes in one command (after
    # the indexer's lag, docs/store.md: the index then decides)
    time.sleep(2)
    assert search("h", 'personal subtree "Other Users"',
                  'BODY "zeppelinwords"') == {TEAM: "ALL 1"}
    # the selected shared mailbox through "selected" with others
    assert b.cmd("s", f"EXAMINE {q(TEAM)}")[-1].startswith("s OK")
    assert search("i", "selected inboxes") == \
        {"INBOX": "ALL 1", TEAM: "ALL 1"}
    b.close()


def test_multisearch_needs_l_and_r(herald_factory):
    h = multisearch_server(herald_factory)
    for rights in ("l", "r", "lswi"):
        setacl(h, BOB, rights)
        b = raw(h, BOB)
        for src in (f'mailboxes "{TEAM}"', 'subtree "Other Users"'):
            lines = b.cmd("x", f"ESEARCH IN ({src}) SUBJECT needle")
            assert lines == ["x OK ESEARCH completed"], (rights, lines)
        b.close()
    c = raw(h, CAROL)
    same_answer(c, f'ESEARCH IN (mailboxes "{TEAM}") ALL',
                f'ESEARCH IN (mailboxes "{NOPE}") ALL')
    c.close()


# ---- QUOTA ----

def test_quota_of_shared_mailbox_is_owners(herald_factory):
    h = acl_server(herald_factory)
    h.cli("user", "quota", ALICE, "100k")
    h.cli("user", "quota", BOB, "1M", "--messages", "50")
    fill_team(h, [make_msg(1)])
    setacl(h, BOB, "lr")
    c = login(h, BOB)
    typ, data = c.getquotaroot(f'"{TEAM}"')
    assert typ == "OK", data
    line = f'"{OWNER_ROOT}" (STORAGE 1 100)'.encode()
    assert data == [[f'"{TEAM}" "{OWNER_ROOT}"'.encode()], [line]], data
    assert ok(c.getquota(f'"{OWNER_ROOT}"')) == [line]
    # bob's own root is still his
    assert ok(c.getquota('"User quota"')) == \
        [b'"User quota" (STORAGE 0 1024 MESSAGE 0 50)']
    c.logout()
    # "l" alone is a right too (as MYRIGHTS): the root is seen
    setacl(h, BOB, "l")
    b = raw(h, BOB)
    assert b.cmd("g", f"GETQUOTAROOT {q(TEAM)}")[0] == \
        f'* QUOTAROOT "{TEAM}" "{OWNER_ROOT}"'
    b.close()


def test_quota_carol_learns_nothing(herald_factory):
    h = acl_server(herald_factory)
    h.cli("user", "quota", ALICE, "100k")
    setacl(h, BOB, "lrswipkxtea")
    c = raw(h, CAROL)
    got = same_answer(c, f"GETQUOTAROOT {q(TEAM)}", f"GETQUOTAROOT {q(NOPE)}")
    assert tagged(got).startswith("NO [NONEXISTENT]"), got
    got = c.cmd("r1", f"GETQUOTA {q(OWNER_ROOT)}")
    ref = c.cmd("r2", f'GETQUOTA "Other Users/nobody@{ALICE.split("@")[1]}"')
    assert tagged(got) == tagged(ref) == \
        "NO [NONEXISTENT] No such quota root", (got, ref)
    c.close()
    # once bob's rights are gone, so is alice's root for him
    a = raw(h, ALICE)
    assert a.cmd("d", f"DELETEACL Team {BOB}")[-1].startswith("d OK")
    a.close()
    b = raw(h, BOB)
    assert tagged(b.cmd("r", f"GETQUOTA {q(OWNER_ROOT)}")) == \
        "NO [NONEXISTENT] No such quota root"
    b.close()


def test_over_owners_quota(herald_factory):
    """The owner's quota is what counts: bob, with room of his own, cannot
    APPEND or COPY into alice's full mailbox."""
    h = acl_server(herald_factory)
    big = make_msg(1, body="x" * 3000 + "\r\n")
    h.cli("user", "quota", ALICE, "2k")
    setacl(h, BOB, "lri")
    c = login(h, BOB)
    ok(c.append("INBOX", None, None, big))
    typ, data = c.append(f'"{TEAM}"', None, None, big)
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    ok(c.select("INBOX"))
    typ, data = c.copy("1", f'"{TEAM}"')
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    # within alice's quota it works
    small = make_msg(2)
    ok(c.append(f'"{TEAM}"', None, None, small))
    c.logout()
    a = login(h, ALICE)
    typ, data = a.select("Team")
    assert data == [b"1"], data
    a.logout()


# ---- CATENATE ----

def team_url(uid=1, name=TEAM):
    return "/" + name.replace(" ", "%20") + f"/;UID={uid}"


def catenate(r, tag, url):
    r.send(f'{tag} APPEND INBOX CATENATE (URL "{url}")\r\n')
    return r.until_tagged(tag)


def test_catenate_url_into_shared_mailbox(herald_factory):
    h = acl_server(herald_factory)
    msg = make_msg(1, subject="from the team")
    fill_team(h, [msg])
    setacl(h, BOB, "lr")
    b = raw(h, BOB)
    lines = catenate(b, "c", team_url())
    assert lines[-1].startswith("c OK"), lines
    b.close()
    c = login(h, BOB)
    ok(c.select("INBOX"))
    data = ok(c.fetch("1", "(BODY.PEEK[])"))
    assert data[0][1] == msg
    c.logout()


def test_catenate_without_read_right_is_badurl(herald_factory):
    h = acl_server(herald_factory)
    fill_team(h, [make_msg(1)])
    for user, rights in ((BOB, "li"), (BOB, "swi"), (CAROL, None)):
        if rights is not None:
            setacl(h, BOB, rights)
        r = raw(h, user)
        got = catenate(r, "c1", team_url())
        ref = catenate(r, "c2", team_url(name=NOPE))
        # the same answer but for the URL itself, which [BADURL] echoes
        assert tagged(got) == tagged(ref).replace("Nope", "Team"), \
            (user, rights, got, ref)
        assert tagged(got).startswith("NO [BADURL "), got
        r.close()
