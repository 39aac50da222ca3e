"""Remembered starts (remembered.py): a request planned once, on every runner.

Each test counts the plans exec_unix makes while a runner (forced through
PYSYSCALL_RUNNER) starts real children, and checks what the children saw:
the plan is reused exactly when nothing it depends on changed.
"""

from __future__ import annotations

import ast
import errno
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_no_children, output_of, signal_set, skip_if_declined

import pysyscall
from pysyscall import ProcAttr, SysProcAttr, exec_unix, remembered
from pysyscall.plan import Credential

RUNNERS = ["fork", "spawn", "vfork"]


@pytest.fixture(params=RUNNERS)
def planned(request: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Forces the runner; counts the plans exec_unix makes; nothing remembered before."""
    skip_if_declined(request.param)
    monkeypatch.setenv("PYSYSCALL_RUNNER", request.param)
    monkeypatch.setattr(remembered, "_entries", {})
    made: list[Any] = []
    real = exec_unix.child_program

    def counting(*args: Any) -> Any:
        made.append(args)
        return real(*args)

    monkeypatch.setattr(exec_unix, "child_program", counting)
    return made


def true(attr: ProcAttr | None = None, *more: str) -> None:
    assert pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true", *more], attr))[1] == 0


def test_a_start_is_planned_once(planned: list[Any], tmp_path: Path, no_leaks: None) -> None:
    work = str(tmp_path)
    attr = ProcAttr(dir=work, files=[0, 1, 2], sys=SysProcAttr(setsid=True))
    for _ in range(3):
        true(attr)
    assert len(planned) == 1
    # Another argument, dir, env or setting: another plan.
    true(attr, "x")
    true(ProcAttr(dir="/", files=[0, 1, 2], sys=SysProcAttr(setsid=True)))
    true(ProcAttr(dir=work, env={"A": "1"}, files=[0, 1, 2]))
    true(ProcAttr(dir=work, sys=SysProcAttr(setpgid=True)))
    assert len(planned) == 5


def test_another_runner_another_plan(
    planned: list[Any], monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    true()
    true()
    monkeypatch.setenv("PYSYSCALL_RUNNER", "auto")
    true()
    assert len(planned) == 2


def test_a_remembered_start_follows_the_environment(
    planned: list[Any], monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    monkeypatch.setenv("PYSYSCALL_REMEMBERED", "one")
    assert b"PYSYSCALL_REMEMBERED=one\n" in output_of(["/usr/bin/env"])
    assert b"PYSYSCALL_REMEMBERED=one\n" in output_of(["/usr/bin/env"])
    monkeypatch.setenv("PYSYSCALL_REMEMBERED", "two")
    assert b"PYSYSCALL_REMEMBERED=two\n" in output_of(["/usr/bin/env"])
    os.putenv("PYSYSCALL_REMEMBERED", "three")  # behind os.environ's back
    try:
        assert b"PYSYSCALL_REMEMBERED=three\n" in output_of(["/usr/bin/env"])
    finally:
        os.putenv("PYSYSCALL_REMEMBERED", "two")
    # One plan: its copy of environ is taken again before each start.
    assert len(planned) == 1


def test_a_remembered_start_checks_its_fds_again(
    planned: list[Any], tmp_path: Path, no_leaks: None
) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    attr = ProcAttr(files=[0, 1, 2, fd])
    true(attr)
    os.close(fd)
    with pytest.raises(OSError) as info:
        true(attr)
    assert info.value.errno == errno.EBADF and f"files[3] is fd {fd}" in str(info.value)
    assert len(planned) == 1


def test_a_remembered_failure_is_the_same_error(planned: list[Any], no_leaks: None) -> None:
    for _ in range(3):
        with pytest.raises(FileNotFoundError) as info:
            true(ProcAttr(dir="/nonexistent/dir"))
        assert info.value.step == "chdir"  # type: ignore[attr-defined]
        assert info.value.filename == "/nonexistent/dir"
    true(ProcAttr(dir="/"))  # and a failure left nothing behind for the next start
    assert len(planned) == 2


def test_credentials_are_remembered(planned: list[Any], request: Any, no_leaks: None) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the remembered credentials are set for real (CI runs as root)")
    cred = SysProcAttr(credential=Credential(65534, 65534, [65534]))
    if request.node.callspec.params["planned"] == "spawn":
        with pytest.raises(RuntimeError, match=r"spawn: step .* posix_spawn has no equivalent"):
            true(ProcAttr(sys=cred))
        return
    for _ in range(2):
        status = own_status(cred)
        assert status["Uid"].split() == status["Gid"].split() == ["65534"] * 4
        assert status["Groups"].split() == ["65534"]
    other = SysProcAttr(credential=Credential(65534, 65534, [1]))
    assert own_status(other)["Groups"].split() == ["1"]
    assert len(planned) == 2


def test_what_is_not_remembered(planned: list[Any]) -> None:
    for attr in [
        ProcAttr(dir=Path("/")),  # a PathLike: not keyed
        ProcAttr(env={"A": Path("/")}),
    ]:
        for _ in range(2):
            true(attr)
    assert len(planned) == 4
    for _ in range(2):  # a bad request is refused each time, as a new plan refuses it
        with pytest.raises(TypeError, match=r"files\[2\] must be an fd"):
            true(ProcAttr(files=[0, 1, 2.0]))  # type: ignore[list-item]
    assert len(planned) == 6


def test_a_bool_never_finds_the_plan_of_an_int(planned: list[Any], request: Any) -> None:
    """False == 0 and True == 1, but only the ints are ids and a pgid: after a
    start with the int, the bool is still refused, each time, as planning
    refuses it (once the remembered start took it)."""
    bad_and_good = [
        (SysProcAttr(setpgid=True, pgid=False), SysProcAttr(setpgid=True, pgid=0), "pgid"),
        (
            SysProcAttr(credential=Credential(True, 0)),
            SysProcAttr(credential=Credential(1, 0)),
            "credential uid",
        ),
        (
            SysProcAttr(credential=Credential(0, 0, [True])),
            SysProcAttr(credential=Credential(0, 0, [1])),
            r"credential groups\[0\]",
        ),
    ]
    if os.geteuid() != 0:  # as nobody the kernel refuses uid 1 and setgroups
        bad_and_good = bad_and_good[:1]
    for bad, good, what in bad_and_good:
        if good.credential is not None and request.node.callspec.params["planned"] == "spawn":
            with pytest.raises(RuntimeError, match="posix_spawn has no equivalent"):
                true(ProcAttr(sys=good))
        else:
            true(ProcAttr(sys=good))
        for _ in range(2):
            with pytest.raises(TypeError, match=f"{what} must be an int"):
                true(ProcAttr(sys=bad))
    assert_no_children()


def test_a_remembered_start_follows_the_signal_handlers(
    planned: list[Any], request: Any, no_leaks: None
) -> None:
    """Planned while SIGPIPE is at default and SIGUSR1 caught; started again
    while SIGPIPE is ignored (Python's own ignore: reset in the child) and
    SIGUSR1 ignored (stays ignored), as a new plan would have it: the same
    plan where the child applies the rule (vfork, spawn), a new one where
    it resets the plan's list (fork: made again when the handlers change)."""
    previous = {
        signal.SIGPIPE: signal.signal(signal.SIGPIPE, signal.SIG_DFL),
        signal.SIGUSR1: signal.signal(signal.SIGUSR1, lambda *a: None),
    }
    try:
        assert signal_set(own_status(), "SigIgn") == set()
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        status = own_status()
        assert signal_set(status, "SigIgn") == {signal.SIGUSR1}
        assert signal_set(status, "SigCgt") == set()
        assert len(planned) == (2 if request.node.callspec.params["planned"] == "fork" else 1)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def own_status(sys: SysProcAttr | None = None) -> dict[str, str]:
    """/proc/self/status of a cat started through fork_exec."""
    text = output_of(["/bin/cat", "/proc/self/status"], sys=sys).decode()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_remembered_starts_are_bounded(planned: list[Any]) -> None:
    for i in range(remembered.SIZE + 5):
        true(None, str(i))
    assert len(remembered._entries) == remembered.SIZE
    assert ("true", "0") not in {key[3][1:] for key in remembered._entries}


def test_threads_never_share_a_plan(
    planned: list[Any], monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """As many threads as the pool holds start the same command at once: no
    two starts in flight share a plan, every child exits 0, and the plans
    made are few next to the starts (each thread that finds nothing
    remembered, or an empty pool, plans; how often depends on timing)."""
    in_use: set[int] = set()
    shared: list[int] = []
    real = exec_unix._start

    def watching(plan: Any, *args: Any, **kwargs: Any) -> Any:
        if id(plan) in in_use:
            shared.append(id(plan))
        in_use.add(id(plan))
        try:
            return real(plan, *args, **kwargs)
        finally:
            in_use.discard(id(plan))

    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                true(None, "threads")
        except BaseException as error:
            errors.append(error)

    monkeypatch.setattr(exec_unix, "_start", watching)
    threads = [threading.Thread(target=work) for _ in range(remembered.POOL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and shared == []
    starts = remembered.POOL * 25
    assert 1 <= len(planned) < starts // 4
    assert_no_children()


AFTER_FORK = """
import os, sys
sys.path.insert(0, sys.argv[1])
import pysyscall
from pysyscall import exec_unix
made = []
real = exec_unix.child_program
exec_unix.child_program = lambda *args: made.append(args) or real(*args)
def true():
    assert pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true"]))[1] == 0
true()
true()
pid = os.fork()
if pid == 0:
    try:
        true()
        true()
    finally:
        os._exit(len(made))
print(len(made), os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_after_os_fork_the_child_plans_again(planned: list[Any], request: Any) -> None:
    """In a fresh interpreter (os.fork of a threaded test process warns):
    planned once in the parent, once more in its os.fork child."""
    runner = request.node.callspec.params["planned"]
    package_parent = str(Path(pysyscall.__file__).resolve().parent.parent)
    env = dict(os.environ, PYSYSCALL_RUNNER=runner)
    done = subprocess.run(
        [sys.executable, "-c", AFTER_FORK, package_parent],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "2"]


def test_the_plan_cache_is_below_the_api() -> None:
    # One-way: exec_unix and compat keep their plans in remembered.py, which
    # imports neither (at its top or inside a function).
    source = Path(remembered.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported |= {node.module or "", *(alias.name for alias in node.names)}
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert not {"exec_unix", "compat", "pysyscall.exec_unix", "pysyscall.compat"} & imported
