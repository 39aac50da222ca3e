"""Fork, exec and wait: Go's exec_unix.go, for Linux and darwin.

``fork_exec`` starts a program in a child process and returns its pid once
the child has called execve; if anything in the child failed before that,
it raises the matching OSError (FileNotFoundError, PermissionError, ...)
naming the child's step and the path, after reaping the child.

The defaults follow Go's os.ProcAttr rather than syscall.ProcAttr, since that
is what Python users reach for: ``env=None`` passes this process's
environment, ``files=None`` passes fds 0, 1 and 2.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import NoReturn, Union

from . import env_unix, libc, remembered, runners, runtime
from ._platform import forkpipe, system
from .plan import (
    CHILD_ERROR_MAGIC,
    Builder,
    ChildError,
    Envv,
    Plan,
    StrPath,
    byte_ptr_from_string,
    check_open,
    signal_name,
)
from .rwmutex import RWMutex

# What ProcAttr.env and exec's envv take besides None: a mapping of names to
# values, or "KEY=value" strings; str is encoded as os.environ encodes it.
Env = Union[
    Mapping[str, Union[str, bytes]],
    Mapping[bytes, Union[str, bytes]],
    Sequence[Union[str, bytes]],
]

fork_lock = RWMutex()
fork_lock.__doc__ = """Port of Go's ForkLock: synchronizes fd creation with fork.

A child should inherit only the fds it is given. Every fd Python makes is
close-on-exec (PEP 446), but where an fd is made in two steps (pipe, then
fcntl FD_CLOEXEC; darwin has no pipe2) a fork between the two would leak it.
Code that makes fds that way holds ``fork_lock.rlock()`` around the two
steps; every fork holds the lock for writing. On Linux forks share the write
lock and do not wait for each other (forkpipe2.py).
"""


@dataclass
class ProcAttr:
    """Port of Go's ProcAttr: what the child starts with.

    ``dir``: the child's working directory (None: the caller's).
    ``env``: a mapping, or a sequence of "KEY=value" strings (None: this
    process's environment, the C library's ``environ`` as it is now, which
    os.environ, os.putenv and os.unsetenv all change).
    ``files``: ``files[i]`` becomes the child's fd i; -1 or None closes fd i;
    fds 0..2 beyond the list are closed (None: fds 0, 1 and 2).
    ``sys``: the platform's SysProcAttr.
    """

    dir: StrPath | None = None
    env: Env | None = None
    files: Sequence[int | None] | None = None
    sys: system.SysProcAttr | None = None


def slice_ptr_from_strings(values: Sequence[StrPath], what: str) -> list[bytes]:
    """Port of SlicePtrFromStrings: every string checked for NUL before use."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{what} must be a sequence of strings, not a single string")
    if not isinstance(values, Sequence):
        raise TypeError(f"{what} must be a sequence of strings, not {type(values).__name__}")
    return [byte_ptr_from_string(v, f"{what}[{i}]") for i, v in enumerate(values)]


def environment(env: Env | None) -> Envv:
    """The child's environment as "KEY=value" bytes (None: the C library's environ)."""
    if env is None:
        return env_unix.Environ()  # as native subprocess: os.putenv's changes too
    if not isinstance(env, Mapping):
        if not isinstance(env, Sequence):
            raise TypeError(
                'env must be a mapping or a sequence of "KEY=value" strings, '
                f"not {type(env).__name__}"
            )
        return slice_ptr_from_strings(env, "env")
    entries = []
    for key, value in env.items():
        name = byte_ptr_from_string(key, "environment variable name")
        if not name or b"=" in name:
            raise ValueError(f"illegal environment variable name: {key!r}")
        entries.append(name + b"=" + byte_ptr_from_string(value, f"env[{key!r}]"))
    return entries


def _files(files: Sequence[int | None] | None) -> list[int]:
    if files is None:
        files = (0, 1, 2)
    if isinstance(files, (str, bytes)) or not isinstance(files, Sequence):
        raise TypeError(f"files must be a sequence of fds, not {type(files).__name__}")
    checked = []
    for i, fd in enumerate(files):
        if fd is None:
            fd = -1
        if isinstance(fd, bool) or not isinstance(fd, int):
            raise TypeError(f"files[{i}] must be an fd (int), -1 or None, not {type(fd).__name__}")
        if fd < -1:
            raise ValueError(f"files[{i}] is {fd}: an fd is >= 0, and -1 closes fd {i}")
        if fd != -1:
            check_open(fd, f"files[{i}]")
        checked.append(fd)
    return checked


def _pipe_at_or_above(pipe: tuple[int, int], lowest: int) -> tuple[int, int]:
    """Move the status pipe's write end to ``lowest`` or above, in the parent.

    Go's child moves it there in its first fd pass; done before the fork, the
    child's failure tail can name one fixed fd, whatever step failed.
    """
    if pipe[1] >= lowest:
        return pipe
    moved = libc.call("fcntl", pipe[1], system.F_DUPFD_CLOEXEC, lowest)
    libc.parent("close")(pipe[1])
    return pipe[0], moved


def _read_status(fd: int) -> ChildError | None:
    """Read the child's failure record; None at EOF (the exec succeeded).

    Port of forkExec's read (exec_unix.go), reading to EOF or a whole record.
    """
    record = ChildError()
    size = ctypes.sizeof(record)
    read = libc.parent("read")
    got = 0
    while got < size:
        n = read(fd, ctypes.addressof(record) + got, size - got)
        if n == -1:
            code = ctypes.get_errno()
            if code == errno.EINTR:
                continue
            raise libc.errno_error(code, "read of the child's status pipe")
        if n == 0:
            break
        got += n
    if got == 0:
        return None
    if got < size or record.magic != CHILD_ERROR_MAGIC:
        raise libc.errno_error(errno.EPIPE, f"the child's status pipe gave {got} bytes")
    return record


def _child_error(record: ChildError, plan: Plan) -> OSError:
    """The OSError for a child's failure record, naming the step and path."""
    step = plan.steps[record.step]
    error = libc.errno_error(record.errno, f"child step {record.step}, {step.name}", step.path)
    error.step = step.name  # type: ignore[attr-defined]
    return error


def child_program(argv0: StrPath, argv: Sequence[StrPath], attr: ProcAttr | None = None) -> Plan:
    """Check the arguments and plan the child's program, without forking.

    The part of Go's forkExec (exec_unix.go) before the fork: every string
    converted and checked for NUL, every fd checked, then the platform's
    plan (linux.child_program or darwin.child_program). Bad arguments raise
    ValueError or TypeError; an fd that is not open, OSError(EBADF).
    """
    if attr is None:
        attr = ProcAttr()
    elif not isinstance(attr, ProcAttr):
        hint = ": pass it as ProcAttr(sys=...)" if isinstance(attr, system.SysProcAttr) else ""
        raise TypeError(f"attr must be a ProcAttr, not {type(attr).__name__}{hint}")
    if attr.sys is not None and not isinstance(attr.sys, system.SysProcAttr):
        raise TypeError(f"ProcAttr.sys must be a SysProcAttr, not {type(attr.sys).__name__}")
    sys_attr = attr.sys if attr.sys is not None else system.SysProcAttr()
    argv0_bytes = byte_ptr_from_string(argv0, "argv0")
    argv_bytes = slice_ptr_from_strings(argv, "argv")
    if not argv_bytes:
        raise ValueError("argv must not be empty: argv[0] names the program to the program")
    env = environment(attr.env)
    dir_bytes = None if attr.dir is None else byte_ptr_from_string(attr.dir, "dir")
    files = _files(attr.files)
    plan = system.child_program(
        argv0_bytes, argv_bytes, env, dir_bytes, files, sys_attr, runtime.signals_to_reset()
    )
    plan.signal_rule = runtime.IGNORED_BY_PYTHON  # the rule signals_to_reset follows
    return plan


def _fork_exec(argv0: StrPath, argv: Sequence[StrPath], attr: ProcAttr | None) -> tuple[int, int]:
    """Port of forkExec (exec_unix.go): returns (pid, pidfd or -1)."""
    try:
        started = remembered.start(argv0, argv, attr)  # planned before: no plan to make
        if started is not None:
            return started
        plan = child_program(argv0, argv, attr)
        try:
            return _start(plan)
        finally:
            plan.close()
    except FileNotFoundError as error:
        _hint_path_search(error, argv0)
        raise


def _hint_path_search(error: FileNotFoundError, argv0: StrPath) -> None:
    """Say so when a bare name was not found: execve does no PATH search, nor does fork_exec."""
    if getattr(error, "step", None) == "execve" and b"/" not in os.fsencode(argv0):
        name = os.fsdecode(argv0)
        error.strerror = (
            f"{error.strerror}; fork_exec does no PATH search: "
            f"pysyscall.look_path({name!r}) finds the program"
        )


def _start(
    plan: Plan, reap_failed: bool = True, runner: ModuleType | None = None
) -> tuple[int, int]:
    # reap_failed=False (compat.py): a child that failed is left for the
    # caller to reap; its error carries the pid as ``.pid``. ``runner``:
    # the one runners.select(plan) picked (remembered.py knows it).
    if runner is None:
        runner = runners.select(plan)
    forkpipe.acquire_fork_lock(fork_lock)
    if not runner.status_pipe(plan):
        # posix_spawn returns the child's error itself (the child reaped);
        # a vfork child writes its record into plan.record, which it shares
        # with this process. Neither runs a plan with parent-side work.
        try:
            pid: int = runner.fork_and_exec_in_child(plan, None)
        finally:
            forkpipe.release_fork_lock(fork_lock)
        if plan.record.step == -1:
            return pid, -1 if plan.pidfd is None else plan.pidfd.value
        record = ChildError.from_buffer_copy(plan.record)
        plan.record.step, plan.record.errno = -1, 0  # ready for the next start
        return _failure(pid, plan, record, None, reap_failed)
    try:
        pipe = forkpipe.fork_exec_pipe()
    except BaseException:
        forkpipe.release_fork_lock(fork_lock)
        raise
    try:
        pipe = _pipe_at_or_above(pipe, plan.first_free_fd)
    except BaseException:
        for fd in pipe:
            libc.parent("close")(fd)
        forkpipe.release_fork_lock(fork_lock)
        raise
    try:
        # The write end is the runner's from here: it closes this process's
        # copy once the child has it (the read below then sees EOF at the
        # child's exec), whatever happens.
        pid = runner.fork_and_exec_in_child(plan, pipe)
    except BaseException:
        libc.parent("close")(pipe[0])
        forkpipe.release_fork_lock(fork_lock)
        raise
    # Go's forkAndExecInChild, after the fork and under the lock: the
    # parent's side of the id-map handshake. Closing the plan's fds then
    # lets a child waiting on the id-map pipe go on, or fail.
    parent_error = plan.after_fork(pid) if plan.after_fork else None
    plan.close()
    # Released before the status is read, so a slow exec holds up no other
    # start. (On Linux, where forks share the lock, the fork runner has
    # already waited for the exec, and the vfork runner's clone returns
    # after it: under the lock, which only fd makers wait for there.)
    forkpipe.release_fork_lock(fork_lock)

    try:
        read = _read_status(pipe[0])
    except OSError:
        _failed(pid, plan)
        raise
    finally:
        libc.parent("close")(pipe[0])
    if read is None and parent_error is None:
        return pid, -1 if plan.pidfd is None else plan.pidfd.value
    return _failure(pid, plan, read, parent_error, reap_failed)


def _failure(
    pid: int,
    plan: Plan,
    record: ChildError | None,
    parent_error: OSError | None,
    reap_failed: bool,
) -> NoReturn:
    """Raise the error of a start that failed: the parent's, or the child's step's."""
    if reap_failed:
        _failed(pid, plan)
    if parent_error is not None:
        raise parent_error  # the id maps could not be written
    assert record is not None
    error = _child_error(record, plan)
    if not reap_failed:
        error.pid = pid  # type: ignore[attr-defined]
    raise error


def _failed(pid: int, plan: Plan) -> None:
    """Reap a child that never got to execve; close its pidfd (go.dev/issue/69284)."""
    wait = libc.parent("wait4")
    while wait(pid, None, 0, None) == -1 and ctypes.get_errno() == errno.EINTR:
        pass
    if plan.pidfd is not None and plan.pidfd.value >= 0:
        libc.parent("close")(plan.pidfd.value)
        plan.pidfd.value = -1


def fork_exec(argv0: StrPath, argv: Sequence[StrPath], attr: ProcAttr | None = None) -> int:
    """Port of ForkExec (exec_unix.go): start ``argv0`` with ``argv``; return its pid.

    No PATH search: ``argv0`` is the file to execute. Returns once the child
    has called execve. If the child could not get there, raises the OSError
    subclass for the error (FileNotFoundError for a missing program or
    directory, PermissionError, ...), whose message names the child's step
    and whose ``filename`` is the path involved; the child is reaped first.
    Bad arguments raise ValueError or TypeError before anything is forked.
    The caller waits for the child (wait4).
    """
    pid, pidfd = _fork_exec(argv0, argv, attr)
    if pidfd != -1:
        libc.parent("close")(pidfd)  # asked for, but fork_exec has no way to return it
    return pid


def start_process(
    argv0: StrPath, argv: Sequence[StrPath], attr: ProcAttr | None = None
) -> tuple[int, int]:
    """Port of StartProcess (exec_unix.go): fork_exec, returning (pid, handle).

    The handle is the child's pidfd (close-on-exec, the caller's to close)
    when ``SysProcAttr(pidfd=True)`` asked for one, else -1 (Go returns 0,
    a valid fd in Python).
    """
    return _fork_exec(argv0, argv, attr)


def exec(argv0: StrPath, argv: Sequence[StrPath], envv: Env | None = None) -> NoReturn:
    """Port of Exec (exec_unix.go): execve in this process; returns only by raising.

    ``envv`` is a mapping or a sequence of "KEY=value" (None: the C library's
    environ, as fork_exec's env=None).
    The execve runs under the exec lock (runtime.exec_lock): no thread starts
    through threading while it is in progress (go.dev/issue/19546).
    """
    argv0_bytes = byte_ptr_from_string(argv0, "argv0")
    argv_bytes = slice_ptr_from_strings(argv, "argv")
    if not argv_bytes:
        raise ValueError("argv must not be empty: argv[0] names the program to the program")
    env = environment(envv)
    path = ctypes.create_string_buffer(argv0_bytes)
    argv_array = (ctypes.c_char_p * (len(argv_bytes) + 1))(*argv_bytes)
    buffers = Builder()  # keeps the environment's array until execve
    envp = buffers.environment(env)
    runtime.before_exec()
    try:
        libc.parent("execve")(ctypes.addressof(path), ctypes.addressof(argv_array), envp)
        code = ctypes.get_errno()
    finally:
        runtime.after_exec()
    raise libc.errno_error(code, "execve", os.fsdecode(argv0_bytes))


class WaitStatus(int):
    """Port of Go's WaitStatus (syscall_linux.go, syscall_bsd.go): a wait status word.

    The int wait4 stored; its methods read it as the W* macros do. It prints
    what happened: ``WaitStatus(exited 3)``, ``WaitStatus(signaled SIGTERM)``,
    ``WaitStatus(signaled SIGSEGV, core dumped)``, ``WaitStatus(stopped
    SIGSTOP)``, ``WaitStatus(continued)``.
    """

    def exited(self) -> bool:
        """Whether the process exited (returned from main or called exit): WIFEXITED."""
        return self & 0x7F == 0

    def exit_status(self) -> int:
        """The exit status (0-255) if it exited, else -1: WEXITSTATUS."""
        return (self >> 8) & 0xFF if self.exited() else -1

    def signaled(self) -> bool:
        """Whether a signal ended the process: WIFSIGNALED."""
        return self & 0x7F not in (0, 0x7F)

    def signal(self) -> int:
        """The signal that ended the process if it was signaled, else -1: WTERMSIG."""
        return self & 0x7F if self.signaled() else -1

    def core_dump(self) -> bool:
        """Whether the signal that ended the process left a core dump: WCOREDUMP."""
        return self.signaled() and self & 0x80 != 0

    def stopped(self) -> bool:
        """Whether the process is stopped (wait4 with WUNTRACED, or traced): WIFSTOPPED."""
        return self & 0xFF == 0x7F and not self.continued()

    def stop_signal(self) -> int:
        """The signal that stopped the process if it is stopped, else -1: WSTOPSIG."""
        return (self >> 8) & 0xFF if self.stopped() else -1

    def continued(self) -> bool:
        """Whether SIGCONT resumed the process (wait4 with WCONTINUED): WIFCONTINUED."""
        return int(self) == system.CONTINUED_STATUS

    def __repr__(self) -> str:
        if self.exited():
            what = f"exited {self.exit_status()}"
        elif self.signaled():
            what = f"signaled {signal_name(self.signal())}"
            if self.core_dump():
                what += ", core dumped"
        elif self.stopped():
            what = f"stopped {signal_name(self.stop_signal())}"
        elif self.continued():
            what = "continued"
        else:
            what = hex(self)
        return f"WaitStatus({what})"


def wait4(pid: int, options: int = 0) -> tuple[int, WaitStatus]:
    """Port of Wait4: wait for ``pid``; returns (pid, status), pid 0 with WNOHANG.

    Retried on EINTR, as os.waitpid is (PEP 475).
    """
    status = ctypes.c_int(0)
    wpid = libc.call_retrying("wait4", pid, ctypes.addressof(status), options, None)
    return wpid, WaitStatus(status.value & 0xFFFFFFFF)
