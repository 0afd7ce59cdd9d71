"""kill -9 of the whole server while 20 clients send: every message that
got 250 is in the store after a restart, complete, and nothing is
half-written."""
import smtplib
import threading
import time

from smtp_util import inbox


def test_kill9_while_20_clients_send(herald_factory):
    h = herald_factory(listeners=("smtp",), workers=2)
    h.add_domain()
    h.add_user("bob@example.test")
    h.start()
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def client(n):
        i = 0
        while not stop.is_set():
            token = f"client{n}-msg{i}"
            body = (f"Subject: {token}\r\n\r\n" + (token + "\r\n") * 50 +
                    "END " + token + "\r\n").encode()
            try:
                with smtplib.SMTP("127.0.0.1", h.ports["smtp"],
                                  timeout=30) as s:
                    s.sendmail("load@remote.test", ["bob@example.test"], body)
                with lock:
                    acked.append((token, body))
            except (OSError, smtplib.SMTPException):
                if stop.is_set():
                    return
                time.sleep(0.01)
            i += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True)
               for n in range(20)]
    for t in threads:
        t.start()
    # kill while they send: once more than 20 got through (by count, not
    # by a fixed time, which a loaded machine may not reach), and a moment
    # later so that deliveries are in flight
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with lock:
            if len(acked) > 20:
                break
        time.sleep(0.05)
    time.sleep(0.2)
    h.kill9()
    stop.set()
    for t in threads:   # each client call is bounded by its 30 s timeout
        t.join(40)
    assert not any(t.is_alive() for t in threads), "a client thread hangs"
    with lock:
        acked_now = list(acked)
    assert len(acked_now) > 20, "too few messages got through"
    h.start()
    stored = inbox(h, "bob@example.test")   # checks every blob's size
    bodies = {}
    for raw in stored:
        subj = raw.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
        bodies[subj] = raw
    for token, body in acked_now:
        assert token in bodies, f"acknowledged {token} is missing"
        assert bodies[token].endswith(body)
    for subj, raw in bodies.items():
        assert raw.endswith(b"END " + subj.encode() + b"\r\n"), subj
    h.stop()
