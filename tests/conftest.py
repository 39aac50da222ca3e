"""Shared fixtures: a child that reports its own view, and leak checks."""

from __future__ import annotations

import contextlib
import copy
import errno
import json
import os
import re
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
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


def _threads_refused() -> str | None:
    try:
        thread = threading.Thread(target=int)
        thread.start()
    except RuntimeError as error:
        # glibc 2.34+ makes threads with clone3 and falls back to clone only
        # on ENOSYS: a seccomp profile answering EPERM (Docker's before
        # 20.10; tests/seccomp_profile.py docker-19.03) leaves no threads.
        return f"this sandbox refuses threads ({error}): clone3 refused, no fallback"
    thread.join()
    return None


THREADS_REFUSED = _threads_refused()


@pytest.fixture(autouse=True)
def threads_or_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no thread can start here, a test that starts one is skipped, saying why."""
    if THREADS_REFUSED is not None:
        reason = THREADS_REFUSED

        def start(self: threading.Thread) -> None:
            pytest.skip(reason)

        monkeypatch.setattr(threading.Thread, "start", start)


def runner_declines(name: str) -> str | None:
    """Why runner ``name`` cannot start a plain exec_unix plan here, or None.

    Not only the machine: on glibc before 2.34 the spawn runner declines every
    such plan (no posix_spawn_file_actions_addclosefrom_np for the sweep of
    the unlisted fds); tests/test_glibc.py checks that it says so.
    """
    from pysyscall import exec_unix, runners

    (module,) = [r for r in runners.RUNNERS if name == r.NAME]
    reason: str | None = module.unavailable()
    if reason is None:
        reason = module.unavailable(exec_unix.child_program("/bin/true", ["true"]))
    return reason


_DECLINES: dict[str, str | None] = {}


@pytest.fixture(autouse=True)
def runner_param_runs_here(request: pytest.FixtureRequest) -> None:
    """A test made for one runner (a ``runner`` parameter naming it) skips
    where that runner declines exec_unix's plans here, saying why (the spawn
    runner on glibc before 2.34, or under a clone3-refusing sandbox)."""
    callspec = getattr(request.node, "callspec", None)
    name = callspec.params.get("runner") if callspec is not None else None
    if name in ("vfork", "spawn", "fork"):
        if name not in _DECLINES:
            _DECLINES[name] = runner_declines(name)
        if _DECLINES[name] is not None:
            pytest.skip(f"the {name} runner declines here: {_DECLINES[name]}")


@contextlib.contextmanager
def runner_starts() -> Iterator[list[str]]:
    """The runners that started a child while the block ran, one name a start.

    The spies: each runner's fork_and_exec_in_child, through which every
    start of pysyscall's goes (a new plan's, a remembered one's, compat's),
    and the vfork runner's start_kept (a kept plan's one chain), when it
    starts. A start that leaves no name here did not go through pysyscall:
    compat handing its request to the native _posixsubprocess.fork_exec
    would not.
    """
    from pysyscall import runners

    ran: list[str] = []
    saved = [
        (module, attribute, getattr(module, attribute))
        for module in runners.RUNNERS
        for attribute in ("fork_and_exec_in_child", "start_kept")
        if hasattr(module, attribute)
    ]
    for module, attribute, real in saved:

        def spy(*args: Any, real: Any = real, name: str = module.NAME) -> Any:
            ran.append(name)
            return real(*args)

        def kept_spy(*args: Any, real: Any = real, name: str = module.NAME) -> Any:
            started = real(*args)
            if started:
                ran.append(name)
            return started

        setattr(module, attribute, kept_spy if attribute == "start_kept" else spy)
    try:
        yield ran
    finally:
        for module, attribute, real in saved:
            setattr(module, attribute, real)


RUNNER_NAMES = ("vfork", "spawn", "fork")


class Runner:
    """The runner a behaviour test runs on (the ``runner`` fixture)."""

    def __init__(self, name: str, ran: list[str]) -> None:
        self.name = name
        self.ran = ran  # runner_starts(): the runners that started a child so far

    def runs(self, argv0: str, argv: list[str], attr: pysyscall.ProcAttr | None = None) -> None:
        """Skip, saying why, where this runner refuses the plan of this start
        (posix_spawn has no step for most SysProcAttr fields)."""
        from pysyscall import exec_unix, runners

        (module,) = [r for r in runners.RUNNERS if self.name == r.NAME]
        reason = module.unavailable(exec_unix.child_program(argv0, argv, attr))
        if reason is not None:
            pytest.skip(f"the {self.name} runner refuses this plan: {reason}")


@pytest.fixture(params=RUNNER_NAMES)
def runner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    """A behaviour test, once per runner: PYSYSCALL_RUNNER forces it.

    Where the runner declines every plan here, runner_param_runs_here has
    skipped the test, saying why. At the end, every start the test made
    must have gone through this runner, and at least one did.
    """
    name: str = request.param
    monkeypatch.setenv("PYSYSCALL_RUNNER", name)
    with runner_starts() as ran:
        yield Runner(name, ran)
    if request.node.stash.get(_PASSED, False):
        assert ran and set(ran) == {name}, f"the starts went through {ran}, not {name}"


_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Whether the test itself passed, for the ``runner`` fixture's check at teardown."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[_PASSED] = report.passed


def skip_if_declined(name: str) -> None:
    """Skip a test of runner ``name`` where it cannot start exec_unix's plans here."""
    reason = runner_declines(name)
    if reason is not None:
        pytest.skip(f"the {name} runner declines here: {reason}")


# Waiting, reading and reaping, each with a deadline.

TIMEOUT = 60.0  # seconds: the most any single wait in a test may take


def read_all(fd: int, timeout: float = TIMEOUT) -> bytes:
    """Read ``fd`` to EOF; fail if that takes longer than ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            pytest.fail(f"no EOF on fd {fd} within {timeout} s; got {b''.join(chunks)!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def kill_and_reap(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        pysyscall.wait4(pid)


def reap(pid: int, timeout: float = TIMEOUT) -> pysyscall.WaitStatus:
    """wait4 for our child ``pid``; kill it and fail if it runs past ``timeout``.

    Waits on a pidfd where the kernel has pidfd_open (5.3+), else polls
    waitpid(WNOHANG): the runner tests also run under old kernels' seccomp
    profiles (.ci/run).
    """
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as error:
        if error.errno != errno.ENOSYS:
            raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wpid, status = os.waitpid(pid, os.WNOHANG)
            if wpid == pid:
                return pysyscall.WaitStatus(status)
            time.sleep(0.01)
        kill_and_reap(pid)
        pytest.fail(f"child {pid} still running after {timeout} s")
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            kill_and_reap(pid)
            pytest.fail(f"child {pid} still running after {timeout} s")
    finally:
        os.close(pidfd)
    wpid, status = pysyscall.wait4(pid)
    assert wpid == pid
    return status


# sh that traps SIGNUM: says "ready" on fd 3 once the trap is set, then
# reports on fd 4 whether the signal came before a 60 s sleep ran out.
TRAP = (
    "trap 'echo got >&4; kill $! 2>/dev/null; exit 0' {signum}\n"
    "sleep 60 3>&- 4>&- &\n"
    "echo ready >&3\n"
    "exec 3>&-\n"
    "wait\n"
    "echo none >&4\n"
)


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


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


def kernel_has(feature: str) -> None:
    """Skip the test where this kernel (or its seccomp profile) refuses ``feature``.

    The feature is one linux.kernel_lacks probes; tests/test_reach.py checks
    the error a start raises there.
    """
    from pysyscall import linux

    code = linux.kernel_lacks(feature)
    if code:
        name = errno.errorcode.get(code, str(code))
        pytest.skip(f"the kernel refuses {linux.KERNEL_FEATURES[feature]} ({name})")


def vfork_clone(clone3: bool = False) -> str:
    """How a vfork start's clone is named in its error: clone3 with
    CLONE_CLEAR_SIGHAND where the kernel has it (runner_vfork.clears_handlers)."""
    from pysyscall import linux

    if linux.kernel_lacks("clone_clear_sighand"):
        return f"clone{'3' if clone3 else ''}(CLONE_VM|CLONE_VFORK)"
    return "clone3(CLONE_VM|CLONE_VFORK|CLONE_CLEAR_SIGHAND)"


@pytest.fixture(params=["CLONE_CLEAR_SIGHAND", "rule"])
def handlers_cleared(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[bool]:
    """Both ways a vfork child resets the caught handlers; True: the kernel's.

    CLONE_CLEAR_SIGHAND (clone3, Linux 5.5+: skipped where the kernel
    refuses it), or the routine's signal rule, one rt_sigaction or more per
    signal, which a kernel without it gets: here as if linux.kernel_lacks
    had found none. Plans remembered before and during the test are
    forgotten, so that each start plans (and clones) the way asked for.
    """
    from pysyscall import linux, remembered

    if request.param == "CLONE_CLEAR_SIGHAND":
        kernel_has("clone_clear_sighand")
    else:
        monkeypatch.setitem(linux._lacks, "clone_clear_sighand", errno.ENOSYS)
    remembered.forget()
    yield request.param == "CLONE_CLEAR_SIGHAND"
    remembered.forget()


# The calls of the vfork routine's cloexec_range fallbacks (linux.mark_cloexec,
# kernels before 5.11): the /proc/self/fd walk, the walk up to the fd limit.
FALLBACK = re.compile(
    r'^(openat\(AT_FDCWD, "/proc/self/fd", |getdents64\(|fcntl\(\d+, F_SETFD, FD_CLOEXEC\)'
    r"|close\(\d+\)|prlimit64\(0, RLIMIT_NOFILE, NULL, )"
)


def without_fallback(calls: list[str]) -> list[str]:
    """strace lines with cloexec_range's fallback (after a failed close_range) left out."""
    kept: list[str] = []
    falling_back = False
    for call in calls:
        if falling_back and FALLBACK.match(call):
            continue
        falling_back = call.startswith("close_range(") and "= -1 " in call
        kept.append(call)
    return kept


def replaced(record: Any, **changes: Any) -> Any:
    """A copy of a plan.Record (a Step, a Plan, a Library) with ``changes`` made."""
    new = copy.copy(record)
    for name, value in changes.items():
        setattr(new, name, value)
    return new
