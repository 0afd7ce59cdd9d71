"""Issue 14, "Done when" (first bullet): in the two-server setup of the
outbound issue (outbound_util), a message alice submits on example.test's
Herald passes DKIM (both signatures, RSA and Ed25519), SPF and DMARC on
example.org's Herald, as bob reads in its Authentication-Results over
IMAP.

example.test's keys are made with `herald dkim keygen` as an admin would,
and its TXT records (the DKIM keys as keygen prints them, SPF naming the
address its queue sends from, DMARC) are served, with the MX and A
records of both sites, by a real unbound on loopback that both Heralds
forward to ([dns] forward). example.org's Herald checks inbound mail
([mailauth] spf, dkim_verify on, dmarc = enforce).
"""
import os
import re

import pytest

from dns_util import txt_rdata
from outbound_util import PREFERRED, MiniCA, Site, headers, make_msg, \
    mx_records, pick_addresses, release_addresses, wait_imap

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="binds port 25: needs root")

ALICE = "alice@example.test"
BOB = "bob@example.org"


@pytest.fixture
def ca():
    ca = MiniCA()
    yield ca
    ca.cleanup()


@pytest.fixture
def addrs():
    """Two loopback addresses with port 25 free, claimed for the test
    (outbound_util.pick_addresses)."""
    a = pick_addresses(2)
    if a != list(PREFERRED[:2]):
        print(f"port 25 of {PREFERRED[:2]} is taken: using {a}")
    yield a
    release_addresses(a)


def zone_records(keygen_out):
    """{name: TXT rdata} of the records `herald dkim keygen` printed."""
    out = {}
    for name, text in re.findall(r"^(\S+)\. IN TXT \((.*)\)$", keygen_out,
                                 re.M):
        record = "".join(re.findall(r'"([^"]*)"', text))
        out[name] = txt_rdata([record[i:i + 255]
                               for i in range(0, len(record), 255)])
    return out


def ar_methods(raw, authserv_id):
    """The methods of the Authentication-Results field with our
    authserv-id, unfolded: ["spf=pass smtp.mailfrom=...", "dkim=...",
    ...]."""
    fields = [f for f in headers(raw, "Authentication-Results")
              if f.split(";", 1)[0].strip() == authserv_id]
    assert len(fields) == 1, headers(raw, "Authentication-Results")
    return [" ".join(m.split()) for m in fields[0].split(";")[1:]]


def test_alice_to_bob_passes_dkim_spf_dmarc(herald_factory, ca, addrs,
                                            dns_server_factory):
    # the sending site first, without DNS: its keys go into the zone
    test = Site(herald_factory, ca, "example.test", addrs[0], ["alice"],
                sections={"smtp_client": f"bind_address = {addrs[0]}"})
    keygen = test.h.cli("dkim", "keygen", "--selector", "e2e",
                        "example.test").stdout
    dkim_txt = zone_records(keygen)
    assert sorted(dkim_txt) == ["e2e-ed25519._domainkey.example.test",
                                "e2e-rsa._domainkey.example.test"], keygen
    records = mx_records([("example.test", addrs[0]),
                          ("example.org", addrs[1])])
    records["example.test"].append(
        ("TXT", txt_rdata([f"v=spf1 ip4:{addrs[0]} -all"])))
    records["_dmarc.example.test"] = [
        ("TXT", txt_rdata(["v=DMARC1; p=reject; adkim=s; aspf=s"]))]
    for name, rdata in dkim_txt.items():
        records[name] = [("TXT", rdata)]
    dns = dns_server_factory(records=records)
    # harness config files are written whole at construction: the
    # sending site learns its resolver now that the zone is known
    with open(test.h.conf, "a") as f:
        f.write(f"\n[dns]\n{dns.herald_config()}\n")
    org = Site(herald_factory, ca, "example.org", addrs[1], ["bob"],
               dns_config=dns.herald_config(),
               sections={"mailauth": "spf = on\ndkim_verify = on\n"
                                     "dmarc = enforce"})
    test.start()
    org.start()

    token = "e2e-mailauth"
    assert test.submit(ALICE, [BOB], make_msg(ALICE, [BOB], token)) == {}
    msgs, _ = wait_imap(org, BOB, lambda m: any(token.encode() in x
                                                for x in m), timeout=30)
    raw = next((m for m in msgs if token.encode() in m), None)
    assert raw is not None, test.h.log()[-3000:] + org.h.log()[-3000:]
    assert test.h.log().count("dkim signed d=example.test "
                              "s=e2e-rsa,e2e-ed25519") == 1, test.h.log()

    methods = ar_methods(raw, org.mx)
    spf = [m for m in methods if m.startswith("spf=")]
    assert spf == ["spf=pass smtp.mailfrom=example.test"], methods
    dkim = [m for m in methods if m.startswith("dkim=")]
    assert len(dkim) == 2, methods
    want = {"e2e-rsa": "rsa-sha256", "e2e-ed25519": "ed25519-sha256"}
    for m in dkim:
        assert m.startswith("dkim=pass "), m
        assert " header.d=example.test " in m + " ", m
        sel = re.search(r" header\.s=(\S+)", m).group(1)
        assert re.search(rf" header\.a={want.pop(sel)}\b", m), m
    assert want == {}, dkim
    # the DKIM-Signature fields Herald made are the ones checked: the
    # RSA one first, as signed
    assert [re.search(r"header\.s=(\S+)", m).group(1) for m in dkim] == \
        ["e2e-rsa", "e2e-ed25519"]
    # DMARC: p=reject with strict alignment, passed by both identifiers
    dmarc = [m for m in methods if m.startswith("dmarc=")]
    assert len(dmarc) == 1, methods
    assert dmarc[0].startswith("dmarc=pass "), dmarc
    assert "p=reject" in dmarc[0] and "dis=none" in dmarc[0], dmarc
    assert dmarc[0].endswith(" header.from=example.test"), dmarc
    # the verdict is in Authentication-Results; Received-SPF only with
    # [mailauth] received_spf = yes (test_authin.py)
    assert headers(raw, "Received-SPF") == [], raw
    assert re.search(r" mailauth verdicts spf=pass spf_domain=example\.test "
                     r"dkim=pass:example\.test,pass:example\.test .*"
                     r"dmarc=pass header_from=example\.test",
                     org.h.log()), org.h.log()[-3000:]
