"""LMTP (RFC 2033) on a unix socket: LHLO, one reply per recipient after
DATA and after BDAT LAST, over-quota per recipient, no relaying."""
import pytest

from smtp_util import Raw, body_of, inbox


@pytest.fixture
def server(herald_factory):
    h = herald_factory(listeners=("smtp", "lmtp_unix"))
    h.add_domain()
    h.add_user("bob@example.test")
    h.add_user("alice@example.test")
    h.add_user("carol@example.test")
    h.cli("user", "quota", "carol@example.test", "1k")
    h.start()
    return h


def test_lmtp_per_recipient_replies(server):
    r = Raw(None, unix=server.lmtp_path)
    code, text = r.reply()
    assert code == 220 and "LMTP" in text[0]
    code, text = r.cmd("EHLO mta.test")
    assert code == 500
    code, caps = r.cmd("LHLO mta.test")
    assert code == 250 and "PIPELINING" in caps and "STARTTLS" not in caps
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
    assert r.cmd("RCPT TO:<nobody@example.test>")[0] == 550
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 250
    assert r.cmd("RCPT TO:<carol@example.test>")[0] == 250
    code, text = r.cmd("RCPT TO:<x@far.test>")
    assert code == 550
    assert r.cmd("DATA")[0] == 354
    msg = b"Subject: lmtp\r\n\r\n" + b"z" * 70 + b"\r\n"
    r.send(msg + (b"x" * 98 + b"\r\n") * 10 + b".\r\n")
    replies = [r.reply() for _ in range(3)]
    assert replies[0][0] == 250 and "<bob@example.test>" in replies[0][1][0]
    assert replies[1][0] == 250 and "<alice@example.test>" in replies[1][1][0]
    assert replies[2][0] == 552 and replies[2][1][0].startswith("5.2.2")
    assert r.cmd("QUIT")[0] == 221
    r.close()
    raw = inbox(server, "bob@example.test")[0]
    assert b"with LMTP id" in raw
    assert body_of(raw) == msg + (b"x" * 98 + b"\r\n") * 10
    assert len(inbox(server, "alice@example.test")) == 1
    assert inbox(server, "carol@example.test") == []


def test_lmtp_bdat_and_rejected_data(server):
    r = Raw(None, unix=server.lmtp_path)
    r.reply()
    r.cmd("LHLO mta.test")
    r.cmd("MAIL FROM:<>")
    r.cmd("RCPT TO:<bob@example.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    body = b"Subject: chunk\r\n\r\nhello\r\n"
    r.send(b"BDAT %d LAST\r\n" % len(body) + body)
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    # a bare LF message: the refusal is repeated for every recipient
    r.cmd("MAIL FROM:<>")
    r.cmd("RCPT TO:<bob@example.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(b"Subject: bad\n\nbare\n.\r\n\r\n.\r\n")
    a, b = r.reply(), r.reply()
    assert a[0] == 550 and b[0] == 550
    r.close()
    assert len(inbox(server, "bob@example.test")) == 1
