"""Issue 12, "Done when": Herald servers for two domains, and Postfix from
Debian, sending each other mail over SMTP with STARTTLS on loopback.

example.test (alice) is served on 127.0.0.2, example.org (bob, carol) on
127.0.0.3, each on port 25 of its own address with submission on 587 and
IMAP on 143 there (outbound_util.Site); a private Postfix instance listens
on 127.0.0.4 (postfix_util.Postfix). Mail is submitted with smtplib (AUTH
after STARTTLS) and read with imaplib; certificates come from a test CA
made per test. Every server a test starts is stopped when it ends,
whether it passed or not.
"""
import smtplib

import pytest

from outbound_util import PREFERRED, Site, MiniCA, headers, make_msg, \
    pick_addresses, wait_imap
from postfix_util import Postfix


@pytest.fixture
def ca():
    ca = MiniCA()
    yield ca
    ca.cleanup()


@pytest.fixture
def addrs():
    a = pick_addresses(3)
    if a != list(PREFERRED):
        print(f"port 25 of {PREFERRED} is taken on this machine: using {a}")
    return a


@pytest.fixture
def postfix_factory():
    made = []

    def make(**kw):
        pf = Postfix(**kw)
        made.append(pf)
        return pf

    yield make
    for pf in made:
        pf.cleanup()


def tls_received(raw, by):
    """The Received header field added by the host `by`, if it shows a
    TLS session (Herald's and Postfix's shape: "(using TLSv1.3 with
    cipher ...)")."""
    for r in headers(raw, "Received"):
        if f"by {by} " in r and "using TLSv1." in r:
            return r
    return None


def test_postfix_relays_to_herald_with_starttls(herald_factory, ca, addrs,
                                                postfix_factory):
    """Herald receives from Postfix: Postfix on the third address relays
    a message for bob@example.org to example.org's Herald on port 25,
    with STARTTLS (Postfix logs the TLS session, Herald's Received header
    shows it)."""
    org = Site(herald_factory, ca, "example.org", addrs[1], ["bob"]).start()
    pf = postfix_factory(services=((addrs[2], 25, ""),),
                         hostname="mx.postfix.test")
    cert, key = ca.issue("mx.postfix.test", addrs[2])
    pf.tls(cert, key, ca.ca_path)
    pf.transport({"example.org": f"smtp:[{addrs[1]}]:25"})
    pf.start()

    token = "pf2herald"
    msg = make_msg("dave@postfix.test", ["bob@example.org"], token)
    with smtplib.SMTP(addrs[2], 25, timeout=30) as s:
        assert s.sendmail("dave@postfix.test", ["bob@example.org"], msg) == {}

    msgs, _ = wait_imap(org, "bob@example.org",
                        lambda m: any(token.encode() in x for x in m),
                        timeout=30)
    log = pf.log()
    assert len(msgs) == 1, f"bob's INBOX: {len(msgs)} messages\n{log}"
    rcvd = tls_received(msgs[0], org.mx)
    assert rcvd and "with ESMTPS" in rcvd, headers(msgs[0], "Received")
    sent = [l for l in log.splitlines() if "to=<bob@example.org>" in l
            and "status=sent" in l]
    assert sent and f"relay={addrs[1]}[{addrs[1]}]:25" in sent[0], log
    assert f"TLS connection established to {addrs[1]}[{addrs[1]}]:25" \
        in log, log
