"""`herald spf check` (docs/mailauth.md "SPF") against zones served by a
real unbound on loopback: the verdict fields, the event-loop and the
blocking runners giving the same answers, the HELO identity, the whole
check's time limit ([mailauth] spf_timeout), [mailauth] limits, and
usage errors. The RFC 7208 suite itself is test_spf_suite.py."""
import subprocess
import time

import pytest

from dns_util import SilentUdp, dns_server
from harness import HERALD_BIN

RECORDS = {
    "example.test": [("TXT", '"v=spf1 ip4:192.0.2.0/24 mx " "-all"'),
                     ("MX", "10 mx.example.test.")],
    "mx.example.test": [("A", "198.51.100.5"), ("AAAA", "2001:db8::5")],
    "exp.test": [("TXT", '"v=spf1 -all exp=why.exp.test"')],
    "why.exp.test": [("TXT", '"%{i} may not send for %{d} (%{h})"')],
    "helo.test": [("TXT", '"v=spf1 a -all"'), ("A", "192.0.2.9")],
    "slow.test": [("TXT", '"v=spf1 a:x.dead.test -all"')],
    "voids.test": [("TXT", '"v=spf1 a:n1.test a:n2.test a:n3.test ~all"')],
}


def write_config(tmp_path, dns, mailauth=""):
    conf = tmp_path / "herald.conf"
    conf.write_text(f"data_dir = {tmp_path}/data\n\n[dns]\n{dns}\n\n"
                    f"[mailauth]\n{mailauth}\n")
    return str(conf)


def check(conf, *args, timeout=60):
    p = subprocess.run([HERALD_BIN, "spf", "check", "-c", conf, *args],
                       capture_output=True, text=True, timeout=timeout)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, \
        p.stderr
    v = dict(line.split(": ", 1) for line in p.stdout.splitlines()
             if ": " in line)
    return p.returncode, v, p.stderr


@pytest.fixture(scope="module")
def zone():
    silent = SilentUdp()
    try:
        with dns_server(records=RECORDS,
                        forward_zones={"dead.test": silent.forward}) as s:
            yield s
    finally:
        silent.close()


@pytest.fixture
def conf(tmp_path, zone):
    return write_config(tmp_path, zone.herald_config())


@pytest.mark.parametrize("sync", [False, True])
@pytest.mark.parametrize("ip,result,mechanism", [
    ("192.0.2.77", "pass", "ip4:192.0.2.0/24"),
    ("198.51.100.5", "pass", "mx"),
    ("2001:db8::5", "pass", "mx"),
    ("::ffff:192.0.2.1", "pass", "ip4:192.0.2.0/24"),
    ("203.0.113.1", "fail", "-all"),
])
def test_mailfrom(conf, sync, ip, result, mechanism):
    rc, v, err = check(conf, *(["--sync"] if sync else []), "--helo",
                       "client.test", ip, "alice@Example.test")
    assert rc == 0, err
    assert v["result"] == result and v["mechanism"] == mechanism, v
    assert v["identity"] == "mailfrom" and v["domain"] == "Example.test"
    if result == "fail":
        assert v["explanation-source"] == "default"
        assert v["explanation"] == ("Example.test does not designate "
                                    f"{ip} as permitted sender")


def test_explanation_from_record(conf):
    rc, v, _ = check(conf, "--helo", "client.test", "192.0.2.1",
                     "bob@exp.test")
    assert v["result"] == "fail"
    assert v["explanation-source"] == "record"
    assert v["explanation"] == "192.0.2.1 may not send for exp.test " \
        "(client.test)"


def test_header_fields(conf):
    rc, v, _ = check(conf, "--helo", "client.test", "--receiver",
                     "mx.herald.test", "192.0.2.77", "alice@example.test")
    assert v["received-spf"] == (
        "pass (mx.herald.test: domain of alice@example.test designates "
        "192.0.2.77 as permitted sender) client-ip=192.0.2.77; "
        'envelope-from="alice@example.test"; helo=client.test; '
        'receiver=mx.herald.test; identity=mailfrom; '
        'mechanism="ip4:192.0.2.0/24"')
    assert v["authentication-results"] == "spf=pass smtp.mailfrom=example.test"
    rc, v, _ = check(conf, "--helo", "bad\"helo", "--receiver",
                     "mx.herald.test", "192.0.2.77", "")
    assert v["result"] == "none"
    assert 'helo="bad\\"helo"' in v["received-spf"]
    assert v["authentication-results"] == 'spf=none smtp.helo="bad\\"helo"'


def test_helo_identity(conf):
    rc, v, _ = check(conf, "--identity-helo", "--helo", "helo.test",
                     "192.0.2.9", "alice@example.test")
    assert (v["result"], v["identity"], v["domain"]) == \
        ("pass", "helo", "helo.test")
    # MAIL FROM:<> checks postmaster@HELO
    rc, v, _ = check(conf, "--helo", "helo.test", "192.0.2.8", "")
    assert (v["result"], v["identity"], v["domain"]) == \
        ("fail", "helo", "helo.test")
    rc, v, _ = check(conf, "--helo", "[192.0.2.8]", "192.0.2.8", "")
    assert v["result"] == "none"


def test_none_and_void_limit(conf, tmp_path, zone):
    rc, v, _ = check(conf, "192.0.2.1", "x@nothing.test")
    assert v["result"] == "none" and "no SPF record" in v["problem"]
    rc, v, _ = check(conf, "192.0.2.1", "x@voids.test")
    assert v["result"] == "permerror" and "void" in v["problem"], v
    raised = write_config(tmp_path, zone.herald_config(),
                          "spf_void_lookups = 3")
    rc, v, _ = check(raised, "192.0.2.1", "x@voids.test")
    assert (v["result"], v["void-lookups"]) == ("softfail", "3"), v


def test_time_limit(tmp_path, zone):
    conf = write_config(tmp_path, zone.herald_config(timeout="30s"),
                        "spf_timeout = 1s")
    t0 = time.monotonic()
    rc, v, _ = check(conf, "192.0.2.1", "x@slow.test")
    took = time.monotonic() - t0
    assert v["result"] == "temperror"
    assert "time limit" in v["problem"]
    assert 0.9 < took < 8, took


def test_dns_timeout_is_temperror(tmp_path, zone):
    conf = write_config(tmp_path, zone.herald_config(timeout="700ms"))
    rc, v, _ = check(conf, "192.0.2.1", "x@slow.test")
    assert v["result"] == "temperror"
    assert "DNS timeout for A x.dead.test" in v["problem"], v


def test_batch(conf):
    p = subprocess.run([HERALD_BIN, "spf", "check", "-c", conf, "--batch"],
                       input="192.0.2.1\ta@example.test\th.test\n"
                             "203.0.113.9\ta@example.test\th.test\n",
                       capture_output=True, text=True, timeout=60)
    blocks = [b for b in p.stdout.split("\n\n") if b.strip()]
    assert [b.splitlines()[0] for b in blocks] == \
        ["result: pass", "result: fail"]


@pytest.mark.parametrize("args", [[], ["check"], ["check", "1.2.3.4"],
                                  ["check", "not-an-ip", "a@b.test"],
                                  ["lookup", "1.2.3.4", "a@b.test"]])
def test_usage(conf, args):
    p = subprocess.run([HERALD_BIN, "spf", "-c", conf, *args],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, p.stderr
    assert "usage" in p.stderr or "not an IP" in p.stderr


def test_help_lists_spf():
    p = subprocess.run([HERALD_BIN, "help"], capture_output=True,
                       text=True, timeout=30)
    assert "spf" in p.stdout + p.stderr
    p = subprocess.run([HERALD_BIN, "spf", "--help"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and "herald spf check" in p.stdout
