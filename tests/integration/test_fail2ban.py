"""The shipped fail2ban filter matches Herald's real failed-login lines,
and a user name crafted to look like another address cannot get that
address banned."""
import os
import imaplib
import poplib
import re
import shutil
import smtplib
import ssl
import subprocess

import pytest

from harness import ROOT

FILTER = os.path.join(ROOT, "contrib", "fail2ban", "filter.d", "herald.conf")


def fail2ban_regex(log):
    if not shutil.which("fail2ban-regex"):
        pytest.fail("fail2ban-regex missing: scripts/install-test-deps.sh installs it")
    p = subprocess.run(["fail2ban-regex", "--print-all-matched", log, FILTER],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_filter_matches_failed_logins(herald_factory):
    h = herald_factory(listeners=("pop3", "submission", "imap"))
    h.add_domain()
    h.add_user("alice@example.test", "right")
    h.start()
    evil = 'x> method=PLAIN proto=smtp rip=203.0.113.9 reason="y"'
    for user in ("alice@example.test", "nobody@example.test"):
        p = poplib.POP3("127.0.0.1", h.ports["pop3"], timeout=10)
        p.user(user)
        with pytest.raises(poplib.error_proto):
            p.pass_("wrong")
        p.quit()
    for user in ("alice@example.test", evil):
        s = smtplib.SMTP("127.0.0.1", h.ports["submission"], timeout=10)
        s.starttls(context=ssl._create_unverified_context())
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login(user, "wrong")
        s.quit()
    c = imaplib.IMAP4("127.0.0.1", h.ports["imap"], timeout=10)
    with pytest.raises(imaplib.IMAP4.error):
        c.login("alice@example.test", "wrong")
    c.logout()
    # smtplib tries PLAIN, then LOGIN: two failures per SMTP login
    assert h.wait_log("proto=smtp rip=")
    assert h.wait_log("proto=imap rip=")
    out = fail2ban_regex(h.log_path)
    assert "Failregex: 7 total" in out, out
    # the host each failure is charged to, as fail2ban extracts it
    with open(FILTER) as f:
        rx = [l.split("=", 1)[1].strip() for l in f if l.startswith("failregex")][0]
    rx = re.compile(rx.replace("<HOST>", r"(?P<host>\S+)"))
    hosts = [m.group("host") for l in h.log().splitlines()
             if (m := rx.search(l))]
    assert hosts == ["127.0.0.1"] * 7, hosts
