"""Passwords do not outlive the login in the worker's memory: after SMTP
AUTH PLAIN (initial response), AUTH LOGIN (response lines) and POP3
USER/PASS and AUTH PLAIN, neither the password nor the base64 the client
sent is found in any writable mapping of the worker. The input buffer and
the line readers held them until the memory was reused (review of issue
10, 2.6: secrets wiped before free)."""
import base64
import os
import poplib
import smtplib

import pytest

USER = "alice@example.test"
# unique enough never to be in the binary or the store's pages
RIGHT = "Rt-" + os.urandom(9).hex()
WRONG = "Wr-" + os.urandom(9).hex()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def readable_regions(pid):
    """(start, end) of the worker's writable mappings that hold data: the
    sanitizer's multi-terabyte shadow and reserved ranges are skipped."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if not fields[1].startswith("rw"):
                continue
            if end - start > (1 << 30):
                continue
            out.append((start, end))
    return out


def memory_holds(pid, needles):
    found = set()
    try:
        mem = open(f"/proc/{pid}/mem", "rb", 0)
    except PermissionError:
        pytest.skip("reading the worker's memory needs ptrace rights "
                    "(kernel.yama.ptrace_scope)")
    with mem:
        for start, end in readable_regions(pid):
            pos = start
            while pos < end:
                n = min(end - pos, 1 << 24)
                try:
                    mem.seek(pos)
                    data = mem.read(n)
                except (OSError, ValueError, OverflowError):
                    break
                for needle in needles:
                    if needle.encode() in data:
                        found.add(needle)
                # a needle may straddle two reads
                pos += n - 64 if n == 1 << 24 else n
    return found


def test_no_password_left_in_worker_memory(herald_factory):
    h = herald_factory(listeners=("smtp", "pop3"),
                       sections={"auth": "argon2_memlimit = 8M\n"
                                         "argon2_opslimit = 1\n"
                                         "fail_delay = 0ms\n"
                                         "fail_per_ip = 1000\n"
                                         "fail_per_user = 1000\n"})
    h.add_domain()
    h.add_user(USER, RIGHT)
    h.start()
    needles = {RIGHT, WRONG, b64(f"\0{USER}\0{RIGHT}"),
               b64(f"\0{USER}\0{WRONG}"), b64(RIGHT), b64(WRONG)}

    for pw in (RIGHT, WRONG):
        with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10) as s:
            s.ehlo("client.test")
            code, _ = s.docmd("AUTH", "PLAIN " + b64(f"\0{USER}\0{pw}"))
            assert code == (235 if pw == RIGHT else 535)
        with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10) as s:
            s.ehlo("client.test")
            assert s.docmd("AUTH", "LOGIN")[0] == 334
            assert s.docmd(b64(USER))[0] == 334
            assert s.docmd(b64(pw))[0] == (235 if pw == RIGHT else 535)
        p = poplib.POP3("127.0.0.1", h.ports["pop3"], timeout=10)
        p.user(USER)
        if pw == RIGHT:
            p.pass_(pw)
        else:
            with pytest.raises(poplib.error_proto):
                p.pass_(pw)
        p.quit()
        p = poplib.POP3("127.0.0.1", h.ports["pop3"], timeout=10)
        p._putcmd("AUTH PLAIN")
        assert p._getresp().startswith(b"+")
        p._putcmd(b64(f"\0{USER}\0{pw}"))
        if pw == RIGHT:
            assert p._getresp().startswith(b"+OK")
        else:
            with pytest.raises(poplib.error_proto):
                p._getresp()
        p.quit()

    _, workers = h.pids()
    assert workers
    for pid in workers:
        left = memory_holds(pid, needles)
        assert not left, f"worker {pid} still holds {sorted(left)}"


def test_no_password_left_after_tls(herald_factory):
    """The same over STARTTLS and STLS: the decrypted record also sits in
    OpenSSL's buffers, which it frees without wiping unless told to
    (SSL_OP_CLEANSE_PLAINTEXT)."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    h = herald_factory(listeners=("smtp", "pop3"),
                       sections={"auth": "argon2_memlimit = 8M\n"
                                         "argon2_opslimit = 1\n"
                                         "fail_delay = 0ms\n"})
    h.add_domain()
    h.add_user(USER, RIGHT)
    h.start()
    needles = {RIGHT, b64(f"\0{USER}\0{RIGHT}"), b64(RIGHT)}

    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10) as s:
        s.starttls(context=ctx)
        s.ehlo("client.test")
        assert s.docmd("AUTH", "PLAIN " + b64(f"\0{USER}\0{RIGHT}"))[0] == 235
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10) as s:
        s.starttls(context=ctx)
        s.ehlo("client.test")
        assert s.docmd("AUTH", "LOGIN")[0] == 334
        assert s.docmd(b64(USER))[0] == 334
        assert s.docmd(b64(RIGHT))[0] == 235
    p = poplib.POP3("127.0.0.1", h.ports["pop3"], timeout=10)
    p.stls(context=ctx)
    p.user(USER)
    p.pass_(RIGHT)
    p.quit()

    _, workers = h.pids()
    assert workers
    for pid in workers:
        left = memory_holds(pid, needles)
        assert not left, f"worker {pid} still holds {sorted(left)}"
