"""What a child gets, the same on every runner: one suite, run once per runner.

Each test takes the ``runner`` fixture (conftest.py): it runs with
PYSYSCALL_RUNNER naming each of vfork, spawn and fork in turn, and checks,
besides what the child saw of itself, that every start went through that
runner (a spy on each runner's fork_and_exec_in_child). A runner that
declines here, or refuses a test's plan, skips saying why. Each runner's
internals (the vfork table and its listing, spawn's translation, the fork
runner's C chain) are tested in its own file; tests/test_sysprocattr.py
runs its fields' tests over every runner the same way where they are
cheap. Each test names the Go test it ports, where there is one
(src/syscall/exec_unix_test.go, src/os/exec/exec_test.go).
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import (
    CHILD_VIEW,
    RUNNER_NAMES,
    THREADS_REFUSED,
    TIMEOUT,
    TRAP,
    Runner,
    kernel_has,
    read_all,
    reap,
    runner_declines,
    signal_set,
)
from conftest import output_of as shared_output_of

import pysyscall
from pysyscall import ProcAttr, SysProcAttr


def view(runner: Runner, tmp_path: Path, attr: ProcAttr | None = None) -> dict[str, Any]:
    """What tests/child_view.py saw of itself, started through ``runner``."""
    report = tmp_path / "view.json"
    argv = [sys.executable, "-I", "-S", CHILD_VIEW, str(report)]
    pid = pysyscall.fork_exec(sys.executable, argv, attr)
    wpid, status = pysyscall.wait4(pid)
    assert wpid == pid and status.exited() and status.exit_status() == 0, status
    assert runner.ran == [runner.name]
    result: dict[str, Any] = json.loads(report.read_text())
    result["started_pid"] = pid
    return result


def output_of(runner: Runner, argv: list[str], **attr: Any) -> bytes:
    """conftest's output_of, checking which runner ran."""
    data = shared_output_of(argv, **attr)
    assert runner.ran == [runner.name]
    return data


def status_of(runner: Runner) -> dict[str, str]:
    text = output_of(runner, ["/bin/cat", "/proc/self/status"]).decode()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


# --- the child's view ------------------------------------------------------------


def full_machine() -> str | None:
    """Why this machine is not one where every runner must run a plain plan,
    judged without asking the runners (their own unavailable() decides the
    skips of the runner tests: a runner declining by mistake would turn its
    tests into skips)."""
    import platform

    glibc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    version = tuple(int(part) for part in glibc.split()[-1].split(".")[:2]) if glibc else ()
    seccomp = [line for line in Path("/proc/self/status").read_text().splitlines()
               if line.startswith("Seccomp:")]  # fmt: skip
    if sys.implementation.name != "cpython":
        return f"{sys.implementation.name}: the fork runner needs CPython"
    if platform.machine() not in ("x86_64", "aarch64"):
        return f"{platform.machine()}: no vfork routine"
    if version < (2, 34):
        return f"{glibc or 'no glibc'}: posix_spawn has no closefrom file action before 2.34"
    if seccomp and seccomp[0].split()[1] != "0":
        return "a seccomp filter (tests/seccomp_profile.py) may refuse what a runner needs"
    return None


def test_every_runner_runs_plain_plans_on_a_full_machine() -> None:
    """CPython, glibc 2.34+, x86-64 or aarch64, no seccomp filter: no runner
    declines a plain plan, so none of the runner tests skip here."""
    why = full_machine()
    if why is not None:
        pytest.skip(f"not a full machine: {why} (tests/test_reach.py covers those)")
    declines = {name: runner_declines(name) for name in RUNNER_NAMES}
    assert declines == dict.fromkeys(RUNNER_NAMES), declines


def test_plain_start(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """Port of TestZeroSysProcAttr: a new pid, in the parent's process group
    and session; the parent's fds 0, 1, 2 and nothing else; its cwd."""
    seen = view(runner, tmp_path)
    assert seen["pid"] == seen["started_pid"] != os.getpid()
    assert seen["ppid"] == os.getpid()
    assert (seen["pgid"], seen["sid"]) == (os.getpgid(0), os.getsid(0))
    assert sorted(seen["fds"], key=int) == ["0", "1", "2"]
    for fd in ("0", "1", "2"):
        assert seen["fds"][fd]["target"] == os.readlink(f"/proc/self/fd/{fd}")
    assert seen["cwd"] == os.getcwd()


def test_setsid_and_dir(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    work = tmp_path / "work"
    work.mkdir()
    seen = view(runner, tmp_path, ProcAttr(dir=work, sys=SysProcAttr(setsid=True)))
    assert seen["sid"] == seen["pid"] == seen["pgid"]
    assert seen["cwd"] == str(work)


def test_setpgid(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """Port of TestSetpgid: the child leads a new process group."""
    seen = view(runner, tmp_path, ProcAttr(sys=SysProcAttr(setpgid=True)))
    assert seen["pgid"] == seen["pid"] != os.getpgid(0)


def test_join_a_group(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """Port of TestPgid: a second child joins the first child's group."""
    r, w = os.pipe()
    leader = pysyscall.fork_exec(
        "/bin/cat", ["cat"], ProcAttr(files=[r, 1, 2], sys=SysProcAttr(setpgid=True))
    )
    os.close(r)
    runner.ran.clear()
    try:
        seen = view(runner, tmp_path, ProcAttr(sys=SysProcAttr(setpgid=True, pgid=leader)))
        assert seen["pgid"] == leader != seen["pid"]
    finally:
        os.close(w)
        assert pysyscall.wait4(leader)[1].exit_status() == 0


def test_environment(runner: Runner, monkeypatch: pytest.MonkeyPatch, no_leaks: None) -> None:
    # /usr/bin/env, not Python: the interpreter adds LC_CTYPE itself (PEP 538).
    env = {"A": "1", "B": "two words", "EMPTY": "", "ODD": "=x\t"}
    out = output_of(runner, ["/usr/bin/env", "-0"], env=env)
    assert out.split(b"\0")[:-1] == [b"A=1", b"B=two words", b"EMPTY=", b"ODD==x\t"]
    runner.ran.clear()
    out = output_of(runner, ["/usr/bin/env", "-0"], env=["K=v", b"L=w"])
    assert out.split(b"\0")[:-1] == [b"K=v", b"L=w"]
    runner.ran.clear()
    assert output_of(runner, ["/usr/bin/env", "-0"], env={}) == b""
    runner.ran.clear()
    monkeypatch.setenv("PYSYSCALL_SPAWN_TEST", "inherited")
    out = output_of(runner, ["/usr/bin/env", "-0"])
    # env=None: what a native child gets, the C library's environ, in its order.
    native = subprocess.run(["/usr/bin/env", "-0"], capture_output=True, check=True).stdout
    assert out == native and b"PYSYSCALL_SPAWN_TEST=inherited\0" in out
    runner.ran.clear()
    monkeypatch.setenv("PYSYSCALL_SPAWN_TEST", "changed")  # a kept plan takes environ again
    assert b"PYSYSCALL_SPAWN_TEST=changed" in output_of(runner, ["/usr/bin/env", "-0"])


def test_putenv_and_unsetenv_reach_the_child(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """env=None is the C library's environ: os.putenv and os.unsetenv count, as natively."""
    monkeypatch.setenv("PYSYSCALL_UNSET_TEST", "in os.environ only, after unsetenv")
    monkeypatch.setattr(os, "environ", os.environ)  # restored (and unset) at teardown
    argv = ["/usr/bin/env", "-0"]
    for start in range(2):  # a new plan, then the remembered one
        os.putenv("PYSYSCALL_PUTENV_TEST", f"start {start}")
        os.unsetenv("PYSYSCALL_UNSET_TEST")
        try:
            runner.ran.clear()
            entries = output_of(runner, argv).split(b"\0")
        finally:
            os.unsetenv("PYSYSCALL_PUTENV_TEST")
        assert f"PYSYSCALL_PUTENV_TEST=start {start}".encode() in entries
        assert not [e for e in entries if e.startswith(b"PYSYSCALL_UNSET_TEST=")]
        assert "PYSYSCALL_PUTENV_TEST" not in os.environ and "PYSYSCALL_UNSET_TEST" in os.environ
    runner.ran.clear()
    assert b"PYSYSCALL_PUTENV_TEST" not in output_of(runner, argv)


def test_setenv_in_another_thread_during_starts(runner: Runner, no_leaks: None) -> None:
    """Another thread's setenv moves environ while starts run with the GIL released.

    glibc's setenv reallocs environ to grow it, freeing the old array; a
    child handed ``environ`` itself (or the array it pointed to when the
    plan was made) would read freed memory: execve fails with EFAULT, or
    the child gets garbage. Measured with such a stand-in for the plan's
    copy: every start here failed. The names repeat, so glibc's kept
    strings do not pile up.
    """
    names = [f"PYSYSCALL_CHURN_{i}" for i in range(50)]
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            for name in names:
                os.putenv(name, "x" * 100)
            for name in names:
                os.unsetenv(name)

    os.environ["PYSYSCALL_MARKER"] = "present"
    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(100):
            runner.ran.clear()
            assert b"PYSYSCALL_MARKER=present\0" in output_of(runner, ["/usr/bin/env", "-0"])
    finally:
        stop.set()
        thread.join()
        del os.environ["PYSYSCALL_MARKER"]


def test_environ_outgrowing_a_kept_plan(runner: Runner, no_leaks: None) -> None:
    """More variables than a remembered plan's copy has room for: a new plan, all of them."""
    argv = ["/usr/bin/env", "-0"]
    output_of(runner, argv)  # planned and kept
    names = [f"PYSYSCALL_GROW_{i}" for i in range(3 * len(os.environ) + 100)]
    for name in names:
        os.putenv(name, "x")
    try:
        runner.ran.clear()
        entries = set(output_of(runner, argv).split(b"\0"))
    finally:
        for name in names:
            os.unsetenv(name)
    assert {f"{name}=x".encode() for name in names} <= entries


def test_fd_passes(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """Go's two passes: files[i] < i, files[i] == i, duplicates, holes; an
    inheritable fd not listed is not inherited."""
    paths = [tmp_path / f"f{i}" for i in range(3)]
    opened = []
    for path in paths:
        path.touch()
        opened.append(os.open(path, os.O_RDONLY))
    a, b, c = opened
    inheritable = os.open(tmp_path, os.O_RDONLY)
    os.set_inheritable(inheritable, True)
    try:
        seen = view(runner, tmp_path, ProcAttr(files=[0, 1, 2, c, b, -1, a, 1, None, a]))
    finally:
        for fd in [*opened, inheritable]:
            os.close(fd)
    fds = seen["fds"]
    assert sorted(fds, key=int) == ["0", "1", "2", "3", "4", "6", "7", "9"]
    assert fds["3"]["target"] == str(paths[2]) and fds["4"]["target"] == str(paths[1])
    assert fds["6"]["target"] == fds["9"]["target"] == str(paths[0])
    assert fds["7"]["target"] == os.readlink("/proc/self/fd/1")
    assert all(fd["inheritable"] for fd in fds.values())


def test_fd_moved_down(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """files[i] < i: pass 1 must save fd files[i] before pass 2 overwrites it."""
    path = tmp_path / "f"
    path.touch()
    fd = os.open(path, os.O_RDONLY)
    try:
        fds = view(runner, tmp_path, ProcAttr(files=[0, fd, 2, 1, fd]))["fds"]
    finally:
        os.close(fd)
    assert fds["1"]["target"] == fds["4"]["target"] == str(path)
    assert fds["3"]["target"] == os.readlink("/proc/self/fd/1")
    assert sorted(fds, key=int) == ["0", "1", "2", "3", "4"]


def test_extra_files(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """Port of TestExtraFiles: the file at fd 3, and nothing else above 2.

    Inheritable fds not listed would leak into the child, as in Go: this test
    opens only close-on-exec ones (every fd Python makes).
    """
    path = tmp_path / "extra"
    path.write_text("x")
    extra = os.open(path, os.O_RDONLY)
    others = [os.open(path, os.O_RDONLY) for _ in range(3)]
    try:
        fds = view(runner, tmp_path, ProcAttr(files=[0, 1, 2, extra]))["fds"]
    finally:
        for fd in [extra, *others]:
            os.close(fd)
    assert sorted(fds, key=int) == ["0", "1", "2", "3"]
    assert fds["3"]["target"] == str(path)
    assert fds["3"]["inheritable"]


def test_none_in_files_closes(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    fds = view(runner, tmp_path, ProcAttr(files=[0, 1, 2, None, 1]))["fds"]
    assert sorted(fds, key=int) == ["0", "1", "2", "4"]


def test_status_pipe_moved_above_high_fds(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """A file at a high fd number: the status pipe must stay clear of the shuffle."""
    high = os.dup2(1, 60, inheritable=False)
    try:
        seen = view(runner, tmp_path, ProcAttr(files=[0, 1, 2, -1, -1, high]))
    finally:
        os.close(high)
    assert sorted(seen["fds"], key=int) == ["0", "1", "2", "5"]


def free_fd(low: int) -> int:
    fd = low
    while True:
        try:
            os.fstat(fd)
        except OSError:
            return fd
        fd += 1


def test_close_on_exec_fd_passed_at_its_own_number(
    runner: Runner, tmp_path: Path, no_leaks: None
) -> None:
    """files[i] == i with FD_CLOEXEC set: the fork runner's fcntl(i, F_SETFD, 0),
    posix_spawn's adddup2(i, i) (glibc 2.29+ clears FD_CLOEXEC there)."""
    source = os.open(tmp_path, os.O_RDONLY)
    n = free_fd(max(5, source + 1))
    os.dup2(source, n, inheritable=False)
    os.close(source)
    try:
        fds = view(runner, tmp_path, ProcAttr(files=[0, 1, 2] + [-1] * (n - 3) + [n]))["fds"]
    finally:
        os.close(n)
    assert sorted(fds, key=int) == ["0", "1", "2", str(n)]
    assert fds[str(n)] == {"target": str(tmp_path), "inheritable": True}


def test_fewer_than_three_files(runner: Runner, no_leaks: None) -> None:
    """Go closes child fds len(files)..2: here stdout is fd 0, 1 and 2 closed."""
    r, w = os.pipe()
    script = (
        "import os\n"
        "for fd in (1, 2):\n"
        "    try: os.fstat(fd); os.write(0, b'open')\n"
        "    except OSError: os.write(0, b'closed')\n"
    )
    argv = [sys.executable, "-I", "-S", "-c", script]
    try:
        pid = pysyscall.fork_exec(sys.executable, argv, ProcAttr(files=[w]))
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        assert f.read() == b"closedclosed"
    assert pysyscall.wait4(pid)[1].exit_status() == 0
    assert runner.ran == [runner.name]


def test_unlisted_inheritable_fds_are_not_inherited(
    runner: Runner, tmp_path: Path, no_leaks: None
) -> None:
    """Unlike Go, and like subprocess's close_fds=True: only the files listed."""
    fd = os.open(tmp_path, os.O_RDONLY)
    os.set_inheritable(fd, True)
    high = os.dup2(fd, 100)
    try:
        fds = view(runner, tmp_path, ProcAttr(files=[0, 1, 2, fd]))["fds"]
    finally:
        os.close(fd)
        os.close(high)
    assert sorted(fds, key=int) == ["0", "1", "2", "3"]


def test_signal_mask_is_the_callers(runner: Runner, no_leaks: None) -> None:
    """The child starts with the starting thread's mask (Go restores it before
    exec), which the start leaves as it was; none blocked, none in the child."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGWINCH})
    try:
        status = status_of(runner)
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == {signal.SIGUSR2, signal.SIGWINCH}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    assert signal_set(status, "SigBlk") == {signal.SIGUSR2, signal.SIGWINCH}
    runner.ran.clear()
    assert signal_set(status_of(runner), "SigBlk") == set()


def test_signal_dispositions(runner: Runner, no_leaks: None) -> None:
    """Caught: default. Ignored: still ignored, but SIGPIPE and SIGXFSZ, which
    Python itself ignores (subprocess's restore_signals, and Go's child, give
    them back at default). And glibc's internal signals (32, 33), which its
    posix_spawn child would leave ignored across execve unless they are in
    sigdefault: default."""
    rt = signal.SIGRTMIN + 2
    previous = {
        signal.SIGUSR1: signal.signal(signal.SIGUSR1, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *a: None),
        rt: signal.signal(rt, lambda *a: None),
    }
    try:
        assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN
        status = status_of(runner)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert signal_set(status, "SigIgn") == {signal.SIGUSR1}
    assert signal_set(status, "SigCgt") == set()


def test_threads_spawning(runner: Runner, no_leaks: None) -> None:
    results: list[int] = []

    def spawn() -> None:
        for _ in range(10):
            pid = pysyscall.fork_exec("/bin/true", ["true"])
            results.append(pysyscall.wait4(pid)[1].exit_status())

    threads = [threading.Thread(target=spawn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0] * 40
    assert set(runner.ran) == {runner.name}


# --- SysProcAttr fields that need no root (tests/test_sysprocattr.py has the rest)


@pytest.mark.parametrize(
    "signum",
    [
        signal.SIGUSR1,
        # Python has no Signals member for it: it used to be refused.
        signal.SIGRTMIN + 1,
    ],
    ids=["SIGUSR1", "SIGRTMIN+1"],
)
def test_pdeathsig_thread_exits(runner: Runner, signum: int, no_leaks: None) -> None:
    """The death signal follows the starting *thread*: the one that forked (go.dev/issue/27505).

    A thread starts the child, waits until its trap is set, and exits; this
    process lives on, yet the child gets the signal.
    """
    runner.runs("/bin/sh", ["sh"], ProcAttr(sys=SysProcAttr(pdeathsig=signum)))
    if THREADS_REFUSED:  # before the pipes, which the thread would close
        pytest.skip(THREADS_REFUSED)
    ready_r, ready_w = os.pipe()
    report_r, report_w = os.pipe()
    started: list[int] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            attr = ProcAttr(files=[0, 1, 2, ready_w, report_w], sys=SysProcAttr(pdeathsig=signum))
            started.append(
                pysyscall.fork_exec("/bin/sh", ["sh", "-c", TRAP.format(signum=signum)], attr)
            )
        except BaseException as e:
            errors.append(e)
        finally:
            os.close(ready_w)
            os.close(report_w)
        if started:
            started.append(len(read_all(ready_r)))

    thread = threading.Thread(target=start)
    try:
        thread.start()
        thread.join(TIMEOUT)
        assert not thread.is_alive()
        if errors:
            raise errors[0]
        assert started[1] == len(b"ready\n")
        assert read_all(report_r) == b"got\n"
        assert reap(started[0]).exit_status() == 0
    finally:
        os.close(ready_r)
        os.close(report_r)


def test_pidfd(runner: Runner, no_leaks: None) -> None:
    """start_process's pidfd: this child's (fdinfo), close-on-exec, polls
    readable once the child exits; waitid(P_PIDFD) reaps it."""
    kernel_has("pidfd")
    runner.runs("/bin/cat", ["cat"], ProcAttr(sys=SysProcAttr(pidfd=True)))
    r, w = os.pipe()
    try:
        pid, pidfd = pysyscall.start_process(
            "/bin/cat", ["cat"], ProcAttr(files=[r, 1, 2], sys=SysProcAttr(pidfd=True))
        )
    finally:
        os.close(r)
    try:
        assert pidfd >= 0
        assert f"Pid:\t{pid}\n" in Path(f"/proc/self/fdinfo/{pidfd}").read_text()
        assert not os.get_inheritable(pidfd)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        assert not poller.poll(0)  # running
        os.close(w)
        assert poller.poll(TIMEOUT * 1000)  # readable once it has exited
        result = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    finally:
        os.close(pidfd)
    assert result is not None
    assert (result.si_pid, result.si_code, result.si_status) == (pid, os.CLD_EXITED, 0)


def test_pidfd_closed_on_failure(runner: Runner, no_leaks: None) -> None:
    """go.dev/issue/69284: a start that fails leaves no pidfd open (no_leaks)."""
    kernel_has("pidfd")
    runner.runs("/nonexistent/x", ["x"], ProcAttr(sys=SysProcAttr(pidfd=True)))
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.start_process("/nonexistent/x", ["x"], ProcAttr(sys=SysProcAttr(pidfd=True)))
    assert info.value.errno == errno.ENOENT
    assert info.value.step == "execve"  # type: ignore[attr-defined]


# --- errors: each the right OSError subclass, naming the step and the path -------


def test_missing_program(runner: Runner, no_leaks: None) -> None:
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("/nonexistent/program", ["program"])
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == "/nonexistent/program"
    assert info.value.step == "execve"  # type: ignore[attr-defined]
    assert "execve" in str(info.value)
    assert runner.ran == [runner.name]


def test_missing_program_in_a_dir(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """The directory is fine, the program (relative to it) is not: execve's."""
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("./missing", ["missing"], ProcAttr(dir=tmp_path))
    assert info.value.filename == "./missing"
    assert info.value.step == "execve"  # type: ignore[attr-defined]


def test_not_executable(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    path = tmp_path / "data"
    path.write_text("just data\n")
    with pytest.raises(PermissionError) as info:
        pysyscall.fork_exec(str(path), ["data"])
    assert (info.value.errno, info.value.filename) == (errno.EACCES, str(path))
    assert info.value.step == "execve"  # type: ignore[attr-defined]


def test_not_a_binary(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(b"\x00\x01\x02\x03 not an executable format")
    path.chmod(0o755)
    with pytest.raises(OSError) as info:
        pysyscall.fork_exec(str(path), ["garbage"])
    assert info.value.errno == errno.ENOEXEC
    assert info.value.step == "execve"  # type: ignore[attr-defined]


def test_missing_dir(runner: Runner, no_leaks: None) -> None:
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(dir="/nonexistent/dir"))
    assert (info.value.errno, info.value.filename) == (errno.ENOENT, "/nonexistent/dir")
    assert info.value.step == "chdir"  # type: ignore[attr-defined]
    assert "chdir" in str(info.value)
    assert runner.ran == [runner.name]


def test_dir_not_a_directory(runner: Runner, no_leaks: None) -> None:
    with pytest.raises(NotADirectoryError) as info:
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(dir="/etc/passwd"))
    assert info.value.filename == "/etc/passwd"
    assert info.value.step == "chdir"  # type: ignore[attr-defined]


def test_setpgid_refused(runner: Runner, no_leaks: None) -> None:
    with pytest.raises(PermissionError) as info:
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(setpgid=True, pgid=1)))
    assert info.value.step == "setpgid"  # type: ignore[attr-defined]


def test_no_start_leaves_anything_behind(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """Failures of every kind in a row: no fd, no zombie (no_leaks)."""
    data = tmp_path / "data"
    data.write_text("x")
    cases: list[Callable[[], Any]] = [
        lambda: pysyscall.fork_exec("/nonexistent", ["x"]),
        lambda: pysyscall.fork_exec(str(data), ["x"]),
        lambda: pysyscall.fork_exec("/bin/true", ["x"], ProcAttr(dir="/nonexistent")),
        lambda: pysyscall.fork_exec(
            "/bin/true", ["x"], ProcAttr(sys=SysProcAttr(setpgid=True, pgid=1))
        ),
    ]
    for case in cases * 5:
        with pytest.raises(OSError):
            case()
    assert runner.ran == [runner.name] * len(cases) * 5
