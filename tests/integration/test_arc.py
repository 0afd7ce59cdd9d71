"""ARC (RFC 8617, docs/mailauth.md "ARC"): chains sealed by dkimpy (one
and two hops) verify as arc=pass in Herald's Authentication-Results; a
message changed after sealing, a missing ARC-Seal, a gap in the instances
and a cv=fail seal give arc=fail; no ARC fields give arc=none. The keys
are served by a real unbound on loopback; mail is sent with smtplib and
read back with imaplib."""
import email
import imaplib
import re
import smtplib
import subprocess

import dkim
import pytest

from dns_util import txt_rdata

USER, PASSWORD = "bob@example.test", "pw"
HOST = "mail.example.test"


def make_key(d, name):
    subprocess.run(["dknewkey", "--ktype", "rsa", name], cwd=d, check=True,
                   capture_output=True)
    with open(d / f"{name}.dns") as f:
        rec = f.read().strip()
    with open(d / f"{name}.key", "rb") as f:
        priv = f.read()
    return priv, rec


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("arckeys")
    return {dom: make_key(d, dom.split(".")[0])
            for dom in ("fwd1.test", "fwd2.test", "orig.test")}


def key_records(keys):
    return {f"arc._domainkey.{dom}": [
        ("TXT", txt_rdata([rec[i:i + 255] for i in range(0, len(rec), 255)]))]
        for dom, (_, rec) in keys.items()}


@pytest.fixture
def site(herald_factory, dns_server_factory, keys):
    dns = dns_server_factory(records=key_records(keys))
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="2s"),
        "mailauth": "dkim_verify = on\narc_verify = on",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    return h


def message(subject="hi", body="Hello Bob,\r\n\r\nbye.\r\n"):
    return (f"From: Carol <carol@orig.test>\r\nTo: <{USER}>\r\n"
            f"Subject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@orig.test>\r\n"
            f"\r\n{body}").encode()


def seal(keys, msg, domain, results):
    """One hop: the forwarder's Authentication-Results, then its ARC set
    (dkimpy reads the cv= from arc= in that field)."""
    ar = f"Authentication-Results: {domain}; {results}\r\n".encode()
    msg = ar + msg
    hdrs = dkim.arc_sign(msg, b"arc", domain.encode(), keys[domain][0],
                         domain.encode())
    assert len(hdrs) == 3, hdrs
    return b"".join(hdrs) + msg


def one_hop(keys, subject="one"):
    return seal(keys, message(subject), "fwd1.test",
                "spf=pass smtp.mailfrom=orig.test")


def two_hops(keys, subject="two", cv="pass"):
    return seal(keys, one_hop(keys, subject), "fwd2.test",
                f"arc={cv}; dkim=none")


def send(h, msg):
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], local_hostname="c.test",
                      timeout=30) as c:
        c.sendmail("carol@orig.test", [USER], msg)


def fetch_last(h):
    m = imaplib.IMAP4("127.0.0.1", h.ports["imap"], timeout=30)
    try:
        m.login(USER, PASSWORD)
        m.select("INBOX")
        typ, data = m.search(None, "ALL")
        last = data[0].split()[-1]
        typ, data = m.fetch(last, "(BODY.PEEK[])")
        return data[0][1]
    finally:
        m.logout()


def our_ar(raw):
    mine = [f for f in email.message_from_bytes(raw).get_all(
        "Authentication-Results") or []
        if re.match(r"\s*" + re.escape(HOST) + r"\s*;", f)]
    assert len(mine) == 1, raw
    return re.sub(r"\s+", " ", mine[0])


def drop_field(msg, name, instance):
    """msg without the field name of instance (folded lines included)."""
    head, body = msg.split(b"\r\n\r\n", 1)
    fields = re.split(rb"\r\n(?![ \t])", head)
    keep = [f for f in fields if not (
        f.lower().startswith(name.lower() + b":") and
        re.search(rb"\bi=%d;" % instance, f))]
    assert len(keep) == len(fields) - 1
    return b"\r\n".join(keep) + b"\r\n\r\n" + body


def test_dkimpy_chain_verifies_with_dkimpy(keys):
    """The test's own chains are good ones (dkimpy verifies them)."""
    def dnsfunc(name, timeout=5):
        name = name.decode().rstrip(".")
        for dom, (_, rec) in keys.items():
            if name == f"arc._domainkey.{dom}":
                return rec.encode()
        return None
    cv, _, why = dkim.arc_verify(two_hops(keys), dnsfunc=dnsfunc)
    assert cv == b"pass", why


@pytest.mark.parametrize("hops", [1, 2])
def test_sealed_chain_passes(site, keys, hops):
    msg = one_hop(keys, "p1") if hops == 1 else two_hops(keys, "p2")
    send(site, msg)
    ar = our_ar(fetch_last(site))
    sealer = "fwd1.test" if hops == 1 else "fwd2.test"
    assert f"arc=pass (i={hops}; sealed by {sealer}) " \
           f"smtp.remote-ip=127.0.0.1" in ar, ar
    assert site.wait_log("arc=pass")


def test_changed_after_sealing_fails(site, keys):
    msg = two_hops(keys, "changed").replace(b"bye.", b"BYE!")
    send(site, msg)
    ar = our_ar(fetch_last(site))
    assert 'arc=fail reason="ARC-Message-Signature i=2: body hash ' \
           'mismatch"' in ar, ar
    assert site.wait_log("arc=fail")


def test_changed_header_fails(site, keys):
    msg = two_hops(keys, "subj").replace(b"Subject: subj",
                                         b"Subject: [list] subj")
    send(site, msg)
    assert 'arc=fail reason="ARC-Message-Signature i=2: signature ' \
           'mismatch"' in our_ar(fetch_last(site))


@pytest.mark.parametrize("case,reason", [
    ("no-seal", "instance 2 has no ARC-Seal"),
    ("gap", "instance 1 has no ARC-Authentication-Results"),
    ("cv-fail", "ARC-Seal i=2 says cv=fail: the chain has ended"),
    # the seals are checked from the latest down: i=2 covers set 1 too
    ("seal-changed", "ARC-Seal i=2: signature mismatch"),
])
def test_broken_chain_fails(site, keys, case, reason):
    if case == "no-seal":
        msg = drop_field(two_hops(keys, case), b"ARC-Seal", 2)
    elif case == "gap":
        msg = two_hops(keys, case)
        for name in (b"ARC-Seal", b"ARC-Message-Signature",
                     b"ARC-Authentication-Results"):
            msg = drop_field(msg, name, 1)
    elif case == "cv-fail":
        msg = two_hops(keys, case, cv="fail")
        assert re.search(rb"ARC-Seal: i=2;[^:]*cv=fail", msg)
    else:
        # the first hop's recorded results changed: its seal breaks
        msg = two_hops(keys, case).replace(
            b"i=1; fwd1.test; spf=pass", b"i=1; fwd1.test; spf=fail")
    send(site, msg)
    ar = our_ar(fetch_last(site))
    assert f'arc=fail reason="{reason}"' in ar, ar


def test_no_arc_is_none(site):
    send(site, message("plain"))
    ar = our_ar(fetch_last(site))
    assert "arc=none" in ar
    assert site.wait_log("dkim=none arc=none")


def test_missing_key_fails(site, keys):
    msg = seal(keys, message("nokey"), "fwd1.test", "spf=pass "
               "smtp.mailfrom=orig.test").replace(b"d=fwd1.test",
                                                  b"d=gone.test")
    send(site, msg)
    ar = our_ar(fetch_last(site))
    assert re.search(r'arc=fail reason="ARC-Message-Signature i=1: no key '
                     r'\(nxdomain\)"', ar), ar


# ---- sealing: Herald forwards through an alias to an external address ----

def herald_key_record(h, domain):
    """The TXT record text herald dkim list prints for domain's RSA key."""
    out = h.cli("dkim", "list", domain).stdout
    for line in out.splitlines():
        if " IN TXT " in line and "k=rsa" in line:
            sel = line.split("._domainkey.")[0]
            return sel, "".join(re.findall(r'"([^"]*)"', line))
    raise AssertionError(out)


@pytest.fixture
def forwarder(herald_factory, dns_server_factory, keys):
    from test_queue_runner import Sink
    sink = Sink().start()
    dns = dns_server_factory(records=key_records(keys))
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="2s"),
        "mailauth": "dkim_verify = on\narc_verify = on",
        "queue": "retry_min = 1s\nretry_max = 2s\n",
        "transport": f"far.test = smtp:[127.0.0.1]:{sink.port}",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.cli("alias", "add", "team@example.test", "friend@far.test")
    h.cli("dkim", "keygen", "--algorithm", "rsa", "--selector", "fw",
          "example.test")
    sel, rec = herald_key_record(h, "example.test")
    h.start()
    yield h, sink, {f"{sel}._domainkey.example.test": rec}
    sink.cleanup()


def forwarded(sink, timeout=20):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = sink.messages()
        if msgs:
            return msgs[-1]
        time.sleep(0.1)
    raise AssertionError("nothing reached the sink")


def dkimpy_arc_verify(msg, keys, herald_rec):
    def dnsfunc(name, timeout=5):
        name = name.decode().rstrip(".")
        if name in herald_rec:
            return herald_rec[name].encode()
        for dom, (_, rec) in keys.items():
            if name == f"arc._domainkey.{dom}":
                return rec.encode()
        return None
    return dkim.arc_verify(msg.replace(b"\r\n", b"\n"), dnsfunc=dnsfunc)


def send_to(h, rcpts, msg):
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], local_hostname="c.test",
                      timeout=30) as c:
        c.sendmail("carol@orig.test", rcpts, msg)


def test_seal_first_hop(forwarder, keys):
    h, sink, rec = forwarder
    send_to(h, ["team@example.test", USER], message("fwd").replace(
        b"To: <bob@example.test>", b"To: <team@example.test>"))
    out = forwarded(sink)
    assert re.search(rb"ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none;", out)
    assert b"ARC-Authentication-Results: i=1; mail.example.test;" in out
    assert b"arc=none" in out.split(b"ARC-Authentication-Results:")[1]
    cv, _, why = dkimpy_arc_verify(out, keys, rec)
    assert cv == b"pass", why
    assert h.wait_log("arc sealed alias=<team@example.test> "
                      "d=example.test s=fw i=1 cv=none")
    # the local copy is not sealed
    local = fetch_last(h)
    assert b"ARC-Seal" not in local
    assert "arc=none" in our_ar(local)


def test_seal_extends_a_passing_chain(forwarder, keys):
    h, sink, rec = forwarder
    send_to(h, ["team@example.test"], one_hop(keys, "chain"))
    out = forwarded(sink)
    assert re.search(rb"ARC-Seal: i=2; a=rsa-sha256; t=\d+; cv=pass;", out)
    aar = out.split(b"ARC-Authentication-Results: i=2;")[1]
    assert re.search(rb"arc=pass \(i=1; sealed by fwd1.test\)", aar)
    cv, results, why = dkimpy_arc_verify(out, keys, rec)
    assert cv == b"pass", why
    assert len(results) == 2


def test_seal_failed_chain_says_fail(forwarder, keys):
    h, sink, rec = forwarder
    send_to(h, ["team@example.test"],
            one_hop(keys, "broken").replace(b"bye.", b"BYE!"))
    out = forwarded(sink)
    assert re.search(rb"ARC-Seal: i=2; a=rsa-sha256; t=\d+; cv=fail;", out)
    assert h.wait_log("arc sealed alias=<team@example.test> "
                      "d=example.test s=fw i=2 cv=fail")
    # dkimpy: the chain ended (a seal says cv=fail)
    cv, _, why = dkimpy_arc_verify(out, keys, rec)
    assert cv != b"pass", why


def test_ended_chain_not_sealed(forwarder, keys):
    h, sink, rec = forwarder
    send_to(h, ["team@example.test"], two_hops(keys, "ended", cv="fail"))
    out = forwarded(sink)
    assert not re.search(rb"ARC-Seal: i=3", out)
    assert h.wait_log('arc unsealed alias=<team@example.test> '
                      'd=example.test reason="the chain has ended '
                      '(cv=fail)"')


# ---- DMARC override for trusted forwarders (RFC 8617 7.2) ----

@pytest.fixture
def dmarc_site(herald_factory, dns_server_factory, keys):
    records = key_records(keys)
    records["_dmarc.orig.test"] = [("TXT", txt_rdata(["v=DMARC1; p=reject"]))]
    dns = dns_server_factory(records=records)
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="2s"),
        "mailauth": "dkim_verify = on\narc_verify = on\ndmarc = enforce\n"
                    "arc_trusted_sealers = lists.example, fwd1.test",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    return h


def list_message(keys, sealer, subject, vouch):
    """orig.test's DKIM-signed message, passed through a list at sealer
    that checked it (vouch: its Authentication-Results), tagged the
    subject (breaking DKIM) and sealed."""
    msg = message(subject)
    msg = dkim.sign(msg, b"arc", b"orig.test", keys["orig.test"][0]) + msg
    msg = msg.replace(f"Subject: {subject}".encode(),
                      f"Subject: [list] {subject}".encode())
    return seal(keys, msg, sealer, vouch)


def send_reply(h, msg):
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], local_hostname="c.test",
                      timeout=30) as c:
        c.ehlo()
        assert c.mail("list-bounces@lists.test")[0] == 250
        assert c.rcpt(USER)[0] == 250
        return c.data(msg)


@pytest.mark.parametrize("vouch", [
    "dkim=pass header.d=orig.test; dmarc=pass header.from=orig.test",
    "dkim=pass header.d=orig.test",
    "spf=pass smtp.mailfrom=bounce@orig.test",
])
def test_trusted_sealer_overrides_reject(dmarc_site, keys, vouch):
    subject = "trusted " + vouch.split("=")[0]
    code, text = send_reply(dmarc_site, list_message(keys, "fwd1.test",
                                                     subject, vouch))
    assert code == 250, text
    raw = fetch_last(dmarc_site)
    assert f"Subject: [list] {subject}".encode() in raw
    ar = our_ar(raw)
    assert "dkim=fail" in ar and "dmarc=fail" in ar, ar
    assert "arc=pass (i=1; sealed by fwd1.test)" in ar, ar
    assert dmarc_site.wait_log("override=trusted_forwarder")


@pytest.mark.parametrize("sealer,vouch", [
    # not in arc_trusted_sealers
    ("fwd2.test", "dkim=pass header.d=orig.test; dmarc=pass "
                  "header.from=orig.test"),
    # trusted, but it saw nothing that vouches for orig.test
    ("fwd1.test", "dkim=pass header.d=other.test; dmarc=pass "
                  "header.from=other.test; spf=fail "
                  "smtp.mailfrom=orig.test"),
])
def test_untrusted_or_unvouched_is_rejected(dmarc_site, keys, sealer, vouch):
    code, text = send_reply(dmarc_site, list_message(keys, sealer,
                                                     "untrusted", vouch))
    assert code == 550, text
    assert b"5.7.1" in text
    assert not dmarc_site.wait_log("override=trusted_forwarder", 1)


def test_broken_chain_is_not_trusted(dmarc_site, keys):
    msg = list_message(keys, "fwd1.test", "broken", "dmarc=pass "
                       "header.from=orig.test").replace(b"bye.", b"BYE!")
    code, text = send_reply(dmarc_site, msg)
    assert code == 550, text
