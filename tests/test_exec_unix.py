"""fork_exec's API around the child: bad input, the runner's choice, fork
failures, WaitStatus, the fork lock.

What a child gets (argv, env, dir, files, signals, errors from the child's
steps) is tests/test_runners.py's, run over every runner.
"""

from __future__ import annotations

import errno
import gc
import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_no_children, skip_if_declined, vfork_clone, wait_until

import pysyscall
from pysyscall import ProcAttr, SysProcAttr, exec_unix

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


def test_start_process_handle(no_leaks: None) -> None:
    pid, handle = pysyscall.start_process("/bin/true", ["true"])
    assert handle == -1
    assert pysyscall.wait4(pid)[1].exit_status() == 0


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
    argv0: str,
    argv: list[str],
    attr: ProcAttr | None,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    no_leaks: None,
) -> None:
    """A ValueError naming the argument, raised before any start is tried."""

    def no_start(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a start was tried")

    monkeypatch.setattr(pysyscall.exec_unix, "_start", no_start)
    with pytest.raises(ValueError, match=message):
        pysyscall.fork_exec(argv0, argv, attr)


@pytest.mark.parametrize(
    ("argv", "attr", "message"),
    [
        ("true", None, "argv must be a sequence of strings, not a single string"),
        (["true", 3], None, r"argv\[1\] must be str, bytes or os.PathLike, not int"),
        (["true"], ProcAttr(files=[0, "1", 2]), r"files\[1\] must be an fd .*, not str"),  # type: ignore[list-item]
        (["true"], ProcAttr(files=[0, 1.0, 2]), r"files\[1\] must be an fd .*, not float"),  # type: ignore[list-item]
        (["true"], ProcAttr(files=[0, True, 2]), r"files\[1\] must be an fd .*, not bool"),
    ],
)
def test_bad_input_type_error(
    argv: Any, attr: ProcAttr | None, message: str, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """A TypeError naming the argument, raised before any start is tried."""

    def no_start(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a start was tried")

    monkeypatch.setattr(pysyscall.exec_unix, "_start", no_start)
    with pytest.raises(TypeError, match=message):
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


@pytest.mark.parametrize(
    ("runner", "fork"),
    [
        ("fork", "fork through {fork}"),
        ("spawn", "fork through posix_spawn"),
        ("vfork", "fork through {fork}, as {clone}"),
    ],
)
def test_fork_failure_is_an_os_error(runner: str, fork: str, no_leaks: None) -> None:
    """A fork that fails (here: RLIMIT_NPROC hit, in a helper) raises, leaking nothing.

    The fork is _Fork(), or before glibc 2.34 the clone system call.
    """
    skip_if_declined(runner)
    assert pysyscall.linux.FORK is not None
    fork = fork.format(fork=pysyscall.linux.FORK.text, clone=vfork_clone())
    script = (
        "import os, resource, pysyscall\n"
        "from pysyscall import fork_exec  # loads the layer while this user can\n"
        "import tempfile  # and what the routine's no-memfd fallback loads (/root may be 0700)\n"
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
    real = runtime.mask_calls

    def refuse(*args: Any) -> Any:
        raise OSError(errno.EINVAL, "refused by the test")

    # The mask calls are made right before the fork: by ForkCalls, which the
    # fork runner makes per start and the vfork runner keeps with the plan.
    monkeypatch.setattr(runtime, "mask_calls", refuse)
    with pytest.raises(OSError, match="refused by the test"):
        pysyscall.fork_exec("/bin/true", ["true"], attr)
    monkeypatch.setattr(runtime, "mask_calls", real)
    assert pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true"], attr))[1] == 0


def test_kept_fork_failure_keeps_its_errno(no_leaks: None) -> None:
    """A kept plan's clone failing in the vfork runner's one chain: the errno
    clone left survives the fork lock's release after it in the chain (here
    EPERM: CLONE_NEWPID once this process is no longer root), nothing leaks,
    and the lock is free for the next start."""
    skip_if_declined("vfork")
    if os.geteuid() != 0:
        pytest.skip("needs root: makes a pid namespace (the kept plan) only root may")
    script = (
        "import os, pysyscall\n"
        "from pysyscall import exec_unix, runner_vfork\n"
        "attr = pysyscall.ProcAttr(sys=pysyscall.SysProcAttr(cloneflags=0x20000000))\n"
        "for _ in range(2):  # planned, then kept\n"
        "    pysyscall.wait4(pysyscall.fork_exec('/bin/true', ['true'], attr))\n"
        "os.setgid(65534); os.setgroups([]); os.setuid(65534)\n"
        "fds = os.listdir('/proc/self/fd')\n"
        "try:\n"
        "    pysyscall.fork_exec('/bin/true', ['true'], attr)\n"
        "except PermissionError as e:\n"
        "    assert os.listdir('/proc/self/fd') == fds\n"
        "    tb, names = e.__traceback__, []\n"
        "    while tb is not None:  # no traceback module: nobody may not read the stdlib's files\n"
        "        names.append(tb.tb_frame.f_code.co_name)\n"
        "        tb = tb.tb_next\n"
        "    assert 'start_kept' in names, names\n"
        "    assert not exec_unix.fork_lock._writers\n"
        "    pysyscall.wait4(pysyscall.fork_exec('/bin/true', ['true']))\n"
        "    print('EPERM', e)\n"
    )
    import subprocess

    package_parent = os.path.dirname(os.path.dirname(pysyscall.__file__))
    env = dict(os.environ, PYTHONPATH=package_parent, PYSYSCALL_RUNNER="vfork")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("EPERM"), out.stdout
    assert f"as {vfork_clone()}" in out.stdout


@pytest.mark.parametrize("runner", ["vfork", "fork"])
def test_gc_resumed_by_another_start_in_between(
    runner: str, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """Another thread's start pauses the GC, this start's calls are made, the
    other start resumes the GC, then this start forks: the GC runs afterwards
    (the pause must read whether the GC ran when it pauses, not before)."""
    from pysyscall import runtime

    monkeypatch.setenv("PYSYSCALL_RUNNER", runner)
    real, real_around = runtime.ForkCalls.before, runtime.ForkCalls.around

    def other_start_ends_its_pause(self: runtime.ForkCalls) -> Any:
        calls = real(self)
        gc.enable()  # the other start, done with its fork
        return calls

    def other_start_ends_its_pause_around(self: runtime.ForkCalls, fork: Any) -> Any:
        calls = real_around(self, fork)
        gc.enable()
        return calls

    monkeypatch.setattr(runtime.ForkCalls, "before", other_start_ends_its_pause)
    monkeypatch.setattr(runtime.ForkCalls, "around", other_start_ends_its_pause_around)
    for _ in range(2):  # planned, then kept (the vfork runner's one chain)
        gc.disable()  # the other start, in its fork
        try:
            assert pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true"]))[1] == 0
            assert gc.isenabled()
        finally:
            gc.enable()


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


@pytest.mark.parametrize("runner", ["vfork", "spawn", "fork"])
def test_a_start_leaves_its_record_clean(
    runner: str, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """Every kind of start that returns (compat's, whose child failed, too)
    leaves each fd of its record at -1 and the record free for the thread's
    next start, which does not clear the fds again (exec_unix._guarded). One
    that raised is left busy: the next start makes a record of its own."""
    from pysyscall import compat
    from pysyscall.plan import Start

    skip_if_declined(runner)
    monkeypatch.setenv("PYSYSCALL_RUNNER", runner)

    def clean() -> None:
        record = exec_unix._records.record
        assert record is not None and not record.busy
        assert list(record.fds) == [-1] * Start.FDS

    for _ in range(2):  # planned, then remembered
        pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true"]))
        clean()
        with pytest.raises(FileNotFoundError):
            pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(dir="/nonexistent"))
        failed = exec_unix._records.record
        assert failed is not None and failed.busy
        pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true"]))
        assert exec_unix._records.record is not failed
        clean()
    if runner == "spawn":
        return  # compat refuses the spawn runner (test_spawn.py's test_forced_spawn_refuses_compat)
    with compat.installed():
        for _ in range(2):
            subprocess.run(["true"], check=True)  # several executables: the errno pipe
            clean()
            with pytest.raises(FileNotFoundError):
                subprocess.run(["no-such-program-pysyscall"])
            clean()


def test_wait_status_exit_code() -> None:
    for code in (0, 2, 42, 255):
        pid = pysyscall.fork_exec("/bin/sh", ["sh", "-c", f"exit {code}"])
        wpid, status = pysyscall.wait4(pid)
        assert wpid == pid
        assert status.exited() and not status.signaled() and not status.stopped()
        assert status.exit_status() == code and status.signal() == -1
        assert repr(status) == str(status) == f"WaitStatus(exited {code})"
    assert_no_children()


def test_wait_status_made_once_per_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """wait4 keeps the WaitStatus of each word it saw, up to a bound; past it,
    each wait makes its own."""
    monkeypatch.setattr(exec_unix, "_statuses", {})
    first = pysyscall.wait4(pysyscall.fork_exec("/bin/sh", ["sh", "-c", "exit 7"]))[1]
    again = pysyscall.wait4(pysyscall.fork_exec("/bin/sh", ["sh", "-c", "exit 7"]))[1]
    assert first is again and exec_unix._statuses == {7 << 8: first}
    monkeypatch.setattr(exec_unix, "_STATUSES_KEPT", 1)
    other = pysyscall.wait4(pysyscall.fork_exec("/bin/sh", ["sh", "-c", "exit 9"]))[1]
    assert other.exit_status() == 9 and len(exec_unix._statuses) == 1


def test_wait_status_signaled_and_core(tmp_path: Path) -> None:
    pid = pysyscall.fork_exec("/bin/sh", ["sh", "-c", "kill -TERM $$"])
    status = pysyscall.wait4(pid)[1]
    assert status.signaled() and status.signal() == signal.SIGTERM
    assert not status.exited() and status.exit_status() == -1 and not status.core_dump()
    assert repr(status) == "WaitStatus(signaled SIGTERM)"
    # A real core dump, written into tmp_path where core_pattern is a plain
    # file name; where a helper takes the dumps ("|": systemd-coredump,
    # apport), a path puts them elsewhere, or the hard limit forbids them,
    # the bit as the kernel sets it.
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    elsewhere = pattern.startswith("|") or "/" in pattern
    if elsewhere or resource.getrlimit(resource.RLIMIT_CORE)[1] == 0:
        dumped = pysyscall.WaitStatus(0x80 | signal.SIGSEGV)
    else:
        script = "ulimit -c $(ulimit -H -c) && kill -SEGV $$"
        attr = pysyscall.ProcAttr(dir=str(tmp_path))
        dumped = pysyscall.wait4(pysyscall.fork_exec("/bin/sh", ["sh", "-c", script], attr))[1]
        assert list(tmp_path.iterdir()), f"no core file (core_pattern {pattern!r})"
    assert dumped.signaled() and dumped.signal() == signal.SIGSEGV
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


def test_wait4_runs_signal_handlers_and_retries() -> None:
    """A handler that returns: wait4 goes on waiting (EINTR retried, PEP 475);
    one that raises: wait4 raises it, and the child is still there to reap."""
    ran: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: ran.append(signum))
    try:
        pid = pysyscall.fork_exec("/bin/sleep", ["sleep", "0.3"])
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        try:
            wpid, status = pysyscall.wait4(pid)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        assert (wpid, status.exit_status()) == (pid, 0)
        assert len(ran) >= 2  # interrupted more than once, each time retried

        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGALRM, interrupt)
        pid = pysyscall.fork_exec("/bin/sleep", ["sleep", "30"])
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(KeyboardInterrupt):
            pysyscall.wait4(pid)
        assert pysyscall.wait4(pid, os.WNOHANG) == (0, 0)  # not reaped: still running
        os.kill(pid, signal.SIGKILL)
        assert pysyscall.wait4(pid)[1].signal() == signal.SIGKILL
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert_no_children()


def test_wait4_no_child() -> None:
    with pytest.raises(ChildProcessError):
        pysyscall.wait4(-1)


@pytest.mark.parametrize(
    ("pid", "options", "error", "message"),
    [
        (2**40, 0, OverflowError, "wait4 pid 1099511627776 does not fit a C int"),
        (-(2**31) - 1, 0, OverflowError, "does not fit a C int"),
        ("1", 0, TypeError, "wait4 pid must be an int, not str"),
        (1.0, 0, TypeError, "wait4 pid must be an int, not float"),
        (-1, 2**32 | os.WNOHANG, OverflowError, "wait4 options 4294967297 does not fit"),
    ],
    ids=["pid-2**40", "pid-below-int", "pid-str", "pid-float", "options-2**32"],
)
def test_wait4_bad_arguments_reap_nothing(
    pid: Any, options: Any, error: type[Exception], message: str
) -> None:
    """A pid ctypes would cut to a C int (2**40 to 0: any child of this
    process group) is refused, as os.waitpid refuses it: the child that was
    there is still there to reap, with its status."""
    child = pysyscall.fork_exec("/bin/sh", ["sh", "-c", "exit 7"])
    try:
        with pytest.raises(error, match=message):
            pysyscall.wait4(pid, options)
    finally:
        wpid, status = pysyscall.wait4(child)
    assert (wpid, status.exit_status()) == (child, 7)


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
        wait_until(lambda: pysyscall.fork_lock._waiters)  # the fork, parked on the lock
        assert not started.is_set()
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


def test_start_record_reused_only_after_a_whole_start(no_leaks: None) -> None:
    """A thread's starts share one record (plan.Start) while each ends whole; one
    that raised is never used again (its prepared calls may have run), and a
    reused record starts clean: no pid, no fds, no lock."""
    from pysyscall import exec_unix

    pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true"]))
    record = exec_unix._records.record
    assert record is not None and not record.busy
    pid = pysyscall.fork_exec("/bin/true", ["true"])
    assert exec_unix._records.record is record and not record.busy
    assert record.pid.value == pid  # left as it was: reset by the next start, not here
    pysyscall.wait4(pid)
    with pytest.raises(FileNotFoundError):
        pysyscall.fork_exec("/nonexistent/program", ["x"])
    failed = exec_unix._records.record
    assert failed is record and failed.busy  # the exception path used its wait and close
    pysyscall.wait4(pysyscall.fork_exec("/bin/true", ["true"]))
    fresh = exec_unix._records.record
    assert fresh is not failed and not fresh.busy
    assert list(fresh.fds) == [-1] * fresh.FDS and fresh.hold is not None and not fresh.hold.held
