#!/usr/bin/python3
"""The IMAP benchmark's load: one client for Herald and Dovecot alike,
a raw socket that follows literals without building responses. Each
subcommand prints one JSON object.

client.py ops PORT USER PASS ROUNDS WORD
    on a fresh connection per round: SELECT INBOX, FETCH 1:* (FLAGS
    ENVELOPE BODYSTRUCTURE), FETCH 1:* BODY.PEEK[], SEARCH TEXT WORD;
    one warm-up round, then the best of ROUNDS for each, in seconds.
client.py append PORT PASS COUNT SEED USER...
    one process per USER APPENDs COUNT corpus messages (synchronising
    literals) to its INBOX, all starting together: messages per second.
client.py corpus-file COUNT SEED FILE
    writes the COUNT messages `append` would send, as "<octets>\n<message>"
    records, for the C APPEND load (append-load.c).
client.py logins PORT PASS SECONDS USER...
    one process per USER repeats connect, LOGIN, SELECT INBOX, LOGOUT
    for SECONDS: logins per second.
client.py resync PORT USER PASS ROUNDS PERMILLE
    issue 13: a client caches INBOX (UIDVALIDITY, HIGHESTMODSEQ, UIDs);
    another session changes PERMILLE/1000 of its messages (four in five
    flagged or unflagged, one in five expunged); then, on fresh
    connections, EXAMINE INBOX (QRESYNC (uidvalidity modseq known-uids))
    against EXAMINE INBOX + FETCH 1:* (UID FLAGS), each from after LOGIN
    (and ENABLE QRESYNC) to its tagged OK: octets both ways and seconds,
    best of ROUNDS after a warm-up round; checks the QRESYNC answer.
client.py idle PID PORT USER PASS N TLS
    N sessions (TLS if TLS is 1) log in, SELECT INBOX and IDLE, each
    from its own loopback source address; then the resident memory of
    PID and its descendants (the whole server).
"""
import asyncio
import json
import multiprocessing
import os
import re
import resource
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from procstat import pss_kb, rss_kb, tree  # noqa: E402

_LIT = re.compile(rb"\{(\d+)\+?\}$")


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Conn:
    def __init__(self, port, tls=False, timeout=600):
        s = socket.create_connection(("127.0.0.1", port), timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            s = tls_context().wrap_socket(s)
        self.s = s
        self.buf = bytearray()
        self.pos = 0
        self.n = 0
        self.untagged = 0
        self.bytes = 0
        self.sent = 0
        self.greeting = self.line()

    def _more(self):
        if self.pos > 1 << 20:
            del self.buf[:self.pos]
            self.pos = 0
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("connection closed")
        self.bytes += len(d)
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                ln = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return ln
            self._more()

    def skip(self, n):
        while len(self.buf) - self.pos < n:
            self._more()
        self.pos += n

    def send(self, data):
        self.sent += len(data)
        self.s.sendall(data)

    def response(self, tag):
        """Reads to the tagged line; counts untagged responses; returns
        the tagged line and the untagged lines' first 200 octets."""
        heads = []
        while True:
            ln = self.line()
            head = ln[:200]
            m = _LIT.search(ln)
            while m:
                self.skip(int(m.group(1)))
                ln = self.line()
                m = _LIT.search(ln)
            if head.startswith(tag + b" "):
                return head, heads
            if head.startswith(b"* "):
                self.untagged += 1
                if len(heads) < 50:
                    heads.append(head)

    def cmd(self, text, ok=True):
        self.n += 1
        tag = b"T%d" % self.n
        self.send(tag + b" " + text.encode() + b"\r\n")
        tagged, heads = self.response(tag)
        if ok and not tagged.startswith(tag + b" OK"):
            raise RuntimeError(f"{text[:60]}: {tagged!r}")
        return tagged, heads

    def login(self, user, pw):
        self.cmd(f'LOGIN "{user}" "{pw}"')

    def append(self, mailbox, data):
        self.n += 1
        tag = b"T%d" % self.n
        self.send(tag + b" APPEND " + mailbox.encode() +
                  b" {%d}\r\n" % len(data))
        ln = self.line()
        if not ln.startswith(b"+"):
            raise RuntimeError(f"APPEND: {ln!r}")
        self.send(data + b"\r\n")
        tagged, _ = self.response(tag)
        if not tagged.startswith(tag + b" OK"):
            raise RuntimeError(f"APPEND: {tagged!r}")

    def logout(self):
        try:
            self.cmd("LOGOUT", ok=False)
        except (EOFError, OSError):
            pass
        self.s.close()


def ops(port, user, pw, rounds, word):
    best = {}
    info = {}
    for r in range(rounds + 1):
        c = Conn(port)
        c.login(user, pw)
        t = {}
        t0 = time.perf_counter()
        _, heads = c.cmd("SELECT INBOX")
        t["select"] = time.perf_counter() - t0
        exists = next(int(h.split()[1]) for h in heads
                      if h.endswith(b" EXISTS"))
        for name, q in (("fetch_meta", "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)"),
                        ("fetch_body", "FETCH 1:* BODY.PEEK[]")):
            c.untagged = 0
            b0 = c.bytes
            t0 = time.perf_counter()
            c.cmd(q)
            t[name] = time.perf_counter() - t0
            info[name + "_responses"] = c.untagged
            info[name + "_bytes"] = c.bytes - b0
        t0 = time.perf_counter()
        _, heads = c.cmd(f"SEARCH TEXT {word}")
        t["search"] = time.perf_counter() - t0
        found = [h for h in heads if h.startswith(b"* SEARCH")]
        info["search_found"] = len(found[0].split()) - 2 if found else -1
        info["exists"] = exists
        c.logout()
        if r == 0:
            continue  # warm-up: caches, Dovecot's index
        for k, v in t.items():
            best[k] = min(best.get(k, v), v)
    return dict(best, **info)


def _uid_set(uids):
    out, i = [], 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        out.append(str(uids[i]) if i == j else f"{uids[i]}:{uids[j]}")
        i = j + 1
    return ",".join(out)


def _lines(c, text):
    """All response lines of a command (literals skipped), for state."""
    c.n += 1
    tag = b"T%d" % c.n
    c.send(tag + b" " + text.encode() + b"\r\n")
    out = []
    while True:
        ln = c.line()
        m = _LIT.search(ln)
        if m:
            c.skip(int(m.group(1)))
        if ln.startswith(tag + b" "):
            if not ln.startswith(tag + b" OK"):
                raise RuntimeError(f"{text[:60]}: {ln!r}")
            return out
        out.append(ln)


def _cache(port, user, pw):
    """What a syncing client keeps: UIDVALIDITY, HIGHESTMODSEQ, UIDs
    (and which are \\Flagged, for _change)."""
    c = Conn(port)
    c.login(user, pw)
    c.cmd("ENABLE QRESYNC")
    sel = _lines(c, "EXAMINE INBOX")
    uv = ms = None
    for ln in sel:
        m = re.match(rb"\* OK \[(UIDVALIDITY|HIGHESTMODSEQ) (\d+)\]", ln)
        if m and m.group(1) == b"UIDVALIDITY":
            uv = int(m.group(2))
        elif m:
            ms = int(m.group(2))
    uids, flagged = [], set()
    for ln in _lines(c, "UID FETCH 1:* (UID FLAGS)"):
        m = re.search(rb"UID (\d+)", ln)
        if m:
            uids.append(int(m.group(1)))
            if b"\\Flagged" in ln:
                flagged.add(uids[-1])
    c.logout()
    return uv, ms, sorted(uids), flagged


def _change(port, user, pw, uids, flagged, permille, r):
    """permille/1000 of the messages: 4 in 5 get \\Flagged toggled, 1 in
    5 is expunged; a different spread each round r."""
    n = max(5, len(uids) * permille // 1000)
    step = max(1, len(uids) // n)
    picked = [uids[(k * step + r * 7) % len(uids)] for k in range(n)]
    picked = sorted(set(picked))
    gone = picked[::5]
    flag = [u for u in picked if u not in set(gone)]
    c = Conn(port)
    c.login(user, pw)
    c.cmd("SELECT INBOX")
    on = [u for u in flag if u not in flagged]
    off = [u for u in flag if u in flagged]
    if on:
        c.cmd(f"UID STORE {_uid_set(on)} +FLAGS.SILENT (\\Flagged)")
    if off:
        c.cmd(f"UID STORE {_uid_set(off)} -FLAGS.SILENT (\\Flagged)")
    c.cmd(f"UID STORE {_uid_set(gone)} +FLAGS.SILENT (\\Deleted)")
    c.cmd(f"UID EXPUNGE {_uid_set(gone)}")
    c.logout()
    return flag, gone


def resync(port, user, pw, rounds, permille):
    best = {}
    info = {}
    for r in range(rounds + 1):
        uv, ms, uids, flagged = _cache(port, user, pw)
        flag, gone = _change(port, user, pw, uids, flagged, permille, r)
        t = {}
        # QRESYNC: one EXAMINE with the client's state
        c = Conn(port)
        c.login(user, pw)
        c.cmd("ENABLE QRESYNC")
        b0, s0 = c.bytes, c.sent
        t0 = time.perf_counter()
        lines = _lines(c, f"EXAMINE INBOX (QRESYNC ({uv} {ms} "
                          f"{_uid_set(uids)}))")
        t["qresync_s"] = time.perf_counter() - t0
        info["qresync_bytes"] = c.bytes - b0 + c.sent - s0
        c.logout()
        fetched = sorted(int(m.group(1)) for m in
                         (re.search(rb" FETCH \(.*UID (\d+)", ln)
                          for ln in lines) if m)
        van = [ln for ln in lines if ln.startswith(b"* VANISHED (EARLIER)")]
        vanished = set()
        for ln in van:
            for part in ln.split()[-1].split(b","):
                lo, _, hi = part.partition(b":")
                vanished.update(range(int(lo), int(hi or lo) + 1))
        # the flag changes, in any case; a server may name more UIDs
        # gone (RFC 7162 3.2.5.2), never fewer
        if fetched != sorted(flag) or not set(gone) <= vanished:
            raise RuntimeError(f"QRESYNC answer: {len(fetched)} FETCH "
                               f"(want {len(flag)}), {len(vanished)} "
                               f"vanished (want {len(gone)})")
        info.update(changed=len(flag), expunged=len(gone),
                    fetches=len(fetched), vanished=len(vanished),
                    qresync_lines=len(lines))
        # the full refetch
        c = Conn(port)
        c.login(user, pw)
        b0, s0 = c.bytes, c.sent
        t0 = time.perf_counter()
        c.cmd("EXAMINE INBOX")
        c.untagged = 0
        c.cmd("FETCH 1:* (UID FLAGS)")
        t["refetch_s"] = time.perf_counter() - t0
        info["refetch_bytes"] = c.bytes - b0 + c.sent - s0
        info["refetch_responses"] = c.untagged
        c.logout()
        if r == 0:
            continue  # warm-up: caches, Dovecot's modseq index
        for k, v in t.items():
            best[k] = min(best.get(k, v), v)
    return dict(best, **info)


def _append_one(port, user, pw, count, seed, start, q):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from corpus import message
    msgs = [message(100000 + i, seed) for i in range(count)]
    c = Conn(port)
    c.login(user, pw)
    start.wait()
    for m in msgs:
        c.append("INBOX", m)
    q.put(time.perf_counter())
    c.logout()


def _logins_one(port, user, pw, seconds, start, q):
    start.wait()
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        c = Conn(port)
        c.login(user, pw)
        c.cmd("SELECT INBOX")
        c.logout()
        n += 1
    q.put((n, time.perf_counter()))


def parallel(target, users, args):
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    q = ctx.Queue()
    ps = [ctx.Process(target=target, args=(args[0], u, *args[1:], start, q))
          for u in users]
    for p in ps:
        p.start()
    time.sleep(1.0)  # every client connected and logged in
    t0 = time.perf_counter()
    start.set()
    out = [q.get(timeout=900) for _ in ps]
    for p in ps:
        p.join(60)
        if p.exitcode != 0:
            raise RuntimeError(f"a client failed ({p.exitcode})")
    return t0, out


async def _idle_one(i, port, user, pw, ctx, sem, ready, stop, errors):
    src = f"127.0.{1 + i // 250}.{1 + i % 250}"
    try:
        async with sem:
            r, w = await asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx, local_addr=(src, 0),
                server_hostname="localhost" if ctx else None)
            await r.readline()

            async def cmd(tag, text):
                w.write(f"{tag} {text}\r\n".encode())
                while True:
                    ln = await r.readline()
                    if not ln:
                        raise EOFError(f"closed after {text}")
                    if ln.startswith(tag.encode() + b" "):
                        if not ln.startswith(tag.encode() + b" OK"):
                            raise RuntimeError(f"{text}: {ln!r}")
                        return
            await cmd("a", f'LOGIN "{user}" "{pw}"')
            await cmd("b", "SELECT INBOX")
            w.write(b"c IDLE\r\n")
            while True:
                ln = await r.readline()
                if not ln:
                    raise EOFError("closed after IDLE")
                if ln.startswith(b"+"):
                    break
                if ln.startswith(b"c "):
                    raise RuntimeError(f"IDLE: {ln!r}")
        ready.append(i)
        await stop.wait()
        w.write(b"DONE\r\nd LOGOUT\r\n")
        w.close()
    except Exception as e:  # counted, the rest go on
        errors.append(repr(e))


def mem(pid):
    pids = tree(pid)
    return len(pids), sum(rss_kb(p) for p in pids), sum(pss_kb(p) for p in pids)


async def idle_main(pid, port, user, pw, n, tls):
    ctx = tls_context() if tls else None
    # a warm-up session, so state built once is not counted per session
    await _idle_warm(port, user, pw, ctx)
    await asyncio.sleep(1)
    procs0, rss0, pss0 = mem(pid)
    sem = asyncio.Semaphore(100)
    ready, errors = [], []
    stop = asyncio.Event()
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(_idle_one(i, port, user, pw, ctx, sem,
                                           ready, stop, errors))
             for i in range(n)]
    while len(ready) + len(errors) < n:
        await asyncio.sleep(0.2)
    t1 = time.perf_counter()
    await asyncio.sleep(2)
    procs1, rss1, pss1 = mem(pid)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"sessions": len(ready), "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "setup_s": round(t1 - t0, 2), "processes": [procs0, procs1],
            "rss_before_kb": rss0, "rss_kb": rss1, "pss_before_kb": pss0,
            "pss_kb": pss1,
            "rss_per_session_kb": round((rss1 - rss0) / max(1, len(ready)), 2),
            "pss_per_session_kb": round((pss1 - pss0) / max(1, len(ready)), 2)}


async def _idle_warm(port, user, pw, ctx):
    stop = asyncio.Event()
    stop.set()
    errors = []
    await _idle_one(0, port, user, pw, ctx, asyncio.Semaphore(1), [], stop,
                    errors)
    if errors:
        raise RuntimeError(errors[0])


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "ops":
        r = ops(int(a[1]), a[2], a[3], int(a[4]), a[5])
    elif a[0] == "append":
        count = int(a[3])
        t0, ends = parallel(_append_one, a[5:], (int(a[1]), a[2], count,
                                                 int(a[4])))
        secs = max(ends) - t0
        total = count * len(a[5:])
        r = {"messages": total, "seconds": round(secs, 3),
             "rate": round(total / secs, 1)}
    elif a[0] == "corpus-file":
        from corpus import message
        with open(a[3], "wb") as f:
            for i in range(int(a[1])):
                m = message(100000 + i, int(a[2]))
                f.write(b"%d\n" % len(m) + m)
        return
    elif a[0] == "logins":
        t0, out = parallel(_logins_one, a[4:], (int(a[1]), a[2],
                                                float(a[3])))
        total = sum(n for n, _ in out)
        secs = max(end for _, end in out) - t0
        r = {"logins": total, "seconds": round(secs, 3),
             "rate": round(total / secs, 1)}
    elif a[0] == "resync":
        r = resync(int(a[1]), a[2], a[3], int(a[4]), int(a[5]))
    elif a[0] == "idle":
        n = int(a[5])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 256:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (max(soft, min(hard, n + 1024)), hard))
        r = asyncio.run(idle_main(int(a[1]), int(a[2]), a[3], a[4], n,
                                  a[6] == "1"))
    else:
        sys.exit(__doc__)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
