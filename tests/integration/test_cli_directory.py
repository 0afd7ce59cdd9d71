"""`herald domain|user|alias` against the real store, as a new admin would
use them (issue 2, "Done when")."""
import os
import pty
import pwd
import select
import signal
import sqlite3
import subprocess
import termios
import time

import pytest

from harness import HERALD_BIN


def test_user_add_stores_argon2id(herald_factory):
    h = herald_factory()
    h.cli("domain", "add", "example.test")
    p = subprocess.run(f"echo secret | {HERALD_BIN} user add alice@example.test -c {h.conf}",
                       shell=True, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert h.cli("user", "list").stdout.splitlines() == ["alice@example.test"]
    db = sqlite3.connect(os.path.join(h.data_dir, "herald.db"))
    hashes = [r[0] for r in db.execute("select password_hash from accounts")]
    db.close()
    assert len(hashes) == 1 and hashes[0].startswith("$argon2id$")
    assert "secret" not in hashes[0]


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="only root makes files for the herald user")
def test_files_belong_to_the_worker_user(herald_factory):
    h = herald_factory()
    h.add_domain()
    h.add_user("bob@example.test")
    uid = pwd.getpwnam("herald").pw_uid
    for root, dirs, files in os.walk(h.data_dir):
        for name in dirs + files:
            st = os.stat(os.path.join(root, name))
            assert st.st_uid == uid, f"{name} owned by {st.st_uid}"


def test_user_in_unknown_domain(herald_factory):
    h = herald_factory()
    p = h.cli("user", "add", "alice@nowhere.test", input="pw\n", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == ("herald: domain nowhere.test does not exist; "
                                "add it first with 'herald domain add nowhere.test'")


def test_duplicate_user_case_insensitive(herald_factory):
    h = herald_factory()
    h.add_domain()
    h.add_user("Alice@example.test")
    p = h.cli("user", "add", "alice@EXAMPLE.test", input="pw\n", check=False)
    assert p.returncode == 1
    assert "already exists" in p.stderr


def test_password_never_from_argv(herald_factory):
    h = herald_factory()
    h.add_domain()
    p = h.cli("user", "add", "carol@example.test", "secret", check=False)
    assert p.returncode == 2
    p = h.cli("user", "add", "carol@example.test", input="", check=False)
    assert p.returncode == 1 and "standard input" in p.stderr


def test_domain_del_needs_force(herald_factory):
    h = herald_factory()
    h.add_domain()
    h.add_user("dave@example.test")
    p = h.cli("domain", "del", "example.test", check=False)
    assert p.returncode == 1
    assert "--force" in p.stderr
    assert h.cli("domain", "list").stdout.split() == ["example.test"]
    h.cli("domain", "del", "example.test", "--force")
    assert h.cli("domain", "list").stdout.split() == []
    assert h.cli("user", "list").stdout.split() == []


def test_user_del_and_passwd(herald_factory):
    h = herald_factory()
    h.add_domain()
    h.add_user("erin@example.test", "one")
    db = os.path.join(h.data_dir, "herald.db")
    before = sqlite3.connect(db).execute("select password_hash from accounts").fetchone()[0]
    h.cli("user", "passwd", "erin@example.test", input="two\n")
    after = sqlite3.connect(db).execute("select password_hash from accounts").fetchone()[0]
    assert before != after
    h.cli("user", "del", "erin@example.test")
    assert h.cli("user", "list").stdout == ""
    p = h.cli("user", "del", "erin@example.test", check=False)
    assert p.returncode == 1


def test_aliases(herald_factory):
    h = herald_factory()
    h.add_domain()
    h.add_user("frank@example.test")
    h.cli("alias", "add", "team@example.test", "frank@example.test", "someone@else.test")
    h.cli("alias", "add", "@example.test", "frank@example.test")
    out = h.cli("alias", "list").stdout.splitlines()
    assert "team@example.test\tfrank@example.test" in out
    assert "team@example.test\tsomeone@else.test" in out
    assert "@example.test\tfrank@example.test" in out
    p = h.cli("alias", "add", "x@other.test", "frank@example.test", check=False)
    assert p.returncode == 1 and "not a local domain" in p.stderr
    h.cli("alias", "del", "team@example.test", "someone@else.test")
    out = h.cli("alias", "list").stdout.splitlines()
    assert "team@example.test\tsomeone@else.test" not in out
    h.cli("alias", "del", "team@example.test")
    assert all(not l.startswith("team@") for l in h.cli("alias", "list").stdout.splitlines())


def test_bad_arguments(herald_factory):
    h = herald_factory()
    assert h.cli("domain", "add", "not a domain", check=False).returncode == 1
    assert h.cli("user", "add", "nobody", input="x\n", check=False).returncode == 1
    assert h.cli("domain", "frob", check=False).returncode == 2
    assert h.cli("user", "list", "a", "b", check=False).returncode == 2


PROMPTS = (b"Password for ", b"Again: ")


def run_on_terminal(h, args, answers, timeout=60):
    """Runs `herald ARGS -c CONF` with a pty as its terminal (stdin, stdout
    and stderr) and answers each prompt in turn; returns the exit code and
    everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(HERALD_BIN, [HERALD_BIN, *args, "-c", h.conf])
        finally:
            os._exit(127)
    shown, sent = b"", 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:     # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            prompts = sum(shown.count(p) for p in PROMPTS)
            # answer once the prompt shows and echo is off: what is typed
            # before herald turns echo off is flushed, as on a real tty
            # (the master reads the slave's termios on Linux)
            if sent < len(answers) and prompts > sent and \
                    not termios.tcgetattr(fd)[3] & termios.ECHO:
                os.write(fd, answers[sent].encode() + b"\n")
                sent += 1
    finally:
        os.close(fd)
        for _ in range(100):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
    assert time.monotonic() < deadline, f"no end on the terminal: {shown!r}"
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def stored_hash(h, local):
    db = sqlite3.connect(os.path.join(h.data_dir, "herald.db"))
    try:
        row = db.execute("select password_hash from accounts where "
                         "localpart = ?", (local,)).fetchone()
    finally:
        db.close()
    return row[0] if row else None


def test_user_add_on_a_terminal_asks_twice_without_echo(herald_factory):
    h = herald_factory()
    h.add_domain()
    rc, shown = run_on_terminal(h, ["user", "add", "tess@example.test"],
                                ["a long secret", "a long secret"])
    assert rc == 0, shown
    assert "Password for tess@example.test: " in shown
    assert "Again: " in shown
    assert "a long secret" not in shown          # no echo
    assert stored_hash(h, "tess").startswith("$argon2id$")
    # the two differ: nothing is stored
    rc, shown = run_on_terminal(h, ["user", "add", "uma@example.test"],
                                ["a long secret", "a long secreT"])
    assert rc == 1, shown
    assert "differ" in shown
    assert stored_hash(h, "uma") is None
    # passwd asks the same way
    before = stored_hash(h, "tess")
    rc, shown = run_on_terminal(h, ["user", "passwd", "tess@example.test"],
                                ["another secret", "another secret"])
    assert rc == 0, shown
    assert stored_hash(h, "tess") != before


def test_password_shorter_than_the_minimum_is_refused(herald_factory):
    h = herald_factory(sections={"auth": "argon2_memlimit = 8M\n"
                                         "argon2_opslimit = 1\n"
                                         "password_min_length = 10"})
    h.add_domain()
    # on a terminal
    rc, shown = run_on_terminal(h, ["user", "add", "vic@example.test"],
                                ["too short", "too short"])
    assert rc == 1, shown
    assert "shorter than 10 characters" in shown
    assert "password_min_length" in shown
    assert stored_hash(h, "vic") is None
    # and on a pipe; characters count, not bytes: 9 characters in 18 bytes
    p = h.cli("user", "add", "vic@example.test", input="ééééééééé\n",
              check=False)
    assert p.returncode == 1 and "shorter than 10" in p.stderr, p.stderr
    h.cli("user", "add", "vic@example.test", input="éééééééééé\n")
    assert stored_hash(h, "vic").startswith("$argon2id$")
    p = h.cli("user", "passwd", "vic@example.test", input="short\n",
              check=False)
    assert p.returncode == 1 and "shorter than 10" in p.stderr, p.stderr


def test_default_minimum_is_8(herald_factory):
    h = herald_factory()
    with open(h.conf) as f:
        text = f.read()
    with open(h.conf, "w") as f:
        f.write(text.replace("password_min_length = 1\n", ""))
    h.add_domain()
    p = h.cli("user", "add", "walt@example.test", input="1234567\n",
              check=False)
    assert p.returncode == 1 and "shorter than 8 characters" in p.stderr
    h.cli("user", "add", "walt@example.test", input="12345678\n")


def test_user_quota_bytes_and_messages(herald_factory):
    h = herald_factory()
    h.add_domain()
    h.cli("user", "add", "gina@example.test", "--quota", "1M",
          "--messages", "50", input="secret\n")
    h.add_user("hank@example.test")
    out = h.cli("user", "list").stdout.splitlines()
    assert out == ["gina@example.test\tquota=1048576 used=0"
                   "\tmessage_quota=50 messages=0", "hank@example.test"], out
    # the old syntax sets the byte quota only; --messages alone the count
    h.cli("user", "quota", "hank@example.test", "2k")
    h.cli("user", "quota", "hank@example.test", "--messages", "7")
    h.cli("user", "quota", "gina@example.test", "0", "--messages", "9")
    out = h.cli("user", "list").stdout.splitlines()
    assert out == ["gina@example.test\tmessage_quota=9 messages=0",
                   "hank@example.test\tquota=2048 used=0"
                   "\tmessage_quota=7 messages=0"], out
    db = sqlite3.connect(os.path.join(h.data_dir, "herald.db"))
    rows = db.execute("select localpart, quota_bytes, quota_messages"
                      " from accounts order by localpart").fetchall()
    db.close()
    assert rows == [("gina", 0, 9), ("hank", 2048, 7)], rows
    h.cli("user", "quota", "hank@example.test", "--messages", "0")
    assert h.cli("user", "list").stdout.splitlines()[1] == \
        "hank@example.test\tquota=2048 used=0"
    # usage errors change nothing
    for args in (("quota", "hank@example.test"),
                 ("quota", "hank@example.test", "--messages", "x"),
                 ("quota", "hank@example.test", "--messages", "-1"),
                 ("quota", "hank@example.test", "--messages", "5k"),
                 ("passwd", "hank@example.test", "--messages", "5")):
        p = h.cli("user", *args, check=False, input="pw\n")
        assert p.returncode == 2, (args, p.returncode, p.stderr)
    assert h.cli("user", "quota", "hank@example.test", "1X",
                 check=False).returncode == 1
    assert h.cli("user", "quota", "nobody@example.test", "--messages", "5",
                 check=False).returncode == 1
    assert "--messages" in h.cli("user", "--help").stdout
    assert h.cli("user", "list").stdout.splitlines()[1] == \
        "hank@example.test\tquota=2048 used=0"
