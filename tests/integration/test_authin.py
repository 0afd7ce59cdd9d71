"""Inbound checks on port 25 (docs/mailauth.md "Inbound checks"): SPF of
MAIL FROM (and of HELO for <>), DKIM of messages signed by dkimpy, the
Authentication-Results and Received-SPF fields Herald adds, forged
Authentication-Results claiming our authserv-id removed, a foreign one
kept; the mail sent with smtplib to a Herald whose [dns] forwards to a
real unbound on loopback, read back with imaplib."""
import email
import imaplib
import re
import smtplib
import ssl
import subprocess

import pytest

from dns_util import SilentUdp, txt_rdata

USER, PASSWORD = "bob@example.test", "pw"
HOST = "mail.example.test"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("dkimkeys")
    subprocess.run(["dknewkey", "--ktype", "rsa", "sel"], cwd=d, check=True,
                   capture_output=True)
    with open(d / "sel.dns") as f:
        rec = f.read().strip()
    return str(d / "sel.key"), rec


@pytest.fixture
def site(herald_factory, dns_server_factory, keys):
    silent = SilentUdp()
    records = {
        "pass.test": [("TXT", '"v=spf1 ip4:127.0.0.0/8 -all"')],
        "fail.test": [("TXT", '"v=spf1 ip4:192.0.2.1 -all"')],
        "soft.test": [("TXT", '"v=spf1 ~all"')],
        "none.test": [("A", "192.0.2.7")],
        "helo.test": [("TXT", '"v=spf1 a -all"'), ("A", "127.0.0.1")],
        "sel._domainkey.pass.test": [
            ("TXT", txt_rdata([keys[1][i:i + 255]
                               for i in range(0, len(keys[1]), 255)]))],
    }
    dns = dns_server_factory(records=records,
                             forward_zones={"slow.test": silent.forward})
    h = herald_factory(listeners=("smtp", "imap"), sections={
        "dns": dns.herald_config(timeout="1s"),
        "mailauth": "spf = on\nreceived_spf = yes\ndkim_verify = on\n"
                    "spf_timeout = 2s",
    }, hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    yield h
    silent.close()


def message(frm, subject="hi", extra="", body="Hello Bob,\r\n\r\nbye.\r\n"):
    return (f"From: <{frm}>\r\nTo: <{USER}>\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@x>\r\n{extra}\r\n"
            f"{body}").encode()


def sign(keys, msg):
    p = subprocess.run(["dkimsign", "sel", "pass.test", keys[0]], input=msg,
                       capture_output=True, check=True, timeout=60)
    assert p.stdout.startswith(b"DKIM-Signature:"), p.stderr
    return p.stdout


def send(h, sender, msg, helo="client.test"):
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], local_hostname=helo,
                      timeout=30) as c:
        c.sendmail(sender, [USER], msg)


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


def ar_fields(raw):
    return email.message_from_bytes(raw).get_all(
        "Authentication-Results") or []


def our_ar(raw):
    mine = [f for f in ar_fields(raw)
            if re.match(r"\s*" + re.escape(HOST) + r"\s*;", f)]
    assert len(mine) == 1, ar_fields(raw)
    return re.sub(r"\s+", " ", mine[0])


@pytest.mark.parametrize("domain,result", [
    ("pass.test", "pass"), ("fail.test", "fail"), ("soft.test", "softfail"),
    ("none.test", "none"), ("slow.test", "temperror"),
])
def test_spf_result_recorded(site, domain, result):
    send(site, f"carol@{domain}", message(f"carol@{domain}", subject=domain))
    raw = fetch_last(site)
    ar = our_ar(raw)
    assert f"spf={result} smtp.mailfrom={domain}" in ar
    rspf = email.message_from_bytes(raw).get("Received-SPF")
    assert rspf is not None and rspf.startswith(result), rspf
    # the fields are on top, above our Received
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert head.index("Authentication-Results:") < \
        head.index("Received-SPF:") < head.index("Received: from")
    site.wait_log(f"spf={result} spf_domain={domain}")


def test_spf_null_sender_checks_helo(site):
    send(site, "", message("mailer-daemon@helo.test", subject="bounce"),
         helo="helo.test")
    ar = our_ar(fetch_last(site))
    assert "spf=pass smtp.helo=helo.test" in ar


def test_dkim_pass_and_fail(site, keys):
    msg = sign(keys, message("carol@pass.test", subject="signed"))
    send(site, "carol@pass.test", msg)
    ar = our_ar(fetch_last(site))
    assert re.search(r"dkim=pass \(\d+-bit key\) header\.d=pass\.test "
                     r"header\.s=sel", ar), ar
    assert "header.b=" in ar
    site.wait_log("dkim=pass:pass.test")
    # the body changed after signing
    bad = msg.replace(b"bye.", b"BYE!")
    send(site, "carol@pass.test", bad)
    ar = our_ar(fetch_last(site))
    assert 'dkim=fail reason="body hash mismatch"' in ar, ar
    assert "header.d=pass.test" in ar


def test_unsigned_is_dkim_none(site):
    send(site, "carol@pass.test", message("carol@pass.test", subject="u"))
    assert "dkim=none" in our_ar(fetch_last(site))


@pytest.mark.parametrize("forged", [
    f"Authentication-Results: {HOST}; spf=pass smtp.mailfrom=fail.test",
    f"authentication-results:   (a comment) {HOST.upper()}\r\n"
    f"\t; dkim=pass header.d=fail.test",
    f'Authentication-Results: "{HOST}"; dkim=pass',
    f"Authentication-Results: {HOST} 1; dkim=pass",
])
def test_forged_ar_removed_foreign_kept(site, forged):
    foreign = "Authentication-Results: mx.other.test; spf=pass " \
              "smtp.mailfrom=x.test"
    # ids a reader does not take for ours stay
    near = f"Authentication-Results: {HOST}.evil.test; dkim=pass"
    extra = f"{forged}\r\n{foreign}\r\n{near}\r\n"
    send(site, "carol@fail.test", message("carol@fail.test",
                                          subject="forged", extra=extra))
    raw = fetch_last(site)
    ars = [re.sub(r"\s+", " ", f) for f in ar_fields(raw)]
    assert len(ars) == 3, ars
    assert ars[0].startswith(f"{HOST}; spf=fail"), ars
    assert "mx.other.test; spf=pass smtp.mailfrom=x.test" in ars
    assert f"{HOST}.evil.test; dkim=pass" in ars
    site.wait_log("ar_removed=1")


def test_forged_ar_removed_on_submission_too(herald_factory):
    h = herald_factory(listeners=("smtp", "imap"), hostname=HOST)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    forged = f"Authentication-Results: {HOST}; dkim=pass header.d=x.test"
    send(h, "carol@remote.test", message("carol@remote.test", extra=forged
                                         + "\r\n"))
    raw = fetch_last(h)
    assert ar_fields(raw) == [], raw
    assert b"Received-SPF" not in raw   # checks are off here


def test_received_spf_off_by_default(herald_factory, dns_server_factory):
    """Without received_spf the SPF verdict is only in
    Authentication-Results (RFC 7208 9 asks for one of the two)."""
    dns = dns_server_factory(records={
        "pass.test": [("TXT", '"v=spf1 ip4:127.0.0.1 -all"')]})
    h = herald_factory(listeners=("smtp", "imap"), hostname=HOST, sections={
        "dns": dns.herald_config(), "mailauth": "spf = on"})
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    send(h, "carol@pass.test", message("carol@pass.test"))
    raw = fetch_last(h)
    assert "spf=pass smtp.mailfrom=pass.test" in our_ar(raw)
    assert b"Received-SPF" not in raw


def test_authenticated_submission_not_checked(herald_factory,
                                              dns_server_factory):
    dns = dns_server_factory(records={
        "example.test": [("TXT", '"v=spf1 -all"')]})
    h = herald_factory(listeners=("smtp", "submission", "imap"),
                       hostname=HOST, sections={
                           "dns": dns.herald_config(),
                           "mailauth": "spf = on\nreceived_spf = yes\n"
                                       "dkim_verify = on\ndkim_sign = no"})
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    with smtplib.SMTP("127.0.0.1", h.ports["submission"], timeout=30) as c:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c.starttls(context=ctx)
        c.login(USER, PASSWORD)
        c.sendmail(USER, [USER], message(USER, subject="own"))
    raw = fetch_last(h)
    assert b"Received-SPF" not in raw
    assert ar_fields(raw) == []


def test_dns_timeout_mail_accepted(site, keys):
    """Every lookup of slow.test times out: SPF and the DKIM key are
    temperror, the mail is still accepted; MAIL is answered before the
    SPF check ends (it runs in the background), the final reply waits."""
    import time
    p = subprocess.run(["dkimsign", "sel", "slow.test", keys[0]],
                       input=message("carol@slow.test", subject="slow"),
                       capture_output=True, check=True, timeout=60)
    with smtplib.SMTP("127.0.0.1", site.ports["smtp"], timeout=30) as c:
        c.ehlo("client.test")
        t0 = time.monotonic()
        assert c.mail("carol@slow.test")[0] == 250
        assert time.monotonic() - t0 < 0.5
        assert c.rcpt(USER)[0] == 250
        code, _ = c.data(p.stdout)
        assert code == 250
        # the SPF time limit (2 s) ran from MAIL
        assert time.monotonic() - t0 >= 0.9
    ar = our_ar(fetch_last(site))
    assert "spf=temperror smtp.mailfrom=slow.test" in ar, ar
    assert re.search(r"dkim=temperror reason=\"[^\"]+\" header\.d=slow\.test "
                     r"header\.s=sel", ar), ar
