# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
# Follows CPython's _posixsubprocess.c: Copyright (c) Python Software Foundation (NOTICE).
"""The child program of a fork_exec request: _posixsubprocess's child as pysyscall steps.

The child's order is Modules/_posixsubprocess.c's child_exec: fds_to_keep
made inheritable, the parent's pipe ends closed, the stdio dup dance,
chdir, umask, the signal reset (restore_signals, then every caught handler
to SIG_DFL and the parent's mask restored, as CPython's vfork child does),
setsid, setpgid, setgroups, setregid, setreuid, close_fds (close_range
marking everything but fds_to_keep close-on-exec), then execve of each
executable in turn. The parent plans every step; the child runs no Python
between fork and execve.

The steps linux.py's program has too are made by the same code: the
Builder's clear_cloexec, chdir, reset_signals, session and execve, and
linux.py's credential_steps (raw setgroups, setregid, setreuid) and
mark_cloexec. What is CPython's own (the stdio dance, the parent's pipe
ends, umask, the errno pipe's writes) is written here.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

from .. import env_unix, libc, runtime
from .._platform import system as _system
from .._platform import zerrors, zsysnum
from ..plan import Builder, Cell, Plan, SysProcAttrBase
from .arguments import ID_NONE, Request
from .errpipe import ERRNO_SIZE

if TYPE_CHECKING:
    from ..plan import Envv

# Planned where the child's raw system calls (zsysnum) are known: Linux on
# x86-64 and arm64. _posixsubprocess calls the libc wrappers of the set*id
# family, which in a forked child of a threaded process signal threads that
# do not exist; umask has no libc entry in libc.py's table.
PLANNED = zsysnum is not None


# --- the child's program -------------------------------------------------------------


def signal_state() -> Any:
    """What the plan's signal steps depend on, in a comparable form.

    (SigIgn, SigCgt) of this process as the kernel has them, from
    /proc/self/status (/proc/self/stat is cheaper, but shows only signals
    1-31); without /proc, pysyscall's list of signals to reset and Python's
    view of the two signals Python ignores at start-up.
    """
    masks = runtime._proc_signal_masks()
    if masks is not None:
        return masks
    return (
        tuple(runtime.signals_to_reset()),
        tuple(signal.getsignal(s) for s in runtime.IGNORED_BY_PYTHON),
    )


def signals_to_reset(state: Any, restore_signals: bool) -> list[int]:
    """The signals the child sets to SIG_DFL: CPython's vfork child's choice.

    Port of reset_signal_handlers and, for restore_signals,
    _Py_RestoreSignals (_posixsubprocess.c, Python/pylifecycle.c).

    Every caught signal (its handler must not run in the child once the
    mask is restored; execve would reset it anyway), and with
    restore_signals SIGPIPE and SIGXFSZ whatever they are. Ignored signals
    stay ignored. ``state`` is signal_state()'s.
    """
    first, second = state
    if isinstance(first, int):
        ignored, caught = first, second
        wanted = caught & runtime.ASKABLE_MASK
        if restore_signals:
            wanted |= runtime.IGNORED_BY_PYTHON_MASK
        else:
            wanted &= ~(ignored & runtime.IGNORED_BY_PYTHON_MASK)
        return runtime.signals_of(wanted)
    signals = set(first)
    for signum, handler in zip(runtime.IGNORED_BY_PYTHON, second):
        if restore_signals:
            signals.add(signum)
        elif handler == signal.SIG_IGN:
            signals.discard(signum)
    return sorted(signals)


class Prepared:
    """A planned request: the plan, the cell that carries the errno pipe's fd,
    and the number of executables; ``environ`` is the plan's (the plan
    cache takes it again before a kept plan starts: remembered.take)."""

    __slots__ = ("environ", "errno_fd", "executables", "plan")

    def __init__(self, plan: Plan, errno_fd: Cell | None, executables: int) -> None:
        self.plan = plan
        self.errno_fd = errno_fd
        self.executables = executables
        self.environ = plan.environ


def child_program(
    request: Request, state: Any = None, errno_address: int | None = None
) -> Prepared:
    """Plan _posixsubprocess's child for ``request`` as pysyscall steps.

    Port of child_exec (_posixsubprocess.c), in its order.

    ``state``: signal_state() (read now if None); ``errno_address``: the
    calling thread's errno (read now if None), which the child reports after
    each failed execve but the last. env_list None: the C library's
    ``environ``, as execv gives it natively (env_unix.Environ).
    """
    assert zsysnum is not None  # planned only where the numbers are known (PLANNED)
    from .. import linux  # planned on Linux only

    if not request.executables:
        raise ValueError("executable_list must not be empty")
    if state is None:
        state = signal_state()
    envv: Envv = env_unix.Environ() if request.env_list is None else request.env_list
    b = Builder()
    stdio = request.stdio
    fds_named = [
        *stdio,
        *request.parent_ends,
        request.errpipe_read,
        request.errpipe_write,
        *request.fds_to_keep,
    ]
    # pysyscall's status pipe and the errno pipe go above every fd named
    # here, so no step of this program can touch them.
    first_free_fd = max([3, *(fd + 1 for fd in fds_named)])

    # fds_to_keep become inheritable, all but errpipe_write (close-on-exec,
    # and written by this parent instead).
    for fd in request.fds_to_keep:
        if fd != request.errpipe_write:
            b.clear_cloexec(fd)
    # The parent's ends of the pipes.
    for fd in request.parent_ends:
        if fd != -1:
            b.call("close", fd, text=f"close({fd})")
    b.call("close", request.errpipe_read, text=f"close({request.errpipe_read})")

    # The stdio dance: a source the dups would overwrite first moves to 3 or
    # above (close-on-exec); a source already in place only loses
    # close-on-exec; -1 leaves fd i as it is.
    sources: list[Any] = list(stdio)
    for i in (1, 2):
        if 0 <= sources[i] < i:
            moved = b.cell(-1)
            b.call(
                "fcntl",
                sources[i],
                zerrors.F_DUPFD_CLOEXEC,
                3,
                text=f"fcntl({sources[i]}, F_DUPFD_CLOEXEC, 3) -> fd{i}",
                store=moved,
                name="dup",
            )
            sources[i] = moved
    for i, source in enumerate(sources):
        if isinstance(source, int) and source == -1:
            continue
        if isinstance(source, int) and source == i:
            b.clear_cloexec(i)
        else:
            shown = source if isinstance(source, int) else f"fd{i}"
            b.call("dup2", source, i, text=f"dup2({shown}, {i})")
    if request.cwd is not None:
        b.chdir(request.cwd)
    if request.child_umask >= 0:
        b.call(
            "syscall",
            zsysnum.SYS_UMASK,
            request.child_umask,
            text=f"syscall(SYS_umask, {request.child_umask:#o})",
            name="umask",
            checked=False,
        )
    saved_mask = b.reset_signals(
        signals_to_reset(state, request.restore_signals),
        zerrors.SIGACTION_SIZE,
        zerrors.SIG_SETMASK,
        zerrors.SIGSET_SIZE,
    )
    session = SysProcAttrBase(
        setsid=request.call_setsid,
        setpgid=request.pgid_to_set >= 0,
        pgid=max(request.pgid_to_set, 0),
    )
    b.session(session, zerrors.TIOCSPGRP)
    linux.credential_steps(
        b,
        request.extra_groups,
        None if request.gid == ID_NONE else request.gid,
        None if request.uid == ID_NONE else request.uid,
        real=True,
    )
    if request.close_fds:
        # Every fd from 3 up but fds_to_keep: close-on-exec.
        low = 3
        for fd in [*request.fds_to_keep, 0x100000000]:
            if fd > low:
                top = str(fd - 1) if fd < 0x100000000 else "~0U"
                linux.mark_cloexec(b, low, min(fd - 1, 0xFFFFFFFF), top)
            low = max(low, fd + 1)
    # Every executable in turn, sharing one argv and one envp. After each
    # failure but the last, the child writes its errno into the errno pipe
    # (errno_fd, set for each start); the parent picks the one to report.
    count = len(request.executables)
    errno_fd = None
    if count > 1:
        errno_fd = b.cell(-1)
        if errno_address is None:
            errno_address = errno_location()
    arrays = None
    for index, executable in enumerate(request.executables):
        last = index == count - 1
        arrays = b.execve(executable, request.args, envv, arrays, checked=last)
        if not last:
            b.call(
                "write",
                errno_fd,
                errno_address,
                ERRNO_SIZE,
                text="write(<errno pipe>, &errno, 4)",
                name="errno",
                checked=False,
            )
    assert _system.FORK is not None
    plan = b.plan(
        _system.__name__.rpartition(".")[2], _system.FORK, _system.EXIT, first_free_fd, saved_mask
    )
    # The rule signals_to_reset followed: every caught signal, and the
    # ignored ones Python ignores by itself with restore_signals. A runner
    # that applies it in the child (vfork) needs no new reading of the
    # handlers for a kept plan.
    plan.signal_rule = runtime.IGNORED_BY_PYTHON if request.restore_signals else ()
    return Prepared(plan, errno_fd, count)


def errno_location() -> int:
    """The address of the calling thread's errno (a child of this thread writes there)."""
    address: int = libc.child(_system.ERRNO_LOCATION)()
    return address
