"""Which mail Herald signs with DKIM (docs/mailauth.md "Signing"): a
relay_networks host relaying without AUTH (a web application) is signed
like a user when its From domain has keys, in the copy stored for a local
recipient and in the one queued for a remote one; mail that cannot be
signed (a From of a domain without keys, not ours; no From; two From
addresses) is delivered unsigned with a `dkim unsigned` log line, from a
relay host and from an authenticated user alike; a client outside
relay_networks is never signed."""
import re
import smtplib
import ssl
import time

from smtp_util import queue_entries
from test_dkim_generated import dkimpy_verify, key_records


def message(frm="From: Web Shop <shop@example.test>\r\n",
            to="bob@example.test", subject="your order"):
    return (f"{frm}To: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 04:00:00 +0000\r\n"
            f"Message-ID: <{time.monotonic_ns()}@example.test>\r\n\r\n"
            "Your order has shipped.\r\n").encode()


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def start(herald_factory, relay_networks):
    """example.test with keys (returned records), a shop account and
    bob; sender_check off so an authenticated user may write any From."""
    h = herald_factory(listeners=("smtp", "submission"), sections={
        "smtp": f"relay_networks = {relay_networks}\nsender_check = off"})
    h.add_domain("example.test")
    h.add_user("shop@example.test", "shoppw")
    h.add_user("bob@example.test")
    records = key_records(h, "example.test", "web")
    h.start()
    return h, records


def relay(h, rcpts, msg, env_from="shop@example.test"):
    s = smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10)
    s.sendmail(env_from, rcpts, msg)
    s.quit()


def dkim_lines(h):
    return re.findall(r" dkim (?:signed|unsigned).*", h.log())


def test_relay_networks_mail_is_signed(herald_factory):
    h, records = start(herald_factory, "127.0.0.1")
    msg = message()
    relay(h, ["bob@example.test", "someone@example.org"], msg)
    stored = h.messages("bob@example.test")[0]
    (entry,) = queue_entries(h)
    queued = h.read_blob(entry["blob_id"])
    want = [("example.test", "web-rsa", "rsa-sha256", True),
            ("example.test", "web-ed25519", "ed25519-sha256", True)]
    for copy in (stored, queued):
        assert copy.count(b"DKIM-Signature:") == 2
        assert copy.index(b"Received:") < copy.index(b"DKIM-Signature:")
        assert copy.endswith(msg)
        assert dkimpy_verify(copy, records) == want
    h.wait_log("dkim signed")
    assert dkim_lines(h) == [" dkim signed d=example.test "
                             "s=web-rsa,web-ed25519"], h.log()


def test_unsignable_mail_goes_unsigned_with_a_log_line(herald_factory):
    """From a relay host and from an authenticated user: a From of a
    domain that is not ours, no From, two From addresses. Each is
    delivered, unsigned, and says why."""
    h, _ = start(herald_factory, "127.0.0.1")
    cases = [
        (message(frm="From: someone@elsewhere.test\r\n"),
         ' dkim unsigned d=elsewhere.test reason="no active key"'),
        (message(frm=""),
         ' dkim unsigned reason="no single From address"'),
        (message(frm="From: a@example.test, b@example.test\r\n"),
         ' dkim unsigned reason="no single From address"'),
    ]
    n = 0
    want = {}
    for msg, line in cases:
        relay(h, ["bob@example.test"], msg)
        s = smtplib.SMTP("127.0.0.1", h.ports["submission"], timeout=10)
        s.starttls(context=tls_ctx())
        s.login("shop@example.test", "shoppw")
        s.sendmail("shop@example.test", ["bob@example.test"], msg)
        s.quit()
        n += 2
        got = h.messages("bob@example.test")
        assert len(got) == n
        for copy in got[-2:]:
            assert b"DKIM-Signature" not in copy
            assert copy.endswith(msg)
        want[line] = want.get(line, 0) + 2
        deadline = time.monotonic() + 10
        while (h.log().count(line) < want[line] and
               time.monotonic() < deadline):
            time.sleep(0.05)
        assert h.log().count(line) == want[line], h.log()
    assert " dkim signed" not in h.log()
    assert len(dkim_lines(h)) == 6, dkim_lines(h)


def test_outside_relay_networks_is_not_signed(herald_factory):
    """A client outside relay_networks, on port 25 without AUTH, is
    inbound mail: never signed, not even with a From of ours, and no
    dkim line."""
    h, _ = start(herald_factory, "192.0.2.0/24")
    relay(h, ["bob@example.test"], message())
    (copy,) = h.messages("bob@example.test")
    assert b"DKIM-Signature" not in copy
    assert dkim_lines(h) == []
