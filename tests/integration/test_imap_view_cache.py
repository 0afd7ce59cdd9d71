"""The worker's cache of mailbox views (docs/ARCHITECTURE.md "The mailbox
view cache"): a SELECT after changes made by other sessions, by the
session that shared the view, or written into the database without any
notification (a writer killed between its commit and its publish) sees
the mailbox as it is; sessions that share a view never see each other's
changes except as the untagged responses RFC 9051 prescribes."""
import re

from imap_util import USER, Raw, deliver, make_msg, server


def flags_of(r, tag):
    """UID -> flags text of FETCH 1:* (UID FLAGS), and the tagged line."""
    lines = r.cmd(tag, "FETCH 1:* (UID FLAGS)")
    out = {}
    for ln in lines:
        m = re.fullmatch(r"\* \d+ FETCH \(UID (\d+) FLAGS \((.*)\)\)", ln)
        if m:
            out[int(m.group(1))] = m.group(2)
    assert lines[-1].startswith(f"{tag} OK"), lines
    return out


def exists_of(lines):
    return [int(ln.split()[1]) for ln in lines if ln.endswith(" EXISTS")]


def test_select_after_changes_by_sessions_sharing_the_view(herald_factory):
    """A and B select the same mailbox (one snapshot); A's STORE, new
    keyword and EXPUNGE reach B only as FETCH / FLAGS / EXPUNGE
    responses, and every later SELECT shows the mailbox as it is."""
    h = server(herald_factory)
    for i in range(1, 5):
        deliver(h, USER, make_msg(i))
    a = Raw(h)
    a.login()
    b = Raw(h)
    b.login()
    assert exists_of(a.cmd("S1", "SELECT INBOX")) == [4]
    assert exists_of(b.cmd("S1", "SELECT INBOX")) == [4]
    lines = a.cmd("T1", "STORE 1 +FLAGS (\\Flagged $Work)")
    assert lines[-1].startswith("T1 OK"), lines
    # B's next command brings the change, once
    lines = b.cmd("N1", "NOOP")
    assert any(ln.startswith("* FLAGS (") and "$Work" in ln
               for ln in lines), lines
    assert any(re.fullmatch(r"\* 1 FETCH \(UID 1 FLAGS "
                            r"\(\\Flagged \$Work\)\)", ln)
               for ln in lines), lines
    # a new session: the change is in its view from the start
    c = Raw(h)
    c.login()
    lines = c.cmd("S1", "SELECT INBOX")
    assert any("$Work" in ln for ln in lines if ln.startswith("* FLAGS")), \
        lines
    assert flags_of(c, "F1") == {1: "\\Flagged $Work", 2: "", 3: "",
                                 4: ""}
    # A expunges 2; C (selected) is told at its next NOOP, a new SELECT
    # never sees it
    assert a.cmd("T2", "STORE 2 +FLAGS.SILENT (\\Deleted)")[-1] \
        .startswith("T2 OK")
    assert a.cmd("E1", "EXPUNGE")[-1].startswith("E1 OK")
    lines = c.cmd("N1", "NOOP")
    assert "* 2 EXPUNGE" in lines, lines
    d = Raw(h)
    d.login()
    assert exists_of(d.cmd("S1", "SELECT INBOX")) == [3]
    assert flags_of(d, "F1") == {1: "\\Flagged $Work", 3: "", 4: ""}
    # a delivery, then a SELECT in a session that had the mailbox
    deliver(h, USER, make_msg(5))
    lines = b.cmd("S2", "SELECT INBOX")
    assert exists_of(lines) == [4], lines
    assert sorted(flags_of(b, "F2")) == [1, 3, 4, 5]
    # B's own change to its view leaves the shared one alone
    assert b.cmd("T3", "UID STORE 3 +FLAGS.SILENT (\\Seen)")[-1] \
        .startswith("T3 OK")
    assert flags_of(d, "F2")[3] == "\\Seen"
    e = Raw(h)
    e.login()
    e.cmd("S1", "EXAMINE INBOX")
    assert flags_of(e, "F1") == {1: "\\Flagged $Work", 3: "\\Seen",
                                 4: "", 5: ""}
    for r in (a, b, c, d, e):
        r.close()


def test_select_sees_a_change_never_notified(herald_factory):
    """A change written straight into the database (no counter moves, as
    a writer killed between its commit and its publish leaves it) is in
    the next SELECT's view: the cached view is checked against the
    mailbox row, not only the counter."""
    h = server(herald_factory)
    deliver(h, USER, make_msg(1))
    deliver(h, USER, make_msg(2))
    a = Raw(h)
    a.login()
    assert exists_of(a.cmd("S1", "SELECT INBOX")) == [2]
    assert flags_of(a, "F1") == {1: "", 2: ""}
    db = h.db()
    box, acc, hms = db.execute(
        "SELECT m.id, m.account_id, m.highestmodseq FROM mailboxes m"
        " WHERE m.role = 'inbox'").fetchone()
    with db:
        db.execute("UPDATE messages SET flags = flags | 4, modseq = ?"
                   " WHERE mailbox_id = ? AND uid = 1", (hms + 1, box))
        db.execute("UPDATE mailboxes SET highestmodseq = ? WHERE id = ?",
                   (hms + 1, box))
    b = Raw(h)
    b.login()
    b.cmd("S1", "SELECT INBOX")
    assert flags_of(b, "F1") == {1: "\\Flagged", 2: ""}
    with db:
        mid = db.execute("SELECT id FROM messages WHERE mailbox_id = ?"
                         " AND uid = 2", (box,)).fetchone()[0]
        db.execute("DELETE FROM messages WHERE id = ?", (mid,))
        db.execute("INSERT INTO changes (account_id, mailbox_id, modseq,"
                   " kind, object_id, uid, change, at) VALUES"
                   " (?, ?, ?, 'email', ?, 2, 'destroyed', 0)",
                   (acc, box, hms + 2, mid))
        db.execute("UPDATE mailboxes SET highestmodseq = ? WHERE id = ?",
                   (hms + 2, box))
    db.close()
    c = Raw(h)
    c.login()
    assert exists_of(c.cmd("S1", "SELECT INBOX")) == [1]
    assert flags_of(c, "F1") == {1: "\\Flagged"}
    for r in (a, b, c):
        r.close()


def test_view_cache_off(herald_factory):
    """view_cache_messages = 0: every SELECT reads the mailbox."""
    h = server(herald_factory, imap="view_cache_messages = 0")
    deliver(h, USER, make_msg(1))
    a = Raw(h)
    a.login()
    assert exists_of(a.cmd("S1", "SELECT INBOX")) == [1]
    assert a.cmd("T1", "STORE 1 +FLAGS.SILENT (\\Answered)")[-1] \
        .startswith("T1 OK")
    b = Raw(h)
    b.login()
    assert exists_of(b.cmd("S1", "SELECT INBOX")) == [1]
    assert flags_of(b, "F1") == {1: "\\Answered"}
    a.close()
    b.close()


def test_fetch_item_cache_keyed_by_how_items_are_written(herald_factory):
    """The worker's cache of ENVELOPE / BODY / BODYSTRUCTURE texts: a
    legacy session, a UTF8=ACCEPT one, then a legacy one again each get
    their own form (the second legacy one from the cache), the same as a
    server that keeps none sends."""
    from test_imap_utf8 import deliver_utf8, intl_msg

    def items(h, utf8):
        r = Raw(h)
        r.login()
        if utf8:
            assert r.cmd("E", "ENABLE UTF8=ACCEPT")[-1].startswith("E OK")
        r.cmd("S", "EXAMINE INBOX")
        lines = r.cmd("F", "FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)")
        assert lines[-1].startswith("F OK"), lines
        r.close()
        return lines[:-1]

    runs = []
    for imap in ("", "fetch_cache_size = 0"):
        h = server(herald_factory, imap=imap)
        deliver_utf8(h, intl_msg())
        deliver(h, USER, make_msg(2))
        runs.append([items(h, False), items(h, True), items(h, False),
                     items(h, True)])
        h.stop()
    cached, uncached = runs
    assert cached == uncached
    legacy, utf8 = cached[0], cached[1]
    assert len(legacy) == 2 and legacy != utf8
    assert "=?UTF-8?" in legacy[0] and "=?UTF-8?" not in utf8[0]
