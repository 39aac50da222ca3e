"""PyPy: what cannot work there refuses, clearly, and the rest works.

PyPy's ctypes is itself Python code, so the fork runner, whose child would
run it between fork and execve, refuses there. The spawn and vfork runners
run no Python in the child at all, so auto still starts processes. On
CPython the fork runner's refusal is tested by faking the implementation
name (test_exec_unix.py::test_refuses_where_ctypes_runs_python).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pysyscall
from pysyscall import runner_fork

pytestmark = pytest.mark.skipif(
    sys.implementation.name != "pypy",
    reason="PyPy only (on CPython, test_exec_unix.py fakes the name to test the refusal)",
)

REFUSAL = "the fork runner needs CPython; on pypy ctypes itself runs Python code"


def test_forced_fork_runner_refuses_and_leaks_nothing(
    no_leaks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSYSCALL_RUNNER", "fork")
    assert runner_fork.unavailable() is not None
    with pytest.raises(RuntimeError, match=REFUSAL):
        pysyscall.fork_exec("/bin/true", ["true"])
    with pytest.raises(RuntimeError, match=REFUSAL):
        pysyscall.start_process("/bin/true", ["true"])


def test_auto_starts_without_the_fork_runner(no_leaks: None) -> None:
    pid = pysyscall.fork_exec("/bin/sh", ["sh", "-c", "exit 7"])
    assert pysyscall.wait4(pid)[1].exit_status() == 7


def test_bad_input_is_still_reported_first(no_leaks: None) -> None:
    with pytest.raises(ValueError, match="NUL"):
        pysyscall.fork_exec("/bin/tr\0ue", ["true"])


def test_planning_works() -> None:
    plan = pysyscall.exec_unix.child_program("/bin/true", ["true"], pysyscall.ProcAttr(dir="/"))
    assert [s.name for s in plan.steps][-2:] == ["close_range", "execve"]
    assert "chdir('/')" in str(plan)


def cli(*args: str, runner: str = "auto") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysyscall", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYSYSCALL_RUNNER": runner},
    )


def test_cli_run() -> None:
    assert cli("run", "--", "true").returncode == 0


def test_cli_forced_fork_runner_refuses_in_one_line() -> None:
    out = cli("run", "--", "true", runner="fork")
    assert out.returncode == 126
    assert out.stderr.count("\n") == 1 and REFUSAL in out.stderr


def test_cli_info_says_why() -> None:
    out = cli("info")
    assert out.returncode == 0
    assert f"runner fork: unavailable: {REFUSAL}" in out.stdout
