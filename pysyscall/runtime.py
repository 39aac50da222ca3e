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
child never enters, but pausing costs nothing).
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import threading
from typing import Any, Callable

from . import libc
from ._platform import system
from .rwmutex import RWMutex

SIG_DFL = 0
SIG_IGN = 1

# Python itself ignores these at start-up; a child of Go (which catches
# SIGPIPE) or of subprocess (restore_signals=True) gets them at default.
IGNORED_BY_PYTHON = (signal.SIGPIPE, signal.SIGXFSZ)

_all_signals = ctypes.create_string_buffer(system.SIGSET_SIZE)
libc.call("sigfillset", ctypes.addressof(_all_signals))


def before_fork(saved_mask: Any) -> bool:
    """Port of syscall_runtime_BeforeFork: pause the GC, block every signal.

    The thread's previous mask goes into ``saved_mask`` (the plan's buffer,
    which the child restores). Returns whether the GC was enabled.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    error = libc.child("pthread_sigmask")(
        system.SIG_BLOCK, ctypes.addressof(_all_signals), ctypes.addressof(saved_mask)
    )
    if error:
        if gc_was_enabled:
            gc.enable()
        raise libc.errno_error(error, "pthread_sigmask")
    return gc_was_enabled


def after_fork(saved_mask: Any, gc_was_enabled: bool) -> None:
    """Port of syscall_runtime_AfterFork: restore the mask, resume the GC."""
    libc.child("pthread_sigmask")(system.SIG_SETMASK, ctypes.addressof(saved_mask), None)
    if gc_was_enabled:
        gc.enable()


def signals_to_reset() -> list[int]:
    """The signals the child must set to SIG_DFL before restoring its mask.

    Port of the choice in clearSignalHandlers (signal_unix.go): every signal
    with a handler (Python's, or a C library's) goes back to SIG_DFL, so a
    signal arriving between the mask restore and execve cannot run the
    parent's handler in the child (CPython's would write to the parent's
    wakeup fd). Ignored signals stay ignored, except the two Python ignores
    by itself (IGNORED_BY_PYTHON). Asked of the kernel on every start, since
    any library may change a handler at any time.
    """
    action = ctypes.create_string_buffer(system.SIGACTION_SIZE)
    handler = ctypes.c_void_p.from_buffer(action)
    sigaction = libc.child("sigaction")
    address = ctypes.addressof(action)
    signals = []
    for signum in range(1, signal.NSIG):
        if sigaction(signum, None, address) != 0:
            continue  # a signal the C library keeps for itself
        disposition = handler.value or SIG_DFL
        if disposition == SIG_IGN:
            if signum in IGNORED_BY_PYTHON:
                signals.append(signum)
        elif disposition != SIG_DFL:
            signals.append(signum)
    return signals


exec_lock = RWMutex()
exec_lock.__doc__ = """Port of the runtime's execLock (proc.go, go.dev/issue/19546).

Linux's execve, racing with clone in another thread, can drop the setuid bit
of the new program (the kernel sees the exec as unsafely shared). Exec holds
exec_lock for writing; every thread start made through the threading module
holds it for reading (see install_thread_hook), so thread starts do not wait
for each other, only for an exec in progress.
"""


def before_exec() -> None:
    """Port of syscall_runtime_BeforeExec: no thread starts from here on."""
    exec_lock.lock()


def after_exec() -> None:
    """Port of syscall_runtime_AfterExec: reached only when execve failed."""
    exec_lock.unlock()


# The function threading.Thread.start calls to make the OS thread: CPython
# 3.9-3.12 call threading._start_new_thread, 3.13+ _start_joinable_thread.
_THREAD_STARTERS = ("_start_joinable_thread", "_start_new_thread")
_unhooked: dict[str, Callable[..., Any]] = {}


def _hooked(start: Callable[..., Any]) -> Callable[..., Any]:
    def start_under_exec_lock(*args: Any, **kwargs: Any) -> Any:
        exec_lock.rlock()
        try:
            return start(*args, **kwargs)
        finally:
            exec_lock.runlock()

    start_under_exec_lock.__wrapped__ = start  # type: ignore[attr-defined]
    return start_under_exec_lock


def install_thread_hook() -> None:
    """Make threading.Thread.start take exec_lock for reading (done at import).

    Port of newm's read lock around thread creation (proc.go). Threads made
    with the _thread module directly, or by C code, are not covered. Turn the
    hook off with remove_thread_hook(), or before importing pysyscall with
    the environment variable PYSYSCALL_THREAD_HOOK=0.
    """
    for name in _THREAD_STARTERS:
        start = getattr(threading, name, None)
        if start is not None and name not in _unhooked:
            _unhooked[name] = start
            setattr(threading, name, _hooked(start))


def remove_thread_hook() -> None:
    """Undo install_thread_hook: thread starts no longer wait for exec."""
    for name, start in _unhooked.items():
        setattr(threading, name, start)
    _unhooked.clear()


if os.environ.get("PYSYSCALL_THREAD_HOOK", "1") != "0":
    install_thread_hook()
