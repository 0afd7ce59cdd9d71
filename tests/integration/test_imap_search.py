"""IMAP SEARCH (issue 11 item 6): every key, CHARSET, ESEARCH (RFC 4731),
SAVE and $ (RFC 5182), BODY/TEXT through the full-text index on decoded
text, the limits. Driven by imaplib (and raw lines where the exact
response matters); mail arrives over Herald's SMTP listener."""
import base64
import datetime
import os
import smtplib
import sqlite3
import time

import pytest

from imap_util import USER, PASSWORD, Raw, deliver, login, server

# The issue's message: a UTF-8 word inside a quoted-printable ISO-8859-1
# part of a multipart message.
QP_LATIN1 = (
    "From: =?iso-8859-1?q?J=F6rg?= <joerg@remote.test>\r\n"
    f"To: {USER}\r\n"
    "Subject: =?iso-8859-1?q?Gr=FC=DFe?= aus Bayern\r\n"
    "Date: Tue, 1 Feb 1994 21:52:25 -0800\r\n"
    "X-Trip: yes\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b1\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=ISO-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Sch=F6ne Gr=FC=DFe aus M=FCnchen, wir sehen uns im Fr=FChling.\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAwQFBgcICQoLDA0ODxAREhM=\r\n"
    "--b1--\r\n")

B64_UTF8 = (
    "From: Carol <carol@remote.test>\r\n"
    f"To: {USER}\r\n"
    "Subject: plain subject\r\n"
    "Date: Wed, 2 Feb 1994 08:00:00 +0100\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n" +
    base64.encodebytes("Ein Brief aus MÜNCHEN über Zürich.\n"
                       .encode()).decode().replace("\n", "\r\n"))

PLAIN = (
    "From: Dave <dave@remote.test>\r\n"
    f"To: {USER}\r\n"
    "Cc: erin@remote.test\r\n"
    "Subject: nothing to see\r\n"
    "Date: Thu, 3 Feb 1994 10:00:00 +0000\r\n"
    "\r\n"
    "Gruesse aus Muenchen, ASCII only. xq\r\n")


def index_db(h):
    """The search index: a file of its own beside herald.db."""
    return sqlite3.connect(os.path.join(h.data_dir, "herald.db-search"),
                           timeout=10)


def counts(h):
    """(queued index work in herald.db, entries in the index file)."""
    db = h.db()
    left = db.execute("SELECT count(*) FROM search_queue").fetchone()[0]
    db.close()
    ix = index_db(h)
    docs = ix.execute("SELECT count(*) FROM search_docs").fetchone()[0]
    ix.close()
    return left, docs


def fill(h, msgs):
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=60) as s:
        for m in msgs:
            s.sendmail("carol@remote.test", [USER],
                       m.encode() if isinstance(m, str) else m)


def nums(c, *criteria, charset=None, uid=False):
    if uid:
        typ, data = c.uid("SEARCH", *criteria)
    else:
        typ, data = c.search(charset, *criteria)
    assert typ == "OK", (typ, data)
    return [int(x) for x in data[0].split()]


@pytest.fixture
def three(herald_factory):
    h = server(herald_factory)
    fill(h, [QP_LATIN1, B64_UTF8, PLAIN])
    c = login(h)
    assert c.select("INBOX")[0] == "OK"
    yield h, c
    c.logout()


def test_issue_or_not_header_text_utf8_in_qp_latin1(three):
    """The issue's check: OR/NOT/HEADER/TEXT on a UTF-8 word inside a
    quoted-printable ISO-8859-1 part."""
    h, c = three
    # the UTF-8 word reaches imaplib's literal, sent with CHARSET UTF-8
    c.literal = "grüße AUS münchen".encode()
    assert nums(c, "TEXT", charset="UTF-8") == [1]
    c.literal = "münchen".encode()
    assert nums(c, "NOT", "HEADER", "X-Trip", "yes", "TEXT",
                charset="UTF-8") == [2]
    c.literal = "FRÜHLING".encode()
    assert nums(c, "OR", "(NOT HEADER X-Trip yes SUBJECT nothing)", "TEXT",
                charset="UTF-8") == [1, 3]
    c.literal = "Frühling".encode()
    assert nums(c, "NOT", "HEADER", "Cc", "erin", "BODY",
                charset="UTF-8") == [1]
    c.literal = "münchen".encode()
    assert nums(c, "HEADER", "X-Trip", '""', "NOT", "BODY",
                charset="UTF-8") == []
    # the encoded-word subject is matched decoded
    c.literal = "Grüße aus".encode()
    assert nums(c, "SUBJECT", charset="UTF-8") == [1]
    c.literal = "Jörg".encode()
    assert nums(c, "FROM", charset="UTF-8") == [1]
    # the raw QP and base64 never match; the attachment is not text
    assert nums(c, "TEXT", "M=FCnchen") == []
    assert nums(c, "BODY", "AAECAwQF") == []
    assert nums(c, "TEXT", "muenchen") == [3]


def test_keys_on_the_view(three):
    h, c = three
    assert nums(c, "ALL") == [1, 2, 3]
    assert nums(c, "UNSEEN") == [1, 2, 3]
    assert nums(c, "SEEN") == []
    assert nums(c, "NOT", "DELETED", "UNFLAGGED", "UNANSWERED",
                "UNDRAFT") == [1, 2, 3]
    assert nums(c, "2:*") == [2, 3]
    assert nums(c, "*:2") == [2, 3]
    assert nums(c, "1,3") == [1, 3]
    assert nums(c, "(1:2)", "(2:3 ALL)") == [2]
    assert nums(c, "(1 2)") == []
    assert nums(c, "OR", "1", "3") == [1, 3]
    assert nums(c, "UID", "1:*") == [1, 2, 3]
    assert nums(c, "UID", "2", uid=True) == [2]
    # "*" is the highest UID even below the range's start (RFC 9051 9)
    assert nums(c, "UID", "4:*") == [3]
    assert nums(c, "UID", "4:5") == []
    assert nums(c, "KEYWORD", "$Forwarded") == []
    assert nums(c, "UNKEYWORD", "$Forwarded") == [1, 2, 3]
    size1 = len(QP_LATIN1.encode())
    big = [i for i in nums(c, "LARGER", str(size1 - 1))]
    assert 1 in big
    assert 1 not in nums(c, "SMALLER", "100")
    today = datetime.datetime.now(datetime.timezone.utc).date()
    fmt = "%d-%b-%Y"
    tomorrow = (today + datetime.timedelta(days=1)).strftime(fmt)
    assert nums(c, "ON", today.strftime(fmt)) == [1, 2, 3]
    assert nums(c, "SINCE", today.strftime(fmt)) == [1, 2, 3]
    assert nums(c, "BEFORE", today.strftime(fmt)) == []
    assert nums(c, "BEFORE", tomorrow) == [1, 2, 3]
    assert nums(c, "SINCE", f'"{tomorrow}"') == []
    # rev1 keys: OLD is NOT RECENT, NEW is RECENT UNSEEN (all unseen)
    recent = nums(c, "RECENT")
    assert nums(c, "OLD") == [i for i in (1, 2, 3) if i not in recent]
    assert nums(c, "NEW") == recent


def test_header_and_sent_dates(three):
    h, c = three
    assert nums(c, "SENTON", "1-Feb-1994") == [1]       # its own zone
    assert nums(c, "SENTBEFORE", "3-Feb-1994") == [1, 2]
    assert nums(c, "SENTSINCE", "2-Feb-1994") == [2, 3]
    assert nums(c, "CC", "ERIN@") == [3]
    assert nums(c, "TO", USER.upper()) == [1, 2, 3]
    assert nums(c, "BCC", "x") == []
    assert nums(c, "HEADER", "x-trip", '""') == [1]
    assert nums(c, "HEADER", "X-None", '""') == []
    assert nums(c, "SUBJECT", "nothing") == [3]
    # 1- and 2-character needles are not in the trigram index: scanned
    assert nums(c, "BODY", "xq") == [3]
    c.literal = "ü".encode()
    assert nums(c, "BODY", charset="UTF-8") == [1, 2]
    assert nums(c, "TEXT", '""') == [1, 2, 3]


def test_esearch_and_charsets(three):
    h, c = three
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("a", "SEARCH 2:3")
    assert lines == ["* SEARCH 2 3", "a OK SEARCH completed"], lines
    lines = r.cmd("b", "SEARCH SEEN")
    assert lines[0] == "* SEARCH", lines
    lines = r.cmd("c", "SEARCH RETURN (MIN MAX COUNT) ALL")
    assert lines[0] == '* ESEARCH (TAG "c") MIN 1 MAX 3 COUNT 3', lines
    lines = r.cmd("d", "UID SEARCH RETURN () 1,3")
    assert lines[0] == '* ESEARCH (TAG "d") UID ALL 1,3', lines
    lines = r.cmd("e", "SEARCH RETURN (ALL COUNT MIN) SEEN")
    assert lines[0] == '* ESEARCH (TAG "e") COUNT 0', lines
    lines = r.cmd("f", "SEARCH CHARSET KOI8-R ALL")
    assert lines == ["f NO [BADCHARSET (UTF-8 US-ASCII)] charset not "
                     "supported"], lines
    lines = r.cmd("g", "SEARCH CHARSET us-ascii SUBJECT plain")
    assert lines[0] == "* SEARCH 2", lines
    lines = r.cmd("h", "SEARCH FOO")
    assert lines[-1].startswith("h BAD "), lines
    lines = r.cmd("i", "SEARCH BEFORE 31-Feb-2020")
    assert lines[-1].startswith("i BAD "), lines
    lines = r.cmd("j", "SEARCH RETURN (BOGUS) ALL")
    assert lines[-1].startswith("j BAD "), lines
    # rev2: ESEARCH always, ALL when no RETURN (ENABLE before SELECT)
    r.close()
    r = Raw(h)
    r.login()
    lines = r.cmd("k", "ENABLE IMAP4rev2")
    assert lines[-1].startswith("k OK"), lines
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("l", "SEARCH 2:3")
    assert lines == ['* ESEARCH (TAG "l") ALL 2:3',
                     "l OK SEARCH completed"], lines
    lines = r.cmd("m", "UID SEARCH SEEN")
    assert lines[0] == '* ESEARCH (TAG "m") UID', lines
    lines = r.cmd("n", "SEARCH OR SUBJECT plain SUBJECT nothing")
    assert lines[0] == '* ESEARCH (TAG "n") ALL 2:3', lines
    r.close()


def test_save_and_dollar(three):
    h, c = three
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    # before any SAVE, $ is empty
    assert r.cmd("a", "SEARCH $")[0] == "* SEARCH"
    lines = r.cmd("b", "SEARCH RETURN (SAVE) OR SUBJECT plain "
                  "SUBJECT nothing")
    assert lines == ["b OK SEARCH completed"], lines      # SAVE alone
    assert r.cmd("c", "SEARCH $")[0] == "* SEARCH 2 3"
    assert r.cmd("d", "UID SEARCH UID $")[0] == "* SEARCH 2 3"
    assert r.cmd("e", "SEARCH NOT $")[0] == "* SEARCH 1"
    assert r.cmd("f", "SEARCH $ TEXT muenchen")[0] == "* SEARCH 3"
    # $ in other commands (RFC 5182): FETCH, UID FETCH
    lines = r.cmd("f2", "FETCH $ (UID)")
    assert lines[:2] == ["* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)"], lines
    lines = r.cmd("f3", "UID FETCH $ (FLAGS)")
    assert len(lines) == 3 and lines[-1].startswith("f3 OK"), lines
    # SAVE with MIN alone keeps the minimum (RFC 5182 2.4)
    lines = r.cmd("g", "SEARCH RETURN (SAVE MIN) ALL")
    assert lines[0] == '* ESEARCH (TAG "g") MIN 1', lines
    assert r.cmd("h", "SEARCH $")[0] == "* SEARCH 1"
    lines = r.cmd("i", "UID SEARCH RETURN (SAVE MIN MAX) ALL")
    assert lines[0] == '* ESEARCH (TAG "i") UID MIN 1 MAX 3', lines
    assert r.cmd("j", "SEARCH $")[0] == "* SEARCH 1 3"
    lines = r.cmd("k", "SEARCH RETURN (SAVE COUNT MIN) 2:3")
    assert r.cmd("l", "SEARCH $")[0] == "* SEARCH 2 3"
    # a SAVE answered NO empties it, one answered BAD leaves it
    lines = r.cmd("k2", "SEARCH RETURN (SAVE) CHARSET x-unknown ALL")
    assert lines[-1].startswith("k2 NO [BADCHARSET"), lines
    assert r.cmd("k3", "SEARCH $")[0] == "* SEARCH"
    r.cmd("k4", "SEARCH RETURN (SAVE) 1")
    lines = r.cmd("k5", "SEARCH RETURN (SAVE) FOO")
    assert lines[-1].startswith("k5 BAD"), lines
    assert r.cmd("k6", "SEARCH $")[0] == "* SEARCH 1"
    # a new SELECT forgets it
    r.cmd("m", "SELECT INBOX")
    assert r.cmd("n", "SEARCH $")[0] == "* SEARCH"
    r.close()


def test_limits_are_bad_and_server_lives(herald_factory):
    h = server(herald_factory,
               imap="search_keys_max = 10\nsearch_depth_max = 4")
    fill(h, [PLAIN])
    r = Raw(h)
    r.login()
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("a", "SEARCH " + " ".join(["ALL"] * 10))[0] == \
        "* SEARCH 1"
    lines = r.cmd("b", "SEARCH " + " ".join(["ALL"] * 11))
    assert lines[-1].startswith("b BAD "), lines
    assert r.cmd("c", "SEARCH NOT NOT NOT NOT ALL")[0] == "* SEARCH 1"
    lines = r.cmd("d", "SEARCH NOT NOT NOT NOT NOT ALL")
    assert lines[-1].startswith("d BAD "), lines
    lines = r.cmd("e", "SEARCH " + "NOT " * 10000 + "ALL")
    assert lines[-1].startswith("e BAD "), lines
    assert r.cmd("f", "SEARCH ALL")[0] == "* SEARCH 1"
    r.close()


def test_index_off_gives_the_same_answers(herald_factory):
    h = server(herald_factory, sections={"store": "search_index = no"})
    fill(h, [QP_LATIN1, B64_UTF8, PLAIN])
    c = login(h)
    c.select("INBOX")
    c.literal = "münchen".encode()
    assert nums(c, "TEXT", charset="UTF-8") == [1, 2]
    assert nums(c, "TEXT", "muenchen") == [3]
    c.logout()
    # and the index made afterwards by hand answers alike
    out = h.cli("index", "run").stdout
    assert "entries applied" in out, out
    assert counts(h) == (0, 3)
    c = login(h)
    c.select("INBOX")
    c.literal = "münchen".encode()
    assert nums(c, "TEXT", charset="UTF-8") == [1, 2]
    c.logout()
    out = h.cli("index", "rebuild").stdout
    assert "3 entries applied" in out, out


def test_search_1000_messages(herald_factory):
    h = server(herald_factory)
    msgs = []
    for i in range(1, 1001):
        rare = "\r\nthe zebrafish clause" if i in (17, 500, 999) else ""
        msgs.append((f"From: Carol <carol@remote.test>\r\nTo: {USER}\r\n"
                     f"Subject: message {i}\r\n"
                     f"Date: Sun, 06 Dec 2026 12:00:00 +0000\r\n\r\n"
                     f"body of message number {i}{rare}\r\n").encode())
    fill(h, msgs)
    # the indexer catches up within a few seconds of the deliveries
    deadline = time.time() + 60
    while time.time() < deadline:
        left, docs = counts(h)
        if left == 0 and docs == 1000:
            break
        time.sleep(0.2)
    assert (left, docs) == (0, 1000)
    c = login(h)
    typ, data = c.select("INBOX")
    assert data == [b"1000"], data
    t0 = time.time()
    assert nums(c, "TEXT", "ZEBRAFISH") == [17, 500, 999]
    assert nums(c, "BODY", '"number 1000"') == [1000]
    assert nums(c, "BODY", "zebrafish", "NOT", "500") == [17, 999]
    assert nums(c, "OR", "SUBJECT", '"message 99"', "BODY", "zebrafish") == \
        [17, 99, 500, 990, 991, 992, 993, 994, 995, 996, 997, 998, 999]
    assert nums(c, "UID", "990:*", "BODY", "number") == \
        list(range(990, 1001))
    assert len(nums(c, "TEXT", "carol")) == 1000
    assert len(nums(c, "ALL")) == 1000
    assert time.time() - t0 < 30
    typ, data = c.uid("SEARCH", "RETURN", "(COUNT MIN MAX)", "TEXT",
                      "zebrafish")
    assert typ == "OK", data
    typ, data = c.response("ESEARCH")
    assert data[0].endswith(b") UID MIN 17 MAX 999 COUNT 3"), data
    c.logout()


def test_flags_and_keywords_after_store(three):
    h, c = three
    assert c.store("1", "+FLAGS", "(\\Seen \\Flagged $Work)")[0] == "OK"
    assert c.store("3", "+FLAGS", "(\\Deleted \\Answered)")[0] == "OK"
    assert nums(c, "SEEN") == [1]
    assert nums(c, "UNSEEN") == [2, 3]
    assert nums(c, "FLAGGED", "SEEN") == [1]
    assert nums(c, "KEYWORD", "$Work") == [1]
    assert nums(c, "KEYWORD", "$WORK") == [1]       # case-insensitive
    assert nums(c, "UNKEYWORD", "$Work") == [2, 3]
    assert nums(c, "OR", "FLAGGED", "DELETED") == [1, 3]
    assert nums(c, "NOT", "DELETED", "NOT", "SEEN") == [2]
    assert nums(c, "ANSWERED", "TEXT", "muenchen") == [3]
    assert nums(c, "UID", "1:*", "UNANSWERED", "UNDELETED",
                "UNFLAGGED") == [2]


def wait_docs(h, want, timeout=30):
    """The number of search index entries once the indexer is idle."""
    deadline = time.time() + timeout
    while True:
        left, docs = counts(h)
        if (left == 0 and docs == want) or time.time() > deadline:
            return left, docs
        time.sleep(0.1)


def test_index_follows_append_copy_expunge(herald_factory):
    h = server(herald_factory)
    c = login(h)
    quokka = QP_LATIN1.replace("Fr=FChling", "Quokka-Fr=FChling")
    assert c.append("INBOX", None, None, quokka.encode())[0] == "OK"
    c.select("INBOX")
    c.literal = "quokka-frühling".encode()
    assert nums(c, "BODY", charset="UTF-8") == [1]
    assert c.copy("1", "Archive")[0] == "OK"
    # two copies in one account share one entry
    assert wait_docs(h, 1) == (0, 1)
    assert nums(c, "TEXT", "quokka") == [1]
    c.select("Archive")
    assert nums(c, "TEXT", "quokka") == [1]
    # gone from INBOX, still in Archive: the entry stays
    c.select("INBOX")
    c.store("1", "+FLAGS", "(\\Deleted)")
    assert c.expunge()[0] == "OK"
    assert nums(c, "TEXT", "quokka") == []
    assert wait_docs(h, 1) == (0, 1)
    c.select("Archive")
    assert nums(c, "TEXT", "quokka") == [1]
    # SAVE, then the saved message is moved away: $ no longer names it
    typ, _ = c.search(None, "RETURN", "(SAVE)", "ALL")
    assert typ == "OK"
    assert nums(c, "$") == [1]
    assert c._simple_command("MOVE", "1", "Trash")[0] == "OK"
    assert nums(c, "$") == []
    c.select("Trash")
    assert nums(c, "TEXT", "quokka") == [1]
    c.store("1", "+FLAGS", "(\\Deleted)")
    assert c.expunge()[0] == "OK"
    # no message of the account names the body: its entry goes
    assert wait_docs(h, 0) == (0, 0)
    ix = index_db(h)
    assert ix.execute("SELECT count(*) FROM search_text WHERE search_text"
                      " MATCH '\"quo\" AND \"kka\"'").fetchone()[0] == 0
    ix.close()
    c.logout()


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_index_file_recreated(herald_factory, damage):
    """The index file deleted, or overwritten with garbage, while the
    server is stopped: the next start makes it anew (a log line says
    why), queues every message, and SEARCH answers as before, while the
    index is rebuilt and after."""
    h = server(herald_factory)
    fill(h, [QP_LATIN1, B64_UTF8, PLAIN])
    assert wait_docs(h, 3) == (0, 3)

    def answers():
        c = login(h)
        c.select("INBOX")
        c.literal = "münchen".encode()
        got = [nums(c, "TEXT", charset="UTF-8"), nums(c, "BODY", "muenchen"),
               nums(c, "TEXT", "bayern"), nums(c, "BODY", "bayern"),
               nums(c, "TEXT", "nothing"),
               nums(c, "TEXT", '"ascii only"')]
        c.logout()
        return got

    want = answers()
    assert want == [[1, 2], [3], [1], [], [3], [3]], want
    h.stop()
    path = os.path.join(h.data_dir, "herald.db-search")
    for sfx in ("-wal", "-shm"):
        if os.path.exists(path + sfx):
            os.unlink(path + sfx)
    if damage == "deleted":
        os.unlink(path)
    else:
        with open(path, "r+b") as f:
            f.write(os.urandom(8192))
    h.start()
    assert answers() == want
    assert wait_docs(h, 3) == (0, 3)
    assert answers() == want
    log = open(h.log_path, encoding="utf-8", errors="replace").read()
    line = [ln for ln in log.splitlines() if "search-index-created" in ln]
    assert line, log[-2000:]
    assert ("reason=missing" in line[-1]) == (damage == "deleted"), line
