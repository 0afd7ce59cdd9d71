"""`make lint` keeps the layers of DESIGN.md section 4: an include that
points up (store/ -> smtp/) or sideways between peers (smtp/ -> pop3/) fails
it, naming file and line. Runs scripts/lint.sh on a copy of the tree."""
import shutil
import subprocess

import pytest

from harness import ROOT


@pytest.fixture
def tree(tmp_path):
    for d in ("src", "scripts", "tests/unit", "tests/fuzz"):
        shutil.copytree(f"{ROOT}/{d}", tmp_path / d,
                        ignore=shutil.ignore_patterns("corpus"))
    return tmp_path


def lint(tree):
    return subprocess.run(["bash", str(tree / "scripts" / "lint.sh")],
                          capture_output=True, text=True, timeout=120)


def add_include(path, header):
    text = path.read_text()
    first = text.index('#include "')
    path.write_text(text[:first] + f'#include "{header}"\n' + text[first:])
    return text[:first].count("\n") + 1


def test_tree_passes(tree):
    p = lint(tree)
    assert p.returncode == 0, p.stderr


def test_upward_include_fails(tree):
    line = add_include(tree / "src/store/store.c", "smtp/smtp-server.h")
    p = lint(tree)
    assert p.returncode == 1
    assert f"src/store/store.c:{line}: store/ includes smtp/, a higher layer" \
        in p.stderr


def test_peer_include_fails(tree):
    line = add_include(tree / "src/smtp/smtp-server.c", "pop3/pop3.h")
    p = lint(tree)
    assert p.returncode == 1
    assert f"src/smtp/smtp-server.c:{line}: smtp/ includes its peer pop3/ " \
        "(same layer)" in p.stderr


def test_protocol_including_daemon_fails(tree):
    # the cycle this check was written to keep broken
    line = add_include(tree / "src/pop3/pop3-session.c", "daemon/daemon.h")
    p = lint(tree)
    assert p.returncode == 1
    assert f"src/pop3/pop3-session.c:{line}: pop3/ includes daemon/" in p.stderr


def test_lib_including_tls_fails(tree):
    # lib/ioev.c included tls/tls.h until issue 10; it stays out
    line = add_include(tree / "src/lib/ioev.c", "tls/tls.h")
    p = lint(tree)
    assert p.returncode == 1
    assert f"src/lib/ioev.c:{line}: lib/ includes tls/, a higher layer" in p.stderr


def test_unknown_dir_fails(tree):
    (tree / "src/newdir").mkdir()
    (tree / "src/newdir/x.c").write_text(
        "/* SPDX-License-Identifier: MIT */\n#include \"lib/mem.h\"\n")
    p = lint(tree)
    assert p.returncode == 1
    assert "src/newdir/x.c:2: src/newdir/ is in no layer" in p.stderr
