"""The fork status pipe where pipe2 exists: Go's forkpipe2.go (Linux, BSDs).

pipe2(O_CLOEXEC) makes both ends close-on-exec atomically, so forks need not
exclude each other, only the fd creators that take fork_lock for reading. Go's
CL 421441 (go.dev/issue/23558, 54162) keeps fork_lock's type and promise (a
fork holds it for writing) but shares one write lock among all the forks in
progress: the first forker in locks it, the last one out unlocks it.

Readers must not starve: when one waits, a new forker first lets the current
batch finish (a read lock and unlock of its own), then starts a new batch.
"""

from __future__ import annotations

import ctypes
import threading

from . import libc
from .rwmutex import RWMutex, has_waiting_readers

PLATFORMS = ("linux",)
ATOMIC = True  # pipe2 marks both ends close-on-exec as it makes them

O_CLOEXEC = 0o2000000  # Linux

# Guards forking: the number of forks in progress, each holding a share of
# the one write lock on fork_lock.
forking_lock = threading.Lock()
forking = 0


def fork_exec_pipe() -> tuple[int, int]:
    """Port of forkExecPipe (forkpipe2.go): pipe2 with O_CLOEXEC."""
    fds = (ctypes.c_int * 2)()
    libc.call("pipe2", ctypes.addressof(fds), O_CLOEXEC)
    return fds[0], fds[1]


def acquire_fork_lock(fork_lock: RWMutex) -> None:
    """Port of acquireForkLock (forkpipe2.go): take a share of the write lock.

    fork_lock is always exec_unix.fork_lock; it is passed in so that this
    module, like forkpipe.py, needs nothing from exec_unix.
    """
    global forking
    with forking_lock:
        if forking == 0:
            # No fork in progress: take the write lock for the batch.
            fork_lock.lock()
            forking += 1
            return
        if has_waiting_readers(fork_lock):
            # A reader waits behind the current batch. Wait for the batch to
            # end (a read lock is granted only then), letting readers in.
            forking_lock.release()
            try:
                fork_lock.rlock()
                fork_lock.runlock()
            finally:
                forking_lock.acquire()
            if forking == 0:
                fork_lock.lock()
        forking += 1


def release_fork_lock(fork_lock: RWMutex) -> None:
    """Port of releaseForkLock (forkpipe2.go): the last forker out unlocks."""
    global forking
    with forking_lock:
        if forking <= 0:
            raise RuntimeError("syscall.releaseForkLock: negative count")
        forking -= 1
        if forking == 0:
            fork_lock.unlock()
