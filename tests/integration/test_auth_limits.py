"""One login service for SMTP AUTH and POP3 (issue 10, 2.6): a success
never resets an address's failure count, failures from other addresses do
not lock an account's owner out of the address they logged in from, POP3
and SMTP failures count together, and user names that differ only in
ASCII case are one account. Clients come from several loopback addresses
(127.0.0.x: AUTH without TLS is allowed from loopback)."""
import base64
import poplib
import signal
import smtplib
import socket
import time

import pytest

USER, PASSWORD = "alice@example.test", "alicepw"
OTHER, OTHER_PW = "mallory@example.test", "mallorypw"


def server(herald_factory, limits, listeners=("smtp", "pop3")):
    h = herald_factory(listeners=listeners,
                       sections={"auth": "argon2_memlimit = 8M\n"
                                         "argon2_opslimit = 1\n"
                                         + ("" if "fail_delay" in limits
                                            else "fail_delay = 0ms\n")
                                         + limits})
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.add_user(OTHER, OTHER_PW)
    h.start()
    return h


def smtp_login(h, user, password, src="127.0.0.1"):
    """The AUTH PLAIN reply code (one mechanism: smtplib's login() would
    try a second one after a failure and count twice)."""
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10,
                      source_address=(src, 0)) as s:
        s.ehlo("client.test")
        creds = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        code, text = s.docmd("AUTH", "PLAIN " + creds)
        return code


class POP3From(poplib.POP3):
    """poplib's client from a chosen source address."""

    def __init__(self, host, port, src):
        self.src = src
        super().__init__(host, port, timeout=10)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))


def pop3_login(h, user, password, src="127.0.0.1"):
    """"+OK", or the -ERR line's response code ("[AUTH]", "[SYS/TEMP]")."""
    p = POP3From("127.0.0.1", h.ports["pop3"], src)
    try:
        p.user(user)
        try:
            p.pass_(password)
            return "+OK"
        except poplib.error_proto as e:
            return e.args[0].decode().split()[1]
    finally:
        try:
            p.quit()
        except (poplib.error_proto, OSError):
            pass


def test_spraying_after_one_success_is_still_limited(herald_factory):
    h = server(herald_factory, "fail_per_ip = 3\nfail_per_user = 100")
    # an attacker with one valid account of their own...
    assert smtp_login(h, OTHER, OTHER_PW) == 235
    assert smtp_login(h, "bob@example.test", "guess1") == 535
    assert smtp_login(h, "carol@example.test", "guess2") == 535
    # ...whose next success must not hand them a fresh budget
    assert smtp_login(h, OTHER, OTHER_PW) == 235
    assert pop3_login(h, "dave@example.test", "guess3") == "[AUTH]"
    # three failures from 127.0.0.1: even a right password is refused now
    assert smtp_login(h, USER, PASSWORD) == 454
    assert pop3_login(h, USER, PASSWORD) == "[SYS/TEMP]"
    assert smtp_login(h, OTHER, OTHER_PW) == 454
    # another address is not affected
    assert smtp_login(h, USER, PASSWORD, src="127.0.0.9") == 235


def test_owner_keeps_logging_in_while_others_fail(herald_factory):
    h = server(herald_factory, "fail_per_ip = 10\nfail_per_user = 20")
    # the owner logs in from home...
    assert smtp_login(h, USER, PASSWORD, src="127.0.0.1") == 235
    # ...while three other addresses spend the account's budget (each
    # under its own per-address budget), in both protocols
    fails = 0
    for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        for i in range(4):
            assert smtp_login(h, USER, f"guess{i}", src=src) in (535, 454)
            assert pop3_login(h, USER, f"guess{i}", src=src) in (
                "[AUTH]", "[SYS/TEMP]")
            fails += 2
    assert fails >= 21
    # a fresh address is held off, even with the right password...
    assert smtp_login(h, USER, PASSWORD, src="127.0.0.5") == 454
    assert pop3_login(h, USER, PASSWORD, src="127.0.0.5") == "[SYS/TEMP]"
    # ...but the owner still logs in from their own address, both ways
    assert smtp_login(h, USER, PASSWORD, src="127.0.0.1") == 235
    assert pop3_login(h, USER, PASSWORD, src="127.0.0.1") == "+OK"
    # and another account is not affected
    assert smtp_login(h, OTHER, OTHER_PW, src="127.0.0.6") == 235
    assert h.wait_log("auth-ratelimited", 5), h.log()


def test_pop3_and_smtp_failures_count_together(herald_factory):
    h = server(herald_factory, "fail_per_ip = 3\nfail_per_user = 100")
    assert pop3_login(h, USER, "wrong1") == "[AUTH]"
    assert pop3_login(h, USER, "wrong2") == "[AUTH]"
    assert smtp_login(h, USER, "wrong3") == 535
    # three failures in all: both protocols now refuse this address
    assert smtp_login(h, USER, PASSWORD) == 454
    assert pop3_login(h, USER, PASSWORD) == "[SYS/TEMP]"
    assert h.wait_log_count("sasl auth-failed", 3, 5), h.log()
    log = h.log()
    assert log.count("sasl auth-failed") == 3, log
    assert "proto=pop3 rip=127.0.0.1" in log
    assert "proto=smtp rip=127.0.0.1" in log


def imap_login(h, user, password, src="127.0.0.1"):
    """The tagged reply of LOGIN from src, "OK" or "NO [CODE]"."""
    with socket.create_connection(("127.0.0.1", h.ports["imap"]), 10,
                                  source_address=(src, 0)) as sock:
        f = sock.makefile("rb")
        assert f.readline().startswith(b"* OK")
        sock.sendall(f'a LOGIN "{user}" "{password}"\r\n'.encode())
        while True:
            ln = f.readline().decode()
            assert ln, "connection closed"
            if ln.startswith("a "):
                parts = ln.split()
                return "OK" if parts[1] == "OK" else " ".join(parts[1:3])


def test_imap_failures_count_with_pop3_and_smtp(herald_factory):
    """Issue 11, 2: IMAP logins go through the same budgets as SMTP and
    POP3, with the same fail delay and log line."""
    h = server(herald_factory, "fail_per_ip = 3\nfail_per_user = 100",
               listeners=("smtp", "pop3", "imap"))
    assert imap_login(h, USER, "wrong1") == "NO [AUTHENTICATIONFAILED]"
    assert pop3_login(h, USER, "wrong2") == "[AUTH]"
    assert smtp_login(h, USER, "wrong3") == 535
    # three failures in all: every protocol now refuses this address,
    # the right password included
    assert imap_login(h, USER, PASSWORD) == "NO [UNAVAILABLE]"
    assert pop3_login(h, USER, PASSWORD) == "[SYS/TEMP]"
    # another address is not affected, in IMAP either
    assert imap_login(h, USER, PASSWORD, src="127.0.0.7") == "OK"
    assert h.wait_log_count("sasl auth-failed", 3, 5), h.log()
    log = h.log()
    assert log.count("sasl auth-failed") == 3, log
    assert "proto=imap rip=127.0.0.1" in log


def test_imap_fail_delay(herald_factory):
    """A wrong IMAP password is answered after [auth] fail_delay, like
    SMTP's and POP3's."""
    h = server(herald_factory, "fail_per_ip = 100\nfail_per_user = 100\n"
               "fail_delay = 700ms", listeners=("smtp", "pop3", "imap"))
    t0 = time.monotonic()
    assert imap_login(h, USER, "wrong") == "NO [AUTHENTICATIONFAILED]"
    assert time.monotonic() - t0 >= 0.7
    t0 = time.monotonic()
    assert imap_login(h, USER, PASSWORD) == "OK"
    assert time.monotonic() - t0 < 0.7


def test_user_name_case_variants_share_one_budget(herald_factory):
    h = server(herald_factory, "fail_per_ip = 100\nfail_per_user = 3")
    assert pop3_login(h, "ALICE@example.test", "x", src="127.0.0.2") == "[AUTH]"
    assert pop3_login(h, "Alice@Example.TEST", "y", src="127.0.0.3") == "[AUTH]"
    assert smtp_login(h, "aLiCe@EXAMPLE.test", "z", src="127.0.0.4") == 535
    # the account's budget is spent, whatever the spelling
    for user in (USER, "ALICE@EXAMPLE.TEST"):
        assert pop3_login(h, user, PASSWORD, src="127.0.0.5") == "[SYS/TEMP]"
        assert smtp_login(h, user, PASSWORD, src="127.0.0.5") == 454


def test_right_and_wrong_password_look_alike_once_limited(herald_factory):
    h = server(herald_factory, "fail_per_ip = 100\nfail_per_user = 2")
    assert smtp_login(h, USER, "a", src="127.0.0.2") == 535
    assert smtp_login(h, USER, "b", src="127.0.0.3") == 535
    # a guesser must not learn that a guess was right from the answer
    for pw in ("c", PASSWORD):
        assert smtp_login(h, USER, pw, src="127.0.0.4") == 454


def test_workers_share_one_budget(herald_factory):
    h = herald_factory(listeners=("smtp", "pop3"), workers=3,
                       sections={"auth": "argon2_memlimit = 8M\n"
                                         "argon2_opslimit = 1\n"
                                         "fail_delay = 0ms\n"
                                         "fail_per_ip = 4\n"
                                         "fail_per_user = 1000"})
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    assert len(h.pids()[1]) == 3
    # each login is a new connection, which any of the three workers may
    # accept: four failures in all spend the address's budget everywhere
    for i in range(4):
        assert smtp_login(h, USER, f"wrong{i}") == 535
    for _ in range(12):
        assert smtp_login(h, USER, PASSWORD) == 454
        assert pop3_login(h, USER, PASSWORD) == "[SYS/TEMP]"
    # which workers took them, from the connection ids in the log
    def pids():
        return {l.split("herald[", 1)[1].split("]", 1)[0]
                for l in h.log().splitlines() if "auth-ratelimited" in l}
    # the last lines may follow the last reply (docs/logging.md)
    deadline = time.monotonic() + 5
    while len(pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pids()) >= 2, "all logins went to one worker: nothing shown"


def test_apop_counts_with_smtp_and_folds_case(herald_factory):
    h = herald_factory(listeners=("smtp", "pop3"),
                       sections={"auth": "argon2_memlimit = 8M\n"
                                         "argon2_opslimit = 1\n"
                                         "fail_delay = 0ms\n"
                                         "fail_per_ip = 2\n"
                                         "fail_per_user = 1000",
                                 "pop3": "apop = yes"})
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    # APOP needs the cleartext: store it the way docs/passwords.md allows
    db = h.db()
    db.execute("UPDATE accounts SET password_hash = ?", ("{PLAIN}" + PASSWORD,))
    db.commit()
    db.close()

    def apop(user, secret, src):
        p = POP3From("127.0.0.1", h.ports["pop3"], src)
        try:
            p.apop(user, secret)
            return "+OK"
        except poplib.error_proto as e:
            return e.args[0].decode().split()[1]
        finally:
            try:
                p.quit()
            except (poplib.error_proto, OSError):
                pass

    assert apop("ALICE@example.test", PASSWORD, "127.0.0.2") == "+OK"
    assert apop(USER, "wrong", "127.0.0.3") == "[AUTH]"
    assert smtp_login(h, USER, "wrong", src="127.0.0.3") == 535
    # one APOP and one SMTP failure spend 127.0.0.3's budget of two
    assert apop(USER, PASSWORD, "127.0.0.3") == "[SYS/TEMP]"
    assert h.wait_log("sasl auth-failed user=<alice@example.test> "
                      "method=APOP proto=pop3 rip=127.0.0.3", 5), h.log()


def test_reload_keeps_budgets_and_known_addresses(herald_factory):
    """SIGHUP made new tables: every guesser had a fresh budget and every
    owner lost their known address after each reload (a certificate
    renewal hook reloads daily)."""
    h = server(herald_factory, "fail_per_ip = 3\nfail_per_user = 3")
    assert smtp_login(h, USER, PASSWORD, src="127.0.0.1") == 235
    for i in range(3):
        assert smtp_login(h, "x@example.test", f"g{i}", src="127.0.0.7") \
            == 535
    for i, src in enumerate(("127.0.0.2", "127.0.0.3", "127.0.0.4")):
        assert smtp_login(h, USER, f"guess{i}", src=src) == 535
    h.signal(signal.SIGHUP)
    assert h.wait_log("daemon reloaded")
    # the address and the account are still out of budget...
    assert smtp_login(h, OTHER, OTHER_PW, src="127.0.0.7") == 454
    assert smtp_login(h, USER, PASSWORD, src="127.0.0.5") == 454
    # ...and the owner's address is still known
    assert smtp_login(h, USER, PASSWORD, src="127.0.0.1") == 235
