#!/usr/bin/python3
"""POP3 download benchmark client: logs in, pipelines RETR 1..N (a writer
thread sends every command while the main thread reads), counts the
responses by their terminating CRLF.CRLF, samples the RSS of the given
server processes meanwhile. Prints one JSON line."""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from procstat import field  # noqa: E402


def rss_kb(pids, key="Rss:"):
    """Sum of Rss (or Pss) over pids, from smaps_rollup, in KiB."""
    return sum(field(f"/proc/{pid}/smaps_rollup", key) for pid in pids)


def main():
    port, user, password, count = (int(sys.argv[1]), sys.argv[2],
                                   sys.argv[3], int(sys.argv[4]))
    pidfile = sys.argv[5] if len(sys.argv) > 5 else None
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    s.sendall(f"USER {user}\r\nPASS {password}\r\n".encode())
    assert f.readline().startswith(b"+OK")
    l = f.readline()
    assert l.startswith(b"+OK"), l
    s.sendall(b"STAT\r\n")
    stat = f.readline().split()
    assert int(stat[1]) >= count, stat
    pids = []
    if pidfile:
        # the processes that serve this session, found by the caller
        # after login (dovecot forks a pop3 process per session)
        with open(pidfile + ".ready", "w") as r:
            r.write("1")
        for _ in range(100):
            try:
                with open(pidfile) as p:
                    pids = [int(x) for x in p.read().split()]
                if pids:
                    break
            except OSError:
                pass
            time.sleep(0.02)
    base = rss_kb(pids)
    peak = base
    peak_pss = rss_kb(pids, "Pss:")
    cmds = b"".join(b"RETR %d\r\n" % i for i in range(1, count + 1))

    def writer():
        s.sendall(cmds)

    t0 = time.monotonic()
    th = threading.Thread(target=writer)
    th.start()
    done = 0
    nbytes = 0
    tail = b""
    last_sample = t0
    # the f buffer may hold bytes already; read through it
    while done < count:
        chunk = f.read1(1 << 20)
        if not chunk:
            raise SystemExit("connection closed after %d messages" % done)
        nbytes += len(chunk)
        buf = tail + chunk
        done += buf.count(b"\r\n.\r\n")
        tail = buf[-4:]
        now = time.monotonic()
        if now - last_sample > 0.05:
            peak = max(peak, rss_kb(pids))
            peak_pss = max(peak_pss, rss_kb(pids, "Pss:"))
            last_sample = now
    elapsed = time.monotonic() - t0
    peak = max(peak, rss_kb(pids))
    th.join()
    s.sendall(b"QUIT\r\n")
    s.close()
    print(json.dumps({"messages": count, "seconds": round(elapsed, 4),
                      "bytes": nbytes, "msgs_per_s": round(count / elapsed, 1),
                      "rss_base_kb": base, "rss_peak_kb": peak,
                      "pss_peak_kb": peak_pss}))


if __name__ == "__main__":
    main()
