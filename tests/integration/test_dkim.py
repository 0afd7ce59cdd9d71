"""DKIM (src/mailauth/) against independent implementations: messages
Herald signs (`herald dkim sign`) verify with dkimpy's dkimverify and with
OpenDKIM's opendkim-testmsg; messages dkimpy (dkimsign, rsa and ed25519)
and OpenDKIM sign verify in Herald (`herald dkim verify`), keys served by
a real unbound on loopback (dns_util); the RFC 8463 appendix A message
verifies; changes after signing fail; a body appended after l= is marked;
quoted-printable and empty bodies (CLIENT-QUIRKS "Outbound"). Also the key
store: herald dkim keygen/list, modes, owners and rotation."""
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from dns_util import DnsServer
from harness import HERALD_BIN

PY = "/usr/bin/python3"

RFC8463_ED_KEY = ("v=DKIM1; k=ed25519; "
                  "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
RFC8463_RSA_KEY = (
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
    "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
    "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
    "Ip3G+2kryOTIKT+l/K4w3QIDAQAB")

# RFC 8463 appendix A.3
RFC8463_MESSAGE = (
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n").encode()


def message(frm="alice@example.test", body="Hello Bob,\r\n\r\nsee you.\r\n",
            extra=""):
    return (f"From: Alice <{frm}>\r\n"
            "To: Bob <bob@example.org>\r\n"
            "Subject: DKIM interop\r\n"
            "Date: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
            f"Message-ID: <{time.time_ns()}@example.test>\r\n"
            "MIME-Version: 1.0\r\n"
            f"{extra}"
            "\r\n" + body).encode()


QP_BODY = ("Caf=C3=A9 cr=C3=A8me, a long line broken by a soft line break he=\r\n"
           "re, trailing space=20\r\n"
           "=3D an encoded equals  \t \r\n"
           "\r\n\r\n")
QP_HEADERS = ("Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n")


def txt_rdata(record):
    """A TXT record's rdata for unbound: strings of at most 255 octets."""
    parts = [record[i:i + 255] for i in range(0, len(record), 255)]
    return " ".join(f'"{p}"' for p in parts)


def zone_txt(text):
    """The joined strings of a zone-file TXT stub (opendkim-genkey's
    SELECTOR.txt, herald dkim keygen's output)."""
    return "".join(re.findall(r'"([^"]*)"', text))


class Site:
    """A data_dir with Herald's keys, dkimpy's and OpenDKIM's keys, and an
    unbound that serves all of their records."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="herald-dkim-")
        os.chmod(self.dir, 0o755)
        self.data_dir = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "herald.conf")
        self.write_conf("")
        self.records = {
            "brisbane._domainkey.football.example.com":
                [("TXT", txt_rdata(RFC8463_ED_KEY))],
            "test._domainkey.football.example.com":
                [("TXT", txt_rdata(RFC8463_RSA_KEY))],
        }
        # Herald's own: an RSA and an Ed25519 key for example.test
        out = self.herald("dkim", "keygen", "--selector", "h1",
                          "example.test").stdout
        for sel, text in re.findall(
                r"^(\S+)\._domainkey\.example\.test\. IN TXT (\(.*\))$",
                out, re.M):
            self.records[f"{sel}._domainkey.example.test"] = [
                ("TXT", txt_rdata(zone_txt(text)))]
        assert len(self.records) == 4, out
        # dkimpy's (dknewkey writes NAME.key and NAME.dns)
        self.keys = os.path.join(self.dir, "keys")
        os.mkdir(self.keys)
        for ktype in ("rsa", "ed25519"):
            subprocess.run(["dknewkey", "--ktype", ktype, ktype],
                           cwd=self.keys, check=True, capture_output=True)
            with open(os.path.join(self.keys, ktype + ".dns")) as f:
                rec = f.read().strip()
            self.records[f"py{ktype}._domainkey.dkimpy.test"] = [
                ("TXT", txt_rdata(rec))]
        # OpenDKIM's
        subprocess.run(["opendkim-genkey", "--bits=2048",
                        "--domain=opendkim.test", "--selector=od",
                        f"--directory={self.keys}"], check=True,
                       capture_output=True)
        with open(os.path.join(self.keys, "od.txt")) as f:
            self.records["od._domainkey.opendkim.test"] = [
                ("TXT", txt_rdata(zone_txt(f.read())))]
        # an RSA key of 512 bits (RFC 8301: refused)
        small = os.path.join(self.keys, "small.pem")
        subprocess.run(["openssl", "genrsa", "-out", small, "512"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "rsa", "-in", small, "-pubout",
                              "-outform", "DER"], check=True,
                             capture_output=True).stdout
        import base64
        self.records["small._domainkey.example.test"] = [
            ("TXT", txt_rdata("v=DKIM1; k=rsa; p=" +
                              base64.b64encode(der).decode()))]
        self.dns = DnsServer(records=self.records)
        self.dns.start()
        self.write_conf(self.dns.herald_config())

    def write_conf(self, dns_body):
        with open(self.conf, "w") as f:
            f.write(f"hostname = mail.example.test\n"
                    f"data_dir = {self.data_dir}\n\n[dns]\n{dns_body}\n")

    def herald(self, *args, input=None, check=True):
        p = subprocess.run([HERALD_BIN, *args, "-c", self.conf], input=input,
                           capture_output=True, timeout=120)
        err = p.stderr.decode(errors="replace")
        assert "Sanitizer" not in err and "runtime error" not in err, err
        if check and p.returncode != 0:
            raise AssertionError(f"herald {args} -> {p.returncode}: {err}")
        p.stdout = p.stdout.decode(errors="replace") \
            if args[1] != "sign" else p.stdout
        return p

    def sign(self, msg, *opts):
        return self.herald("dkim", "sign", *opts, input=msg).stdout

    def verify(self, msg, *opts):
        """[{"dkim": result, "d": ..., ...}] per signature, exit status."""
        p = self.herald("dkim", "verify", *opts, input=msg, check=False)
        out = []
        for line in p.stdout.splitlines():
            fields = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))
            out.append({k: v.strip('"') for k, v in fields.items()})
        assert out, p.stdout + p.stderr.decode()
        return out, p.returncode

    def dkimpy_resolver_code(self):
        return ("import dns.resolver\n"
                "r = dns.resolver.Resolver(configure=False)\n"
                f"r.nameservers = ['127.0.0.1']; r.port = {self.dns.port}\n"
                "dns.resolver.default_resolver = r\n")

    def dkimverify(self, msg, index=0):
        """dkimpy's dkimverify command, its DNS pointed at our unbound."""
        code = (self.dkimpy_resolver_code() +
                "import sys; from dkim.dkimverify import main\n"
                f"sys.argv = ['dkimverify', '--index', '{index}']\n"
                "main()\n")
        p = subprocess.run([PY, "-c", code], input=msg, capture_output=True,
                           timeout=60)
        return p.returncode, p.stdout.decode() + p.stderr.decode()

    def dkimsign(self, msg, ktype, *opts):
        p = subprocess.run(["dkimsign", f"py{ktype}", "dkimpy.test",
                            os.path.join(self.keys, ktype + ".key"),
                            "--signalg", f"{ktype}-sha256", *opts],
                           input=msg, capture_output=True, check=True,
                           timeout=60)
        assert p.stdout.startswith(b"DKIM-Signature:"), p.stderr
        return p.stdout

    def cleanup(self):
        self.dns.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def site():
    s = Site()
    yield s
    s.cleanup()


# --- OpenDKIM: libopendkim asks the system resolver (port 53 of
# resolv.conf). It runs in a network namespace of its own, with a copy of
# the test unbound on that namespace's loopback port 53 and a resolv.conf
# bind-mounted for it alone: never the machine's port 53.

def opendkim_can_run():
    if os.geteuid() != 0:
        return "needs root for a private network namespace"
    if shutil.which("unshare") is None or shutil.which("opendkim-testmsg") \
            is None:
        return "unshare or opendkim-testmsg missing"
    p = subprocess.run(["unshare", "--net", "--mount", "true"],
                       capture_output=True)
    if p.returncode != 0:
        return "unshare --net --mount refused: " + p.stderr.decode()
    return None


def opendkim_testmsg(site, msg, *args):
    """Runs opendkim-testmsg ARGS with msg on stdin inside the namespace;
    returns (exit status, stdout, stderr)."""
    nsdir = tempfile.mkdtemp(prefix="herald-dkim-ns-", dir=site.dir)
    conf = open(site.dns.conf).read()
    conf = re.sub(r"interface: 127\.0\.0\.1@\d+", "interface: 127.0.0.1@53",
                  conf)
    conf = re.sub(r"port: \d+", "port: 53", conf)
    conf = conf.replace(f'pidfile: "{site.dns.dir}/unbound.pid"',
                        f'pidfile: "{nsdir}/unbound.pid"')
    conf = conf.replace(f'logfile: "{site.dns.dir}/unbound.log"',
                        f'logfile: "{nsdir}/unbound.log"')
    with open(os.path.join(nsdir, "unbound.conf"), "w") as f:
        f.write(conf)
    with open(os.path.join(nsdir, "resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.1\n")
    with open(os.path.join(nsdir, "msg"), "wb") as f:
        f.write(msg)
    script = f"""
set -e
ip link set lo up
mount --bind {nsdir}/resolv.conf /etc/resolv.conf
unbound -d -c {nsdir}/unbound.conf &
ub=$!
for i in $(seq 100); do
    drill -p 53 @127.0.0.1 od._domainkey.opendkim.test TXT >/dev/null 2>&1 && break
    sleep 0.05
done
set +e
opendkim-testmsg {' '.join(args)} < {nsdir}/msg > {nsdir}/out 2> {nsdir}/err
echo $? > {nsdir}/rc
kill $ub; wait $ub 2>/dev/null || true
"""
    subprocess.run(["unshare", "--net", "--mount", "sh", "-c", script],
                   check=True, timeout=60)
    rc = int(open(os.path.join(nsdir, "rc")).read())
    out = open(os.path.join(nsdir, "out"), "rb").read()
    err = open(os.path.join(nsdir, "err")).read()
    return rc, out, err


needs_opendkim = pytest.mark.skipif(opendkim_can_run() is not None,
                                    reason=str(opendkim_can_run()))


# --- Herald signs, the others verify ------------------------------------

@pytest.mark.parametrize("body,extra", [
    ("Hello Bob,\r\n\r\nsee you.\r\n", ""),
    (QP_BODY, QP_HEADERS),
    ("", ""),
    ("\r\n\r\n", ""),
], ids=["plain", "quoted-printable", "empty", "empty-lines"])
def test_herald_signed_verifies_with_dkimverify(site, body, extra):
    signed = site.sign(message(body=body, extra=extra))
    # both signatures: RSA first (the one every receiver checks)
    assert signed.count(b"DKIM-Signature:") == 2
    assert b"a=rsa-sha256" in signed.split(b"DKIM-Signature:")[1]
    assert b"a=ed25519-sha256" in signed.split(b"DKIM-Signature:")[2]
    for index in (0, 1):
        rc, out = site.dkimverify(signed, index)
        assert rc == 0 and "signature ok" in out, (index, out)
    res, rc = site.verify(signed)
    assert rc == 0
    assert [r["dkim"] for r in res] == ["pass", "pass"]
    assert [r["a"] for r in res] == ["rsa-sha256", "ed25519-sha256"]
    assert res[0]["bits"] == "2048"


@needs_opendkim
@pytest.mark.parametrize("body,extra", [
    ("Hello Bob,\r\n\r\nsee you.\r\n", ""),
    (QP_BODY, QP_HEADERS),
    ("", ""),
], ids=["plain", "quoted-printable", "empty"])
def test_herald_signed_verifies_with_opendkim(site, body, extra):
    # OpenDKIM 2.11 verifies the first signature (RSA) only
    signed = site.sign(message(body=body, extra=extra))
    rc, out, err = opendkim_testmsg(site, signed)
    assert rc == 0 and err == "", err
    # and a change is caught by the same run, so the pass above is real
    bad = signed.replace(b"Subject: DKIM interop", b"Subject: DKIM interop!")
    rc, out, err = opendkim_testmsg(site, bad)
    assert rc != 0, "OpenDKIM accepted a changed message"


def test_herald_simple_canonicalization_verifies_with_dkimverify(site):
    for canon in ("simple/simple", "relaxed/simple", "simple/relaxed"):
        signed = site.sign(message(body=QP_BODY, extra=QP_HEADERS),
                           "--canon", canon)
        assert f"c={canon};".encode() in signed
        for index in (0, 1):
            rc, out = site.dkimverify(signed, index)
            assert rc == 0, (canon, index, out)


# --- the others sign, Herald verifies -----------------------------------

@pytest.mark.parametrize("ktype", ["rsa", "ed25519"])
@pytest.mark.parametrize("canon", ["relaxed", "simple"])
@pytest.mark.parametrize("body,extra", [
    ("Hello Bob,\r\n\r\nsee you.\r\n", ""),
    (QP_BODY, QP_HEADERS),
    ("", ""),
], ids=["plain", "quoted-printable", "empty"])
def test_dkimpy_signed_verifies_in_herald(site, ktype, canon, body, extra):
    signed = site.dkimsign(message(frm="alice@dkimpy.test", body=body,
                                   extra=extra), ktype, "--bcanon", canon,
                           "--hcanon", canon)
    res, rc = site.verify(signed)
    assert rc == 0, res
    assert res[0]["dkim"] == "pass", res
    assert res[0]["d"] == "dkimpy.test" and res[0]["s"] == f"py{ktype}"
    assert res[0]["a"] == f"{ktype}-sha256"
    # the same message changed after signing fails
    bad = signed.replace(b"To: Bob", b"To: Rob")
    res, rc = site.verify(bad)
    assert rc == 1 and res[0]["dkim"] == "fail", res
    assert res[0]["reason"] == "signature mismatch"


class OpenDkimMilter:
    """The opendkim milter signing for opendkim.test (rsa-sha256), on a
    loopback high port, fed messages by miltertest."""

    def __init__(self, site, canon):
        from harness import free_port, wait_port
        self.site = site
        self.dir = tempfile.mkdtemp(prefix="herald-opendkim-", dir=site.dir)
        self.port = free_port()
        conf = os.path.join(self.dir, "opendkim.conf")
        with open(conf, "w") as f:
            f.write(f"""Syslog no
Background no
Mode s
Canonicalization {canon}
SignatureAlgorithm rsa-sha256
Domain opendkim.test
Selector od
KeyFile {site.keys}/od.private
RequireSafeKeys no
Socket inet:{self.port}@127.0.0.1
PidFile {self.dir}/opendkim.pid
""")
        self.proc = subprocess.Popen(["opendkim", "-f", "-x", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        wait_port("127.0.0.1", self.port)

    def sign(self, msg):
        head, _, body = msg.partition(b"\r\n\r\n")
        fields = re.split(rb"\r\n(?![ \t])", head)
        lua = [f'conn = mt.connect("inet:{self.port}@127.0.0.1")',
               'if conn == nil then error "connect" end',
               'mt.conninfo(conn, "localhost", "127.0.0.1")',
               'mt.macro(conn, SMFIC_MAIL, "i", "herald-test")',
               'mt.mailfrom(conn, "alice@opendkim.test")',
               'mt.rcptto(conn, "bob@example.org")']
        for field in fields:
            name, _, value = field.decode().partition(":")
            lua.append(f"mt.header(conn, [==[{name}]==], "
                       f"[==[{value.lstrip(' ')}]==])")
        body_path = os.path.join(self.dir, "body")
        with open(body_path, "wb") as f:
            f.write(body)
        lua += ["mt.eoh(conn)",
                f'local f = io.open("{body_path}", "rb")',
                'local body = f:read("a"); f:close()',
                'if #body > 0 then mt.bodystring(conn, body) end',
                "mt.eom(conn)",
                'if not mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") '
                'then error "no signature" end',
                'io.write(mt.getheader(conn, "DKIM-Signature", 0))',
                "mt.disconnect(conn)"]
        script = os.path.join(self.dir, "sign.lua")
        with open(script, "w") as f:
            f.write("\n".join(lua) + "\n")
        p = subprocess.run(["miltertest", "-s", script], capture_output=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr.decode() + p.stdout.decode()
        value = re.sub(rb"\r?\n", b"\r\n", p.stdout)
        # the value starts with its space, as the MTA would insert it
        return b"DKIM-Signature:" + value + b"\r\n" + msg

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stderr.close()


def miltertest_missing():
    for tool in ("opendkim", "miltertest"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install-test-deps.sh)"
    return None


@pytest.mark.skipif(miltertest_missing() is not None,
                    reason=str(miltertest_missing()))
@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple"])
def test_opendkim_signed_verifies_in_herald(site, canon):
    milter = OpenDkimMilter(site, canon)
    try:
        # an empty body is sent as one empty line: see the next test
        for body, extra in (("Hello Bob,\r\n\r\nsee you.\r\n", ""),
                            (QP_BODY, QP_HEADERS), ("\r\n", "")):
            signed = milter.sign(message(frm="alice@opendkim.test",
                                         body=body, extra=extra))
            assert b"a=rsa-sha256" in signed and f"c={canon}".encode() \
                in signed, signed
            res, rc = site.verify(signed)
            assert rc == 0 and res[0]["dkim"] == "pass", (body, res)
            assert res[0]["d"] == "opendkim.test" and \
                res[0]["bits"] == "2048"
            res, rc = site.verify(signed + b"added\r\n")
            assert res[0]["dkim"] == "fail", res
            assert res[0]["reason"] == "body hash mismatch"
    finally:
        milter.stop()


@pytest.mark.skipif(miltertest_missing() is not None,
                    reason=str(miltertest_missing()))
def test_opendkim_zero_length_body_disagrees_with_dkimpy_too(site):
    # The opendkim milter (2.11), given no body chunk at all, signs a body
    # hash that is neither the empty body's (relaxed) nor CRLF's: dkimpy
    # and Herald both say "body hash mismatch", so the quirk is OpenDKIM's
    milter = OpenDkimMilter(site, "relaxed/relaxed")
    try:
        signed = milter.sign(message(frm="alice@opendkim.test", body=""))
    finally:
        milter.stop()
    res, rc = site.verify(signed)
    assert res[0]["dkim"] == "fail" and \
        res[0]["reason"] == "body hash mismatch", res
    rc, out = site.dkimverify(signed)
    assert rc == 1 and "body hash mismatch" in out, out
    # the empty body as dkimpy signs it passes in Herald
    signed = site.dkimsign(message(frm="alice@dkimpy.test", body=""), "rsa",
                           "--bcanon", "relaxed")
    res, rc = site.verify(signed)
    assert res[0]["dkim"] == "pass", res


@needs_opendkim
def test_opendkim_testmsg_rsa_sha1_refused(site):
    # opendkim-testmsg signs with rsa-sha1, which RFC 8301 retired:
    # Herald refuses it (dkimpy, by default, still accepts it)
    rc, signed, err = opendkim_testmsg(
        site, message(frm="alice@opendkim.test"), "-C", "-d",
        "opendkim.test", "-s", "od", "-k",
        os.path.join(site.keys, "od.private"))
    assert rc == 0 and b"a=rsa-sha1" in signed, err
    res, rc = site.verify(signed)
    assert rc == 1 and res[0]["dkim"] == "permerror"
    assert res[0]["reason"] == "rsa-sha1 is not accepted (RFC 8301)"


def test_rfc8463_example_verifies(site):
    res, rc = site.verify(RFC8463_MESSAGE)
    assert rc == 0
    assert [(r["dkim"], r["a"], r["s"]) for r in res] == [
        ("pass", "ed25519-sha256", "brisbane"),
        ("pass", "rsa-sha256", "test")]
    assert res[1]["bits"] == "1024"
    # and dkimpy agrees on the same data
    for index in (0, 1):
        rc, out = site.dkimverify(RFC8463_MESSAGE, index)
        assert rc == 0, out


def test_sync_and_async_lookups_agree(site):
    # herald dkim verify looks keys up on the event loop (all at once,
    # dkim_verifier_lookup()); --sync one by one (dns_lookup_sync())
    signed = site.sign(message())
    gone = signed.replace(b"s=h1-ed25519;", b"s=gone;")
    for msg in (RFC8463_MESSAGE, signed, gone, message()):
        assert site.verify(msg) == site.verify(msg, "--sync")
    res, rc = site.verify(gone)
    assert [r["dkim"] for r in res] == ["pass", "permerror"]


def test_changed_after_signing_fails(site):
    signed = site.sign(message())
    cases = {
        b"see you.": b"see you!",                   # body
        b"Subject: DKIM interop": b"Subject: DKIM interlop",  # signed header
    }
    for old, new in cases.items():
        res, rc = site.verify(signed.replace(old, new))
        assert rc == 1
        assert [r["dkim"] for r in res] == ["fail", "fail"], res
    res, _ = site.verify(signed.replace(b"see you.", b"see you!"))
    assert {r["reason"] for r in res} == {"body hash mismatch"}
    # an added From or Subject (oversigned) fails too
    res, rc = site.verify(signed.replace(
        b"MIME-Version", b"Subject: a second subject\r\nMIME-Version"))
    assert [r["dkim"] for r in res] == ["fail", "fail"], res
    # a header Herald does not sign may be added
    res, rc = site.verify(signed.replace(
        b"MIME-Version", b"X-Added: by a list\r\nMIME-Version"))
    assert [r["dkim"] for r in res] == ["pass", "pass"], res


def test_body_appended_after_l_is_marked(site):
    signed = site.sign(message(), "--body-length")
    assert b" l=" in signed
    res, rc = site.verify(signed)
    assert [r["dkim"] for r in res] == ["pass", "pass"]
    assert {r["partial"] for r in res} == {"no"}
    appended = signed + b"\r\nBuy now at http://spam.example/\r\n"
    res, rc = site.verify(appended)
    assert [r["dkim"] for r in res] == ["pass", "pass"], res
    for r in res:
        assert r["partial"] == "yes"
        assert int(r["body_len"]) > int(r["l"])
        assert "not covered" in r["reason"]
    # dkimpy's l= signature, appended to: the same verdict in Herald
    py = subprocess.run(
        [PY, "-c", "import sys, dkim\n"
         "m = sys.stdin.buffer.read()\n"
         "k = open(sys.argv[1], 'rb').read()\n"
         "sys.stdout.buffer.write(dkim.sign(m, b'pyrsa', b'dkimpy.test', k,"
         " length=True) + m)\n", os.path.join(site.keys, "rsa.key")],
        input=message(frm="a@dkimpy.test"), capture_output=True, check=True)
    res, rc = site.verify(py.stdout + b"appended\r\n")
    assert res[0]["dkim"] == "pass" and res[0]["partial"] == "yes", res


def test_small_key_and_missing_key(site):
    # a signature whose key is 512 bits: permerror (RFC 8301 3.2)
    py = subprocess.run(
        [PY, "-c", "import sys, dkim\n"
         "m = sys.stdin.buffer.read()\n"
         "k = open(sys.argv[1], 'rb').read()\n"
         "sys.stdout.buffer.write(dkim.sign(m, b'small', b'example.test', k)"
         " + m)\n", os.path.join(site.keys, "small.pem")],
        input=message(), capture_output=True, check=True)
    res, rc = site.verify(py.stdout)
    assert rc == 1 and res[0]["dkim"] == "permerror", res
    assert res[0]["reason"] == "key too small (RFC 8301: 1024 bits at least)"
    # a selector that is not published: permerror, no key
    signed = site.sign(message()).replace(b"s=h1-rsa;", b"s=gone;")
    res, rc = site.verify(signed)
    assert res[0]["dkim"] == "permerror"
    assert res[0]["reason"] == "no key (nxdomain)"
    assert res[0]["s"] == "gone"
    # rsa-sha1 is refused whatever the key (RFC 8301)
    signed = site.sign(message()).replace(b"a=rsa-sha256", b"a=rsa-sha1")
    res, rc = site.verify(signed)
    assert res[0]["dkim"] == "permerror"
    assert res[0]["reason"] == "rsa-sha1 is not accepted (RFC 8301)"
    res, rc = site.verify(message())
    assert res == [{"dkim": "none"}] and rc == 1


def test_verify_max_signatures(site):
    signed = site.sign(message())
    with open(site.conf, "a") as f:
        f.write("\n[mailauth]\ndkim_verify_max_signatures = 1\n")
    try:
        res, rc = site.verify(signed)
    finally:
        site.write_conf(site.dns.herald_config())
    assert [r["dkim"] for r in res] == ["pass", "policy"], res
    assert res[1]["s"] == "h1-ed25519"


# --- the key store ------------------------------------------------------

def test_keygen_files_and_list(site):
    d = os.path.join(site.data_dir, "dkim", "example.test")
    st_dir = os.stat(d)
    assert st_dir.st_mode & 0o777 == 0o700
    names = sorted(os.listdir(d))
    assert names == ["h1-ed25519.key", "h1-rsa.key"]
    herald_user = None
    if os.geteuid() == 0:
        try:
            herald_user = pwd.getpwnam("herald")
        except KeyError:
            pass
    for n in names:
        st = os.stat(os.path.join(d, n))
        assert st.st_mode & 0o777 == 0o600
        if herald_user is not None:
            assert st.st_uid == herald_user.pw_uid
    out = site.herald("dkim", "list", "example.test").stdout
    assert re.search(r"^domain=example\.test selector=h1-rsa "
                     r"algorithm=rsa-sha256 bits=2048 created=\S+ "
                     r"signs_from=\S+ state=active$", out, re.M), out
    assert re.search(r"selector=h1-ed25519 algorithm=ed25519-sha256 "
                     r"bits=256 .* state=active$", out, re.M), out
    assert 'h1-rsa._domainkey.example.test. IN TXT ( "v=DKIM1; k=rsa; p=' \
        in out
    assert site.herald("dkim", "keygen", "--selector", "h1-rsa", "--algorithm",
                       "rsa", "example.test", check=False).returncode == 1
    p = site.herald("dkim", "keygen", "../x", check=False)
    assert p.returncode == 1


def test_rotation(tmp_path):
    d = tempfile.mkdtemp(prefix="herald-dkim-rot-")
    os.chmod(d, 0o755)
    conf = os.path.join(d, "herald.conf")
    with open(conf, "w") as f:
        f.write(f"data_dir = {d}/data\n[mailauth]\ndkim_rotation_delay = 3d\n")

    def run(*args, input=None):
        p = subprocess.run([HERALD_BIN, *args, "-c", conf], input=input,
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout
    try:
        out = run("dkim", "keygen", "--algorithm", "ed25519", "--selector",
                  "old", "rot.test").decode()
        assert "signing from" in out
        out = run("dkim", "keygen", "--algorithm", "ed25519", "--selector",
                  "new", "rot.test").decode()
        assert "signs from" in out
        listing = run("dkim", "list").decode()
        assert re.search(r"selector=new .* state=pending$", listing, re.M)
        assert re.search(r"selector=old .* state=active$", listing, re.M)
        # until the new key's time, the old one signs
        signed = run("dkim", "sign", input=message(frm="a@rot.test"))
        assert b"s=old;" in signed and b"s=new;" not in signed
        # --selector signs with a given key now (tests, a manual switch)
        signed = run("dkim", "sign", "--selector", "new",
                     input=message(frm="a@rot.test"))
        assert b"s=new;" in signed
        # a message from a domain without keys is not signed
        p = subprocess.run([HERALD_BIN, "dkim", "sign", "-c", conf],
                           input=message(frm="a@other.test"),
                           capture_output=True)
        assert p.returncode == 1
        assert b"no active DKIM key for other.test" in p.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_help_lists_dkim():
    p = subprocess.run([HERALD_BIN, "help"], capture_output=True, text=True)
    assert "dkim" in p.stdout
    p = subprocess.run([HERALD_BIN, "dkim", "--help"], capture_output=True,
                       text=True)
    assert p.returncode == 0
    for word in ("keygen", "list", "sign", "verify"):
        assert f"herald dkim {word}" in p.stdout


# --- signing in the submission path --------------------------------------

def tls_ctx():
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_submission_signs(herald_factory):
    """Alice submits (587, STARTTLS, AUTH): the copy stored for bob and the
    one queued for another domain carry Herald's RSA and Ed25519
    signatures, which dkimpy and Herald verify; a From domain without keys
    goes unsigned with a log line."""
    import smtplib
    from smtp_util import queue_entries
    h = herald_factory(listeners=("smtp", "submission"))
    h.add_domain()
    h.add_domain("nokeys.test")
    h.add_user("alice@example.test", "alicepw")
    h.add_user("bob@example.test")
    h.add_user("carol@nokeys.test", "carolpw")
    out = h.cli("dkim", "keygen", "--selector", "sub", "example.test").stdout
    records = {}
    for sel, text in re.findall(
            r"^(\S+)\._domainkey\.example\.test\. IN TXT (\(.*\))$", out,
            re.M):
        records[f"{sel}._domainkey.example.test"] = [
            ("TXT", txt_rdata(zone_txt(text)))]
    assert len(records) == 2
    h.start()
    msg = message(body=QP_BODY, extra=QP_HEADERS)
    s = smtplib.SMTP("127.0.0.1", h.ports["submission"], timeout=10)
    s.starttls(context=tls_ctx())
    s.login("alice@example.test", "alicepw")
    s.sendmail("alice@example.test", ["bob@example.test",
                                      "someone@example.org"], msg)
    s.quit()
    stored = h.messages("bob@example.test")[0]
    (entry,) = queue_entries(h)
    queued = h.read_blob(entry["blob_id"])
    h.wait_log("dkim signed")
    assert re.search(r" dkim signed d=example\.test s=sub-rsa,sub-ed25519",
                     h.log())
    # a verifier with the records in its DNS
    dns = DnsServer(records=records)
    dns.start()
    d = tempfile.mkdtemp(prefix="herald-dkim-v-")
    try:
        conf = os.path.join(d, "v.conf")
        with open(conf, "w") as f:
            f.write(f"data_dir = {d}/data\n[dns]\n{dns.herald_config()}\n")
        for copy in (stored, queued):
            assert copy.count(b"DKIM-Signature:") == 2
            # after our Received field, before the message as sent
            assert copy.index(b"Received:") < copy.index(b"DKIM-Signature")
            assert copy.endswith(msg)
            p = subprocess.run([HERALD_BIN, "dkim", "verify", "-c", conf],
                               input=copy, capture_output=True, text=False)
            lines = p.stdout.decode().splitlines()
            assert p.returncode == 0, p.stdout + p.stderr
            assert [ln.split()[0] for ln in lines] == ["dkim=pass"] * 2
            for index in (0, 1):
                code = ("import dns.resolver\n"
                        "r = dns.resolver.Resolver(configure=False)\n"
                        f"r.nameservers = ['127.0.0.1']; r.port = {dns.port}\n"
                        "dns.resolver.default_resolver = r\n"
                        "import sys; from dkim.dkimverify import main\n"
                        f"sys.argv = ['dkimverify', '--index', '{index}']\n"
                        "main()\n")
                v = subprocess.run([PY, "-c", code], input=copy,
                                   capture_output=True)
                assert v.returncode == 0, v.stdout + v.stderr
    finally:
        dns.cleanup()
        shutil.rmtree(d, ignore_errors=True)
    # a domain without keys: stored unsigned, said in the log
    s = smtplib.SMTP("127.0.0.1", h.ports["submission"], timeout=10)
    s.starttls(context=tls_ctx())
    s.login("carol@nokeys.test", "carolpw")
    s.sendmail("carol@nokeys.test", ["bob@example.test"],
               message(frm="carol@nokeys.test"))
    s.quit()
    assert b"DKIM-Signature" not in h.messages("bob@example.test")[1]
    h.wait_log("dkim unsigned")
    assert re.search(r' dkim unsigned d=nokeys\.test reason="no active key"',
                     h.log())
    # mail from outside (port 25, no AUTH) is not signed
    s = smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10)
    s.sendmail("x@elsewhere.test", ["bob@example.test"],
               message(frm="x@example.test"))
    s.quit()
    assert b"DKIM-Signature" not in h.messages("bob@example.test")[2]
    # herald sendmail run by root stores itself: signed the same way
    p = subprocess.run([HERALD_BIN, "sendmail", "-i", "-f",
                        "alice@example.test", "bob@example.test", "-C",
                        h.conf], input=message(), capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    stored = h.messages("bob@example.test")[3]
    assert stored.count(b"DKIM-Signature:") == 2
    assert b"s=sub-rsa;" in stored and b"s=sub-ed25519;" in stored
