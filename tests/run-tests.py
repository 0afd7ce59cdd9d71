#!/usr/bin/python3
"""Runs every Herald test and ends with the line "N passed, N failed",
followed by ", N skipped" when any test was skipped.

Unit tests: each build/tests/test-* (cmocka, TAP output) for the release
build and the ASan+UBSan build. Integration tests: pytest against the
sanitizer binary (HERALD_BIN). Each fuzz target replays its seed corpus
on both builds (one test each). Lint counts as one test. A skip is neither
passed nor failed: each one is listed with its reason before the summary.
"""
import argparse
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Tally:
    def __init__(self):
        self.passed = self.failed = 0
        self.skips = []     # (test, reason)

    def add(self, passed=0, failed=0):
        self.passed += passed
        self.failed += failed

    def summary(self):
        line = f"{self.passed} passed, {self.failed} failed"
        if self.skips:
            line += f", {len(self.skips)} skipped"
        return line


def run_unit(build, tally):
    tdir = os.path.join(ROOT, build, "tests")
    if not os.path.isdir(tdir):
        print(f"no unit tests built in {tdir}")
        tally.add(failed=1)
        return
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
        lines = out.splitlines()
        # cmocka's TAP: "not ok 3 # SKIP name" is a skip(), not a failure;
        # the test prints its reason before calling skip()
        skipped = [l.split("# SKIP", 1)[1].strip() for l in lines
                   if l.startswith(("ok ", "not ok ")) and "# SKIP" in l]
        ok = sum(1 for l in lines if l.startswith("ok ") and "# SKIP" not in l)
        bad = sum(1 for l in lines
                  if l.startswith("not ok ") and "# SKIP" not in l)
        if rc != 0 and bad == 0:
            bad = 1  # crashed or a sanitizer aborted outside a test
        tally.add(ok, bad)
        for t in skipped:
            tally.skips.append((f"{build}/{name}: {t}",
                                "skip() in the test; see its output"))
        status = "ok" if bad == 0 else "FAILED"
        more = f", {len(skipped)} skipped" if skipped else ""
        print(f"{build}/{name}: {ok} passed, {bad} failed{more} {status}",
              flush=True)
        if bad or skipped:
            print("\n".join(lines[-60:]))


def run_fuzz_replay(build, tally):
    """Each fuzz target, built against tests/fuzz/replay-main.c, runs
    once over its seed corpus (tests/fuzz/corpus/NAME): one test each."""
    fdir = os.path.join(ROOT, build, "fuzz")
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    targets = sorted(n for n in os.listdir(os.path.join(ROOT, "tests/fuzz"))
                     if n.startswith("fuzz-") and n.endswith(".c"))
    for src in targets:
        name = src[:-2]
        path = os.path.join(fdir, name)
        corpus = os.path.join(ROOT, "tests/fuzz/corpus", name[len("fuzz-"):])
        if not os.access(path, os.X_OK):
            out, rc = f"not built: {path}", 1
        elif not os.path.isdir(corpus):
            out, rc = f"no corpus: {corpus}", 1
        else:
            try:
                p = subprocess.run([path, corpus], cwd=ROOT, env=env,
                                   capture_output=True, text=True,
                                   errors="replace", timeout=300)
                out, rc = p.stdout + p.stderr, p.returncode
            except subprocess.TimeoutExpired:
                out, rc = "TIMEOUT", -9
        tally.add(*((1, 0) if rc == 0 else (0, 1)))
        print(f"{build}/fuzz/{name}: {out.strip().splitlines()[-1] if rc == 0 else 'FAILED'}",
              flush=True)
        if rc != 0:
            print("\n".join(out.splitlines()[-60:]))


def run_integration(binary, extra, tally):
    xml = os.path.join(ROOT, "build", "pytest-results.xml")
    os.makedirs(os.path.dirname(xml), exist_ok=True)
    if os.path.exists(xml):
        os.unlink(xml)
    env = dict(os.environ, HERALD_BIN=os.path.join(ROOT, binary))
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    cmd = ["/usr/bin/python3", "-m", "pytest", "-q", "-rs", "-p",
           "no:cacheprovider", f"--junitxml={xml}", "tests/integration"] + extra
    subprocess.run(cmd, cwd=ROOT, env=env)
    if not os.path.exists(xml):
        tally.add(failed=1)
        return
    root = ET.parse(xml).getroot()
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        results = [c for c in case
                   if c.tag in ("failure", "error", "skipped")]
        if any(c.tag in ("failure", "error") for c in results):
            tally.add(failed=1)
        elif results:
            reason = results[0].get("message") or ""
            if reason in ("", "Skipped"):
                # a bare pytest.skip(): a skip must say why
                reason = "FAILED: skipped without a reason"
                tally.add(failed=1)
            tally.skips.append((name, reason))
        else:
            tally.add(passed=1)


def run_lint(tally):
    p = subprocess.run(["bash", "scripts/lint.sh"], cwd=ROOT)
    print(f"lint: {'ok' if p.returncode == 0 else 'FAILED'}", flush=True)
    tally.add(*((1, 0) if p.returncode == 0 else (0, 1)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit-only", action="store_true")
    ap.add_argument("--build", default=None)
    ap.add_argument("--binary", default="build-asan/herald")
    ap.add_argument("pytest_args", nargs="*")
    a = ap.parse_args()
    tally = Tally()
    builds = [a.build] if a.build else ["build", "build-asan"]
    for b in builds:
        run_unit(b, tally)
        run_fuzz_replay(b, tally)
    if not a.unit_only:
        run_lint(tally)
        run_integration(a.binary, a.pytest_args, tally)
    for name, reason in tally.skips:
        print(f"skipped: {name}: {reason}")
    print(tally.summary())
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
