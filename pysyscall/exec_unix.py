# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
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
import functools
import operator
import os
import threading
from collections.abc import Mapping, Sequence
from types import ModuleType

from . import env_unix, libc, remembered, runners, runtime
from ._platform import forkpipe, system, zerrors
from .libc import invoke as _call
from .libc import run_chain as _run
from .plan import (
    CHILD_ERROR_MAGIC,
    Builder,
    Cell,
    ChildError,
    Plan,
    Record,
    Start,
    byte_ptr_from_string,
    check_open,
    signal_name,
)
from .rwmutex import RWMutex

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any, Callable, NoReturn, Union

    from .plan import Envv, StrPath

    # What ProcAttr.env and exec's envv take besides None: a mapping of names to
    # values, or "KEY=value" strings; str is encoded as os.environ encodes it.
    Env = Union[
        Mapping[str, Union[str, bytes]],
        Mapping[bytes, Union[str, bytes]],
        Sequence[Union[str, bytes]],
    ]

fork_lock = RWMutex("fork_lock", "a start")
# The child of os.fork() gets a fresh fork lock, as CPython's own locks are
# made fresh there: a thread that held it (inside a start) is not copied.
os.register_at_fork(after_in_child=fork_lock.at_fork_reinit)
fork_lock.__doc__ = """Port of Go's ForkLock: synchronizes fd creation with fork.

A child should inherit only the fds it is given. Every fd Python makes is
close-on-exec (PEP 446), but where an fd is made in two steps (pipe, then
fcntl FD_CLOEXEC; darwin has no pipe2) a fork between the two would leak it.
Code that makes fds that way holds ``fork_lock.rlock()`` around the two
steps; every fork holds the lock for writing. On Linux forks share the write
lock and do not wait for each other (forkpipe2.py). A start in a thread that
holds the read side (from a signal handler, or where Go would deadlock) would
wait on itself: it raises OSError(EDEADLK) before any fork.
"""


_close, _fcntl = libc.parent("close"), libc.parent("fcntl")


class ProcAttr(Record):
    """Port of Go's ProcAttr: what the child starts with.

    ``dir``: the child's working directory (None: the caller's).
    ``env``: a mapping, or a sequence of "KEY=value" strings (None: this
    process's environment, the C library's ``environ`` as it is now, which
    os.environ, os.putenv and os.unsetenv all change).
    ``files``: ``files[i]`` becomes the child's fd i; -1 or None closes fd i;
    fds 0..2 beyond the list are closed (None: fds 0, 1 and 2).
    ``sys``: the platform's SysProcAttr.
    """

    __slots__ = ("dir", "env", "files", "sys")

    def __init__(
        self,
        dir: StrPath | None = None,
        env: Env | None = None,
        files: Sequence[int | None] | None = None,
        sys: system.SysProcAttr | None = None,
    ) -> None:
        self.dir = dir
        self.env = env
        self.files = files
        self.sys = sys


def slice_ptr_from_strings(values: Sequence[StrPath], what: str) -> list[bytes]:
    """Port of SlicePtrFromStrings (syscall.go): every string checked for NUL before use.

    The NULL-terminated array itself is Builder.c_string_array's."""
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


def _parent_pipe(fds: Any, cells: tuple[Cell, Cell]) -> None:
    """Make the plan's parent_pipe (close-on-exec) into ``fds[3]`` and ``fds[4]``.

    The kernel fills both slots in one call, where the exception path
    closes them (plan.Start); the child reads the fds from ``cells``.
    """
    libc.call("pipe2", ctypes.addressof(fds) + 3 * ctypes.sizeof(ctypes.c_int), zerrors.O_CLOEXEC)
    cells[0].value, cells[1].value = fds[3], fds[4]


def _pipe_at_or_above(fds: Any, plan: Plan) -> None:
    """Move the status pipe's write end (``fds[1]``) up to where the child needs it.

    At ``plan.first_free_fd`` or above; where no fd is free there (files up
    to RLIMIT_NOFILE-1), at ``plan.pipe_floor`` or above, when the plan
    allows it. Go's child moves it in its first fd pass; done in the parent
    before the fork, the child's failure tail can name one fixed fd,
    whatever step failed. The copy goes into ``fds[2]`` in the same chain
    of C calls that makes it (plan.Start).
    """
    code = 0
    for floor in (plan.first_free_fd, plan.pipe_floor):
        if floor == 0:
            break
        if fds[1] >= floor:
            return
        duplicate = functools.partial(
            _fcntl, *libc.variadic_arguments("fcntl", (fds[1], zerrors.F_DUPFD_CLOEXEC, floor))
        )
        _run(map(operator.setitem, (fds,), (2,), map(_call, (duplicate,))))
        if fds[2] != -1:
            old = fds[1]
            fds[1], fds[2] = fds[2], -1
            _close(old)
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.EMFILE):
            break
    raise libc.errno_error(code, "fcntl(F_DUPFD_CLOEXEC) of the status pipe")


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


class _Records(threading.local):
    """Each thread's spare start record (plan.Start), reused by its next start."""

    record: Start | None = None


_records = _Records()


def _guarded(start: Callable[..., int], *args: Any) -> tuple[int, int]:
    """Run ``start(record, *args)`` so that an exception leaves nothing behind.

    ``start`` records what it makes in ``record`` (plan.Start) and returns
    the child's pidfd or -1; this returns (pid, pidfd). A Ctrl-C may land
    wherever a signal handler can run; whatever point it lands on, the
    caller gets the exception or the pid, never neither: on an exception a
    child already started is killed and reaped (its pid could not be handed
    over), the fds the start opened are closed, the fork lock is given
    back. Each of those is one C call, each in a ``finally`` of the one
    before, so that a second interrupt cannot skip one; after ``start``
    returns nothing here makes a call, so the pid reaches the caller.

    The record is the thread's spare (_records), made by its first start:
    one that ended whole used none of its prepared calls but the fork
    lock's Hold, which it gave back (the next start takes it again), and
    left every fd of ``fds`` at -1 (each is cleared as it is closed or handed
    on: tests/test_exec_unix.py checks it after every kind of start); its
    pid is reset here with no call. One an exception left busy is not used again; a
    start from a signal handler in the middle of this thread's start finds
    it busy too, and makes its own.
    """
    record = _records.record
    if record is None or record.busy:
        record = _records.record = Start()
    record.busy = True
    record.pid.value = 0
    record.pidfd = None  # the hold stays: spent, it is taken again (rwmutex.write_hold)
    try:
        pidfd = start(record, *args)
    except BaseException:
        try:
            if record.pid.value > 0:
                record.reap()
        finally:
            try:
                record.close()
            finally:
                try:
                    cell = record.pidfd
                    if cell is not None and cell.value >= 0:
                        fd, cell.value = cell.value, -1
                        _close(fd)
                finally:
                    hold = record.hold
                    if hold is not None and hold.held:
                        hold.release()
        raise
    pid = record.pid.value
    record.busy = False
    return pid, pidfd


def _fork_exec(
    record: Start, argv0: StrPath, argv: Sequence[StrPath], attr: ProcAttr | None, pidfd: bool
) -> int:
    """Port of forkExec (exec_unix.go): the pid into ``record``; returns the pidfd or -1.

    ``pidfd``: whether the caller can take one (fork_exec cannot: closed here).
    """
    try:
        if _start_remembered(record, argv0, argv, attr):  # planned before: no plan to make
            return -1
        plan = child_program(argv0, argv, attr)
        fd = _start(record, plan)
    except FileNotFoundError as error:
        _hint_path_search(error, argv0)
        raise
    if fd != -1 and not pidfd:
        assert record.pidfd is not None
        record.pidfd.value = -1  # asked for, but fork_exec has no way to return it
        _close(fd)
        return -1
    return fd


def _start_remembered(
    record: Start, argv0: StrPath, argv: Sequence[StrPath], attr: ProcAttr | None
) -> bool:
    """Start a request that can be remembered (the pid into ``record``); False: plan it.

    Plans and remembers the request the first time (remembered.py, the plan
    cache); later starts take a plan from its pool. Raises what fork_exec
    raises (bad arguments, a closed fd, the child's error).
    """
    key = remembered.request_key(argv0, argv, attr, ProcAttr)
    if key is None:
        return False
    entry = remembered.lookup(key)
    if entry is not None and remembered.files_changed(entry):
        # An fd that is not open (POLLNVAL), or one poll has news of: the
        # check a new plan makes raises, or passes.
        _files(None if attr is None else attr.files)
    if entry is None:
        plan = child_program(argv0, argv, attr)
        entry = remembered.keep(key, plan, files=key[-2])
    else:
        plan = remembered.take(entry)
        if plan is None:
            plan = child_program(argv0, argv, attr)
            remembered.prepare(entry.runner, plan)
    try:
        _start(record, plan, runner=entry.runner)
        return True
    finally:
        entry.give_back(plan)  # one C call: an interrupt cannot lose it


def _hint_path_search(error: FileNotFoundError, argv0: StrPath) -> None:
    """Say so when a bare name was not found: execve does no PATH search, nor do
    fork_exec and exec."""
    path = os.fsencode(argv0)
    if getattr(error, "step", None) == "execve" and path and b"/" not in path:
        name = os.fsdecode(argv0)
        error.strerror = (
            f"{error.strerror}; execve does no PATH search: "
            f"pysyscall.look_path({name!r}) finds the program"
        )


def _start(
    record: Start, plan: Plan, reap_failed: bool = True, runner: ModuleType | None = None
) -> int:
    """Start ``plan``: the child's pid into ``record``; returns its pidfd or -1.

    Run under _guarded (compat.fork_exec's too): an exception may leave what it
    interrupted in ``record``. ``reap_failed=False`` (compat.fork_exec): a child
    that failed is left for the caller to reap (its pid in ``record``, and
    on its error as ``.pid``). ``runner``: the one runners.select(plan)
    picked (remembered.py knows it).
    """
    if runner is None:
        runner = runners.select(plan)
    record.pidfd = plan.pidfd
    plan.record.step, plan.record.errno = -1, 0  # a remembered plan's, after an interrupt
    fds = record.fds
    # A plan the vfork runner started before: the fork lock's share, the
    # fork and the share's return in one chain of C calls, if the lock is
    # idle (runner_vfork.start_kept). Otherwise, or for another runner:
    start_kept = getattr(runner, "start_kept", None)
    kept = start_kept is not None and start_kept(plan, record, fork_lock)
    if not kept:
        record.hold = forkpipe.acquire_fork_lock(fork_lock, record.hold)
    if kept or not runner.status_pipe(plan):
        # posix_spawn returns the child's error itself (the child reaped);
        # a vfork child writes its record into plan.record, which it shares
        # with this process. Neither runs a plan with parent-side work.
        if not kept:
            try:
                runner.fork_and_exec_in_child(plan, record)
            finally:
                forkpipe.release_fork_lock(fork_lock, record.hold)
        if plan.record.step == -1:
            return -1 if plan.pidfd is None else plan.pidfd.value
        failed = ChildError.from_buffer_copy(plan.record)
        plan.record.step, plan.record.errno = -1, 0  # ready for the next start
        _failure(record, plan, failed, None, reap_failed)
    if plan.parent_pipe is not None:
        _parent_pipe(fds, plan.parent_pipe)
    forkpipe.fork_exec_pipe(fds)
    _pipe_at_or_above(fds, plan)
    # The write end is the runner's from here: it closes this process's
    # copy once the child has it (the read below then sees EOF at the
    # child's exec).
    try:
        runner.fork_and_exec_in_child(plan, record)
        # Go's forkAndExecInChild, after the fork and under the lock: the
        # parent's side of the id-map handshake. Closing the pipe then lets
        # a child waiting on it go on, or fail.
        parent_error = plan.after_fork(record.pid.value) if plan.after_fork else None
        if plan.parent_pipe is not None:  # else fds[3:5] may be compat's errno pipe
            for i in (3, 4):
                fd, fds[i] = fds[i], -1
                _close(fd)
    except BaseException:
        forkpipe.release_fork_lock(fork_lock, record.hold)
        raise
    # Released before the status is read, so a slow exec holds up no other
    # start. (On Linux, where forks share the lock, the fork runner has
    # already waited for the exec, and the vfork runner's clone returns
    # after it: under the lock, which only fd makers wait for there.)
    forkpipe.release_fork_lock(fork_lock, record.hold)
    try:
        read = _read_status(fds[0])
    finally:
        fd, fds[0] = fds[0], -1
        _close(fd)
    if read is None and parent_error is None:
        return -1 if plan.pidfd is None else plan.pidfd.value
    _failure(record, plan, read, parent_error, reap_failed)


def _failure(
    record: Start,
    plan: Plan,
    failed: ChildError | None,
    parent_error: OSError | None,
    reap_failed: bool,
) -> NoReturn:
    """Raise the error of a start that failed: the parent's, or the child's step's."""
    if reap_failed:
        _failed(record)
    if parent_error is not None:
        raise parent_error  # the id maps could not be written
    assert failed is not None
    error = _child_error(failed, plan)
    if not reap_failed:
        error.pid = record.pid.value  # type: ignore[attr-defined]
    raise error


def _failed(record: Start) -> None:
    """Port of forkAndExecFailureCleanup (exec_linux.go): reap a child that never
    got to execve; close its pidfd (go.dev/issue/69284)."""
    # One C call, no kill: the child writes its record, then exits through
    # _exit (253) by itself, as the plan and strace of it show.
    record.wait()
    cell = record.pidfd
    if cell is not None and cell.value >= 0:
        fd, cell.value = cell.value, -1
        _close(fd)


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
    return _guarded(_fork_exec, argv0, argv, attr, False)[0]


def start_process(
    argv0: StrPath, argv: Sequence[StrPath], attr: ProcAttr | None = None
) -> tuple[int, int]:
    """Port of StartProcess (exec_unix.go): fork_exec, returning (pid, handle).

    The handle is the child's pidfd (close-on-exec, the caller's to close)
    when ``SysProcAttr(pidfd=True)`` asked for one, else -1 (Go returns 0,
    a valid fd in Python).
    """
    return _guarded(_fork_exec, argv0, argv, attr, True)


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
    hold = runtime.before_exec()
    try:
        libc.parent("execve")(ctypes.addressof(path), ctypes.addressof(argv_array), envp)
        code = ctypes.get_errno()
    finally:
        hold.release()  # runtime_AfterExec: reached only when execve failed
    error = libc.errno_error(code, "execve", os.fsdecode(argv0_bytes))
    error.step = "execve"  # type: ignore[attr-defined]  # as a child's step is named
    if isinstance(error, FileNotFoundError):
        _hint_path_search(error, argv0)
    raise error


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
        return int(self) == zerrors.CONTINUED_STATUS

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


# A status word's WaitStatus, made once: a program reaps the same few
# statuses over and over (exited 0 most of all), and making an int subclass
# after each wait, with the caches cold from the child's run, cost about
# 1 µs a start + reap (benchmarks/README.md). Bounded: any int is a key.
_statuses: dict[int, WaitStatus] = {}
_STATUSES_KEPT = 1024
# Bound once (libc.parent looks a function up on every call, a cost every
# start + reap would pay), and retried on EINTR in wait4's own loop.
_wait4 = libc.parent("wait4")


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _check_wait4_arguments(pid: int, options: int) -> None:
    for what, value in (("pid", pid), ("options", options)):
        if not isinstance(value, int):
            raise TypeError(f"wait4 {what} must be an int, not {type(value).__name__}")
        if not _INT_MIN <= value <= _INT_MAX:
            raise OverflowError(f"wait4 {what} {value} does not fit a C int")


def wait4(pid: int, options: int = 0) -> tuple[int, WaitStatus]:
    """Port of Wait4: wait for ``pid``; returns (pid, status), pid 0 with WNOHANG.

    Retried on EINTR, as os.waitpid is (PEP 475): a signal handler runs in
    between, and what it raises, wait4 raises. Raises ChildProcessError
    when ``pid`` is not a child of this process; TypeError or OverflowError,
    as os.waitpid does, for a pid or options that are not a C int (ctypes
    would cut 2**40 to 0: any child of this process group).
    """
    if not (
        type(pid) is type(options) is int
        and _INT_MIN <= pid <= _INT_MAX
        and _INT_MIN <= options <= _INT_MAX
    ):
        _check_wait4_arguments(pid, options)  # off the path of every start + reap
    word = ctypes.c_int(0)
    while True:
        wpid: int = _wait4(pid, ctypes.byref(word), options, None)
        if wpid != -1:
            break
        code = ctypes.get_errno()
        if code != errno.EINTR:
            raise libc.errno_error(code, "wait4")
    value = word.value & 0xFFFFFFFF
    status = _statuses.get(value)
    if status is None:
        status = WaitStatus(value)
        if len(_statuses) < _STATUSES_KEPT:
            _statuses[value] = status
    return wpid, status
