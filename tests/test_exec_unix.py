"""Behaviour of fork_exec seen from the child; ports of Go's exec tests.

Each test names the Go test it ports, where there is one
(src/syscall/exec_unix_test.go, src/os/exec/exec_test.go).
"""

from __future__ import annotations

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
from pysyscall import ProcAttr, SysProcAttr


def test_zero_sys_proc_attr(child_view: Any, no_leaks: None) -> None:
    """Port of TestZeroSysProcAttr: a new pid, in the parent's process group."""
    view = child_view()
    assert view["pid"] == view["started_pid"] != os.getpid()
    assert view["ppid"] == os.getpid()
    assert view["pgid"] == os.getpgid(0)
    assert view["sid"] == os.getsid(0)


def test_setpgid(child_view: Any, no_leaks: None) -> None:
    """Port of TestSetpgid: the child leads a new process group."""
    view = child_view(ProcAttr(sys=SysProcAttr(setpgid=True)))
    assert view["pgid"] == view["pid"] != os.getpgid(0)


def test_pgid(child_view: Any, no_leaks: None) -> None:
    """Port of TestPgid: a second child joins the first child's group."""
    r, w = os.pipe()
    leader = pysyscall.fork_exec(
        "/bin/cat", ["cat"], ProcAttr(files=[r, 1, 2], sys=SysProcAttr(setpgid=True))
    )
    os.close(r)
    try:
        view = child_view(ProcAttr(sys=SysProcAttr(setpgid=True, pgid=leader)))
        assert view["pgid"] == leader != view["pid"]
    finally:
        os.close(w)
        _, status = pysyscall.wait4(leader)
    assert status.exit_status() == 0


def test_setsid(child_view: Any, no_leaks: None) -> None:
    view = child_view(ProcAttr(sys=SysProcAttr(setsid=True)))
    assert view["sid"] == view["pid"] == view["pgid"]


def test_dir(child_view: Any, tmp_path: Path, no_leaks: None) -> None:
    work = tmp_path / "work"
    work.mkdir()
    view = child_view(ProcAttr(dir=work))
    assert view["cwd"] == str(work)


def environment_of(**attr: Any) -> list[bytes]:
    # /usr/bin/env, not Python: the interpreter adds LC_CTYPE itself (PEP 538).
    return output_of(["/usr/bin/env", "-0"], **attr).split(b"\0")[:-1]


def test_env_is_exactly_what_was_given(no_leaks: None) -> None:
    env = {"A": "1", "B": "two words", "EMPTY": "", "ODD": "=x\t"}
    assert environment_of(env=env) == [b"A=1", b"B=two words", b"EMPTY=", b"ODD==x\t"]
    assert environment_of(env=["K=v", b"L=w"]) == [b"K=v", b"L=w"]
    assert environment_of(env={}) == []


def test_env_none_inherits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSYSCALL_TEST_VAR", "inherited")
    monkeypatch.delenv("PYSYSCALL_TEST_GONE", raising=False)
    environ = environment_of()
    assert b"PYSYSCALL_TEST_VAR=inherited" in environ
    # The C library's environ, in its order, as a native child gets it
    # (readline, for one, sets LINES and COLUMNS there and not in os.environ).
    native = subprocess.run(["/usr/bin/env", "-0"], capture_output=True, check=True).stdout
    assert environ == native.split(b"\0")[:-1]


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(
    not os.path.exists(SYSTEM_PYTHON), reason=f"no {SYSTEM_PYTHON} here (the distribution's own)"
)
def test_env_none_where_the_program_has_its_own_environ() -> None:
    """env=None in an interpreter whose executable defines environ itself.

    Debian's python3 links libpython in and refers to environ, so the
    program has its own copy (a copy relocation) and libc.so.6's symbol
    stays stale: the child must get the live one, os.putenv's change in it.
    """
    code = (
        "import os, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import pysyscall\n"
        "os.putenv('PYSYSCALL_SYSTEM_PYTHON', 'live')\n"
        "r, w = os.pipe()\n"
        "pid = pysyscall.fork_exec('/usr/bin/env', ['env'], pysyscall.ProcAttr(files=[0, w, 2]))\n"
        "os.close(w)\n"
        "out = b''.join(iter(lambda: os.read(r, 65536), b''))\n"
        "assert pysyscall.wait4(pid)[1].exit_status() == 0\n"
        "print(b'PYSYSCALL_SYSTEM_PYTHON=live' in out.splitlines())\n"
    )
    parent = str(Path(pysyscall.__file__).resolve().parent.parent)
    done = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-c", code, parent], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "True\n", "")


def test_files_default_is_0_1_2(child_view: Any, no_leaks: None) -> None:
    fds = child_view()["fds"]
    assert sorted(fds, key=int) == ["0", "1", "2"]
    for fd in ("0", "1", "2"):
        assert fds[fd]["target"] == os.readlink(f"/proc/self/fd/{fd}")


def test_extra_files(child_view: Any, tmp_path: Path, no_leaks: None) -> None:
    """Port of TestExtraFiles: the file at fd 3, and nothing else above 2.

    Inheritable fds not listed would leak into the child, as in Go: this test
    opens only close-on-exec ones (every fd Python makes).
    """
    path = tmp_path / "extra"
    path.write_text("x")
    extra = os.open(path, os.O_RDONLY)
    others = [os.open(path, os.O_RDONLY) for _ in range(3)]
    try:
        fds = child_view(ProcAttr(files=[0, 1, 2, extra]))["fds"]
    finally:
        for fd in [extra, *others]:
            os.close(fd)
    assert sorted(fds, key=int) == ["0", "1", "2", "3"]
    assert fds["3"]["target"] == str(path)
    assert fds["3"]["inheritable"]


def test_fd_shuffle(child_view: Any, tmp_path: Path, no_leaks: None) -> None:
    """Go's two passes: files[i] < i, files[i] == i, duplicates and holes."""
    paths = [tmp_path / f"f{i}" for i in range(3)]
    opened = []
    for path in paths:
        path.touch()
        opened.append(os.open(path, os.O_RDONLY))
    a, b, c = opened
    # child fd: 0 1 2 3 4 5 6 7
    files = [0, 1, 2, c, b, -1, a, 4 if b != 4 else a]
    expect = {"3": paths[2], "4": paths[1], "6": paths[0], "7": paths[1] if b == 4 else paths[0]}
    if files[7] == 4:
        expect["7"] = Path(os.readlink(f"/proc/self/fd/{4}"))
    try:
        fds = child_view(ProcAttr(files=files))["fds"]
    finally:
        for fd in opened:
            os.close(fd)
    assert "5" not in fds
    assert sorted(fds, key=int) == ["0", "1", "2", "3", "4", "6", "7"]
    for fd, path in expect.items():
        assert fds[fd]["target"] == str(path)


def test_fd_moved_down(child_view: Any, tmp_path: Path, no_leaks: None) -> None:
    """files[i] < i: pass 1 must save fd files[i] before pass 2 overwrites it."""
    path = tmp_path / "f"
    path.touch()
    fd = os.open(path, os.O_RDONLY)
    try:
        # child 3 and 4 both get what is now the parent's fd 1 and fd 3 swapped
        fds = child_view(ProcAttr(files=[0, fd, 2, 1, fd]))["fds"]
    finally:
        os.close(fd)
    assert fds["1"]["target"] == fds["4"]["target"] == str(path)
    assert fds["3"]["target"] == os.readlink("/proc/self/fd/1")


def test_fewer_than_three_files_closes_the_rest(no_leaks: None) -> None:
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


def test_status_pipe_and_cloexec_fds_not_inherited(child_view: Any, tmp_path: Path) -> None:
    """The child sees no fd it was not given: not the status pipe, not Python's fds."""
    held = os.open(tmp_path, os.O_RDONLY)
    try:
        fds = child_view()["fds"]
    finally:
        os.close(held)
    assert sorted(fds, key=int) == ["0", "1", "2"]


def test_status_pipe_moved_above_high_fds(child_view: Any, tmp_path: Path, no_leaks: None) -> None:
    """A file at a high fd number: the status pipe must stay clear of the shuffle."""
    high = os.dup2(1, 60, inheritable=False)
    try:
        view = child_view(ProcAttr(files=[0, 1, 2, -1, -1, high]))
    finally:
        os.close(high)
    assert sorted(view["fds"], key=int) == ["0", "1", "2", "5"]


def status_of(**attr: Any) -> dict[str, str]:
    text = output_of(["/bin/cat", "/proc/self/status"], **attr).decode()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_signal_mask_is_the_parents(no_leaks: None) -> None:
    """The child starts with the forking thread's mask (Go restores it before exec)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGWINCH})
    try:
        status = status_of()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    assert signal_set(status, "SigBlk") == {signal.SIGUSR2, signal.SIGWINCH}


def test_signal_mask_empty_when_parent_blocks_none(no_leaks: None) -> None:
    """All signals are blocked across the fork; none stays blocked in the child."""
    assert signal_set(status_of(), "SigBlk") == set()


def test_signal_handlers(no_leaks: None) -> None:
    """Caught signals are reset to default; ignored ones stay ignored, but for
    SIGPIPE and SIGXFSZ, which Python itself ignores (subprocess's
    restore_signals, and Go's child, give them back at default)."""
    previous = {
        signal.SIGUSR1: signal.signal(signal.SIGUSR1, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *a: None),
    }
    try:
        assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN
        status = status_of()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert signal_set(status, "SigIgn") == {signal.SIGUSR1}
    assert signal_set(status, "SigCgt") == set()


def test_spawn_from_threads(no_leaks: None) -> None:
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


def test_start_process_handle(no_leaks: None) -> None:
    pid, handle = pysyscall.start_process("/bin/true", ["true"])
    assert handle == -1
    assert pysyscall.wait4(pid)[1].exit_status() == 0


# Errors: each the right OSError subclass, naming the step and the path, and
# leaving no fd and no child behind.


def test_missing_program(no_leaks: None) -> None:
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("/nonexistent/program", ["program"])
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == "/nonexistent/program"
    assert info.value.step == "execve"  # type: ignore[attr-defined]
    assert "execve" in str(info.value)


def test_not_executable(tmp_path: Path, no_leaks: None) -> None:
    path = tmp_path / "data"
    path.write_text("just data\n")
    with pytest.raises(PermissionError) as info:
        pysyscall.fork_exec(str(path), ["data"])
    assert info.value.errno == errno.EACCES
    assert info.value.filename == str(path)


def test_not_a_binary_and_no_shebang(tmp_path: Path, no_leaks: None) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(b"\x00\x01\x02\x03 not an executable format")
    path.chmod(0o755)
    with pytest.raises(OSError) as info:
        pysyscall.fork_exec(str(path), ["garbage"])
    assert info.value.errno == errno.ENOEXEC
    assert info.value.step == "execve"  # type: ignore[attr-defined]


def test_missing_dir(no_leaks: None) -> None:
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(dir="/nonexistent/dir"))
    assert info.value.filename == "/nonexistent/dir"
    assert info.value.step == "chdir"  # type: ignore[attr-defined]
    assert "chdir" in str(info.value)


def test_dir_not_a_directory(no_leaks: None) -> None:
    with pytest.raises(NotADirectoryError):
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(dir="/etc/passwd"))


def test_setpgid_failure_names_the_step(no_leaks: None) -> None:
    # pid 1's group is in another session: setpgid refuses with EPERM.
    with pytest.raises(PermissionError) as info:
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(setpgid=True, pgid=1)))
    assert info.value.step == "setpgid"  # type: ignore[attr-defined]


# Bad input: a clear error before any fork.


@pytest.mark.parametrize(
    ("argv0", "argv", "attr", "message"),
    [
        ("/bin/tr\0ue", ["true"], None, "argv0 contains a NUL"),
        ("/bin/true", ["tr\0ue"], None, r"argv\[0\] contains a NUL"),
        ("/bin/true", ["true", "a\0"], None, r"argv\[1\] contains a NUL"),
        ("/bin/true", ["true"], ProcAttr(env={"A": "x\0y"}), "NUL"),
        ("/bin/true", ["true"], ProcAttr(env={"A\0B": "x"}), "NUL"),
        ("/bin/true", ["true"], ProcAttr(env=["A=x\0"]), r"env\[0\] contains a NUL"),
        ("/bin/true", ["true"], ProcAttr(env={"A=B": "x"}), "illegal environment variable name"),
        ("/bin/true", ["true"], ProcAttr(env={"": "x"}), "illegal environment variable name"),
        ("/bin/true", ["true"], ProcAttr(dir="/tm\0p"), "dir contains a NUL"),
        ("/bin/true", [], None, "argv must not be empty"),
        ("/bin/true", ["true"], ProcAttr(files=[0, 1, -2]), r"files\[2\] is -2"),
    ],
)
def test_bad_input_value_error(
    argv0: str, argv: list[str], attr: ProcAttr | None, message: str, no_leaks: None
) -> None:
    with pytest.raises(ValueError, match=message):
        pysyscall.fork_exec(argv0, argv, attr)


@pytest.mark.parametrize(
    ("argv", "attr"),
    [
        ("true", None),
        (["true", 3], None),
        (["true"], ProcAttr(files=[0, "1", 2])),  # type: ignore[list-item]
        (["true"], ProcAttr(files=[0, 1.0, 2])),  # type: ignore[list-item]
        (["true"], ProcAttr(files=[0, True, 2])),
    ],
)
def test_bad_input_type_error(argv: Any, attr: ProcAttr | None, no_leaks: None) -> None:
    with pytest.raises(TypeError):
        pysyscall.fork_exec("/bin/true", argv, attr)


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        (SysProcAttr(setsid=True), r"attr must be a ProcAttr, not SysProcAttr: pass it as "
         r"ProcAttr\(sys=\.\.\.\)"),
        (ProcAttr(sys=ProcAttr()), "ProcAttr.sys must be a SysProcAttr, not ProcAttr"),
        (ProcAttr(files="abc"), "files must be a sequence of fds, not str"),  # type: ignore[arg-type]
        (ProcAttr(files=3), "files must be a sequence of fds, not int"),  # type: ignore[arg-type]
        (ProcAttr(env={"A": 1}), r"env\['A'\] must be str, bytes or os.PathLike, not int"),  # type: ignore[dict-item]
        (ProcAttr(env=3), 'env must be a mapping or a sequence of "KEY=value" strings, not int'),  # type: ignore[arg-type]
        (ProcAttr(env="A=1"), "env must be a sequence of strings, not a single string"),
        (ProcAttr(dir=3), "dir must be str, bytes or os.PathLike, not int"),  # type: ignore[arg-type]
    ],
)  # fmt: skip
def test_wrong_type_in_procattr_names_the_field(
    attr: Any, message: str, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """A TypeError that names the field, raised before any start is tried."""

    def no_start(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a start was tried")

    monkeypatch.setattr(pysyscall.exec_unix, "_start", no_start)
    with pytest.raises(TypeError, match=message):
        pysyscall.fork_exec("/bin/true", ["true"], attr)
    with pytest.raises(TypeError, match=message):
        pysyscall.start_process("/bin/true", ["true"], attr)


def test_fd_not_open(no_leaks: None) -> None:
    with pytest.raises(OSError) as info:
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(files=[0, 1, 2, 250]))
    assert info.value.errno == errno.EBADF
    assert "files[3] is fd 250" in str(info.value)


def test_none_in_files_closes(child_view: Any, no_leaks: None) -> None:
    fds = child_view(ProcAttr(files=[0, 1, 2, None, 1]))["fds"]
    assert sorted(fds, key=int) == ["0", "1", "2", "4"]


@pytest.mark.parametrize(
    ("runner", "fork"),
    [
        ("fork", "fork through {fork}"),
        ("spawn", "fork through posix_spawn"),
        ("vfork", "fork through {fork}, as clone(CLONE_VM|CLONE_VFORK)"),
    ],
)
def test_fork_failure_is_an_os_error(runner: str, fork: str, no_leaks: None) -> None:
    """A fork that fails (here: RLIMIT_NPROC hit, in a helper) raises, leaking nothing.

    The fork is _Fork(), or before glibc 2.34 the clone system call.
    """
    skip_if_declined(runner)
    assert pysyscall.linux.FORK is not None
    fork = fork.format(fork=pysyscall.linux.FORK.text)
    script = (
        "import os, resource, pysyscall\n"
        "from pysyscall import fork_exec  # loads the layer while this user can\n"
        "if os.geteuid() == 0:  # RLIMIT_NPROC does not hold root back\n"
        "    os.setgid(65534); os.setgroups([]); os.setuid(65534)\n"
        "resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))\n"
        "fds = os.listdir('/proc/self/fd')\n"
        "try:\n"
        "    pysyscall.fork_exec('/bin/true', ['true'])\n"
        "except BlockingIOError as e:\n"
        "    assert os.listdir('/proc/self/fd') == fds\n"
        "    print('EAGAIN', e)\n"
    )
    import subprocess

    package_parent = os.path.dirname(os.path.dirname(pysyscall.__file__))
    env = dict(os.environ, PYTHONPATH=package_parent, PYSYSCALL_RUNNER=runner)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("EAGAIN"), out.stdout
    assert fork in out.stdout


@pytest.mark.parametrize("runner", ["fork", "vfork"])
def test_failure_just_before_the_fork_leaks_nothing(
    runner: str, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """The status pipe's write end is the runner's to close, also when it
    fails before forking (vfork: a user namespace's plain clone uses the pipe)."""
    from pysyscall import runtime
    from pysyscall.linux import SysProcIDMap
    from pysyscall.zerrors_linux import CLONE_NEWUSER

    monkeypatch.setenv("PYSYSCALL_RUNNER", runner)
    uids, gids = [SysProcIDMap(0, os.geteuid(), 1)], [SysProcIDMap(0, os.getegid(), 1)]
    attr = ProcAttr(
        sys=SysProcAttr(cloneflags=CLONE_NEWUSER, uid_mappings=uids, gid_mappings=gids)
        if runner == "vfork"
        else None
    )
    real = runtime.fork_calls

    def refuse(mask: Any) -> Any:
        raise OSError(errno.EINVAL, "refused by the test")

    monkeypatch.setattr(runtime, "fork_calls", refuse)
    with pytest.raises(OSError, match="refused by the test"):
        pysyscall.fork_exec("/bin/true", ["true"], attr)
    monkeypatch.setattr(runtime, "fork_calls", real)
    assert pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true"], attr))[1] == 0


def test_runner_choice(monkeypatch: pytest.MonkeyPatch, no_leaks: None) -> None:
    monkeypatch.setenv("PYSYSCALL_RUNNER", "fork")
    assert pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true"]))[1].exit_status() == 0
    monkeypatch.setenv("PYSYSCALL_RUNNER", "teleport")
    names = ", ".join(repr(runner.NAME) for runner in pysyscall.runners.RUNNERS)
    assert names == "'vfork', 'spawn', 'fork'"
    expected = f"PYSYSCALL_RUNNER='teleport': the runners are 'auto', {names}"
    with pytest.raises(ValueError, match=expected):
        pysyscall.fork_exec("/bin/true", ["true"])


def test_refuses_where_ctypes_runs_python(monkeypatch: pytest.MonkeyPatch, no_leaks: None) -> None:
    """On PyPy ctypes itself is Python code: the fork runner refuses, clearly."""
    from types import SimpleNamespace

    from pysyscall import runner_fork

    pypy = SimpleNamespace(implementation=SimpleNamespace(name="pypy"))
    monkeypatch.setattr(runner_fork, "sys", pypy)
    monkeypatch.setenv("PYSYSCALL_RUNNER", "fork")  # auto would take another runner
    pysyscall.remembered.forget()  # an earlier test's plan would skip the runner's check
    with pytest.raises(RuntimeError, match="fork: the fork runner needs CPython; on pypy"):
        pysyscall.fork_exec("/bin/true", ["true"])


# WaitStatus, from real children.


def test_wait_status_exit_code() -> None:
    for code in (0, 2, 42, 255):
        pid = pysyscall.fork_exec("/bin/sh", ["sh", "-c", f"exit {code}"])
        wpid, status = pysyscall.wait4(pid)
        assert wpid == pid
        assert status.exited() and not status.signaled() and not status.stopped()
        assert status.exit_status() == code and status.signal() == -1
        assert repr(status) == str(status) == f"WaitStatus(exited {code})"
    assert_no_children()


def test_wait_status_signaled_and_core() -> None:
    pid = pysyscall.fork_exec("/bin/sh", ["sh", "-c", "kill -TERM $$"])
    status = pysyscall.wait4(pid)[1]
    assert status.signaled() and status.signal() == signal.SIGTERM
    assert not status.exited() and status.exit_status() == -1 and not status.core_dump()
    assert repr(status) == "WaitStatus(signaled SIGTERM)"
    # A core dump's bit, as the kernel sets it (a real one depends on core_pattern).
    dumped = pysyscall.WaitStatus(0x80 | signal.SIGSEGV)
    assert dumped.core_dump() and repr(dumped) == "WaitStatus(signaled SIGSEGV, core dumped)"


def test_wait_status_stopped_and_continued() -> None:
    pid = pysyscall.fork_exec("/bin/sleep", ["sleep", "30"])
    try:
        os.kill(pid, signal.SIGSTOP)
        _, status = pysyscall.wait4(pid, os.WUNTRACED)
        assert status.stopped() and status.stop_signal() == signal.SIGSTOP
        assert repr(status) == "WaitStatus(stopped SIGSTOP)"
        assert not status.continued() and not status.exited() and not status.signaled()
        os.kill(pid, signal.SIGCONT)
        _, status = pysyscall.wait4(pid, os.WCONTINUED)
        assert status.continued() and not status.stopped()
        assert repr(status) == "WaitStatus(continued)"
    finally:
        os.kill(pid, signal.SIGKILL)
        assert pysyscall.wait4(pid)[1].signal() == signal.SIGKILL


def test_wait_status_methods_are_documented() -> None:
    methods = [name for name in vars(pysyscall.WaitStatus) if not name.startswith("_")]
    assert len(methods) == 8
    for name in methods:
        doc = getattr(pysyscall.WaitStatus, name).__doc__
        assert doc and doc.rstrip(".").split(": ")[-1].startswith("W"), name  # the macro


def test_wait4_nohang() -> None:
    pid = pysyscall.fork_exec("/bin/sleep", ["sleep", "30"])
    assert pysyscall.wait4(pid, os.WNOHANG) == (0, 0)
    os.kill(pid, signal.SIGKILL)
    pysyscall.wait4(pid)


def test_wait4_no_child() -> None:
    with pytest.raises(ChildProcessError):
        pysyscall.wait4(-1)


def test_inheritable_fd_not_in_files_is_not_inherited(child_view: Any, tmp_path: Path) -> None:
    """Unlike Go, and like subprocess's close_fds=True: only the files listed."""
    fd = os.open(tmp_path, os.O_RDONLY)
    os.set_inheritable(fd, True)
    high = os.dup2(fd, 100)  # inheritable too
    try:
        fds = child_view(ProcAttr(files=[0, 1, 2, fd]))["fds"]
    finally:
        os.close(fd)
        os.close(high)
    assert sorted(fds, key=int) == ["0", "1", "2", "3"]


def test_failure_reported_when_parent_has_1_and_2_closed(tmp_path: Path) -> None:
    """The status pipe must not land on an fd the child closes (0..2).

    A parent with fds 1 and 2 closed gets its status pipe at 1 and 2; with
    files=[0] the child closes 1 and 2, and a failed exec used to look like
    a successful start.
    """
    import subprocess

    report = tmp_path / "report"
    script = (
        "import os, sys, pysyscall\n"
        "out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC)\n"
        "os.close(1); os.close(2)\n"
        "try:\n"
        "    attr = pysyscall.ProcAttr(files=[0])\n"
        "    pid = pysyscall.fork_exec('/nonexistent/prog', ['prog'], attr)\n"
        "except FileNotFoundError as e:\n"
        "    os.write(out, b'raised ' + e.step.encode())\n"
        "else:\n"
        "    os.write(out, b'started %d' % pysyscall.wait4(pid)[1].exit_status())\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pysyscall.__file__)))
    subprocess.run([sys.executable, "-c", script, str(report)], env=env, timeout=60, check=True)
    assert report.read_text() == "raised execve"


def test_fork_lock_read_side_blocks_forks() -> None:
    """Holding fork_lock for reading keeps every fork out, as Go promises."""
    started = threading.Event()

    def spawn() -> None:
        pid = pysyscall.fork_exec("/bin/true", ["true"])
        started.set()
        pysyscall.wait4(pid)

    with pysyscall.fork_lock.rlocker():
        t = threading.Thread(target=spawn)
        t.start()
        assert not started.wait(0.2)
    assert started.wait(5)
    t.join()


def test_fork_runner_waits_for_exec_only_where_forks_share_the_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With forkpipe2 the parent waits for the child's exec under the shared
    lock; with forkpipe's serializing lock (darwin) it closes its write end
    only, and reads the pipe after releasing the lock, as Go does."""
    from pysyscall import _platform, forkpipe, forkpipe2, libc, runner_fork

    plan = pysyscall.exec_unix.child_program("/bin/true", ["true"])
    names = {id(libc.child("close", False)): "close", id(libc.parent("poll")): "poll"}

    def parent_side() -> list[str]:
        calls = runner_fork._Prepared(plan).parent_calls
        return [names[id(call.func)] for call in calls]  # type: ignore[attr-defined]

    assert _platform.forkpipe is forkpipe2 and parent_side() == ["close", "poll"]
    monkeypatch.setattr(_platform, "forkpipe", forkpipe)
    assert parent_side() == ["close"]
