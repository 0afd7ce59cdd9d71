"""Helpers for the IMAP integration tests: a Herald with imap and imaps
listeners (and smtp, to deliver with), users, fast delivery of many
messages over SMTP, and imaplib clients that accept the server's
self-signed certificate."""
import email.utils
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import threading

from harness import DOMAIN

USER = f"alice@{DOMAIN}"
PASSWORD = "correct horse"
# what a new account holds (issue 11: created with their roles, subscribed)
SPECIAL = {"Drafts": "\\Drafts", "Sent": "\\Sent", "Junk": "\\Junk",
           "Trash": "\\Trash", "Archive": "\\Archive"}


def server(factory, users=(USER,), listeners=("imap", "imaps", "smtp"),
           imap="", sections=None, own_cert=False, **kw):
    """A started Herald with the listeners and users asked for; imap adds
    lines to its [imap] section. own_cert: serve a certificate made here
    for localhost and 127.0.0.1 (h.cert_path), which clients that check
    the name (mbsync, mutt) can be told to trust, instead of the
    self-signed one for the server's hostname."""
    sections = dict(sections or {})
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


def make_msg(i, subject=None, body=None, to=USER, date=None):
    """A small plain-text message, distinct per i (Message-ID <mI@remote.test>)."""
    subject = subject if subject is not None else f"message {i}"
    body = body if body is not None else (
        f"body of message {i}\r\nsecond line of message {i}\r\n")
    date = date or email.utils.formatdate(1700000000 + i * 60)
    return (f"From: Bob <bob@remote.test>\r\nTo: {to}\r\n"
            f"Subject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: <m{i}@remote.test>\r\n\r\n{body}").encode()


def deliver(h, msgs, rcpt=USER, conns=4, sender="bob@remote.test"):
    """Delivers each message (bytes) to rcpt over Herald's SMTP listener,
    over a few parallel sessions. The UID order is then not the list order:
    tests find messages by Message-ID."""
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


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def server_cert_pem(h, port_name="imaps"):
    """The certificate the imaps listener presents (self-signed), as PEM:
    clients that cannot skip verification are told to trust this one."""
    with socket.create_connection(("127.0.0.1", h.ports[port_name]), 10) as s:
        with tls_context().wrap_socket(s) as t:
            der = t.getpeercert(binary_form=True)
    return ssl.DER_cert_to_PEM_cert(der)


def connect(h, tls=True):
    if tls:
        return imaplib.IMAP4_SSL("127.0.0.1", h.ports["imaps"],
                                 ssl_context=tls_context(), timeout=60)
    return imaplib.IMAP4("127.0.0.1", h.ports["imap"], timeout=60)


def login(h, user=USER, password=PASSWORD, tls=True):
    c = connect(h, tls)
    typ, data = c.login(user, password)
    assert typ == "OK", data
    return c


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
