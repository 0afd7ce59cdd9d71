#!/usr/bin/python3
"""Idle SMTP sessions: added resident memory of a server.

idle.py PID PORT [N]: sums VmRSS (and Pss) of PID and its descendants,
opens N (default 1000) connections to 127.0.0.1:PORT, each from its own
loopback source address (127.0.1.0 and up, so per-address connection
limits do not interfere), reads every greeting, holds all of them idle,
sums again and prints plain `key value` lines. Exits 1 if a greeting is
missing or not a 220.
"""
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from procstat import pss_kb, rss_kb, tree  # noqa: E402


def mem(pid):
    pids = tree(pid)
    rss = sum(rss_kb(p) for p in pids)
    pss = sum(pss_kb(p) for p in pids)
    return len(pids), rss, pss


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))

    # one warm-up session so lazily built state is not counted per session
    w = socket.create_connection(("127.0.0.1", port), 5)
    w.recv(512)
    w.sendall(b"QUIT\r\n")
    w.recv(512)
    w.close()
    time.sleep(0.5)
    procs0, rss0, pss0 = mem(pid)

    socks = []
    bad = 0
    t0 = time.monotonic()
    for i in range(n):
        src = f"127.0.{1 + i // 250}.{1 + i % 250}"
        s = socket.socket()
        s.settimeout(15)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    for s in socks:
        try:
            line = s.recv(512)
        except OSError:
            line = b""
        if not line.startswith(b"220"):
            bad += 1
    t1 = time.monotonic()
    time.sleep(2)
    procs1, rss1, pss1 = mem(pid)
    print(f"idle_sessions {n - bad}")
    print(f"idle_bad_greetings {bad}")
    print(f"idle_connect_seconds {t1 - t0:.2f}")
    print(f"idle_processes {procs0} {procs1}")
    print(f"idle_rss_before_kb {rss0}")
    print(f"idle_rss_after_kb {rss1}")
    print(f"idle_rss_added_kb {rss1 - rss0}")
    print(f"idle_pss_added_kb {pss1 - pss0}")
    print(f"idle_rss_per_session_kb {(rss1 - rss0) / max(1, n):.1f}")
    for s in socks:
        s.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
