"""Connections shared across destinations (issue 12, docs/outbound.md
"Connections shared by destinations"): recipient domains whose MX is the
same host and address share the runner's idle connections, as Postfix's
connection cache does by next-hop address; different addresses, another
MX name or another TLS policy never do; a shared connection the remote
closed is replaced without deferring anything. The receiver is a small
scripted SMTP server that records each TCP session's commands; DNS is a
real unbound on loopback."""
import time

from test_queue_runner import (ScriptedSmtp as Receiver, inject, log_lines,
                               queue_rows, sender, wait_for)


QUEUE = ("retry_min = 1h\nretry_max = 1h\nconnection_cache_time = 20s\n"
         "destination_concurrency = 1\n")


def mx_transport(domains, port):
    """[transport] entries that look up each domain's MX and connect on
    port (the scripted receivers do not listen on 25)."""
    return {d: f"smtp:{d}:{port}" for d in domains}


def send_one(h, rcpt, n_sent):
    inject(h, [rcpt])
    assert wait_for(lambda: len(log_lines(h, "sent")) >= n_sent, 15), \
        h.log()


def test_domains_with_one_mx_share_a_connection(herald_factory,
                                                dns_server_factory):
    """Three domains whose MX is mx.shared.example (127.0.0.1), one
    message after another: all three go over the one TCP session the
    first opened, each logged with the shared MX as its relay; the
    session is still closed (QUIT) once idle for connection_cache_time."""
    rcv = Receiver()
    h = None
    try:
        dns = dns_server_factory(records={
            "a.example": [("MX", "10 mx.shared.example.")],
            "b.example": [("MX", "10 mx.shared.example.")],
            "c.example": [("MX", "10 MX.Shared.Example.")],
            "mx.shared.example": [("A", "127.0.0.1")],
        })
        h = sender(herald_factory, dns=dns,
                   queue=QUEUE.replace("= 20s", "= 8s"),
                   transport=mx_transport(("a.example", "b.example",
                                           "c.example"), rcv.port))
        h.start()
        send_one(h, "bob@a.example", 1)
        send_one(h, "carol@b.example", 2)
        send_one(h, "dave@c.example", 3)
        send_one(h, "erin@a.example", 4)
        sessions = rcv.snapshot()
        assert sessions == [["bob@a.example", "carol@b.example",
                             "dave@c.example", "erin@a.example"]], sessions
        sent = log_lines(h, "sent")
        assert all(f"relay=mx.shared.example[127.0.0.1]:{rcv.port} " in l
                   for l in sent), sent
        assert not log_lines(h, "deferred"), h.log()
        assert wait_for(lambda: queue_rows(h) == [], 5)

        def quit_seen():
            with rcv.lock:
                return rcv.sessions[0][-1:] == ["QUIT"]
        assert wait_for(quit_seen, 20), rcv.sessions
    finally:
        if h is not None:
            h.stop()
        rcv.close()


def test_different_mx_address_name_or_tls_policy_not_shared(
        herald_factory, dns_server_factory):
    """An idle connection to a.example's MX is not used for: c.example,
    whose MX has another address (a receiver of its own on 127.0.0.5);
    d.example, whose MX has another name on the same address (SNI, the
    certificate's name and the log would be wrong); e.example, the same
    MX under [tls_policy] encrypt (the session is in clear: it must
    never carry e.example's mail, which is deferred as the new session
    offers no STARTTLS)."""
    rcv = Receiver()
    other = Receiver(host="127.0.0.5", port=rcv.port)
    h = None
    try:
        dns = dns_server_factory(records={
            "a.example": [("MX", "10 mx.shared.example.")],
            "c.example": [("MX", "10 mx.other.example.")],
            "d.example": [("MX", "10 mail.d.example.")],
            "e.example": [("MX", "10 mx.shared.example.")],
            "mx.shared.example": [("A", "127.0.0.1")],
            "mx.other.example": [("A", "127.0.0.5")],
            "mail.d.example": [("A", "127.0.0.1")],
        })
        h = sender(herald_factory, dns=dns, queue=QUEUE,
                   transport=mx_transport(("a.example", "c.example",
                                           "d.example", "e.example"),
                                          rcv.port))
        with open(h.conf, "a") as f:
            f.write("\n[tls_policy]\ne.example = encrypt\n")
        h.start()
        send_one(h, "bob@a.example", 1)
        send_one(h, "carol@c.example", 2)
        send_one(h, "dave@d.example", 3)
        inject(h, ["erin@e.example"])
        assert wait_for(lambda: len(log_lines(h, "deferred")) == 1, 15), \
            h.log()
        deferred = log_lines(h, "deferred")[0]
        assert "to=<erin@e.example>" in deferred and "dsn=4.7" in deferred, \
            deferred
        sessions = rcv.snapshot()
        # a.example's session, d.example's own, and e.example's (which
        # ended at EHLO: no STARTTLS)
        assert sorted(sessions) == sorted([["bob@a.example"],
                                           ["dave@d.example"], []]), sessions
        assert other.snapshot() == [["carol@c.example"]]
        assert all("erin@" not in r for s in sessions for r in s)
    finally:
        if h is not None:
            h.stop()
        rcv.close()
        other.close()


def test_dead_shared_connection_replaced_without_deferral(
        herald_factory, dns_server_factory):
    """The receiver drops the session when the second transaction on it
    starts (before any reply to MAIL): b.example's message, sent on the
    idle connection a.example opened, goes again at once on a new
    connection and is delivered; nothing is deferred."""
    rcv = Receiver(close_on_mail=2)
    h = None
    try:
        dns = dns_server_factory(records={
            "a.example": [("MX", "10 mx.shared.example.")],
            "b.example": [("MX", "10 mx.shared.example.")],
            "mx.shared.example": [("A", "127.0.0.1")],
        })
        h = sender(herald_factory, dns=dns, queue=QUEUE,
                   transport=mx_transport(("a.example", "b.example"),
                                          rcv.port))
        h.start()
        send_one(h, "bob@a.example", 1)
        send_one(h, "carol@b.example", 2)
        assert not log_lines(h, "deferred"), h.log()
        lost = log_lines(h, "reused-conn-lost")
        assert len(lost) == 1 and "dest=smtp:mx:b.example:" in lost[0], \
            h.log()
        sessions = rcv.snapshot()
        assert sessions == [["bob@a.example"], ["carol@b.example"]], sessions
        assert wait_for(lambda: queue_rows(h) == [], 5)
    finally:
        if h is not None:
            h.stop()
        rcv.close()
