"""The two-way sync scenario the mbsync and offlineimap tests share
(issue 11, "Done when"): a 1,000-message account synced to a local
Maildir over IMAPS, then two rounds of changes made on both sides (flags
set and cleared, messages deleted, new ones delivered over SMTP or
dropped into the Maildir), each round followed by a sync that must carry
every change across and a second sync that must change nothing."""
import base64
import os
import re
import shutil
import socket
import time

import pytest

from imap_util import USER, deliver_many, login, make_msg, ok, server, state

N = 1000
# Maildir info letters (maildir(5)) and the IMAP system flags they stand for
LETTER = {"\\Seen": "S", "\\Flagged": "F", "\\Answered": "R",
          "\\Deleted": "T", "\\Draft": "D"}
_MSGID = re.compile(rb"(?im)^Message-ID:\s*(<[^>\r\n]*>)")
# headers the clients add to the copies they make: mbsync's X-TUID on
# every copy, offlineimap's X-OfflineIMAP on uploads when the server has
# no UIDPLUS
_TUID = re.compile(rb"(?mi)^X-(TUID|OfflineIMAP): [^\n]*\n")


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (scripts/install-test-deps.sh "
                    "installs it)")


def msgid(i):
    return f"<m{i}@remote.test>"


def account(factory, n=N):
    """A started Herald whose INBOX holds n messages over SMTP; every 50th
    a multipart one with a base64 attachment."""
    h = server(factory, own_cert=True)
    msgs = []
    for i in range(n):
        if i % 50 == 7:
            att = os.urandom(3000).hex().encode()
            b64 = base64.encodebytes(att).replace(b"\n", b"\r\n").decode()
            body = ("--b\r\nContent-Type: text/plain\r\n\r\n"
                    f"see attachment {i}\r\n--b\r\n"
                    "Content-Type: application/octet-stream; name=a.bin\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n"
                    f"{b64}--b--\r\n")
            m = make_msg(i, body=body).replace(
                b"\r\n\r\n", b"\r\nMIME-Version: 1.0\r\nContent-Type: "
                b"multipart/mixed; boundary=b\r\n\r\n", 1)
        else:
            m = make_msg(i)
        msgs.append(m)
    deliver_many(h, msgs)
    return h


# ---- the local Maildir ----

def local(md):
    """{Message-ID: (path, info letters)} of the messages in Maildir md."""
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(md, sub)
        for name in os.listdir(d):
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                m = _MSGID.search(f.read())
            key = m.group(1).decode() if m else f"file:{name}"
            assert key not in out, f"two local files with Message-ID {key}"
            info = name.split(":2,", 1)[1] if ":2," in name else ""
            out[key] = (path, "".join(sorted(info)))
    return out


def snapshot(md):
    """Every file name and content of the Maildir: equal before and after
    a sync only if it changed nothing here."""
    out = {}
    for root, _, files in os.walk(md):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, md)] = f.read()
    return out


def set_local_flags(md, key, letters):
    path, _ = local(md)[key]
    base = os.path.basename(path).split(":2,", 1)[0]
    new = os.path.join(md, "cur", f"{base}:2,{''.join(sorted(letters))}")
    os.rename(path, new)


def delete_local(md, key):
    os.unlink(local(md)[key][0])


_seq = [0]


def add_local(md, data):
    """Drops a message into md/new as a mail reader would (tmp, rename)."""
    _seq[0] += 1
    name = f"{int(time.time())}.P{os.getpid()}Q{_seq[0]}.{socket.gethostname()}"
    tmp = os.path.join(md, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data.replace(b"\r\n", b"\n"))
    os.rename(tmp, os.path.join(md, "new", name))


def letters(flags):
    return "".join(sorted(LETTER[f] for f in flags if f in LETTER))


# ---- the scenario ----

def check_same(h, md, expect_ids):
    """Server and Maildir hold exactly expect_ids, with the same flags."""
    c = login(h)
    try:
        srv = state(c)
    finally:
        c.logout()
    loc = local(md)
    assert set(srv) == set(expect_ids), (
        f"server: missing {sorted(set(expect_ids) - set(srv))[:10]}, "
        f"extra {sorted(set(srv) - set(expect_ids))[:10]}")
    assert set(loc) == set(expect_ids), (
        f"local: missing {sorted(set(expect_ids) - set(loc))[:10]}, "
        f"extra {sorted(set(loc) - set(expect_ids))[:10]}")
    differ = {k: (sorted(srv[k][1]), loc[k][1]) for k in expect_ids
              if letters(srv[k][1]) != loc[k][1]}
    assert not differ, f"flags differ (server, local): {list(differ.items())[:10]}"
    return srv


def check_bodies(h, md):
    """Each message is the same on both sides byte for byte (line ends
    aside: Maildir files end lines with LF), but for the tracking header
    the client may add."""
    stored = {}
    for raw in h.messages(USER):
        m = _MSGID.search(raw)
        stored[m.group(1).decode()] = _TUID.sub(
            b"", raw.replace(b"\r\n", b"\n"), 1)
    for key, (path, _) in local(md).items():
        if key in stored:
            with open(path, "rb") as f:
                got = _TUID.sub(b"", f.read().replace(b"\r\n", b"\n"), 1)
            assert got == stored[key], f"{key}: local copy differs"


def server_flags(h, changes):
    """changes: [(Message-ID, "+FLAGS"/"-FLAGS", "(\\Seen)")], by UID."""
    c = login(h)
    try:
        st = state(c)
        for key, op, flags in changes:
            ok(c.uid("STORE", str(st[key][0]), op, flags))
    finally:
        c.logout()


def server_delete(h, keys):
    c = login(h)
    try:
        st = state(c)
        uids = ",".join(str(st[k][0]) for k in keys)
        ok(c.uid("STORE", uids, "+FLAGS.SILENT", "(\\Deleted)"))
        ok(c.expunge())
    finally:
        c.logout()


def run_scenario(h, md, sync):
    """sync() runs the client once (asserting its exit status)."""
    ids = {msgid(i) for i in range(N)}
    sync()
    check_same(h, md, ids)
    check_bodies(h, md)

    def settle():
        # the second sync in a row: nothing to do on either side
        c = login(h)
        try:
            before_srv = state(c)
        finally:
            c.logout()
        before_loc = snapshot(md)
        sync()
        c = login(h)
        try:
            after_srv = state(c)
        finally:
            c.logout()
        assert after_srv == before_srv, "the second sync changed the server"
        after_loc = snapshot(md)
        assert after_loc.keys() == before_loc.keys(), (
            "the second sync changed the Maildir: "
            f"gone {sorted(before_loc.keys() - after_loc.keys())[:5]}, "
            f"new {sorted(after_loc.keys() - before_loc.keys())[:5]}")

    # round 1: flags set, deletions and new messages on both sides
    server_flags(h, [(msgid(i), "+FLAGS", "(\\Flagged)") for i in range(10)]
                 + [(msgid(i), "+FLAGS", "(\\Seen \\Answered)")
                    for i in range(10, 20)])
    server_delete(h, [msgid(i) for i in range(20, 30)])
    deliver_many(h, [make_msg(2000), make_msg(2001)])
    for i in range(30, 40):
        set_local_flags(md, msgid(i), "FS")
    for i in range(40, 50):
        delete_local(md, msgid(i))
    add_local(md, make_msg(3000))
    add_local(md, make_msg(3001, subject="from the local side"))
    ids -= {msgid(i) for i in range(20, 30)} | {msgid(i) for i in range(40, 50)}
    ids |= {msgid(2000), msgid(2001), msgid(3000), msgid(3001)}
    sync()
    srv = check_same(h, md, ids)
    for i in range(10):
        assert srv[msgid(i)][1] >= {"\\Flagged"}
    for i in range(10, 20):
        assert srv[msgid(i)][1] >= {"\\Seen", "\\Answered"}
    for i in range(30, 40):
        assert srv[msgid(i)][1] >= {"\\Seen", "\\Flagged"}
    settle()

    # round 2: flags cleared, and messages the other side made are deleted
    server_flags(h, [(msgid(i), "-FLAGS", "(\\Flagged)") for i in range(5)])
    for i in range(30, 35):
        set_local_flags(md, msgid(i), "F")
    server_delete(h, [msgid(3000)])
    delete_local(md, msgid(2000))
    deliver_many(h, [make_msg(2002)])
    add_local(md, make_msg(3002))
    ids -= {msgid(3000), msgid(2000)}
    ids |= {msgid(2002), msgid(3002)}
    sync()
    srv = check_same(h, md, ids)
    for i in range(5):
        assert "\\Flagged" not in srv[msgid(i)][1]
    for i in range(30, 35):
        assert "\\Seen" not in srv[msgid(i)][1]
    settle()
    check_bodies(h, md)
