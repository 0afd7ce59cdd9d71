"""Issue 12, "Done when": Herald servers for two domains, and Postfix from
Debian, sending each other mail over SMTP with STARTTLS on loopback.

example.test (alice) is served on 127.0.0.2, example.org (bob, carol) on
127.0.0.3, each on port 25 of its own address with submission on 587 and
IMAP on 143 there (outbound_util.Site); a private Postfix instance listens
on 127.0.0.4 (postfix_util.Postfix). DNS for every domain (MX, A) comes
from a real unbound on loopback (dns_util). Mail is submitted with
smtplib (AUTH after STARTTLS) and read with imaplib; certificates come
from a test CA made per test. Every server a test starts is stopped when
it ends, whether it passed or not.
"""
import email
import email.policy
import fcntl
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time

import pytest

from outbound_util import PASSWORD, PREFERRED, MiniCA, Site, headers, \
    imap_fetch_all, inbox_count, make_msg, message_id, mx_records, \
    pick_addresses, release_addresses, wait_imap
from postfix_util import Postfix

# port 25 of each site's address, and the private Postfix, need root
pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="binds port 25 and runs Postfix: "
                                       "needs root")

ALICE = "alice@example.test"
BOB = "bob@example.org"
CAROL = "carol@example.org"


@pytest.fixture
def ca():
    ca = MiniCA()
    yield ca
    ca.cleanup()


@pytest.fixture
def addrs():
    a = pick_addresses(3)
    if a != list(PREFERRED):
        print(f"port 25 of {PREFERRED} is taken on this machine: using {a}")
    yield a
    release_addresses(a)


@pytest.fixture
def postfix_factory():
    made = []

    def make(**kw):
        pf = Postfix(**kw)
        made.append(pf)
        return pf

    yield make
    for pf in made:
        pf.cleanup()


@pytest.fixture
def world(herald_factory, ca, addrs, dns_server_factory):
    """DNS for example.test, example.org, postfix.test (127.0.0.4) and
    relay.test (the relayhost, 127.0.0.4 too); the two Herald sites,
    configured, not started (tests add settings first)."""
    class World:
        pass
    w = World()
    w.addrs, w.ca = addrs, ca
    w.dns = dns_server_factory(records=mx_records([
        ("example.test", addrs[0]), ("example.org", addrs[1]),
        ("postfix.test", addrs[2]), ("relay.test", addrs[2])]))
    w.make_test = lambda **kw: Site(herald_factory, ca, "example.test",
                                    addrs[0], ["alice"],
                                    dns_config=w.dns.herald_config(), **kw)
    w.make_org = lambda **kw: Site(herald_factory, ca, "example.org",
                                   addrs[1], ["bob", "carol"],
                                   dns_config=w.dns.herald_config(), **kw)
    return w


def tls_received(raw, by):
    """The Received header field added by the host `by`, if it shows a
    TLS session (Herald's and Postfix's shape: "(using TLSv1.3 with
    cipher ...)")."""
    for r in headers(raw, "Received"):
        if f"by {by} " in r and "using TLSv1." in r:
            return r
    return None


def with_token(token):
    return lambda msgs: any(token.encode() in m for m in msgs)


def count_token(msgs, token):
    return sum(1 for m in msgs if token.encode() in m)


def queue_text(site):
    return site.queue("list").stdout


def wait_queue_empty(site, timeout=10.0):
    """Until `herald queue list` lists no message; returns the listing."""
    deadline = time.monotonic() + timeout
    while True:
        listing = queue_text(site)
        if "The queue is empty" in listing or time.monotonic() > deadline:
            return listing
        time.sleep(0.1)


def test_submit_to_two_users_on_the_other_server(world):
    """alice submits one message to bob and carol on 587 with AUTH; both
    find it in their INBOX on example.org's server within 2 seconds, with
    a Received header that shows TLS."""
    test = world.make_test().start()
    org = world.make_org().start()
    token = "e2e-two-rcpts"
    msg = make_msg(ALICE, [BOB, CAROL], token)
    sessions = {u: org.imap(u) for u in (BOB, CAROL)}
    try:
        assert test.submit(ALICE, [BOB, CAROL], msg) == {}
        submitted = time.monotonic()
        # both INBOXes polled over IMAP until each holds the message
        got = {}
        while len(got) < 2 and time.monotonic() - submitted < 30:
            for u, c in sessions.items():
                if u not in got:
                    msgs = imap_fetch_all(c)
                    c.close()
                    if with_token(token)(msgs):
                        got[u] = msgs
            time.sleep(0.02)
        elapsed = time.monotonic() - submitted
    finally:
        for c in sessions.values():
            c.logout()
    assert len(got) == 2, (f"delivered to {sorted(got)} only\n"
                           f"{queue_text(test)}\n{test.h.log()[-3000:]}")
    assert elapsed <= 2.0, f"in both INBOXes {elapsed:.2f} s after submission"
    for user, msgs in got.items():
        assert count_token(msgs, token) == 1, \
            f"{user}: {count_token(msgs, token)} copies"
        raw = next(m for m in msgs if token.encode() in m)
        rcvd = tls_received(raw, org.mx)
        assert rcvd and "with ESMTPS" in rcvd, headers(raw, "Received")
        assert f"from {test.mx} " in rcvd, rcvd
    listing = wait_queue_empty(test)
    assert "The queue is empty" in listing, listing


def test_remote_down_waits_then_flush_delivers_once(world):
    """With example.org's server stopped the message waits: `herald queue
    list` shows it deferred with the connection error; after the server
    starts and the queue is flushed, it is delivered exactly once."""
    test = world.make_test().start()
    org = world.make_org().start()
    org.stop()
    token = "e2e-remote-down"
    assert test.submit(ALICE, [BOB], make_msg(ALICE, [BOB], token)) == {}

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listing = queue_text(test)
        if f"to=<{BOB}> deferred" in listing:
            break
        time.sleep(0.1)
    line = next((l for l in listing.splitlines()
                 if f"to=<{BOB}> deferred" in l), None)
    assert line, f"not deferred:\n{listing}\n{test.h.log()[-3000:]}"
    assert "refused" in line.lower() and world.addrs[1] in line, line

    org.start()
    test.queue("flush")
    msgs, _ = wait_imap(org, BOB, with_token(token), timeout=30)
    assert count_token(msgs, token) == 1, f"{count_token(msgs, token)} copies"
    # nothing more comes: the recipient is done, not tried again
    time.sleep(2)
    msgs, _ = wait_imap(org, BOB, lambda m: False, timeout=0)
    assert count_token(msgs, token) == 1, f"{count_token(msgs, token)} copies"
    listing = wait_queue_empty(test)
    assert "The queue is empty" in listing, listing


def test_unknown_user_bounces_to_sender(world):
    """To an unknown user on example.org, alice gets a DSN in her INBOX
    that names the recipient and quotes the remote's 550 reply."""
    test = world.make_test().start()
    org = world.make_org().start()
    nobody = "nobody@example.org"
    # what example.org answers for nobody, asked directly
    with smtplib.SMTP(org.addr, 25, timeout=30) as s:
        s.ehlo("probe.example")
        s.mail("")
        code, text = s.rcpt(nobody)
    assert code == 550, (code, text)
    reply = text.decode()

    token = "e2e-unknown-user"
    assert test.submit(ALICE, [nobody], make_msg(ALICE, [nobody], token)) \
        == {}
    msgs, _ = wait_imap(test, ALICE, lambda m: len(m) >= 1, timeout=30)
    assert len(msgs) == 1, (f"alice's INBOX: {len(msgs)} messages\n"
                            f"{queue_text(test)}")
    dsn = email.message_from_bytes(msgs[0], policy=email.policy.default)
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    text = msgs[0].decode("utf-8", "replace")
    assert nobody in text
    assert "550" in text and reply.split()[0] in text, text
    # the remote's words, unfolded, are quoted
    flat = " ".join(text.split())
    assert " ".join(reply.split()[1:]) in flat, (reply, text)
    parts = {p.get_content_type(): p for p in dsn.walk()}
    status = parts["message/delivery-status"].as_string()
    assert f"rfc822;{nobody}" in status.replace(" ", "").lower()
    assert "Action: failed" in status and "Status: 5.1.1" in status, status
    assert token in text, "the original (headers) is not attached"


def test_relayhost_with_starttls_and_auth(world, postfix_factory):
    """Through a relayhost (Postfix on 127.0.0.4:587, which requires
    STARTTLS and AUTH): the mail goes via the relayhost, not direct."""
    a = world.addrs
    sub = ("-o smtpd_tls_security_level=encrypt "
           "-o smtpd_tls_auth_only=yes -o smtpd_sasl_auth_enable=yes "
           "-o smtpd_client_restrictions=permit_sasl_authenticated,reject "
           "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject")
    pf = postfix_factory(services=((a[2], 587, sub),),
                         hostname="mx.relay.test")
    cert, key = world.ca.issue("mx.relay.test", a[2])
    pf.tls(cert, key, world.ca.ca_path)
    pf.sasl_users({"sender@relay.test": "relay-pw"})
    pf.transport({"example.org": f"smtp:[{a[1]}]:25"})
    pf.start()
    # the relayhost refuses mail before STARTTLS, and relaying before AUTH
    with smtplib.SMTP(a[2], 587, timeout=30) as s:
        s.ehlo("probe.example")
        assert s.mail(ALICE)[0] == 530
    with smtplib.SMTP(a[2], 587, timeout=30) as s:
        s.ehlo("probe.example")
        s.starttls(context=world.ca.context())
        s.ehlo("probe.example")
        assert s.mail(ALICE)[0] == 250
        assert s.rcpt(BOB)[0] == 554

    org = world.make_org().start()
    creds = os.path.join(world.ca.dir, "relay-auth")
    with open(creds, "w") as f:
        f.write("sender@relay.test\nrelay-pw\n")
    os.chmod(creds, 0o600)
    shutil.chown(creds, "herald", "herald")
    test = world.make_test(sections={"queue": (
        "relayhost = [mx.relay.test]:587\nrelayhost_tls = encrypt\n"
        f"relayhost_auth = {creds}")}).start()

    token = "e2e-relayhost"
    assert test.submit(ALICE, [BOB], make_msg(ALICE, [BOB], token)) == {}
    msgs, _ = wait_imap(org, BOB, with_token(token), timeout=30)
    # Postfix logs status=sent after the remote's 250, which bob's INBOX
    # may show first
    log = pf.wait_log(lambda l: "status=sent" in l, timeout=10)
    assert count_token(msgs, token) == 1, f"{msgs}\n{log}\n{test.h.log()}"
    raw = next(m for m in msgs if token.encode() in m)
    rcvd = headers(raw, "Received")
    # newest first: example.org got it from the relayhost, which got it
    # from example.test's server over TLS with AUTH
    assert f"by {org.mx} " in rcvd[0] and "from mx.relay.test" in rcvd[0], \
        rcvd
    assert "by mx.relay.test (Postfix) with ESMTPSA" in rcvd[1], rcvd
    assert "using TLSv1." in rcvd[1] and f"from {test.mx}" in rcvd[1], rcvd
    assert "sasl_username=sender@relay.test" in log, log
    assert f"relay={a[1]}[{a[1]}]:25" in log and "status=sent" in log, log
    # example.test's server handed it to the relayhost only
    sent = [l for l in test.h.log().splitlines()
            if " queue sent " in l and f"to=<{BOB}>" in l]
    assert len(sent) == 1 and f"relay=mx.relay.test[{a[2]}]:587" in sent[0], \
        sent
    # relayhost_tls = encrypt: the test CA's certificate was checked
    assert " tls=TLSv1." in sent[0] and " cert=verified " in sent[0], sent


def test_kill9_with_200_in_flight(world):
    """kill -9 of the sending server while 200 messages are in flight:
    after a restart every message arrives, and none twice, except those
    whose 250 the kill may have cut off (RFC 5321 6.1 allows those to be
    sent again): the test reports how many, and accepts only messages
    that had reached example.org before the kill, no more than the
    connections that could have been open then."""
    n = 200
    # the runner makes each outcome durable before the connection carries
    # the next message: at most one 250 per connection can be lost
    conns = 10
    test = world.make_test(sections={
        "queue": f"destination_concurrency = {conns}"}).start()
    org = world.make_org()
    tokens = [f"kill9-{i:03d}" for i in range(n)]
    # the remote is down while the 200 are submitted, so that all of
    # them are queued (and durable) before the kill; then it starts and
    # the kill comes in the middle of the deliveries
    with smtplib.SMTP(test.addr, 587, timeout=60) as s:
        s.ehlo("mua.example")
        s.starttls(context=world.ca.context())
        s.ehlo("mua.example")
        s.login(ALICE, PASSWORD)
        for t in tokens:
            s.sendmail(ALICE, [BOB], make_msg(ALICE, [BOB], t))
    org.start()
    test.queue("flush")

    def delivered():
        return org.h.messages(BOB)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and inbox_count(org.h, BOB) < 20:
        time.sleep(0.01)
    before = inbox_count(org.h, BOB)
    assert 0 < before < n, (f"{before} of {n} delivered when the kill "
                            "came: not in flight")
    test.h.kill9()
    # a transaction whose data was complete may still commit on the
    # receiving side after the sender died
    time.sleep(1)
    at_kill = {message_id(m) for m in delivered()}

    test.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ids = [message_id(m) for m in delivered()]
        if len(set(ids)) >= n:
            break
        time.sleep(0.2)
    time.sleep(2)   # anything sent twice arrives now too
    msgs, _ = wait_imap(org, BOB, lambda m: len(m) >= n, timeout=30)
    ids = [message_id(m) for m in msgs]
    want = {f"<{t}@example.test>" for t in tokens}
    missing = want - set(ids)
    assert not missing, (f"{len(missing)} of {n} never arrived\n"
                         f"{queue_text(test)}")
    twice = {i for i in set(ids) if ids.count(i) > 1}
    print(f"kill -9 after {before} of {n} delivered ({len(at_kill)} at the "
          f"kill): {len(twice)} delivered twice")
    assert not (twice - at_kill), ("sent twice though not delivered before "
                                   f"the kill: {sorted(twice - at_kill)}")
    assert all(ids.count(i) == 2 for i in twice), "a message came 3 times"
    assert len(twice) <= conns, f"{len(twice)} sent twice: {sorted(twice)}"


def test_herald_to_postfix_with_starttls(world, postfix_factory):
    """Postfix receives from Herald: alice's message for dave@postfix.test
    goes to postfix.test's MX (Postfix on 127.0.0.4:25) with STARTTLS
    (Postfix logs the TLS session and shows it in its Received header)."""
    a = world.addrs
    pf = postfix_factory(services=((a[2], 25, ""),),
                         hostname="mx.postfix.test")
    cert, key = world.ca.issue("mx.postfix.test", a[2])
    pf.tls(cert, key, world.ca.ca_path)
    pf.virtual_mailboxes("postfix.test", ["dave"])
    pf.start()
    test = world.make_test().start()

    dave = "dave@postfix.test"
    token = "herald2pf"
    assert test.submit(ALICE, [dave], make_msg(ALICE, [dave], token)) == {}
    log = pf.wait_log(lambda l: f"to=<{dave}>" in l and "status=sent" in l)
    msgs = pf.maildir("postfix.test", "dave")
    assert len(msgs) == 1, f"{len(msgs)} messages\n{log}\n{test.h.log()}"
    rcvd = tls_received(msgs[0], "mx.postfix.test")
    assert rcvd and "with ESMTPS" in rcvd and f"from {test.mx} " in rcvd, \
        headers(msgs[0], "Received")
    # the smtpd process that took the message logged its TLS session
    qid = re.search(r"postfix/cleanup\[\d+\]: (\w+): message-id=<"
                    f"{token}@", log).group(1)
    pid = re.search(r"postfix/smtpd\[(\d+)\]: " f"{qid}: client=", log).group(1)
    assert re.search(rf"postfix/smtpd\[{pid}\]: \w+ TLS connection "
                     "established from", log), log


def test_postfix_relays_to_herald_with_starttls(herald_factory, ca, addrs,
                                                postfix_factory):
    """Herald receives from Postfix: Postfix on the third address relays
    a message for bob@example.org to example.org's Herald on port 25,
    with STARTTLS (Postfix logs the TLS session, Herald's Received header
    shows it)."""
    org = Site(herald_factory, ca, "example.org", addrs[1], ["bob"]).start()
    pf = postfix_factory(services=((addrs[2], 25, ""),),
                         hostname="mx.postfix.test")
    cert, key = ca.issue("mx.postfix.test", addrs[2])
    pf.tls(cert, key, ca.ca_path)
    # Postfix resolves with the system's resolver, not the test's DNS
    pf.transport({"example.org": f"smtp:[{addrs[1]}]:25"})
    pf.start()

    token = "pf2herald"
    msg = make_msg("dave@postfix.test", [BOB], token)
    with smtplib.SMTP(addrs[2], 25, timeout=30) as s:
        assert s.sendmail("dave@postfix.test", [BOB], msg) == {}

    msgs, _ = wait_imap(org, BOB, with_token(token), timeout=30)
    # Postfix logs status=sent after Herald's 250, which bob's INBOX may
    # show first
    log = pf.wait_log(lambda l: f"to=<{BOB}>" in l and "status=sent" in l,
                      timeout=10)
    assert len(msgs) == 1, f"bob's INBOX: {len(msgs)} messages\n{log}"
    rcvd = tls_received(msgs[0], org.mx)
    assert rcvd and "with ESMTPS" in rcvd, headers(msgs[0], "Received")
    sent = [l for l in log.splitlines() if f"to=<{BOB}>" in l
            and "status=sent" in l]
    assert sent and f"relay={addrs[1]}[{addrs[1]}]:25" in sent[0], log
    assert f"TLS connection established to {addrs[1]}[{addrs[1]}]:25" \
        in log, log


def test_address_sets_are_claimed_one_run_at_a_time(addrs):
    """Another run on the machine (a second checkout's tests, here a
    second Python process) does not get the set this test holds, though
    none of its ports is bound yet; it gets the same set once this run
    gives it back (a run that took the other's set failed to start its
    server with "Address already in use"): its lock is free then."""
    here = os.path.dirname(os.path.abspath(__file__))
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); "
             "from outbound_util import pick_addresses; "
             "print(' '.join(pick_addresses(3)))")

    def other_run():
        return subprocess.run([sys.executable, "-c", probe, here],
                              capture_output=True, text=True, check=True,
                              timeout=60).stdout.split()

    theirs = other_run()
    assert len(theirs) == 3 and not set(theirs) & set(addrs), (addrs,
                                                               theirs)
    release_addresses(addrs)
    net = addrs[0].rsplit(".", 1)[0]
    fd = os.open(os.path.join(tempfile.gettempdir(),
                              f"herald-it-addrs-{net}.lock"), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
