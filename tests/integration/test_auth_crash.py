"""A malformed line inside an SMTP AUTH exchange (bare LF, NUL, bare CR,
over 12 KB) gets a protocol error and the worker keeps serving: the
exchange's line reader was freed before its error was read (issue 10,
2.1)."""
import smtplib

import pytest

from smtp_util import Raw

BAD_LINES = {
    "bare_lf": b"dXNlcg==\n",
    "nul": b"dXNl\0cg==\r\n",
    "bare_cr": b"dXNl\rcg==\r\n",
    "too_long": b"A" * 13000 + b"\r\n",
}


@pytest.fixture
def server(herald_factory):
    h = herald_factory(listeners=("smtp", "submission"))
    h.add_domain()
    h.add_user("alice@example.test", "alicepw")
    h.start()
    return h


def open_auth_exchange(h, port, starttls):
    r = Raw(h.ports[port])
    assert r.reply()[0] == 220
    assert r.cmd("EHLO client.test")[0] == 250
    if starttls:
        assert r.cmd("STARTTLS")[0] == 220
        r.starttls_wrap()
        assert r.cmd("EHLO client.test")[0] == 250
    code, text = r.cmd("AUTH LOGIN")
    assert code == 334, text
    return r


def assert_still_serves(h, workers_before):
    # the same worker answers a full login on the next connection
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"], timeout=10) as s:
        s.ehlo("client.test")
        s.login("alice@example.test", "alicepw")
    assert h.pids()[1] == workers_before, h.log()
    assert "worker-exit" not in h.log() and "crash" not in h.log()


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
@pytest.mark.parametrize("port,starttls", [("smtp", False),
                                           ("submission", True)])
def test_bad_auth_line_is_a_protocol_error(server, kind, port, starttls):
    workers = server.pids()[1]
    r = open_auth_exchange(server, port, starttls)
    r.send(BAD_LINES[kind])
    code, text = r.reply()
    assert code == 500 and text[0].startswith("5.5.2"), (code, text)
    # the exchange is over: the session is back to commands
    assert r.cmd("NOOP")[0] == 250
    r.close()
    assert_still_serves(server, workers)
