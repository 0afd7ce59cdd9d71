"""Postfix from Debian hands mail to Herald over LMTP.

A private Postfix instance (its own config, queue and data directories
under a temporary directory, smtpd on a loopback high port, log in a file)
accepts one message for two Herald users over SMTP and delivers it with
its lmtp(8) client to Herald's LMTP listener: both users' INBOXes must
hold the message and Postfix must log status=sent for each recipient
(per-recipient LMTP replies, RFC 2033). Skipped only when this build does
not serve `lmtp`. The Postfix instance is stopped in every case.
"""
import os
import shutil
import smtplib
import time
import uuid

import pytest

from harness import DOMAIN, build_protocols
from postfix_util import Postfix

USERS = ("alice", "bob")


def postfix_to_lmtp(transport, recipients):
    """A private Postfix (postfix_util) whose virtual domain DOMAIN holds
    recipients and is delivered by the given lmtp transport."""
    pf = Postfix()
    vmailbox = os.path.join(pf.etc, "vmailbox")
    with open(vmailbox, "w") as f:
        f.writelines(f"{r} ok\n" for r in recipients)
    pf.postconf(f"virtual_mailbox_domains={DOMAIN}",
                f"virtual_mailbox_maps=texthash:{vmailbox}",
                f"virtual_transport={transport}")
    return pf


def sent_lines(log, rcpt):
    return [l for l in log.splitlines()
            if "postfix/lmtp[" in l and f"to=<{rcpt}>" in l
            and "status=sent" in l]


@pytest.mark.parametrize("listener", ["lmtp", "lmtp_unix"])
def test_postfix_delivers_to_two_users_over_lmtp(herald_factory, listener):
    if "lmtp" not in build_protocols():
        pytest.skip("this build does not serve lmtp (herald serve --protocols)")
    h = herald_factory(listeners=(listener,))
    h.add_domain()
    rcpts = [f"{u}@{DOMAIN}" for u in USERS]
    for r in rcpts:
        h.add_user(r)
    h.start()
    if listener == "lmtp":
        endpoint = f"127.0.0.1[127.0.0.1]:{h.ports['lmtp']}"
        transport = f"lmtp:inet:127.0.0.1:{h.ports['lmtp']}"
    else:
        assert h.wait_log("ready"), h.log()
        # The socket is mode 0660 for Herald's user and group; a deployment
        # adds postfix to the herald group. The test grants the same access
        # without touching the system's groups: the socket's group becomes
        # postfix's.
        shutil.chown(h.lmtp_path, group="postfix")
        endpoint = f"[{h.lmtp_path}]"  # relay=HOSTNAME[/path]
        transport = f"lmtp:unix:{h.lmtp_path}"

    pf = postfix_to_lmtp(transport, rcpts)
    try:
        pf.start()
        token = uuid.uuid4().hex
        body = (f"From: carol@sender.test\r\nTo: {', '.join(rcpts)}\r\n"
                f"Subject: lmtp {token}\r\nMessage-ID: <{token}@sender.test>\r\n"
                f"\r\nHello over LMTP, {token}.\r\n")
        with smtplib.SMTP("127.0.0.1", pf.port, timeout=30) as s:
            refused = s.sendmail("carol@sender.test", rcpts, body)
        assert refused == {}

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log = pf.log()
            if all(sent_lines(log, r) for r in rcpts):
                break
            time.sleep(0.2)
        log = pf.log()
        for r in rcpts:
            lines = sent_lines(log, r)
            assert lines, (f"postfix did not log status=sent for {r} via lmtp:\n"
                           f"{log}\n--- herald ---\n{h.log()}")
            relay = lines[0].split("relay=", 1)[1].split(",", 1)[0]
            assert relay.endswith(endpoint), lines[0]

        for u in USERS:
            msgs = h.messages(f"{u}@{DOMAIN}")
            assert len(msgs) == 1, f"{u}: {len(msgs)} messages in INBOX"
            data = msgs[0]
            assert f"Subject: lmtp {token}".encode() in data
            assert f"Hello over LMTP, {token}.".encode() in data
    finally:
        pf.cleanup()
