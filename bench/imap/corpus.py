#!/usr/bin/python3
"""The IMAP benchmark's mailboxes: a deterministic corpus delivered to
Herald over SMTP, then exported from Herald's store into a Maildir for
Dovecot, so both servers hold the same bytes.

corpus.py fill SMTP_PORT RCPT COUNT [SEED]
    COUNT messages (about 5 KB on average: 70% text/plain, 15%
    multipart/alternative, 15% multipart/mixed with a base64 attachment)
    over 4 SMTP sessions; the word RARE is in the text of every 2,500th
    message (4 of 10,000).
corpus.py export DATA_DIR ADDRESS MAILDIR UID GID
    the INBOX of ADDRESS as Herald stores it, in UID order, into
    MAILDIR/cur (owned by UID:GID), for Dovecot.
corpus.py message I
    one message of the corpus on stdout (the APPEND phase's data).
"""
import base64
import functools
import os
import random
import smtplib
import sqlite3
import sys
import threading

RARE = "quizzaciously"
_SYL = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "si", "pe", "da", "gu",
        "fe", "bi", "no", "ha", "je", "wu", "zo", "ce", "ly"]


@functools.lru_cache(maxsize=4)
def vocabulary(seed, n=3000):
    rng = random.Random(seed)
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(_SYL) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def text(rng, vocab, lines, rare=False):
    out = []
    for j in range(lines):
        ws = [rng.choice(vocab) for _ in range(rng.randint(8, 13))]
        if rare and j == lines // 2:
            ws.insert(len(ws) // 2, RARE)
        out.append(" ".join(ws))
    return "\r\n".join(out) + "\r\n"


def message(i, seed=1):
    rng = random.Random(seed * 1000003 + i)
    vocab = vocabulary(seed)
    rare = i % 2500 == 1234
    who = rng.randint(1, 200)
    hdr = [f"From: Sender {who} <sender{who}@remote.test>",
           "To: Bench <bench@example.test>"]
    if rng.random() < 0.3:
        hdr.append(f"Cc: other{rng.randint(1, 50)}@remote.test, "
                   f"\"Third, Person\" <third{rng.randint(1, 50)}@remote.test>")
    subject = " ".join(rng.choice(vocab) for _ in range(rng.randint(3, 8)))
    hdr += [f"Subject: {subject}",
            f"Date: {'Mon Tue Wed Thu Fri Sat Sun'.split()[i % 7]}, "
            f"{1 + i % 28:02d} Nov 2026 {i % 24:02d}:{i % 60:02d}:00 +0000",
            f"Message-ID: <bench.{seed}.{i}@remote.test>",
            "MIME-Version: 1.0"]
    kind = rng.random()
    body_text = text(rng, vocab, rng.randint(15, 100), rare)
    if kind < 0.70:
        hdr.append("Content-Type: text/plain; charset=utf-8")
        body = body_text
    elif kind < 0.85:
        b = f"alt{seed}x{i}"
        hdr.append(f"Content-Type: multipart/alternative; boundary=\"{b}\"")
        html = "<html><body><p>" + body_text.replace("\r\n", "</p>\r\n<p>") \
            + "</p></body></html>\r\n"
        body = (f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                f"{body_text}--{b}\r\nContent-Type: text/html; "
                f"charset=utf-8\r\n\r\n{html}--{b}--\r\n")
    else:
        b = f"mix{seed}x{i}"
        att = base64.encodebytes(rng.randbytes(rng.randint(2000, 20000)))
        att = att.decode().replace("\n", "\r\n")
        hdr.append(f"Content-Type: multipart/mixed; boundary=\"{b}\"")
        body = (f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                f"{body_text}--{b}\r\nContent-Type: application/pdf; "
                f"name=\"doc{i}.pdf\"\r\nContent-Disposition: attachment; "
                f"filename=\"doc{i}.pdf\"\r\nContent-Transfer-Encoding: "
                f"base64\r\n\r\n{att}--{b}--\r\n")
    return ("\r\n".join(hdr) + "\r\n\r\n" + body).encode()


def fill(port, rcpt, count, seed):
    errors = []

    def run(k, n):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
                for i in range(k, count, n):
                    s.sendmail("sender@remote.test", [rcpt], message(i, seed))
        except Exception as e:
            errors.append(e)

    ts = [threading.Thread(target=run, args=(k, 4)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        sys.exit(f"fill: {errors[0]!r}")


def export(data_dir, address, maildir, uid, gid):
    local, domain = address.rsplit("@", 1)
    db = sqlite3.connect(os.path.join(data_dir, "herald.db"), timeout=30)
    rows = db.execute(
        "SELECT m.blob_id, m.size FROM messages m"
        " JOIN mailboxes b ON b.id = m.mailbox_id"
        " JOIN accounts a ON a.id = m.account_id"
        " JOIN domains d ON d.id = a.domain_id"
        " WHERE a.localpart = ? AND d.name = ? AND b.name = 'INBOX'"
        " ORDER BY m.uid", (local, domain)).fetchall()
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
        os.chown(os.path.join(maildir, sub), uid, gid)
    os.chown(maildir, uid, gid)
    for n, (blob_id, size) in enumerate(rows):
        row = db.execute("SELECT data FROM blobs WHERE id = ?",
                         (blob_id,)).fetchone()
        if row is not None:
            data = bytes(row[0])
        else:
            with open(os.path.join(data_dir, "blobs", blob_id[:2], blob_id),
                      "rb") as f:
                data = f.read()
        assert len(data) == size
        path = os.path.join(maildir, "cur",
                            f"{1764000000 + n}.M{n}P1.bench,S={size}:2,")
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, uid, gid)
    db.close()
    print(len(rows))


def main():
    cmd = sys.argv[1]
    if cmd == "fill":
        fill(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
             int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    elif cmd == "export":
        export(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]),
               int(sys.argv[6]))
    elif cmd == "message":
        sys.stdout.buffer.write(message(int(sys.argv[2])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
