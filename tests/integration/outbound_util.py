"""Two (or more) Herald servers that send each other mail, for the
outbound end-to-end tests (issue 12).

Each site is one domain served by its own `herald serve` on its own
loopback address: smtp on port 25 (the port an MX is reached on),
submission on 587 and IMAP on 143 of that address, its own data dir and a
certificate for mx.DOMAIN issued by a test CA (MiniCA) made per test.
Sites find each other through MX and A records served by a real DNS
server on loopback (the dns fixture). The clients are independent ones:
smtplib submits with STARTTLS and AUTH, imaplib reads the INBOX.

127.0.0.0/8 is loopback on Linux without setup, so 127.0.0.2, .3 and .4
need no configuration; when another run on the machine holds port 25 of
one of them, the sites move to a free 127.0.N.x set (pick_addresses),
which a lock file keeps to one run at a time.
"""
import fcntl
import imaplib
import os
import smtplib
import socket
import ssl
import subprocess
import tempfile
import shutil
import time

PASSWORD = "secret"
# the addresses of the issue: example.test, example.org, Postfix
PREFERRED = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
SITE_PORTS = {"smtp": 25, "submission": 587, "imap": 143}


def _port_free(addr, port):
    """Whether a server can bind addr:port now (a listener holds it
    otherwise; connections in TIME_WAIT do not count, as for the
    servers, which bind with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError:
            return False
    return True


# the lock file of each address set a test holds (pick_addresses)
_claimed = {}


def pick_addresses(n=3, ports=(25, 587, 143)):
    """n loopback addresses whose well-known ports are free: 127.0.0.2,
    .3, .4 when they are, else the first 127.0.N.2.. set that is. The set
    is claimed until release_addresses() (or the end of the process):
    two runs on one machine (two checkouts testing at once) both found
    127.0.0.2:25 free before either had bound it, and the second server
    failed to start with "Address already in use". An flock on a file per
    127.0.N net, which the kernel drops when the process ends, keeps the
    set to one run; the port check still skips sets held by anything that
    takes no lock."""
    for net in [0] + list(range(100, 250)):
        addrs = [f"127.0.{net}.{i + 2}" for i in range(n)]
        path = os.path.join(tempfile.gettempdir(),
                            f"herald-it-addrs-127.0.{net}.lock")
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if all(_port_free(a, p) for a in addrs for p in ports):
            _claimed[addrs[0]] = fd
            return addrs
        os.close(fd)
    raise AssertionError("no free set of loopback addresses for ports "
                         f"{ports}")


def release_addresses(addrs):
    """Gives back a set pick_addresses() claimed, once its servers are
    stopped or about to be (a run that claims it next checks the ports
    too)."""
    fd = _claimed.pop(addrs[0], None)
    if fd is not None:
        os.close(fd)


class MiniCA:
    """A certificate authority made for one test; issue() gives servers
    certificates for their names and addresses that the others verify
    against ca_path."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="herald-it-ca-")
        os.chmod(self.dir, 0o755)
        self.ca_path = os.path.join(self.dir, "ca.pem")
        self._ca_key = os.path.join(self.dir, "ca.key")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                      "-subj", "/CN=Herald test CA", "-addext",
                      "basicConstraints=critical,CA:TRUE", "-addext",
                      "keyUsage=critical,keyCertSign,cRLSign",
                      "-keyout", self._ca_key, "-out", self.ca_path)

    def _openssl(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True,
                       timeout=60)

    def issue(self, name, addr=None):
        """(cert, key) paths for name (and addr as an IP SAN), readable
        by every user (Postfix's and Herald's workers)."""
        base = os.path.join(self.dir, name)
        key, csr, cert = base + ".key", base + ".csr", base + ".pem"
        ext = base + ".ext"
        san = f"DNS:{name}" + (f",IP:{addr}" if addr else "")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n")
        self._openssl("req", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
                      f"/CN={name}", "-keyout", key, "-out", csr)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca_path,
                      "-CAkey", self._ca_key, "-CAcreateserial", "-days", "2",
                      "-extfile", ext, "-out", cert)
        os.chmod(key, 0o644)
        return cert, key

    def context(self):
        """A client context that verifies servers against this CA."""
        return ssl.create_default_context(cafile=self.ca_path)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def mx_records(sites):
    """DNS records for (domain, address) pairs: DOMAIN MX 10 mx.DOMAIN,
    mx.DOMAIN A address; for dns_util.DnsServer(records=...)."""
    records = {}
    for domain, addr in sites:
        records[domain] = [("MX", f"10 mx.{domain}.")]
        records[f"mx.{domain}"] = [("A", addr)]
    return records


class Site:
    """One domain on its own Herald: h is the harness server, addr its
    address, mx its host name (mx.DOMAIN)."""

    def __init__(self, factory, ca, domain, addr, users, dns_config=None,
                 sections=None, listeners=("smtp", "submission", "imap")):
        self.domain = domain
        self.addr = addr
        self.mx = f"mx.{domain}"
        self.ca = ca
        cert, key = ca.issue(self.mx, addr)
        secs = {"tls": f"cert = {cert}\nkey = {key}",
                # verified TLS (a relayhost, policy encrypt) trusts the CA
                "smtp_client": f"ca_file = {ca.ca_path}"}
        if dns_config:
            secs["dns"] = dns_config
        # a [queue] section runs the queue runner (harness: off without)
        secs["queue"] = ""
        for name, body in (sections or {}).items():
            secs[name] = (secs[name] + "\n" + body) if name in secs else body
        self.h = factory(listeners=listeners, host=addr,
                         fixed_ports={k: v for k, v in SITE_PORTS.items()
                                      if k in listeners},
                         hostname=self.mx, sections=secs)
        self.h.add_domain(domain)
        self.users = [f"{u}@{domain}" for u in users]
        for u in self.users:
            self.h.add_user(u, PASSWORD)

    def start(self):
        self.h.start()
        return self

    def stop(self):
        return self.h.stop()

    # -- clients ------------------------------------------------------------
    def submit(self, sender, rcpts, msg, timeout=30):
        """Submission on 587: STARTTLS (certificate verified against the
        test CA), AUTH as the sender, one transaction. Returns refused
        recipients as smtplib does."""
        if isinstance(msg, str):
            msg = msg.encode()
        with smtplib.SMTP(self.addr, self.h.ports["submission"],
                          timeout=timeout) as s:
            s.ehlo("mua.example")
            s.starttls(context=self.ca.context())
            s.ehlo("mua.example")
            s.login(sender, PASSWORD)
            return s.sendmail(sender, rcpts, msg)

    def imap(self, user):
        """An imaplib session logged in as user after STARTTLS."""
        c = imaplib.IMAP4(self.addr, self.h.ports["imap"], timeout=30)
        c.starttls(ssl_context=self.ca.context())
        c.login(user, PASSWORD)
        return c

    def queue(self, *args, check=True):
        """`herald queue ARGS`; the CompletedProcess."""
        return self.h.cli("queue", *args, check=check)


def inbox_count(h, address, mailbox="INBOX"):
    """Messages in an account's mailbox, counted in the store (cheap
    enough to poll while mail arrives)."""
    local, domain = address.rsplit("@", 1)
    db = h.db()
    try:
        return db.execute(
            "SELECT count(*) FROM messages m"
            " JOIN mailboxes b ON b.id = m.mailbox_id"
            " JOIN accounts a ON a.id = m.account_id"
            " JOIN domains d ON d.id = a.domain_id"
            " WHERE a.localpart = ? AND d.name = ? AND b.name = ?",
            (local, domain, mailbox)).fetchone()[0]
    finally:
        db.close()


def imap_fetch_all(c, mailbox="INBOX"):
    """Every message of the mailbox as raw bytes (BODY.PEEK[]), UID
    order, read on an open session."""
    typ, _ = c.select(mailbox, readonly=True)
    assert typ == "OK", typ
    typ, data = c.uid("SEARCH", None, "ALL")
    assert typ == "OK", data
    uids = data[0].split()
    out = []
    for uid in uids:
        typ, data = c.uid("FETCH", uid, "(BODY.PEEK[])")
        assert typ == "OK", data
        out.append(bytes(data[0][1]))
    return out


def wait_imap(site, user, pred, timeout=10.0, mailbox="INBOX"):
    """Polls user's mailbox over one IMAP session until pred(messages)
    holds or timeout; returns (messages, seconds waited)."""
    start = time.monotonic()
    c = site.imap(user)
    try:
        while True:
            msgs = imap_fetch_all(c, mailbox)
            if pred(msgs) or time.monotonic() - start > timeout:
                return msgs, time.monotonic() - start
            c.close()
            time.sleep(0.02)
    finally:
        try:
            c.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def make_msg(sender, rcpts, token, subject=None, body=None):
    """A message with Message-ID <token@DOMAIN-of-sender>, CRLF lines."""
    dom = sender.split("@", 1)[1]
    lines = [f"From: {sender}", f"To: {', '.join(rcpts)}",
             f"Subject: {subject or 'outbound ' + token}",
             f"Message-ID: <{token}@{dom}>",
             "Date: Mon, 07 Dec 2026 01:00:00 +0000", "",
             body or f"Hello from {sender}, {token}."]
    return ("\r\n".join(lines) + "\r\n").encode()


def header_block(raw):
    """The header section of a raw message (CRLF, or LF as in a
    Maildir), unfolded, one field a line, as text."""
    raw = raw.replace(b"\r\n", b"\n")
    head = raw.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    return head.replace("\n\t", " ").replace("\n ", " ")


def headers(raw, name):
    """Every value of header field name, unfolded, in order."""
    want = name.lower() + ":"
    return [l.split(":", 1)[1].strip() for l in header_block(raw).split("\n")
            if l.lower().startswith(want)]


def message_id(raw):
    ids = headers(raw, "Message-ID")
    return ids[0] if ids else None
