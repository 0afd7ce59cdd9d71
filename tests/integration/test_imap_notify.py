"""NOTIFY (RFC 5465, issue 13 item 4): a session that asked for events
hears of another session's changes while it runs no command: STATUS for
other mailboxes (MESSAGES UIDNEXT UIDVALIDITY UNSEEN), EXISTS with the
FETCH asked for, FETCH FLAGS and EXPUNGE (VANISHED with QRESYNC) for the
selected one, LIST for mailbox names and subscriptions, METADATA (entry
names, RFC 5464 4.4.2) for mailbox and server metadata changes; NOTIFY
NONE stops them; BADEVENT for events Herald does not send;
NOTIFICATIONOVERFLOW for a session that falls behind; events made on
another worker process; IDLE with NOTIFY."""
import re
import smtplib
import time

import pytest

from harness import DOMAIN
from imap_util import (USER, USER2, Conn, deliver, expect, login, make_msg,
                       notify, ok, quiet, read_until, server, worker_of)

STATUS_RE = (r'\* STATUS {box} \(MESSAGES {messages} UIDNEXT {uidnext} '
             r'UIDVALIDITY \d+ UNSEEN {unseen}\)$')


def session(h):
    r = Conn(h)
    r.login()
    return r


def test_notify_is_advertised_after_login(herald_factory):
    h = server(herald_factory)
    r = Conn(h)
    assert " NOTIFY" not in r.greeting, r.greeting
    r.login()
    caps = r.cmd("C1", "CAPABILITY")
    assert any(ln.startswith("* CAPABILITY ") and " NOTIFY " in ln + " "
               for ln in caps), caps
    r.close()


def test_status_for_other_mailboxes(herald_factory):
    """MessageNew and MessageExpunge in a mailbox not selected: STATUS
    with the new counts, within a second, between commands (no IDLE); a
    flag change says nothing without FlagChange."""
    h = server(herald_factory)
    c = login(h)
    ok(c.create("Lists"))
    r = session(h)
    notify(r, "SET (personal (MessageNew MessageExpunge))")
    ok(c.append("Lists", None, None, make_msg(1)))
    expect(r, STATUS_RE.format(box="Lists", messages=1, uidnext=2,
                               unseen=1))
    ok(c.append("Lists", None, None, make_msg(2)))
    expect(r, STATUS_RE.format(box="Lists", messages=2, uidnext=3,
                               unseen=2))
    ok(c.select("Lists"))
    ok(c.uid("STORE", "1", "+FLAGS.SILENT", "(\\Seen)"))
    assert quiet(r) == []
    ok(c.uid("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(c.expunge())
    expect(r, STATUS_RE.format(box="Lists", messages=1, uidnext=3,
                               unseen=1))
    # a delivery to INBOX too
    deliver(h, USER, make_msg(3))
    expect(r, STATUS_RE.format(box="INBOX", messages=1, uidnext=2,
                               unseen=1))
    r.close()
    c.logout()
    assert not h.sanitizer_errors()


def test_flag_change_in_other_mailbox(herald_factory):
    """With FlagChange: STATUS when UNSEEN moves; HIGHESTMODSEQ in it
    once CONDSTORE is on."""
    h = server(herald_factory)
    c = login(h)
    ok(c.create("Lists"))
    ok(c.append("Lists", None, None, make_msg(1)))
    r = session(h)
    r.cmd("E1", "ENABLE CONDSTORE")
    notify(r, "SET (subtree Lists (MessageNew MessageExpunge FlagChange))")
    ok(c.select("Lists"))
    ok(c.uid("STORE", "1", "+FLAGS.SILENT", "(\\Seen)"))
    lines = expect(r, r"\* STATUS Lists ")
    assert re.match(r"\* STATUS Lists \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY "
                    r"\d+ UNSEEN 0 HIGHESTMODSEQ \d+\)$", lines[-1]), lines
    r.close()
    c.logout()


def test_status_indicator(herald_factory):
    """NOTIFY SET STATUS: a STATUS for each watched mailbox before the
    tagged OK, not for the selected one (RFC 5465 3.1)."""
    h = server(herald_factory)
    c = login(h)
    ok(c.create("Lists"))
    ok(c.create("Lists/a"))
    ok(c.create("Other"))
    ok(c.append("Lists/a", None, None, make_msg(1)))
    r = session(h)
    r.cmd("S1", "SELECT Lists")
    lines = notify(r, "SET STATUS (selected (MessageNew MessageExpunge)) "
                      "(subtree Lists (MessageNew MessageExpunge))")
    status = [ln for ln in lines if ln.startswith("* STATUS")]
    assert len(status) == 1, lines
    assert re.match(STATUS_RE.format(box="Lists/a", messages=1, uidnext=2,
                                     unseen=1), status[0]), lines
    # without STATUS: none
    lines = notify(r, "SET (personal (MessageNew MessageExpunge))", "N2")
    assert not any(ln.startswith("* STATUS") for ln in lines), lines
    r.close()
    c.logout()


def test_selected_mailbox_events(herald_factory):
    """SELECTED: EXISTS then the FETCH asked for, FETCH FLAGS with UID,
    and EXPUNGE, each as it happens, no command running."""
    h = server(herald_factory)
    c = login(h)
    ok(c.append("INBOX", None, None, make_msg(1)))
    r = session(h)
    r.cmd("S1", "SELECT INBOX")
    notify(r, "SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS "
              "(SUBJECT)]) MessageExpunge FlagChange))")
    ok(c.append("INBOX", None, None, make_msg(2, subject="hello there")))
    lines = expect(r, r"\* 2 EXISTS$")
    lines = expect(r, r"\* 2 FETCH \(UID 2 BODY\[HEADER\.FIELDS "
                      r"\(SUBJECT\)\] \{\d+\}$")
    lines, got = read_until(r, lambda ln: ln.startswith("Subject:"))
    assert got and "hello there" in lines[-1], lines
    assert read_until(r, lambda ln: ln == ")")[1]
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1", "+FLAGS.SILENT", "(\\Flagged)"))
    expect(r, r"\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\)\)$")
    ok(c.uid("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)"))
    expect(r, r"\* 1 FETCH \(UID 1 FLAGS \(\\Flagged \\Deleted\)\)$")
    ok(c.expunge())
    expect(r, r"\* 1 EXPUNGE$")
    # the session's view agrees: one message left, UID 2
    lines = r.cmd("F1", "FETCH 1:* (UID)")
    assert "* 1 FETCH (UID 2)" in lines, lines
    assert lines[-1].startswith("F1 OK"), lines
    r.close()
    c.logout()
    assert not h.sanitizer_errors()


def test_selected_delayed_holds_expunge(herald_factory):
    """SELECTED-DELAYED: EXISTS at once, EXPUNGE only at the next
    command that may have it (RFC 5465 6.1.2)."""
    h = server(herald_factory)
    c = login(h)
    for i in (1, 2):
        ok(c.append("INBOX", None, None, make_msg(i)))
    r = session(h)
    r.cmd("S1", "SELECT INBOX")
    notify(r, "SET (selected-delayed (MessageNew MessageExpunge))")
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(c.expunge())
    ok(c.append("INBOX", None, None, make_msg(3)))
    lines = expect(r, r"\* 3 EXISTS$")
    assert not any("EXPUNGE" in ln for ln in lines + quiet(r)), lines
    # FETCH uses sequence numbers: still held
    lines = r.cmd("F1", "FETCH 1 (UID)")
    assert "* 1 FETCH (UID 1)" in lines, lines
    assert not any("EXPUNGE" in ln for ln in lines), lines
    lines = r.cmd("N2", "NOOP")
    assert "* 1 EXPUNGE" in lines, lines
    r.close()
    c.logout()


def test_selected_qresync_vanished(herald_factory):
    h = server(herald_factory)
    c = login(h)
    for i in (1, 2):
        ok(c.append("INBOX", None, None, make_msg(i)))
    r = session(h)
    r.cmd("E1", "ENABLE QRESYNC")
    r.cmd("S1", "SELECT INBOX")
    notify(r, "SET (selected (MessageNew MessageExpunge))")
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1:2", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(c.expunge())
    expect(r, r"\* VANISHED 1:2$")
    r.close()
    c.logout()


def test_selected_none_sends_nothing_between_commands(herald_factory):
    """Without a SELECTED group the selected mailbox's changes come as
    before NOTIFY: with the next command's reply."""
    h = server(herald_factory)
    c = login(h)
    r = session(h)
    r.cmd("S1", "SELECT INBOX")
    notify(r, "SET (personal (MessageNew MessageExpunge))")
    ok(c.append("INBOX", None, None, make_msg(1)))
    assert quiet(r) == []
    lines = r.cmd("N2", "NOOP")
    assert "* 1 EXISTS" in lines, lines
    r.close()
    c.logout()


def test_mailbox_name_events(herald_factory):
    """MailboxName: LIST for a created mailbox, LIST with OLDNAME for a
    rename (its children too), LIST (\\NonExistent) for a deleted one."""
    h = server(herald_factory)
    c = login(h)
    r = session(h)
    notify(r, "SET (personal (MailboxName))")
    ok(c.create("Projects"))
    expect(r, r'\* LIST \(\\HasNoChildren\) "/" Projects$')
    ok(c.create("Projects/x"))
    expect(r, r'\* LIST \(\\HasNoChildren\) "/" Projects/x$')
    ok(c.rename("Projects", "Work"))
    lines = expect(r, r'\* LIST \(\\HasChildren\) "/" Work '
                      r'\("OLDNAME" \(Projects\)\)$')
    lines = expect(r, r'\* LIST \(\\HasNoChildren\) "/" Work/x '
                      r'\("OLDNAME" \(Projects/x\)\)$')
    ok(c.delete("Work/x"))
    expect(r, r'\* LIST \(\\NonExistent\) "/" Work/x$')
    r.close()
    c.logout()
    assert not h.sanitizer_errors()


def test_subtree_and_mailboxes_filters(herald_factory):
    """SUBTREE names a mailbox and those under it, MAILBOXES exactly
    those; the first group naming a mailbox decides (NONE excludes)."""
    h = server(herald_factory)
    c = login(h)
    r = session(h)
    notify(r, "SET (mailboxes Lists/quiet NONE) (subtree Lists "
              "(MailboxName)) (mailboxes Solo (MailboxName))")
    for name in ("Elsewhere", "Lists/quiet", "Lists/loud", "Solo",
                 "Solo/child"):
        ok(c.create(name))
    lines, _ = read_until(r, lambda ln: False, 1.5)
    names = [ln.split(" ")[-1] for ln in lines if ln.startswith("* LIST")]
    # Lists itself was created as the parent of Lists/quiet
    assert names == ["Lists", "Lists/loud", "Solo"], lines
    r.close()
    c.logout()


def test_subscription_change(herald_factory):
    """SubscriptionChange: LIST with \\Subscribed after SUBSCRIBE,
    without after UNSUBSCRIBE; a name that is no mailbox is
    \\NonExistent."""
    h = server(herald_factory)
    c = login(h)
    ok(c.create("News"))
    r = session(h)
    notify(r, "SET (personal (SubscriptionChange))")
    ok(c.subscribe("News"))
    expect(r, r'\* LIST \(\\HasNoChildren \\Subscribed\) "/" News$')
    ok(c.unsubscribe("News"))
    expect(r, r'\* LIST \(\\HasNoChildren\) "/" News$')
    ok(c.subscribe("Nowhere"))
    expect(r, r'\* LIST \(\\NonExistent \\Subscribed\) "/" Nowhere$')
    ok(c.unsubscribe("Nowhere"))
    expect(r, r'\* LIST \(\\NonExistent\) "/" Nowhere$')
    # not asked for: creating says nothing
    ok(c.create("Quiet"))
    assert quiet(r) == []
    r.close()
    c.logout()


def test_notify_none_stops_events(herald_factory):
    h = server(herald_factory)
    c = login(h)
    ok(c.create("Lists"))
    r = session(h)
    notify(r, "SET (personal (MessageNew MessageExpunge MailboxName))")
    ok(c.append("Lists", None, None, make_msg(1)))
    expect(r, r"\* STATUS Lists ")
    notify(r, "NONE", "N2")
    ok(c.append("Lists", None, None, make_msg(2)))
    ok(c.create("More"))
    assert quiet(r) == []
    r.close()
    c.logout()


def test_badevent(herald_factory):
    """Events Herald does not send: NO [BADEVENT (what it sends)], not
    BAD (RFC 5465 3.1); what was asked before stays."""
    h = server(herald_factory)
    r = session(h)
    supported = ("[BADEVENT (MessageNew MessageExpunge FlagChange "
                 "MailboxName SubscriptionChange MailboxMetadataChange "
                 "ServerMetadataChange)]")
    for i, args in enumerate((
            "SET (selected (MessageNew MessageExpunge AnnotationChange))",
            "SET (inboxes (XFutureEvent))")):
        lines = r.cmd(f"B{i}", f"NOTIFY {args}")
        assert lines[-1].startswith(f"B{i} NO {supported}"), (args, lines)
    # the metadata events are no BADEVENT (RFC 5465 5.9, 5.10: required
    # with METADATA and METADATA-SERVER)
    notify(r, "SET (personal (MailboxMetadataChange))", tag="M1")
    notify(r, "SET (personal (ServerMetadataChange MailboxName))",
           tag="M2")
    r.close()


def setmd(c, tag, args):
    lines = c.cmd(tag, f"SETMETADATA {args}")
    assert lines[-1].startswith(f"{tag} OK"), lines


def test_metadata_change_events(herald_factory):
    """MailboxMetadataChange and ServerMetadataChange: another session's
    SETMETADATA (set and removed, /private and /shared) comes as `*
    METADATA mailbox entry...` without values (RFC 5464 4.4.2), `""` for
    the server, between commands."""
    h = server(herald_factory)
    c = session(h)
    c.cmd("C0", "CREATE Lists")
    r = session(h)
    notify(r, "SET (personal (MailboxMetadataChange ServerMetadataChange"
           " MailboxName))")
    setmd(c, "C1", 'Lists (/shared/comment "team" /private/comment "mine")')
    lines = expect(r, r'\* METADATA Lists ')
    assert lines[-1] == "* METADATA Lists /private/comment /shared/comment", \
        lines
    setmd(c, "C2", '"" (/private/vendor/x/theme "dark")')
    lines = expect(r, r'\* METADATA ""')
    assert lines[-1] == '* METADATA "" /private/vendor/x/theme', lines
    # removal is a change too
    setmd(c, "C3", "Lists (/shared/comment NIL)")
    lines = expect(r, r'\* METADATA ')
    assert lines[-1] == "* METADATA Lists /shared/comment", lines
    # a refused SETMETADATA changed nothing: nothing told
    lines = c.cmd("C4", "SETMETADATA Nowhere (/shared/comment \"x\")")
    assert lines[-1].startswith("C4 NO"), lines
    assert quiet(r) == []
    # the session's own changes are told too (as its own APPEND is,
    # docs/imap.md "NOTIFY")
    setmd(r, "R1", "INBOX (/private/comment \"self\")")
    expect(r, r'\* METADATA INBOX /private/comment$')
    r.close()
    c.close()
    assert not h.sanitizer_errors()


def test_metadata_events_filtered(herald_factory):
    """MailboxMetadataChange follows the mailbox filters (a mailbox the
    groups leave out is not told of); without ServerMetadataChange the
    server's entries are not told."""
    h = server(herald_factory)
    c = session(h)
    c.cmd("C0", "CREATE Lists")
    r = session(h)
    notify(r, "SET (mailboxes Lists (MailboxMetadataChange))")
    setmd(c, "C1", 'INBOX (/shared/comment "in")')
    setmd(c, "C2", '"" (/private/comment "srv")')
    assert quiet(r) == []
    setmd(c, "C3", 'Lists (/shared/comment "l")')
    lines = expect(r, r'\* METADATA ')
    assert lines == ["* METADATA Lists /shared/comment"], lines
    notify(r, "NONE", tag="N2")
    setmd(c, "C4", 'Lists (/shared/comment "m")')
    assert quiet(r) == []
    r.close()
    c.close()


def test_metadata_private_of_another_user(herald_factory):
    """Another user's /private entries (server or his mailboxes) and his
    mailboxes' /shared ones are never told to this user."""
    h = server(herald_factory, users=(USER, USER2))
    r = session(h)
    notify(r, "SET (personal (MailboxMetadataChange ServerMetadataChange))")
    b = Conn(h)
    b.login(USER2)
    setmd(b, "B1", '"" (/private/vendor/secret "bob")')
    setmd(b, "B2", 'INBOX (/private/comment "bob" /shared/comment "bob")')
    assert quiet(r) == []
    # the watcher still works: its own user's change arrives
    c = session(h)
    setmd(c, "C1", '"" (/private/comment "alice")')
    lines = expect(r, r'\* METADATA ')
    assert lines == ['* METADATA "" /private/comment'], lines
    b.close()
    c.close()
    r.close()


@pytest.mark.parametrize("args", [
    "",
    "SET",
    "SET STATUS",
    "BOGUS",
    "NONE extra",
    "SET (selected (MessageNew))",
    "SET (selected (MessageExpunge))",
    "SET (personal (FlagChange))",
    "SET (personal (MessageNew FlagChange))",
    "SET (selected (MailboxName))",
    "SET (selected NONE) (selected-delayed NONE)",
    "SET (personal (MessageNew (UID) MessageExpunge))",
    "SET (selected (MessageNew (BOGUS) MessageExpunge))",
    "SET (selected (MessageNew () MessageExpunge))",
    "SET (personal ())",
    "SET (subtree (MailboxName))",
    "SET (mailboxes () (MailboxName))",
    "SET (nowhere (MailboxName))",
    "SET personal",
])
def test_bad_arguments(herald_factory, args):
    h = server(herald_factory)
    r = session(h)
    lines = r.cmd("B1", f"NOTIFY {args}".rstrip())
    assert lines[-1].startswith("B1 BAD"), lines
    r.close()


def test_overflow(herald_factory):
    """More responses owed at once than [imap] notify_events_max (changes
    made while the session ran a long command): OK
    [NOTIFICATIONOVERFLOW], then nothing more, as after NOTIFY NONE."""
    h = server(herald_factory, imap="notify_events_max = 2")
    c = login(h)
    r = session(h)
    notify(r, "SET (personal (MailboxName))")
    # an APPEND waiting for its literal is a command in progress
    r.send("A1 APPEND INBOX {%d}\r\n" % len(make_msg(1)))
    assert r.line().startswith("+ "), "no continuation"
    for name in ("One", "Two", "Three"):
        ok(c.create(name))
    assert quiet(r, 0.5) == []
    r.send(make_msg(1) + b"\r\n")
    lines = r.until_tagged("A1")
    assert lines[-1].startswith("A1 OK"), lines
    lines = expect(r, r"\* OK \[NOTIFICATIONOVERFLOW\]")
    assert not any(ln.startswith("* LIST") for ln in lines), lines
    ok(c.create("Four"))
    assert quiet(r) == []
    assert h.wait_log("notify-overflow", 5), h.log()
    # a new NOTIFY SET starts again
    notify(r, "SET (personal (MailboxName))", "N2")
    ok(c.create("Five"))
    expect(r, r'\* LIST \(\\HasNoChildren\) "/" Five$')
    r.close()
    c.logout()


def test_events_from_the_other_worker(herald_factory):
    """Two workers: the NOTIFY session on one, the change made on the
    other: STATUS, LIST and METADATA within a second."""
    h = server(herald_factory, workers=2)
    _, workers = h.pids()
    assert len(workers) == 2, workers
    r = session(h)
    pid = worker_of(h, "imap", r.sock.getsockname()[1])
    notify(r, "SET (personal (MessageNew MessageExpunge MailboxName "
           "MailboxMetadataChange))")
    for _ in range(200):
        s = smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30)
        if worker_of(h, "smtp", s.sock.getsockname()[1]) != pid:
            break
        s.quit()
    else:
        pytest.fail("every SMTP connection landed on the IMAP worker")
    s.sendmail("carol@remote.test", [USER], make_msg(1))
    s.quit()
    expect(r, STATUS_RE.format(box="INBOX", messages=1, uidnext=2,
                               unseen=1))
    for _ in range(200):
        c = Conn(h)
        if worker_of(h, "imap", c.sock.getsockname()[1]) != pid:
            break
        c.close()
    else:
        pytest.fail("every IMAP connection landed on the same worker")
    c.login()
    c.cmd("C1", "CREATE Elsewhere")
    expect(r, r'\* LIST \(\\HasNoChildren\) "/" Elsewhere$')
    setmd(c, "C2", 'Elsewhere (/shared/comment "x")')
    expect(r, r'\* METADATA Elsewhere /shared/comment$')
    c.close()
    r.close()
    assert not h.sanitizer_errors()


def test_idle_with_notify(herald_factory):
    """IDLE sends what NOTIFY asked for (RFC 5465 4): STATUS of another
    mailbox during IDLE; the selected mailbox's EXISTS only when NOTIFY
    names it."""
    h = server(herald_factory)
    c = login(h)
    ok(c.create("Lists"))
    r = session(h)
    r.cmd("S1", "SELECT INBOX")
    notify(r, "SET (selected (MessageNew MessageExpunge)) "
              "(personal (MessageNew MessageExpunge))")
    r.send("I1 IDLE\r\n")
    assert r.line().startswith("+ ")
    ok(c.append("Lists", None, None, make_msg(1)))
    expect(r, r"\* STATUS Lists ")
    ok(c.append("INBOX", None, None, make_msg(2)))
    expect(r, r"\* 1 EXISTS$")
    r.send("DONE\r\n")
    assert r.until_tagged("I1")[-1].startswith("I1 OK")
    # selected NONE: IDLE keeps quiet about INBOX, STATUS still comes
    notify(r, "SET (personal (MessageNew MessageExpunge))", "N2")
    r.send("I2 IDLE\r\n")
    assert r.line().startswith("+ ")
    ok(c.append("INBOX", None, None, make_msg(3)))
    ok(c.append("Lists", None, None, make_msg(4)))
    lines = expect(r, r"\* STATUS Lists ")
    assert not any("EXISTS" in ln for ln in lines), lines
    r.send("DONE\r\n")
    lines = r.until_tagged("I2")
    assert "* 2 EXISTS" in lines, lines
    r.close()
    c.logout()


def test_burst_of_changes_all_told(herald_factory):
    """Changes that come while a delivery is under way are told after it
    (looked at again from the loop), once each; a command sent meanwhile
    is answered."""
    h = server(herald_factory)
    c = login(h)
    r = session(h)
    notify(r, "SET (personal (MailboxName))")
    names = [f"Burst{i}" for i in range(12)]
    for name in names:
        ok(c.create(name))
    r.send("P1 NOOP\r\n")
    lines, got = read_until(r, lambda ln: ln.startswith("P1 "), 5)
    assert got and lines[-1].startswith("P1 OK"), lines
    told = [ln.split(" ")[-1] for ln in lines if ln.startswith("* LIST")]
    more = []
    while len(told) < len(names):
        got, _ = read_until(r, lambda ln: ln.startswith("* LIST"), 2.0)
        if not got:
            break
        more += got
        told += [ln.split(" ")[-1] for ln in got if ln.startswith("* LIST")]
    assert sorted(told) == sorted(names), lines + more
    assert quiet(r, 0.3) == []
    r.close()
    c.logout()


# ---- shared mailboxes (RFC 5465 with RFC 4314: issue 13 item 7) ----

CAROL = f"carol@{DOMAIN}"
TEAM = f"Other Users/{USER}/Team"
NOPE = f"Other Users/{USER}/Nope"
EVENTS = "(MessageNew MessageExpunge)"


def shared_status(messages, uidnext, unseen, box=TEAM):
    return (rf'\* STATUS "{re.escape(box)}" \(MESSAGES {messages} '
            rf'UIDNEXT {uidnext} UIDVALIDITY \d+ UNSEEN {unseen}\)$')


def shared_list(attrs, box=TEAM):
    return rf'\* LIST \({re.escape(attrs)}\) "/" "{re.escape(box)}"$'


def shared_server(factory, rights="lr", **kw):
    """alice, bob and carol; alice's Team, on which bob has rights; alice's
    imaplib session."""
    h = server(factory, listeners=("imap", "smtp"),
               users=(USER, USER2, CAROL), **kw)
    a = login(h)
    ok(a.create("Team"))
    if rights:
        ok(a.setacl("Team", USER2, rights))
    return h, a


def test_shared_mailbox_status_across_users_and_workers(herald_factory):
    """The done-when: bob's NOTIFY covers alice's shared Team; alice
    appends on the other worker and bob has the STATUS within a second.
    Carol, without rights, naming Team gets what she gets for a mailbox
    that does not exist, and hears nothing."""
    h, a = shared_server(herald_factory, workers=2)
    a.logout()
    b = session_as(h, USER2)
    pid = worker_of(h, "imap", b.sock.getsockname()[1])
    notify(b, f'SET (subtree "Other Users" {EVENTS})')
    c = session_as(h, CAROL)
    team = c.cmd("N1", f'NOTIFY SET STATUS (mailboxes "{TEAM}" {EVENTS})')
    nope = c.cmd("N1", f'NOTIFY SET STATUS (mailboxes "{NOPE}" {EVENTS})')
    assert team == nope == ["N1 OK NOTIFY completed"], (team, nope)
    notify(c, f'SET (mailboxes "{TEAM}" {EVENTS}) '
              f'(subtree "Other Users" (MessageNew MessageExpunge '
              f'MailboxName))', "N2")
    for _ in range(200):
        a = login(h)
        if worker_of(h, "imap", a.sock.getsockname()[1]) != pid:
            break
        a.logout()
    else:
        pytest.fail("every IMAP connection landed on bob's worker")
    t0 = time.monotonic()
    ok(a.append("Team", None, None, make_msg(1)))
    lines, got = read_until(b, lambda ln: re.match(shared_status(1, 2, 1),
                                                   ln), 3)
    elapsed = time.monotonic() - t0
    assert got, lines
    assert elapsed < 1.0, f"STATUS after {elapsed:.3f} s"
    assert quiet(c) == []
    a.logout()
    b.close()
    c.close()
    assert not h.sanitizer_errors()


def session_as(h, user):
    r = Conn(h)
    r.login(user)
    return r


def test_shared_mailbox_filters(herald_factory):
    """RFC 5465 6: personal and inboxes are the user's own mailboxes only;
    subscribed, subtree, mailboxes and selected reach a shared one."""
    h, a = shared_server(herald_factory)
    b = session_as(h, USER2)
    n = 0

    def append():
        nonlocal n
        n += 1
        ok(a.append("Team", None, None, make_msg(n)))

    # personal, inboxes: bob's INBOX is told of, alice's Team is not
    for i, filt in enumerate(("personal", "inboxes")):
        notify(b, f"SET ({filt} {EVENTS})")
        append()
        deliver(h, USER2, make_msg(100 + i, to=USER2))
        lines = expect(b, STATUS_RE.format(box="INBOX", messages=i + 1,
                                           uidnext=i + 2, unseen=i + 1))
        lines += quiet(b, 0.3)
        assert not any("Other Users" in ln for ln in lines), (filt, lines)
    # subscribed: once bob subscribes to the name
    notify(b, f"SET (subscribed {EVENTS})")
    append()
    assert quiet(b) == []
    assert b.cmd("U1", f'SUBSCRIBE "{TEAM}"')[-1].startswith("U1 OK")
    append()
    expect(b, shared_status(n, n + 1, n))
    # subtree (a level of the other users' namespace), mailboxes (the
    # owner's address in any case: told by the name LIST shows)
    for spec in (f'subtree "Other Users/{USER}"', f'mailboxes "{TEAM}"',
                 f'mailboxes "Other Users/{USER.upper()}/Team"'):
        notify(b, f"SET ({spec} {EVENTS})")
        append()
        expect(b, shared_status(n, n + 1, n))
    # selected: EXISTS, and no STATUS for it
    assert f"* {n} EXISTS" in b.cmd("S1", f'SELECT "{TEAM}"')
    notify(b, f"SET (selected {EVENTS}) (subtree \"Other Users\" {EVENTS})")
    append()
    lines = expect(b, rf"\* {n} EXISTS$") + quiet(b, 0.3)
    assert not any(ln.startswith("* STATUS") for ln in lines), lines
    a.logout()
    b.close()


def test_shared_mailbox_rights_change(herald_factory):
    """RFC 5465 5.9 and 5.4: losing "r" stops STATUS (LIST \\NoAccess),
    getting it back restarts it (LIST, STATUS); losing "l" is a deletion
    (LIST \\NonExistent) and nothing more is told; a grant is a
    creation."""
    h, a = shared_server(herald_factory)
    b = session_as(h, USER2)
    notify(b, f'SET (mailboxes "{TEAM}" (MessageNew MessageExpunge '
              f'MailboxName))')
    ok(a.setacl("Team", USER2, "l"))
    expect(b, shared_list("\\HasNoChildren \\NoAccess"))
    ok(a.append("Team", None, None, make_msg(1)))
    assert quiet(b) == []
    ok(a.setacl("Team", USER2, "lr"))
    lines = expect(b, shared_status(1, 2, 1))
    assert re.match(shared_list("\\HasNoChildren"), lines[-2]), lines
    ok(a.deleteacl("Team", USER2))
    expect(b, shared_list("\\NonExistent"))
    ok(a.append("Team", None, None, make_msg(2)))
    assert quiet(b) == []
    ok(a.setacl("Team", USER2, "lr"))
    expect(b, shared_list("\\HasNoChildren"))
    ok(a.append("Team", None, None, make_msg(3)))
    expect(b, shared_status(3, 4, 3))
    # "anyone" counts as well: bob loses his own entry but keeps read
    # access through anyone's
    ok(a.setacl("Team", "anyone", "lr"))
    ok(a.deleteacl("Team", USER2))
    ok(a.append("Team", None, None, make_msg(4)))
    lines = expect(b, shared_status(4, 5, 4))
    assert not any("NonExistent" in ln for ln in lines), lines
    # NOTIFY SET naming a mailbox bob sees but may not read: \NoAccess
    ok(a.setacl("Team", "anyone", "l"))
    expect(b, shared_list("\\HasNoChildren \\NoAccess"))
    lines = notify(b, f'SET STATUS (mailboxes "{TEAM}" {EVENTS})', "N2")
    assert lines[:-1] == [f'* LIST (\\HasNoChildren \\NoAccess) "/" '
                          f'"{TEAM}"'], lines
    a.logout()
    b.close()
    assert not h.sanitizer_errors()


def test_message_new_body_sets_seen(herald_factory):
    """RFC 5465 5.2 asks the client not to use fetch attributes that set
    \\Seen; Herald does what the client asked (docs/imap.md): BODY[] in
    MessageNew's list sets \\Seen like a FETCH, BODY.PEEK[] does not."""
    h = server(herald_factory)
    c = login(h)
    r = session(h)
    r.cmd("S1", "SELECT INBOX")
    notify(r, "SET (selected (MessageNew (UID BODY.PEEK[]) MessageExpunge))")
    ok(c.append("INBOX", None, None, make_msg(1)))
    expect(r, r"\* 1 FETCH \(UID 1 BODY\[\] \{\d+\}$")
    assert read_until(r, lambda ln: ln == ")")[1]
    notify(r, "SET (selected (MessageNew (UID BODY[]) MessageExpunge))",
           "N2")
    ok(c.append("INBOX", None, None, make_msg(2)))
    expect(r, r"\* 2 FETCH \(UID 2 BODY\[\] \{\d+\}$")
    lines, got = read_until(r, lambda ln: ln.endswith(")"))
    assert got and "FLAGS (\\Seen)" in lines[-1], lines
    ok(c.select("INBOX"))
    data = ok(c.uid("FETCH", "1:2", "(FLAGS)"))
    assert b"UID 1 FLAGS ()" in data[0] and b"\\Seen" not in data[0], data
    assert b"\\Seen" in data[1], data
    r.close()
    c.logout()


def test_shared_mailbox_names_and_subscriptions(herald_factory):
    """MailboxName and SubscriptionChange on a shared mailbox: the owner's
    RENAME comes as LIST with OLDNAME (the ACL goes with it), DELETE as
    \\NonExistent; the grantee's own SUBSCRIBE to the shared name as LIST
    with \\Subscribed."""
    h, a = shared_server(herald_factory)
    b = session_as(h, USER2)
    notify(b, 'SET (subtree "Other Users" (MailboxName '
              'SubscriptionChange))')
    b2 = session_as(h, USER2)
    assert b2.cmd("U1", f'SUBSCRIBE "{TEAM}"')[-1].startswith("U1 OK")
    expect(b, shared_list("\\HasNoChildren \\Subscribed"))
    assert b2.cmd("U2", f'UNSUBSCRIBE "{TEAM}"')[-1].startswith("U2 OK")
    expect(b, shared_list("\\HasNoChildren"))
    b2.close()
    ok(a.rename("Team", "Crew"))
    crew = f"Other Users/{USER}/Crew"
    expect(b, rf'\* LIST \(\\HasNoChildren\) "/" "{re.escape(crew)}" '
              rf'\("OLDNAME" \("{re.escape(TEAM)}"\)\)$')
    ok(a.delete("Crew"))
    expect(b, shared_list("\\NonExistent", crew))
    assert quiet(b) == []
    a.logout()
    b.close()


def test_shared_mailbox_flag_change_and_expunge(herald_factory):
    """FlagChange and MessageExpunge of the owner's shared mailbox reach
    the grantee as STATUS, with HIGHESTMODSEQ once CONDSTORE is on."""
    h, a = shared_server(herald_factory)
    for i in (1, 2):
        ok(a.append("Team", None, None, make_msg(i)))
    b = session_as(h, USER2)
    b.cmd("E1", "ENABLE CONDSTORE")
    notify(b, f'SET (mailboxes "{TEAM}" (MessageNew MessageExpunge '
              f'FlagChange))')
    ok(a.select("Team"))
    ok(a.uid("STORE", "1", "+FLAGS.SILENT", "(\\Seen)"))
    expect(b, rf'\* STATUS "{re.escape(TEAM)}" \(MESSAGES 2 UIDNEXT 3 '
              rf'UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+\)$')
    ok(a.uid("STORE", "2", "+FLAGS.SILENT", "(\\Deleted)"))
    expect(b, rf'\* STATUS "{re.escape(TEAM)}" \(MESSAGES 2 UIDNEXT 3 '
              rf'UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+\)$')
    ok(a.expunge())
    expect(b, rf'\* STATUS "{re.escape(TEAM)}" \(MESSAGES 1 UIDNEXT 3 '
              rf'UIDVALIDITY \d+ UNSEEN 0 HIGHESTMODSEQ \d+\)$')
    a.logout()
    b.close()


def test_shared_mailbox_metadata_change(herald_factory):
    """MailboxMetadataChange of alice's shared Team reaches bob (who may
    read its entries: "l" and "r", RFC 5464 3.3) under its Other Users
    name within a second, whoever set the /shared entry; a /private entry
    only its setter (RFC 5464 3.2); carol, without rights, hears nothing;
    bob with "l" alone hears nothing more."""
    h, a = shared_server(herald_factory, rights="lrw")
    a.logout()
    a = session_as(h, USER)
    ar = session_as(h, USER)
    notify(ar, "SET (personal (MailboxMetadataChange))")
    b = session_as(h, USER2)
    notify(b, f'SET (mailboxes "{TEAM}" (MailboxMetadataChange))')
    b2 = session_as(h, USER2)
    c = session_as(h, CAROL)
    notify(c, f'SET (mailboxes "{TEAM}" (MailboxMetadataChange)) '
              f'(subtree "Other Users" (MailboxMetadataChange))')
    team = re.escape(f'"{TEAM}"')

    t0 = time.monotonic()
    setmd(a, "A1", 'Team (/shared/comment "team")')
    lines = expect(b, rf"\* METADATA {team} ")
    elapsed = time.monotonic() - t0
    assert lines == [f'* METADATA "{TEAM}" /shared/comment'], lines
    assert elapsed < 1.0, f"METADATA after {elapsed:.3f} s"
    assert expect(ar, r"\* METADATA ") == \
        ["* METADATA Team /shared/comment"]
    # alice's private entry: hers alone
    setmd(a, "A2", 'Team (/private/comment "mine")')
    assert expect(ar, r"\* METADATA ") == \
        ["* METADATA Team /private/comment"]
    assert quiet(b) == []
    # bob's (with "w") shared entry: both hear; his private one: he alone
    setmd(b2, "B1", f'"{TEAM}" (/shared/vendor/x/tag "b")')
    assert expect(b, r"\* METADATA ") == \
        [f'* METADATA "{TEAM}" /shared/vendor/x/tag']
    assert expect(ar, r"\* METADATA ") == \
        ["* METADATA Team /shared/vendor/x/tag"]
    setmd(b2, "B2", f'"{TEAM}" (/private/comment "bob")')
    assert expect(b, r"\* METADATA ") == \
        [f'* METADATA "{TEAM}" /private/comment']
    assert quiet(ar) == []
    assert quiet(c, 0.3) == []
    # "l" alone: bob may not read the entries, so is not told of them
    setmd(a, "A3", "Team (/shared/comment NIL)")
    assert expect(b, r"\* METADATA ") == \
        [f'* METADATA "{TEAM}" /shared/comment']
    lines = a.cmd("A4", f'SETACL Team "{USER2}" l')
    assert lines[-1].startswith("A4 OK"), lines
    setmd(a, "A5", 'Team (/shared/comment "again")')
    expect(ar, r"\* METADATA Team /shared/comment$")
    assert quiet(b) == []
    assert quiet(c, 0.3) == []
    for s in (a, ar, b, b2, c):
        s.close()
    assert not h.sanitizer_errors()
