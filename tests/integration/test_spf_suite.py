"""The RFC 7208 test suite (openspf.org, release 2014.04), as Debian's
python3-spf ships it (/usr/share/doc/python3-spf/rfc7208-tests.yml.gz,
read in place), run through `herald spf check --batch` against each
scenario's zone data served by a real unbound on loopback (dns_util.py).

The zones follow the suite's own driver (testspf.py in the same package):
a name's "SPF" records are served as type SPF (99), and also as TXT when
the name has no TXT entry (the suite's "auto-magic duplication"); "TXT:
NONE" means no TXT record; a name with "TIMEOUT" answers the types it
lists and lets every other query time out (a forward to a SilentUdp port);
a name that is not listed does not exist. Every case must give one of the
results it allows, and the explanation when it names one ("DEFAULT":
Herald's own text, no exp=)."""
import gzip
import os
import subprocess

import pytest

from dns_util import SilentUdp, dns_server, txt_rdata, zone_escape
from harness import HERALD_BIN

yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed "
                           "(scripts/install-test-deps.sh)")

SUITES = {
    "rfc7208": "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz",
    "rfc4408": "/usr/share/doc/python3-spf/rfc4408-tests.yml.gz",
}


def load(path):
    if not os.path.exists(path):
        return []
    with gzip.open(path, "rb") as f:
        return list(yaml.safe_load_all(f))


def name_text(name):
    """A domain name in zone-file syntax (escapes for spaces etc.)."""
    return ".".join(zone_escape(label.encode()) for label in
                    name.rstrip(".").split("."))


def zone_records(zonedata):
    """{name: [(TYPE, RDATA)]} and the TIMEOUT names, as testspf.py
    reads zonedata."""
    records, timeouts = {}, set()
    for name, rrs in zonedata.items():
        out, spf, has_txt = [], [], False
        for rr in rrs:
            if rr == "TIMEOUT":
                timeouts.add(name.lower())
                continue
            (rtype, value), = rr.items()
            if rtype in ("TXT", "SPF"):
                strings = [value] if isinstance(value, str) else value
                if rtype == "TXT":
                    has_txt = True
                    if strings == ["NONE"]:
                        continue
                # a TXT record holds at least one string; the suite's
                # "null text" (no strings) becomes one empty string
                rdata = txt_rdata(strings or [""])
                if rtype == "SPF":
                    spf.append(rdata)
                out.append((rtype, rdata))
            elif rtype == "MX":
                pref, host = value
                out.append(("MX", f"{pref} {name_text(host) + '.' if host else '.'}"))
            elif rtype in ("PTR", "CNAME"):
                out.append((rtype, name_text(value) + "."))
            else:
                out.append((rtype, str(value)))
        if not has_txt:
            out += [("TXT", r) for r in spf]
        records[name_text(name).lower()] = out
    return records, timeouts


def cases():
    for suite, path in SUITES.items():
        for doc in load(path):
            for name in doc["tests"]:
                yield pytest.param(suite, doc["description"], name,
                                   id=f"{suite}:{name}")


_results = {}


def run_scenario(suite, description, tmp_path_factory):
    """Runs every case of a scenario in one herald process; caches the
    verdicts by case name."""
    key = (suite, description)
    if key in _results:
        return _results[key]
    doc = next(d for d in load(SUITES[suite])
               if d["description"] == description)
    records, timeouts = zone_records(doc["zonedata"])
    silent = SilentUdp()
    tmp = tmp_path_factory.mktemp("spf")
    names = list(doc["tests"])
    try:
        with dns_server(records=records,
                        zones=[n for n in records if n not in timeouts],
                        timeout_zones={n: silent.forward for n in timeouts}) \
                as dns:
            # the suite uses 2001:db8::/32 (RFC 3849) and 192.168/16,
            # whose reverse zones libunbound answers NXDOMAIN for by
            # itself (RFC 6303 zones)
            ub = tmp / "herald-unbound.conf"
            ub.write_text('server:\n'
                          '  local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." '
                          'nodefault\n'
                          '  local-zone: "168.192.in-addr.arpa." '
                          'nodefault\n')
            conf = tmp / "herald.conf"
            conf.write_text(f"data_dir = {tmp}/data\n\n[dns]\n"
                            f"unbound_config = {ub}\n"
                            f"{dns.herald_config(timeout='1s')}\n")
            lines = "".join(f"{t['host']}\t{t['mailfrom']}\t{t['helo']}\n"
                            for t in (doc["tests"][n] for n in names))
            p = subprocess.run([HERALD_BIN, "spf", "check", "-c", str(conf),
                                "--batch"], input=lines.encode(),
                               capture_output=True, timeout=600)
    finally:
        silent.close()
    err = p.stderr.decode(errors="replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err
    assert p.returncode == 0, err
    blocks = p.stdout.decode(errors="replace").split("\n\n")
    got = {}
    for n, block in zip(names, blocks):
        got[n] = dict(line.split(": ", 1) for line in block.splitlines()
                      if ": " in line)
    _results[key] = got
    return got


@pytest.mark.parametrize("suite,description,name", list(cases()))
def test_case(suite, description, name, tmp_path_factory):
    doc = next(d for d in load(SUITES[suite])
               if d["description"] == description)
    t = doc["tests"][name]
    v = run_scenario(suite, description, tmp_path_factory)[name]
    want = t["result"] if isinstance(t["result"], list) else [t["result"]]
    # RFC 4408's names for two results
    want = [{"unknown": "permerror", "error": "temperror"}.get(w, w)
            for w in want]
    assert v.get("result") in want, (t, v)
    if "explanation" in t and v["result"] == "fail":
        if t["explanation"] == "DEFAULT":
            assert v["explanation-source"] == "default", v
        else:
            assert v["explanation-source"] == "record", v
            assert v["explanation"] == t["explanation"], v


def test_suite_is_installed():
    """The suite itself must be there: without it the cases above would
    silently be none."""
    assert os.path.exists(SUITES["rfc7208"]), \
        "python3-spf is not installed (scripts/install-test-deps.sh)"
    assert len(list(cases())) > 200
