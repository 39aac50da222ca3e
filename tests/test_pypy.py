"""PyPy: what cannot work there refuses, clearly, and the rest works.

PyPy's ctypes is itself Python code, so the fork runner, whose child must
run no Python between fork and execve, refuses there. Importing, planning,
the locks and the darwin plans still work (tests/test_forkpipe.py and
tests/test_darwin.py run on PyPy too, in CI). On CPython the same refusal
is tested by faking the implementation name
(test_exec_unix.py::test_refuses_where_ctypes_runs_python).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pysyscall
from pysyscall import runner_fork

pytestmark = pytest.mark.skipif(
    sys.implementation.name != "pypy", reason="checks PyPy's refusal; CPython starts processes"
)

REFUSAL = "the fork runner needs CPython; on pypy ctypes itself runs Python code"


def test_start_refuses_and_leaks_nothing(no_leaks: None) -> None:
    assert runner_fork.unavailable() is not None
    with pytest.raises(RuntimeError, match=REFUSAL):
        pysyscall.fork_exec("/bin/true", ["true"])
    with pytest.raises(RuntimeError, match=REFUSAL):
        pysyscall.start_process("/bin/true", ["true"])


def test_bad_input_is_still_reported_first(no_leaks: None) -> None:
    with pytest.raises(ValueError, match="NUL"):
        pysyscall.fork_exec("/bin/tr\0ue", ["true"])


def test_planning_works() -> None:
    plan = pysyscall.exec_unix.child_program("/bin/true", ["true"], pysyscall.ProcAttr(dir="/"))
    assert [s.name for s in plan.steps][-2:] == ["close_range", "execve"]
    assert "chdir('/')" in str(plan)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysyscall", *args], capture_output=True, text=True, timeout=60
    )


def test_cli_run_refuses_in_one_line() -> None:
    out = cli("run", "--", "true")
    assert out.returncode == 126
    assert out.stderr.count("\n") == 1 and REFUSAL in out.stderr


def test_cli_info_says_why() -> None:
    out = cli("info")
    assert out.returncode == 0
    assert f"runner fork: unavailable: {REFUSAL}" in out.stdout


def test_no_child_was_ever_started() -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)
