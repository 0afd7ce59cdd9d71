"""scripts/demo.sh, the README's first command: its ports come from
HERALD_DEMO_PORTS, and a port something else holds is named."""
import imaplib
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile

import pytest

from harness import ROOT, free_port

NAMES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3",
         "pop3s")


@pytest.fixture
def demo():
    d = tempfile.mkdtemp(prefix="herald-it-demo-")
    env = dict(os.environ, HERALD_DEMO_DIR=d)

    def run(*args, ports=None):
        e = dict(env)
        if ports is not None:
            e["HERALD_DEMO_PORTS"] = ports
        return subprocess.run(["bash", "scripts/demo.sh", *args], cwd=ROOT,
                              env=e, capture_output=True, text=True,
                              timeout=600)

    yield run
    run("stop")
    shutil.rmtree(d, ignore_errors=True)


def test_ports_from_the_environment(demo):
    ports = {n: free_port() for n in NAMES}
    p = demo(ports=",".join(f"{n}={v}" for n, v in ports.items()))
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"smtp=127.0.0.1:{ports['smtp']}" in p.stdout
    assert f"swaks --server 127.0.0.1:{ports['smtp']}" in p.stdout
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30) as s:
        assert s.noop()[0] == 250
    # the printed password logs in over IMAP
    assert f"imap=127.0.0.1:{ports['imap']}" in p.stdout
    password = re.search(r"password:\s+(\S+)", p.stdout).group(1)
    c = imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=30)
    assert c.login("demo@example.test", password)[0] == "OK"
    c.logout()
    assert demo("stop").returncode == 0


def test_a_taken_port_is_named(demo):
    ports = {n: free_port() for n in NAMES}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["pop3"]))
        busy.listen(1)
        p = demo(ports=" ".join(f"{n}={v}" for n, v in ports.items()))
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"port {ports['pop3']} (pop3)" in p.stderr, p.stderr
    assert "HERALD_DEMO_PORTS" in p.stderr
    # nothing was started on the others
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", ports["smtp"]), timeout=2)


def test_bad_ports_variable(demo):
    for bad in ("smtp", "smtp=", "smtp=x", "http=443", "pop3=70000"):
        p = demo(ports=bad)
        assert p.returncode == 2, (bad, p.stdout + p.stderr)
        assert f"'{bad}' is not NAME=PORT" in p.stderr, p.stderr
