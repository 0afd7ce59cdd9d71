"""Helpers for the SMTP integration tests: reading delivered messages
straight from the store (the SQLite index and the blob files; there is no
IMAP yet) and a small raw SMTP client for what smtplib cannot do (BDAT,
pipelining in one write, protocol abuse)."""
import os
import socket
import sqlite3
import ssl
import time


def inbox(h, address, mailbox="INBOX"):
    """Raw bytes of every message in the account's mailbox, in UID order."""
    return h.messages(address, mailbox)


def queue_entries(h):
    db = sqlite3.connect(os.path.join(h.data_dir, "herald.db"), timeout=10)
    try:
        cur = db.execute("SELECT * FROM queue")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        db.close()


def body_of(raw):
    """The message as the client sent it: after our trace headers."""
    # Return-Path, Delivered-To, then a folded Received header
    lines = raw.split(b"\r\n")
    i = 0
    while i < len(lines) and (lines[i].startswith(b"Return-Path:") or
                              lines[i].startswith(b"Delivered-To:") or
                              lines[i].startswith(b"Received:") or
                              lines[i].startswith(b"\t")):
        i += 1
    return b"\r\n".join(lines[i:])


class Raw:
    """A line-oriented raw SMTP client."""

    def __init__(self, port, host="127.0.0.1", timeout=30, tls=False,
                 unix=None):
        if unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            self.starttls_wrap()
        self.buf = b""

    def starttls_wrap(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One (possibly multi-line) reply: (code, [texts])."""
        texts = []
        while True:
            l = self.line()
            texts.append(l[4:])
            if len(l) < 4 or l[3] != "-":
                return int(l[:3]), texts

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=15):
        """True once the server has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def wait_for(pred, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()
