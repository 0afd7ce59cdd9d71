"""`herald config check|show|docs`, `help`, `version`, exit codes."""
import os
import subprocess

from harness import HERALD_BIN, ROOT


def run(*args, **kw):
    return subprocess.run([HERALD_BIN, *args], capture_output=True, text=True,
                          timeout=60, **kw)


def test_check_good_file(herald_factory):
    h = herald_factory()
    p = run("config", "check", "-c", h.conf)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"{h.conf}: ok"


def test_check_unknown_key(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("hostname = mail.example.test\n[listen]\nsmtp = 127.0.0.1:25\n"
                    "smpt = 127.0.0.1:26\n")
    p = run("config", "check", "-c", str(conf))
    assert p.returncode == 1
    assert p.stderr.strip() == f"{conf}:4: unknown key 'smpt' in [listen]"


def test_check_reports_every_error(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("workers = lots\nfoo = 1\n")
    p = run("config", "check", "-c", str(conf))
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        f"{conf}:1: workers: 'lots' is not a number",
        f"{conf}:2: unknown key 'foo'"]


def test_config_env_default(tmp_path):
    conf = tmp_path / "env.conf"
    conf.write_text("hostname = a.example\n")
    p = run("config", "check", env=dict(os.environ, HERALD_CONFIG=str(conf)))
    assert p.returncode == 0 and str(conf) in p.stdout


def test_show_hides_secrets(tmp_path):
    conf = tmp_path / "s.conf"
    conf.write_text("hostname = a.example\n[store]\nmariadb_password = hunter2\n")
    p = run("config", "show", "-c", str(conf))
    assert p.returncode == 0
    assert "hunter2" not in p.stdout
    assert "mariadb_password = (hidden)" in p.stdout


def test_docs_match_committed_reference():
    p = run("config", "docs")
    assert p.returncode == 0
    with open(os.path.join(ROOT, "docs", "config.md")) as f:
        doc = f.read()
    assert p.stdout in doc, "docs/config.md is stale: regenerate with " \
        "`herald config docs` (see the note at its top)"


def test_help_and_usage():
    p = run("help")
    assert p.returncode == 0
    for cmd in ("serve", "config", "domain", "user", "alias", "version"):
        assert f"  {cmd} " in p.stdout
    for cmd in ("serve", "config", "domain", "user", "alias"):
        q = run(cmd, "--help")
        assert q.returncode == 0, cmd
        assert "usage: herald " + cmd in q.stdout, cmd
    assert run("frobnicate").returncode == 2
    assert run("version").stdout.startswith("herald ")
