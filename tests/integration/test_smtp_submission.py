"""Submission on 587 (STARTTLS, then AUTH) and 465 (implicit TLS): AUTH
mechanisms, 535 5.7.8 and rate limiting with the fail2ban line, sender
checks on the envelope and the From: header, relaying into the queue,
and smuggling on 587."""
import base64
import hashlib
import hmac
import os
import re
import smtplib
import ssl

import pytest

from smtp_util import Raw, body_of, inbox, queue_entries


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def server(herald_factory):
    h = herald_factory(listeners=("smtp", "submission", "submissions"),
                       sections={"auth": "argon2_memlimit = 8M\n"
                                         "argon2_opslimit = 1\n"
                                         "fail_delay = 0ms\n"
                                         "fail_per_ip = 3"})
    h.add_domain()
    h.add_user("bob@example.test")
    h.add_user("alice@example.test", "alicepw")
    h.cli("alias", "add", "sales@example.test", "alice@example.test")
    h.start()
    return h


def submit(h, port="submission"):
    if port == "submissions":
        s = smtplib.SMTP_SSL("127.0.0.1", h.ports[port], timeout=10,
                             context=tls_ctx())
        s.ehlo("mua.test")
    else:
        s = smtplib.SMTP("127.0.0.1", h.ports[port], timeout=10)
        s.ehlo("mua.test")
        s.starttls(context=tls_ctx())
        s.ehlo("mua.test")
    return s


def test_auth_before_starttls_refused(server):
    r = Raw(server.ports["submission"])
    r.reply()
    code, caps = r.cmd("EHLO mua.test")
    assert not any(c.startswith("AUTH") for c in caps)
    assert "STARTTLS" in caps
    creds = base64.b64encode(b"\0alice@example.test\0alicepw").decode()
    code, text = r.cmd("AUTH PLAIN " + creds)
    assert (code, text[0][:5]) == (530, "5.7.0")
    # and MAIL without AUTH is refused as well
    code, text = r.cmd("MAIL FROM:<alice@example.test>")
    assert (code, text[0][:5]) == (530, "5.7.0")
    r.close()
    assert "auth-ok" not in server.log()


def test_submission_delivers_and_queues(server):
    msg = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
           b"Subject: submitted\r\n\r\nhi bob\r\n")
    with submit(server) as s:
        code, caps = s.ehlo("mua.test")
        assert b"AUTH PLAIN LOGIN SCRAM-SHA-256" in caps
        assert s.login("alice@example.test", "alicepw")[0] == 235
        assert s.sendmail("alice@example.test",
                          ["bob@example.test", "carol@far.test"], msg,
                          rcpt_options=["NOTIFY=SUCCESS,FAILURE"],
                          mail_options=["RET=HDRS", "ENVID=abc123"]) == {}
    raw = inbox(server, "bob@example.test")[0]
    assert body_of(raw) == msg
    assert b"with ESMTPSA id" in raw
    assert b"(authenticated as alice@example.test)" in raw
    q = queue_entries(server)
    assert len(q) == 1
    assert q[0]["env_from"] == "alice@example.test"
    assert q[0]["dsn_ret"] == "HDRS" and q[0]["dsn_envid"] == "abc123"
    assert server.wait_log("status=queued")
    assert "auth-ok user=<alice@example.test> method=PLAIN" in server.log()


def test_submissions_465_login_and_scram(server):
    msg = b"From: alice@example.test\r\nSubject: 465\r\n\r\nx\r\n"
    with submit(server, "submissions") as s:
        s.user, s.password = "alice@example.test", "alicepw"
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
        assert s.sendmail("alice@example.test", ["bob@example.test"], msg) == {}
    # SCRAM-SHA-256 by hand (smtplib does not have it)
    r = Raw(server.ports["submissions"], tls=True)
    r.reply()
    r.cmd("EHLO mua.test")
    cnonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n=alice@example.test,r={cnonce}"
    code, text = r.cmd("AUTH SCRAM-SHA-256 " +
                       base64.b64encode(("n,," + first_bare).encode()).decode())
    assert code == 334, text
    server_first = base64.b64decode(text[0]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salt = base64.b64decode(attrs["s"])
    salted = hashlib.pbkdf2_hmac("sha256", b"alicepw", salt, int(attrs["i"]))
    ckey = hmac.new(salted, b"Client Key", "sha256").digest()
    skey = hashlib.sha256(ckey).digest()
    final_wo = "c=biws,r=" + attrs["r"]
    auth_msg = f"{first_bare},{server_first},{final_wo}".encode()
    sig = hmac.new(skey, auth_msg, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(ckey, sig))
    code, text = r.cmd(base64.b64encode(
        (final_wo + ",p=" + base64.b64encode(proof).decode()).encode()).decode())
    assert code == 334, text
    assert base64.b64decode(text[0]).startswith(b"v=")
    code, text = r.cmd("")
    assert code == 235, text
    r.close()
    assert len(inbox(server, "bob@example.test")) == 1


def test_wrong_password_then_rate_limited(server):
    with submit(server) as s:
        s.user, s.password = "bob@example.test", "bad-Pa55word"
        for _ in range(3):
            # smtplib's login() would try PLAIN and LOGIN: one at a time
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                code, text = s.auth("PLAIN", s.auth_plain)
                raise smtplib.SMTPAuthenticationError(code, text)
            assert e.value.smtp_code == 535
            assert e.value.smtp_error.startswith(b"5.7.8")
    # the address is now blocked, even with the right password
    with submit(server) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("bob@example.test", "secret")
        assert e.value.smtp_code == 454
    # a log line may follow the reply (docs/logging.md)
    assert server.wait_log("auth-ratelimited", 5), server.log()
    log = server.log()
    fails = re.findall(r"sasl auth-failed user=<bob@example.test> "
                       r"method=PLAIN proto=smtp rip=127\.0\.0\.1", log)
    assert len(fails) == 3
    assert "auth-ratelimited" in log
    assert "bad-Pa55word" not in log and "secret" not in log


def test_sender_checks(server):
    with submit(server) as s:
        s.login("alice@example.test", "alicepw")
        # someone else's address
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("bob@example.test", ["bob@example.test"],
                       b"From: bob@example.test\r\n\r\nx\r\n")
        assert e.value.smtp_code == 553
        assert e.value.smtp_error.startswith(b"5.7.1")
        s.rset()
        # an alias of hers, and her own +tag address, are fine
        assert s.sendmail("sales@example.test", ["bob@example.test"],
                          b"From: Sales <sales@example.test>\r\n\r\nx\r\n") == {}
        assert s.sendmail("alice+news@example.test", ["bob@example.test"],
                          b"From: alice+news@example.test\r\n\r\nx\r\n") == {}
        # envelope fine, From: header forged
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.test", ["bob@example.test"],
                       b"From: \"Alice\" <alice@example.test>,\r\n"
                       b" ceo@example.test\r\nSubject: x\r\n\r\nx\r\n")
        assert e.value.smtp_code == 553
    assert len(inbox(server, "bob@example.test")) == 2


@pytest.mark.parametrize("from_value", [
    # a stray quote after the forged address once hid it from the check
    b"ceo@example.test \"",
    # so did 32 of her own addresses before it (only 32 were looked at)
    b", ".join([b"alice@example.test"] * 32 + [b"ceo@example.test"]),
    # so did a second From: field (only the first was looked at)
    b"alice@example.test\r\nFrom: ceo@example.test",
    # or a quote left open in the first of them
    b"\"Alice <alice@example.test>\r\nFrom: ceo@example.test",
])
def test_forged_from_cannot_hide(server, from_value):
    with submit(server) as s:
        s.login("alice@example.test", "alicepw")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.test", ["bob@example.test"],
                       b"From: " + from_value + b"\r\nSubject: x\r\n\r\nx\r\n")
        assert e.value.smtp_code == 553
    assert inbox(server, "bob@example.test") == []


# Issue 10 2.4: From:/Sender: fields alice's session had accepted, read by
# a client as someone else's (each with the reason the 553 gives).
FORGED_FROM = [
    (b"From : bob@example.test", b"address not owned"),
    (b"From: <bob@example.test> <alice@example.test>", b"cannot be parsed"),
    (b"From: <bob@example.test", b"cannot be parsed"),
    (b"From: =?utf-8?q?bob=40example.test?=", b"cannot be parsed"),
    (b"From: =?utf-8?b?Ym9iQGV4YW1wbGUudGVzdA==?= <alice@example.test>",
     b"display name shows an address"),
    (b"From: \"bob@example.test\" <alice@example.test>",
     b"display name shows an address"),
    (b"From: alice@example.test (bob@example.test)",
     b"display name shows an address"),
    (b"From: \"bob\xef\xbc\xa0example.test\" <alice@example.test>",
     b"display name shows an address"),
    (b"FROM:\talice@example.test\r\nSender : bob@example.test",
     b"address not owned"),
    (b"From: bob@example.test <alice@example.test>", b"cannot be parsed"),
    (b"From: team: alice@example.test, bob@example.test;",
     b"address not owned"),
    (b"From: undisclosed-recipients:;", b"has no address"),
    (b"From: <@bob.example.test:alice@example.test>", b"source route"),
    (b"From bob@example.test\r\nFrom: alice@example.test", b"no colon"),
    (b"From: =?x-unknown?q?Bob?= <alice@example.test>", b"cannot be decoded"),
    # review: names Thunderbird's libmime trims (isspace before the
    # colon), a reader decoding the raw field first (Roundcube), a NUL
    # hidden in an encoded word, UTF-16 without a byte order mark
    (b"From\x0b: bob@example.test", b"field name is malformed"),
    (b"From\xc2\xa0: bob@example.test", b"field name is malformed"),
    (b"From: =?utf-8?q?(bob=40example.test)?= <alice@example.test>",
     b"display name shows an address"),
    (b"From: =?utf-8?q?bob=00=40example.test?= <alice@example.test>",
     b"display name shows an address"),
    (b"From: =?utf-16?b?AGIAbwBiAEAAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQ=?= "
     b"<alice@example.test>", b"cannot be decoded"),
]


@pytest.mark.parametrize("header,reason", FORGED_FROM,
                         ids=[str(i) for i in range(len(FORGED_FROM))])
def test_from_forgeries_refused(server, header, reason):
    with submit(server) as s:
        s.login("alice@example.test", "alicepw")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.test", ["bob@example.test"],
                       header + b"\r\nSubject: x\r\n\r\nx\r\n")
        assert e.value.smtp_code == 553
        assert e.value.smtp_error.startswith(b"5.7.1 ")
        assert reason in e.value.smtp_error, e.value.smtp_error
    assert inbox(server, "bob@example.test") == []
    assert server.wait_log("cmd=DATA code=553 dsn=5.7.1 header_from=<")


def test_from_real_clients_accepted(server):
    """What Thunderbird, mutt and phones send for her still goes."""
    ok = [
        b"From: Alice Smith <alice@example.test>",
        b"From: \"Smith, Alice\" <ALICE@Example.Test>",
        b"From: =?UTF-8?Q?Alice_Sm=C3=AFth?= <alice@example.test>",
        b"From: =?ISO-8859-1?Q?J=F6rg?= <sales@example.test>",
        b"From: \"alice@example.test\" <alice@example.test>",
        b"From: Alice\r\n <alice+news@example.test>",
        b"From: alice@example.test\r\nSender: Sales <sales@example.test>",
        b"From: \xd0\x90\xd0\xbb\xd0\xb8\xd1\x81\xd0\xb0 <alice@example.test>",
    ]
    with submit(server) as s:
        s.login("alice@example.test", "alicepw")
        for h in ok:
            assert s.sendmail("alice@example.test", ["bob@example.test"],
                              h + b"\r\nSubject: x\r\n\r\nx\r\n") == {}, h
    assert len(inbox(server, "bob@example.test")) == len(ok)


def test_relay_needs_auth_on_25_but_not_after_auth(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.ehlo()
        s.mail("x@remote.test")
        assert s.rcpt("y@far.test")[0] == 550
    assert queue_entries(server) == []


@pytest.mark.parametrize("port", ["smtp", "submission"])
def test_smuggling_on_25_and_587(server, port):
    if port == "submission":
        r = Raw(server.ports[port])
        r.reply()
        r.cmd("EHLO s.test")
        assert r.cmd("STARTTLS")[0] == 220
        r.starttls_wrap()
        r.cmd("EHLO s.test")
        creds = base64.b64encode(b"\0alice@example.test\0alicepw").decode()
        assert r.cmd("AUTH PLAIN " + creds)[0] == 235
        sender = "alice@example.test"
    else:
        r = Raw(server.ports[port])
        r.reply()
        r.cmd("EHLO s.test")
        sender = "a@remote.test"
    for sep in (b"\n.\n", b"\r.\r"):
        assert r.cmd(f"MAIL FROM:<{sender}>")[0] == 250
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(b"From: " + sender.encode() + b"\r\nSubject: one\r\n\r\nx" +
               sep + b"MAIL FROM:<" + sender.encode() + b">\r\n"
               b"RCPT TO:<alice@example.test>\r\nDATA\r\n"
               b"From: " + sender.encode() + b"\r\nSubject: two\r\n\r\n"
               b"smuggled\r\n.\r\n")
        code, text = r.reply()
        assert (code, text[0][:5]) == (550, "5.6.0")
        assert r.cmd("NOOP")[0] == 250
    r.close()
    assert inbox(server, "alice@example.test") == []
    assert inbox(server, "bob@example.test") == []


def test_starttls_discards_pipelined_commands(server):
    r = Raw(server.ports["submission"])
    r.reply()
    r.cmd("EHLO s.test")
    # a man in the middle appends a command after STARTTLS
    r.send("STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
    assert r.reply()[0] == 220
    r.starttls_wrap()
    # state was reset: EHLO is needed again, and no MAIL is pending
    code, text = r.cmd("RCPT TO:<bob@example.test>")
    assert code == 503
    assert r.cmd("EHLO s.test")[0] == 250
    r.close()


def test_swaks_submission_with_auth(server):
    import subprocess
    p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port",
                        str(server.ports["submission"]), "--tls",
                        "--auth", "LOGIN", "--auth-user", "alice@example.test",
                        "--auth-password", "alicepw",
                        "--from", "alice@example.test",
                        "--header", "From: alice@example.test",
                        "--to", "bob@example.test"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "235 2.7.0" in p.stdout
    assert len(inbox(server, "bob@example.test")) == 1
