"""`herald config check|show|docs`, `help`, `version`, exit codes."""
import os
import socket
import subprocess
import time

import pytest

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


def test_long_comment_tail_is_not_live(tmp_path):
    # inih read a line in 200-byte pieces: the tail of this comment was a
    # setting, and Herald an open relay
    conf = tmp_path / "long.conf"
    conf.write_text("hostname = mail.example.test\n[smtp]\n#" + "x" * 198 +
                    "relay_networks = 0.0.0.0/0\n")
    p = run("config", "check", "-c", str(conf))
    assert p.returncode == 0, p.stderr
    p = run("config", "show", "-c", str(conf))
    assert "relay_networks = \n" in p.stdout
    assert "0.0.0.0/0" not in p.stdout


def test_long_value_is_read_whole(tmp_path):
    nets = ", ".join(f"10.{i}.0.0/16" for i in range(100))
    conf = tmp_path / "long.conf"
    conf.write_text(f"hostname = mail.example.test\n[smtp]\nrelay_networks = {nets}\n")
    p = run("config", "show", "-c", str(conf))
    assert p.returncode == 0, p.stderr
    assert f"relay_networks = {nets}\n" in p.stdout


# (name, file contents or None for a path given as is, expected stderr)
BAD_FILES = [
    ("nul-in-value", b"hostname = mail.example.test\n[smtp]\n"
     b"relay_networks = 192.0.2.1\0, 0.0.0.0/0\n", "{conf}:3: contains a NUL byte"),
    ("http-listener", b"[listen]\nsmtp = 127.0.0.1:2525\nhttp = 127.0.0.1:8443\n",
     "{conf}:3: http: the http protocol is not available in this build"),
    ("relay-networks", b"hostname = mail.example.test\n[smtp]\n"
     b"relay_networks = 192.0.2.0/33, banana\n",
     "{conf}:3: relay_networks: '192.0.2.0/33' is not a network: prefix "
     "longer than the address"),
    ("pop3-expire", b"[pop3]\nexpire = 30 days\n", "{conf}:2: expire: "
     "'30 days' is not NEVER or a number of days, optionally followed by USER "
     "(RFC 2449)"),
    ("tls-ciphers", b"hostname = mail.example.test\n[tls]\nciphers = RC4-MD5X\n",
     "{conf}:3: ciphers: 'RC4-MD5X' has no TLS 1.2 cipher OpenSSL knows"),
    ("relay-networks-word", b"[smtp]\nrelay_networks = 127.0.0.1 banana\n",
     "{conf}:2: relay_networks: 'banana' is not a network: not an IP address"),
]


@pytest.mark.parametrize("name,text,want", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_check_refuses(tmp_path, name, text, want):
    conf = tmp_path / f"{name}.conf"
    conf.write_bytes(text)
    p = run("config", "check", "-c", str(conf))
    assert p.returncode == 1, p.stdout
    assert p.stderr.strip() == want.format(conf=conf)


@pytest.mark.parametrize("kind", ["directory", "urandom", "fifo"])
def test_check_refuses_non_regular_file(tmp_path, kind):
    if kind == "directory":
        path = str(tmp_path)
    elif kind == "urandom":
        path = "/dev/urandom"
    else:
        path = str(tmp_path / "fifo.conf")
        os.mkfifo(path)
    # timeout: /dev/urandom and a FIFO without a writer used to hang it
    p = subprocess.run([HERALD_BIN, "config", "check", "-c", path],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert p.stderr.strip() == f"{path}: not a regular file"


def test_renamed_key_warns_and_still_works(tmp_path, herald_factory):
    """[smtp] max_connections_per_ip moved to the top level: a file that
    still sets it loads (it was "unknown key" right after the move), config
    check names the line and the new name, and serve logs the warning and
    applies the value."""
    conf = tmp_path / "old.conf"
    conf.write_text("hostname = mail.example.test\ndata_dir = /var/lib/x\n"
                    "[smtp]\nmax_connections_per_ip = 1\n")
    p = run("config", "check", "-c", str(conf))
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip() == (
        f"{conf}:4: warning: [smtp] max_connections_per_ip is now top-level "
        "max_connections_per_ip; the old name still works but will go")
    h = herald_factory(sections={"smtp": "max_connections_per_ip = 1"})
    h.start()
    h.wait_log("daemon config-warning")
    port = h.ports["smtp"]
    # start()'s port probe may hold the one slot for a moment
    deadline = time.monotonic() + 10
    while True:
        a = socket.create_connection(("127.0.0.1", port), timeout=10)
        if a.recv(512).startswith(b"220"):
            break
        a.close()
        assert time.monotonic() < deadline, "the one slot never freed"
        time.sleep(0.1)
    with a, socket.create_connection(("127.0.0.1", port), timeout=10) as b:
        assert b.recv(512).startswith(b"421")


def openssl_pair(tmp_path, name):
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}.example.test", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_check_loads_certificate_and_key(tmp_path, herald_factory):
    """A tls.cert that does not exist, or a tls.key of another
    certificate, passed config check ("ok") and only stopped herald
    serve: check loads them as serve does."""
    c1, k1 = openssl_pair(tmp_path, "one")
    _, k2 = openssl_pair(tmp_path, "two")
    cases = [
        (tmp_path / "missing.crt", k1, "tls.cert: cannot load"),
        (c1, k2, "tls.key: cannot load"),
    ]
    for cert, key, why in cases:
        h = herald_factory(listeners=(),
                           sections={"tls": f"cert = {cert}\nkey = {key}\n"})
        p = run("config", "check", "-c", h.conf)
        assert p.returncode == 1, p.stdout
        assert p.stderr.startswith(f"{h.conf}: {why}"), p.stderr
        s = subprocess.run([HERALD_BIN, "serve", "-c", h.conf],
                           capture_output=True, text=True, timeout=20)
        assert s.returncode != 0 and why in s.stderr, s.stderr
    h = herald_factory(listeners=(),
                       sections={"tls": f"cert = {c1}\nkey = {k1}\n"})
    p = run("config", "check", "-c", h.conf)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"{h.conf}: ok"
