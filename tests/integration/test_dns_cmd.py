"""`herald dns DOMAIN` and `herald dns check DOMAIN` (docs/dns.md
"Publishing your records"): the printed records are loaded, as printed,
into a zone served by a real unbound (an auth-zone: unbound's own zone
parser reads them) and by named-checkzone when bind9-utils is there; then
`herald dns check` against that server says every record is ok. Variants
take one record away or change it and check what is reported, and a
server that never answers gives DNS errors, not "missing"."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from dns_util import SilentUdp
from harness import HERALD_BIN

DOMAIN = "example.test"
HOST = "mail.example.test"
LISTENERS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3s")
ZONE_HEAD = (f"$ORIGIN {DOMAIN}.\n$TTL 3600\n"
             f"@ IN SOA ns.{DOMAIN}. hostmaster.{DOMAIN}. 1 3600 600 86400 60\n"
             f"@ IN NS ns.{DOMAIN}.\nns IN A 127.0.0.1\n"
             f"{HOST}. IN A 127.0.0.1\n")


def run(h, *args, timeout=120):
    p = subprocess.run([HERALD_BIN, *args, "-c", h.conf],
                       capture_output=True, text=True, timeout=timeout)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, \
        p.stderr
    return p


def set_dns(h, body):
    """Points the config's [dns] at a server (the section is the last)."""
    with open(h.conf) as f:
        text = f.read()
    text = text.split("\n[dns]\n")[0]
    with open(h.conf, "w") as f:
        f.write(text + "\n[dns]\n" + body + "\n")


@pytest.fixture
def site(herald_factory):
    h = herald_factory(listeners=LISTENERS)
    h.add_domain(DOMAIN)
    h.cli("dkim", "keygen", "--selector", "s1", DOMAIN)
    return h


def printed(h, *opts):
    p = run(h, "dns", DOMAIN, *opts)
    assert p.returncode == 0, p.stderr
    return p.stdout


def record_lines(text):
    return [l for l in text.splitlines() if l and not l.startswith(";")]


def check(h, dns_server_factory, zone, *opts):
    """Serves zone (the printed records, edited) and runs the check with
    opts: (exit status, {owner name: [(status, type, detail), ...]},
    stdout)."""
    dns = dns_server_factory(auth_zones={DOMAIN: ZONE_HEAD + zone})
    set_dns(h, dns.herald_config())
    p = run(h, "dns", "check", *opts, DOMAIN)
    lines = {}
    for line in p.stdout.splitlines():
        if line.startswith("summary:"):
            continue
        status, purpose, name, rest = line.split(None, 3)
        rtype, _, detail = rest.partition(": ")
        lines.setdefault(name, []).append((status, rtype, detail))
    assert p.stdout.splitlines()[-1].startswith("summary:"), p.stdout
    return p.returncode, lines, p.stdout


def without(zone, prefix):
    out = [l for l in zone.splitlines() if not l.startswith(prefix)]
    assert len(out) < len(zone.splitlines()), prefix
    return "\n".join(out) + "\n"


def status_of(lines, name):
    return lines[name][0][0]


def test_round_trip_all_ok(site, dns_server_factory):
    zone = printed(site)
    recs = record_lines(zone)
    names = [l.split()[0] for l in recs]
    for want in (f"{DOMAIN}.", f"s1-rsa._domainkey.{DOMAIN}.",
                 f"s1-ed25519._domainkey.{DOMAIN}.", f"_dmarc.{DOMAIN}.",
                 f"_mta-sts.{DOMAIN}.", f"_smtp._tls.{DOMAIN}.",
                 f"_submissions._tcp.{DOMAIN}.", f"_imap._tcp.{DOMAIN}.",
                 f"_pop3._tcp.{DOMAIN}."):
        assert want in names, zone
    assert f"{DOMAIN}. IN MX 10 {HOST}." in recs
    assert f'{DOMAIN}. IN TXT "v=spf1 mx -all"' in recs
    assert (f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1; p=quarantine; '
            f'rua=mailto:postmaster@{DOMAIN}"') in recs
    # the RSA key is over 255 octets: split strings in parentheses
    rsa = next(l for l in recs if l.startswith("s1-rsa."))
    assert re.fullmatch(r'\S+ IN TXT \( "[^"]{255}" "[^"]+" \)', rsa), rsa
    # the ports of the listeners; POP3 (not configured) is "not there"
    ports = {l.split()[0]: l.split()[-2] for l in recs if " SRV " in l}
    assert ports[f"_imaps._tcp.{DOMAIN}."] == str(site.ports["imaps"])
    assert ports[f"_submission._tcp.{DOMAIN}."] == \
        str(site.ports["submission"])
    assert f"_pop3._tcp.{DOMAIN}. IN SRV 0 0 0 ." in recs
    # each comment group says what it is for; autoconfig is a hint only
    assert "; MX:" in zone and "; SPF (RFC 7208)" in zone
    assert "autoconfig.example.test. IN CNAME" in zone
    assert not any(l.startswith("autoconfig") for l in recs)

    rc, lines, out = check(site, dns_server_factory, zone)
    assert rc == 0, out
    statuses = [s for v in lines.values() for s, _, _ in v]
    assert statuses and set(statuses) == {"ok"}, out
    assert "passes for 127.0.0.1" in lines[f"{DOMAIN}."][1][2], out
    assert "summary: 14 ok, 0 warn, 0 missing, 0 wrong, 0 error" in out


def test_ttl_and_json(site):
    recs = record_lines(printed(site, "--ttl", "300"))
    assert all(l.split()[1:3] == ["300", "IN"] for l in recs), recs
    data = json.loads(printed(site, "--json"))
    assert len(data) == len(recs)
    spf = [r for r in data if r["purpose"] == "spf"]
    assert spf == [{"name": f"{DOMAIN}.", "type": "TXT",
                    "value": "v=spf1 mx -all", "purpose": "spf"}]
    dkim = [r for r in data if r["purpose"] == "dkim"]
    assert len(dkim) == 2 and all(r["value"].startswith("v=DKIM1; k=")
                                  for r in dkim)
    assert run(site, "dns", DOMAIN, "--ttl", "0").returncode == 2


@pytest.mark.skipif(shutil.which("named-checkzone") is None,
                    reason="named-checkzone (bind9-utils) is not installed: "
                           "bash scripts/install-test-deps.sh")
def test_named_checkzone_accepts_it(site, tmp_path):
    for opts in ((), ("--ttl", "600"), ("--dmarc-policy", "none")):
        path = tmp_path / "zone"
        path.write_text(ZONE_HEAD + printed(site, *opts))
        p = subprocess.run(["named-checkzone", "-k", "fail", "-n", "fail",
                            DOMAIN, str(path)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "OK" in p.stdout


def test_missing_dkim(site, dns_server_factory):
    zone = without(printed(site), "s1-rsa._domainkey.")
    rc, lines, out = check(site, dns_server_factory, zone)
    assert rc == 1, out
    assert status_of(lines, f"s1-rsa._domainkey.{DOMAIN}.") == "missing"
    assert status_of(lines, f"s1-ed25519._domainkey.{DOMAIN}.") == "ok"
    assert "required and not in place: dkim s1-rsa._domainkey" in out


def test_dkim_other_key_is_wrong(site, dns_server_factory):
    # a key of another domain, published under s1-ed25519
    other = site.cli("dkim", "keygen", "--selector", "x", "--algorithm",
                     "ed25519", "other.test").stdout
    value = re.search(r'IN TXT \( ("v=DKIM1[^"]*") \)', other).group(1)
    zone = without(printed(site), "s1-ed25519._domainkey.")
    zone += f"s1-ed25519._domainkey.{DOMAIN}. IN TXT {value}\n"
    rc, lines, out = check(site, dns_server_factory, zone)
    assert rc == 1, out
    status, _, detail = lines[f"s1-ed25519._domainkey.{DOMAIN}."][0]
    assert status == "wrong" and "another key" in detail, out


def test_semantic_comparison(site, dns_server_factory):
    """Tags in another order, other white space, other string splits and
    upper-case names are the same records."""
    zone = printed(site)
    rsa = next(l for l in record_lines(zone) if l.startswith("s1-rsa."))
    value = "".join(re.findall(r'"([^"]*)"', rsa))
    p = value.split("p=")[1]
    # v= must come first when present (RFC 6376 3.6.1): left out here
    tags = f"k=rsa; p={p[:100]}  {p[100:]}"
    zone = without(zone, "s1-rsa._domainkey.")
    parts = [tags[:40], tags[40:240], tags[240:]]
    zone += (f"S1-RSA._domainkey.{DOMAIN.upper()}. IN TXT ( " +
             " ".join(f'"{x}"' for x in parts) + " )\n")
    zone = without(zone, "_dmarc.")
    zone += (f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1;rua = mailto:'
             f'postmaster@EXAMPLE.test ; " "p=quarantine"\n')
    rc, lines, out = check(site, dns_server_factory, zone)
    assert rc == 0, out
    assert status_of(lines, f"s1-rsa._domainkey.{DOMAIN}.") == "ok", out
    assert status_of(lines, f"_dmarc.{DOMAIN}.") == "ok", out


def test_two_spf_records(site, dns_server_factory):
    zone = printed(site) + f'{DOMAIN}. IN TXT "v=spf1 a -all"\n'
    rc, lines, out = check(site, dns_server_factory, zone)
    assert rc == 1, out
    status, _, detail = lines[f"{DOMAIN}."][1]
    assert status == "wrong" and "2 SPF records" in detail \
        and "permerror" in detail, out


def test_spf_not_covering_the_mx(site, dns_server_factory):
    zone = without(printed(site), f'{DOMAIN}. IN TXT "v=spf1')
    zone += f'{DOMAIN}. IN TXT "v=spf1 ip4:192.0.2.1 ~all"\n'
    rc, lines, out = check(site, dns_server_factory, zone)
    assert rc == 0, out
    status, _, detail = lines[f"{DOMAIN}."][1]
    assert status == "warn" and "127.0.0.1 (softfail" in detail, out


def test_missing_dmarc(site, dns_server_factory):
    zone = without(printed(site), "_dmarc.")
    rc, lines, out = check(site, dns_server_factory, zone)
    assert rc == 1, out
    assert status_of(lines, f"_dmarc.{DOMAIN}.") == "missing", out


def test_dmarc_none_and_two_dmarc(site, dns_server_factory):
    zone = printed(site, "--dmarc-policy", "none")
    assert 'TXT "v=DMARC1; p=none; rua=' in zone
    rc, lines, out = check(site, dns_server_factory, zone,
                           "--dmarc-policy", "none")
    assert rc == 0 and status_of(lines, f"_dmarc.{DOMAIN}.") == "ok", out
    # checked against the default (quarantine), p=none is a warning
    rc, lines, out = check(site, dns_server_factory,
                           without(printed(site), "_dmarc.") +
                           f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1; p=none"\n')
    assert rc == 0, out
    status, _, detail = lines[f"_dmarc.{DOMAIN}."][0]
    assert status == "warn" and "p=none" in detail, out
    zone = printed(site) + f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1; p=reject"\n'
    rc, lines, out = check(site, dns_server_factory, zone)
    assert rc == 1, out
    assert status_of(lines, f"_dmarc.{DOMAIN}.") == "wrong", out


def test_missing_srv_is_reported(site, dns_server_factory):
    zone = without(printed(site), "_submissions._tcp.")
    zone = without(zone, "_imap._tcp.")
    zone += (f"_imap._tcp.{DOMAIN}. IN SRV 10 1 1143 {HOST}.\n")
    rc, lines, out = check(site, dns_server_factory, zone)
    # SRV records are not required: reported, exit status 0
    assert rc == 0, out
    assert status_of(lines, f"_submissions._tcp.{DOMAIN}.") == "missing"
    status, _, detail = lines[f"_imap._tcp.{DOMAIN}."][0]
    assert status == "wrong" and f"expected port {site.ports['imap']}" \
        in detail, out


def test_dns_server_not_answering(site):
    silent = SilentUdp()
    try:
        set_dns(site, f"forward = {silent.forward}\nresolv_conf =\n"
                      "timeout = 1s")
        start = time.monotonic()
        p = run(site, "dns", "check", DOMAIN)
        took = time.monotonic() - start
    finally:
        silent.close()
    assert p.returncode == 1, p.stdout
    lines = p.stdout.splitlines()
    assert not any(l.startswith("missing") or l.startswith("ok")
                   for l in lines), p.stdout
    assert sum(l.startswith("error") for l in lines) == 14, p.stdout
    assert all("timeout" in l for l in lines if l.startswith("error"))
    # the lookups run together: one timeout, not one per record
    assert took < 8, took


def test_unknown_domain_and_no_keys(site, dns_server_factory):
    p = run(site, "dns", "nothere.test")
    assert p.returncode == 1
    assert "nothere.test is not a domain of this server" in p.stderr
    assert run(site, "dns", "check", "nothere.test").returncode == 1
    assert run(site, "dns", "not_a_domain").returncode == 1
    assert run(site, "dns").returncode == 2
    site.add_domain("bare.test")
    p = run(site, "dns", "bare.test")
    assert p.returncode == 0
    assert "herald dkim keygen bare.test" in p.stdout
    assert "_domainkey" not in "".join(record_lines(p.stdout))


def test_rotation_windows(herald_factory, dns_server_factory):
    """Keys copied in by hand (their file time is both dates): one retired
    40 days ago, one retired 20 days ago, the newest active. With the
    default max_lifetime (5 days) + 7 days, the one retired 3 days ago is
    still to be published, the other one is to be removed."""
    h = herald_factory(listeners=("smtp",))
    h.add_domain(DOMAIN)
    h.cli("dkim", "keygen", "--selector", "tmp", "--algorithm", "rsa",
          DOMAIN)
    kdir = os.path.join(h.data_dir, "dkim", DOMAIN)
    os.unlink(os.path.join(kdir, "tmp.key"))
    now = time.time()
    for sel, age in (("k40", 40), ("k20", 20), ("k3", 3)):
        path = os.path.join(kdir, sel + ".key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519",
                        "-out", path], check=True, capture_output=True)
        os.chmod(path, 0o600)
        shutil.chown(path, "herald", "herald")
        os.utime(path, (now - age * 86400, now - age * 86400))
    zone = printed(h)
    recs = record_lines(zone)
    assert any(l.startswith("k3._domainkey.") for l in recs), zone
    assert any(l.startswith("k20._domainkey.") for l in recs), zone
    assert not any(l.startswith("k40._domainkey.") for l in recs), zone
    assert re.search(r"DKIM selector k40: retired on .*remove its record",
                     zone.replace("\n; ", " ")), zone
    # k40 still published: a warning; k20 taken away too early: a warning
    old = next(l for l in recs if l.startswith("k20.")).split(" IN TXT ")[1]
    zone = without(zone, "k20._domainkey.")
    zone += f"k40._domainkey.{DOMAIN}. IN TXT {old}\n"
    rc, lines, out = check(h, dns_server_factory, zone)
    assert rc == 0, out
    assert status_of(lines, f"k3._domainkey.{DOMAIN}.") == "ok", out
    status, _, detail = lines[f"k40._domainkey.{DOMAIN}."][0]
    assert status == "warn" and "remove the record" in detail, out
    status, _, detail = lines[f"k20._domainkey.{DOMAIN}."][0]
    assert status == "warn" and "no longer published" in detail, out
    # --selector keeps one key
    recs = record_lines(printed(h, "--selector", "k3"))
    assert [l.split()[0] for l in recs if "_domainkey" in l] == \
        [f"k3._domainkey.{DOMAIN}."]
