"""The queue runner's less travelled paths (issue 12 items 3 and 5): the
delay warning (once, across retries and a restart; off with 0), a DSN owed
across a crash, opportunistic TLS whose handshake fails, and
address_family against an MX with both A and AAAA records. Real servers
throughout: Postfix's smtp-sink, a small scripted SMTP server, unbound."""
import os
import socket
import sqlite3
import threading
import time

import pytest

from harness import free_port
from test_queue_runner import (SINK, inject, log_lines, queue_rows, sender,
                               sinks, wait_for)  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not os.path.exists(SINK),
                                reason="Postfix's smtp-sink is not installed")


def dsns(h, subject):
    return [m for m in h.messages("alice@example.test")
            if subject.encode() in m]


# ---- the delay warning ----

def test_delay_warning_once_across_retries_and_restart(herald_factory):
    """Nothing listens: after delay_warning (2 s) alice gets one "Delayed
    Mail" DSN (Action: delayed, Will-Retry-Until); several further retries
    and a restart of the server later, still only that one."""
    port = free_port()
    h = sender(herald_factory,
               queue="retry_min = 1s\nretry_max = 1s\nmax_lifetime = 1h\n"
                     "delay_warning = 2s\n",
               transport={"example.org": f"smtp:[127.0.0.1]:{port}"})
    h.start()
    inject(h, ["bob@example.org"])
    got = wait_for(lambda: dsns(h, "Delayed Mail"), 15)
    assert got, h.log()
    text = got[0].decode(errors="replace")
    assert "Action: delayed" in text and "Will-Retry-Until:" in text, text
    assert "bob@example.org" in text, text
    n = len(log_lines(h, "deferred"))
    assert wait_for(lambda: len(log_lines(h, "deferred")) >= n + 3, 15), \
        h.log()
    assert len(dsns(h, "Delayed Mail")) == 1
    assert "delay warning sent: yes" in h.cli("queue", "show", "1").stdout
    h.stop()
    h.start()
    assert wait_for(lambda: h.log().count("queue runner-started") == 2, 10)
    n = len(log_lines(h, "deferred"))
    assert wait_for(lambda: len(log_lines(h, "deferred")) >= n + 3, 15), \
        h.log()
    assert len(h.messages("alice@example.test")) == 1, h.log()
    assert [r[1] for r in queue_rows(h)] == ["deferred"]


def test_delay_warning_off(herald_factory):
    """delay_warning = 0: retries past any threshold, no warning."""
    port = free_port()
    h = sender(herald_factory,
               queue="retry_min = 1s\nretry_max = 1s\nmax_lifetime = 1h\n"
                     "delay_warning = 0\n",
               transport={"example.org": f"smtp:[127.0.0.1]:{port}"})
    h.start()
    inject(h, ["bob@example.org"])
    assert wait_for(lambda: len(log_lines(h, "deferred")) >= 4, 15), h.log()
    assert h.messages("alice@example.test") == []


def test_delay_warning_names_only_deferred_and_notify_delay(herald_factory,
                                                            sinks):
    """One message to a recipient that is delivered and one that is not:
    the warning names only the deferred one. A second message whose
    NOTIFY is FAILURE only gets no warning (RFC 3461 4.1), and is marked
    warned all the same (not looked at again at each retry)."""
    sink = sinks()
    dead = free_port()
    h = sender(herald_factory,
               queue="retry_min = 1s\nretry_max = 1s\nmax_lifetime = 1h\n"
                     "delay_warning = 2s\n",
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}",
                          "example.net": f"smtp:[127.0.0.1]:{dead}"})
    h.start()
    inject(h, ["bob@example.org", "carol@example.net"])
    inject(h, ["dan@example.net"], extra=("-N", "failure"))
    got = wait_for(lambda: dsns(h, "Delayed Mail"), 15)
    assert got, h.log()
    text = got[0].decode(errors="replace")
    report = text.split("message/delivery-status", 1)[1] \
        .split("--=_herald_dsn", 1)[0]
    assert "Final-Recipient: rfc822; carol@example.net" in report, text
    assert report.count("Final-Recipient:") == 1, text
    assert "dan@example.net" not in text, text
    assert len(sink.messages()) == 1

    def both_warned():
        db = sqlite3.connect(os.path.join(h.data_dir, "herald.db"),
                             timeout=10)
        try:
            return [w for (w,) in db.execute("SELECT warned FROM queue")]
        finally:
            db.close()
    assert wait_for(lambda: both_warned() == [1, 1], 10), both_warned()
    n = len(log_lines(h, "deferred"))
    assert wait_for(lambda: len(log_lines(h, "deferred")) >= n + 4, 15)
    assert len(h.messages("alice@example.test")) == 1, h.log()


# ---- a DSN owed across a crash ----

def test_bounce_recorded_before_crash_reported_once(herald_factory, sinks):
    """The store keeps "DSN owed" (queue_rcpts.notify) with the bounce,
    and clears it only once the DSN is made. A crash between the two is
    set up directly in the database while the server is stopped: at the
    next start exactly one DSN arrives, quoting the recorded 550, nothing
    is sent to the remote, and the message row goes. A second restart
    sends no second DSN."""
    sink = sinks()
    h = sender(herald_factory,
               transport={"example.org": f"smtp:[127.0.0.1]:{sink.port}"})
    inject(h, ["nobody@example.org"])
    db = sqlite3.connect(os.path.join(h.data_dir, "herald.db"), timeout=10)
    with db:
        db.execute("UPDATE queue_rcpts SET status = 'bounced', notify = 1,"
                   " attempts = 1, last_attempt = strftime('%s'),"
                   " dsn_status = '5.1.1', relay = 'mx.example.org"
                   "[127.0.0.1]:25', last_error = '550 5.1.1 <nobody@"
                   "example.org>: Recipient address rejected'")
    db.close()
    assert [r[1] for r in queue_rows(h)] == ["bounced"]
    h.start()
    assert wait_for(lambda: queue_rows(h) == [], 10), h.log()
    got = wait_for(lambda: h.messages("alice@example.test"), 10)
    assert got and len(got) == 1, h.log()
    text = got[0].decode(errors="replace")
    assert "Action: failed" in text and "nobody@example.org" in text, text
    assert "550 5.1.1" in text, text
    assert sink.messages() == []
    h.stop()
    h.start()
    time.sleep(1.5)
    assert len(h.messages("alice@example.test")) == 1
    assert sink.messages() == []


# ---- opportunistic TLS whose handshake fails ----

class BrokenTlsServer:
    """An SMTP server on 127.0.0.1 that offers STARTTLS, answers it with
    220 and then sends garbage instead of a ServerHello. Without STARTTLS
    it takes the message (kept in self.messages) with 250."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.messages = []
        self.starttls = 0
        self.done = False
        self.conn = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.conn = c
            try:
                self.session(c)
            except OSError:
                pass
            finally:
                self.conn = None
                c.close()

    def session(self, c):
        c.settimeout(10)
        f = c.makefile("rb")
        c.sendall(b"220 broken.example ESMTP\r\n")
        data = None
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.strip().upper()
            if data is not None:
                if line in (b".\r\n", b".\n"):
                    self.messages.append(b"".join(data))
                    data = None
                    c.sendall(b"250 2.0.0 ok\r\n")
                else:
                    data.append(line)
            elif cmd.startswith(b"EHLO"):
                c.sendall(b"250-broken.example\r\n250-PIPELINING\r\n"
                          b"250 STARTTLS\r\n")
            elif cmd == b"STARTTLS":
                self.starttls += 1
                c.sendall(b"220 2.0.0 go ahead\r\n")
                c.sendall(b"this is not a TLS record\r\n" * 4)
                return
            elif cmd == b"DATA":
                data = []
                c.sendall(b"354 go\r\n")
            elif cmd == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 ok\r\n")

    def close(self):
        self.done = True
        c = self.conn
        if c is not None:
            # a session the client keeps open (connection cache) ends
            # now, not at its read timeout
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def broken_tls():
    s = BrokenTlsServer()
    yield s
    s.close()


def test_may_tls_handshake_fails_delivered_in_clear(herald_factory,
                                                   broken_tls):
    """tls = may: the handshake fails; the runner connects again at once
    to the same address without STARTTLS (same attempt), delivers in
    clear and says so: tls=none."""
    h = sender(herald_factory, queue="retry_min = 1h\nretry_max = 1h\n"
               "tls = may\n", transport={
                   "example.org": f"smtp:[127.0.0.1]:{broken_tls.port}"})
    h.start()
    inject(h, ["bob@example.org"])
    assert wait_for(lambda: queue_rows(h) == [], 10), h.log()
    assert len(broken_tls.messages) == 1 and broken_tls.starttls == 1
    failed = log_lines(h, "connect-failed")
    assert len(failed) == 1 and "error=tls-handshake" in failed[0], failed
    sent = log_lines(h, "sent", 1)
    assert len(sent) == 1 and " tls=none " in sent[0], sent
    assert not log_lines(h, "deferred")


def test_encrypt_tls_handshake_fails_deferred(herald_factory, broken_tls):
    """tls = encrypt towards the same remote: never in clear; deferred
    with the handshake failure named in `herald queue show`."""
    h = sender(herald_factory, queue="retry_min = 1h\nretry_max = 1h\n"
               "tls = encrypt\n", transport={
                   "example.org": f"smtp:[127.0.0.1]:{broken_tls.port}"})
    h.start()
    inject(h, ["bob@example.org"])
    rows = wait_for(lambda: [r for r in queue_rows(h)
                             if r[1] == "deferred"], 10)
    assert rows, h.log()
    assert broken_tls.messages == [] and broken_tls.starttls == 1
    show = h.cli("queue", "show", "1").stdout
    assert "state: deferred" in show, show
    assert "last reply: TLS handshake with 127.0.0.1[127.0.0.1] failed" \
        in show, show
    # RFC 3463 X.7.5, as for a certificate that does not verify
    assert "dsn: 4.7.5" in show, show


# ---- address_family ----

def _have_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _have_ipv6(), reason="no ::1 on this machine")
@pytest.mark.parametrize("family,listen,relay", [
    ("any", ("::1", "127.0.0.1"), "::1"),
    ("ipv4", ("::1", "127.0.0.1"), "127.0.0.1"),
    ("ipv6", ("::1", "127.0.0.1"), "::1"),
    ("prefer-ipv4", ("::1", "127.0.0.1"), "127.0.0.1"),
    ("any", ("127.0.0.1",), "127.0.0.1"),
    ("ipv6", ("127.0.0.1",), None),
    ("ipv4", ("::1",), None),
])
def test_address_family(herald_factory, sinks, dns_server_factory, family,
                        listen, relay):
    """An MX with A 127.0.0.1 and AAAA ::1; smtp-sink on both or one.
    address_family decides which addresses are tried and in which order;
    the log line's relay= names the one used. A family with no listener
    defers (the other family is not tried)."""
    port = free_port()
    for host in listen:
        sinks(port=port, host=host)
    dns = dns_server_factory(records={
        "fam.example": [("MX", "10 mx.fam.example.")],
        "mx.fam.example": [("AAAA", "::1"), ("A", "127.0.0.1")],
    })
    h = sender(herald_factory, dns=dns,
               queue=f"retry_min = 1h\nretry_max = 1h\n"
                     f"address_family = {family}\n",
               transport={"fam.example": f"smtp:fam.example:{port}"})
    h.start()
    inject(h, ["bob@fam.example"])
    if relay is None:
        assert wait_for(lambda: [r for r in queue_rows(h)
                                 if r[1] == "deferred"], 10), h.log()
        tried = {l.split("relay=")[1].split()[0]
                 for l in log_lines(h, "connect-failed")}
        own = "::1" if family == "ipv6" else "127.0.0.1"
        assert tried == {f"mx.fam.example[{own}]"}, h.log()
        return
    assert wait_for(lambda: queue_rows(h) == [], 10), h.log()
    sent = log_lines(h, "sent", 1)
    assert len(sent) == 1 and \
        f"relay=mx.fam.example[{relay}]:{port}" in sent[0], sent
