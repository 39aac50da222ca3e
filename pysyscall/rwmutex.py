"""A reader/writer mutual exclusion lock with Go's semantics (sync/rwmutex.go).

Python's threading module has no RWMutex. fork_lock needs Go's exactly:

* writer preference: once a writer is waiting, new readers block, so a stream
  of readers cannot starve a writer (and a recursive read lock can deadlock,
  as in Go);
* a lock may be released by another thread than the one that took it: the
  counting fork lock (forkpipe2.py) lets the last forker out release the write
  lock the first forker took;
* ``has_waiting_readers``, the private probe Go's sync package gives syscall
  for the same counting lock (CL 421441).

The bookkeeping is Go's: ``reader_count`` is pushed down by
``RWMUTEX_MAX_READERS`` while a writer is pending or holds the lock, and
``reader_wait`` counts the readers the writer still waits for. Go's atomic
adds become adds under one small internal lock; its semaphores become
threading.Semaphore.
"""

from __future__ import annotations

import threading
from typing import Any

RWMUTEX_MAX_READERS = 1 << 30


class RWMutex:
    """Port of Go's sync.RWMutex. The zero value is unlocked."""

    def __init__(self) -> None:
        self._w = threading.Lock()  # held by the pending or active writer
        self._atomic = threading.Lock()  # stands in for Go's atomic adds
        self._writer_sem = threading.Semaphore(0)
        self._reader_sem = threading.Semaphore(0)
        self._reader_count = 0
        self._reader_wait = 0

    def _add_reader_count(self, delta: int) -> int:
        with self._atomic:
            self._reader_count += delta
            return self._reader_count

    def _add_reader_wait(self, delta: int) -> int:
        with self._atomic:
            self._reader_wait += delta
            return self._reader_wait

    def rlock(self) -> None:
        """Port of RWMutex.RLock: lock for reading; waits while a writer is pending."""
        if self._add_reader_count(1) < 0:
            self._reader_sem.acquire()

    def try_rlock(self) -> bool:
        """Port of RWMutex.TryRLock: lock for reading only if that needs no wait."""
        with self._atomic:
            if self._reader_count < 0:
                return False
            self._reader_count += 1
            return True

    def runlock(self) -> None:
        """Port of RWMutex.RUnlock: undo one rlock."""
        r = self._add_reader_count(-1)
        if r < 0:
            self._runlock_slow(r)

    def _runlock_slow(self, r: int) -> None:
        """Port of RWMutex.rUnlockSlow: the last reader a writer waits for wakes it."""
        if r + 1 == 0 or r + 1 == -RWMUTEX_MAX_READERS:
            self._add_reader_count(1)
            raise RuntimeError("sync: RUnlock of unlocked RWMutex")
        if self._add_reader_wait(-1) == 0:
            self._writer_sem.release()

    def lock(self) -> None:
        """Port of RWMutex.Lock: lock for writing; waits for active readers."""
        self._w.acquire()
        # Announce the pending writer, then wait for the readers already in.
        r = self._add_reader_count(-RWMUTEX_MAX_READERS) + RWMUTEX_MAX_READERS
        if r != 0 and self._add_reader_wait(r) != 0:
            self._writer_sem.acquire()

    def try_lock(self) -> bool:
        """Port of RWMutex.TryLock: lock for writing only if that needs no wait."""
        if not self._w.acquire(blocking=False):
            return False
        with self._atomic:
            if self._reader_count != 0:
                self._w.release()
                return False
            self._reader_count = -RWMUTEX_MAX_READERS
        return True

    def unlock(self) -> None:
        """Port of RWMutex.Unlock: admit the readers that queued, then the next writer.

        Any thread may unlock, as in Go.
        """
        r = self._add_reader_count(RWMUTEX_MAX_READERS)
        if r >= RWMUTEX_MAX_READERS:
            self._add_reader_count(-RWMUTEX_MAX_READERS)
            raise RuntimeError("sync: Unlock of unlocked RWMutex")
        for _ in range(r):
            self._reader_sem.release()
        self._w.release()

    def rlocker(self) -> RLocker:
        """Port of RWMutex.RLocker: a context manager taking the read side."""
        return RLocker(self)

    def __enter__(self) -> RWMutex:
        self.lock()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.unlock()


class RLocker:
    """The read side of an RWMutex as a lock: ``with fork_lock.rlocker(): ...``."""

    def __init__(self, rw: RWMutex) -> None:
        self._rw = rw

    def __enter__(self) -> RLocker:
        self._rw.rlock()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._rw.runlock()


def has_waiting_readers(rw: RWMutex) -> bool:
    """Port of sync's syscall_hasWaitingReaders (rwmutex.go, CL 421441).

    True when a writer holds or waits for ``rw`` and at least one reader has
    queued since: the counting fork lock then lets the readers in first.
    """
    with rw._atomic:
        r = rw._reader_count
    return r < 0 and r + RWMUTEX_MAX_READERS > 0
