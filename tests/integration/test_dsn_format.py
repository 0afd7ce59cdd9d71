"""Delivery status notifications as a mail reader sees them: the reports
that tests/unit/test-dsn.c builds (written out with HERALD_DSN_DUMP) are
parsed with Python's email package, and every RFC 3464 / RFC 6522 field
is checked through the parsed structure, not by string search. The unit
test binary is the one beside HERALD_BIN (build-asan/tests/test-dsn for
the sanitizer build)."""
import email
import email.policy
import email.utils
import os
import subprocess

import pytest

from harness import HERALD_BIN

TEST_DSN = os.path.join(os.path.dirname(HERALD_BIN), "tests", "test-dsn")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    if not os.access(TEST_DSN, os.X_OK):
        pytest.skip(f"{TEST_DSN} not built (make unit-bins)")
    out = tmp_path_factory.mktemp("dsn")
    env = dict(os.environ, HERALD_DSN_DUMP=str(out))
    p = subprocess.run([TEST_DSN], env=env, capture_output=True, text=True,
                       errors="replace", timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    got = {}
    for name in ("failed", "failed-headers", "delayed", "delivered",
                 "hostile", "utf8"):
        raw = (out / f"{name}.eml").read_bytes()
        got[name] = (raw, email.message_from_bytes(
            raw, policy=email.policy.default))
    return got


def status_blocks(part):
    """The per-message and per-recipient field blocks of a
    message/delivery-status part, as the email package parses them."""
    payload = part.get_payload()
    assert isinstance(payload, list) and len(payload) >= 2, payload
    return payload[0], payload[1:]


def check_common(raw, msg, subject):
    for line in raw.split(b"\r\n")[:-1]:
        assert b"\n" not in line and b"\r" not in line
        assert len(line) <= 998
    assert raw.endswith(b"\r\n")
    assert not msg.defects, msg.defects
    name, addr = email.utils.parseaddr(str(msg["From"]))
    assert name == "Mail Delivery System"
    assert addr == "MAILER-DAEMON@mail.example.test"
    assert email.utils.parseaddr(str(msg["To"]))[1] == "alice@example.test"
    assert str(msg["Subject"]) == subject
    assert email.utils.parsedate_to_datetime(str(msg["Date"])).year == 2026
    # a valid msg-id: <left@right>, once
    mid = str(msg["Message-ID"])
    assert mid.startswith("<") and mid.endswith(">") and "@" in mid
    assert len(msg.get_all("Message-ID")) == 1
    assert str(msg["Auto-Submitted"]) == "auto-replied"
    assert str(msg["MIME-Version"]) == "1.0"
    assert msg.get_content_type() == "multipart/report"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "text/plain"
    for p in parts:
        assert not p.defects, p.defects
    return parts


def test_failed_report(reports):
    raw, msg = reports["failed"]
    parts = check_common(raw, msg, "Undelivered Mail Returned to Sender")
    assert msg.get_param("report-type") == "delivery-status"
    assert len(parts) == 3
    text = parts[0].get_content()
    assert "<bob@example.org>: delivery failed (5.1.1)" in text
    assert "550 5.1.1 Please check the address: no such user here" in text

    assert parts[1].get_content_type() == "message/delivery-status"
    per_msg, per_rcpt = status_blocks(parts[1])
    assert per_msg["Reporting-MTA"] == "dns; mail.example.test"
    assert per_msg["Original-Envelope-Id"] == "env-42"
    assert email.utils.parsedate_to_datetime(
        per_msg["Arrival-Date"]).hour == 0
    assert len(per_rcpt) == 1
    r = per_rcpt[0]
    assert r["Original-Recipient"] == "rfc822; Bob@Example.org"
    assert r["Final-Recipient"] == "rfc822; bob@example.org"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Remote-MTA"] == "dns; mx.example.org"
    diag = " ".join(str(r["Diagnostic-Code"]).split())
    assert diag == ("smtp; 550 5.1.1 The email account that you tried to "
                    "reach does not exist. Please check the address: no "
                    "such user here")
    assert email.utils.parsedate_to_datetime(
        r["Last-Attempt-Date"]).minute == 59
    assert r["Will-Retry-Until"] is None

    # the whole message, parsed as a message
    assert parts[2].get_content_type() == "message/rfc822"
    inner = parts[2].get_payload()[0]
    assert str(inner["Subject"]) == "Lunch"
    assert str(inner["Message-ID"]) == "<lunch.1@example.test>"
    assert inner.get_content().strip() == "Shall we meet at noon?"


def test_failed_headers_only(reports):
    raw, msg = reports["failed-headers"]
    parts = check_common(raw, msg, "Undelivered Mail Returned to Sender")
    assert parts[2].get_content_type() == "text/rfc822-headers"
    hdrs = email.message_from_string(parts[2].get_content())
    assert hdrs["Subject"] == "Lunch"
    assert "Shall we meet" not in raw.decode()


def test_delayed_report(reports):
    raw, msg = reports["delayed"]
    parts = check_common(raw, msg, "Delayed Mail (still being retried)")
    per_msg, per_rcpt = status_blocks(parts[1])
    assert per_msg["Original-Envelope-Id"] is None
    r = per_rcpt[0]
    assert r["Final-Recipient"] == "rfc822; carol@example.org"
    assert r["Action"] == "delayed"
    assert r["Status"] == "4.4.1"
    assert str(r["Diagnostic-Code"]).startswith("X-Herald; connect to")
    until = email.utils.parsedate_to_datetime(r["Will-Retry-Until"])
    assert (until.month, until.day) == (12, 12)
    assert parts[2].get_content_type() == "text/rfc822-headers"


def test_success_report(reports):
    raw, msg = reports["delivered"]
    parts = check_common(raw, msg, "Successful Mail Delivery Report")
    _, per_rcpt = status_blocks(parts[1])
    assert per_rcpt[0]["Action"] == "delivered"
    assert per_rcpt[0]["Status"] == "2.0.0"


def test_hostile_reply_stays_in_its_field(reports):
    raw, msg = reports["hostile"]
    parts = check_common(raw, msg, "Undelivered Mail Returned to Sender")
    _, per_rcpt = status_blocks(parts[1])
    assert len(per_rcpt) == 1
    r = per_rcpt[0]
    # the injected line is text inside Diagnostic-Code, not a field
    assert r.get_all("Final-Recipient") == ["rfc822; bob@example.org"]
    assert "evil@example.net" in str(r["Diagnostic-Code"])
    assert r["Status"] == "5.0.0"
    raw.decode("ascii")


def test_utf8_report(reports):
    raw, msg = reports["utf8"]
    parts = check_common(raw, msg, "Undelivered Mail Returned to Sender")
    assert msg.get_param("report-type") == "global-delivery-status"
    assert parts[1].get_content_type() == "message/global-delivery-status"
    # the email package takes the global variant for one message: read
    # the part's fields from the raw section (RFC 6533 3: UTF-8 in them)
    boundary = msg.get_boundary().encode()
    section = raw.split(b"\r\n--" + boundary + b"\r\n")[2]
    body = section.split(b"\r\n\r\n", 1)[1].decode("utf-8")
    assert "Final-Recipient: utf-8; jörg@exämple.org" in body
    assert "Diagnostic-Code: smtp; 550 5.1.1 Benutzer unbekannt: jörg" \
        in body
    assert parts[0].get_content_charset() == "utf-8"
    assert "<jörg@exämple.org>" in parts[0].get_content()
    assert parts[2].get_content_type() == "message/global"
