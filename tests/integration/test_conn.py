"""The connection layer under every protocol (lib/ioev, tls/, daemon/):
half-closed clients still get their replies, TLS handshakes that stall are
closed, TLS sessions end with close_notify, per-address and global
connection limits. Raw sockets, so the tests control every byte and FIN."""
import base64
import contextlib
import ctypes
import os
import resource
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from harness import DOMAIN, free_port
from smtp_util import Raw, inbox, wait_for

USER = f"bob@{DOMAIN}"
PASSWORD = "secret"
MSG = (b"From: bob@example.test\r\nTo: bob@example.test\r\nSubject: half\r\n"
       b"\r\nbody\r\n")


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def read_to_eof(sock, timeout=15):
    """Everything the server sends until it closes (b'' on timeout too:
    the caller's assertions then show what came)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (socket.timeout, ConnectionResetError):
        return data


class TlsPipe:
    """TLS over a plain socket through memory BIOs, so that the client can
    shut down its TCP sending side (which ssl.SSLSocket cannot do and
    still read) and can tell a close_notify from a bare FIN."""

    def __init__(self, sock):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        ctx = tls_ctx()
        # Python ignores a missing close_notify by default; the tests
        # want to see it
        ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
        self.obj = ctx.wrap_bio(self.inc, self.out)
        self.sock.settimeout(15)
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self.feed()

    def flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def feed(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            self.inc.write_eof()
        else:
            self.inc.write(chunk)
        return chunk

    def send(self, data):
        self.obj.write(data)
        self.flush()

    def read_all(self):
        """(plaintext, how): how is 'close_notify' when the server ended
        the session properly, 'eof' for a TCP close without it."""
        data = b""
        while True:
            try:
                chunk = self.obj.read(65536)
                if not chunk:
                    return data, "close_notify"
                data += chunk
            except ssl.SSLWantReadError:
                try:
                    self.feed()
                except (socket.timeout, ConnectionResetError):
                    return data, "timeout"
            except ssl.SSLZeroReturnError:
                return data, "close_notify"
            except ssl.SSLEOFError:
                return data, "eof"
            except ssl.SSLError as e:
                return data, f"error {e}"


def smtp_server(factory, listeners=("smtp", "submissions"), **kw):
    h = factory(listeners=listeners, **kw)
    h.add_domain()
    h.add_user(USER, PASSWORD)
    return h.start()


def smtp_half_close_session(send, shut, read, sender="a@remote.test"):
    """MAIL, RCPT and DATA pipelined, then the message, '.', QUIT and a
    half-close, as Exim does over plain SMTP. Returns what was read after
    the half-close."""
    send(b"EHLO client.test\r\n")
    send(b"MAIL FROM:<%s>\r\nRCPT TO:<bob@example.test>\r\n"
         b"DATA\r\n" % sender.encode())
    time.sleep(0.3)
    send(MSG + b".\r\nQUIT\r\n")
    shut()
    return read()


def test_smtp_half_close_gets_replies(herald_factory):
    h = smtp_server(herald_factory)
    s = socket.create_connection(("127.0.0.1", h.ports["smtp"]), timeout=15)
    out = smtp_half_close_session(s.sendall,
                                  lambda: s.shutdown(socket.SHUT_WR),
                                  lambda: read_to_eof(s))
    s.close()
    lines = out.split(b"\r\n")
    assert any(l.startswith(b"250 2.0.0") for l in lines), h.log()
    assert any(l.startswith(b"221 ") for l in lines), out
    assert len(inbox(h, USER)) == 1
    assert h.wait_log("smtp disconnect")
    assert h.wait_log("reason=local")


def test_smtp_half_close_tls_gets_replies(herald_factory):
    h = smtp_server(herald_factory)
    s = socket.create_connection(("127.0.0.1", h.ports["submissions"]),
                                 timeout=15)
    t = TlsPipe(s)
    auth = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
    t.send(b"EHLO client.test\r\nAUTH PLAIN " + auth + b"\r\n")
    time.sleep(0.5)
    out = smtp_half_close_session(t.send,
                                  lambda: s.shutdown(socket.SHUT_WR),
                                  t.read_all, sender=USER)
    s.close()
    data, how = out
    lines = data.split(b"\r\n")
    assert any(l.startswith(b"235 ") for l in lines), data
    assert any(l.startswith(b"250 2.0.0") for l in lines), data
    assert any(l.startswith(b"221 ") for l in lines), data
    assert len(inbox(h, USER)) == 1


def deliver(h, n):
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as c:
        for i in range(n):
            c.sendmail("a@remote.test", [USER],
                       MSG.replace(b"half", b"msg %d" % i))


def pop3_half_close_session(send, shut, read):
    send(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
    time.sleep(0.5)
    send(b"DELE 1\r\nQUIT\r\n")
    shut()
    return read()


def test_pop3_half_close_commits_dele(herald_factory):
    h = smtp_server(herald_factory, listeners=("smtp", "pop3"))
    deliver(h, 2)
    s = socket.create_connection(("127.0.0.1", h.ports["pop3"]), timeout=15)
    out = pop3_half_close_session(s.sendall,
                                  lambda: s.shutdown(socket.SHUT_WR),
                                  lambda: read_to_eof(s))
    s.close()
    lines = out.split(b"\r\n")
    assert lines[0].startswith(b"+OK"), out
    assert not any(l.startswith(b"-ERR") for l in lines), out
    assert any(l.startswith(b"+OK Logging out, 1 messages deleted")
               for l in lines), out
    assert len(inbox(h, USER)) == 1


def test_pop3s_half_close_commits_dele(herald_factory):
    h = smtp_server(herald_factory, listeners=("smtp", "pop3s"))
    deliver(h, 2)
    s = socket.create_connection(("127.0.0.1", h.ports["pop3s"]), timeout=15)
    t = TlsPipe(s)
    data, how = pop3_half_close_session(t.send,
                                        lambda: s.shutdown(socket.SHUT_WR),
                                        t.read_all)
    s.close()
    assert any(l.startswith(b"+OK Logging out, 1 messages deleted")
               for l in data.split(b"\r\n")), data
    assert len(inbox(h, USER)) == 1


# -- TLS handshakes that stall (issue 10, 2.3) --------------------------

# The first bytes of a TLS 1.2 ClientHello record: a handshake that
# starts and never finishes.
HALF_HELLO = bytes.fromhex("160301020001000" "1fc0303") + b"\x00" * 20


def starttls_raw(h, port_name):
    """A plain connection on an SMTP or POP3 port, up to the point where
    the server waits for the TLS handshake."""
    s = socket.create_connection(("127.0.0.1", h.ports[port_name]),
                                 timeout=15)
    r = Raw.__new__(Raw)
    r.sock, r.buf = s, b""
    if port_name.startswith("pop3"):
        assert r.line().startswith("+OK")
        r.send("STLS\r\n")
        assert r.line().startswith("+OK")
    else:
        assert r.reply()[0] == 220
        assert r.cmd("EHLO client.test")[0] == 250
        assert r.cmd("STARTTLS")[0] == 220
    return s


def closed_within(s, seconds):
    """How long until the server closes s (None: not within seconds)."""
    t0 = time.monotonic()
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - t0


TLS_SECTIONS = {"tls": "handshake_timeout = 1s"}


@pytest.mark.parametrize("port,how", [
    ("submissions", "nothing"), ("submissions", "half"),
    ("pop3s", "nothing"), ("pop3s", "half"),
    ("smtp", "starttls"), ("submission", "starttls"),
    ("pop3", "starttls")])
def test_stalled_handshake_is_closed(herald_factory, port, how):
    h = smtp_server(herald_factory,
                    listeners=("smtp", "submission", "submissions", "pop3",
                               "pop3s"), sections=dict(TLS_SECTIONS))
    if how == "starttls":
        s = starttls_raw(h, port)
        s.sendall(HALF_HELLO)
    else:
        s = socket.create_connection(("127.0.0.1", h.ports[port]),
                                     timeout=15)
        if how == "half":
            s.sendall(HALF_HELLO)
    took = closed_within(s, 10)
    s.close()
    assert took is not None, "the server kept the stalled handshake open"
    assert 0.5 < took < 5, took
    assert h.wait_log('tls handshake-failed rip=127.0.0.1 '
                      'reason="handshake timeout"')
    assert h.wait_log("reason=timeout")


def test_stalled_handshake_frees_ip_slot(herald_factory):
    """max_connections_per_ip = 2, one taken by a greeted SMTP client: a
    client stuck in the handshake on 465 holds the address's last slot
    until the handshake times out; then the address is served again."""
    h = smtp_server(herald_factory, sections=dict(TLS_SECTIONS),
                    extra="max_connections_per_ip = 2")
    held = fill_slots(h, "smtp", 1, b"220")
    s = socket.create_connection(("127.0.0.1", h.ports["submissions"]),
                                 timeout=15)
    s.sendall(HALF_HELLO)
    time.sleep(0.3)
    r = Raw(h.ports["smtp"])
    assert r.reply()[0] == 421        # the slot is taken
    r.close()
    assert closed_within(s, 10) is not None
    s.close()
    assert wait_for(lambda: Raw(h.ports["smtp"]).reply()[0] == 220, 5)
    held[0].close()


# -- close_notify (issue 10, 2.12) ---------------------------------------

def tls_session(h, port_name):
    """A TLS session on any port: implicit, or after STARTTLS/STLS."""
    if port_name in ("submissions", "pop3s"):
        s = socket.create_connection(("127.0.0.1", h.ports[port_name]),
                                     timeout=15)
    else:
        s = starttls_raw(h, port_name)
    return s, TlsPipe(s)


def tls_read_line(t):
    data = b""
    while not data.endswith(b"\r\n"):
        try:
            data += t.obj.read(1)
        except ssl.SSLWantReadError:
            t.feed()
    return data


@pytest.mark.parametrize("port", ["submissions", "smtp", "pop3s", "pop3"])
def test_quit_sends_close_notify(herald_factory, port):
    h = smtp_server(herald_factory,
                    listeners=("smtp", "submissions", "pop3", "pop3s"))
    s, t = tls_session(h, port)
    pop = port.startswith("pop3")
    if port in ("submissions", "pop3s"):
        assert tls_read_line(t)[:3] in (b"220", b"+OK")
    t.send(b"QUIT\r\n")
    data, how = t.read_all()
    s.close()
    assert data.startswith(b"+OK" if pop else b"221"), data
    assert how == "close_notify"


def test_quit_clean_tls_eof_sslsocket(herald_factory):
    """The same with a plain ssl.SSLSocket: after 221 the reads end in a
    clean TLS EOF (b''), not SSLEOFError, with ragged EOFs not ignored."""
    h = smtp_server(herald_factory)
    ctx = tls_ctx()
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    raw = socket.create_connection(("127.0.0.1", h.ports["submissions"]),
                                   timeout=15)
    s = ctx.wrap_socket(raw, suppress_ragged_eofs=False)
    data = b""
    while b"\r\n" not in data:
        data += s.recv(4096)
    s.sendall(b"QUIT\r\n")
    while True:
        chunk = s.recv(4096)      # SSLEOFError here: no close_notify
        if not chunk:
            break
        data += chunk
    s.close()
    assert b"\r\n221 " in data, data


def test_timeout_sends_close_notify(herald_factory):
    h = smtp_server(herald_factory, sections={"smtp": "command_timeout = 1s"})
    s, t = tls_session(h, "submissions")
    data, how = t.read_all()
    s.close()
    assert b"421 4.4.2" in data, data
    assert how == "close_notify"


def test_shutdown_sends_close_notify(herald_factory):
    h = smtp_server(herald_factory, listeners=("smtp", "pop3s"))
    s, t = tls_session(h, "pop3s")
    assert tls_read_line(t).startswith(b"+OK")
    h.stop()
    data, how = t.read_all()
    s.close()
    assert how == "close_notify"


# -- TLS in the log (issue 10, 2.14) -------------------------------------

def test_tls_log_lines(herald_factory):
    h = smtp_server(herald_factory,
                    listeners=("smtp", "submissions", "pop3", "pop3s"))
    for port in ("smtp", "submissions", "pop3", "pop3s"):
        s, t = tls_session(h, port)
        t.send(b"QUIT\r\n")
        t.read_all()
        s.close()
    # a plaintext client on the implicit-TLS port
    s = socket.create_connection(("127.0.0.1", h.ports["submissions"]),
                                 timeout=15)
    s.sendall(b"EHLO client.test\r\n")
    assert closed_within(s, 10) is not None
    s.close()
    assert h.wait_log("tls handshake-failed")
    log = h.log()
    for line in ("smtp starttls rip=127.0.0.1 version=TLSv1.3 cipher=TLS_",
                 "smtp tls rip=127.0.0.1 version=TLSv1.3 cipher=TLS_",
                 "pop3 starttls rip=127.0.0.1 version=TLSv1.3 cipher=TLS_",
                 "pop3 tls rip=127.0.0.1 version=TLSv1.3 cipher=TLS_"):
        assert line in log, line
    failed = [l for l in log.splitlines() if "handshake-failed" in l]
    assert " info " in failed[0]
    assert 'rip=127.0.0.1 reason="' in failed[0]
    assert "error:" not in failed[0]      # no OpenSSL error stack
    assert "warn" not in "".join(l for l in log.splitlines() if " tls " in l)


# -- connection limits for every protocol (issue 10, 2.7) ----------------

def probes_gone(h):
    """The harness's port probes (one per listener) count against the
    limits until the worker has seen them close: wait for that."""
    def gone():
        log = h.log()
        return (log.count(" disconnect ") + log.count(" conn server-full ") +
                log.count(" conn too-many-connections ")) >= len(h.ports)
    assert wait_for(gone), h.log()


def fill_slots(h, port_name, n, greeting):
    """n connections that were greeted."""
    probes_gone(h)
    deadline = time.monotonic() + 15
    while True:
        socks = [socket.create_connection(("127.0.0.1", h.ports[port_name]),
                                          timeout=15) for _ in range(n)]
        got = [s.recv(200) for s in socks]
        if all(g.startswith(greeting) for g in got):
            return socks
        for s in socks:
            s.close()
        assert time.monotonic() < deadline, got
        time.sleep(0.1)


def test_pop3_per_ip_limit(herald_factory):
    h = smtp_server(herald_factory, listeners=("smtp", "pop3", "pop3s"),
                    extra="max_connections_per_ip = 2")
    held = fill_slots(h, "pop3", 2, b"+OK")
    s = socket.create_connection(("127.0.0.1", h.ports["pop3"]), timeout=15)
    assert read_to_eof(s).startswith(b"-ERR [SYS/TEMP] Too many connections")
    s.close()
    # pop3s counts against the same address: closed without a handshake
    s = socket.create_connection(("127.0.0.1", h.ports["pop3s"]), timeout=15)
    assert read_to_eof(s) == b""
    s.close()
    assert h.wait_log("conn too-many-connections rip=127.0.0.1 proto=pop3s")
    held.pop().close()
    assert wait_for(lambda: socket.create_connection(
        ("127.0.0.1", h.ports["pop3s"]), timeout=5) and True)
    # a free slot: the next pop3 client is greeted again
    assert wait_for(lambda: socket.create_connection(
        ("127.0.0.1", h.ports["pop3"]), timeout=5).recv(3) == b"+OK")
    for s in held:
        s.close()


def test_global_connection_cap(herald_factory):
    h = smtp_server(herald_factory, listeners=("smtp", "pop3", "pop3s"),
                    extra="max_connections = 3\nmax_connections_per_ip = 0")
    held = fill_slots(h, "smtp", 3, b"220")
    for port, want in (("smtp", b"421 4.3.2 "), ("pop3", b"-ERR [SYS/TEMP]"),
                       ("pop3s", b"")):
        s = socket.create_connection(("127.0.0.1", h.ports[port]),
                                     timeout=15)
        got = read_to_eof(s)
        s.close()
        assert got.startswith(want) and (want or got == b""), (port, got)
    assert h.wait_log("conn server-full rip=127.0.0.1 proto=smtp")
    held.pop().close()
    assert wait_for(lambda: socket.create_connection(
        ("127.0.0.1", h.ports["pop3"]), timeout=5).recv(3) == b"+OK")
    for s in held:
        s.close()


def test_open_file_limit_raised(herald_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard <= 1024:
        pytest.skip("the hard open-file limit is 1024: nothing to raise")
    h = herald_factory(listeners=("smtp",))
    h.add_domain()
    # started with a low soft limit, as on a stock Debian
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        h.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    sup, workers = h.pids()
    assert workers
    with open(f"/proc/{workers[0]}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    assert int(line.split()[3]) == hard, line


def test_fd_exhaustion_refuses_cleanly(herald_factory):
    """With few file descriptors the worker keeps max_connections below
    the open-file limit: clients past it get 421 at once instead of
    waiting in the listen queue while accept(2) fails with EMFILE."""
    h = herald_factory(listeners=("smtp",), extra="max_open_files = 128\n"
                       "max_connections_per_ip = 0")
    h.add_domain()
    h.start()
    assert h.wait_log("daemon max-connections limit=31 configured=10000 "
                      "open_files=128")
    probes_gone(h)
    socks, replies = [], []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", h.ports["smtp"]),
                                     timeout=5)
        socks.append(s)
        replies.append(s.recv(200)[:9])
    assert replies.count(b"220 mail.") == 31, replies
    assert replies[31:] == [b"421 4.3.2"] * 19, replies
    for s in socks:
        s.close()
    assert "accept-failed" not in h.log()


def test_fd_exhaustion_spooling_sessions(herald_factory):
    """Every session at the cap in DATA with a message large enough to be
    spooled holds two files: the cap leaves room for both, so a client
    on another port is refused at once (the old cap counted one file a
    connection: the worker ran out of files, accept(2) failed with EMFILE
    and the POP3 client waited unanswered) and every message is taken."""
    h = herald_factory(listeners=("smtp", "pop3"), extra="max_open_files"
                       " = 128\nmax_connections_per_ip = 0")
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    assert h.wait_log("daemon max-connections limit=")
    cap = int(h.log().split("daemon max-connections limit=")[1].split()[0])
    probes_gone(h)
    socks = fill_slots(h, "smtp", cap, b"220")
    for s in socks:
        s.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\n"
                  b"RCPT TO:<%s>\r\nDATA\r\n" % USER.encode())
    for s in socks:
        # past message_memory_limit (256k): spooled to a file
        s.sendall(MSG + (b"x" * 98 + b"\r\n") * 3000)
    time.sleep(1)
    s = socket.create_connection(("127.0.0.1", h.ports["pop3"]), timeout=5)
    assert read_to_eof(s, 5).startswith(b"-ERR [SYS/TEMP]")
    s.close()
    for s in socks:
        s.sendall(b".\r\nQUIT\r\n")
    done = [read_to_eof(s) for s in socks]
    for s in socks:
        s.close()
    assert all(b"\r\n250 2.0.0 " in d for d in done), done
    assert len(inbox(h, USER)) == cap
    assert "accept-failed" not in h.log()

CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def own_netns(addrs):
    """The test process (and the server it starts) in a network namespace
    of its own with lo up and the IPv6 addresses addrs on it, so that
    clients can come from several addresses of one /64; the process's
    namespace is restored after. Sockets keep the namespace they were
    made in."""
    if os.geteuid() != 0:
        pytest.skip("needs root: a network namespace for extra addresses")
    libc = ctypes.CDLL(None, use_errno=True)
    old = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            pytest.skip("unshare(CLONE_NEWNET): " +
                        os.strerror(ctypes.get_errno()))
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        for a in addrs:
            subprocess.run(["ip", "-6", "addr", "add", a + "/128", "dev",
                            "lo", "nodad"], check=True)
        yield
    finally:
        assert libc.setns(old, CLONE_NEWNET) == 0
        os.close(old)


def greeting_from(src, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(15)
    s.bind((src, 0))
    s.connect(("::1", port))
    return s, s.recv(200)[:9]


@pytest.mark.parametrize("prefix", [None, 128])
def test_ipv6_per_ip_limit_counts_the_64(herald_factory, prefix):
    """One host holds a /64: with max_connections_per_ip = 2, a third
    connection from another address of the same /64 is refused like one
    from the same address (the old code counted each address apart, so
    a /64 could open 2^64 times the limit); another /64 is served.
    connections_ipv6_prefix = 128 counts addresses apart again."""
    net = "2001:db8:1:2::"
    addrs = [net + "1", net + "2", net + "3", "2001:db8:1:3::1"]
    with own_netns(addrs):
        extra = "max_connections_per_ip = 2"
        if prefix:
            extra += f"\nconnections_ipv6_prefix = {prefix}"
        h = herald_factory(listeners=("smtp",), extra=extra)
        h.add_domain()
        p6 = free_port()
        with open(h.conf) as f:
            conf = f.read()
        v4 = f"smtp = 127.0.0.1:{h.ports['smtp']}"
        with open(h.conf, "w") as f:
            f.write(conf.replace(v4, v4 + f", [::1]:{p6}"))
        h.start()
        probes_gone(h)
        held = []
        for a in addrs[:2]:
            s, got = greeting_from(a, p6)
            held.append(s)
            assert got == b"220 mail.", (a, got)
        s, third = greeting_from(addrs[2], p6)
        held.append(s)
        s, other = greeting_from(addrs[3], p6)
        held.append(s)
        for s in held:
            s.close()
    if prefix == 128:
        assert third == b"220 mail.", third
    else:
        assert third == b"421 4.7.0", third
        assert h.wait_log("conn too-many-connections "
                          "rip=2001:db8:1:2::/64 proto=smtp count=3")
    assert other == b"220 mail.", other
