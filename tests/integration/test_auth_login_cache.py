"""The verified-login cache of the login service ([auth] login_cache_ttl,
docs/passwords.md "The verified-login cache"): a second login with the
same password skips the hash (the debug line `sasl login-cache hit`), in
every protocol; a new password (herald user passwd) shuts the old one out
at once; a deleted user is refused at once; a wrong password is never
remembered and still counts against the budgets; with the cache off every
login hashes. Real clients: imaplib, poplib, smtplib."""
import imaplib
import poplib
import smtplib

import pytest

USER, PASSWORD = "alice@example.test", "alice-secret"
HIT = "sasl login-cache hit"


def server(herald_factory, auth=""):
    h = herald_factory(listeners=("smtp", "pop3", "imap"),
                       extra="log_level = debug",
                       sections={"auth": "argon2_memlimit = 8M\n"
                                         "argon2_opslimit = 1\n"
                                         "fail_delay = 0ms\n" + auth})
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    return h


def imap_login(h, user, password):
    """True on OK, False on NO."""
    c = imaplib.IMAP4("127.0.0.1", h.ports["imap"], timeout=10)
    try:
        c.login(user, password)
        c.select("INBOX")
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        try:
            c.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def pop3_login(h, user, password):
    p = poplib.POP3("127.0.0.1", h.ports["pop3"], timeout=10)
    try:
        p.user(user)
        p.pass_(password)
        return True
    except poplib.error_proto:
        return False
    finally:
        try:
            p.quit()
        except (poplib.error_proto, OSError):
            pass


def smtp_login(h, user, password):
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10) as s:
        s.ehlo("client.test")
        try:
            s.login(user, password)
            return True
        except smtplib.SMTPAuthenticationError:
            return False


def hits(h, want):
    """The hit lines in the log once there are want of them, or after a
    bounded wait: a line may follow the reply (docs/logging.md). A count
    that must not grow is read at once: the hit line is written on the
    pool thread before the reply (sasl/login.c), so it cannot come late."""
    h.wait_log_count(HIT, want, 5)
    return h.log().count(HIT)


def test_second_login_is_a_cache_hit_in_every_protocol(herald_factory):
    h = server(herald_factory)
    assert imap_login(h, USER, PASSWORD)
    assert hits(h, 0) == 0, "the first login must hash"
    assert imap_login(h, USER, PASSWORD)
    assert h.wait_log(HIT)
    assert hits(h, 1) == 1
    # one cache for the login service of every protocol
    assert pop3_login(h, USER, PASSWORD)
    assert smtp_login(h, USER, PASSWORD)
    assert hits(h, 3) == 3
    line = [ln for ln in h.log().splitlines() if HIT in ln][0]
    assert f"user=<{USER}>" in line
    assert PASSWORD not in h.log()


def test_new_password_shuts_the_old_out_at_once(herald_factory):
    h = server(herald_factory)
    assert imap_login(h, USER, PASSWORD)
    assert imap_login(h, USER, PASSWORD)
    assert hits(h, 1) == 1
    h.cli("user", "passwd", USER, input="the-new-one\n")
    assert not imap_login(h, USER, PASSWORD)
    assert not pop3_login(h, USER, PASSWORD)
    assert hits(h, 1) == 1
    assert imap_login(h, USER, "the-new-one")
    assert hits(h, 1) == 1, "the new password's first login hashes"
    assert imap_login(h, USER, "the-new-one")
    assert hits(h, 2) == 2


def test_deleted_user_is_refused_at_once(herald_factory):
    h = server(herald_factory)
    assert imap_login(h, USER, PASSWORD)
    assert imap_login(h, USER, PASSWORD)
    assert hits(h, 1) == 1
    h.cli("user", "del", USER)
    assert not imap_login(h, USER, PASSWORD)
    assert hits(h, 1) == 1


def test_wrong_password_is_never_cached_and_still_counts(herald_factory):
    # budget of 3 failures per address: the cache must not hide any
    h = server(herald_factory, "fail_per_ip = 3\nfail_per_user = 100\n")
    assert imap_login(h, USER, PASSWORD)
    for _ in range(2):
        assert not imap_login(h, USER, "wrong-one")
    assert hits(h, 0) == 0
    assert h.wait_log_count("auth-failed", 2, 5), h.log()
    assert h.log().count("auth-failed") == 2
    # a cached success neither resets the count nor gets past the budget
    assert imap_login(h, USER, PASSWORD)
    assert hits(h, 1) == 1
    assert not imap_login(h, USER, "wrong-one")
    assert h.wait_log_count("auth-failed", 3, 5), h.log()
    assert h.log().count("auth-failed") == 3
    assert hits(h, 1) == 1
    # the address has spent its budget: the right password is refused
    # too, cached or not
    assert not imap_login(h, USER, PASSWORD)
    assert h.wait_log("auth-ratelimited", 5), h.log()


@pytest.mark.parametrize("off", ["login_cache_ttl = 0",
                                 "login_cache_size = 0"])
def test_cache_off_hashes_every_login(herald_factory, off):
    h = server(herald_factory, off + "\n")
    for _ in range(3):
        assert imap_login(h, USER, PASSWORD)
    assert pop3_login(h, USER, PASSWORD)
    assert hits(h, 0) == 0
    assert not imap_login(h, USER, "wrong-one")
    assert imap_login(h, USER, PASSWORD)
