"""Shared fixtures: a child that reports its own view, and leak checks."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

import pysyscall

CHILD_VIEW = str(Path(__file__).with_name("child_view.py"))

# How many times slower than a real machine this one runs: CI's aarch64
# guest (.ci/arm64-guest.sh, full-system emulation) sets it. The one test
# that counts starts over a stretch of time stretches it by this factor.
SLOWDOWN = float(os.environ.get("PYSYSCALL_TEST_SLOWDOWN", "1"))

if os.environ.get("PYSYSCALL_TEST_INSTALLED"):
    # CI runs the suite against the installed wheel, from outside the checkout.
    assert "site-packages" in pysyscall.__file__, pysyscall.__file__


def open_fds() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"))


def assert_no_children() -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@pytest.fixture
def no_leaks() -> Any:
    """Fails the test if it leaves an fd open or a child unreaped."""
    before = open_fds()
    yield
    assert open_fds() == before
    assert_no_children()


@pytest.fixture
def child_view(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Start tests/child_view.py through fork_exec; return what it saw of itself."""

    def run(attr: pysyscall.ProcAttr | None = None, report: Path | None = None) -> dict[str, Any]:
        report = report or tmp_path / "view.json"
        argv = [sys.executable, "-I", "-S", CHILD_VIEW, str(report)]
        pid = pysyscall.fork_exec(sys.executable, argv, attr)
        wpid, status = pysyscall.wait4(pid)
        assert wpid == pid
        assert status.exited() and status.exit_status() == 0, status
        view: dict[str, Any] = json.loads(report.read_text())
        view["started_pid"] = pid
        return view

    return run


def output_of(argv: list[str], **attr: Any) -> bytes:
    """Run argv with a pipe as fd 1; return what it wrote; expect exit 0.

    ``files`` may name the pipe's write end as "w" (default [0, "w", 2]).
    """
    r, w = os.pipe()
    try:
        files = [w if f == "w" else f for f in attr.pop("files", [0, "w", 2])]
        pid = pysyscall.fork_exec(argv[0], argv, pysyscall.ProcAttr(files=files, **attr))
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = pysyscall.wait4(pid)
    assert status.exited() and status.exit_status() == 0, (status, data)
    return data


def signal_set(status: dict[str, str], field: str) -> set[int]:
    """The signals in a /proc/self/status mask such as SigBlk."""
    mask = int(status[field], 16)
    return {n + 1 for n in range(64) if mask >> n & 1}
