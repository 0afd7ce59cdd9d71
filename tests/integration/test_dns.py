"""The DNS module (src/dns/) against a real unbound on loopback
(dns_util.py), through `herald dns lookup`: every record type, the
negative answers, CNAME chains, TXT strings, the cache, failures
(SERVFAIL, timeout), answers that need TCP, and DNSSEC states."""
import os
import subprocess
import time

import pytest

from dns_util import SilentUdp, dns_server, site_records
from harness import HERALD_BIN

RECORDS = {
    "example.test": [("MX", "10 mx.example.test."),
                     ("MX", "20 mx2.example.test."),
                     ("MX", "10 mx3.example.test."),
                     ("A", "127.0.0.2"),
                     ("TXT", '"v=spf1 ip4:127.0.0.2 " "-all"'),
                     ("TXT", '"second record"')],
    "mx.example.test": [("A", "127.0.0.2"), ("AAAA", "::1")],
    "example.org": [("MX", "10 example.org."), ("A", "127.0.0.3")],
    "null.example.org": [("MX", "0 .")],
    "_25._tcp.mx.example.test": [("TLSA", "3 1 1 0a0b0c0d0e0f")],
    "_imaps._tcp.example.test": [("SRV", "0 1 993 MX.example.test.")],
    "_pop3._tcp.example.test": [("SRV", "0 0 0 .")],
    "alias.example.test": [("CNAME", "alias2.example.test.")],
    "alias2.example.test": [("CNAME", "mx.example.test.")],
    "short.example.test": [("A", "127.0.0.9", 2)],
    "4.3.2.1.in-addr.arpa": [("PTR", "mx.example.test.")],
    "xn--bcher-kva.example.test": [("MX", "10 mx.example.test.")],
}


def write_config(tmp_path, dns_body):
    conf = tmp_path / "herald.conf"
    conf.write_text(f"data_dir = {tmp_path}/data\n\n[dns]\n{dns_body}\n")
    return str(conf)


def lookup(conf, rtype, name, *opts, timeout=60):
    """Runs herald dns lookup; returns (exit status, [{field: value,
    "record": [...]}, ...] one dict per answer printed)."""
    p = subprocess.run([HERALD_BIN, "dns", "lookup", "-c", conf, *opts,
                        rtype, name], capture_output=True, text=True,
                       timeout=timeout)
    assert "Sanitizer" not in p.stderr, p.stderr
    assert "runtime error" not in p.stderr, p.stderr
    answers = []
    for block in p.stdout.strip().split("\n\n"):
        a = {"record": [], "joined": []}
        for line in block.splitlines():
            k, _, v = line.partition(": ")
            if k in ("record", "joined"):
                a[k].append(v)
            else:
                a[k] = v
        answers.append(a)
    assert answers and "status" in answers[0], p.stdout + p.stderr
    return p.returncode, answers, p.stderr


@pytest.fixture(scope="module")
def zone_server():
    with dns_server(records=RECORDS) as s:
        yield s


@pytest.fixture
def conf(tmp_path, zone_server):
    return write_config(tmp_path, zone_server.herald_config())


def test_mx_sorted_by_preference(conf):
    rc, [a], _ = lookup(conf, "MX", "example.test")
    assert rc == 0
    assert a["status"] == "ok" and a["sec"] == "insecure"
    prefs = [r.split()[2] for r in a["record"]]
    assert prefs == ["10", "10", "20"], a
    hosts = {r.split()[3] for r in a["record"]}
    assert hosts == {"mx.example.test", "mx2.example.test",
                     "mx3.example.test"}
    assert all(r.split()[0] == "3600" for r in a["record"])
    assert a["ttl"] == "3600"


def test_null_mx(conf):
    rc, [a], _ = lookup(conf, "MX", "null.example.org")
    assert rc == 0 and a["record"] == ["3600 MX 0 ."]


@pytest.mark.parametrize("rtype,name,want", [
    ("A", "mx.example.test", "A 127.0.0.2"),
    ("AAAA", "mx.example.test", "AAAA ::1"),
    ("A", "example.org", "A 127.0.0.3"),
    ("TLSA", "_25._tcp.mx.example.test", "TLSA 3 1 1 0a0b0c0d0e0f"),
    ("SRV", "_imaps._tcp.example.test", "SRV 0 1 993 mx.example.test"),
    ("SRV", "_pop3._tcp.example.test", "SRV 0 0 0 ."),
    ("PTR", "4.3.2.1.in-addr.arpa", "PTR mx.example.test"),
    ("PTR", "1.2.3.4", "PTR mx.example.test"),
])
def test_record_types(conf, rtype, name, want):
    rc, [a], _ = lookup(conf, rtype, name)
    assert rc == 0, a
    assert a["record"] == [f"3600 {want}"]


@pytest.mark.parametrize("sync", [False, True])
def test_txt_strings_and_join(conf, sync):
    rc, [a], _ = lookup(conf, "TXT", "example.test",
                        *(["--sync"] if sync else []))
    assert rc == 0
    assert sorted(a["record"]) == sorted([
        '3600 TXT "v=spf1 ip4:127.0.0.2 " "-all"',
        '3600 TXT "second record"'])
    assert sorted(a["joined"]) == sorted(['"v=spf1 ip4:127.0.0.2 -all"',
                                          '"second record"'])


def test_nxdomain_with_negative_ttl(conf):
    rc, [a], _ = lookup(conf, "A", "nosuch.example.test")
    assert rc == 1
    assert a["status"] == "nxdomain" and a["rcode"] == "3"
    assert a["ttl"] == "60"        # the SOA minimum
    assert a["record"] == []


def test_nodata(conf):
    rc, [a], _ = lookup(conf, "AAAA", "example.org")
    assert rc == 1
    assert a["status"] == "nodata" and a["rcode"] == "0"
    assert a["ttl"] == "60"


def test_cname_chain(conf):
    rc, [a], _ = lookup(conf, "A", "alias.example.test")
    assert rc == 0
    assert a["name"] == "alias.example.test"
    assert a["canonname"] == "mx.example.test"
    assert a["record"] == ["3600 A 127.0.0.2"]


def test_invalid_name_is_an_error(conf):
    rc, [a], _ = lookup(conf, "A", "a..b.example.test")
    assert rc == 1 and a["status"] == "error"
    assert "empty label" in a["error"]
    rc, [a], _ = lookup(conf, "A", "x" * 64 + ".example.test")
    assert a["status"] == "error" and "63" in a["error"]


@pytest.mark.parametrize("sync", [False, True])
def test_cache_hit_and_ttl(conf, sync):
    rc, answers, _ = lookup(conf, "MX", "example.test", "--repeat", "3",
                            *(["--sync"] if sync else []))
    assert [a["cache"] for a in answers] == ["miss", "hit", "hit"]
    assert all(a["record"] == answers[0]["record"] for a in answers)
    # negative answers are cached too
    rc, answers, _ = lookup(conf, "A", "nosuch2.example.test", "--repeat",
                            "2")
    assert [a["cache"] for a in answers] == ["miss", "hit"]
    assert answers[1]["status"] == "nxdomain"


def test_cache_off(tmp_path, zone_server):
    conf = write_config(tmp_path, zone_server.herald_config(cache_size=0))
    rc, answers, _ = lookup(conf, "MX", "example.test", "--repeat", "2")
    assert [a["cache"] for a in answers] == ["miss", "miss"]


def test_servfail(tmp_path):
    with dns_server(records=RECORDS, refused_zones=["broken.test"]) as s:
        conf = write_config(tmp_path, s.herald_config())
        rc, [a], err = lookup(conf, "MX", "broken.test")
        assert rc == 1
        assert a["status"] == "servfail", a
        assert a["rcode"] == "2" and a["error"] == "server failure (rcode 2)"
        assert "dns failed name=broken.test type=MX status=servfail" in err
        # failures are not cached
        rc, answers, _ = lookup(conf, "MX", "broken.test", "--repeat", "2")
        assert [x["cache"] for x in answers] == ["miss", "miss"]
        assert [x["status"] for x in answers] == ["servfail", "servfail"]


def test_dead_forwarder_is_temporary(tmp_path):
    dead = SilentUdp()
    dead.close()            # nothing listens there
    with dns_server(records=RECORDS,
                    forward_zones={"dead.test": dead.forward}) as s:
        conf = write_config(tmp_path, s.herald_config(timeout="1500ms"))
        t0 = time.monotonic()
        rc, [a], _ = lookup(conf, "MX", "dead.test")
        assert rc == 1
        # unbound keeps retrying the dead server: Herald's timeout ends it
        assert a["status"] in ("servfail", "timeout"), a
        assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("sync", [False, True])
def test_timeout(tmp_path, sync):
    silent = SilentUdp()
    try:
        conf = write_config(tmp_path, f"forward = {silent.forward}\n"
                            "timeout = 700ms")
        t0 = time.monotonic()
        rc, [a], err = lookup(conf, "A", "example.test",
                              *(["--sync"] if sync else []))
        took = time.monotonic() - t0
    finally:
        silent.close()
    assert rc == 1
    assert a["status"] == "timeout", a
    assert a["error"] == "timed out after 700 ms"
    assert 0.6 < took < 5, took
    assert "dns failed name=example.test type=A status=timeout" in err


def test_large_answer_over_tcp(tmp_path):
    # 60 TXT records of 200 octets: about 12 KB, far over the 1232-octet
    # EDNS buffer: the UDP answer is truncated, libunbound retries on TCP
    big = [("TXT", '"%s"' % (f"{i:03d}" + "x" * 197)) for i in range(60)]
    big_a = [("A", f"127.0.1.{i}") for i in range(1, 201)]
    with dns_server(records={"big.example.test": big + big_a}) as s:
        conf = write_config(tmp_path, s.herald_config())
        rc, [a], _ = lookup(conf, "TXT", "big.example.test")
        assert rc == 0, a
        assert len(a["record"]) == 60
        assert sorted(j[1:4] for j in a["joined"]) == \
            [f"{i:03d}" for i in range(60)]
        rc, [a], _ = lookup(conf, "A", "big.example.test")
        assert rc == 0 and len(a["record"]) == 200
        log = s.log()
    assert "error" not in log.lower(), log


SECURE_ZONE = """$ORIGIN secure.test.
$TTL 3600
@ IN SOA ns.secure.test. hostmaster.secure.test. 1 3600 600 86400 60
@ IN NS ns.secure.test.
ns IN A 127.0.0.53
@ IN MX 10 mx.secure.test.
mx IN A 127.0.0.5
_25._tcp.mx IN TLSA 3 1 1 0102030405060708
"""


def sign_zone(d, name, text):
    """Signs a zone with fresh keys (ldns-keygen, ldns-signzone); returns
    (signed zone text, path of the KSK's DS record: the trust anchor)."""
    zone = os.path.join(d, name + ".zone")
    with open(zone, "w") as f:
        f.write(text)

    def keygen(*args):
        p = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", *args,
                            name], cwd=d, capture_output=True, text=True,
                           check=True)
        return os.path.join(d, p.stdout.strip())

    ksk = keygen("-k")
    zsk = keygen()
    subprocess.run(["ldns-signzone", zone, zsk, ksk], cwd=d, check=True,
                   capture_output=True)
    with open(zone + ".signed") as f:
        return f.read(), ksk + ".ds"


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    for tool in ("ldns-keygen", "ldns-signzone"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"],
                          capture_output=True).returncode != 0:
            pytest.skip(f"{tool} (package ldnsutils) is not installed: "
                        "bash scripts/install-test-deps.sh")
    d = str(tmp_path_factory.mktemp("dnssec"))
    text, anchor = sign_zone(d, "secure.test", SECURE_ZONE)
    # a second key set whose DS does not match the served zone
    other = os.path.join(d, "other")
    os.mkdir(other)
    _, wrong = sign_zone(other, "secure.test", SECURE_ZONE)
    with dns_server(records=RECORDS, auth_zones={"secure.test": text}) as s:
        yield s, anchor, wrong


def test_dnssec_secure(tmp_path, signed):
    s, anchor, _ = signed
    conf = write_config(tmp_path, s.herald_config(trust_anchor=anchor))
    rc, [a], _ = lookup(conf, "MX", "secure.test")
    assert rc == 0, a
    assert a["sec"] == "secure" and a["record"] == ["3600 MX 10 mx.secure.test"]
    rc, [a], _ = lookup(conf, "TLSA", "_25._tcp.mx.secure.test")
    assert rc == 0 and a["sec"] == "secure"
    assert a["record"] == ["3600 TLSA 3 1 1 0102030405060708"]
    # a proven absence is secure too
    rc, [a], _ = lookup(conf, "A", "nosuch.secure.test")
    assert a["status"] == "nxdomain" and a["sec"] == "secure"
    rc, [a], _ = lookup(conf, "AAAA", "mx.secure.test")
    assert a["status"] == "nodata" and a["sec"] == "secure"
    # outside the anchor's zone: insecure
    rc, [a], _ = lookup(conf, "MX", "example.test")
    assert rc == 0 and a["sec"] == "insecure"


def test_dnssec_without_anchor_is_insecure(tmp_path, signed):
    s, _, _ = signed
    conf = write_config(tmp_path, s.herald_config())
    rc, [a], _ = lookup(conf, "MX", "secure.test")
    assert rc == 0 and a["sec"] == "insecure"


def test_dnssec_bogus_is_a_temporary_error(tmp_path, signed):
    s, _, wrong = signed
    conf = write_config(tmp_path, s.herald_config(trust_anchor=wrong))
    rc, answers, err = lookup(conf, "MX", "secure.test", "--repeat", "2")
    for a in answers:
        assert a["status"] == "error" and a["sec"] == "bogus", a
        assert a["record"] == []
        assert a["why_bogus"] and a["error"].startswith("DNSSEC bogus: ")
    assert [a["cache"] for a in answers] == ["miss", "miss"]
    assert "warn - dns bogus name=secure.test type=MX" in err


@pytest.mark.parametrize("value", ["mail.example.test@53", "127.0.0.1@0",
                                   "127.0.0.1@70000", "127.0.0.1, x"])
def test_config_check_refuses_bad_forward(tmp_path, value):
    conf = write_config(tmp_path, f"forward = {value}")
    p = subprocess.run([HERALD_BIN, "config", "check", "-c", conf],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "forward:" in p.stderr and "not an IP address" in p.stderr


def test_unreadable_settings_fail_at_start(tmp_path, zone_server):
    bad = tmp_path / "bad.key"
    bad.write_text("this is not a trust anchor\n")
    for body, want in [
            (f"trust_anchor = {tmp_path}/missing.key",
             "trust_anchor " + f"{tmp_path}/missing.key: No such file"),
            (f"trust_anchor = {bad}", "libunbound refuses the settings"),
            (f"unbound_config = {tmp_path}/missing.conf",
             "unbound_config")]:
        conf = write_config(tmp_path, zone_server.herald_config() + "\n" +
                            body)
        p = subprocess.run([HERALD_BIN, "dns", "lookup", "-c", conf, "A",
                            "example.test"], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 1, p.stdout
        assert p.stdout == ""
        assert want in p.stderr, p.stderr
        assert "Sanitizer" not in p.stderr


def test_unbound_config_file(tmp_path, zone_server):
    # admins' own libunbound config: a forward-zone and local data
    uc = tmp_path / "unbound.conf"
    uc.write_text("server:\n"
                  "  do-not-query-localhost: no\n"
                  "  local-zone: \"lab.test.\" static\n"
                  "  local-data: \"mx.lab.test. 300 IN A 192.0.2.25\"\n"
                  "forward-zone:\n"
                  "  name: \"example.test.\"\n"
                  f"  forward-addr: {zone_server.forward}\n")
    conf = write_config(tmp_path, f"unbound_config = {uc}\nresolv_conf =")
    rc, [a], _ = lookup(conf, "A", "mx.lab.test")
    assert rc == 0 and a["record"] == ["300 A 192.0.2.25"]
    rc, [a], _ = lookup(conf, "A", "mx.example.test")
    assert rc == 0 and a["record"] == ["3600 A 127.0.0.2"]


def test_site_records_and_factory(tmp_path, dns_server_factory):
    s = dns_server_factory(records=site_records({"example.test": "127.0.0.2",
                                                 "example.org": "127.0.0.3"}))
    conf = write_config(tmp_path, s.herald_config())
    rc, [a], _ = lookup(conf, "MX", "example.org")
    assert rc == 0 and a["record"] == ["3600 MX 10 mx.example.org"]
    rc, [a], _ = lookup(conf, "A", "mx.example.org")
    assert rc == 0 and a["record"] == ["3600 A 127.0.0.3"]
    rc, [a], _ = lookup(conf, "A", "example.test")
    assert rc == 0 and a["record"] == ["3600 A 127.0.0.2"]


def test_help_names_the_lookup():
    p = subprocess.run([HERALD_BIN, "help"], capture_output=True, text=True,
                       timeout=30)
    assert "dns lookup TYPE NAME" in p.stdout
    p = subprocess.run([HERALD_BIN, "dns", "--help"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and "herald dns lookup" in p.stdout
    p = subprocess.run([HERALD_BIN, "dns", "lookup", "CNAME", "x.test"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "unknown record type" in p.stderr


def test_config_check_reads_the_dns_files(tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("this is not a trust anchor\n")
    conf = write_config(tmp_path, f"forward = 127.0.0.1@53\n"
                        f"trust_anchor = {bad}")
    p = subprocess.run([HERALD_BIN, "config", "check", "-c", conf],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "libunbound refuses the settings" in p.stderr
    conf = write_config(tmp_path, "forward = 127.0.0.1@53\n"
                        f"hosts = {tmp_path}/missing-hosts")
    p = subprocess.run([HERALD_BIN, "config", "check", "-c", conf],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "[dns] hosts" in p.stderr
    conf = write_config(tmp_path, "forward = 127.0.0.1@53")
    p = subprocess.run([HERALD_BIN, "config", "check", "-c", conf],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


def test_utf8_domain_is_looked_up_as_its_a_label(conf):
    rc, [a], _ = lookup(conf, "MX", "B\u00fccher.example.test")
    assert rc == 0, a
    assert a["name"] == "xn--bcher-kva.example.test"
    assert a["record"] == ["3600 MX 10 mx.example.test"]
