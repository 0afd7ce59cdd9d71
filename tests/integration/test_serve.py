"""`herald serve`: the supervisor and its workers as an admin sees them:
privileges, crash restart, SIGTERM, readiness time, bad configs."""
import os
import pwd
import re
import signal
import subprocess
import time

import pytest

from harness import HERALD_BIN


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    return pred()


def test_workers_drop_to_herald(herald_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to test the privilege drop")
    h = herald_factory(workers=2, listeners=()).start()
    sup, workers = h.pids()
    assert len(workers) == 2
    herald_uid = pwd.getpwnam("herald").pw_uid
    assert uid_of(sup)[0] == 0
    for w in workers:
        # a worker drops privileges right after fork, before its first accept
        wait_for(lambda w=w: uid_of(w) == [herald_uid] * 4, 10.0)
        assert uid_of(w) == [herald_uid] * 4, f"worker {w} runs as {uid_of(w)}"


def test_killed_worker_is_restarted(herald_factory):
    h = herald_factory(workers=1, listeners=()).start()
    sup, (w1,) = h.pids()
    os.kill(w1, signal.SIGKILL)
    new = wait_for(lambda: [w for w in h.pids()[1] if w != w1], 15)
    assert new, "no new worker after kill -9:\n" + h.log()
    assert h.wait_log("worker-exit")
    assert h.proc.poll() is None


def test_sigterm_stops_everything_within_5s(herald_factory):
    h = herald_factory(workers=2, listeners=()).start()
    sup, workers = h.pids()
    t0 = time.monotonic()
    h.signal(signal.SIGTERM)
    rc = h.proc.wait(6)
    assert rc == 0
    assert all(wait_for(lambda w=w: gone(w), 5.0 - (time.monotonic() - t0))
               for w in workers)
    assert time.monotonic() - t0 < 5.0
    assert "daemon stopped" in h.log()
    h.proc = None


def test_ready_quickly(herald_factory):
    h = herald_factory(workers=1, listeners=())
    t0 = time.monotonic()
    h.start()
    elapsed = time.monotonic() - t0
    # the target is 200 ms for the release build; the sanitizer build and
    # a loaded CI machine get slack, this only catches gross regressions
    assert elapsed < 5.0, elapsed


def test_self_signed_certificate_created(herald_factory):
    h = herald_factory(listeners=()).start()
    tls = os.path.join(h.data_dir, "tls")
    files = sorted(os.listdir(tls))
    assert any(f.endswith(".crt") for f in files), files
    key = [f for f in files if f.endswith(".key")][0]
    assert os.stat(os.path.join(tls, key)).st_mode & 0o077 == 0
    out = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName",
                          "-in", os.path.join(tls, [f for f in files if f.endswith(".crt")][0])],
                         capture_output=True, text=True).stdout
    assert "DNS:mail.example.test" in out


def test_unavailable_protocol_refused(herald_factory):
    h = herald_factory(listeners=("http",))
    p = subprocess.run([HERALD_BIN, "serve", "-c", h.conf], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 1
    # refused by the loader, at the listener's line
    assert re.search(rf"^{re.escape(h.conf)}:\d+: http: the http protocol is "
                     "not available in this build$", p.stderr, re.M), p.stderr


def test_bad_config_refused(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("hostname = a.example\nlisten_smtp = 1\n")
    p = subprocess.run([HERALD_BIN, "serve", "-c", str(conf)], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 1
    assert p.stderr.strip() == f"{conf}:2: unknown key 'listen_smtp'"


def test_sighup_with_broken_config_keeps_running(herald_factory):
    h = herald_factory(workers=1, listeners=()).start()
    with open(h.conf, "a") as f:
        f.write("nonsense = 1\n")
    h.signal(signal.SIGHUP)
    assert h.wait_log("reload-failed")
    assert h.proc.poll() is None
    sup, workers = h.pids()
    assert len(workers) == 1


def test_sighup_keeps_established_connections(herald_factory):
    """A reload starts new workers; an SMTP session that was open before it
    finishes its transaction on the old worker, and new connections see the
    new configuration."""
    import smtplib
    h = herald_factory(workers=1, listeners=("smtp",))
    h.add_domain()
    h.add_user("rose@example.test")
    h.start()
    s = smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10)
    s.ehlo("before.example")
    s.mail("a@example.org")
    sup, (old,) = h.pids()
    with open(h.conf) as f:
        text = f.read()
    with open(h.conf, "w") as f:
        f.write(text.replace("mail.example.test", "mx2.example.test"))
    h.signal(signal.SIGHUP)
    assert h.wait_log("daemon reloaded")
    # the new generation answers new connections with the new hostname
    fresh = smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30)
    code, msg = fresh.ehlo("after.example")
    fresh.quit()
    assert b"mx2.example.test" in msg
    # the old session is still alive and completes its transaction
    s.rcpt("rose@example.test")
    code, _ = s.data(b"Subject: across a reload\r\n\r\nstill here\r\n")
    assert code == 250
    s.quit()
    assert wait_for(lambda: gone(old), 15), "old worker did not exit after draining"


def _owned_by_workers(path):
    """Root runs the tests; the workers open the store as `herald`."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam("herald")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _sqlite_bytes(tmp_path, name, sql):
    import sqlite3
    path = str(tmp_path / f"{name}.db")
    db = sqlite3.connect(path)
    db.executescript(sql)
    db.close()
    with open(path, "rb") as f:
        return f.read()


def _foreign_contents(tmp_path):
    garbage = bytes((i * 7 + 3) & 0xff for i in range(8192))
    return {
        "empty": (b"", "is empty (0 bytes)"),
        "garbage": (garbage, "is not an SQLite database"),
        "foreign": (_sqlite_bytes(tmp_path, "foreign",
                                  "CREATE TABLE notes (t TEXT);"
                                  "INSERT INTO notes VALUES ('x');"),
                    "without Herald's schema"),
        "appid": (_sqlite_bytes(tmp_path, "appid",
                                "PRAGMA application_id = 1234;"
                                "CREATE TABLE notes (t TEXT);"),
                  "belongs to another program"),
    }


@pytest.mark.parametrize("kind", ["empty", "garbage", "foreign", "appid",
                                  "newer", "root-owned", "root-blobs"])
def test_foreign_database_stops_serve(herald_factory, tmp_path, kind):
    """An empty, foreign or newer herald.db is not taken for a new store
    (mail for existing users would get 550): `herald serve` exits 1 with
    the reason naming the file, instead of restarting workers forever."""
    h = herald_factory(workers=2, listeners=("smtp",))
    db = os.path.join(h.data_dir, "herald.db")
    if kind == "newer":
        h.add_domain()
        import sqlite3
        c = sqlite3.connect(db)
        c.execute("PRAGMA user_version = 99")
        c.close()
        reason = "schema version 99 is newer"
    elif kind.startswith("root-"):
        # Herald's own store, but its file (or blob directory) made
        # root's by hand: no restart can cure it either
        if os.geteuid() != 0:
            pytest.skip("needs root to give the files to another user")
        h.add_domain()
        reason = "Permission denied"
        if kind == "root-blobs":
            db = os.path.join(h.data_dir, "blobs", "tmp")
        for path in (db, db + "-wal", db + "-shm"):
            if os.path.exists(path):
                os.chown(path, 0, 0)
                os.chmod(path, 0o700 if os.path.isdir(path) else 0o600)
    else:
        content, reason = _foreign_contents(tmp_path)[kind]
        os.makedirs(h.data_dir)
        with open(db, "wb") as f:
            f.write(content)
    _owned_by_workers(h.data_dir)
    if not kind.startswith("root-"):
        _owned_by_workers(db)
    before = None if os.path.isdir(db) else open(db, "rb").read()
    p = subprocess.Popen([HERALD_BIN, "serve", "-c", h.conf],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail("herald serve kept running on a bad herald.db:\n" +
                    out.decode(errors="replace")[-3000:])
    log = out.decode(errors="replace")
    assert p.returncode == 1, log
    assert db in log and reason in log, log
    assert "worker-fatal" in log, log
    # one start per worker, no restarts with backoff
    assert log.count("worker-start") == 2, log
    assert before is None or open(db, "rb").read() == before
    # the command line refuses it too, with the same reason
    r = h.cli("domain", "list", check=False)
    assert r.returncode == 1 and reason in r.stderr, r.stderr


def test_new_data_dir_still_initialises(herald_factory):
    h = herald_factory(workers=1, listeners=("smtp",)).start()
    assert h.wait_log("store created"), h.log()
    assert os.path.getsize(os.path.join(h.data_dir, "herald.db")) > 0
    h.add_domain()
    assert "example.test" in h.cli("domain", "list").stdout
