"""The DNS module (src/dns/) against a real unbound on loopback
(dns_util.py), through `herald dns lookup`: every record type, the
negative answers, CNAME chains, TXT strings, the cache, failures
(SERVFAIL, timeout), answers that need TCP, and DNSSEC states."""
import os
import subprocess
import time

import pytest

from dns_util import SilentUdp, dns_server  # noqa: F401
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
    "alias.example.test": [("CNAME", "alias2.example.test.")],
    "alias2.example.test": [("CNAME", "mx.example.test.")],
    "short.example.test": [("A", "127.0.0.9", 2)],
    "4.3.2.1.in-addr.arpa": [("PTR", "mx.example.test.")],
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
