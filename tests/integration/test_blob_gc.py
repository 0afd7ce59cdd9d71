"""Message bodies are removed once nothing uses them (docs/store.md
"Deleting blobs"): the classic POP3 download-and-delete, with Python's
smtplib delivering and poplib deleting, small bodies (rows of the blobs
table) and large ones (files under data_dir/blobs)."""
import os
import poplib
import smtplib
import time

from smtp_util import wait_for

USER = "alice@example.test"
PASSWORD = "correct horse"


def blob_rows(h):
    db = h.db()
    try:
        return db.execute("SELECT count(*) FROM blobs").fetchone()[0]
    finally:
        db.close()


def blob_files(h):
    n = 0
    for root, dirs, files in os.walk(os.path.join(h.data_dir, "blobs")):
        if os.path.basename(root) != "tmp":
            n += len(files)
    return n


def pop3_login(h):
    p = poplib.POP3("127.0.0.1", h.ports["pop3"], timeout=30)
    p.user(USER)
    p.pass_(PASSWORD)
    return p


def test_pop3_deleted_mail_frees_its_bodies(herald_factory):
    h = herald_factory(listeners=("smtp", "pop3"),
                       sections={"store": "blob_gc_interval = 200ms"})
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        for i in range(3):
            s.sendmail("bob@remote.test", [USER],
                       f"Subject: small {i}\r\n\r\nbody {i}\r\n".encode())
        s.sendmail("bob@remote.test", [USER],
                   b"Subject: big\r\n\r\n" + b"y" * 78 + b"\r\n" * 1
                   + (b"z" * 998 + b"\r\n") * 300)
    assert blob_rows(h) == 3 and blob_files(h) == 1
    p = pop3_login(h)
    # keep message 1, delete the others
    for i in (2, 3, 4):
        p.dele(i)
    p.quit()
    assert wait_for(lambda: blob_rows(h) == 1 and blob_files(h) == 0,
                    timeout=10.0), \
        (blob_rows(h), blob_files(h))
    assert h.wait_log(" store blob-gc checked=3 freed=3 ")
    # what is left is whole and still served
    p = pop3_login(h)
    assert p.stat()[0] == 1
    assert b"body 0" in b"\r\n".join(p.retr(1)[1])
    p.dele(1)
    p.quit()
    assert wait_for(lambda: blob_rows(h) == 0, timeout=10.0)
    db = h.db()
    try:
        assert db.execute("SELECT count(*) FROM blob_gc").fetchone()[0] == 0
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_gc_off_keeps_bodies(herald_factory):
    h = herald_factory(listeners=("smtp", "pop3"),
                       sections={"store": "blob_gc_interval = 0"})
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.start()
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        s.sendmail("bob@remote.test", [USER], b"Subject: x\r\n\r\nx\r\n")
    p = pop3_login(h)
    p.dele(1)
    p.quit()
    time.sleep(1)
    assert blob_rows(h) == 1
    db = h.db()
    try:
        # queued for a collector that is switched off
        assert db.execute("SELECT count(*) FROM blob_gc").fetchone()[0] == 1
    finally:
        db.close()


def test_refused_mail_leaves_no_body(herald_factory):
    """A message refused after its body was written (a full mailbox: 552)
    must not leave the body behind, small (a row) or large (a file)."""
    h = herald_factory(listeners=("smtp",),
                       sections={"store": "blob_gc_interval = 200ms"})
    h.add_domain()
    h.add_user(USER, PASSWORD)
    h.cli("user", "quota", USER, "1k")
    h.start()
    for body in ((b"x" * 70 + b"\r\n") * 30, (b"z" * 998 + b"\r\n") * 300):
        with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
            try:
                s.sendmail("bob@remote.test", [USER],
                           b"Subject: too big\r\n\r\n" + body)
                raise AssertionError("accepted over quota")
            except smtplib.SMTPDataError as e:
                assert e.smtp_code == 552, e
    assert wait_for(lambda: blob_rows(h) == 0 and blob_files(h) == 0,
                    timeout=10.0), \
        (blob_rows(h), blob_files(h))
    assert h.messages(USER) == []
