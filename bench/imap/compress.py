#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""COMPRESS=DEFLATE (issue 13 target): bytes on the wire for FETCH 1:*
BODY.PEEK[] of the benchmark mailbox (bench/imap/corpus.py) with and
without COMPRESS, and the Herald worker's CPU per MB of IMAP data sent.

bench/imap/compress.py [-n 2000] [-r 3] [-l LEVEL] [--bin build/herald]

Starts its own release Herald (tests/integration/harness.py, one worker),
fills INBOX over SMTP, then for each mode runs the FETCH -r times on a
fresh connection over the plain imap port, counting the octets read from
the socket (after COMPRESS: the deflated octets) and the worker's user +
system CPU time from /proc.
"""
import argparse
import os
import socket
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench", "imap"))

import corpus  # noqa: E402
from harness import Herald  # noqa: E402
from imap_util import PASSWORD, USER, server  # noqa: E402


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.wire = 0
        self.buf = b""
        self.z_in = self.z_out = None
        self.line()

    def fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError
        self.wire += len(d)
        self.buf += self.z_in.decompress(d) if self.z_in else d

    def line(self):
        while b"\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\n") + 1
        ln, self.buf = self.buf[:i], self.buf[i:]
        return ln

    def send(self, text):
        data = text.encode()
        if self.z_out:
            data = (self.z_out.compress(data) +
                    self.z_out.flush(zlib.Z_SYNC_FLUSH))
        self.s.sendall(data)

    def cmd(self, tag, text):
        """Reads to the tagged reply; returns (plain octets, last line)."""
        self.send(f"{tag} {text}\r\n")
        n = 0
        while True:
            # literals are read as lines: counting octets is all we need
            ln = self.line()
            n += len(ln)
            if ln.startswith(tag.encode() + b" "):
                assert ln.startswith(tag.encode() + b" OK"), ln
                return n, ln


def run(port, pid, compress):
    c = Conn(port)
    c.cmd("L", f'LOGIN "{USER}" "{PASSWORD}"')
    if compress:
        c.cmd("Z", "COMPRESS DEFLATE")
        c.z_in = zlib.decompressobj(-15)
        c.z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
    c.cmd("S", "SELECT INBOX")
    wire0, cpu0, t0 = c.wire, cpu_s(pid), time.monotonic()
    plain, _ = c.cmd("F", "FETCH 1:* BODY.PEEK[]")
    res = (plain, c.wire - wire0, cpu_s(pid) - cpu0, time.monotonic() - t0)
    c.send("O LOGOUT\r\n")
    c.s.close()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-r", type=int, default=3)
    ap.add_argument("-l", type=int, default=6, help="[imap] compress_level")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "herald"))
    a = ap.parse_args()

    h = server(lambda **kw: Herald(**kw), listeners=("imap", "smtp"),
               imap=f"compress_level = {a.l}", binary=a.bin, workers=1)
    try:
        _, (worker,) = h.pids()
        corpus.fill(h.ports["smtp"], USER, a.n, 1)
        print(f"{a.n} messages, compress_level {a.l}")
        for mode in (False, True):
            best = None
            for _ in range(a.r):
                r = run(h.ports["imap"], worker, mode)
                best = r if best is None or r[2] < best[2] else best
            plain, wire, cpu, wall = best
            mb = plain / 1e6
            print(f"{'COMPRESS' if mode else 'plain   '}: {mb:.1f} MB of "
                  f"IMAP, {wire / 1e6:.1f} MB on the wire "
                  f"({wire / plain:.1%}), worker CPU {cpu * 1000 / mb:.1f} "
                  f"ms/MB, {wall:.2f} s")
    finally:
        h.stop()
        h.cleanup()


if __name__ == "__main__":
    main()
