# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The runtime's side of fork (Go's runtime/proc.go and signal_unix.go hooks).

Go's runtime blocks every signal in the forking thread before fork, so no
handler runs in the child before exec (go.dev/issue/18600), restores the
mask in the parent right after, and in the child resets the handlers it
installed, then restores the mask. Here the child's part is planned as steps
(Builder.reset_signals); this module does the parent's part.

Python adds one hazard Go does not have: on CPython 3.9-3.11, allocating an
object can start a garbage collection at once, and a collection can run
__del__ methods, Python code, in the child. The collector is paused across
the fork (3.12+ only schedules collections for the eval loop, which the
child never enters, but pausing costs nothing). The parent needs it too: a
kept vfork start takes the fork lock's share inside the pause, where a
finalizer that starts a process would wait on its own thread
(runner_vfork.start_kept).
"""

from __future__ import annotations

import ctypes
import functools
import gc
import itertools
import os
import signal
import threading
from collections.abc import Iterator

from . import libc
from ._platform import GOOS, zerrors
from .libc import invoke as _call
from .libc import run_chain as _run
from .plan import mask_calls
from .rwmutex import Hold, RWMutex

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any, Callable

# Python itself ignores these at start-up; a child of Go (which catches
# SIGPIPE) or of subprocess (restore_signals=True) gets them at default.
IGNORED_BY_PYTHON = (signal.SIGPIPE, signal.SIGXFSZ)

_sigmask = libc.child("pthread_sigmask")
_GC_RESUME = {True: gc.enable, False: int}  # int(): a call that does nothing


_GC_RAN = ("gc_ran",)
_GC_IS_ENABLED = (gc.isenabled,)


class ForkCalls:
    """Port of syscall_runtime_BeforeFork and AfterFork, as C calls for a chain.

    Before (``before()``): pause the GC, block every signal (the thread's
    previous mask goes into ``saved_mask``, the plan's buffer, which the
    child restores). After (``after()``, in the parent only): restore the
    mask, resume the GC if it ran. A runner makes them in the same chain of
    C calls as the fork itself, so no signal handler can run in between:
    not with the mask blocked (a process-directed signal still trips the
    main thread's handler, which a start from that handler would then see
    as the mask to give its child), and not between the fork and the pid's
    recording (plan.Start).

    Whether the GC ran is read in the chain, right before the pause, as
    _posixsubprocess's PyGC_Disable returns it: read earlier, another
    thread's start could pause it in between (its clone or its wait for the
    exec releases the GIL) and resume it before this pause, and the GC
    would be left off for good (CI's emulated aarch64 machine saw it).

    Made once per plan (the vfork runner keeps it with the plan): the calls
    are kept in tuples, and each start makes only the one-shot iterators
    over them (the few allocations of ``before()`` and ``after()``). A
    plan's starts never run at once (remembered.py), so one ``gc_ran``
    serves them all.
    """

    __slots__ = ("_block", "_restore", "_self", "gc_ran")

    def __init__(self, saved_mask: Any) -> None:
        block, restore = mask_calls(_sigmask, saved_mask)
        self.gc_ran = False
        self._self = (self,)
        self._block = (gc.disable, block)
        self._restore = (restore,)

    def before(self) -> Iterator[Any]:
        """One start's BeforeFork: whether the GC ran, the pause, the block."""
        # Read and paused by two C calls in a row, which no other thread can
        # come between (the GIL is released only by a call that says so).
        return itertools.chain(
            map(setattr, self._self, _GC_RAN, map(_call, _GC_IS_ENABLED)),
            map(_call, self._block),
        )

    def around(self, fork: Iterator[Any]) -> Iterator[Any]:
        """``before()``, the calls of ``fork``, ``after()``: one chain, fewer iterators."""
        return itertools.chain(
            map(setattr, self._self, _GC_RAN, map(_call, _GC_IS_ENABLED)),
            map(_call, self._block),
            fork,
            map(_call, self._restore),
            map(_call, map(_GC_RESUME.get, map(getattr, self._self, _GC_RAN))),
        )

    def after(self) -> Iterator[Any]:
        """One start's AfterFork: the mask restored, the GC resumed if it ran."""
        return itertools.chain(
            map(_call, self._restore),
            map(_call, map(_GC_RESUME.get, map(getattr, self._self, _GC_RAN))),
        )


def signals_to_reset() -> list[int]:
    """The signals the child must set to SIG_DFL before restoring its mask.

    Port of the choice in clearSignalHandlers (signal_unix.go): every signal
    with a handler (Python's, or a C library's) goes back to SIG_DFL, so a
    signal arriving between the mask restore and execve cannot run the
    parent's handler in the child (CPython's would write to the parent's
    wakeup fd). Ignored signals stay ignored, except the two Python ignores
    by itself (IGNORED_BY_PYTHON). Asked of the kernel on every start, since
    any library may change a handler at any time: on Linux in one read of
    /proc/self/status (its SigIgn and SigCgt masks, about 15 µs), elsewhere
    (or without /proc) one sigaction query per signal (about 50 µs).
    """
    masks = _proc_signal_masks()
    if masks is None:
        return _signals_to_reset_by_sigaction()
    ignored, caught = masks
    return signals_of((caught | ignored & IGNORED_BY_PYTHON_MASK) & ASKABLE_MASK)


def signals_of(mask: int) -> list[int]:
    """The signals of a /proc-style mask (bit n-1 is signal n), lowest first."""
    signals = []
    while mask:
        lowest = mask & -mask
        signals.append(lowest.bit_length())
        mask ^= lowest
    return signals


def _signals_to_reset_by_sigaction(signals: range = range(1, signal.NSIG)) -> list[int]:
    action = ctypes.create_string_buffer(zerrors.SIGACTION_SIZE)
    handler = ctypes.c_void_p.from_buffer(action)
    sigaction = libc.child("sigaction")
    address = ctypes.addressof(action)
    result = []
    for signum in signals:
        if sigaction(signum, None, address) != 0:
            continue  # a signal the C library keeps for itself
        disposition = handler.value or zerrors.SIG_DFL
        if disposition == zerrors.SIG_IGN:
            if signum in IGNORED_BY_PYTHON:
                result.append(signum)
        elif disposition != zerrors.SIG_DFL:
            result.append(signum)
    return result


def _askable() -> list[int]:
    """The signals sigaction answers for: all but the C library's own (glibc's 32, 33)."""
    action = ctypes.create_string_buffer(zerrors.SIGACTION_SIZE)
    sigaction = libc.child("sigaction")
    return [s for s in range(1, signal.NSIG) if sigaction(s, None, action) == 0]


# Fixed by the C library and Python: computed once (and as /proc's bit masks).
ASKABLE = tuple(_askable())  # the signals whose handlers a child may reset
ASKABLE_MASK = sum(1 << (s - 1) for s in ASKABLE)
IGNORED_BY_PYTHON_MASK = sum(1 << (s - 1) for s in IGNORED_BY_PYTHON)


_STATUS_SIZE = 8192
_open_status = functools.partial(
    libc.parent("open"),
    *libc.variadic_arguments("open", (b"/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)),
)
_read, _close = libc.parent("read"), libc.parent("close")


def _proc_signal_masks() -> tuple[int, int] | None:
    """(SigIgn, SigCgt) of this process from /proc/self/status; None without it.

    The kernel's own classification (proc_pid_status): a signal is ignored
    when its handler is SIG_IGN, caught when it is neither SIG_IGN nor
    SIG_DFL, exactly the test signals_to_reset makes.
    """
    if GOOS != "linux":
        return None
    # Opened, read and closed in one chain of C calls: a signal handler that
    # raises cannot run between the open and the close (the fd would leak).
    buffer = ctypes.create_string_buffer(_STATUS_SIZE)
    fd, got = ctypes.c_int(-1), ctypes.c_ssize_t(-1)
    read = functools.partial(_read, fd, buffer, _STATUS_SIZE)
    _run(
        itertools.chain(
            map(setattr, (fd,), ("value",), map(_call, (_open_status,))),
            map(setattr, (got,), ("value",), map(_call, (read,))),
            map(_call, (functools.partial(_close, fd),)),
        )
    )
    if fd.value < 0 or got.value < 0:
        return None
    data = buffer.raw[: got.value]
    ignored = data.find(b"\nSigIgn:\t")
    caught = data.find(b"\nSigCgt:\t")
    if ignored < 0 or caught < 0:
        return None
    try:
        return int(data[ignored + 9 : data.index(b"\n", ignored + 9)], 16), int(
            data[caught + 9 : data.index(b"\n", caught + 9)], 16
        )
    except ValueError:
        return None


exec_lock = RWMutex("exec_lock", "exec")
exec_lock.__doc__ = """Port of the runtime's execLock (proc.go, go.dev/issue/19546).

Linux's execve, racing with clone in another thread, can drop the setuid bit
of the new program (the kernel sees the exec as unsafely shared). Exec holds
exec_lock for writing; every thread start made through the threading module
holds it for reading (see install_thread_hook), so thread starts do not wait
for each other, only for an exec in progress.
"""


def before_exec() -> Hold:
    """Port of syscall_runtime_BeforeExec: no thread starts from here on.

    Returns the exec lock's Hold: its ``release()`` is syscall_runtime_AfterExec
    (reached only when execve failed), one C call.
    """
    return exec_lock.write_hold()


# The function threading.Thread.start calls to make the OS thread: CPython
# 3.9-3.12 call threading._start_new_thread, 3.13+ _start_joinable_thread.
_THREAD_STARTERS = ("_start_joinable_thread", "_start_new_thread")
# This copy's wrapper per name, while it is in threading's chain. Another
# copy of pysyscall (a vendored one) wraps whatever it finds there, this
# copy's wrapper included, so a wrapper is never taken out from under
# another's: removing one that is not outermost only turns it off.
_wrappers: dict[str, Callable[..., Any]] = {}
_hook_on = False


def _hooked(start: Callable[..., Any]) -> Callable[..., Any]:
    def start_under_exec_lock(*args: Any, **kwargs: Any) -> Any:
        if not _hook_on:
            return start(*args, **kwargs)
        hold = exec_lock.read_hold()
        try:
            return start(*args, **kwargs)
        finally:
            hold.release()  # one C call: a Ctrl-C cannot skip it

    start_under_exec_lock.__wrapped__ = start  # type: ignore[attr-defined]
    return start_under_exec_lock


def _in_chain(function: Any, wrapper: Any) -> bool:
    """Whether ``wrapper`` is ``function`` or is wrapped (at any depth) by it."""
    while function is not None:
        if function is wrapper:
            return True
        function = getattr(function, "__wrapped__", None)
    return False


def install_thread_hook() -> None:
    """Make threading.Thread.start take exec_lock for reading (done when this loads).

    Port of newm1's read lock of execLock around thread creation (proc.go). Threads made
    with the _thread module directly, or by C code, are not covered. Turn the
    hook off with remove_thread_hook(), or before this module loads (the
    first use of a pysyscall name) with the environment variable
    PYSYSCALL_THREAD_HOOK=0.
    """
    global _hook_on
    for name in _THREAD_STARTERS:
        start = getattr(threading, name, None)
        if start is not None and not _in_chain(start, _wrappers.get(name)):
            _wrappers[name] = _hooked(start)
            setattr(threading, name, _wrappers[name])
    _hook_on = True


def remove_thread_hook() -> None:
    """Undo install_thread_hook: thread starts no longer wait for this copy's exec.

    The wrapper comes out of threading if it is the outermost; one that
    another copy of pysyscall has wrapped since stays, passing starts
    straight through, so that copy's hook keeps working.
    """
    global _hook_on
    _hook_on = False
    for name, wrapper in list(_wrappers.items()):
        if getattr(threading, name, None) is wrapper:
            setattr(threading, name, wrapper.__wrapped__)
            del _wrappers[name]


os.register_at_fork(after_in_child=exec_lock.at_fork_reinit)
if os.environ.get("PYSYSCALL_THREAD_HOOK", "1") != "0":
    install_thread_hook()
