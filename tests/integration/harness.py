"""The integration-test harness: a real `herald serve` on loopback.

Herald(...) writes a config into a fresh temporary directory, picks free
high ports on 127.0.0.1 for the listeners asked for, starts the binary
named by $HERALD_BIN (default build/herald), waits until every TCP
listener accepts connections, and stops it with SIGTERM. The directory is
world-traversable so workers that drop to the `herald` user (when the
tests run as root) can use it.
"""
import os
import shutil
import sqlite3
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# absolute: tests symlink it (sendmail, mailq) from other directories
HERALD_BIN = os.path.abspath(os.environ.get("HERALD_BIN",
                                           os.path.join(ROOT, "build", "herald")))
DOMAIN = "example.test"

_shared_bin = []


def build_protocols():
    """The protocols this build serves (herald serve --protocols)."""
    p = subprocess.run([HERALD_BIN, "serve", "--protocols"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"herald serve --protocols: {p.stderr}"
    return p.stdout.split()


def binary_for_all_users():
    """HERALD_BIN copied into a directory every user can reach, for tests
    that run the client as another user (nobody): a checkout under /root
    (mode 0700) is out of their reach. The same binary, so nothing is
    tested less; conftest removes the copy when the run ends."""
    if not _shared_bin:
        d = tempfile.mkdtemp(prefix="herald-it-bin-")
        os.chmod(d, 0o755)
        path = os.path.join(d, "herald")
        shutil.copy2(HERALD_BIN, path)
        os.chmod(path, 0o755)
        _shared_bin.append(path)
    return _shared_bin[0]


def remove_binary_for_all_users():
    if _shared_bin:
        shutil.rmtree(os.path.dirname(_shared_bin.pop()), ignore_errors=True)


_next_port = [20000 + (os.getpid() % 1000) * 10]


def free_port(host="127.0.0.1"):
    """A port that is free now on host, for the server to bind later. Picked below
    the kernel's ephemeral range (32768 and up) so that no client socket is
    given it in between, and never the same one twice in a run (bind to
    port 0 can hand out the same port again once it is closed)."""
    for _ in range(10000):
        port = _next_port[0]
        _next_port[0] = 20000 if port >= 32000 else port + 1
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port")


def wait_port(host, port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.01)
    return False


class Herald:
    def __init__(self, listeners=("smtp",), extra="", sections=None,
                 workers=1, hostname="mail.example.test", binary=None,
                 host="127.0.0.1", fixed_ports=None):
        # binary: another build to serve with (the release one, to
        # measure memory); the command line stays HERALD_BIN.
        # host: the address every TCP listener binds (another loopback
        # address such as 127.0.0.2 for the outbound tests, whose servers
        # must each have port 25 of their own); fixed_ports: listener name
        # -> port for those that need a well-known one (smtp = 25), the
        # others get a free high port
        self.binary = binary or HERALD_BIN
        self.host = host
        self.dir = tempfile.mkdtemp(prefix="herald-it-")
        os.chmod(self.dir, 0o755)
        self.data_dir = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "herald.conf")
        self.log_path = os.path.join(self.dir, "herald.log")
        self.hostname = hostname
        self.ports = {}
        self._fixed = dict(fixed_ports or {})
        self.proc = None
        self._log = None
        lines = [f"hostname = {hostname}", f"data_dir = {self.data_dir}",
                 f"workers = {workers}", "shutdown_timeout = 4s", extra, "",
                 "[listen]"]
        for name in listeners:
            if name == "lmtp_unix":
                self.lmtp_path = os.path.join(self.dir, "lmtp.sock")
                lines.append(f"lmtp = unix:{self.lmtp_path}")
                continue
            if name == "sendmail_unix":
                # in a directory the server makes, as /run/herald
                self.sendmail_path = os.path.join(self.dir, "run",
                                                  "sendmail.sock")
                lines.append(f"sendmail = unix:{self.sendmail_path}")
                continue
            self.ports[name] = ((fixed_ports or {}).get(name)
                                or free_port(host))
            lines.append(f"{name} = {host}:{self.ports[name]}")
        # inbound SPF, DKIM, ARC and DMARC checks look names up: off unless a test
        # turns them on (with [dns] at its own unbound), so no test sends
        # queries to the machine's resolver
        sections = dict(sections or {})
        ma = sections.get("mailauth", "")
        for key in ("spf", "dkim_verify", "arc_verify", "dmarc"):
            if not any(l.split("=")[0].strip() == key
                       for l in ma.splitlines()):
                ma += f"\n{key} = off"
        sections["mailauth"] = ma
        for sec, body in sections.items():
            # tests use short passwords ("pw"); a test of the minimum
            # sets its own
            if sec == "auth" and "password_min_length" not in body:
                body += "\npassword_min_length = 1"
            lines += ["", f"[{sec}]", body]
        # the queue runner delivers only in the tests that ask for it (a
        # [queue] section): elsewhere mail queued for example domains
        # stays in the queue table for the test to read
        if not sections or "queue" not in sections:
            lines += ["", "[queue]", "enabled = no"]
        # password hashing at test speed: tests add many users
        if not sections or "auth" not in sections:
            lines += ["", "[auth]", "argon2_memlimit = 8M",
                      "argon2_opslimit = 1", "fail_delay = 0ms",
                      "password_min_length = 1"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- the command line -------------------------------------------------
    def cli(self, *args, input=None, check=True):
        p = subprocess.run([HERALD_BIN, *args, "-c", self.conf], input=input,
                           capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"herald {' '.join(args)} -> {p.returncode}\n"
                                 f"{p.stdout}{p.stderr}")
        return p

    def add_domain(self, domain=DOMAIN):
        self.cli("domain", "add", domain)

    def add_user(self, address, password="secret"):
        self.cli("user", "add", address, input=password + "\n")

    # -- the server --------------------------------------------------------
    def _new_ports(self):
        """Moves the listeners that have no fixed port to other free ports
        and rewrites the config: another program (a second test run on the
        same machine) took one of them between free_port() and the bind."""
        with open(self.conf) as f:
            text = f.read()
        for name, port in list(self.ports.items()):
            if name in self._fixed:
                continue
            self.ports[name] = free_port(self.host)
            text = text.replace(f"\n{name} = {self.host}:{port}\n",
                                f"\n{name} = {self.host}:{self.ports[name]}\n")
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        for attempt in range(3):
            self._log = open(self.log_path, "ab")
            mark = len(self.log())
            self.proc = subprocess.Popen([self.binary, "serve", "-c",
                                          self.conf],
                                         stdout=self._log, stderr=self._log,
                                         start_new_session=True)
            while " daemon ready " not in self.log()[mark:]:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    rc = self.stop()
                    if (rc is not None and attempt < 2 and
                            "cannot listen: Address already in use"
                            in self.log()[mark:]):
                        break
                    raise AssertionError(f"herald serve did not become "
                                         f"ready (exit {rc}):\n{self.log()}")
                time.sleep(0.01)
            else:
                break
            self._new_ports()
        for name, port in self.ports.items():
            left = max(0.1, deadline - time.monotonic())
            if not wait_port(self.host, port, left):
                self.stop()
                raise AssertionError(f"herald did not listen on {name} "
                                     f"port {port}:\n{self.log()}")
        return self

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, needle, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return True
            time.sleep(0.05)
        return False

    def wait_log_count(self, needle, n, timeout=10.0):
        """Whether needle occurs at least n times in the log within
        timeout: a worker writes its info lines at the end of its loop
        turn (docs/logging.md), so the line of a reply just read may not
        be there yet. Callers check the exact count afterwards."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(needle) >= n:
                return True
            time.sleep(0.05)
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        rc = self.proc.returncode
        # no worker outlives its test, even one the supervisor lost
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        return rc

    def kill9(self):
        """kill -9 the whole process group (supervisor and workers)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- reading what the store holds (there is no IMAP yet) ---------------
    def db(self):
        return sqlite3.connect(os.path.join(self.data_dir, "herald.db"),
                               timeout=10)

    def read_blob(self, blob_id):
        """A message body: small ones live in the database's blobs table,
        large ones in data_dir/blobs/<2 hex>/<64 hex> (docs/store.md)."""
        db = self.db()
        try:
            row = db.execute("SELECT data FROM blobs WHERE id = ?",
                             (blob_id,)).fetchone()
        finally:
            db.close()
        if row is not None:
            return bytes(row[0])
        with open(os.path.join(self.data_dir, "blobs", blob_id[:2], blob_id),
                  "rb") as f:
            return f.read()

    def messages(self, address, mailbox="INBOX"):
        """Raw bytes of every message in an account's mailbox, UID order."""
        local, domain = address.rsplit("@", 1)
        db = self.db()
        try:
            rows = db.execute(
                "SELECT m.blob_id, m.size FROM messages m"
                " JOIN mailboxes b ON b.id = m.mailbox_id"
                " JOIN accounts a ON a.id = m.account_id"
                " JOIN domains d ON d.id = a.domain_id"
                " WHERE a.localpart = ? AND d.name = ? AND b.name = ?"
                " ORDER BY m.uid", (local, domain, mailbox)).fetchall()
        finally:
            db.close()
        out = []
        for blob_id, size in rows:
            data = self.read_blob(blob_id)
            assert len(data) == size, f"blob {blob_id}: {len(data)} != {size}"
            out.append(data)
        return out

    def _children(self):
        sup = self.proc.pid
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    comm, rest = f.read().split(" (", 1)[1].rsplit(")", 1)
                fields = rest.split()
            except (OSError, IndexError, ValueError):
                continue
            if int(fields[1]) == sup and fields[0] != "Z":
                yield int(d), comm

    def pids(self):
        """The supervisor's pid and its worker processes' pids (not the
        queue runner's: runner_pid())."""
        return self.proc.pid, sorted(p for p, comm in self._children()
                                     if comm != "herald-runner")

    def runner_pid(self):
        """The queue runner's pid, or None."""
        for p, comm in self._children():
            if comm == "herald-runner":
                return p
        return None

    def sanitizer_errors(self):
        log = self.log()
        return [l for l in log.splitlines()
                if "ERROR: AddressSanitizer" in l or "runtime error:" in l
                or "ERROR: LeakSanitizer" in l]
