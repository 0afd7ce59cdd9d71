"""`herald domain|user|alias` against the real store, as a new admin would
use them (issue 2, "Done when")."""
import os
import pwd
import sqlite3
import subprocess

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
