"""The fork status pipe where pipe2 is missing: Go's forkpipe.go (aix, darwin).

The pipe is made with pipe() and marked close-on-exec afterwards, so between
the two calls its fds are inheritable. If two forks could run at once, one
child could inherit the other's status pipe and, if it lives long, hold the
write end open: that start then never sees EOF and hangs (go.dev/issue/61080,
CL 507355). So here every fork takes the fork lock for writing: forks are
serialized.

Importable and tested on every platform, so the darwin protocol is exercised
on Linux too.
"""

from __future__ import annotations

import ctypes

from . import libc
from .rwmutex import RWMutex

PLATFORMS = ("darwin",)
ATOMIC = False  # the pipe is made and marked in two steps

F_SETFD = 2  # the same number on Linux and darwin
FD_CLOEXEC = 1


def fork_exec_pipe() -> tuple[int, int]:
    """Port of forkExecPipe (forkpipe.go): pipe, then FD_CLOEXEC on each end."""
    fds = (ctypes.c_int * 2)()
    libc.call("pipe", ctypes.addressof(fds))
    try:
        for fd in fds:
            libc.call("fcntl", fd, F_SETFD, FD_CLOEXEC)
    except OSError:
        for fd in fds:
            libc.parent("close")(fd)
        raise
    return fds[0], fds[1]


def acquire_fork_lock(fork_lock: RWMutex) -> None:
    """Port of acquireForkLock (forkpipe.go): lock fork_lock for writing."""
    fork_lock.lock()


def release_fork_lock(fork_lock: RWMutex) -> None:
    """Port of releaseForkLock (forkpipe.go): unlock fork_lock."""
    fork_lock.unlock()
