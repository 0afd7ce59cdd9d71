"""The small IMAP extensions of issue 13 item 9 that Herald has: WITHIN
(RFC 5032, OLDER and YOUNGER on the internal date, seconds before now).
Driven by imaplib, raw lines where the exact response matters."""
import imaplib
import time

from imap_util import Raw, login, make_msg, ok, server


def test_within_older_younger(herald_factory):
    h = server(herald_factory, listeners=("imap", "smtp"))
    c = login(h)
    caps = ok(c.capability())[0].split()
    assert b"WITHIN" in caps, caps
    now = time.time()
    # internal dates: 10 days ago, 2 hours ago, now (no date given)
    for i, age in ((1, 10 * 86400), (2, 7200)):
        ok(c.append("INBOX", None, imaplib.Time2Internaldate(now - age),
                    make_msg(i)))
    ok(c.append("INBOX", None, None, make_msg(3)))
    ok(c.select("INBOX"))

    def search(*keys, uid=False):
        data = ok(c.uid("SEARCH", *keys) if uid else c.search(None, *keys))
        return data[0].split()

    assert search("OLDER", "3600") == [b"1", b"2"]
    assert search("YOUNGER", "3600") == [b"3"]
    assert search("YOUNGER", "86400") == [b"2", b"3"]
    assert search("OLDER", str(9 * 86400)) == [b"1"]
    assert search("OLDER", "4294967295") == []
    assert search("YOUNGER", "4294967295") == [b"1", b"2", b"3"]
    assert search("NOT", "OLDER", "3600") == [b"3"]
    assert search("OR", "OLDER", str(9 * 86400), "YOUNGER", "600") == \
        [b"1", b"3"]
    assert search("YOUNGER", "86400", "OLDER", "600", uid=True) == [b"2"]
    # in SORT too, which shares SEARCH's keys
    data = ok(c.sort("(REVERSE ARRIVAL)", "UTF-8", "YOUNGER", "86400"))
    assert data[0].split() == [b"3", b"2"], data
    c.logout()

    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    for tag, text in (("a", "SEARCH OLDER 0"), ("b", "SEARCH OLDER"),
                      ("c", "SEARCH YOUNGER -5"), ("d", "SEARCH OLDER x"),
                      ("e", "SEARCH YOUNGER 4294967296"),
                      ("f", 'SEARCH OLDER "60"')):
        lines = r.cmd(tag, text)
        assert lines[-1].startswith(f"{tag} BAD"), (text, lines)
    r.close()
