"""Node's imapflow (from npm, tests/integration/imapflow) against Herald
over implicit TLS (issue 11, "Done when"): it lists the mailboxes with
their special-use roles as the server reports them, fetches envelopes,
structures and full sources that match the stored bytes, decodes a base64
attachment, and in IDLE receives the EXISTS for a message delivered over
SMTP within one second. And issue 13's done-when: imapflow with its
qresync option (CONDSTORE and QRESYNC enabled) and COMPRESS on caches a
1,000-message INBOX, another client flags 10 and expunges 5, and
imapflow's SELECT (QRESYNC ...) brings its cache to what the server holds
with exactly those 10 flag changes and the 5 UIDs vanished."""
import base64
import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time

import pytest

from imap_util import (PASSWORD, SPECIAL, USER, deliver_many, login,
                       make_msg, ok, server)

DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "imapflow")


ATTACHMENT = bytes(range(256)) * 20


def messages():
    att = base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n").decode()
    return [
        make_msg(1, subject="=?UTF-8?Q?caf=C3=A9_au_lait?="),
        ("From: Carol <carol@remote.test>\r\n"
         f"To: Alice <{USER}>, dave@remote.test\r\n"
         "Cc: \"Eve, E.\" <eve@remote.test>\r\n"
         "Subject: with an attachment\r\n"
         "Date: Mon, 06 Nov 2023 10:00:00 +0100\r\n"
         "Message-ID: <m2@remote.test>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n"
         "preamble\r\n--xyz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
         "see the file\r\n--xyz\r\n"
         "Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
         "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
         f"Content-Transfer-Encoding: base64\r\n\r\n{att}--xyz--\r\n").encode(),
        make_msg(3),
    ]


class Node:
    """The client script, its JSON lines read by a thread into a queue."""

    def __init__(self, h, *mode):
        self.p = subprocess.Popen(
            ["node", os.path.join(DIR, "client.mjs"), "127.0.0.1",
             str(h.ports["imaps"]), USER, PASSWORD, *mode],
            cwd=DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.q = queue.Queue()
        self.seen = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "garbage", "line": line}
            self.q.put((time.monotonic(), ev))
        self.q.put((time.monotonic(), {"event": "eof"}))

    def until(self, name, timeout=30):
        """Events up to and including the first named one: [(time, ev)]."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                t, ev = self.q.get(timeout=max(0.01, left))
            except queue.Empty:
                raise AssertionError(f"no {name} event in {timeout} s; "
                                     f"got {self.seen[-10:]}")
            self.seen.append(ev)
            got.append((t, ev))
            if ev["event"] == name:
                return got
            if ev["event"] in ("error", "eof"):
                err = self.p.stderr.read() if ev["event"] == "eof" else ""
                raise AssertionError(f"imapflow: {ev} {err[-2000:]}")

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.t.join(10)


def need_imapflow():
    why = os.path.join(DIR, "not-installed.txt")
    if os.path.exists(why):
        with open(why) as f:
            pytest.skip("imapflow not installed: " + f.read().strip())
    if shutil.which("node") is None or not os.path.isdir(
            os.path.join(DIR, "node_modules", "imapflow")):
        pytest.skip("node or imapflow is not installed "
                    "(scripts/install-test-deps.sh installs them)")


def test_imapflow_list_fetch_idle(herald_factory):
    need_imapflow()
    h = server(herald_factory, listeners=("imaps", "smtp"))
    sent = messages()
    deliver_many(h, sent, conns=1)
    stored = h.messages(USER)
    assert len(stored) == 3

    node = Node(h)
    try:
        evs = [ev for _, ev in node.until("idling")]
        caps = next(e for e in evs if e["event"] == "capabilities")["list"]
        # issue 13: imapflow turns COMPRESS=DEFLATE on by itself, so all
        # of what follows runs compressed (test_imap_compress.py has the
        # rest)
        assert next(e for e in evs if e["event"] == "compress")["on"], evs
        assert "IDLE" in caps, caps

        boxes = {b["path"]: b
                 for b in next(e for e in evs if e["event"] == "list")["boxes"]}
        assert "INBOX" in boxes, boxes
        for name, role in SPECIAL.items():
            assert name in boxes, f"{name} not listed: {sorted(boxes)}"
            b = boxes[name]
            # from the server's LIST, not guessed by imapflow from the name
            assert role in b["flags"], b
            assert b["specialUse"] == role and b["source"] == "extension", b
            assert b["subscribed"], b

        msgs = [e for e in evs if e["event"] == "message"]
        assert [m["seq"] for m in msgs] == [1, 2, 3]
        for m, raw in zip(msgs, stored):
            assert m["sha256"] == hashlib.sha256(raw).hexdigest(), m
            assert m["size"] == len(raw) == m["length"]
        env = [m["envelope"] for m in msgs]
        assert env[0]["subject"] == "café au lait"
        assert env[0]["messageId"] == "<m1@remote.test>"
        assert env[0]["from"] == [{"name": "Carol",
                                   "address": "carol@remote.test"}]
        assert env[0]["date"] == "2026-12-06T12:00:00.000Z"
        assert env[1]["to"] == [{"name": "Alice", "address": USER},
                                {"name": "", "address": "dave@remote.test"}]
        assert env[1]["cc"] == [{"name": "Eve, E.",
                                 "address": "eve@remote.test"}]
        assert env[1]["date"] == "2023-11-06T09:00:00.000Z"
        assert msgs[1]["type"] == "multipart/mixed"
        assert env[2]["subject"] == "message 3"

        parts = [e for e in evs if e["event"] == "part"]
        assert len(parts) == 1, parts
        assert parts[0]["part"] == "2" and parts[0]["filename"] == "data.bin"
        assert parts[0]["sha256"] == hashlib.sha256(ATTACHMENT).hexdigest()

        # IDLE: a delivery shows up as EXISTS within a second of its 250
        t0 = time.monotonic()
        deliver_many(h, [make_msg(4)])
        t1 = time.monotonic()
        got = node.until("exists", timeout=10)
        t2, ev = got[-1]
        assert ev["count"] == 4 and ev["path"] == "INBOX", ev
        assert t2 - t1 < 1.0, (f"EXISTS {t2 - t1:.3f} s after the 250 "
                               f"({t2 - t0:.3f} s after the delivery began)")
        node.p.stdin.write("quit\n")
        node.p.stdin.flush()
        node.until("done", timeout=15)
        assert node.p.wait(15) == 0
    finally:
        node.close()
    warn = [e for e in node.seen if e["event"] in ("warn", "log-error")]
    assert not warn, warn


def flag_words(raw):
    """imaplib's FLAGS (...) of one FETCH line, sorted."""
    m = re.search(rb"FLAGS \(([^)]*)\)", raw)
    return sorted(x.decode() for x in m.group(1).split())


def test_imapflow_qresync_done_when(herald_factory):
    """Issue 13's done-when with imapflow (npm), qresync: true: it
    really ENABLEs QRESYNC and uses COMPRESS (its own log of what it sent
    and got says so), caches 1,000 messages, and after B flags 10 and
    expunges 5 its SELECT (QRESYNC (uidvalidity modseq)) reports exactly
    those 10 flag changes and the 5 UIDs as VANISHED (EARLIER): the cache
    it brings up to date equals the mailbox as imaplib reads it."""
    need_imapflow()
    h = server(herald_factory, listeners=("imaps", "smtp"))
    deliver_many(h, [make_msg(i) for i in range(1, 1001)])
    node = Node(h, "qresync")
    try:
        evs = [ev for _, ev in node.until("cached", timeout=120)]
        wire = [e for e in evs if e["event"] == "wire"]
        sent = [e["msg"] for e in wire if e["src"] == "c"]
        got = [e["msg"] for e in wire if e["src"] == "s"]
        enable = [x for x in sent if " ENABLE " in x]
        assert enable and "QRESYNC" in enable[0].split(), sent
        assert [x for x in got if x.startswith("* ENABLED") and
                "QRESYNC" in x.split()], got
        assert [x for x in sent if x.endswith("COMPRESS DEFLATE")], sent
        en = next(e for e in evs if e["event"] == "enabled")
        assert "QRESYNC" in en["list"] and en["compress"], en
        cached = evs[-1]
        assert cached["exists"] == 1000 and len(cached["uids"]) == 1000
        uids = sorted(cached["uids"])

        flagged = uids[100:110]
        gone = uids[500:505]
        b = login(h, tls=True)
        ok(b.select("INBOX"))
        ok(b.uid("STORE", ",".join(map(str, flagged)), "+FLAGS",
                 "(\\Flagged)"))
        ok(b.uid("STORE", ",".join(map(str, gone)), "+FLAGS",
                 "(\\Deleted)"))
        ok(b.expunge())

        node.p.stdin.write("resync\n")
        node.p.stdin.flush()
        evs = [ev for _, ev in node.until("done", timeout=60)]
        wire = [e for e in evs if e["event"] == "wire"]
        sent = [e["msg"] for e in wire if e["src"] == "c"]
        sel = [x for x in sent if " SELECT " in x]
        assert len(sel) == 1 and re.search(
            rf"SELECT INBOX \(QRESYNC \({cached['uidValidity']} "
            rf"{cached['highestModseq']}\)\)$", sel[0]), sent
        assert [x for x in sent if x.endswith("COMPRESS DEFLATE")], sent
        # nothing but the SELECT synchronised it: no FETCH, no SEARCH
        assert not [x for x in sent if re.search(r" (UID )?(FETCH|SEARCH) ",
                                                 x)], sent
        res = next(e for e in evs if e["event"] == "resynced")
        assert res["qresync"], res
        assert res["exists"] == 995, res
        assert sorted(v["uid"] for v in res["vanished"]) == gone, res
        assert all(v["earlier"] for v in res["vanished"]), res
        assert len(res["changed"]) == 10, res["changed"]
        assert sorted(f["uid"] for f in res["changed"]) == flagged
        for f in res["changed"]:
            assert f["flags"] == ["\\Flagged"], f
            assert int(f["modseq"]) > int(cached["highestModseq"]), f

        # the cache as imapflow brought it up to date is the mailbox
        typ, data = b.uid("FETCH", "1:*", "(UID FLAGS)")
        assert typ == "OK"
        truth = {}
        for raw in data:
            m = re.match(rb"\d+ \(UID (\d+) ", raw)
            truth[int(m.group(1))] = flag_words(raw)
        b.logout()
        cache = {int(k): v for k, v in res["cache"].items()}
        assert cache == truth
        assert node.p.wait(15) == 0
    finally:
        node.close()
    warn = [e for e in node.seen if e["event"] in ("warn", "log-error")]
    assert not warn, warn
