"""`herald sendmail` and `mailq` (issue 3, item 6): local injection into the
store without a server, the sendmail flags scripts use, sysexits codes.
Messages are read back from data_dir/herald.db and the blob files."""
import os
import pwd
import smtplib
import sqlite3
import subprocess

import pytest

from harness import HERALD_BIN, binary_for_all_users

EX_USAGE, EX_DATAERR, EX_NOUSER, EX_TEMPFAIL, EX_NOPERM = 64, 65, 67, 75, 77


def prepare(h, users=("bob",)):
    h.add_domain()
    for u in users:
        h.add_user(f"{u}@example.test")
    return h


def sendmail(h, *args, input=b"", prog=None, conf=True, **kw):
    argv = [prog or HERALD_BIN] + ([] if prog else ["sendmail"]) + list(args)
    if conf:
        argv += ["-C", h.conf]
    return subprocess.run(argv, input=input, capture_output=True,
                          timeout=60, **kw)


def inbox(h, address):
    return h.messages(address)


def query(h, sql):
    db = sqlite3.connect(os.path.join(h.data_dir, "herald.db"), timeout=10)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def header(msg, name):
    head = msg.split(b"\r\n\r\n", 1)[0]
    return [l for l in head.split(b"\r\n")
            if l.lower().startswith(name.lower() + b":")]


def body(msg):
    return msg.split(b"\r\n\r\n", 1)[1]


def assert_crlf_only(msg):
    assert b"\n" not in msg.replace(b"\r\n", b"")
    assert b"\r" not in msg.replace(b"\r\n", b"")


def test_echo_subject_delivers(herald_factory):
    """The "Done when" line, through a shell pipe."""
    h = prepare(herald_factory())
    p = subprocess.run(f'echo "Subject: hi" | {HERALD_BIN} sendmail -i '
                       f'bob@example.test -C {h.conf}', shell=True,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"" and p.stderr == b""
    [m] = inbox(h, "bob@example.test")
    assert_crlf_only(m)
    me = pwd.getpwuid(os.geteuid()).pw_name.encode()
    assert m.startswith(b"Return-Path: <" + me + b"@mail.example.test>\r\n"
                        b"Delivered-To: bob@example.test\r\n"
                        b"Received: by mail.example.test (Herald sendmail, "
                        b"from userid %d)" % os.geteuid()), m
    assert header(m, b"Subject") == [b"Subject: hi"]
    assert len(header(m, b"From")) == 1
    assert len(header(m, b"Date")) == 1
    [mid] = header(m, b"Message-ID")
    assert mid.endswith(b"@mail.example.test>")
    assert b"(Herald sendmail" in m and b"\tid " in m


def test_symlinks_sendmail_and_mailq(herald_factory):
    h = prepare(herald_factory())
    sm = os.path.join(h.dir, "sendmail")
    mq = os.path.join(h.dir, "mailq")
    os.symlink(HERALD_BIN, sm)
    os.symlink(HERALD_BIN, mq)
    p = sendmail(h, "bob@example.test", input=b"Subject: link\n\nvia link\n",
                 prog=sm)
    assert p.returncode == 0, p.stderr
    [m] = inbox(h, "bob@example.test")
    assert body(m) == b"via link\r\n"
    # $HERALD_CONFIG instead of -C
    env = dict(os.environ, HERALD_CONFIG=h.conf)
    p = subprocess.run([sm, "-oi", "bob@example.test"], env=env,
                       input=b"Subject: env\n\n", capture_output=True)
    assert p.returncode == 0, p.stderr
    assert len(inbox(h, "bob@example.test")) == 2
    p = subprocess.run([mq, "-C", h.conf], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Mail queue is empty\n"


def test_t_takes_to_cc_bcc_and_removes_bcc(herald_factory):
    h = prepare(herald_factory(), users=("bob", "carol", "dave", "erin"))
    msg = (b"From: Alice <alice@example.test>\n"
           b"To: Bob <bob@example.test>, \"Carol, C.\" <carol@example.test>\n"
           b"Cc: team: dave@example.test;\n"
           b"Bcc: (hidden)\n  Bob <BOB@example.test>\n"
           b"Subject: t\n\nhello\n")
    p = sendmail(h, "-t", "-i", "erin@example.test", input=msg)
    assert p.returncode == 0, p.stderr
    for u in ("bob", "carol", "dave", "erin"):
        [m] = inbox(h, f"{u}@example.test")
        assert header(m, b"Bcc") == [], u
        assert b"hidden" not in m
        assert header(m, b"From") == [b"From: Alice <alice@example.test>"]
        assert body(m) == b"hello\r\n"


def test_t_bcc_only_recipient(herald_factory):
    h = prepare(herald_factory())
    p = sendmail(h, "-t", input=b"To: undisclosed-recipients:;\n"
                 b"Bcc: bob@example.test\n\nsecret list\n")
    assert p.returncode == 0, p.stderr
    [m] = inbox(h, "bob@example.test")
    assert header(m, b"Bcc") == []
    assert header(m, b"To") == [b"To: undisclosed-recipients:;"]


def test_f_sender_and_full_name(herald_factory):
    h = prepare(herald_factory())
    p = sendmail(h, "-f", "alice@example.org", "-F", "Alice Liddell",
                 "bob@example.test", input=b"Subject: f\n\nx\n")
    assert p.returncode == 0, p.stderr
    p = sendmail(h, "-falice2@example.org", "bob@example.test",
                 input=b"Subject: f2\n\nx\n")
    assert p.returncode == 0, p.stderr
    p = sendmail(h, "-r", "<>", "bob@example.test",
                 input=b"From: daemon <d@example.test>\n\nbounce\n")
    assert p.returncode == 0, p.stderr
    m1, m2, m3 = inbox(h, "bob@example.test")
    assert m1.startswith(b"Return-Path: <alice@example.org>\r\n")
    assert header(m1, b"From") == [b"From: Alice Liddell <alice@example.org>"]
    assert m2.startswith(b"Return-Path: <alice2@example.org>\r\n")
    assert header(m2, b"From") == [b"From: alice2@example.org"]
    assert m3.startswith(b"Return-Path: <>\r\n")
    assert header(m3, b"From") == [b"From: daemon <d@example.test>"]


def test_null_sender_gets_a_from_with_a_domain(herald_factory):
    """-f '<>' on a message without From: the added From is
    MAILER-DAEMON@hostname, never a bare MAILER-DAEMON (RFC 5322 needs a
    domain)."""
    h = prepare(herald_factory())
    for flag in (["-f", "<>"], ["-f<>"], ["-r", "<>"]):
        p = sendmail(h, *flag, "bob@example.test",
                     input=b"Subject: null\n\nbounce\n")
        assert p.returncode == 0, p.stderr
    msgs = inbox(h, "bob@example.test")
    assert len(msgs) == 3
    for m in msgs:
        assert m.startswith(b"Return-Path: <>\r\n")
        assert header(m, b"From") == [b"From: MAILER-DAEMON@mail.example.test"]


def test_missing_config_names_c_and_herald_config(herald_factory):
    h = herald_factory()
    missing = os.path.join(h.dir, "no-such.conf")
    p = subprocess.run([HERALD_BIN, "sendmail", "-C", missing,
                        "bob@example.test"], input=b"Subject: x\n\n",
                       capture_output=True, timeout=60)
    env = {k: v for k, v in os.environ.items() if k != "HERALD_CONFIG"}
    env["HERALD_CONFIG"] = missing
    sm = os.path.join(h.dir, "sendmail")
    os.symlink(HERALD_BIN, sm)
    p2 = subprocess.run([sm, "bob@example.test"], input=b"Subject: x\n\n",
                        capture_output=True, env=env, timeout=60)
    for q in (p, p2):
        assert q.returncode == 78, q.stderr
        [line] = q.stderr.decode().splitlines()
        assert line.startswith(f"sendmail: {missing}: "), line
        assert "-C" in line and "HERALD_CONFIG" in line, line


def test_dot_line_ends_input_without_i(herald_factory):
    h = prepare(herald_factory())
    text = b"Subject: dots\n\nbefore\n.\nafter\n"
    assert sendmail(h, "bob@example.test", input=text).returncode == 0
    assert sendmail(h, "-i", "bob@example.test", input=text).returncode == 0
    assert sendmail(h, "-oi", "bob@example.test",
                    input=text.replace(b"\n", b"\r\n")).returncode == 0
    m1, m2, m3 = inbox(h, "bob@example.test")
    assert body(m1) == b"before\r\n"
    assert body(m2) == b"before\r\n.\r\nafter\r\n"
    assert body(m3) == b"before\r\n.\r\nafter\r\n"
    # ".." is data, not stuffing, on stdin
    assert sendmail(h, "bob@example.test",
                    input=b"Subject: dd\n\n..x\n").returncode == 0
    assert body(inbox(h, "bob@example.test")[3]) == b"..x\r\n"


def test_crlf_and_lf_input_stored_as_crlf(herald_factory):
    h = prepare(herald_factory())
    lf = b"Subject: e\nX-A: 1\n  folded\n\nline 1\nline 2\n"
    assert sendmail(h, "bob@example.test", input=lf).returncode == 0
    assert sendmail(h, "bob@example.test",
                    input=lf.replace(b"\n", b"\r\n")).returncode == 0
    m1, m2 = inbox(h, "bob@example.test")
    for m in (m1, m2):
        assert_crlf_only(m)
        assert body(m) == b"line 1\r\nline 2\r\n"
        assert b"X-A: 1\r\n  folded\r\n" in m


def test_no_header_input_gets_one(herald_factory):
    h = prepare(herald_factory())
    p = sendmail(h, "bob@example.test", input=b"just a body line\nand more\n")
    assert p.returncode == 0, p.stderr
    [m] = inbox(h, "bob@example.test")
    assert body(m) == b"just a body line\r\nand more\r\n"
    assert len(header(m, b"From")) == 1


def test_comma_separated_and_bare_recipients(herald_factory):
    h = prepare(herald_factory(), users=("bob", "carol", "dave"))
    p = sendmail(h, "bob@example.test,carol@example.test",
                 "Dave <dave@example.test>", input=b"Subject: c\n\n")
    assert p.returncode == 0, p.stderr
    for u in ("bob", "carol", "dave"):
        assert len(inbox(h, f"{u}@example.test")) == 1


def test_unknown_user_is_67_and_nothing_delivered(herald_factory):
    h = prepare(herald_factory())
    p = sendmail(h, "bob@example.test", "nobody@example.test",
                 input=b"Subject: u\n\n")
    assert p.returncode == EX_NOUSER
    assert b"nobody@example.test" in p.stderr
    assert b"unknown user" in p.stderr
    assert inbox(h, "bob@example.test") == []


def test_remote_recipient_queued_and_mailq(herald_factory):
    h = prepare(herald_factory())
    p = h.cli("mailq")
    assert p.stdout == "Mail queue is empty\n"
    p = sendmail(h, "-f", "bob@example.test", "-N", "success,failure",
                 "-R", "hdrs", "-V", "env-1", "friend@remote.example",
                 "bob@example.test", input=b"Subject: out\n\nhi\n")
    assert p.returncode == 0, p.stderr
    assert len(inbox(h, "bob@example.test")) == 1
    [(qid, env_from, ret, envid, size)] = query(
        h, "SELECT msg_id, env_from, dsn_ret, dsn_envid, size FROM queue")
    assert (env_from, ret, envid) == ("bob@example.test", "HDRS", "env-1")
    assert query(h, "SELECT address, dsn_notify, status FROM queue_rcpts") \
        == [("friend@remote.example", "SUCCESS,FAILURE", "pending")]
    for args in (("mailq",), ("sendmail", "-bp")):
        p = h.cli(*args)
        lines = p.stdout.splitlines()
        assert lines[0].startswith("-Queue ID-  --Size--")
        assert lines[1].split()[0] == str(qid)
        assert lines[1].split()[1] == str(size)
        assert lines[1].endswith("  bob@example.test")
        # Postfix's shape: the message id of the log lines, and each
        # recipient not delivered yet (its reason above it once tried)
        assert lines[2].strip() == "friend@remote.example"
        assert lines[-1] == "-- 1 Kbytes in 1 Request."


def test_bs_smtp_dialogue(herald_factory):
    h = prepare(herald_factory())
    p = subprocess.Popen([HERALD_BIN, "sendmail", "-bs", "-C", h.conf],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)

    def reply():
        lines = []
        while True:
            line = p.stdout.readline()
            assert line.endswith(b"\r\n"), line
            lines.append(line)
            if line[3:4] == b" ":
                return b"".join(lines)

    def cmd(text):
        p.stdin.write(text + b"\r\n")
        p.stdin.flush()
        return reply()

    assert reply().startswith(b"220 mail.example.test ESMTP")
    ehlo = cmd(b"EHLO client.test")
    assert b"250-PIPELINING" in ehlo and b"250 ENHANCEDSTATUSCODES" in ehlo
    assert cmd(b"RCPT TO:<bob@example.test>").startswith(b"503")
    assert cmd(b"MAIL FROM:<alice@example.org>").startswith(b"250 2.1.0")
    assert cmd(b"RCPT TO:<nobody@example.test>").startswith(b"550 5.1.1")
    assert cmd(b"RCPT TO:<bob@example.test>").startswith(b"250 2.1.5")
    assert cmd(b"NOOP").startswith(b"250")
    assert cmd(b"DATA").startswith(b"354")
    r = cmd(b"Subject: bs\r\n\r\nline\r\n..dot\r\n\n.\n.\r\nnot yet\r\n.")
    assert r.startswith(b"250 2.0.0 Ok: queued as "), r
    assert cmd(b"RSET").startswith(b"250")
    assert cmd(b"BOGUS").startswith(b"500")
    # a second message in the same session, pipelined in one write
    p.stdin.write(b"MAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    p.stdin.flush()
    assert reply().startswith(b"250") and reply().startswith(b"250")
    assert reply().startswith(b"354")
    assert cmd(b"Subject: two\r\n\r\nsecond\r\n.").startswith(b"250")
    assert cmd(b"QUIT").startswith(b"221")
    assert p.wait(30) == 0
    p.stdout.close()
    p.stdin.close()
    p.stderr.close()
    m1, m2 = inbox(h, "bob@example.test")
    assert m1.startswith(b"Return-Path: <alice@example.org>\r\n")
    # dot-unstuffed; bare LF normalised; only CRLF.CRLF ends the data
    assert body(m1) == b"line\r\n.dot\r\n\r\n.\r\n.\r\nnot yet\r\n"
    assert m2.startswith(b"Return-Path: <>\r\n")
    assert body(m2) == b"second\r\n"


def test_bad_input(herald_factory):
    h = prepare(herald_factory(sections={"smtp": "message_size_limit = 64k"}))
    cases = [
        ((), b"Subject: x\n\n", EX_USAGE, b"no recipients"),
        (("-t",), b"Subject: x\n\n", EX_DATAERR, b"no recipient"),
        (("-t",), b"To: a@b@c\n\n", EX_DATAERR, b"To header"),
        (("bob@example.test",), b"Subject: a\0b\n\n", EX_DATAERR, b"NUL"),
        (("bob@example.test",), b"X-Long: " + b"a" * 991 + b"\n\n",
         EX_DATAERR, b"998"),
        (("bob@example.test",), b"Subject: big\n\n" + b"x" * 70000 + b"\n",
         EX_DATAERR, b"message_size_limit"),
        (("-f", "a b@@", "bob@example.test"), b"\n", EX_USAGE, b"-f"),
        (("-Q", "bob@example.test"), b"\n", EX_USAGE, b"unknown option"),
        (("-N", "sometimes", "bob@example.test"), b"\n", EX_USAGE, b"-N"),
        (("bad address@",), b"\n", EX_USAGE, b"recipient"),
        (("-bd",), b"", EX_USAGE, b"herald serve"),
    ]
    for args, text, code, words in cases:
        p = sendmail(h, *args, input=text)
        assert p.returncode == code, (args, p.returncode, p.stderr)
        assert words in p.stderr, (args, p.stderr)
        assert len(p.stderr.splitlines()) == 1, p.stderr
    # a 998-octet header line is fine
    p = sendmail(h, "bob@example.test",
                 input=b"X-Long: " + b"a" * 990 + b"\n\nok\n")
    assert p.returncode == 0, p.stderr
    assert len(inbox(h, "bob@example.test")) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="runs sendmail as nobody")
def test_non_root_gets_a_clear_refusal(herald_factory):
    h = prepare(herald_factory())
    os.chmod(h.conf, 0o644)

    def as_nobody():
        os.setgid(65534)
        os.setgroups([])
        os.setuid(65534)

    # a copy nobody can reach (a checkout under /root is not), run from /
    p = subprocess.run([binary_for_all_users(), "sendmail", "-C", h.conf,
                        "bob@example.test"], input=b"Subject: x\n\n",
                       capture_output=True, preexec_fn=as_nobody, timeout=60,
                       cwd="/")
    assert p.returncode == EX_NOPERM, p.stderr
    assert b"permission denied" in p.stderr and b"root" in p.stderr
    assert inbox(h, "bob@example.test") == []


def test_injected_while_server_runs_matches_smtp(herald_factory):
    """sendmail writes into the store the running server uses; both paths
    leave the same shape of message in the INBOX."""
    h = prepare(herald_factory(listeners=("smtp",)))
    h.start()
    p = sendmail(h, "-f", "alice@example.org", "bob@example.test",
                 input=b"From: alice@example.org\nSubject: same\n"
                       b"Date: Mon, 23 Nov 2026 09:00:00 +0000\n"
                       b"Message-ID: <x@example.org>\n\nsame body\n")
    assert p.returncode == 0, p.stderr
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=30) as s:
        s.sendmail("alice@example.org", ["bob@example.test"],
                   b"From: alice@example.org\r\nSubject: same\r\n"
                   b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n"
                   b"Message-ID: <x@example.org>\r\n\r\nsame body\r\n")
    m1, m2 = inbox(h, "bob@example.test")

    def strip_trace(m):
        lines = m.split(b"\r\n")
        assert lines[0] == b"Return-Path: <alice@example.org>"
        assert lines[1] == b"Delivered-To: bob@example.test"
        assert lines[2].startswith(b"Received: ")
        i = 3
        while lines[i].startswith(b"\t"):
            i += 1
        return b"\r\n".join(lines[i:])

    assert strip_trace(m1) == strip_trace(m2)


def test_v_prints_the_log_lines(herald_factory):
    import re
    h = prepare(herald_factory())
    p = sendmail(h, "-v", "-f", "alice@example.org", "bob@example.test",
                 input=b"Subject: v\n\n")
    assert p.returncode == 0, p.stderr
    err = p.stderr.decode()
    m = re.search(r" info (\w{12}) sendmail accepted from=<alice@example.org>"
                  r" nrcpt=1 size=(\d+) uid=(\d+)\n", err)
    assert m, err
    assert int(m.group(3)) == os.getuid()
    assert f" info {m.group(1)} delivery sent to=<bob@example.test>" in err
    [msg] = inbox(h, "bob@example.test")
    assert f"\tid {m.group(1)}; ".encode() in msg
    assert "sendmail" in subprocess.run([HERALD_BIN, "help"], capture_output=True,
                                        text=True).stdout


def test_over_quota_is_73(herald_factory):
    h = prepare(herald_factory(), users=("bob", "carol"))
    h.cli("user", "quota", "bob@example.test", "1k")
    p = sendmail(h, "bob@example.test", "carol@example.test",
                 input=b"Subject: q\n\n" + b"x" * 2000 + b"\n")
    assert p.returncode == 73, p.stderr
    assert b"<bob@example.test>: mailbox full" in p.stderr
    assert b"delivered to 1 of 2 recipients" in p.stderr
    assert inbox(h, "bob@example.test") == []
    assert len(inbox(h, "carol@example.test")) == 1
