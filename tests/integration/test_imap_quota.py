"""IMAP QUOTA (RFC 9208, issue 13 item 6): one quota root "User quota"
per account with a quota, the STORAGE resource in KiB rounded up against
what the test appended, the MESSAGE resource from the message limit
(`herald user quota --messages`), each only when set, no root for an
account without a quota (never a limit 0: CLIENT-QUIRKS), STATUS DELETED
and DELETED-STORAGE, NO [OVERQUOTA] for APPEND, COPY and REPLACE and 552
5.2.2 for SMTP, SETQUOTA refused."""
import smtplib

from imap_util import USER, USER2, Raw, login, make_msg, ok, server

ROOT = '"User quota"'


def kib(n):
    return (n + 1023) // 1024


def quota_server(herald_factory, quota="100k"):
    h = server(herald_factory, listeners=("imap", "smtp"),
               users=(USER, USER2))
    h.cli("user", "quota", USER, quota)
    return h


def append_all(c, msgs, mailbox="INBOX"):
    for m in msgs:
        ok(c.append(mailbox, None, None, m))
    return sum(len(m) for m in msgs)


def test_capabilities(herald_factory):
    h = quota_server(herald_factory)
    r = Raw(h)
    before = r.cmd("a", "CAPABILITY")[0].split()
    assert "QUOTA" not in before
    caps = r.login()[-1]
    after = r.cmd("b", "CAPABILITY")[0].split()
    for words in (caps, after):
        assert "QUOTA" in words and "QUOTA=RES-STORAGE" in words, words
        assert "QUOTA=RES-MESSAGE" in words, words
        # SETQUOTA is refused
        assert "QUOTASET" not in words, words
    r.close()


def test_usage_exact_and_drops_after_expunge(herald_factory):
    h = quota_server(herald_factory)
    c = login(h)
    msgs = [make_msg(i, body_lines=10 * i + 1) for i in range(1, 6)]
    used = append_all(c, msgs[:3])
    used += append_all(c, msgs[3:], "Archive")
    typ, data = c.getquotaroot("INBOX")
    assert typ == "OK", data
    assert data == [[b'INBOX "User quota"'],
                    [f'"User quota" (STORAGE {kib(used)} 100)'.encode()]]
    data = ok(c.getquotaroot("Archive"))
    assert data[0] == [b'Archive "User quota"'], data
    data = ok(c.getquota(ROOT))
    assert data == [f'"User quota" (STORAGE {kib(used)} 100)'.encode()]

    # \Deleted on two INBOX messages: STATUS DELETED / DELETED-STORAGE
    ok(c.select("INBOX"))
    ok(c.store("1,3", "+FLAGS", "(\\Deleted)"))
    gone = len(msgs[0]) + len(msgs[2])
    data = ok(c.status("INBOX", "(DELETED DELETED-STORAGE MESSAGES)"))
    assert data == [f"INBOX (DELETED 2 DELETED-STORAGE {kib(gone)} "
                    f"MESSAGES 3)".encode()], data
    data = ok(c.status("Archive", "(DELETED-STORAGE DELETED)"))
    assert data == [b"Archive (DELETED-STORAGE 0 DELETED 0)"], data
    ok(c.expunge())
    used -= gone
    data = ok(c.getquota(ROOT))
    assert data == [f'"User quota" (STORAGE {kib(used)} 100)'.encode()]
    data = ok(c.status("INBOX", "(DELETED DELETED-STORAGE)"))
    assert data == [b"INBOX (DELETED 0 DELETED-STORAGE 0)"], data
    c.logout()


def test_account_without_quota_has_no_root(herald_factory):
    h = quota_server(herald_factory)
    c = login(h, USER2)
    append_all(c, [make_msg(1)])
    data = ok(c.getquotaroot("INBOX"))
    # a QUOTAROOT that lists no root and no QUOTA response (RFC 9208
    # 4.1.2); a limit 0 crashed Delta Chat (CLIENT-QUIRKS)
    assert data == [[b"INBOX"], [None]], data
    typ, data = c.getquota(ROOT)
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], (typ, data)
    c.logout()

    # the admin gives bob a quota: the next GETQUOTAROOT shows it, and
    # taking it away removes the root again
    r = Raw(h)
    r.login(USER2)
    h.cli("user", "quota", USER2, "1M")
    lines = r.cmd("a", "GETQUOTAROOT INBOX")
    assert lines[0] == '* QUOTAROOT INBOX "User quota"', lines
    assert lines[1].startswith('* QUOTA "User quota" (STORAGE 1 1024)'), lines
    h.cli("user", "quota", USER2, "0")
    lines = r.cmd("b", "GETQUOTAROOT INBOX")
    assert lines == ["* QUOTAROOT INBOX",
                     "b OK GETQUOTAROOT completed"], lines
    r.close()


def test_small_quota_never_reads_as_limit_zero(herald_factory):
    h = quota_server(herald_factory, quota="500")
    r = Raw(h)
    r.login()
    lines = r.cmd("a", "GETQUOTA \"User quota\"")
    assert lines == ['* QUOTA "User quota" (STORAGE 0 1)',
                     "a OK GETQUOTA completed"], lines
    r.close()


def test_over_quota_append_copy(herald_factory):
    h = quota_server(herald_factory, quota="3k")
    c = login(h)
    small = make_msg(1, body_lines=28)
    big = make_msg(2, body_lines=200)
    # three smalls fit in 3 KiB, a fourth does not
    assert 3 * len(small) <= 3072 < 4 * len(small) and len(big) > 3072
    used = append_all(c, [small])
    typ, data = c.append("INBOX", None, None, big)
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    ok(c.select("INBOX"))
    assert ok(c.search(None, "ALL")) == [b"1"]
    assert h.messages(USER) == [small]
    data = ok(c.getquota(ROOT))
    assert data == [f'"User quota" (STORAGE {kib(used)} 3)'.encode()]

    # two copies fit (three in all), then a COPY of one more is refused
    ok(c.copy("1", "Archive"))
    ok(c.copy("1", "Archive"))
    ok(c.select("Archive"))
    typ, data = c.copy("1:*", "Drafts")
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    typ, data = c.copy("1", "Drafts")
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    data = ok(c.status("Drafts", "(MESSAGES)"))
    assert data == [b"Drafts (MESSAGES 0)"], data
    # a move needs no room
    typ, _ = c.uid("MOVE", "1:*", "Drafts")
    assert typ == "OK"
    data = ok(c.status("Drafts", "(MESSAGES)"))
    assert data == [b"Drafts (MESSAGES 2)"], data
    data = ok(c.getquota(ROOT))
    assert data == [f'"User quota" (STORAGE {kib(3 * used)} 3)'.encode()]
    c.logout()


def test_bad_syntax_unknown_root_setquota(herald_factory):
    h = quota_server(herald_factory)
    r = Raw(h)
    # not before login
    lines = r.cmd("p", "GETQUOTAROOT INBOX")
    assert lines[-1].startswith("p BAD"), lines
    r.login()
    for tag, text in (("a", "GETQUOTAROOT"),
                      ("b", "GETQUOTAROOT INBOX extra"),
                      ("c", "GETQUOTA"),
                      ("d", "GETQUOTA (x)"),
                      ("e", 'SETQUOTA "User quota"'),
                      ("f", 'SETQUOTA "User quota" (STORAGE)'),
                      ("g", 'SETQUOTA "User quota" (STORAGE x)'),
                      ("h", 'SETQUOTA "User quota" STORAGE'),
                      ("i", "STATUS INBOX (DELETED-STORAGE BOGUS)")):
        lines = r.cmd(tag, text)
        assert lines[-1].startswith(f"{tag} BAD"), (text, lines)
    lines = r.cmd("j", "GETQUOTAROOT nosuch")
    assert lines == ["j NO [NONEXISTENT] No such mailbox"], lines
    lines = r.cmd("k", 'GETQUOTA ""')
    assert lines == ["k NO [NONEXISTENT] No such quota root"], lines
    lines = r.cmd("l", 'GETQUOTA "user quota"')
    assert lines[-1].startswith("l NO [NONEXISTENT]"), lines
    lines = r.cmd("m", 'SETQUOTA "User quota" (STORAGE 10)')
    assert lines[-1].startswith("m NO [NOPERM]"), lines
    lines = r.cmd("n", 'SETQUOTA "User quota" ()')
    assert lines[-1].startswith("n NO [NOPERM]"), lines
    # the limit is still the admin's
    lines = r.cmd("o", 'GETQUOTA "User quota"')
    assert lines[0] == '* QUOTA "User quota" (STORAGE 0 100)', lines
    # still answering
    lines = r.cmd("z", "NOOP")
    assert lines[-1].startswith("z OK"), lines
    r.close()


def test_message_limit_reported(herald_factory):
    h = quota_server(herald_factory)
    h.cli("user", "quota", USER2, "--messages", "3")
    c = login(h, USER2)
    # a message limit alone: MESSAGE only, no STORAGE (RFC 9208 4.1.1)
    assert ok(c.getquotaroot("INBOX")) == [
        [b'INBOX "User quota"'], [b'"User quota" (MESSAGE 0 3)']]
    append_all(c, [make_msg(1), make_msg(2)], "Archive")
    assert ok(c.getquota(ROOT)) == [b'"User quota" (MESSAGE 2 3)']
    # STATUS is unaffected: per mailbox, not the account's usage
    assert ok(c.status("INBOX", "(MESSAGES)")) == [b"INBOX (MESSAGES 0)"]
    c.logout()

    # both limits; SIZE alone keeps the message limit and --messages
    # alone keeps the byte quota
    c = login(h)
    used = append_all(c, [make_msg(3)])
    h.cli("user", "quota", USER, "--messages", "10")
    want = f'"User quota" (STORAGE {kib(used)} 100 MESSAGE 1 10)'.encode()
    assert ok(c.getquota(ROOT)) == [want]
    h.cli("user", "quota", USER, "200k")
    want = f'"User quota" (STORAGE {kib(used)} 200 MESSAGE 1 10)'.encode()
    assert ok(c.getquota(ROOT)) == [want]
    h.cli("user", "quota", USER, "0")
    assert ok(c.getquota(ROOT)) == [b'"User quota" (MESSAGE 1 10)']
    # neither: no root at all, never a limit 0 (CLIENT-QUIRKS)
    h.cli("user", "quota", USER, "--messages", "0")
    assert ok(c.getquotaroot("INBOX")) == [[b"INBOX"], [None]]
    typ, data = c.getquota(ROOT)
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], (typ, data)
    c.logout()


def test_over_message_limit(herald_factory):
    h = quota_server(herald_factory)
    h.cli("user", "quota", USER, "--messages", "2")
    c = login(h)
    append_all(c, [make_msg(1), make_msg(2)])
    typ, data = c.append("INBOX", None, None, make_msg(3))
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    ok(c.select("INBOX"))
    typ, data = c.copy("1", "Archive")
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    assert ok(c.status("Archive", "(MESSAGES)")) == [b"Archive (MESSAGES 0)"]
    # a move within the account adds no message
    typ, _ = c.uid("MOVE", "2", "Archive")
    assert typ == "OK"
    assert ok(c.status("Archive", "(MESSAGES)")) == [b"Archive (MESSAGES 1)"]

    # SMTP: 552 5.2.2, as for the byte quota, and nothing stored
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        s.ehlo("remote.test")
        s.mail("carol@remote.test")
        assert s.rcpt(USER)[0] == 250
        code, text = s.data(make_msg(4))
    assert (code, text[:5]) == (552, b"5.2.2"), (code, text)
    assert len(h.messages(USER)) == 1
    assert ok(c.getquota(ROOT)) == [
        f'"User quota" (STORAGE {kib(len(make_msg(1)) + len(make_msg(2)))}'
        f' 100 MESSAGE 2 2)'.encode()]

    # REPLACE at the limit is refused like an APPEND: the new message is
    # checked before the old one goes (RFC 8508 says nothing is lost)
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    new = make_msg(5)
    r.send(f"r REPLACE 1 INBOX {{{len(new)}+}}\r\n".encode() + new + b"\r\n")
    lines = r.until_tagged("r")
    assert lines[-1].startswith("r NO [OVERQUOTA]"), lines
    r.close()
    assert h.messages(USER) == [make_msg(1)]

    # an expunge frees a slot: the next delivery and APPEND fit again
    ok(c.store("1", "+FLAGS", "(\\Deleted)"))
    ok(c.expunge())
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        s.sendmail("carol@remote.test", [USER], make_msg(6))
    typ, data = c.append("INBOX", None, None, make_msg(7))
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    ok(c.select("Archive"))
    ok(c.store("1", "+FLAGS", "(\\Deleted)"))
    ok(c.expunge())
    ok(c.append("INBOX", None, None, make_msg(7)))
    got = h.messages(USER)
    assert len(got) == 2 and got[0].endswith(make_msg(6)), got
    assert got[1] == make_msg(7)
    assert ok(c.getquota(ROOT))[0].endswith(b"MESSAGE 2 2)")
    c.logout()
