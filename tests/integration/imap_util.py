"""Helpers for the IMAP tests: a Herald with imap, imaps and smtp
listeners and users, delivery over its SMTP listener (one message, or many
over parallel sessions), imaplib clients, a mailbox's state read with
imaplib, and raw line clients for what imaplib cannot send (Conn also for
waiting on what a server sends unasked: NOTIFY, IDLE)."""
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import threading
import time

from harness import DOMAIN

USER = f"alice@{DOMAIN}"
USER2 = f"bob@{DOMAIN}"
PASSWORD = "correct horse"
# what a new account holds besides INBOX (issue 11: created with their
# roles, subscribed)
SPECIAL = {"Drafts": "\\Drafts", "Sent": "\\Sent", "Junk": "\\Junk",
           "Trash": "\\Trash", "Archive": "\\Archive"}


def server(factory, listeners=("imap", "imaps", "smtp"), imap="",
           users=(USER,), own_cert=False, **kw):
    """A started Herald with the given users (password PASSWORD); imap is
    the body of an [imap] section. own_cert: serve a certificate made here
    for localhost and 127.0.0.1 (h.cert_path), which clients that check
    the name (mbsync, mutt) can be told to trust, instead of the
    self-signed one for the server's hostname."""
    sections = kw.pop("sections", {})
    if imap:
        sections["imap"] = imap
    h = factory(listeners=listeners, sections=sections or None, **kw)
    if own_cert:
        h.cert_path = os.path.join(h.dir, "cert.pem")
        key = os.path.join(h.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key, "-out", h.cert_path],
                       check=True, capture_output=True, timeout=60)
        with open(h.conf, "a") as f:
            f.write(f"\n[tls]\ncert = {h.cert_path}\nkey = {key}\n")
    h.add_domain()
    for u in users:
        h.add_user(u, PASSWORD)
    return h.start()


def deliver(h, rcpt, msg, sender="carol@remote.test"):
    if isinstance(msg, str):
        msg = msg.encode()
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        s.sendmail(sender, [rcpt], msg)


def deliver_many(h, msgs, rcpt=USER, conns=4, sender="carol@remote.test"):
    """Delivers each message (bytes) to rcpt over a few parallel SMTP
    sessions. With conns > 1 the UID order is not the list order: tests
    then find messages by Message-ID."""
    msgs = list(msgs)
    conns = max(1, min(conns, len(msgs)))
    errors = []

    def run(part):
        try:
            with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=60) as s:
                for m in part:
                    s.sendmail(sender, [rcpt], m)
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(msgs[i::conns],))
               for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, f"delivery failed: {errors[0]!r}"


def make_msg(i, body_lines=3, subject=None, to=USER, body=None):
    """Message-ID <mI@remote.test>; body (text with CRLFs) replaces the
    body_lines generated lines."""
    subject = subject or f"message {i}"
    lines = ["From: Carol <carol@remote.test>", f"To: {to}",
             f"Subject: {subject}", f"Message-ID: <m{i}@remote.test>",
             "Date: Sun, 06 Dec 2026 12:00:00 +0000", ""]
    if body is not None:
        return ("\r\n".join(lines) + "\r\n" + body).encode()
    lines += [f"body line {j} of message {i}" for j in range(body_lines)]
    return ("\r\n".join(lines) + "\r\n").encode()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(h, tls=False):
    if tls:
        return imaplib.IMAP4_SSL("127.0.0.1", h.ports["imaps"],
                                 ssl_context=tls_context(), timeout=30)
    return imaplib.IMAP4("127.0.0.1", h.ports["imap"], timeout=30)


def login(h, user=USER, tls=False):
    c = connect(h, tls)
    c.login(user, PASSWORD)
    return c


class Raw:
    """A line client: send text, read response lines (literals are not
    followed: tests that need them read bytes)."""

    def __init__(self, h, port_name="imap", tls=False):
        sock = socket.create_connection(("127.0.0.1", h.ports[port_name]),
                                        timeout=15)
        if tls:
            sock = tls_context().wrap_socket(sock)
        self.sock = sock
        self.f = sock.makefile("rb")
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        return self.f.readline().decode("utf-8", "replace").rstrip("\r\n")

    def until_tagged(self, tag):
        """Lines up to and including the one starting with tag."""
        lines = []
        while True:
            ln = self.line()
            if not ln:
                # "" from a socket file, None from Conn
                raise AssertionError(f"connection closed, got {lines}")
            lines.append(ln)
            if ln.startswith(tag + " "):
                return lines

    def cmd(self, tag, text):
        self.send(f"{tag} {text}\r\n")
        return self.until_tagged(tag)

    def login(self, user=USER, password=PASSWORD):
        lines = self.cmd("L1", f'LOGIN "{user}" "{password}"')
        assert lines[-1].startswith("L1 OK"), lines
        return lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Conn(Raw):
    """Raw, reading lines from its own buffer: a read that timed out
    (waiting for nothing to come) leaves the connection usable, which a
    socket file does not."""

    def __init__(self, h):
        self.buf = b""
        super().__init__(h)

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.decode("utf-8", "replace").rstrip("\r")


def read_until(r, pred, timeout=5.0):
    """Lines until pred(line) or the timeout; returns (lines, matched)."""
    r.sock.settimeout(timeout)
    lines = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ln = r.line()
            # closed: None from a Conn; a Raw's socket file reads "" at
            # the end (and for an empty line of a literal, which a Conn
            # tells apart)
            if ln is None or (ln == "" and not isinstance(r, Conn)):
                break
            lines.append(ln)
            if pred(ln):
                return lines, True
    except OSError:
        pass
    finally:
        r.sock.settimeout(15)
    return lines, False


def quiet(r, secs=0.8):
    """What arrives within secs (nothing, for a session told nothing)."""
    lines, _ = read_until(r, lambda ln: False, secs)
    return lines


def expect(r, pattern, timeout=3.0):
    """Reads until a line matches pattern (a regex), promptly."""
    t0 = time.monotonic()
    lines, got = read_until(r, lambda ln: re.match(pattern, ln), timeout)
    assert got, (pattern, lines)
    assert time.monotonic() - t0 < 2.0, lines
    return lines


def notify(r, args, tag="N1"):
    """NOTIFY args, which must be answered OK; the response lines."""
    lines = r.cmd(tag, f"NOTIFY {args}")
    assert lines[-1].startswith(f"{tag} OK"), lines
    return lines


def ok(res):
    """imaplib's (typ, data) when typ is OK, else the test fails with the
    server's answer."""
    typ, data = res
    assert typ == "OK", f"{typ} {data!r}"
    return data


_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_FETCH_MSGID = re.compile(rb"(?im)^Message-ID:\s*(<[^>\r\n]*>)")


def state(c, mailbox="INBOX"):
    """{Message-ID: (uid, frozenset of flags)} of a mailbox, by UID FETCH
    of FLAGS and the Message-ID header; the mailbox is left selected."""
    ok(c.select(mailbox))
    data = ok(c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS "
                                    "(MESSAGE-ID)])"))
    out = {}
    i = 0
    while i < len(data):
        item, hdr, tail = data[i], b"", b""
        i += 1
        if item is None:
            continue
        if isinstance(item, tuple):
            # a literal: the items after it come as the next element
            item, hdr = item
            if i < len(data) and isinstance(data[i], bytes):
                tail = data[i]
                i += 1
        meta = item + tail
        uid = int(_FETCH_UID.search(meta).group(1))
        flags = frozenset(_FETCH_FLAGS.search(meta).group(1).decode().split())
        m = _FETCH_MSGID.search(hdr)
        key = m.group(1).decode() if m else f"uid:{uid}"
        assert key not in out, f"two messages with Message-ID {key}"
        out[key] = (uid, flags)
    return out


def raw_with_inbox(factory, n):
    """A server whose INBOX holds n APPENDed messages (make_msg 1..n), and
    a Raw session logged in to it: (herald, raw)."""
    h = server(factory, listeners=("imap", "smtp"))
    c = login(h)
    for i in range(1, n + 1):
        ok(c.append("INBOX", None, None, make_msg(i)))
    c.logout()
    r = Raw(h)
    r.login()
    return h, r


LOG_CONNECT = r"herald\[(\d+)\]: \w+ \S+ {proto} connect rip=127\.0\.0\.1 " \
              r"rport={port} "


def worker_of(h, proto, port, timeout=5.0):
    """The pid of the worker that logged the connect of our client port."""
    pat = re.compile(LOG_CONNECT.format(proto=proto, port=port))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = pat.search(h.log())
        if m:
            return int(m.group(1))
        time.sleep(0.02)
    raise AssertionError(f"no {proto} connect line for port {port}:\n"
                         f"{h.log()[-3000:]}")
