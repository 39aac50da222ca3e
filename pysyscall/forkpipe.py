# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
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
from ._platform import zerrors
from .rwmutex import Hold, RWMutex

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any

PLATFORMS = ("darwin",)
ATOMIC = False  # the pipe is made and marked in two steps

_close = libc.parent("close")


def fork_exec_pipe(p: Any) -> None:
    """Port of forkExecPipe (forkpipe.go): pipe, then FD_CLOEXEC on each end.

    ``p``: C ints (-1 each), the first two of which the kernel fills: an
    exception after the call leaves the fds where the caller closes them.
    """
    libc.call("pipe", ctypes.addressof(p))
    try:
        for fd in p[:2]:
            libc.call("fcntl", fd, zerrors.F_SETFD, zerrors.FD_CLOEXEC)
    except OSError:
        for i in range(2):
            fd, p[i] = p[i], -1
            _close(fd)
        raise


def acquire_fork_lock(fork_lock: RWMutex, spent: Hold | None = None) -> Hold:
    """Port of acquireForkLock (forkpipe.go): lock fork_lock for writing.

    Returns the Hold to give back; on an exception nothing is held.
    ``spent``: the Hold this thread's start record gave back last time,
    taken again if it can be.
    """
    return fork_lock.write_hold(spent=spent)


def release_fork_lock(fork_lock: RWMutex, hold: Hold) -> None:
    """Port of releaseForkLock (forkpipe.go): unlock fork_lock."""
    if not hold.held:
        raise RuntimeError("sync: Unlock of unlocked RWMutex")
    hold.release()
