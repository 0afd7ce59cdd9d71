"""Delivery status notifications made by the queue runner, end to end
(issue 12 item 5): a failure quoted from a remote Herald's 550, a success
report for NOTIFY=SUCCESS through a server without DSN, RET=HDRS, and a
report to a remote sender queued from <> and relayed on. Each report is
read from the sender's INBOX (or from the sink that took it) and parsed
with Python's email package; every RFC 3464 field is checked."""
import email
import email.policy
import email.utils
import os
import subprocess
import time

import pytest

from harness import HERALD_BIN
from test_queue_runner import (SINK, queue_rows, sender,  # noqa: F401
                               sinks, wait_for)

needs_sink = pytest.mark.skipif(not os.path.exists(SINK),
                                reason="Postfix's smtp-sink is not installed")


def send(h, rcpts, *flags, sender_addr="alice@example.test",
         subject="lunch"):
    msg = (f"From: {sender_addr}\nTo: {', '.join(rcpts)}\n"
           f"Subject: {subject}\nMessage-ID: <{time.monotonic_ns()}@x>\n\n"
           "Shall we meet at noon?\n").encode()
    p = subprocess.run([HERALD_BIN, "sendmail", "-C", h.conf, "-f",
                        sender_addr, *flags, *rcpts], input=msg,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def report_blocks(msg):
    parts = list(msg.iter_parts())
    assert parts[1].get_content_type() == "message/delivery-status"
    blocks = parts[1].get_payload()
    return parts, blocks[0], blocks[1:]


def check_header(msg, subject, to="alice@example.test"):
    assert str(msg["Return-Path"]) == "<>"
    assert email.utils.parseaddr(str(msg["From"])) == \
        ("Mail Delivery System", "MAILER-DAEMON@mail.example.test")
    assert email.utils.parseaddr(str(msg["To"]))[1] == to
    assert str(msg["Subject"]) == subject
    assert str(msg["Auto-Submitted"]) == "auto-replied"
    mid = str(msg["Message-ID"])
    assert mid.startswith("<") and mid.endswith("@mail.example.test>")
    assert email.utils.parsedate_to_datetime(str(msg["Date"]))
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"


@pytest.fixture
def remote(herald_factory):
    rcv = herald_factory(listeners=("smtp",), hostname="mx.example.org")
    rcv.add_domain("example.org")
    rcv.add_user("bob@example.org")
    rcv.start()
    return rcv


def test_failure_report_quotes_the_remote(herald_factory, remote):
    h = sender(herald_factory, transport={
        "example.org": f"smtp:[127.0.0.1]:{remote.ports['smtp']}"})
    h.start()
    t0 = time.time()
    send(h, ["bob@example.org", "nobody@example.org"], "-V", "env-7")
    got = wait_for(lambda: h.messages("alice@example.test"), 15)
    assert got and len(got) == 1, h.log()
    msg = parse(got[0])
    check_header(msg, "Undelivered Mail Returned to Sender")
    parts, per_msg, per_rcpt = report_blocks(msg)
    assert "nobody@example.org" in parts[0].get_content()
    assert per_msg["Reporting-MTA"] == "dns; mail.example.test"
    assert per_msg["Original-Envelope-Id"] == "env-7"
    arrival = email.utils.parsedate_to_datetime(per_msg["Arrival-Date"])
    assert abs(arrival.timestamp() - t0) < 30
    # only the recipient that failed
    assert len(per_rcpt) == 1
    r = per_rcpt[0]
    assert r["Final-Recipient"] == "rfc822; nobody@example.org"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Remote-MTA"].startswith("dns; ")
    diag = " ".join(str(r["Diagnostic-Code"]).split())
    assert diag.startswith("smtp; 550 5.1.1"), diag
    assert email.utils.parsedate_to_datetime(r["Last-Attempt-Date"])
    # small: the whole message comes back, as the queue sent it
    assert parts[2].get_content_type() == "message/rfc822"
    inner = parts[2].get_payload()[0]
    assert str(inner["Subject"]) == "lunch"
    assert "Shall we meet" in inner.get_content()
    assert len(remote.messages("bob@example.org")) == 1
    assert wait_for(lambda: queue_rows(h) == [], 10)
    # the queue row goes before the lines are written (docs/logging.md)
    assert h.wait_log(" dsn sent ", 5), h.log()
    assert h.wait_log("status=delivered", 5), h.log()


def test_hdrs_only(herald_factory, remote):
    h = sender(herald_factory, transport={
        "example.org": f"smtp:[127.0.0.1]:{remote.ports['smtp']}"})
    h.start()
    send(h, ["nobody@example.org"], "-R", "hdrs")
    got = wait_for(lambda: h.messages("alice@example.test"), 15)
    assert got, h.log()
    msg = parse(got[0])
    parts, _, _ = report_blocks(msg)
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert b"Shall we meet" not in got[0]
    assert "Subject: lunch" in parts[2].get_content()


@needs_sink
def test_success_report_through_a_server_without_dsn(herald_factory,
                                                     sinks):  # noqa: F811
    sink = sinks(opts=["-N"])
    h = sender(herald_factory,
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}"})
    h.start()
    send(h, ["carol@example.org"], "-N", "success,failure")
    got = wait_for(lambda: h.messages("alice@example.test"), 15)
    assert got, h.log()
    assert len(sink.messages()) == 1
    msg = parse(got[0])
    check_header(msg, "Successful Mail Delivery Report")
    parts, _, per_rcpt = report_blocks(msg)
    assert per_rcpt[0]["Final-Recipient"] == "rfc822; carol@example.org"
    assert per_rcpt[0]["Action"] == "relayed"
    assert per_rcpt[0]["Status"].startswith("2.")
    assert parts[2].get_content_type() == "text/rfc822-headers"


@needs_sink
def test_report_to_a_remote_sender_goes_from_null(herald_factory,
                                                  sinks):  # noqa: F811
    """The sender is not ours: the report is queued from <> and relayed
    to the sender's domain like any mail; it asks for no report itself."""
    reject = sinks(opts=["-f", "RCPT"])
    home = sinks()
    h = sender(herald_factory, transport={
        "example.org": f"smtp:[127.0.0.1]:{reject.port}",
        "far.test": f"smtp:[127.0.0.1]:{home.port}"})
    h.start()
    send(h, ["bob@example.org"], sender_addr="zoe@far.test")
    got = wait_for(lambda: home.messages(), 15)
    assert got, h.log()
    raw = got[0]
    assert b"X-Mail-Args: <>" in raw, raw[:400]
    assert b"X-Rcpt-Args: <zoe@far.test>" in raw
    # the sink's X- lines are header fields of the message it took
    msg = parse(raw)
    assert email.utils.parseaddr(str(msg["To"]))[1] == "zoe@far.test"
    assert str(msg["Subject"]) == "Undelivered Mail Returned to Sender"
    assert "Final-Recipient: rfc822; bob@example.org" in \
        raw.decode(errors="replace")
    assert wait_for(lambda: queue_rows(h) == [], 10), queue_rows(h)


@needs_sink
def test_8bit_message_to_a_7bit_server_bounces(herald_factory,
                                               sinks):  # noqa: F811
    """The envelope facts at work: an 8-bit body recorded as needing
    8BITMIME is not downgraded for a server without it; the sender gets a
    failure report with 5.6.3 and the message is not sent."""
    sink = sinks(opts=["-8"])
    h = sender(herald_factory,
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}"})
    h.start()
    msg = ("From: alice@example.test\nTo: bob@example.org\n"
           "Subject: caf\u00e9\n\nd\u00e9j\u00e0 vu\n").encode()
    p = subprocess.run([HERALD_BIN, "sendmail", "-C", h.conf, "-f",
                        "alice@example.test", "bob@example.org"], input=msg,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    got = wait_for(lambda: h.messages("alice@example.test"), 15)
    assert got, h.log()
    parts, _, per_rcpt = report_blocks(parse(got[0]))
    assert per_rcpt[0]["Action"] == "failed"
    assert per_rcpt[0]["Status"] == "5.6.3"
    assert sink.messages() == []
