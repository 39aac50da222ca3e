# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The fork status pipe where pipe2 exists: Go's forkpipe2.go (Linux, BSDs).

pipe2(O_CLOEXEC) makes both ends close-on-exec atomically, so forks need not
exclude each other, only the fd creators that take fork_lock for reading. Go's
CL 421441 (go.dev/issue/23558, 54162) keeps fork_lock's type and promise (a
fork holds it for writing) but shares one write lock among all the forks in
progress: the first forker in locks it, the last one out unlocks it.

Readers must not starve: when one waits, a new forker first lets the current
batch finish, then starts a new batch. Go counts the forks in progress under
a lock of its own (forkingLock, forking); here the RWMutex keeps the batch
(``RWMutex.write_hold(shared=True)``), so that taking and giving back a share
is one change of its state, which an exception cannot cut in two.
"""

from __future__ import annotations

import ctypes

from . import libc
from ._platform import zerrors
from .rwmutex import Hold, RWMutex

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any

PLATFORMS = ("linux",)
ATOMIC = True  # pipe2 marks both ends close-on-exec as it makes them


def fork_exec_pipe(p: Any) -> None:
    """Port of forkExecPipe (forkpipe2.go): pipe2 with O_CLOEXEC, into ``p``.

    ``p``: C ints (-1 each), the first two of which the kernel fills: an
    exception after the call leaves the fds where the caller closes them.
    """
    libc.call("pipe2", ctypes.addressof(p), zerrors.O_CLOEXEC)


def acquire_fork_lock(fork_lock: RWMutex, spent: Hold | None = None) -> Hold:
    """Port of acquireForkLock (forkpipe2.go): take a share of the write lock.

    The first fork in starts the batch's turn (waiting for the readers in);
    the next ones join it, unless a reader waits for the batch to end: then
    they wait for it too, and the readers get in first. Returns the Hold to
    give back; on an exception nothing is held. ``spent``: the Hold this
    thread's start record gave back last time, taken again if it can be.
    """
    return fork_lock.write_hold(shared=True, spent=spent)


def release_fork_lock(fork_lock: RWMutex, hold: Hold) -> None:
    """Port of releaseForkLock (forkpipe2.go): the last forker out unlocks."""
    if not hold.held:
        raise RuntimeError("syscall.releaseForkLock: negative count")
    hold.release()


def forking(fork_lock: RWMutex) -> int:
    """Go's ``forking``: the number of forks in progress, sharing the write lock."""
    turn = fork_lock._turn
    return len(fork_lock._writers) if turn is not None and turn.shared else 0
