"""DKIM signatures on the mail Herald makes itself (issue 14: "and of
bounces and reports Herald makes"; src/mailauth/dkim-generated.h): a
failure DSN, from MAILER-DAEMON@hostname, caught at a sink, carries an RSA
and an Ed25519 signature that dkimpy verifies against the keys Herald
printed (the hostname's own keys, else its parent domain's, aligned under
relaxed DMARC); without keys it goes unsigned with the submission's log
line."""
import os
import re

import dkim
import pytest

from test_queue_runner import SINK, sender, sinks  # noqa: F401
from test_queue_runner import queue_rows, wait_for
from test_dsn_delivery import send

needs_sink = pytest.mark.skipif(not os.path.exists(SINK),
                                reason="Postfix's smtp-sink is not installed")


def key_records(h, domain, selector):
    """{name: record} from `herald dkim keygen` for domain's two keys."""
    out = h.cli("dkim", "keygen", "--selector", selector, domain).stdout
    records = {}
    for name, text in re.findall(r"^(\S+)\. IN TXT \((.*)\)$", out, re.M):
        records[name] = "".join(re.findall(r'"([^"]*)"', text))
    assert len(records) == 2, out
    return records


def dkimpy_verify(raw, records):
    """dkimpy's verdict on every DKIM-Signature of raw, top down:
    [(d, s, a, ok)], keys from records (what a zone would publish)."""
    def dnsfunc(name, timeout=5):
        rec = records.get(name.decode().rstrip("."))
        return rec.encode() if rec is not None else None

    msg = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    d = dkim.DKIM(msg)
    out = []
    n = sum(1 for h, _ in d.headers if h.lower() == b"dkim-signature")
    for i in range(n):
        ok = d.verify(idx=i, dnsfunc=dnsfunc)
        sig = d.signature_fields
        out.append((sig[b"d"].decode(), sig[b"s"].decode(),
                    sig[b"a"].decode(), ok))
    return out


def sink_skips_trace(raw):
    """The message as the sink wrote it, without its own X- lines (put on
    top of what Herald sent)."""
    lines = raw.split(b"\n")
    while lines and lines[0].startswith(b"X-"):
        lines.pop(0)
    return b"\n".join(lines)


def failure_dsn(herald_factory, sinks, prepare):  # noqa: F811
    """zoe@far.test (not ours) mails bob@example.org, whose server
    refuses him: the failure report is queued from <> to far.test and
    caught there by a sink. Returns (herald, the report as sent)."""
    reject = sinks(opts=["-f", "RCPT"])
    home = sinks()
    h = sender(herald_factory, transport={
        "example.org": f"smtp:[127.0.0.1]:{reject.port}",
        "far.test": f"smtp:[127.0.0.1]:{home.port}"})
    prepare(h)
    h.start()
    send(h, ["bob@example.org"], sender_addr="zoe@far.test")
    got = wait_for(lambda: home.messages(), 15)
    assert got, h.log()
    assert b"X-Mail-Args: <>" in got[0]
    assert wait_for(lambda: queue_rows(h) == [], 10), queue_rows(h)
    return h, sink_skips_trace(got[0])


@needs_sink
def test_failure_dsn_signed_with_the_parent_domains_keys(herald_factory,
                                                         sinks):  # noqa: F811
    """The hostname (mail.example.test) has no keys; example.test, our
    domain, has: its RSA and Ed25519 keys sign the DSN, RSA first, after
    our Received field."""
    records = {}
    h, raw = failure_dsn(herald_factory, sinks, lambda h: records.update(
        key_records(h, "example.test", "bounce")))
    assert b"From: \"Mail Delivery System\" <MAILER-DAEMON@mail.example." \
        b"test>" in raw
    assert raw.count(b"DKIM-Signature:") == 2
    assert raw.index(b"Received:") < raw.index(b"DKIM-Signature:")
    assert dkimpy_verify(raw, records) == [
        ("example.test", "bounce-rsa", "rsa-sha256", True),
        ("example.test", "bounce-ed25519", "ed25519-sha256", True)]
    assert re.search(r" dkim signed d=example\.test "
                     r"s=bounce-rsa,bounce-ed25519", h.log()), h.log()
    # changed after signing: both fail
    bad = raw.replace(b"Undelivered Mail Returned to Sender",
                      b"Undelivered Mail Returned to Sendr")
    assert [v[3] for v in dkimpy_verify(bad, records)] == [False, False]


@needs_sink
def test_failure_dsn_signed_with_the_hostnames_own_keys(herald_factory,
                                                        sinks):  # noqa: F811
    """When the hostname has keys of its own, they sign, not the
    parent's."""
    records = {}

    def prepare(h):
        records.update(key_records(h, "example.test", "parent"))
        records.update(key_records(h, "mail.example.test", "host"))

    h, raw = failure_dsn(herald_factory, sinks, prepare)
    assert dkimpy_verify(raw, records) == [
        ("mail.example.test", "host-rsa", "rsa-sha256", True),
        ("mail.example.test", "host-ed25519", "ed25519-sha256", True)]


@needs_sink
def test_failure_dsn_without_keys_is_unsigned(herald_factory,
                                              sinks):  # noqa: F811
    h, raw = failure_dsn(herald_factory, sinks, lambda h: None)
    assert b"DKIM-Signature" not in raw
    assert re.search(r' dkim unsigned d=mail\.example\.test '
                     r'reason="no active key"', h.log()), h.log()
