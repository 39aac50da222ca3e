"""CPython's own Lib/test/test_subprocess.py, natively and through pysyscall.compat.

    python tests/compat_stdlib.py [--python PYTHON] [--test-dir DIR] [--module NAME]
                                  [-k WORD ...]

Not collected by pytest (not a test_*.py file): it takes minutes. It runs
the interpreter's ``test.test_subprocess`` twice, each time in a fresh
interpreter: once as it is, once with ``pysyscall.compat.install()`` active
(every Popen of the test process goes through compat.fork_exec; the Python
children the tests start are plain interpreters). It prints the counts of
each run and every test whose outcome differs, with its traceback, and exits
1 if a test fails only with compat installed.

``--test-dir`` names a directory holding a ``test`` package (a CPython
checkout's Lib/, or a Debian sysroot's) for interpreters installed without
theirs. ``-k`` keeps the tests whose id contains one of the words. ``--module``
runs another of the interpreter's test modules the same way (``test_os -k
EnvironTests``: env=None and os.putenv/os.unsetenv, through Popen).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class _Recorder(unittest.TextTestResult):
    """A result that also keeps every test's outcome by id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, tuple[str, str]] = {}

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self.outcomes[test.id()] = ("pass", "")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self.outcomes[test.id()] = ("fail", self._exc_info_to_string(err, test))

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self.outcomes[test.id()] = ("error", self._exc_info_to_string(err, test))

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self.outcomes[test.id()] = ("skip", reason)

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self.outcomes[test.id()] = ("xfail", "")

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self.outcomes[test.id()] = ("xpass", "")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            self.outcomes[subtest.id()] = (kind, self._exc_info_to_string(err, test))


def _inner(mode: str, out: str, words: list[str], test_module: str) -> int:
    """Run test.``test_module`` in this interpreter; write the outcomes to ``out``."""
    sys.path.insert(0, str(ROOT))
    calls = {"fork_exec": 0, "preexec_fn": 0}
    if mode == "compat":
        from pysyscall import compat

        compat.install()
        module, name, _ = compat._saved[0]
        parameters = compat.PARAMETERS

        def counted(*arguments: Any) -> int:
            calls["fork_exec"] += 1
            named = dict(zip(parameters, arguments))
            calls["preexec_fn"] += named.get("preexec_fn") is not None
            return compat.fork_exec(*arguments)

        # The tests that patch fork_exec themselves put this one back after.
        setattr(module, name, counted)
    from test import support

    support.verbose = False
    suite = unittest.defaultTestLoader.loadTestsFromModule(
        importlib.import_module(f"test.{test_module}")
    )

    def flat(s: Any) -> list[Any]:
        if isinstance(s, unittest.TestSuite):
            return [t for inner in s for t in flat(inner)]
        return [s]

    tests = flat(suite)
    if words:
        tests = [t for t in tests if any(w in t.id() for w in words)]
    with open(os.devnull, "w") as quiet:
        runner = unittest.TextTestRunner(stream=quiet, resultclass=_Recorder, verbosity=0)
        result = runner.run(unittest.TestSuite(tests))
    assert isinstance(result, _Recorder)
    with open(out, "w") as f:
        json.dump({"outcomes": result.outcomes, "calls": calls}, f)
    return 0


def _run(
    python: str, mode: str, test_dir: str | None, words: list[str], module: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "outcomes.json")
        env = dict(os.environ)
        if test_dir:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [test_dir, env.get("PYTHONPATH")]))
        argv = [python, __file__, "--inner", mode, out, f"--module={module}"]
        argv += [f"-k{w}" for w in words]
        started = time.monotonic()
        done = subprocess.run(argv, env=env, cwd=tmp, capture_output=True, text=True)
        took = time.monotonic() - started
        if not os.path.exists(out):
            raise SystemExit(f"{mode} run produced no outcomes:\n{done.stdout}\n{done.stderr}")
        with open(out) as f:
            found: dict[str, Any] = json.load(f)
    return {**found, "seconds": took}


def _counts(outcomes: dict[str, Any]) -> str:
    kinds: dict[str, int] = {}
    for kind, _ in outcomes.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--test-dir")
    parser.add_argument("--module", default="test_subprocess")
    parser.add_argument("-k", dest="words", action="append", default=[])
    parser.add_argument("--inner", nargs=2, metavar=("MODE", "OUT"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.inner:
        return _inner(options.inner[0], options.inner[1], options.words, options.module)
    version = subprocess.run(
        [options.python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    runs = {
        mode: _run(options.python, mode, options.test_dir, options.words, options.module)
        for mode in ("native", "compat")
    }
    print(f"CPython {version}: Lib/test/{options.module}.py")
    for mode, run in runs.items():
        print(f"  {mode:7} {_counts(run['outcomes'])} ({run['seconds']:.0f} s)")
    calls = runs["compat"]["calls"]
    print(
        f"  compat.fork_exec calls: {calls['fork_exec']}, of which {calls['preexec_fn']} "
        "with preexec_fn (handed to the native fork_exec)"
    )
    reasons: dict[str, int] = {}
    for kind, text in runs["native"]["outcomes"].values():
        if kind == "skip":
            reasons[text] = reasons.get(text, 0) + 1
    print("  skipped natively, by reason:")
    for text, n in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"    {n:3}  {text}")
    native, ours = runs["native"]["outcomes"], runs["compat"]["outcomes"]
    bad = ("fail", "error")
    only_ours = sorted(t for t in ours if ours[t][0] in bad and native.get(t, ("?",))[0] not in bad)
    only_native = sorted(
        t for t in native if native[t][0] in bad and ours.get(t, ("?",))[0] not in bad
    )
    both = sorted(t for t in ours if ours[t][0] in bad and native.get(t, ("?",))[0] in bad)
    other = sorted(
        t
        for t in set(native) | set(ours)
        if native.get(t, ("missing",))[0] != ours.get(t, ("missing",))[0]
        and t not in only_ours
        and t not in only_native
    )
    print(f"  failing in both runs: {len(both)}")
    for t in both:
        print(f"    {t}")
    print(f"  failing only with compat: {len(only_ours)}")
    for t in only_ours:
        print(f"    {t}\n" + "".join(f"      {line}\n" for line in ours[t][1].splitlines()))
    print(f"  failing only natively: {len(only_native)}")
    for t in only_native:
        print(f"    {t}\n" + "".join(f"      {line}\n" for line in native[t][1].splitlines()))
    if other:
        print(f"  other differences (skip, pass, missing): {len(other)}")
        for t in other:
            was, now = native.get(t, ("missing",))[0], ours.get(t, ("missing",))[0]
            print(f"    {t}: native {was}, compat {now}")
    return 1 if only_ours else 0


if __name__ == "__main__":
    sys.exit(main())
