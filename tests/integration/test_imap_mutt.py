"""mutt, run in tmux as a person would use it, reads the INBOX over
implicit TLS (993-style listener), opens a message, and moves it to
Archive with save-message; imaplib then finds it in Archive and no longer
in the INBOX (issue 11, "Done when")."""
import os
import shutil
import subprocess
import time

import pytest

from imap_util import PASSWORD, USER, deliver_many, login, make_msg, server, state


class Tmux:
    """A tmux server of its own (its own socket) running one program."""

    def __init__(self, home, cmd, env):
        self.sock = os.path.join(home, "tmux.sock")
        self.env = env
        self.run("new-session", "-d", "-x", "150", "-y", "40", "-s", "t", cmd)

    def run(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, *args], env=self.env,
                              capture_output=True, text=True, timeout=30)

    def keys(self, *keys):
        self.run("send-keys", "-t", "t", *keys)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "t").stdout

    def wait(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on mutt's screen after "
                             f"{timeout} s:\n{self.screen()}")

    def alive(self):
        return self.run("has-session", "-t", "t").returncode == 0

    def kill(self):
        self.run("kill-server")


def test_mutt_reads_inbox_and_moves_to_archive(herald_factory):
    for tool in ("mutt", "tmux"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed "
                        "(scripts/install-test-deps.sh installs it)")
    h = server(herald_factory, listeners=("imaps", "smtp"), own_cert=True)
    deliver_many(h, [make_msg(1, subject="first of three"),
                make_msg(2, subject="please archive me",
                         body="the text mutt shows in its pager\r\n"),
                make_msg(3, subject="third of three")], conns=1)
    home = os.path.join(h.dir, "mutt")
    os.makedirs(home)
    rc = os.path.join(home, "muttrc")
    with open(rc, "w") as f:
        f.write(f"""set folder = "imaps://localhost:{h.ports['imaps']}/"
set spoolfile = "+INBOX"
set imap_user = "{USER}"
set imap_pass = "{PASSWORD}"
set ssl_force_tls = yes
set ssl_ca_certificates_file = "{h.cert_path}"
set certificate_file = "{home}/certificates"
set header_cache = ""
set message_cachedir = ""
set record = ""
set postponed = "+Drafts"
set confirmappend = no
set confirmcreate = no
set delete = yes
set move = no
set quit = yes
set beep = no
set wait_key = no
set sleep_time = 0
set help = no
set sort = date-sent
set date_format = "%Y"
set index_format = "[%C] %s"
""")
    env = dict(os.environ, HOME=home, TERM="xterm-256color",
               LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("TMUX", None)
    t = Tmux(home, f"mutt -n -F {rc}", env)
    try:
        # the index of the INBOX, over TLS
        s = t.wait("third of three")
        assert "first of three" in s and "please archive me" in s, s
        # open the second message: its text in the pager
        t.keys("/", "please archive", "Enter")
        t.keys("Enter")
        t.wait("the text mutt shows in its pager")
        # save-message moves it (mutt marks the original deleted)
        t.keys("s")
        t.wait("Save to mailbox")
        t.keys("C-u", "=Archive", "Enter")
        time.sleep(0.5)
        t.keys("q")
        # sync the INBOX (expunges the moved message), then quit
        t.keys("$")
        time.sleep(0.5)
        t.keys("q")
        deadline = time.monotonic() + 30
        while t.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not t.alive(), f"mutt did not quit:\n{t.screen()}"
    finally:
        t.kill()

    c = login(h, tls=True)
    try:
        inbox = state(c, "INBOX")
        archive = state(c, "Archive")
        assert set(inbox) == {"<m1@remote.test>", "<m3@remote.test>"}, inbox
        assert set(archive) == {"<m2@remote.test>"}, archive
        # opened in the pager: \Seen, on the copy too
        assert "\\Seen" in archive["<m2@remote.test>"][1]
    finally:
        c.logout()
