"""pytest fixtures: `herald_factory` makes servers that are always stopped
and checked for sanitizer reports after the test."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Herald  # noqa: E402


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
