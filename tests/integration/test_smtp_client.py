"""The outbound SMTP/LMTP client (src/smtp/smtp-client*.c), driven by
`herald debug smtp-send`, against real servers: Postfix's smtp-sink (with
its switches for no PIPELINING, no 8BITMIME, LMTP, refusals and
disconnects), Herald's own SMTP, submission and LMTP servers (STARTTLS
with a certificate from a test CA made here with openssl, AUTH, CHUNKING,
SIZE), openssl s_server (what the ClientHello carries), and a scripted
raw server for the bytes on the wire and the edge cases (early close
after RCPT, replies split across reads, "250" alone, silence)."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from harness import HERALD_BIN, free_port, wait_port
from smtp_util import body_of, inbox

MSG = (b"Subject: client test\r\nFrom: a@example.test\r\n\r\n"
       b"hello\r\n.dot line\r\nbare lf\nbare cr\rend")


# what a submission server accepts from alice: her own From
ALICE_MSG = b"Subject: sub\r\nFrom: alice@example.test\r\n\r\nhi\r\n"


def smtp_send(*args, message=MSG, env=None, timeout=60):
    """Runs herald debug smtp-send; returns (exit code, output lines,
    {rcpt: (code, enhanced or '', text, stage, local)})."""
    d = tempfile.mkdtemp(prefix="herald-it-smtpc-")
    path = os.path.join(d, "msg")
    with open(path, "wb") as f:
        f.write(message)
    e = dict(os.environ)
    e.update(env or {})
    try:
        p = subprocess.run([HERALD_BIN, "debug", "smtp-send", *args, path],
                           capture_output=True, text=True, timeout=timeout,
                           env=e)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert "Sanitizer" not in p.stderr, p.stderr
    assert "runtime error" not in p.stderr, p.stderr
    rcpts = {}
    for line in p.stdout.splitlines():
        m = re.match(r'rcpt <([^>]*)>: (\d{3})(?: ([245]\.\d+\.\d+))?(?: (.*?))?'
                     r' stage="([^"]*)" local=(yes|no)$', line)
        if m:
            rcpts[m.group(1)] = (int(m.group(2)), m.group(3) or "",
                                 m.group(4) or "", m.group(5),
                                 m.group(6) == "yes")
    return p.returncode, p.stdout.splitlines(), rcpts


def line_with(lines, prefix):
    found = [l for l in lines if l.startswith(prefix)]
    assert found, f"no line starting with {prefix!r} in {lines}"
    return found[-1]


# ---- smtp-sink ------------------------------------------------------------

class Sink:
    """Postfix's smtp-sink on a free port, dumping each message to a file."""

    def __init__(self, *opts):
        self.dir = tempfile.mkdtemp(prefix="herald-it-sink-")
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", "nobody", *opts, "-d",
             os.path.join(self.dir, "%M."), f"127.0.0.1:{self.port}", "10"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert wait_port("127.0.0.1", self.port), "smtp-sink did not start"

    def dumps(self):
        out = []
        for n in sorted(os.listdir(self.dir)):
            with open(os.path.join(self.dir, n), "rb") as f:
                out.append(f.read())
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def sink():
    made = []

    def make(*opts):
        if shutil.which("smtp-sink") is None:
            pytest.skip("smtp-sink (Debian package postfix) not installed")
        s = Sink(*opts)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def sink_send(s, *args, **kw):
    return smtp_send("--port", str(s.port), "--tls", "none",
                     "--from", "a@example.test", "--rcpt", "b@example.org",
                     "--rcpt", "c@example.org", *args, **kw)


def test_sink_pipelined_and_reused(sink):
    s = sink()
    rc, out, rcpts = sink_send(s, "--count", "3")
    assert rc == 0, out
    assert "PIPELINING" in line_with(out, "ext:")
    assert [l for l in out if l.startswith("send ")] == [
        f'send {i}: error=ok reusable=yes message=""' for i in (1, 2, 3)]
    assert rcpts["b@example.org"][:2] == (250, "2.0.0")
    assert rcpts["b@example.org"][3] == "end of DATA"
    dumps = s.dumps()
    assert len(dumps) == 3
    for d in dumps:
        assert b"X-Rcpt-Args: <b@example.org>" in d
        assert b"X-Rcpt-Args: <c@example.org>" in d
        # smtp-sink undoes dot-stuffing and strips CR: the lines that had
        # a bare LF and a bare CR arrive as lines of their own
        assert b"\n.dot line\nbare lf\nbare cr\nend\n" in d


def test_sink_lockstep_without_pipelining(sink):
    s = sink("-p")
    rc, out, rcpts = sink_send(s, "--count", "2")
    assert rc == 0, out
    assert "PIPELINING" not in line_with(out, "ext:")
    assert len(s.dumps()) == 2
    assert all(r[0] == 250 for r in rcpts.values())


def test_sink_close_after_rcpt_fails_each_recipient_temporarily(sink):
    # iCloud when blocklisted: the remote closes after RCPT (mox #198)
    s = sink("-q", "RCPT")
    rc, out, rcpts = sink_send(s)
    assert rc == 1
    assert "send 1: error=lost reusable=no" in line_with(out, "send 1")
    for r in ("b@example.org", "c@example.org"):
        code, enh, text, stage, local = rcpts[r]
        assert (code, enh, stage, local) == (451, "4.4.2", "RCPT TO", True)
        assert "lost connection with 127.0.0.1[127.0.0.1]" in text
        assert "while sending RCPT TO" in text
    assert s.dumps() == []


def test_sink_close_after_dot(sink):
    s = sink("-q", ".")
    rc, out, rcpts = sink_send(s)
    assert rc == 1
    for r in rcpts.values():
        assert r[0:2] == (451, "4.4.2") and r[3] == "end of DATA" and r[4]


def test_sink_hard_refused_recipients(sink):
    s = sink("-f", "RCPT")
    rc, out, rcpts = sink_send(s, "--count", "2")
    assert rc == 1
    assert "error=no-rcpt reusable=yes" in line_with(out, "send 1")
    # the connection stays usable: the second transaction (RSET first) too
    assert "error=no-rcpt reusable=yes" in line_with(out, "send 2")
    for r in rcpts.values():
        assert r[0] // 100 == 5 and r[3] == "RCPT TO" and not r[4]


def test_sink_data_soft_refused(sink):
    s = sink("-r", "DATA")
    rc, out, rcpts = sink_send(s)
    assert rc == 1
    assert "error=data-refused" in line_with(out, "send 1")
    for r in rcpts.values():
        assert r[0] // 100 == 4 and r[3] == "DATA" and not r[4]


def test_sink_421_on_mail(sink):
    s = sink("-Q", "MAIL")
    rc, out, rcpts = sink_send(s)
    assert rc == 1
    assert "reusable=no" in line_with(out, "send 1")
    for r in rcpts.values():
        assert r[0] == 421 and r[3] == "MAIL FROM"


def test_sink_8bit_message_and_server_without_8bitmime(sink):
    s = sink("-8")
    rc, out, rcpts = sink_send(s, "--8bitmime")
    assert rc == 1
    assert "error=need-8bitmime reusable=yes" in line_with(out, "send 1")
    for r in rcpts.values():
        assert r[:2] == (554, "5.6.3") and r[4]
    assert s.dumps() == []      # nothing sent: no silent downgrade
    # a 7-bit message goes through the same server
    rc, out, rcpts = sink_send(s)
    assert rc == 0, out


def test_sink_smtputf8_needed(sink):
    s = sink()
    rc, out, rcpts = sink_send(s, "--smtputf8")
    assert "SMTPUTF8" not in line_with(out, "ext:")
    assert rc == 1
    for r in rcpts.values():
        assert r[:2] == (553, "5.6.7") and r[4]
    assert s.dumps() == []


def test_sink_8bitmime_and_dsn_parameters(sink):
    s = sink()
    rc, out, rcpts = sink_send(s, "--8bitmime", "--ret", "hdrs", "--envid",
                               "id+1=x", "--notify", "SUCCESS,FAILURE",
                               "--orcpt", "orig=@example.org")
    assert rc == 0, out
    d = s.dumps()[0]
    assert (b"X-Mail-Args: <a@example.test> BODY=8BITMIME RET=HDRS "
            b"ENVID=id+2B1+3Dx") in d
    assert (b"X-Rcpt-Args: <b@example.org> NOTIFY=SUCCESS,FAILURE "
            b"ORCPT=rfc822;orig+3D@example.org") in d


def test_sink_without_dsn_drops_dsn_parameters(sink):
    s = sink("-N")
    rc, out, rcpts = sink_send(s, "--ret", "full", "--notify", "SUCCESS")
    assert rc == 0, out
    d = s.dumps()[0]
    assert b"X-Mail-Args: <a@example.test>\n" in d
    assert b"NOTIFY" not in d


def test_sink_helo_fallback(sink):
    s = sink("-e")
    rc, out, rcpts = sink_send(s)
    assert rc == 0, out
    assert "esmtp=no" in line_with(out, "connect:")
    assert len(s.dumps()) == 1


def test_sink_lmtp(sink):
    s = sink("-L")
    rc, out, rcpts = sink_send(s, "--lmtp")
    assert rc == 0, out
    assert all(r[0] == 250 and r[3] == "end of DATA" for r in rcpts.values())


def test_sink_greeting_refused(sink):
    s = sink("-f", "CONNECT")
    rc, out, rcpts = sink_send(s)
    assert rc == 1
    l = line_with(out, "connect:")
    assert "error=greeting permanent=yes" in l and "said: 5" in l


def test_connect_refused():
    port = free_port()
    rc, out, _ = smtp_send("--port", str(port), "--tls", "none", "--from",
                           "a@x.test", "--rcpt", "b@y.test")
    assert rc == 1
    l = line_with(out, "connect:")
    assert "error=connect permanent=no" in l
    assert f"127.0.0.1[127.0.0.1]:{port}: Connection refused" in l


# ---- Herald's own servers, TLS from a test CA ------------------------------

def make_ca(d, name="mail.example.test"):
    """A CA and a server certificate for name, signed by it."""
    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True,
                       cwd=d)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out",
         "ca.pem", "-days", "2", "-subj", "/CN=Herald Test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj",
         f"/CN={name}")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write(f"subjectAltName=DNS:{name}\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
         "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2",
         "-extfile", "ext")
    for n in ("ca.pem", "srv.pem", "srv.key"):
        os.chmod(os.path.join(d, n), 0o644)
    return (os.path.join(d, "ca.pem"), os.path.join(d, "srv.pem"),
            os.path.join(d, "srv.key"))


@pytest.fixture
def tls_server(herald_factory):
    d = tempfile.mkdtemp(prefix="herald-it-ca-")
    os.chmod(d, 0o755)
    ca, crt, key = make_ca(d)
    h = herald_factory(listeners=("smtp", "submission", "submissions",
                                  "lmtp_unix"),
                       sections={"tls": f"cert = {crt}\nkey = {key}",
                                 "smtp": "message_size_limit = 100k"})
    h.add_domain()
    h.add_user("bob@example.test")
    h.add_user("alice@example.test", "alicepw")
    h.add_user("carol@example.test")
    h.cli("user", "quota", "carol@example.test", "1k")
    h.start()
    h.ca = ca
    yield h
    shutil.rmtree(d, ignore_errors=True)


def herald_send(h, *args, port="smtp", rcpts=("bob@example.test",),
                sender=None, **kw):
    if sender is None:
        sender = ("alice@example.test" if port.startswith("submission")
                  else "sender@remote.test")
    a = ["--port", str(h.ports[port]), "--from", sender]
    for r in rcpts:
        a += ["--rcpt", r]
    return smtp_send(*a, *args, **kw)


def test_herald_starttls_verified_with_test_ca(tls_server):
    h = tls_server
    rc, out, rcpts = herald_send(h, "--tls", "encrypt", "--server-name",
                                 "mail.example.test", "--ca-file", h.ca)
    assert rc == 0, out
    tls = line_with(out, "tls:")
    assert "verified=yes" in tls and "protocol=TLSv1.3" in tls
    assert 'subject="CN=mail.example.test"' in tls
    assert 'issuer="CN=Herald Test CA"' in tls
    ext = line_with(out, "ext:")
    # what Herald offers after STARTTLS (EHLO asked again)
    for k in ("PIPELINING", "SIZE=102400", "8BITMIME", "SMTPUTF8",
              "CHUNKING", "DSN"):
        assert k in ext.split(), ext
    assert "STARTTLS" not in ext
    msgs = inbox(h, "bob@example.test")
    assert len(msgs) == 1
    # sent as BDAT (CHUNKING): the store holds CRLF lines only, dots as
    # they were (BDAT is not dot-stuffed)
    assert body_of(msgs[0]) == (b"Subject: client test\r\nFrom: "
                                b"a@example.test\r\n\r\nhello\r\n.dot line"
                                b"\r\nbare lf\r\nbare cr\r\nend\r\n")
    assert b"TLS" in msgs[0].split(b"\r\n\r\n")[0]


def test_herald_certificate_name_mismatch(tls_server):
    h = tls_server
    rc, out, _ = herald_send(h, "--tls", "encrypt", "--server-name",
                             "other.example.test", "--ca-file", h.ca)
    assert rc == 1
    l = line_with(out, "connect:")
    assert "error=tls-cert permanent=no" in l
    assert "hostname mismatch" in l
    assert inbox(h, "bob@example.test") == []


def test_herald_certificate_unknown_ca(tls_server):
    h = tls_server
    # the system store does not know the test CA
    rc, out, _ = herald_send(h, "--tls", "encrypt", "--server-name",
                             "mail.example.test")
    assert rc == 1
    l = line_with(out, "connect:")
    assert "error=tls-cert" in l and "local issuer" in l


def test_herald_opportunistic_tls_unverified_still_encrypts(tls_server):
    h = tls_server
    rc, out, _ = herald_send(h, "--tls", "may", "--server-name",
                             "mail.example.test")
    assert rc == 0, out
    tls = line_with(out, "tls:")
    assert "verified=no" in tls and "protocol=TLSv1" in tls
    assert len(inbox(h, "bob@example.test")) == 1


def test_herald_implicit_tls(tls_server):
    h = tls_server
    rc, out, rcpts = herald_send(h, "--tls", "implicit", "--server-name",
                                 "mail.example.test", "--ca-file", h.ca,
                                 "--auth-user", "alice@example.test",
                                 port="submissions", message=ALICE_MSG,
                                 env={"HERALD_AUTH_PASS": "alicepw"})
    assert rc == 0, out
    assert "auth=yes" in line_with(out, "connect:")
    assert "verified=yes" in line_with(out, "tls:")


def test_herald_auth_after_starttls(tls_server):
    h = tls_server
    args = ("--tls", "encrypt", "--server-name", "mail.example.test",
            "--ca-file", h.ca, "--auth-user", "alice@example.test")
    rc, out, _ = herald_send(h, *args, port="submission",
                             rcpts=("someone@far.test",),
                             env={"HERALD_AUTH_PASS": "wrong"})
    assert rc == 1
    l = line_with(out, "connect:")
    assert "error=auth permanent=yes" in l and "535" in l
    rc, out, rcpts = herald_send(h, *args, port="submission",
                                 rcpts=("bob@example.test",),
                                 message=ALICE_MSG,
                                 env={"HERALD_AUTH_PASS": "alicepw"})
    assert rc == 0, out
    assert "auth=yes" in line_with(out, "connect:")


def test_auth_never_in_clear(tls_server):
    h = tls_server
    rc, out, _ = herald_send(h, "--tls", "none", "--auth-user",
                             "alice@example.test", port="submission",
                             env={"HERALD_AUTH_PASS": "alicepw"})
    assert rc == 1
    assert "error=auth-unavailable" in line_with(out, "connect:")


def test_herald_size_refused_before_sending(tls_server):
    h = tls_server
    big = MSG + b"\r\n" + (b"x" * 99 + b"\r\n") * 1100
    rc, out, rcpts = herald_send(h, "--tls", "none", message=big)
    assert rc == 1
    assert "error=too-big reusable=yes" in line_with(out, "send 1")
    assert rcpts["bob@example.test"][:2] == (552, "5.3.4")
    assert rcpts["bob@example.test"][4]


def test_herald_smtputf8_and_8bit(tls_server):
    h = tls_server
    msg = "Subject: é\r\n\r\nünïcode\r\n".encode()
    rc, out, rcpts = herald_send(h, "--tls", "none", "--smtputf8",
                                 "--8bitmime", message=msg)
    assert rc == 0, out
    assert body_of(inbox(h, "bob@example.test")[0]) == msg


def test_herald_big_message_from_file_and_memory(tls_server):
    # several 64 KiB blocks: BDAT chunks read on the thread pool, and the
    # same from memory; a CRLF split across two blocks stays one CRLF
    h = tls_server
    line = b"y" * 70 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * 1200
    assert len(body) > 65536
    for extra in ([], ["--memory"]):
        rc, out, _ = herald_send(h, "--tls", "none", *extra, message=body)
        assert rc == 0, out
    msgs = inbox(h, "bob@example.test")
    assert [body_of(m) for m in msgs] == [body, body]


def test_herald_prefix_line(tls_server):
    h = tls_server
    rc, out, _ = herald_send(h, "--tls", "none", "--prefix",
                             "X-Added: by the queue\r\n")
    assert rc == 0, out
    assert body_of(inbox(h, "bob@example.test")[0]).startswith(
        b"X-Added: by the queue\r\nSubject: client test\r\n")


def test_herald_lmtp_unix_per_recipient(tls_server):
    h = tls_server
    big = b"Subject: q\r\n\r\n" + (b"z" * 98 + b"\r\n") * 20
    rc, out, rcpts = smtp_send("--unix", h.lmtp_path, "--lmtp", "--tls",
                               "none", "--from", "s@remote.test",
                               "--rcpt", "bob@example.test",
                               "--rcpt", "nobody@example.test",
                               "--rcpt", "carol@example.test",
                               "--rcpt", "alice@example.test",
                               message=big)
    assert rc == 1, out
    assert rcpts["bob@example.test"][0] == 250
    assert rcpts["bob@example.test"][3] == "end of DATA"
    assert rcpts["nobody@example.test"][0] == 550
    assert rcpts["nobody@example.test"][3] == "RCPT TO"
    # over quota: this recipient's own reply after the data
    assert rcpts["carol@example.test"][0] // 100 in (4, 5)
    assert rcpts["carol@example.test"][3] == "end of DATA"
    assert rcpts["alice@example.test"][0] == 250
    assert len(inbox(h, "bob@example.test")) == 1
    assert len(inbox(h, "alice@example.test")) == 1
    assert inbox(h, "carol@example.test") == []


# ---- what the ClientHello carries -----------------------------------------

def test_client_hello_sni_and_no_session_ticket():
    """CLIENT-QUIRKS: no session tickets (Microsoft drops the connection),
    SNI set to the MX name. openssl s_server -tlsextdebug prints every
    extension the client sent."""
    d = tempfile.mkdtemp(prefix="herald-it-ossl-")
    try:
        ca, crt, key = make_ca(d, "mx.example.org")
        port = free_port()
        srv = subprocess.Popen(
            ["openssl", "s_server", "-accept", str(port), "-cert", crt,
             "-key", key, "-tlsextdebug", "-naccept", "1", "-quiet"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        try:
            assert wait_port("127.0.0.1", port)
            # that probe was a connection: -naccept counts it, so start
            # a second server
        finally:
            srv.kill()
            srv.wait()
            srv.stdout.close()
            srv.stdin.close()
        port = free_port()
        srv = subprocess.Popen(
            ["openssl", "s_server", "-accept", str(port), "-cert", crt,
             "-key", key, "-tlsextdebug", "-naccept", "1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)
            rc, out, _ = smtp_send("--port", str(port), "--tls", "implicit",
                                   "--server-name", "mx.example.org",
                                   "--ca-file", ca, "--timeout", "1500",
                                   "--from", "a@x.test", "--rcpt",
                                   "b@mx.example.org")
        finally:
            srv.kill()
            srv.wait()
            log = srv.stdout.read().decode(errors="replace")
            srv.stdout.close()
            srv.stdin.close()
        # the handshake completed (then s_server sent no greeting)
        assert "error=timeout" in line_with(out, "connect:"), out
        assert 'TLS client extension "server name"' in log, log
        # the extension's bytes, from s_server's hex dump
        ext = log.split('TLS client extension "server name"')[1]
        hexes = []
        for l in ext.splitlines()[1:]:
            m = re.match(r"^[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]+)+)", l)
            if not m:
                break
            hexes += re.findall(r"[0-9a-f]{2}", m.group(1))
        assert b"mx.example.org" in bytes(int(x, 16) for x in hexes), log
        assert "session ticket" not in log, log
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- a scripted server: the wire and the edge cases -------------------------

class Scripted:
    """Accepts one connection and runs script(conn) in a thread; keeps
    every byte received."""

    def __init__(self, script):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.error = None
        self.script = script
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(20)
        try:
            conn, _ = self.sock.accept()
            conn.settimeout(20)
            with conn:
                self.conn = conn
                self.buf = b""
                self.script(self)
        except Exception as e:  # reported by join()
            self.error = e

    def send(self, data, pieces=1, delay=0.0):
        n = max(1, len(data) // pieces)
        for i in range(0, len(data), n):
            self.conn.sendall(data[i:i + n])
            if delay:
                time.sleep(delay)

    def recv_until(self, token):
        while token not in self.buf:
            d = self.conn.recv(65536)
            if not d:
                raise EOFError(f"closed before {token!r}: {self.buf!r}")
            self.buf += d
            self.received += d
        i = self.buf.index(token) + len(token)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def line(self):
        return self.recv_until(b"\r\n")

    def recv_n(self, n):
        while len(self.buf) < n:
            d = self.conn.recv(65536)
            if not d:
                raise EOFError("closed")
            self.buf += d
            self.received += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def join(self):
        self.thread.join(30)
        self.sock.close()
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error


def scripted_send(srv, *args, **kw):
    return smtp_send("--port", str(srv.port), "--tls", "none", "--from",
                     "a@example.test", *args, **kw)


def test_wire_data_crlf_dot_stuffing_and_split_replies():
    got = {}

    def script(s):
        # greeting and EHLO reply cut into single octets and odd pieces
        s.send(b"220 fake.test ESMTP\r\n", pieces=20, delay=0.005)
        got["ehlo"] = s.line()
        s.send(b"250-fake.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
               b"250 ENHANCEDSTATUSCODES\r\n", pieces=7)
        # pipelined: MAIL, RCPT, RCPT, DATA in one go
        cmds = s.recv_until(b"DATA\r\n")
        got["cmds"] = cmds
        s.send(b"250\r\n250 2.1.5 ok\r\n550-5.1.1 no such\r\n"
               b"550 5.1.1 user\r\n354 go\r\n")
        got["data"] = s.recv_until(b"\r\n.\r\n")
        s.send(b"250 2.0.0 queued as X\r\n")
        got["quit"] = s.line()
        s.send(b"221 bye\r\n")

    srv = Scripted(script)
    msg = b"A: b\n\n.one\r\n..two\rthree\r\n.\nlast"
    rc, out, rcpts = scripted_send(srv, "--rcpt", "b@x.test", "--rcpt",
                                   "c@x.test", message=msg)
    srv.join()
    assert got["ehlo"].startswith(b"EHLO ")
    assert got["cmds"] == (b"MAIL FROM:<a@example.test>\r\n"
                           b"RCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n"
                           b"DATA\r\n")
    assert got["data"] == (b"A: b\r\n\r\n..one\r\n...two\r\nthree\r\n"
                           b"..\r\nlast\r\n.\r\n")
    assert got["quit"] == b"QUIT\r\n"
    assert rcpts["b@x.test"][:3] == (250, "2.0.0", "queued as X")
    assert rcpts["c@x.test"][:3] == (550, "5.1.1", "no such\nuser".replace(
        "\n", " "))
    assert rc == 1


def test_wire_bdat_chunks():
    got = {}

    def script(s):
        s.send(b"220 fake.test ESMTP\r\n")
        s.line()
        s.send(b"250-fake.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
        s.recv_until(b"RCPT TO:<b@x.test>\r\n")
        s.send(b"250 ok\r\n250 ok\r\n")
        chunks = []
        while True:
            head = s.line()
            m = re.match(rb"BDAT (\d+)( LAST)?\r\n$", head)
            assert m, head
            chunks.append(s.recv_n(int(m.group(1))))
            if m.group(2):
                break
        got["chunks"] = chunks
        # replies only now: the client pipelines chunks
        s.send(b"250 ok\r\n" * len(chunks))
        s.line()
        s.send(b"221 bye\r\n")

    srv = Scripted(script)
    body = (b"x" * 1000 + b"\n") * 100 + b".\r\n"
    rc, out, rcpts = scripted_send(srv, "--rcpt", "b@x.test", message=body)
    srv.join()
    assert rc == 0, out
    assert len(got["chunks"]) == 2     # 64 KiB blocks
    assert b"".join(got["chunks"]) == (b"x" * 1000 + b"\r\n") * 100 + b".\r\n"


def test_wire_close_after_rcpt_with_pipelined_data():
    # one recipient refused, then the server hangs up instead of
    # answering DATA: the refused one keeps its 550, the other is deferred
    def script(s):
        s.send(b"220 fake.test ESMTP\r\n")
        s.line()
        s.send(b"250-fake.test\r\n250 PIPELINING\r\n")
        s.recv_until(b"DATA\r\n")
        s.send(b"250 ok\r\n250 ok\r\n550 5.7.1 blocked\r\n")

    srv = Scripted(script)
    rc, out, rcpts = scripted_send(srv, "--rcpt", "b@x.test", "--rcpt",
                                   "c@x.test")
    srv.join()
    assert rc == 1
    assert rcpts["c@x.test"][:2] == (550, "5.7.1")
    assert not rcpts["c@x.test"][4]
    b = rcpts["b@x.test"]
    assert b[:2] == (451, "4.4.2") and b[4] and b[3] == "DATA"


def test_wire_silence_times_out():
    def script(s):
        s.send(b"220 fake.test ESMTP\r\n")
        s.line()
        s.send(b"250 fake.test\r\n")
        s.line()            # MAIL, never answered
        s.recv_until(b"\r\n\r\n-never-")

    srv = Scripted(script)
    t = time.monotonic()
    rc, out, rcpts = scripted_send(srv, "--rcpt", "b@x.test", "--timeout",
                                   "800")
    assert time.monotonic() - t < 10
    srv.join_error = None
    try:
        srv.join()
    except EOFError:
        pass
    assert "error=timeout" in line_with(out, "send 1")
    assert rcpts["b@x.test"][:2] == (451, "4.4.2")
    assert "timed out while sending MAIL FROM" in rcpts["b@x.test"][2]


def test_wire_garbage_reply_is_a_protocol_error():
    def script(s):
        s.send(b"220 fake.test ESMTP\r\n")
        s.line()
        s.send(b"250 fake.test\r\n")
        s.line()
        s.send(b"250ok\r\n")
        try:
            s.line()
        except (EOFError, OSError):
            pass

    srv = Scripted(script)
    rc, out, rcpts = scripted_send(srv, "--rcpt", "b@x.test")
    srv.join()
    assert "error=protocol" in line_with(out, "send 1")
    assert rcpts["b@x.test"][:2] == (451, "4.5.0")


def test_wire_overlong_and_endless_replies():
    def script(s):
        s.send(b"220 fake.test ESMTP\r\n")
        s.line()
        try:
            s.send(b"250-" + b"k" * 100 + b"\r\n")
            for _ in range(5000):
                s.send(b"250-X\r\n")
        except OSError:
            pass

    srv = Scripted(script)
    rc, out, _ = scripted_send(srv, "--rcpt", "b@x.test")
    srv.join()
    l = line_with(out, "connect:")
    assert "error=protocol" in l and "too many reply lines" in l


def test_wire_starttls_required_but_not_offered():
    def script(s):
        s.send(b"220 fake.test ESMTP\r\n")
        s.line()
        s.send(b"250-fake.test\r\n250 PIPELINING\r\n")
        s.line()            # QUIT

    srv = Scripted(script)
    rc, out, _ = smtp_send("--port", str(srv.port), "--tls", "encrypt",
                           "--from", "a@x.test", "--rcpt", "b@x.test")
    srv.join()
    assert "error=tls-unavailable" in line_with(out, "connect:")
    assert srv.received.endswith(b"QUIT\r\n")


def test_unsendable_addresses_refused_locally(sink):
    s = sink()
    rc, out, rcpts = smtp_send("--port", str(s.port), "--tls", "none",
                               "--from", "a@example.test",
                               "--rcpt", "b@example.org",
                               "--rcpt", "x@y.test>\r\nRSET",
                               "--rcpt", "sp ace@example.org")
    assert rc == 1
    assert rcpts["b@example.org"][0] == 250
    # printed escaped: the CR LF cannot start a line of the output
    bad = [l for l in out if l.startswith("rcpt ") and
           ": 553 5.1.3 " in l and l.endswith("local=yes")]
    assert len(bad) == 2, out
    assert not any(l.startswith("RSET") for l in out)
    d = s.dumps()
    assert len(d) == 1 and b"X-Rcpt-Args: <b@example.org>\n" in d[0]
    assert b"RSET" not in d[0] and b"sp ace" not in d[0]


def test_utf8_address_needs_smtputf8(sink):
    s = sink()
    rc, out, rcpts = smtp_send("--port", str(s.port), "--tls", "none",
                               "--from", "a@example.test",
                               "--rcpt", "jösé@example.org")
    assert rc == 1
    assert list(rcpts.values())[0][:2] == (553, "5.6.7")
    assert s.dumps() == []


def test_bind_address(sink, tmp_path):
    s = sink()
    conf = tmp_path / "herald.conf"
    conf.write_text(f"hostname = out.example.test\ndata_dir = {tmp_path}\n"
                    "[smtp_client]\nbind_address = 127.0.0.2\n"
                    "helo_name = mx-out.example.test\n")
    rc, out, _ = smtp_send("-c", str(conf), "--port", str(s.port),
                           "--tls", "none", "--from", "a@example.test",
                           "--rcpt", "b@example.org")
    assert rc == 0, out
    assert "local=127.0.0.2" in line_with(out, "connect:")
    d = s.dumps()[0]
    assert b"X-Client-Addr: 127.0.0.2\n" in d
    assert b"X-Helo-Args: mx-out.example.test\n" in d
    conf.write_text(f"data_dir = {tmp_path}\n[smtp_client]\n"
                    "bind_address = 2001:db8::1\n")
    p = subprocess.run([HERALD_BIN, "config", "check", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "not an IPv4 address" in p.stderr, p.stderr


def test_wire_reset_in_the_middle_of_data():
    def script(s):
        s.send(b"220 fake.test ESMTP\r\n")
        s.line()
        s.send(b"250-fake.test\r\n250 PIPELINING\r\n")
        s.recv_until(b"DATA\r\n")
        s.send(b"250 ok\r\n250 ok\r\n354 go\r\n")
        s.recv_n(100000)
        # a reset, not an orderly close
        s.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00\x00\x00\x00\x00\x00\x00")

    srv = Scripted(script)
    body = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 3000
    rc, out, rcpts = scripted_send(srv, "--rcpt", "b@x.test", message=body)
    srv.join()
    assert rc == 1
    assert "reusable=no" in line_with(out, "send 1")
    r = rcpts["b@x.test"]
    # how much the kernel took before the reset decides which stage it
    # was: the message, or the wait for the reply after the dot
    assert r[:2] == (451, "4.4.2") and r[4], r
    assert r[3] in ("DATA", "end of DATA"), r


def test_big_message_memory_stays_flat(sink, tmp_path):
    """A 40 MB message goes through in 64 KiB blocks: the client's peak
    memory does not grow with the message."""
    s = sink()
    path = tmp_path / "big"
    with open(path, "wb") as f:
        f.write(b"Subject: big\r\n\r\n")
        line = b"w" * 998 + b"\n"       # bare LF: converted on the way
        for _ in range(40 * 1024):
            f.write(line)
    # ASan keeps freed blocks in quarantine (256 MB): that is not ours
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                           ":quarantine_size_mb=0").lstrip(":")
    code = ("import resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
            "print(p.returncode, resource.getrusage("
            "resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    p = subprocess.run(
        ["/usr/bin/python3", "-c", code, HERALD_BIN, "debug", "smtp-send",
         "--port", str(s.port), "--tls", "none", "--from", "a@x.test",
         "--rcpt", "b@y.test", str(path)],
        capture_output=True, text=True, timeout=300, env=env)
    rc, maxrss_kb = map(int, p.stdout.split())
    assert rc == 0, p.stdout + p.stderr
    # the same run with a tiny message, for the binary's own baseline
    small = tmp_path / "small"
    small.write_bytes(b"Subject: s\r\n\r\nx\r\n")
    p = subprocess.run(
        ["/usr/bin/python3", "-c", code, HERALD_BIN, "debug", "smtp-send",
         "--port", str(s.port), "--tls", "none", "--from", "a@x.test",
         "--rcpt", "b@y.test", str(small)],
        capture_output=True, text=True, timeout=300, env=env)
    base_kb = int(p.stdout.split()[1])
    assert maxrss_kb - base_kb < 8 * 1024, (maxrss_kb, base_kb)
    assert len(s.dumps()) == 2


# ---- aiosmtpd: another server implementation -------------------------------

class Recorder:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 2.0.0 stored"


@pytest.fixture
def aiosmtpd_server():
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        pytest.skip("python3-aiosmtpd not installed "
                    "(scripts/install-test-deps.sh)")
    made = []

    def make(**kw):
        rec = Recorder()
        port = free_port()
        ctl = Controller(rec, hostname="127.0.0.1", port=port,
                         server_hostname="aio.example.test", **kw)
        ctl.start()
        made.append(ctl)
        return port, rec

    yield make
    for ctl in made:
        ctl.stop()


def test_aiosmtpd_smtputf8_8bitmime(aiosmtpd_server):
    port, rec = aiosmtpd_server(enable_SMTPUTF8=True)
    msg = "Subject: ü\r\n\r\n.straße\nzwei\r\n".encode()
    rc, out, rcpts = smtp_send("--port", str(port), "--tls", "none",
                               "--from", "jörg@example.test",
                               "--rcpt", "bob@bücher.example",
                               "--rcpt", "ann@example.org",
                               "--8bitmime", message=msg)
    assert rc == 0, out
    ext = line_with(out, "ext:").split()
    assert "SMTPUTF8" in ext and "8BITMIME" in ext
    assert len(rec.envelopes) == 1
    e = rec.envelopes[0]
    assert e.mail_from == "jörg@example.test"
    assert e.rcpt_tos == ["bob@bücher.example", "ann@example.org"]
    assert "SMTPUTF8" in e.mail_options and "BODY=8BITMIME" in e.mail_options
    # aiosmtpd undoes the dot-stuffing; the bare LF arrived as CRLF
    assert e.original_content == "Subject: ü\r\n\r\n.straße\r\nzwei\r\n".encode()
    assert all(r[:2] == (250, "2.0.0") for r in rcpts.values())


def test_aiosmtpd_required_starttls(aiosmtpd_server, tmp_path):
    import ssl
    os.chmod(tmp_path, 0o755)
    ca, crt, key = make_ca(str(tmp_path), "aio.example.test")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    port, rec = aiosmtpd_server(tls_context=ctx, require_starttls=True)
    rc, out, rcpts = smtp_send("--port", str(port), "--tls", "encrypt",
                               "--server-name", "aio.example.test",
                               "--ca-file", ca, "--count", "2",
                               "--from", "a@example.test",
                               "--rcpt", "b@example.org")
    assert rc == 0, out
    assert "verified=yes" in line_with(out, "tls:")
    assert 'subject="CN=aio.example.test"' in line_with(out, "tls:")
    assert len(rec.envelopes) == 2
    # without TLS the server refuses; the client says so per recipient
    rc, out, rcpts = smtp_send("--port", str(port), "--tls", "none",
                               "--from", "a@example.test",
                               "--rcpt", "b@example.org")
    assert rc == 1
    assert rcpts["b@example.org"][0] == 530
    assert rcpts["b@example.org"][3] == "MAIL FROM"


def test_wire_tls_handshake_failure_under_may():
    def script(s):
        s.send(b"220 fake.test ESMTP\r\n")
        s.line()
        s.send(b"250-fake.test\r\n250 STARTTLS\r\n")
        assert s.line() == b"STARTTLS\r\n"
        s.send(b"220 go ahead\r\n")
        s.recv_n(5)             # the ClientHello's record header
        s.send(b"this is not TLS\r\n")

    srv = Scripted(script)
    rc, out, _ = smtp_send("--port", str(srv.port), "--tls", "may",
                           "--from", "a@x.test", "--rcpt", "b@x.test")
    srv.join()
    l = line_with(out, "connect:")
    assert "error=tls-handshake permanent=no" in l, l
    assert "TLS handshake with 127.0.0.1[127.0.0.1] failed: " in l


def test_wire_starttls_refused_under_may_goes_on_in_clear():
    got = {}

    def script(s):
        s.send(b"220 fake.test ESMTP\r\n")
        s.line()
        s.send(b"250-fake.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n")
        assert s.line() == b"STARTTLS\r\n"
        s.send(b"454 4.7.0 TLS not available now\r\n")
        got["cmds"] = s.recv_until(b"DATA\r\n")
        s.send(b"250 ok\r\n250 ok\r\n354 go\r\n")
        s.recv_until(b"\r\n.\r\n")
        s.send(b"250 ok\r\n")
        s.line()
        s.send(b"221 bye\r\n")

    srv = Scripted(script)
    rc, out, _ = smtp_send("--port", str(srv.port), "--tls", "may",
                           "--from", "a@x.test", "--rcpt", "b@x.test")
    srv.join()
    assert rc == 0, out
    assert line_with(out, "tls:") == "tls: none"
    assert got["cmds"].startswith(b"MAIL FROM:<a@x.test>")
