"""mbsync (isync) syncs a 1,000-message account both ways with a local
Maildir over IMAPS: flags, deletions and new messages made on either side
reach the other, and a second sync in a row changes nothing (issue 11,
"Done when"). The scenario is sync_util.run_scenario."""
import os
import subprocess

from imap_util import PASSWORD, USER
from sync_util import account, need, run_scenario


def test_mbsync_two_way(herald_factory):
    need("mbsync")
    h = account(herald_factory)
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

    run_scenario(h, md, sync)
