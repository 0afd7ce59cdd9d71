"""mbsync (isync) syncs a 1,000-message account both ways with a local
Maildir over IMAPS: flags, deletions and new messages made on either side
reach the other, and a second sync in a row changes nothing (issue 11,
"Done when"). The scenario is sync_util.run_scenario."""
import os
import smtplib
import subprocess

from imap_util import PASSWORD, USER
from sync_util import (account, add_local, check_bodies, check_same, local,
                       msgid, need, run_scenario, snapshot)


def mbsync_setup(h):
    """An mbsync configuration for h's INBOX and a local Maildir: (the
    Maildir's path, a function that runs one sync)."""
    home = os.path.join(h.dir, "mbsync")
    md = os.path.join(home, "mail", "INBOX")
    os.makedirs(md)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    rc = os.path.join(home, "mbsyncrc")
    with open(rc, "w") as f:
        f.write(f"""IMAPAccount herald
Host localhost
Port {h.ports["imaps"]}
User {USER}
Pass "{PASSWORD}"
SSLType IMAPS
CertificateFile {h.cert_path}

IMAPStore far
Account herald

MaildirStore near
Path {home}/mail/
Inbox {md}

Channel inbox
Far :far:
Near :near:
Patterns INBOX
Create Both
Expunge Both
SyncState *
Sync All
""")

    def sync():
        p = subprocess.run(["mbsync", "-c", rc, "-V", "inbox"],
                           capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, HOME=home))
        assert p.returncode == 0, f"mbsync exit {p.returncode}:\n" \
            f"{p.stdout[-3000:]}{p.stderr[-3000:]}"

    return md, sync


def test_mbsync_two_way(herald_factory):
    need("mbsync")
    h = account(herald_factory)
    md, sync = mbsync_setup(h)
    run_scenario(h, md, sync)


def test_mbsync_internationalized_messages(herald_factory):
    """RFC 9755 7 as Herald chose it (docs/imap.md "UTF-8"): mbsync, which
    does not enable UTF8=ACCEPT, gets a message with UTF-8 header fields
    (delivered with SMTPUTF8) byte for byte, and can put one back: its
    APPEND is accepted. A second sync changes nothing."""
    need("mbsync")
    h = account(herald_factory, n=3)
    intl = ("From: J\u00fcrgen <j\u00fcrgen@b\u00fccher.example>\r\n"
            f"To: {USER}\r\nSubject: Gr\u00fc\u00dfe \U0001F600\r\n"
            "Message-ID: <intl-down@remote.test>\r\n\r\nHallo\r\n"
            ).encode()
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        s.sendmail("j\u00fcrgen@b\u00fccher.example", [USER], intl,
                   mail_options=["SMTPUTF8"])
    md, sync = mbsync_setup(h)
    sync()
    check_bodies(h, md)
    assert "<intl-down@remote.test>" in local(md)
    up = intl.replace(b"intl-down@", b"intl-up@").replace(
        b"Hallo", b"Servus")
    add_local(md, up)
    sync()
    ids = {msgid(i) for i in range(3)} | {"<intl-down@remote.test>",
                                          "<intl-up@remote.test>"}
    check_same(h, md, ids)
    check_bodies(h, md)
    before = snapshot(md)
    sync()
    assert snapshot(md) == before
