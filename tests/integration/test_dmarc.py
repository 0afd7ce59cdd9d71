"""DMARC on port 25 (docs/mailauth.md "DMARC"): policy discovery through a
real unbound on loopback, SPF and DKIM (dkimpy-signed) alignment, the
actions of `dmarc = enforce` (550 5.7.1 at the end of data, quarantine
into Junk), pct sampling, sp for subdomains, the organisational domain
from the Public Suffix List, From fields DMARC cannot evaluate, and the
Authentication-Results and log line; sent with smtplib, read back with
imaplib."""
import email
import imaplib
import re
import smtplib
import subprocess

import pytest

from dns_util import SilentUdp, txt_rdata

USER, PASSWORD = "bob@example.test", "pw"
HOST = "mail.example.test"
SPF_PASS = '"v=spf1 ip4:127.0.0.0/8 -all"'
SPF_FAIL = '"v=spf1 ip4:192.0.2.1 -all"'

# (domain, DMARC record or None, SPF record or None)
DOMAINS = [
    ("reject.test", "v=DMARC1; p=reject; rua=mailto:d@reject.test", SPF_FAIL),
    ("quar.test", "v=DMARC1; p=quarantine", SPF_FAIL),
    ("none.test", "v=DMARC1; p=none", SPF_FAIL),
    ("spfok.test", "v=DMARC1; p=reject", SPF_PASS),
    ("strict.test", "v=DMARC1; p=reject; adkim=s; aspf=s", SPF_FAIL),
    ("relaxed.test", "v=DMARC1; p=reject", SPF_FAIL),
    ("sp.test", "v=DMARC1; p=none; sp=reject", SPF_FAIL),
    ("pct.test", "v=DMARC1; p=reject; pct=0", SPF_FAIL),
    ("norec.test", None, SPF_FAIL),
    ("example.co.uk", "v=DMARC1; p=reject", SPF_FAIL),
    ("two.test", None, SPF_FAIL),
]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("dkimkeys")
    subprocess.run(["dknewkey", "--ktype", "rsa", "sel"], cwd=d, check=True,
                   capture_output=True)
    with open(d / "sel.dns") as f:
        rec = f.read().strip()
    return str(d / "sel.key"), rec


def key_rdata(rec):
    return txt_rdata([rec[i:i + 255] for i in range(0, len(rec), 255)])


@pytest.fixture
def site(herald_factory, dns_server_factory, keys):
    silent = SilentUdp()
    records = {}
    key = ("TXT", key_rdata(keys[1]))
    for dom, dmarc, spf in DOMAINS:
        if dmarc is not None:
            records[f"_dmarc.{dom}"] = [("TXT", txt_rdata([dmarc]))]
        if spf is not None:
            records.setdefault(dom, []).append(("TXT", spf))
        records[f"sel._domainkey.{dom}"] = [key]
    # subdomains that sign for themselves (alignment) and send mail
    for sub in ("mail.strict.test", "mail.relaxed.test", "mail.sp.test",
                "mail.example.co.uk"):
        records[f"sel._domainkey.{sub}"] = [key]
        records[sub] = [("TXT", SPF_FAIL)]
    # two DMARC records: no DMARC processing (RFC 7489 6.6.3)
    records["_dmarc.two.test"] = [
        ("TXT", txt_rdata(["v=DMARC1; p=reject"])),
        ("TXT", txt_rdata(["v=DMARC1; p=none"]))]
    records["bounce.test"] = [("TXT", SPF_PASS)]
    dns = dns_server_factory(records=records,
                             zones=["example.co.uk"],
                             forward_zones={"slow.test": silent.forward})
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="1s"),
        "mailauth": "spf = on\ndkim_verify = on\nspf_timeout = 2s\n"
                    "dmarc = enforce",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    yield h
    silent.close()


def message(frm, subject="hi", extra="", body="Hello Bob,\r\n\r\nbye.\r\n",
            from_field=None):
    head = from_field if from_field is not None else f"From: <{frm}>\r\n"
    return (f"{head}To: <{USER}>\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@x>\r\n{extra}\r\n"
            f"{body}").encode()


def sign(keys, msg, domain):
    p = subprocess.run(["dkimsign", "sel", domain, keys[0]], input=msg,
                       capture_output=True, check=True, timeout=60)
    assert p.stdout.startswith(b"DKIM-Signature:"), p.stderr
    return p.stdout


def send(h, sender, msg):
    """The final reply to the message: (code, text)."""
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"],
                      local_hostname="client.test", timeout=30) as c:
        c.ehlo()
        assert c.mail(sender)[0] == 250
        assert c.rcpt(USER)[0] == 250
        return c.data(msg)


def mailbox(h, name):
    """Every message of mailbox name, oldest first."""
    m = imaplib.IMAP4("127.0.0.1", h.ports["imap"], timeout=30)
    try:
        m.login(USER, PASSWORD)
        typ, _ = m.select(name)
        assert typ == "OK"
        typ, data = m.search(None, "ALL")
        out = []
        for num in data[0].split():
            typ, d = m.fetch(num, "(BODY.PEEK[])")
            out.append(d[0][1])
        return out
    finally:
        m.logout()


def our_ar(raw):
    fields = email.message_from_bytes(raw).get_all(
        "Authentication-Results") or []
    mine = [f for f in fields
            if re.match(r"\s*" + re.escape(HOST) + r"\s*;", f)]
    assert len(mine) == 1, fields
    return re.sub(r"\s+", " ", mine[0])


def delivered(h, subject, box="INBOX"):
    for raw in mailbox(h, box):
        if email.message_from_bytes(raw)["Subject"] == subject:
            return raw
    return None


def test_reject_fails_spf_and_dkim(site, keys):
    """p=reject, SPF fails, the signature is not the From domain's (a
    third party signed): 550 5.7.1 at the end of data, nothing stored."""
    msg = sign(keys, message("ceo@reject.test", subject="forged"),
               "none.test")
    code, text = send(site, "ceo@reject.test", msg)
    assert code == 550 and text.startswith(b"5.7.1"), (code, text)
    assert delivered(site, "forged") is None
    assert delivered(site, "forged", "Junk") is None


def test_reject_unsigned(site):
    code, text = send(site, "ceo@reject.test",
                      message("ceo@reject.test", subject="unsigned"))
    assert code == 550 and b"5.7.1" in text


def test_quarantine_goes_to_junk(site):
    code, _ = send(site, "x@quar.test", message("x@quar.test",
                                                subject="quar"))
    assert code == 250
    assert delivered(site, "quar") is None
    raw = delivered(site, "quar", "Junk")
    assert raw is not None
    ar = our_ar(raw)
    assert "dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test" \
        in ar, ar


def test_none_policy_delivered_with_fail(site):
    code, _ = send(site, "x@none.test", message("x@none.test",
                                                subject="pnone"))
    assert code == 250
    ar = our_ar(delivered(site, "pnone"))
    assert "dmarc=fail (p=none dis=none) header.from=none.test" in ar, ar


def test_pass_via_aligned_dkim_only(site, keys):
    """SPF fails (MAIL FROM is reject.test itself, from the wrong IP);
    the signature of reject.test passes: dmarc=pass."""
    msg = sign(keys, message("ceo@reject.test", subject="dkimonly"),
               "reject.test")
    code, _ = send(site, "ceo@reject.test", msg)
    assert code == 250
    ar = our_ar(delivered(site, "dkimonly"))
    assert "spf=fail" in ar and "dkim=pass" in ar, ar
    assert "dmarc=pass (p=reject dis=none) header.from=reject.test" in ar, ar


def test_pass_via_aligned_spf_only(site):
    code, _ = send(site, "x@spfok.test", message("x@spfok.test",
                                                 subject="spfonly"))
    assert code == 250
    ar = our_ar(delivered(site, "spfonly"))
    assert "spf=pass" in ar and "dkim=none" in ar, ar
    assert "dmarc=pass" in ar, ar


def test_spf_pass_unaligned_is_fail(site):
    """SPF passes for bounce.test, the From is reject.test: not aligned."""
    code, text = send(site, "b@bounce.test",
                      message("ceo@reject.test", subject="unaligned"))
    assert code == 550, text


def test_relaxed_alignment_subdomain_signature(site, keys):
    msg = sign(keys, message("x@relaxed.test", subject="relaxed"),
               "mail.relaxed.test")
    code, _ = send(site, "x@relaxed.test", msg)
    assert code == 250
    assert "dmarc=pass" in our_ar(delivered(site, "relaxed"))


def test_strict_alignment_subdomain_signature_fails(site, keys):
    msg = sign(keys, message("x@strict.test", subject="strict"),
               "mail.strict.test")
    code, text = send(site, "x@strict.test", msg)
    assert code == 550, text
    assert delivered(site, "strict") is None


def test_sp_applies_to_subdomain(site):
    """_dmarc.sp.test says p=none sp=reject: mail.sp.test (no record of
    its own) is rejected, sp.test itself only recorded."""
    code, _ = send(site, "x@mail.sp.test", message("x@mail.sp.test",
                                                   subject="sub"))
    assert code == 550
    code, _ = send(site, "x@sp.test", message("x@sp.test", subject="top"))
    assert code == 250
    assert "dmarc=fail (p=none sp=reject dis=none)" in \
        our_ar(delivered(site, "top"))


def test_pct_zero_next_lower_policy(site):
    """pct=0 with p=reject: never selected, so the next lower policy,
    quarantine, applies (RFC 7489 6.6.4)."""
    code, _ = send(site, "x@pct.test", message("x@pct.test", subject="pct"))
    assert code == 250
    raw = delivered(site, "pct", "Junk")
    assert raw is not None
    ar = our_ar(raw)
    assert "dmarc=fail (p=reject pct=0 dis=quarantine override=" \
           "sampled_out)" in ar, ar


def test_no_record_is_none(site):
    code, _ = send(site, "x@norec.test", message("x@norec.test",
                                                 subject="norec"))
    assert code == 250
    ar = our_ar(delivered(site, "norec"))
    assert "dmarc=none header.from=norec.test" in ar, ar


def test_two_records_is_none(site):
    code, _ = send(site, "x@two.test", message("x@two.test", subject="two"))
    assert code == 250
    assert "dmarc=none header.from=two.test" in our_ar(delivered(site,
                                                                 "two"))


def test_dns_timeout_is_temperror_accepted(site):
    code, _ = send(site, "x@bounce.test", message("x@slow.test",
                                                  subject="slow"))
    assert code == 250
    ar = our_ar(delivered(site, "slow"))
    assert re.search(r"dmarc=temperror \([^)]*\) header\.from=slow\.test",
                     ar), ar


@pytest.mark.parametrize("from_field,why", [
    ("From: <a@reject.test>\r\nFrom: <b@reject.test>\r\n", b"exactly one"),
    ("From: <a@norec.test>\r\nFrom: <b@reject.test>\r\n", b"exactly one"),
    ("From: a@norec.test, b@reject.test\r\n", b"several"),
    ("", b"exactly one"),
    ("From: a@norec.test <b@reject.test>\r\n", b"one clear"),
    ("From: undisclosed:;\r\n", b"one clear"),
    ("From: =?utf-8?q?a=40reject.test?= <b@norec.test>\r\n", b"one clear"),
])
def test_from_fields_dmarc_cannot_evaluate(site, from_field, why):
    code, text = send(site, "x@norec.test",
                      message(None, subject="fromx", from_field=from_field))
    assert code == 550 and text.startswith(b"5.7.1"), (code, text)
    assert why in text, text
    assert delivered(site, "fromx") is None


def test_same_domain_twice_in_one_from_is_evaluated(site):
    code, _ = send(site, "x@norec.test", message(
        None, subject="samedom",
        from_field="From: a@norec.test, \"B\" <b@NOREC.test>\r\n"))
    assert code == 250
    assert "dmarc=none header.from=norec.test" in \
        our_ar(delivered(site, "samedom"))


def test_psl_organisational_domain(site, keys):
    """mail.example.co.uk has no record: the organisational domain
    example.co.uk (co.uk is a public suffix) has p=reject, so an unsigned
    message is refused and one signed by mail.example.co.uk passes."""
    code, _ = send(site, "x@mail.example.co.uk",
                   message("x@mail.example.co.uk", subject="psl"))
    assert code == 550
    msg = sign(keys, message("x@mail.example.co.uk", subject="pslok"),
               "mail.example.co.uk")
    code, _ = send(site, "x@mail.example.co.uk", msg)
    assert code == 250
    ar = our_ar(delivered(site, "pslok"))
    assert "dmarc=pass (p=reject dis=none) header.from=mail.example.co.uk" \
        in ar, ar


def test_record_mode_only_records(herald_factory, dns_server_factory):
    dns = dns_server_factory(records={
        "_dmarc.reject.test": [("TXT", '"v=DMARC1; p=reject"')],
        "reject.test": [("TXT", SPF_FAIL)],
    })
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="1s"),
        "mailauth": "spf = on\ndkim_verify = on\ndmarc = record",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    code, _ = send(h, "x@reject.test", message("x@reject.test",
                                               subject="rec"))
    assert code == 250
    ar = our_ar(delivered(h, "rec"))
    assert "dmarc=fail (p=reject dis=none override=local_policy) " \
           "header.from=reject.test" in ar, ar


def test_np_for_nonexistent_subdomain(site_np):
    """_dmarc.np.test: p=none; np=reject. ghost.np.test does not exist
    (A, AAAA, MX all NXDOMAIN): np applies; real.np.test exists: p."""
    code, text = send(site_np, "x@ghost.np.test",
                      message("x@ghost.np.test", subject="ghost"))
    assert code == 550 and b"5.7.1" in text, (code, text)
    code, _ = send(site_np, "x@real.np.test",
                   message("x@real.np.test", subject="real"))
    assert code == 250
    assert "dmarc=fail (p=none np=reject dis=none) header.from=real.np.test" \
        in our_ar(delivered(site_np, "real"))


def test_same_verdicts_from_the_dns_cache(site_np):
    """The second message of a domain finds its policy in Herald's DNS
    cache (dmarc_lookup_now(), no lookup, no loop turn): the verdicts,
    the Authentication-Results and the replies are the first one's. A
    fresh Herald, so the first message's lookups go to the server."""
    for n, frm in enumerate(["x@np.test", "x@nothing.test",
                             "x@real.np.test", "x@ghost.np.test"]):
        replies, ars = [], []
        for i in range(2):
            subject = f"cache {n} {i}"
            code, _ = send(site_np, frm, message(frm, subject=subject))
            replies.append(code)
            raw = delivered(site_np, subject)
            ars.append(our_ar(raw) if raw is not None else None)
        assert replies[0] == replies[1], (frm, replies)
        assert ars[0] == ars[1], (frm, ars)
        if frm == "x@ghost.np.test":
            assert replies[0] == 550
        else:
            assert replies[0] == 250 and "dmarc=" in ars[0], (frm, ars)
        if frm == "x@np.test":
            assert "spf=pass" in ars[0] and "dmarc=pass" in ars[0], ars


@pytest.fixture
def site_np(herald_factory, dns_server_factory):
    dns = dns_server_factory(records={
        "_dmarc.np.test": [("TXT", '"v=DMARC1; p=none; np=reject"')],
        "real.np.test": [("A", "192.0.2.9")],
        # SPF with lookups of its own, for the cache test
        "np.test": [("TXT", '"v=spf1 a mx ip4:127.0.0.0/8 -all"')],
    })
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="1s"),
        "mailauth": "spf = on\ndkim_verify = on\ndmarc = enforce",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    return h


@pytest.mark.parametrize("discovery", ["psl", "treewalk"])
def test_tree_walk(herald_factory, dns_server_factory, discovery):
    """_dmarc.b.walk.test has p=reject, walk.test has no record. The
    tree walk finds it for a.b.walk.test; the PSL way only asks
    a.b.walk.test and walk.test, so the mail is delivered. For a From
    domain of 10 labels the walk jumps to the last 7: the p=none record
    8 labels up is skipped and h.walk.test's p=reject applies."""
    dns = dns_server_factory(records={
        "_dmarc.b.walk.test": [("TXT", '"v=DMARC1; p=reject"')],
        "_dmarc.c.d.e.f.g.h.walk.test": [("TXT", '"v=DMARC1; p=none"')],
        "_dmarc.h.walk.test": [("TXT", '"v=DMARC1; p=reject"')],
    })
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="1s"),
        "mailauth": "spf = on\ndkim_verify = on\ndmarc = enforce\n"
                    f"dmarc_discovery = {discovery}",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    code, _ = send(h, "x@a.b.walk.test", message("x@a.b.walk.test",
                                                 subject="walk"))
    deep = "a.b.c.d.e.f.g.h.walk.test"
    code2, _ = send(h, f"x@{deep}", message(f"x@{deep}", subject="deep"))
    if discovery == "treewalk":
        assert code == 550
        assert code2 == 550
    else:
        assert code == 250
        assert "dmarc=none header.from=a.b.walk.test" in \
            our_ar(delivered(h, "walk"))
        assert code2 == 250


def test_missing_psl_stops_start(herald_factory, tmp_path):
    """dmarc on and no Public Suffix List: config check and serve say
    so and exit 1; with dmarc = off the file is not needed."""
    from harness import HERALD_BIN
    missing = tmp_path / "none.dat"
    h = herald_factory(listeners=("smtp",), sections={
        "mailauth": f"dmarc = record\npsl_file = {missing}"})
    p = subprocess.run([HERALD_BIN, "config", "check", "-c", h.conf],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "[mailauth] psl_file" in p.stderr and str(missing) in p.stderr
    s = subprocess.run([HERALD_BIN, "serve", "-c", h.conf],
                       capture_output=True, text=True, timeout=20)
    assert s.returncode == 1
    assert "psl_file" in s.stderr and "publicsuffix" in s.stderr, s.stderr
    h = herald_factory(listeners=("smtp",), sections={
        "mailauth": f"dmarc = off\npsl_file = {missing}"})
    p = subprocess.run([HERALD_BIN, "config", "check", "-c", h.conf],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr


def test_relay_networks_not_checked(herald_factory, dns_server_factory):
    """A relay_networks client is trusted as an authenticated user is:
    its p=reject fail is delivered without SPF, DKIM or DMARC checks
    (no Authentication-Results of ours, every verdict off), and a forged
    Authentication-Results claiming our id is still removed."""
    dns = dns_server_factory(records={
        "_dmarc.reject.test": [("TXT", '"v=DMARC1; p=reject"')],
        "reject.test": [("TXT", SPF_FAIL)],
    })
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="1s"),
        "mailauth": "spf = on\ndkim_verify = on\ndmarc = enforce",
        "smtp": "relay_networks = 127.0.0.1",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    forged = f"Authentication-Results: {HOST}; dmarc=pass\r\n"
    code, _ = send(h, "x@reject.test", message(
        "x@reject.test", subject="trusted", extra=forged))
    assert code == 250
    raw = delivered(h, "trusted")
    assert not [f for f in email.message_from_bytes(raw).get_all(
        "Authentication-Results", []) if f.strip().startswith(HOST)], raw
    assert b"Received-SPF" not in raw
    # the verdicts line is there for the removed field only
    assert h.wait_log("delivery sent")
    assert re.search(r"mailauth verdicts spf=off .*dkim=off arc=off "
                     r"ar_removed=1 dmarc=off ", h.log()), h.log()


@pytest.mark.parametrize("setting", [
    ("mailauth", "dmarc_reject_exempt = 127.0.0.0/8"),
])
def test_exempt_networks_not_rejected(herald_factory, dns_server_factory,
                                      setting):
    """A p=reject fail from a dmarc_reject_exempt client is delivered,
    recorded as override=local_policy; so is a message with two From
    fields."""
    dns = dns_server_factory(records={
        "_dmarc.reject.test": [("TXT", '"v=DMARC1; p=reject"')],
        "reject.test": [("TXT", SPF_FAIL)],
    })
    sections = {
        "dns": dns.herald_config(timeout="1s"),
        "mailauth": "spf = on\ndkim_verify = on\ndmarc = enforce",
    }
    sections[setting[0]] = (sections.get(setting[0], "") + "\n" +
                            setting[1]).strip()
    h = herald_factory(listeners=("smtp", "imap"), sections=sections,
                       hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    code, _ = send(h, "x@reject.test", message("x@reject.test",
                                               subject="exempt"))
    assert code == 250
    ar = our_ar(delivered(h, "exempt"))
    assert "dmarc=fail (p=reject dis=none override=local_policy)" in ar, ar
    code, _ = send(h, "x@reject.test", message(
        None, subject="twofrom",
        from_field="From: <a@reject.test>\r\nFrom: <b@x.test>\r\n"))
    assert code == 250
    assert "dmarc=permerror (several From fields)" in \
        our_ar(delivered(h, "twofrom"))


def test_policy_lookup_starts_with_the_header(herald_factory,
                                              dns_server_factory):
    """The _dmarc lookup is asked as soon as the header has streamed in,
    before the final dot (it overlaps with the body): the DNS server's
    query log shows it while the message is still open."""
    import time
    dns = dns_server_factory(records={
        "_dmarc.early.test": [("TXT", '"v=DMARC1; p=reject"')],
        "early.test": [("TXT", SPF_PASS)],
    }, extra="  log-queries: yes")
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="1s"),
        "mailauth": "spf = on\ndkim_verify = on\ndmarc = enforce",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    msg = message("x@early.test", subject="early")
    head, body = msg.split(b"\r\n\r\n", 1)
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"],
                      local_hostname="client.test", timeout=30) as c:
        c.ehlo()
        assert c.mail("x@early.test")[0] == 250
        assert c.rcpt(USER)[0] == 250
        c.putcmd("data")
        assert c.getreply()[0] == 354
        c.send(head + b"\r\n\r\nfirst line\r\n")
        deadline = time.monotonic() + 10
        while "_dmarc.early.test" not in dns.log() and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert "_dmarc.early.test" in dns.log(), dns.log()
        c.send(body + b".\r\n")
        code, _ = c.getreply()
        assert code == 250
    assert "dmarc=pass" in our_ar(delivered(h, "early"))


@pytest.mark.parametrize("dkim", ["on", "off"])
def test_from_read_with_and_without_dkim(herald_factory, dns_server_factory,
                                         dkim):
    """DMARC reads the From field from the DKIM verifier's copy of the
    header when DKIM is checked, from its own otherwise: the same
    verdicts either way, a message that is all header (no empty line)
    included."""
    dns = dns_server_factory(records={
        "_dmarc.r.test": [("TXT", '"v=DMARC1; p=reject"')],
        "r.test": [("TXT", SPF_FAIL)],
        "_dmarc.ok.test": [("TXT", '"v=DMARC1; p=reject"')],
        "ok.test": [("TXT", SPF_PASS)],
    })
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="1s"),
        "mailauth": f"spf = on\ndkim_verify = {dkim}\ndmarc = enforce",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    code, text = send(h, "x@r.test", message("x@r.test", subject="r"))
    assert code == 550 and b"5.7.1" in text, (code, text)
    code, _ = send(h, "x@ok.test", message("x@ok.test", subject="ok"))
    assert code == 250
    assert re.search(r"dmarc=pass \(p=reject dis=none\) header.from=ok.test",
                     our_ar(delivered(h, "ok")))
    head_only = (f"From: <x@ok.test>\r\nTo: <{USER}>\r\n"
                 "Subject: headonly\r\n").encode()
    code, _ = send(h, "x@ok.test", head_only)
    assert code == 250
    assert re.search(r"dmarc=pass \(p=reject dis=none\) header.from=ok.test",
                     our_ar(delivered(h, "headonly")))
    code, text = send(h, "x@ok.test", message(
        None, subject="two", from_field="From: <a@ok.test>\r\n"
        "From: <b@r.test>\r\n"))
    assert code == 550 and b"exactly one" in text, (code, text)
