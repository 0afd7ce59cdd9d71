#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Herald's CPU per message for FETCH 1:* BODY.PEEK[] and for APPEND, in
terms that hold on a shared machine: the worker's CPU time (the sum of
its threads' schedstat run times), its task switches, and with
--callgrind its instructions (Ir). Wall time is not reported.

bench/imap/cpu.py [-n 2000] [-r 3] [-a 200] [-c 10] [-p "fetch append"]
                  [--bin build/herald] [--callgrind DIR] [--perf FILE]
                  [--no-index]

Starts its own Herald (tests/integration/harness.py, one worker; --bin
picks the build, whose own CLI makes the data directory), then:
- fetch: fills INBOX over SMTP with -n messages of the benchmark corpus
  (bench/imap/corpus.py, seed 1), waits for the search indexer, then -r
  times FETCH 1:* BODY.PEEK[] on one connection: the best round's worker
  CPU per message;
- append: -c clients (one account each, one thread each) APPEND -a
  corpus messages (seed 3) each with synchronising literals, as
  bench/imap/run.sh's append phase does: worker CPU, task switches per
  APPEND, and both per thread (the loop is the thread named after the
  binary, herald-pool, herald-writer). The search indexer's rounds come
  after a burst (store-search.c) and mostly fall outside the measure;
  --no-index turns the index off so none does.
--callgrind DIR: the same again with the server under valgrind
--tool=callgrind, twice (FETCH 1 and 3 times; APPEND -a and 2 x -a per
client), each run a fresh start on the same data directory; Ir per
message is the difference of the two runs' worker totals (start-up and
logins fall out), the second dump kept in DIR for callgrind_annotate.
--perf FILE: perf record -g of the worker while measured; STRACE_OUT=FILE
in the environment: strace -c -f of it instead (system calls per APPEND;
strace slows the server, so its CPU figures are then meaningless).
"""
import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench", "imap"))


def _bin_arg():
    """--bin's value, before harness reads HERALD_BIN: the CLI that makes
    the data directory must be the same build as the server (its schema
    version)."""
    for k, v in enumerate(sys.argv):
        if v == "--bin" and k + 1 < len(sys.argv):
            return os.path.abspath(sys.argv[k + 1])
        if v.startswith("--bin="):
            return os.path.abspath(v[6:])
    return os.path.join(ROOT, "build", "herald")


os.environ["HERALD_BIN"] = _bin_arg()
import corpus  # noqa: E402
from harness import Herald  # noqa: E402
from imap_util import PASSWORD, USER, server  # noqa: E402

APP_USERS = [f"app{k}@example.test" for k in range(10)]


def switches(pid):
    """Context switches of the process's threads (voluntary and not):
    each hop between threads costs one or two."""
    n = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for ln in f:
                    if "ctxt_switches:" in ln:
                        n += int(ln.split()[1])
        except (OSError, ValueError):
            continue
    return n


def thread_cpu(pid):
    """CPU seconds per thread name (herald-pool, herald-writer, ...)."""
    out = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                t = int(f.read().split()[0]) / 1e9
            sw = 0
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for ln in f:
                    if "ctxt_switches:" in ln:
                        sw += int(ln.split()[1])
        except (OSError, ValueError):
            continue
        out[name] = out.get(name, 0) + t
        out[name + " sw"] = out.get(name + " sw", 0) + sw
    return out


def cpu_s(pid):
    """The process's CPU time in ns resolution: the sum of its threads'
    schedstat run times (/proc/PID/stat's ticks are 10 ms; the worker's
    pool and store threads live as long as it does)."""
    t = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                t += int(f.read().split()[0])
        except (OSError, ValueError):
            continue
    return t / 1e9


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.n = 0

    def cmd(self, tag, text, literal=None):
        """Sends the command (with a synchronising literal) and reads to
        its tagged reply."""
        if literal is not None:
            self.s.sendall(f"{tag} {text} {{{len(literal)}}}\r\n".encode())
            ln = self.f.readline()
            assert ln.startswith(b"+"), ln
            self.s.sendall(literal + b"\r\n")
        else:
            self.s.sendall(f"{tag} {text}\r\n".encode())
        while True:
            ln = self.f.readline()
            if not ln:
                raise EOFError
            if ln.endswith(b"}\r\n") and b"{" in ln:
                self.f.read(int(ln[ln.rindex(b"{") + 1:-3]))
                self.n += 1
                continue
            if ln.startswith(tag.encode() + b" "):
                assert ln.startswith(tag.encode() + b" OK"), ln
                return ln

    def close(self):
        self.s.sendall(b"O LOGOUT\r\n")
        self.s.close()


PERF = None   # --perf FILE: perf record of the worker around each measure


class Counter:
    """Worker CPU around a measured command."""

    def __init__(self, pid):
        self.pid = pid
        self.perf = None

    def start(self):
        if os.environ.get("STRACE_OUT"):
            self.perf = subprocess.Popen(
                ["strace", "-c", "-f", "-o", os.environ["STRACE_OUT"],
                 "-p", str(self.pid)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            time.sleep(1)
        elif PERF:
            self.perf = subprocess.Popen(
                ["perf", "record", "-q", "-F", "4000", "-g", "-o", PERF,
                 "-p", str(self.pid)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            time.sleep(1)
        self.cpu0 = cpu_s(self.pid)
        self.sw0 = switches(self.pid)
        self.th0 = thread_cpu(self.pid)

    def stop(self):
        cpu = cpu_s(self.pid) - self.cpu0
        self.switches = switches(self.pid) - self.sw0
        th = thread_cpu(self.pid)
        self.threads = {k: v - self.th0.get(k, 0) for k, v in th.items()}
        if self.perf:
            self.perf.send_signal(signal.SIGINT)
            self.perf.wait(60)
        return cpu


def fetch(h, n, rounds):
    """Worker CPU of the best of rounds FETCH 1:* BODY.PEEK[], on one
    connection (a login's password hash would outweigh a FETCH)."""
    best = None
    c = Conn(h.ports["imap"])
    c.cmd("L", f'LOGIN "{USER}" "{PASSWORD}"')
    c.cmd("S", "SELECT INBOX")
    for _ in range(rounds):
        ctr = Counter(h.pids()[1][0])
        c.n = 0
        ctr.start()
        c.cmd("F", "FETCH 1:* BODY.PEEK[]")
        cpu = ctr.stop()
        assert c.n == n, (c.n, n)
        best = cpu if best is None else min(best, cpu)
    c.close()
    return best


def wait_indexed(h):
    """Until the search indexer has nothing queued: its work would
    otherwise count in whatever runs next."""
    db = os.path.join(h.data_dir, "herald.db")
    if "search_index = no" in open(h.conf).read():
        return
    for _ in range(6000):
        con = sqlite3.connect(db, timeout=30)
        try:
            left = con.execute("SELECT count(*) FROM search_queue"
                               ).fetchone()[0]
        finally:
            con.close()
        if left == 0:
            return
        time.sleep(0.1)
    sys.exit("the search indexer did not catch up")


def append(h, per_client, clients, first):
    """Worker CPU of clients x per_client APPENDs (corpus messages
    first.. of seed 3)."""
    users = APP_USERS[:clients]
    msgs = [corpus.message(100000 + first + i, 3) for i in range(per_client)]
    conns = []
    for u in users:
        c = Conn(h.ports["imap"])
        c.cmd("L", f'LOGIN "{u}" "{PASSWORD}"')
        conns.append(c)
    go = threading.Barrier(clients + 1)
    errors = []

    def run(c):
        go.wait()
        try:
            for k, m in enumerate(msgs):
                c.cmd(f"A{k}", "APPEND INBOX", m)
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=run, args=(c,)) for c in conns]
    for t in ts:
        t.start()
    ctr = Counter(h.pids()[1][0])
    ctr.start()
    go.wait()
    for t in ts:
        t.join()
    cpu = ctr.stop()
    append.switches = ctr.switches
    append.threads = ctr.threads
    if errors:
        sys.exit(f"append: {errors[0]!r}")
    for c in conns:
        c.close()
    return cpu, sum(len(m) for m in msgs) / len(msgs)


def callgrind_ir(h, cg_dir, wrap, work):
    """Ir of the worker over a run of the server under callgrind that
    does work(h): the worker's dump at exit (cg.PID)."""
    binary = h.binary
    h.stop(timeout=300)
    h.binary = wrap
    h.start(timeout=300)
    for _ in range(3000):
        if h.pids()[1]:
            break
        time.sleep(0.1)
    worker = h.pids()[1][0]
    work(h)
    wait_indexed(h)
    h.stop(timeout=300)
    h.binary = binary
    path = os.path.join(cg_dir, f"cg.{worker}")
    ir = None
    for ln in open(path, errors="replace"):
        if ln.startswith("totals:") or ln.startswith("summary:"):
            ir = int(ln.split()[1])
    h.start()
    return ir, path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-r", type=int, default=3)
    ap.add_argument("-a", type=int, default=200)
    ap.add_argument("-c", type=int, default=10)
    ap.add_argument("-p", default="fetch append")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "herald"))
    ap.add_argument("--callgrind", metavar="DIR")
    ap.add_argument("--perf", metavar="FILE",
                    help="perf record -g of the worker while measured")
    ap.add_argument("--no-index", action="store_true",
                    help="[store] search_index = no: the indexer's work "
                    "(after a burst, at lower priority) left out")
    a = ap.parse_args()

    global PERF
    PERF = a.perf
    binary = os.path.abspath(a.bin)
    wrap = None
    if a.callgrind:
        os.makedirs(a.callgrind, exist_ok=True)
        os.chmod(a.callgrind, 0o777)  # workers run as herald
        fd, wrap = tempfile.mkstemp(prefix="herald-cg-", suffix=".sh")
        os.write(fd, (f"#!/bin/sh\nexec valgrind --tool=callgrind -q "
                      f"--callgrind-out-file={a.callgrind}/cg.%p "
                      f"{binary} \"$@\"\n").encode())
        os.close(fd)
        os.chmod(wrap, 0o755)
    h = server(lambda **kw: Herald(**kw), listeners=("imap", "smtp"),
               binary=binary, workers=1, users=(USER, *APP_USERS),
               sections={"store": "search_index = no"} if a.no_index
               else None)
    try:
        print(f"{binary}")
        if "fetch" in a.p:
            corpus.fill(h.ports["smtp"], USER, a.n, 1)
            wait_indexed(h)
            cpu = fetch(h, a.n, a.r)
            line = (f"fetch: {a.n} messages, worker CPU "
                    f"{cpu * 1e6 / a.n:.1f} us/msg")
            if a.callgrind:
                # the difference of 3 FETCHes and 1: start-up, LOGIN and
                # SELECT fall out
                ir1, _ = callgrind_ir(h, a.callgrind, wrap,
                                      lambda h: fetch(h, a.n, 1))
                ir3, path = callgrind_ir(h, a.callgrind, wrap,
                                         lambda h: fetch(h, a.n, 3))
                line += f", {(ir3 - ir1) / 2 / a.n:,.0f} Ir/msg ({path})"
            print(line)
        if "append" in a.p:
            total = a.a * a.c
            cpu, size = append(h, a.a, a.c, 0)
            wait_indexed(h)
            line = (f"append: {a.c} clients x {a.a} ({size:.0f} octets "
                    f"mean), worker CPU {cpu * 1e6 / total:.1f} us/APPEND, "
                    f"{append.switches / total:.1f} switches/APPEND ("
                    + ", ".join(f"{k} {v * 1e6 / total:.0f} us"
                                for k, v in sorted(append.threads.items())
                                if v > 0 and not k.endswith(" sw"))
                    + "; switches " + ", ".join(
                        f"{k[:-3]} {v / total:.2f}"
                        for k, v in sorted(append.threads.items())
                        if v > 0 and k.endswith(" sw")) + ")")
            if a.callgrind:
                ir1, _ = callgrind_ir(h, a.callgrind, wrap,
                                      lambda h: append(h, a.a, a.c, 1000))
                ir2, path = callgrind_ir(h, a.callgrind, wrap,
                                         lambda h: append(h, 2 * a.a, a.c,
                                                          2000))
                line += f", {(ir2 - ir1) / total:,.0f} Ir/APPEND ({path})"
            print(line)
    finally:
        h.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {h.dir}")
        else:
            h.cleanup()
        if wrap:
            os.unlink(wrap)


if __name__ == "__main__":
    main()
