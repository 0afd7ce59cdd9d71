"""COMPRESS=DEFLATE (RFC 4978, issue 13 item 3) with imaplib and zlib: after
the tagged OK both directions are raw deflate, over plain and TLS; every
response (and every continuation request, and IDLE's "+ idling") arrives
flushed, which the tests check by waiting for it without sending more
(CLIENT-QUIRKS: iOS stalls on output left in the compressor)."""
import imaplib
import os
import socket
import time
import zlib

import pytest

from imap_util import (USER, Raw, deliver, deliver_many, login, make_msg, ok,
                       server, tls_context)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))


class Deflate:
    """The compressed transport, for an imaplib client (mixed in) or a
    raw socket: send deflates and sync-flushes, reads inflate."""

    z_on = False

    def z_start(self):
        self.z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.z_in = zlib.decompressobj(-15)
        self.z_buf = b""
        self.z_on = True

    def z_send(self, data):
        self.sock.sendall(self.z_out.compress(data) +
                          self.z_out.flush(zlib.Z_SYNC_FLUSH))

    def z_fill(self):
        # read1: what the reader had buffered, or one recv
        chunk = self.file.read1(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.z_buf += self.z_in.decompress(chunk)

    def z_readline(self):
        while b"\n" not in self.z_buf:
            self.z_fill()
        i = self.z_buf.index(b"\n") + 1
        line, self.z_buf = self.z_buf[:i], self.z_buf[i:]
        return line

    def z_read(self, n):
        while len(self.z_buf) < n:
            self.z_fill()
        data, self.z_buf = self.z_buf[:n], self.z_buf[n:]
        return data


class ZIMAP(Deflate, imaplib.IMAP4):
    def compress(self):
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        assert typ == "OK", (typ, data)
        self.z_start()

    def send(self, data):
        if self.z_on:
            return self.z_send(data)
        return super().send(data)

    def readline(self):
        if self.z_on:
            return self.z_readline()
        return super().readline()

    def read(self, size):
        if self.z_on:
            return self.z_read(size)
        return super().read(size)


class ZIMAP_SSL(ZIMAP, imaplib.IMAP4_SSL):
    pass


def zlogin(h, tls=False):
    if tls:
        c = ZIMAP_SSL("127.0.0.1", h.ports["imaps"],
                      ssl_context=tls_context(), timeout=30)
    else:
        c = ZIMAP("127.0.0.1", h.ports["imap"], timeout=30)
    ok(c.login(USER, "correct horse"))
    return c


class ZRaw(Deflate, Raw):
    """imap_util.Raw, compressed after z_start()."""

    @property
    def file(self):
        return self.f

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.z_on:
            return self.z_send(data)
        return super().send(data)

    def line(self):
        if self.z_on:
            return self.z_readline().decode("utf-8", "replace").rstrip(
                "\r\n")
        return super().line()


def zraw(h, tls=False):
    r = ZRaw(h, "imaps" if tls else "imap", tls=tls)
    r.login()
    lines = r.cmd("Z1", "COMPRESS DEFLATE")
    assert lines[-1] == "Z1 OK DEFLATE active", lines
    r.z_start()
    return r


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_compressed_session(herald_factory, tls):
    """LOGIN, COMPRESS, SELECT, FETCH 1:* BODY.PEEK[] of many messages
    with exact content, APPEND whose continuation request arrives
    compressed and flushed (imaplib waits for "+" before sending the
    literal: without the flush this times out), then the appended
    message read back."""
    h = server(herald_factory)
    msgs = {f"<m{i}@remote.test>": make_msg(i, body_lines=40 + i % 17)
            for i in range(120)}
    deliver_many(h, msgs.values())
    c = zlogin(h, tls)
    caps = ok(c.capability())[0].decode().split()
    assert "COMPRESS=DEFLATE" in caps, caps
    c.compress()
    c.sock.settimeout(5)
    assert ok(c.select("INBOX"))[0] == b"120"
    data = ok(c.fetch("1:*", "(BODY.PEEK[])"))
    got = {}
    for item in data:
        if isinstance(item, tuple):
            body = item[1]
            mid = [ln.split(b": ", 1)[1].decode() for ln in body.split(
                b"\r\n") if ln.startswith(b"Message-ID: ")][0]
            got[mid] = body
    assert len(got) == 120
    for mid, raw in msgs.items():
        # Herald prepends its Received and auth headers
        assert got[mid].endswith(raw), mid
    new = make_msg(999, body_lines=200)
    res = ok(c.append("INBOX", None, None, new))
    assert b"APPENDUID" in res[0], res
    data = ok(c.fetch("121", "(BODY.PEEK[])"))
    assert data[0][1] == new
    typ, data = c._simple_command("COMPRESS", "DEFLATE")
    assert (typ, data) == ("NO", [b"[COMPRESSIONACTIVE] DEFLATE is active "
                                  b"already"])
    ok(c.noop())
    c.logout()


def test_second_compress_is_no_compressionactive(herald_factory):
    h = server(herald_factory)
    r = zraw(h)
    lines = r.cmd("Z2", "COMPRESS DEFLATE")
    assert lines == ["Z2 NO [COMPRESSIONACTIVE] DEFLATE is active already"]
    assert r.cmd("N1", "NOOP") == ["N1 OK NOOP completed"]
    r.close()


def test_compress_before_login_and_bad_arguments(herald_factory):
    """RFC 4978 3 makes COMPRESS a command of the logged-in session (as in
    Dovecot): before login it is BAD, and not advertised."""
    h = server(herald_factory)
    r = Raw(h)
    assert "COMPRESS" not in r.greeting
    assert r.cmd("a", "COMPRESS DEFLATE") == ["a BAD Log in first"]
    r.login()
    lines = r.cmd("b", "COMPRESS GZIP")
    assert lines[-1].startswith("b BAD"), lines
    lines = r.cmd("c", "COMPRESS")
    assert lines[-1].startswith("c BAD"), lines
    # still uncompressed
    assert r.cmd("d", "NOOP") == ["d OK NOOP completed"]
    r.close()


def test_capabilities_hide(herald_factory):
    h = server(herald_factory, imap="capabilities_hide = COMPRESS=DEFLATE")
    r = Raw(h)
    r.login()
    caps = r.cmd("C", "CAPABILITY")
    assert "COMPRESS" not in caps[0], caps
    r.close()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_idle_continuation_and_exists_arrive_flushed(herald_factory, tls):
    h = server(herald_factory)
    deliver(h, USER, make_msg(1))
    r = zraw(h, tls)
    r.sock.settimeout(5)
    lines = r.cmd("S", "SELECT INBOX")
    assert "* 1 EXISTS" in lines, lines
    r.send("I IDLE\r\n")
    assert r.line() == "+ idling"
    deliver(h, USER, make_msg(2))
    deadline = time.time() + 5
    while True:
        ln = r.line()
        if ln == "* 2 EXISTS":
            break
        assert time.time() < deadline, ln
    r.send("DONE\r\n")
    assert r.until_tagged("I")[-1].startswith("I OK"), "IDLE"
    r.close()


def test_unauthenticate_keeps_compression(herald_factory):
    """RFC 8437 3: UNAUTHENTICATE leaves the deflate layer on; STARTTLS,
    which would need TLS under it, is then refused and not offered."""
    h = server(herald_factory)
    r = zraw(h)
    assert r.cmd("U", "UNAUTHENTICATE")[-1] == "U OK UNAUTHENTICATE completed"
    caps = r.cmd("C", "CAPABILITY")
    assert "STARTTLS" not in caps[0] and "IMAP4rev1" in caps[0], caps
    lines = r.cmd("T", "STARTTLS")
    assert lines == ["T BAD STARTTLS is not available after COMPRESS"]
    r.login()
    assert r.cmd("Z", "COMPRESS DEFLATE")[-1].startswith(
        "Z NO [COMPRESSIONACTIVE]")
    assert r.cmd("N", "NOOP") == ["N OK NOOP completed"]
    r.close()


def test_pipelined_after_compress(herald_factory):
    """A command sent compressed in the same packet as COMPRESS (RFC 4978
    forbids it, but bytes after the CRLF are compressed either way) is
    read as compressed."""
    h = server(herald_factory)
    r = ZRaw(h)
    r.login()
    r.z_start()
    r.sock.sendall(b"Z COMPRESS DEFLATE\r\n" + r.z_out.compress(
        b"N NOOP\r\n") + r.z_out.flush(zlib.Z_SYNC_FLUSH))
    assert r.f.readline() == b"Z OK DEFLATE active\r\n"
    assert r.line() == "N OK NOOP completed"
    r.close()


def test_corrupt_input_closes(herald_factory):
    h = server(herald_factory)
    r = zraw(h)
    r.sock.settimeout(10)
    # a block with the reserved type 3
    r.sock.sendall(b"\x07\xff\xff\xff\xff\x00\x01")
    with pytest.raises((EOFError, ConnectionError)):
        r.line()
    h.wait_log("compress-error")
    r.close()
    # the worker lives on
    c = login(h)
    ok(c.noop())
    c.logout()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def test_decompression_bomb_meets_line_limit(herald_factory):
    """100 MB of "A" without a line end, about 100 KB compressed: the
    command is BAD (line_max) like the same bytes uncompressed, the
    session goes on, and the worker's memory does not grow with it.
    Release binary, for honest memory figures."""
    release = os.path.join(ROOT, "build", "herald")
    if not os.access(release, os.X_OK):
        pytest.skip("the release binary build/herald is not built (make)")
    h = server(herald_factory, binary=release, workers=1)
    _, (worker,) = h.pids()
    r = zraw(h)
    r.sock.settimeout(60)
    before = rss_kb(worker)
    block = b"A" * (1 << 20)
    r.send(b"B NOOP ")
    peak = 0
    for i in range(100):
        r.sock.sendall(r.z_out.compress(block) +
                       r.z_out.flush(zlib.Z_SYNC_FLUSH))
        if i % 10 == 0:
            peak = max(peak, rss_kb(worker))
    r.send(b"\r\n")
    lines = r.until_tagged("B")
    assert lines[-1] == "B BAD Command line too long", lines
    peak = max(peak, rss_kb(worker))
    assert peak - before < 20 * 1024, (before, peak)
    assert r.cmd("N", "NOOP") == ["N OK NOOP completed"]
    r.close()


def test_many_sessions_memory(herald_factory):
    """The per-session cost is bounded: 50 compressed sessions hold well
    under 50 x 512 KiB (deflate 128 KiB at window 14, inflate ~40 KiB,
    64 KiB of input). Release binary."""
    release = os.path.join(ROOT, "build", "herald")
    if not os.access(release, os.X_OK):
        pytest.skip("the release binary build/herald is not built (make)")
    h = server(herald_factory, binary=release, workers=1)
    _, (worker,) = h.pids()
    deliver(h, USER, make_msg(1, body_lines=2000))
    before = rss_kb(worker)
    rs = []
    for _ in range(50):
        r = zraw(h)
        r.cmd("S", "SELECT INBOX")
        lines = r.cmd("F", "FETCH 1 BODY.PEEK[TEXT]")
        assert lines[-1].startswith("F OK"), lines[-1]
        rs.append(r)
    grown = rss_kb(worker) - before
    assert grown < 50 * 512, grown
    for r in rs:
        r.close()


def test_connection_closed_mid_stream(herald_factory):
    """A client gone in the middle of a compressed command: no crash."""
    h = server(herald_factory)
    r = zraw(h)
    r.sock.sendall(r.z_out.compress(b"X NOOP") +
                   r.z_out.flush(zlib.Z_PARTIAL_FLUSH))
    r.sock.shutdown(socket.SHUT_RDWR)
    r.close()
    c = login(h)
    ok(c.noop())
    c.logout()
