#!/usr/bin/python3
"""Runs every Herald test and ends with the line "N passed, N failed".

Unit tests: each build/tests/test-* (cmocka, TAP output) for the release
build and the ASan+UBSan build. Integration tests: pytest against the
sanitizer binary (HERALD_BIN). Lint counts as one test.
"""
import argparse
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_unit(build):
    passed = failed = 0
    tdir = os.path.join(ROOT, build, "tests")
    if not os.path.isdir(tdir):
        print(f"no unit tests built in {tdir}")
        return 0, 1
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    for name in sorted(os.listdir(tdir)):
        path = os.path.join(tdir, name)
        if not name.startswith("test-") or not os.access(path, os.X_OK):
            continue
        try:
            p = subprocess.run([path], cwd=ROOT, env=env, capture_output=True,
                               text=True, errors="replace", timeout=600)
            out, rc = p.stdout + p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or "") if isinstance(e.stdout, str) else "", -9
            out += "\nTIMEOUT"
        ok = sum(1 for l in out.splitlines() if l.startswith("ok "))
        bad = sum(1 for l in out.splitlines() if l.startswith("not ok "))
        if rc != 0 and bad == 0:
            bad = 1  # crashed or a sanitizer aborted outside a test
        passed += ok
        failed += bad
        status = "ok" if bad == 0 else "FAILED"
        print(f"{build}/{name}: {ok} passed, {bad} failed {status}", flush=True)
        if bad:
            print("\n".join(out.splitlines()[-60:]))
    return passed, failed


def run_integration(binary, extra):
    xml = os.path.join(ROOT, "build", "pytest-results.xml")
    os.makedirs(os.path.dirname(xml), exist_ok=True)
    if os.path.exists(xml):
        os.unlink(xml)
    env = dict(os.environ, HERALD_BIN=os.path.join(ROOT, binary))
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    cmd = ["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
           f"--junitxml={xml}", "tests/integration"] + extra
    subprocess.run(cmd, cwd=ROOT, env=env)
    if not os.path.exists(xml):
        return 0, 1
    root = ET.parse(xml).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    passed = failed = 0
    for s in suites:
        total = int(s.get("tests", 0))
        f = int(s.get("failures", 0)) + int(s.get("errors", 0))
        sk = int(s.get("skipped", 0))
        failed += f
        passed += total - f - sk
    return passed, failed


def run_lint():
    p = subprocess.run(["bash", "scripts/lint.sh"], cwd=ROOT)
    print(f"lint: {'ok' if p.returncode == 0 else 'FAILED'}")
    return (1, 0) if p.returncode == 0 else (0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit-only", action="store_true")
    ap.add_argument("--build", default=None)
    ap.add_argument("--binary", default="build-asan/herald")
    ap.add_argument("pytest_args", nargs="*")
    a = ap.parse_args()
    passed = failed = 0
    builds = [a.build] if a.build else ["build", "build-asan"]
    for b in builds:
        p, f = run_unit(b)
        passed += p
        failed += f
    if not a.unit_only:
        p, f = run_lint()
        passed += p
        failed += f
        p, f = run_integration(a.binary, a.pytest_args)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
