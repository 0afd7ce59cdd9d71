"""The queue runner on its own (issue 12 items 2, 3, 5, 6): a Herald whose
queued mail goes, through [transport] or MX routing served by a real
unbound, to Postfix's smtp-sink or to a second Herald on loopback ports.
Delivery at once, per-recipient outcomes, retries with the schedule in
seconds, expiry and delay DSNs, null MX / NXDOMAIN / SERVFAIL, a kill -9
while a message is in flight, and the `herald queue` commands. The
two-server "Done when" tests are test_outbound_e2e.py."""
import glob
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

import pytest

from harness import HERALD_BIN, free_port

SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"

pytestmark = pytest.mark.skipif(not os.path.exists(SINK),
                                reason="Postfix's smtp-sink is not installed")


class Sink:
    """smtp-sink on 127.0.0.1:port; every message it takes is a file in
    self.dir (-d). opts: its options (-r RCPT: 4xx to RCPT, ...)."""

    def __init__(self, port=None, opts=(), host="127.0.0.1"):
        self.port = port or free_port(host)
        self.host = host
        self.dir = tempfile.mkdtemp(prefix="herald-sink-")
        os.chmod(self.dir, 0o777)
        self.opts = list(opts)
        self.proc = None

    def start(self):
        where = f"[{self.host}]" if ":" in self.host else self.host
        argv = [SINK, "-d", os.path.join(self.dir, "%M."), "-u", "nobody",
                *self.opts, f"{where}:{self.port}", "64"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5
        import socket
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), 0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("smtp-sink did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def messages(self):
        out = []
        for p in sorted(glob.glob(os.path.join(self.dir, "*"))):
            with open(p, "rb") as f:
                data = f.read()
            # a transaction that ended before its data leaves an empty
            # file
            if data:
                out.append(data)
        return out

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def sinks():
    made = []

    def make(**kw):
        s = Sink(**kw)
        made.append(s)
        return s.start()

    yield make
    for s in made:
        s.cleanup()


FAST = "retry_min = 1s\nretry_max = 2s\nconnection_cache_time = 0\n"


def sender(herald_factory, queue=FAST, transport=None, dns=None,
           users=("alice",)):
    sections = {"queue": queue}
    if transport:
        sections["transport"] = "\n".join(f"{d} = {t}"
                                          for d, t in transport.items())
    if dns is not None:
        sections["dns"] = dns.herald_config()
    h = herald_factory(listeners=("smtp",), sections=sections)
    h.add_domain("example.test")
    for u in users:
        h.add_user(f"{u}@example.test")
    return h


def inject(h, rcpts, sender_addr="alice@example.test", body=None, extra=()):
    msg = body or (f"From: {sender_addr or 'MAILER-DAEMON@example.test'}\n"
                   f"To: {', '.join(rcpts)}\nSubject: queue test\n"
                   f"Message-ID: <{time.monotonic_ns()}@example.test>\n\n"
                   "hello\n").encode()
    p = subprocess.run([HERALD_BIN, "sendmail", "-C", h.conf,
                        "-f", sender_addr or "<>", *extra, *rcpts],
                       input=msg, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return msg


def queue_rows(h):
    db = sqlite3.connect(os.path.join(h.data_dir, "herald.db"), timeout=10)
    try:
        return db.execute("SELECT r.address, r.status, r.attempts,"
                          " r.last_error, r.next_attempt, r.dsn_status"
                          " FROM queue_rcpts r ORDER BY r.id").fetchall()
    finally:
        db.close()


def wait_for(pred, timeout=15.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def log_lines(h, event, want=0, timeout=5.0):
    """The runner's `queue EVENT` lines; with want, once there are that
    many or after a bounded wait. The runner writes an info line (sent)
    at the end of its loop turn (docs/logging.md), and the store writer
    may drop the queue row a test waited on before that."""
    def lines():
        return [l for l in h.log().splitlines() if f" queue {event} " in l]
    if want:
        wait_for(lambda: len(lines()) >= want, timeout)
    return lines()


# ---- delivery through [transport] ----

def test_delivered_at_once_and_logged(herald_factory, sinks):
    """New mail goes out at once (the queue counter wakes the runner, no
    polling delay); one transaction for both recipients of the domain;
    a Postfix-shaped line per recipient; the queue row goes."""
    sink = sinks()
    h = sender(herald_factory,
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}"})
    h.start()
    assert h.wait_log("queue runner-started")
    t0 = time.monotonic()
    inject(h, ["bob@example.org", "carol@example.org"])
    assert wait_for(lambda: len(log_lines(h, "sent")) == 2, 10), h.log()
    assert time.monotonic() - t0 < 3
    assert wait_for(lambda: queue_rows(h) == [], 5)
    msgs = sink.messages()
    assert len(msgs) == 1, msgs
    assert b"bob@example.org" in msgs[0] and b"carol@example.org" in msgs[0]
    line = log_lines(h, "sent")[0]
    assert re.search(r" queue sent to=<(bob|carol)@example\.org> "
                     rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{sink.port} "
                     r"delay=[0-9.]+ delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ "
                     r"tls=none cert=none dsn=2\.0\.0 status=sent "
                     r"\(250 .*\)$",
                     line), line
    h.cli("queue", "list")


def test_4xx_then_success(herald_factory, sinks):
    """A 4xx defers with the remote's reply kept (queue show, mailq);
    after the remote recovers and a flush, it is delivered once."""
    port = free_port()
    sink = sinks(port=port, opts=["-r", "RCPT"])
    h = sender(herald_factory, queue="retry_min = 1h\nretry_max = 2h\n",
               transport={"example.org": f"smtp:[127.0.0.1]:{port}"})
    h.start()
    inject(h, ["bob@example.org"])
    rows = wait_for(lambda: [r for r in queue_rows(h)
                             if r[1] == "deferred"], 10)
    assert rows, h.log()
    addr, status, attempts, last_error, next_attempt, dsn = rows[0]
    assert attempts == 1 and last_error.startswith("450") and dsn == "4.3.0"
    assert next_attempt >= time.time() + 3000
    show = h.cli("queue", "show", "1").stdout
    assert "state: deferred" in show and "450 4.3.0" in show, show
    assert "relay: 127.0.0.1[127.0.0.1]:" in show
    mailq = h.cli("mailq").stdout
    assert "(450 4.3.0" in mailq and "bob@example.org" in mailq, mailq
    assert log_lines(h, "deferred")
    sink.stop()
    sink2 = sinks(port=port)
    h.cli("queue", "flush")
    assert wait_for(lambda: queue_rows(h) == [], 10), h.log()
    assert len(sink2.messages()) == 1
    assert len(sink.messages()) == 0


def test_per_recipient_5xx_bounces_only_that_one(herald_factory):
    """A second Herald as the remote: an unknown user gets 550 at RCPT;
    only that recipient bounces (the sender, ours, finds the DSN in her
    INBOX, quoting the 550), the other is delivered."""
    rcv = herald_factory(listeners=("smtp",), hostname="mx.example.org")
    rcv.add_domain("example.org")
    rcv.add_user("bob@example.org")
    rcv.start()
    h = sender(herald_factory, transport={
        "example.org": f"smtp:[127.0.0.1]:{rcv.ports['smtp']}"})
    h.start()
    inject(h, ["bob@example.org", "nobody@example.org"])
    assert wait_for(lambda: queue_rows(h) == [], 15), h.log()
    assert len(rcv.messages("bob@example.org")) == 1
    dsn = wait_for(lambda: h.messages("alice@example.test"), 10)
    assert dsn, h.log()
    text = dsn[0].decode(errors="replace")
    assert "nobody@example.org" in text and "550" in text, text
    assert "multipart/report" in text
    assert "bob@example.org" not in text.split("Final-Recipient")[-1] or \
        text.count("Final-Recipient") == 1
    assert len(log_lines(h, "sent", 1)) == 1
    assert len(log_lines(h, "bounced")) == 1


def test_null_sender_never_bounced(herald_factory, sinks):
    """A bounce that bounces is logged and dropped: no DSN to <>."""
    sink = sinks(opts=["-f", "RCPT"])
    h = sender(herald_factory,
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}"})
    h.start()
    inject(h, ["bob@example.org"], sender_addr="")
    assert wait_for(lambda: queue_rows(h) == [], 10), h.log()
    assert log_lines(h, "bounced")
    assert h.wait_log("dsn-dropped"), h.log()
    assert "reason=null-sender" in h.log()
    assert h.messages("alice@example.test") == []


# ---- retries ----

def test_retry_schedule_and_expiry(herald_factory, sinks):
    """Nothing listens: each attempt defers with the connection error,
    intervals grow (1 s, 2 s, capped at 2 s), the delay warning comes once,
    and after max_lifetime the recipient bounces with a DSN to the
    sender."""
    port = free_port()
    h = sender(herald_factory,
               queue="retry_min = 1s\nretry_max = 2s\nmax_lifetime = 6s\n"
                     "delay_warning = 2s\n",
               transport={"example.org": f"smtp:[127.0.0.1]:{port}"})
    h.start()
    inject(h, ["bob@example.org"])
    assert wait_for(lambda: queue_rows(h) == [], 20), h.log()
    deferred = log_lines(h, "deferred")
    assert 3 <= len(deferred) <= 7, deferred
    assert all("status=deferred (" in l and str(port) in l
               for l in deferred), deferred
    bounced = log_lines(h, "bounced")
    assert len(bounced) == 1 and "dsn=4.4.7" in bounced[0], bounced
    got = wait_for(lambda: len(h.messages("alice@example.test")) == 2, 10)
    assert got, h.log()
    texts = [m.decode(errors="replace") for m in
             h.messages("alice@example.test")]
    assert any("Action: delayed" in t for t in texts), texts
    assert any("Action: failed" in t for t in texts), texts


def test_kill_during_delivery_loses_and_resends_nothing(herald_factory,
                                                        sinks):
    """kill -9 while a message waits for the remote's DATA reply: after
    the restart it is delivered; the one acknowledged before is not sent
    again."""
    sink = sinks(opts=["-W", "DATA:3"])
    h = sender(herald_factory,
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}"})
    h.start()
    inject(h, ["bob@example.org"])
    assert wait_for(lambda: len(log_lines(h, "sent")) == 1, 15), h.log()
    assert wait_for(lambda: queue_rows(h) == [], 5)
    inject(h, ["carol@example.org"])
    time.sleep(1.5)
    assert len(sink.messages()) == 1
    os.killpg(h.proc.pid, signal.SIGKILL)
    h.proc.wait()
    assert [r[1] for r in queue_rows(h)] == ["pending"]
    h.start()
    assert wait_for(lambda: queue_rows(h) == [], 15), h.log()
    msgs = sink.messages()
    assert len(msgs) == 2, msgs
    assert sum(b"carol@example.org" in m for m in msgs) == 1
    assert sum(b"bob@example.org" in m for m in msgs) == 1


# ---- routing through DNS ----

def test_mx_routing(herald_factory, sinks, dns_server_factory):
    """MX by preference: a dead best MX is skipped for the next one;
    null MX bounces at once (5.1.10); NXDOMAIN bounces (5.1.2); SERVFAIL
    defers."""
    port = free_port("127.0.0.1")
    live = sinks(port=port, host="127.0.0.1")
    dns = dns_server_factory(records={
        "example.org": [("MX", "10 dead.example.org."),
                        ("MX", "20 live.example.org.")],
        "dead.example.org": [("A", "127.0.0.9")],
        "live.example.org": [("A", "127.0.0.1")],
        "nullmx.example": [("MX", "0 .")],
        "implicit.example": [("A", "127.0.0.1")],
    }, refused_zones=["broken.example"])
    transport = {d: f"smtp:{d}:{port}" for d in
                 ("example.org", "nullmx.example", "nx.example",
                  "broken.example", "implicit.example")}
    h = sender(herald_factory, transport=transport, dns=dns,
               queue="retry_min = 1h\nretry_max = 1h\n")
    h.start()
    inject(h, ["bob@example.org", "a@nullmx.example", "b@nx.example",
               "c@broken.example", "d@implicit.example"])

    def settled():
        rows = {r[0]: r for r in queue_rows(h)}
        return rows if rows.get("c@broken.example", (0, ""))[1] == \
            "deferred" and len(log_lines(h, "sent")) == 2 and \
            len(log_lines(h, "bounced")) == 2 else None
    rows = wait_for(settled, 20)
    assert rows, h.log() + repr(queue_rows(h))
    assert "4.4.3" == rows["c@broken.example"][5]
    bounced = "\n".join(log_lines(h, "bounced"))
    assert "to=<a@nullmx.example>" in bounced and "dsn=5.1.10" in bounced
    assert "to=<b@nx.example>" in bounced and "dsn=5.1.2" in bounced
    sent = "\n".join(log_lines(h, "sent"))
    assert f"relay=live.example.org[127.0.0.1]:{port}" in sent, sent
    assert "to=<d@implicit.example>" in sent
    assert len(live.messages()) == 2


# ---- queue management ----

def test_queue_commands(herald_factory, sinks):
    """hold keeps a message back (flush does not send it), release sends
    it; bounce gives up with a DSN; delete removes silently; list and show
    name each recipient's state."""
    port = free_port()
    h = sender(herald_factory, queue="retry_min = 1h\nretry_max = 1h\n",
               transport={"example.org": f"smtp:[127.0.0.1]:{port}"})
    h.start()
    inject(h, ["bob@example.org"])
    assert wait_for(lambda: [r for r in queue_rows(h)
                             if r[1] == "deferred"], 10), h.log()
    out = h.cli("queue", "list").stdout
    assert "to=<bob@example.org> deferred attempts=1" in out, out
    assert "Connection refused" in out or "connect" in out, out
    assert h.cli("queue", "hold", "1").returncode == 0
    assert "!" in h.cli("mailq").stdout.splitlines()[1]
    sink = sinks(port=port)
    h.cli("queue", "flush")
    time.sleep(1.5)
    assert sink.messages() == []
    h.cli("queue", "release", "1")
    assert wait_for(lambda: queue_rows(h) == [], 10), h.log()
    assert len(sink.messages()) == 1
    # bounce and delete
    sink.stop()
    inject(h, ["carol@example.org"])
    inject(h, ["dave@example.org"])
    assert wait_for(lambda: len([r for r in queue_rows(h)
                                 if r[1] == "deferred"]) == 2, 10), h.log()
    ids = [l.split()[0] for l in h.cli("queue", "list").stdout.splitlines()
           if l[:1].isdigit()]
    assert len(ids) == 2
    show = h.cli("queue", "show", ids[0]).stdout
    assert "recipient: <carol@example.org>" in show
    assert "state: deferred" in show and "last reply:" in show
    h.cli("queue", "bounce", ids[0])
    h.cli("queue", "delete", ids[1])
    assert wait_for(lambda: queue_rows(h) == [], 10), h.log()
    dsn = wait_for(lambda: h.messages("alice@example.test"), 10)
    assert len(dsn) == 1 and b"carol@example.org" in dsn[0]
    assert b"dave@example.org" not in dsn[0]
    r = h.cli("queue", "show", "999", check=False)
    assert r.returncode == 1 and "no queued message" in r.stderr
    assert h.cli("queue", "frobnicate", check=False).returncode == 2


def test_relayhost_takes_everything(herald_factory, sinks):
    """relayhost: every domain through one server, so recipients of
    several domains share one transaction; [transport] still wins."""
    relay = sinks()
    other = sinks()
    h = sender(herald_factory,
               queue=FAST + f"relayhost = [127.0.0.1]:{relay.port}\n"
                            "relayhost_tls = none\n",
               transport={"lmtp.example": f"smtp:[127.0.0.1]:{other.port}"})
    h.start()
    inject(h, ["bob@example.org", "carol@example.net", "dan@lmtp.example"])
    assert wait_for(lambda: queue_rows(h) == [], 10), h.log()
    msgs = relay.messages()
    assert len(msgs) == 1, msgs
    assert b"bob@example.org" in msgs[0] and b"carol@example.net" in msgs[0]
    assert len(other.messages()) == 1
    # the queue row goes before the line is written (docs/logging.md)
    assert h.wait_log(f"relay=127.0.0.1[127.0.0.1]:{relay.port}", 5), \
        h.log()


def test_relayhost_auth_file_must_be_private(herald_factory, tmp_path):
    """A credentials file other users can read is refused where it is
    named."""
    f = tmp_path / "relay-auth"
    f.write_text("user\nsecret\n")
    f.chmod(0o644)
    h = herald_factory(listeners=(), sections={"queue": (
        "relayhost = [127.0.0.1]:587\n"
        f"relayhost_auth = {f}\n")})
    r = h.cli("config", "check", check=False)
    assert r.returncode == 1 and "readable by every user" in \
        (r.stdout + r.stderr), r.stdout + r.stderr
    f.chmod(0o600)
    assert h.cli("config", "check", check=False).returncode == 0


def test_success_dsn_when_remote_has_no_dsn(herald_factory, sinks):
    """NOTIFY=SUCCESS and a remote that does not offer DSN: the sender
    gets a "relayed" report from us (RFC 3461 4.1)."""
    sink = sinks(opts=["-N"])
    h = sender(herald_factory,
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}"})
    h.start()
    inject(h, ["bob@example.org"], extra=("-N", "success"))
    assert wait_for(lambda: queue_rows(h) == [], 10), h.log()
    dsn = wait_for(lambda: h.messages("alice@example.test"), 10)
    assert dsn, h.log()
    assert b"Action: relayed" in dsn[0]


def test_ipv6_ptr_refusal_retried_over_ipv4(herald_factory, sinks,
                                           dns_server_factory):
    """CLIENT-QUIRKS: a 5xx over IPv6 that blames the missing PTR is not a
    bounce: the same MX is tried over IPv4 at once."""
    port = free_port()
    v6 = sinks(port=port, host="::1", opts=[
        "-f", "RCPT", "-B", "550 5.7.1 This message does not meet IPv6 "
        "sending guidelines regarding PTR records"])
    v4 = sinks(port=port)
    dns = dns_server_factory(records={
        "v6.example": [("MX", "10 mx.v6.example.")],
        "mx.v6.example": [("AAAA", "::1"), ("A", "127.0.0.1")],
    })
    h = sender(herald_factory, dns=dns,
               transport={"v6.example": f"smtp:v6.example:{port}"})
    h.start()
    inject(h, ["bob@v6.example"])
    assert wait_for(lambda: queue_rows(h) == [], 15), h.log()
    assert len(v4.messages()) == 1
    assert v6.messages() == []
    deferred = log_lines(h, "deferred")
    assert len(deferred) == 1 and "relay=mx.v6.example[::1]" in deferred[0]
    sent = log_lines(h, "sent", 1)
    assert len(sent) == 1 and "relay=mx.v6.example[127.0.0.1]" in sent[0]
    assert not log_lines(h, "bounced")


def test_runner_restarted_and_reloaded(herald_factory, sinks):
    """The runner is a supervised process: killed, it comes back; on
    SIGHUP a new one takes over (one at a time, by its lock); mail goes
    out after each."""
    sink = sinks()
    h = sender(herald_factory,
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}"})
    h.start()
    assert h.wait_log("queue runner-started")
    first = h.runner_pid()
    assert first not in h.pids()[1]
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: h.runner_pid() not in (None, first), 15), h.log()
    inject(h, ["bob@example.org"])
    assert wait_for(lambda: len(sink.messages()) == 1, 10), h.log()
    second = h.runner_pid()
    h.signal(signal.SIGHUP)
    assert wait_for(lambda: h.runner_pid() not in (None, second), 15)
    assert wait_for(lambda: h.log().count("queue runner-started") == 3, 10), h.log()
    inject(h, ["carol@example.org"])
    assert wait_for(lambda: len(sink.messages()) == 2, 10), h.log()
    assert wait_for(lambda: queue_rows(h) == [], 5)


def test_destination_rate(herald_factory, sinks):
    """destination_rate = 2: four messages to one destination take at
    least 1.5 s from the first transaction to the last."""
    sink = sinks()
    h = sender(herald_factory, queue=FAST + "destination_rate = 2\n",
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}"})
    h.start()
    assert h.wait_log("queue runner-started")
    for i in range(4):
        inject(h, [f"u{i}@example.org"])
    assert wait_for(lambda: len(log_lines(h, "sent")) == 4, 20), h.log()
    stamps = [l.split()[0] for l in log_lines(h, "sent")]

    def secs(t):
        hh, mm, ss = t.split("T")[1].rstrip("Z").split(":")
        return int(hh) * 3600 + int(mm) * 60 + float(ss)
    assert secs(stamps[-1]) - secs(stamps[0]) >= 1.4, stamps
    assert len(sink.messages()) == 4


def test_connection_reused_for_the_next_message(herald_factory):
    """Three messages for one destination, one connection at a time: all
    three go over one connection (the remote, a second Herald, logs one
    session)."""
    rcv = herald_factory(listeners=("smtp",), hostname="mx.example.org")
    rcv.add_domain("example.org")
    rcv.add_user("bob@example.org")
    rcv.start()
    h = sender(herald_factory,
               queue="retry_min = 1s\nretry_max = 2s\n"
                     "destination_concurrency = 1\n"
                     "connection_cache_time = 5s\n",
               transport={"example.org":
                          f"smtp:[127.0.0.1]:{rcv.ports['smtp']}"})
    h.cli("queue", "list")
    for _ in range(3):
        inject(h, ["bob@example.org"])
    h.start()
    assert wait_for(lambda: len(log_lines(h, "sent")) == 3, 15), h.log()
    assert len(rcv.messages("bob@example.org")) == 3
    # a Herald offers STARTTLS with its self-signed certificate: used
    # under "may", and said so
    assert all(" tls=TLSv1.3/" in l and " cert=unverified " in l
               for l in log_lines(h, "sent")), log_lines(h, "sent")
    sids = {re.search(r" sid=(\S+)", l).group(1) for l in
            rcv.log().splitlines() if " smtp accepted " in l}
    assert len(sids) == 1, rcv.log()


def test_lmtp_transport_on_a_unix_socket(herald_factory):
    """[transport] lmtp:unix:/path: LHLO, one reply per recipient."""
    rcv = herald_factory(listeners=("lmtp_unix",),
                         hostname="mx.example.org")
    rcv.add_domain("example.org")
    rcv.add_user("bob@example.org")
    rcv.add_user("carol@example.org")
    rcv.start()
    h = sender(herald_factory,
               transport={"example.org": f"lmtp:unix:{rcv.lmtp_path}"})
    h.start()
    inject(h, ["bob@example.org", "carol@example.org", "nobody@example.org"])
    assert wait_for(lambda: queue_rows(h) == [], 15), h.log()
    assert len(rcv.messages("bob@example.org")) == 1
    assert len(rcv.messages("carol@example.org")) == 1
    sent = log_lines(h, "sent", 2)
    assert len(sent) == 2 and f"relay=unix:{rcv.lmtp_path}" in sent[0]
    assert len(log_lines(h, "bounced")) == 1


def test_equal_preference_mx_in_random_order(herald_factory,
                                             dns_server_factory):
    """RFC 5321 5.1: MX hosts of equal preference are tried in random
    order (both are dead here: each attempt tries both; over 16 attempts
    each comes first at least once, or the order is not random: a false
    failure has odds of 2 in 65,536)."""
    port = free_port()
    dns = dns_server_factory(records={
        "eq.example": [("MX", "10 mx1.eq.example."),
                       ("MX", "10 mx2.eq.example.")],
        "mx1.eq.example": [("A", "127.0.0.1")],
        "mx2.eq.example": [("A", "127.0.0.1")],
    })
    h = sender(herald_factory, dns=dns,
               queue="retry_min = 1h\nretry_max = 1h\n",
               transport={"eq.example": f"smtp:eq.example:{port}"})
    h.start()
    inject(h, ["bob@eq.example"])
    firsts = []
    for i in range(16):
        if i > 0:
            h.cli("queue", "flush")
        assert wait_for(lambda: len(log_lines(h, "connect-failed")) ==
                        2 * (i + 1) and len(log_lines(h, "deferred")) ==
                        i + 1, 10), h.log()
        line = log_lines(h, "connect-failed")[2 * i]
        firsts.append(re.search(r"relay=(mx[12])\.", line).group(1))
    assert set(firsts) == {"mx1", "mx2"}, firsts


def test_global_concurrency_one(herald_factory, sinks):
    """concurrency = 1: one connection at a time in all; a destination
    waiting for the slot gets it when another's connection closes."""
    a, b = sinks(), sinks()
    h = sender(herald_factory, queue=FAST + "concurrency = 1\n",
               transport={"a.example": f"smtp:[127.0.0.1]:{a.port}",
                          "b.example": f"smtp:[127.0.0.1]:{b.port}"})
    for i in range(3):
        inject(h, [f"x{i}@a.example"])
        inject(h, [f"y{i}@b.example"])
    h.start()
    assert wait_for(lambda: queue_rows(h) == [], 15), h.log()
    assert len(a.messages()) == 3 and len(b.messages()) == 3


def test_idle_connection_gives_up_its_slot(herald_factory, sinks):
    """At the global limit, a cached idle connection to a destination
    with nothing to send is closed for a destination with mail, which
    would otherwise wait connection_cache_time (bench/outbound, 100
    domains: deliveries came in bursts 2 s apart)."""
    a, b = sinks(), sinks()
    h = sender(herald_factory,
               queue="retry_min = 1s\nretry_max = 2s\nconcurrency = 1\n"
                     "connection_cache_time = 60s\n",
               transport={"a.example": f"smtp:[127.0.0.1]:{a.port}",
                          "b.example": f"smtp:[127.0.0.1]:{b.port}"})
    h.start()
    inject(h, ["x@a.example"])
    assert wait_for(lambda: len(a.messages()) == 1, 15), h.log()
    inject(h, ["y@b.example"])
    assert wait_for(lambda: len(b.messages()) == 1, 10), h.log()


class ScriptedSmtp:
    """An SMTP server on host:port (a free loopback port by default) that
    offers PIPELINING (no STARTTLS), refuses RCPT TO:<refused@...> with
    550 (and then DATA with 554, as Postfix does without a valid
    recipient), takes everything else, and records each connection's
    command lines (raw socket: the commands as sent). close_on_mail: on
    that MAIL of a session (2: the second transaction) it closes without
    a reply, as a server that dropped an idle session looks to a client
    that sends on it before reading the close."""

    def __init__(self, host="127.0.0.1", port=None, close_on_mail=0):
        import socket
        import threading
        self.port = port or free_port(host)
        self.close_on_mail = close_on_mail
        self.sessions = []
        self.lock = threading.Lock()
        self.srv = socket.create_server((host, self.port))
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        import threading
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,),
                                 daemon=True)
            with self.lock:
                self.threads.append(t)
            t.start()

    def _serve(self, conn):
        cmds = []
        with self.lock:
            self.sessions.append(cmds)
        f = conn.makefile("rb")
        conn.sendall(b"220 scripted ESMTP\r\n")
        rcpts = mails = 0
        try:
            for raw in f:
                line = raw.decode().rstrip("\r\n")
                with self.lock:
                    cmds.append(line)
                verb = line.split(" ")[0].split(":")[0].upper()
                if verb == "EHLO":
                    conn.sendall(b"250-scripted\r\n250 PIPELINING\r\n")
                elif verb == "MAIL":
                    rcpts = 0
                    mails += 1
                    if mails == self.close_on_mail:
                        break
                    conn.sendall(b"250 2.1.0 ok\r\n")
                elif verb == "RCPT" and "refused@" in line:
                    conn.sendall(b"550 5.1.1 no such user\r\n")
                elif verb == "RCPT":
                    rcpts += 1
                    conn.sendall(b"250 2.1.5 ok\r\n")
                elif verb == "DATA" and rcpts == 0:
                    conn.sendall(b"554 5.5.1 no valid recipients\r\n")
                elif verb == "DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    for body in f:
                        if body == b".\r\n":
                            break
                    conn.sendall(b"250 2.0.0 queued\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    break
                else:
                    conn.sendall(b"250 2.0.0 ok\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def snapshot(self):
        """Each session's RCPT addresses, in the order they came."""
        with self.lock:
            return [[c.split("<", 1)[1].split(">", 1)[0] for c in s
                     if c.upper().startswith("RCPT")]
                    for s in self.sessions]

    def close(self):
        import socket
        try:
            # wakes the accept (a close alone does not)
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()
        with self.lock:
            threads = list(self.threads)
        for t in threads:
            t.join(10)


def test_rset_only_after_a_transaction_left_unfinished(herald_factory):
    """On a reused connection the next transaction starts with RSET only
    when the last one stopped before the reply to its end of data (here:
    its only recipient refused, DATA refused); after a delivered message
    the server holds no transaction (RFC 5321 4.1.1.4) and MAIL comes
    at once."""
    srv = ScriptedSmtp()
    h = None
    try:
        h = sender(herald_factory,
                   queue="retry_min = 1s\nretry_max = 2s\n"
                         "destination_concurrency = 1\n"
                         "connection_cache_time = 5s\n",
                   transport={"example.org": f"smtp:[127.0.0.1]:{srv.port}"})
        for rcpt in ("a@example.org", "refused@example.org",
                     "c@example.org", "d@example.org"):
            inject(h, [rcpt])
        h.start()
        assert wait_for(lambda: len(log_lines(h, "sent")) == 3 and
                        len(log_lines(h, "bounced")) == 1, 15), h.log()
        with srv.lock:
            sessions = [list(s) for s in srv.sessions]
        assert len(sessions) == 1, sessions
        verbs = [c.split(" ")[0].split(":")[0].upper()
                 for c in sessions[0]]
        # the order the queue took them in: by id
        assert verbs[:12] == ["EHLO",
                              "MAIL", "RCPT", "DATA",
                              "MAIL", "RCPT", "DATA",
                              "RSET", "MAIL", "RCPT", "DATA",
                              "MAIL"], sessions[0]
        assert "refused@example.org" in sessions[0][5], sessions[0]
    finally:
        if h is not None:
            h.stop()
        srv.close()
