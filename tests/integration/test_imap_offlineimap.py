"""offlineimap3 syncs a 1,000-message account both ways with a local
Maildir over IMAPS: flags, deletions and new messages made on either side
reach the other, and a second sync in a row changes nothing (issue 11,
"Done when"). The scenario is sync_util.run_scenario."""
import os
import subprocess

from imap_util import PASSWORD, USER
from sync_util import account, need, run_scenario


def test_offlineimap_two_way(herald_factory):
    need("offlineimap")
    h = account(herald_factory)
    home = os.path.join(h.dir, "offlineimap")
    md = os.path.join(home, "mail", "INBOX")
    os.makedirs(home)
    rc = os.path.join(home, "offlineimaprc")
    with open(rc, "w") as f:
        f.write(f"""[general]
accounts = herald
metadata = {home}/meta

[Account herald]
localrepository = near
remoterepository = far

[Repository near]
type = Maildir
localfolders = {home}/mail

[Repository far]
type = IMAP
remotehost = localhost
remoteport = {h.ports["imaps"]}
remoteuser = {USER}
remotepass = {PASSWORD}
ssl = yes
sslcacertfile = {h.cert_path}
folderfilter = lambda name: name == "INBOX"
""")

    def sync():
        p = subprocess.run(["offlineimap", "-c", rc, "-o", "-u", "basic"],
                           capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, HOME=home))
        out = p.stdout + p.stderr
        assert p.returncode == 0 and "ERROR" not in out, \
            f"offlineimap exit {p.returncode}:\n{out[-4000:]}"

    run_scenario(h, md, sync)
