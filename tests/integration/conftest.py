"""pytest fixtures: `herald_factory` makes servers that are always stopped
and checked for sanitizer reports after the test; no thread a test starts
may outlive it (a thread left waiting in accept() hangs the whole run)."""
import os
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Herald, remove_binary_for_all_users  # noqa: E402


@pytest.fixture
def herald_factory():
    made = []

    def make(**kw):
        h = Herald(**kw)
        made.append(h)
        return h

    yield make
    problems = []
    for h in made:
        h.stop()
        problems += h.sanitizer_errors()
        if not problems:
            h.cleanup()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


@pytest.fixture
def dns_server_factory():
    """dns_server_factory(records=..., ...) -> a started dns_util.DnsServer
    (a real unbound on 127.0.0.1), stopped after the test."""
    from dns_util import DnsServer
    made = []

    def make(**kw):
        s = DnsServer(**kw)
        made.append(s)
        return s.start()

    yield make
    for s in made:
        s.cleanup()


@pytest.fixture(autouse=True)
def no_thread_outlives_its_test():
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate()
            if t not in before and t.is_alive()]
    for t in left:
        t.join(5)
    left = [t.name for t in left if t.is_alive()]
    assert not left, f"threads still running after the test: {left}"


@pytest.fixture(autouse=True, scope="session")
def _shared_binary_cleanup():
    yield
    remove_binary_for_all_users()
