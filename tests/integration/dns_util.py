"""A real DNS server for tests: Debian's `unbound` on a free loopback port.

    from dns_util import DnsServer, dns_server

    with dns_server(records={
            "example.test": [("MX", "10 mx.example.test."),
                             ("A", "127.0.0.2")],
            "mx.example.test": [("A", "127.0.0.2")],
            "example.org": [("MX", "10 example.org."), ("A", "127.0.0.3")],
    }) as dns:
        h = herald_factory(sections={"dns": dns.herald_config()})

(site_records({"example.test": "127.0.0.2", "example.org": "127.0.0.3"})
makes those records), or as a pytest fixture: `def test_x(dns_server_factory): dns = dns_server_factory(records=...)`
(conftest.py provides it; it stops the server after the test).

The server never touches port 53 or any address other than 127.0.0.1: it
runs in the foreground (do-daemonize: no) from a config in its own
temporary directory, answers from local data (local-zone/local-data, one
`static` zone per domain with a SOA, so names not listed are NXDOMAIN at
once) and from zone files (auth-zone, e.g. a DNSSEC-signed zone), and
resolves nothing else (everything outside the test zones is NXDOMAIN: the
root is a static local zone). Herald points at it with `[dns] forward =
127.0.0.1@PORT`, which herald_config() returns.

records: {name: [(TYPE, RDATA) or (TYPE, RDATA, TTL), ...]}; RDATA in
zone-file syntax ("10 mx.example.test.", '"v=spf1" "-all"'). The zone of
a name is its last two labels unless zones= names them; a reverse name
("2.0.0.127.in-addr.arpa") goes in the zone given in zones= or its
/24 reverse zone.
auth_zones: {zone: zone file text} served authoritatively (signed zones).
forward_zones: {zone: "127.0.0.1@PORT"}: queries for the zone go there
(a dead port: the server keeps retrying; Herald times out).
refused_zones: [zone, ...]: the server answers REFUSED, which a
resolver forwarding to it reports as SERVFAIL at once.
timeout_zones: {zone: "127.0.0.1@PORT"}: the zone's own records (in
records=) are answered, any other type or name in it goes to the port
(a SilentUdp: the lookup times out): local-zone typetransparent plus a
forward-zone, for the RFC 7208 suite's TIMEOUT entries.
RDATA of a name with spaces or other octets zone files escape: write the
name and the TXT strings with zone-file escapes ("a\\032b", "\\000");
txt_rdata() makes TXT/SPF RDATA from Python strings.
"""
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

from harness import free_port

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"


def _zone_of(name, zones):
    name = name.rstrip(".").lower()
    best = None
    for z in zones:
        z = z.rstrip(".").lower()
        if (name == z or name.endswith("." + z)) and \
                (best is None or len(z) > len(best)):
            best = z
    if best is not None:
        return best
    labels = name.split(".")
    if name.endswith(".in-addr.arpa") and len(labels) > 3:
        return ".".join(labels[1:])
    return ".".join(labels[-2:])


class DnsServer:
    def __init__(self, records=None, zones=(), auth_zones=None,
                 forward_zones=None, refused_zones=(), timeout_zones=None, ttl=3600, negative_ttl=60, extra=""):
        self.dir = tempfile.mkdtemp(prefix="herald-dns-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "unbound.log")
        records = records or {}
        auth_zones = auth_zones or {}
        forward_zones = forward_zones or {}
        timeout_zones = {z.rstrip(".").lower(): a
                         for z, a in (timeout_zones or {}).items()}
        lines = [
            "server:",
            "  do-daemonize: no",
            f"  interface: 127.0.0.1@{self.port}",
            f"  port: {self.port}",
            "  do-ip6: no",
            "  do-tcp: yes",
            "  username: \"\"",
            "  chroot: \"\"",
            f"  directory: \"{self.dir}\"",
            f"  pidfile: \"{self.dir}/unbound.pid\"",
            "  use-syslog: no",
            f"  logfile: \"{self.log_path}\"",
            "  verbosity: 1",
            "  num-threads: 1",
            "  so-reuseport: no",
            "  access-control: 127.0.0.0/8 allow",
            "  module-config: \"iterator\"",
            "  do-not-query-localhost: no",
            # answers are for tests: no cache between a change and a query
            "  msg-cache-size: 1m",
            "  rrset-cache-size: 1m",
            "  qname-minimisation: no",
            "  minimal-responses: yes",
            # nothing outside the test zones is resolved
            "  local-zone: \".\" static",
            "  local-data: \". 3600 IN SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 60\"",
            "  local-zone: \"test.\" nodefault",
            "  local-zone: \"invalid.\" nodefault",
            "  local-zone: \"in-addr.arpa.\" nodefault",
            "  local-zone: \"127.in-addr.arpa.\" nodefault",
        ]
        by_zone = {}
        for name, rrs in records.items():
            by_zone.setdefault(_zone_of(name, zones), []).append((name, rrs))
        for z in list(zones) + list(timeout_zones):
            by_zone.setdefault(z.rstrip(".").lower(), [])
        for zone, names in sorted(by_zone.items()):
            if zone in timeout_zones:
                lines.append(f"  local-zone: \"{zone}.\" typetransparent")
            else:
                lines.append(f"  local-zone: \"{zone}.\" static")
                # "ns.ZONE" would not fit for a zone name near 253 octets
                host = zone if len(zone) < 200 else "invalid"
                lines.append(f"  local-data: \"{zone}. {ttl} IN SOA "
                             f"ns.{host}. hostmaster.{host}. 1 3600 600 "
                             f"86400 {negative_ttl}\"")
            for name, rrs in names:
                for rr in rrs:
                    rtype, rdata = rr[0], rr[1]
                    rttl = rr[2] if len(rr) > 2 else ttl
                    fq = name.rstrip(".") + "."
                    text = f"{fq} {rttl} IN {rtype} {rdata}"
                    if '"' in text:
                        lines.append(f"  local-data: '{text}'")
                    else:
                        lines.append(f"  local-data: \"{text}\"")
        for zone in refused_zones:
            lines.append(f"  local-zone: \"{zone.rstrip('.')}.\" refuse")
        for zone in list(auth_zones) + list(forward_zones):
            lines.append(f"  local-zone: \"{zone.rstrip('.')}.\" transparent")
        lines.append(extra)
        for zone, text in auth_zones.items():
            path = os.path.join(self.dir, zone.rstrip(".") + ".zone")
            with open(path, "w") as f:
                f.write(text)
            lines += ["auth-zone:", f"  name: \"{zone.rstrip('.')}.\"",
                      f"  zonefile: \"{path}\"", "  for-downstream: yes",
                      "  for-upstream: no", "  fallback-enabled: no"]
        for zone, addr in list(forward_zones.items()) + \
                list(timeout_zones.items()):
            lines += ["forward-zone:", f"  name: \"{zone.rstrip('.')}.\"",
                      f"  forward-addr: {addr}"]
        self.conf = os.path.join(self.dir, "unbound.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def forward(self):
        return f"127.0.0.1@{self.port}"

    def herald_config(self, **settings):
        """The body of a Herald [dns] section using this server:
        herald_config(timeout="2s", cache_size=0)."""
        body = [f"forward = {self.forward}", "resolv_conf ="]
        body += [f"{k} = {v}" for k, v in settings.items()]
        return "\n".join(body)

    def start(self, timeout=10.0):
        check = subprocess.run(["unbound-checkconf", self.conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise AssertionError(f"unbound config: {check.stdout}"
                                 f"{check.stderr}")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited: " +
                                     self.proc.stderr.read().decode() +
                                     self.log())
            if self.query_ok():
                return self
            time.sleep(0.05)
        self.stop()
        raise AssertionError("unbound did not answer: " + self.log())

    def query_ok(self):
        """True once the server answers a query (any answer) over UDP."""
        # a minimal query for ". SOA", id 0x4242
        q = bytes.fromhex("424201000001000000000000") + b"\x00\x00\x06\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(q, ("127.0.0.1", self.port))
                data = s.recv(512)
            except OSError:
                return False
            return data[:2] == b"\x42\x42"

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def zone_escape(data):
    """bytes as zone-file text: printable ASCII as is except the quotes,
    the backslash and the semicolon; those, spaces and the rest as
    \\DDD."""
    out = []
    for b in data:
        if 0x21 <= b <= 0x7e and chr(b) not in '"\\\';':
            out.append(chr(b))
        else:
            out.append("\\%03d" % b)
    return "".join(out)


def txt_rdata(strings):
    """TXT (or SPF) RDATA from a list of str or bytes character-strings:
    '"v=spf1 " "-all"', every octet that needs it escaped."""
    parts = []
    for s in strings:
        data = s.encode("utf-8") if isinstance(s, str) else s
        parts.append('"' + zone_escape(data) + '"')
    return " ".join(parts)


def site_records(sites, ttl=None):
    """Records for mail domains served by one address each:
    site_records({"example.test": "127.0.0.2", "example.org": "127.0.0.3"})
    gives each domain an MX 10 mx.DOMAIN, mx.DOMAIN an A (AAAA for an
    IPv6 address), and the domain itself the same address (the implicit
    MX). Merge with other records: {**site_records(...), "x.test": [...]}.
    """
    recs = {}
    for domain, addr in sites.items():
        rtype = "AAAA" if ":" in addr else "A"
        extra = () if ttl is None else (ttl,)
        recs[domain] = [("MX", f"10 mx.{domain}.", *extra),
                        (rtype, addr, *extra)]
        recs[f"mx.{domain}"] = [(rtype, addr, *extra)]
    return recs


@contextlib.contextmanager
def dns_server(**kw):
    """A started DnsServer (arguments as DnsServer's), stopped and removed
    on exit."""
    s = DnsServer(**kw)
    try:
        s.start()
        yield s
    finally:
        s.cleanup()


class SilentUdp:
    """A UDP (and TCP) port on 127.0.0.1 that takes queries and never
    answers: a resolver forwarding there times out."""

    def __init__(self):
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)

    @property
    def forward(self):
        return f"127.0.0.1@{self.port}"

    def close(self):
        self.udp.close()
        self.tcp.close()
