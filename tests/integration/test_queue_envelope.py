"""The envelope facts the outbound SMTP client needs, recorded with each
queued message at acceptance (issue 12 item 4): whether the next hop must
offer 8BITMIME (BODY=8BITMIME/BINARYMIME given, or an 8-bit octet in the
message) and SMTPUTF8 (a UTF-8 envelope address, or SMTPUTF8 given and
UTF-8 in the header). Submitted with smtplib on 587 and with `herald
sendmail`; read back from the queue table."""
import smtplib
import ssl
import subprocess

import pytest

from harness import HERALD_BIN
from smtp_util import queue_entries


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def server(herald_factory):
    h = herald_factory(listeners=("submission",),
                       sections={"auth": "argon2_memlimit = 8M\n"
                                         "argon2_opslimit = 1\n"
                                         "fail_delay = 0ms\n"})
    h.add_domain()
    h.add_user("alice@example.test", "alicepw")
    h.start()
    return h


def submit(h, rcpts, msg, mail_options=()):
    with smtplib.SMTP("127.0.0.1", h.ports["submission"], timeout=10) as s:
        s.ehlo("mua.test")
        s.starttls(context=tls_ctx())
        s.ehlo("mua.test")
        s.login("alice@example.test", "alicepw")
        assert s.sendmail("alice@example.test", rcpts, msg,
                          mail_options=list(mail_options)) == {}


def last_entry(h):
    q = queue_entries(h)
    assert q, "nothing queued"
    e = q[-1]
    return e["need_8bitmime"], e["need_smtputf8"]


ASCII = b"From: alice@example.test\r\nSubject: plain\r\n\r\nhello\r\n"
BODY8 = "From: alice@example.test\r\nSubject: plain\r\n\r\ncafé\r\n" \
    .encode()
HEAD8 = "From: alice@example.test\r\nSubject: Grüße\r\n\r\nhello\r\n" \
    .encode()


@pytest.mark.parametrize("rcpt,msg,opts,want", [
    ("bob@remote.test", ASCII, (), (0, 0)),
    # an 8-bit body without BODY= (clients do that): seen while receiving
    ("bob@remote.test", BODY8, (), (1, 0)),
    ("bob@remote.test", ASCII, ("BODY=8BITMIME",), (1, 0)),
    # SMTPUTF8 alone, all ASCII: the next hop need not offer it
    ("bob@remote.test", ASCII, ("SMTPUTF8",), (0, 0)),
    # SMTPUTF8 and a UTF-8 header
    ("bob@remote.test", HEAD8, ("SMTPUTF8", "BODY=8BITMIME"), (1, 1)),
    # a raw UTF-8 header without SMTPUTF8: 8BITMIME only
    ("bob@remote.test", HEAD8, (), (1, 0)),
    # a UTF-8 recipient
    ("jörg@remote.test", ASCII, ("SMTPUTF8",), (0, 1)),
])
def test_submission_records_needs(server, rcpt, msg, opts, want):
    submit(server, [rcpt], msg, opts)
    assert last_entry(server) == want


def test_sendmail_records_needs(herald_factory):
    h = herald_factory()
    h.add_domain()
    h.add_user("bob@example.test")

    def send(rcpt, data):
        p = subprocess.run([HERALD_BIN, "sendmail", "-C", h.conf, "-f",
                            "bob@example.test", rcpt], input=data,
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return last_entry(h)

    assert send("friend@remote.test", b"Subject: a\n\nplain\n") == (0, 0)
    assert send("friend@remote.test", "Subject: a\n\ncafé\n".encode()) \
        == (1, 0)
    assert send("jörg@remote.test", b"Subject: a\n\nplain\n") == (0, 1)
