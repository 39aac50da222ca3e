# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""A reader/writer mutual exclusion lock with Go's semantics (sync/rwmutex.go).

Python's threading module has no RWMutex. fork_lock needs Go's exactly:

* writer preference: once a writer is waiting, new readers block, so a stream
  of readers cannot starve a writer (and a recursive read lock can deadlock,
  as in Go); the readers that queued behind a writer get in when it unlocks,
  before the next writer;
* a lock may be released by another thread than the one that took it;
* a write side that forks share (``write_hold(shared=True)``): Go's counting
  fork lock (forkpipe2.go, CL 421441) lets the forks in progress share one
  write lock, the first one in taking it and the last one out releasing it,
  and a new fork waits for the batch to end when a reader waits for it
  (``has_waiting_readers``, the probe Go's sync package gives syscall).

Go's atomic counters and semaphores are replaced by a state that only
changes under one internal mutex, because Python has what Go has not:
asynchronous exceptions. A signal handler (SIGINT's raises
KeyboardInterrupt; any handler may raise, or start a process itself) runs
in the main thread when a Python function starts, right after a call into C
returns, or at a backward jump. Code that makes no call and has no loop has
no such point, and neither has a chain of C calls driven by C iterators
(``_run``, as runner_fork.py drives the child). So:

* the internal mutex is the C library's (``pthread_mutex_lock`` through the
  GIL-releasing handle: waiting for it never runs a handler, where a
  threading.Lock's acquire would), taken by a C chain that also marks this
  thread as inside (``_local.inside``), and released by a C chain that also
  wakes the waiters when asked to;
* each change of state is a ``_*_step`` method that makes no call and has no
  loop, run between the two chains (``_locked``); a handler can run only
  right after the take (before the step; the mark then tells the exception
  path to release) or after the release;
* a holding of the write side (``Hold``) carries its release as one
  prepared C chain: giving it back is one call that cannot be cut half-way,
  and once done it does nothing (an exception path may call it again);
* a thread that must wait waits on a lock of its own (``_waiters``); every
  release wakes them all and each checks again; a wait cut short by an
  exception is backed out of before the exception leaves;
* a fork whose own fork runs in a chain of C calls (a kept vfork start)
  takes its share in that chain, and gives it back there (``Share``):
  granted by C under the internal mutex only when the lock is idle, else
  not at all, and then taken the usual way;
* a thread never waits on itself: a signal handler that takes the lock in
  the middle of this thread's bookkeeping, or asks for the write side this
  thread holds, gets a RuntimeError saying so; a fork's share of a batch
  this thread already holds a share of is granted at once;
* a write-side wait by a thread that holds the read side (a handler that
  starts a process while its thread is between making an fd and marking it
  close-on-exec under ``fork_lock.rlock()``; or a thread doing that itself,
  a deadlock in Go) would wait for its own thread to leave: it raises
  OSError(EDEADLK) instead, with nothing taken. So each thread counts its
  rlock()s (``_local.reads``) and keeps its read_hold()s. Go lets another
  thread RUnlock; such a runlock is taken off the caller's count when it
  has one, else it cannot say whose read it ends, and when some thread's
  count could be that read, every count is forgotten (``_epoch``): a start
  may then wait where it could have been refused, but is never refused
  where another thread will let it in.

After os.fork() the child gets a fresh state (``at_fork_reinit``), as CPython
gives its own locks: the threads that held the lock do not exist there.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import itertools
import operator
import threading

from . import libc
from .libc import invoke as _call
from .libc import run_chain as _run

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Callable, Union

_wake = operator.methodcaller("release")
_MUTEX_SIZE = 64  # at least sizeof(pthread_mutex_t): 40 on x86-64 glibc, 48 on arm64, 64 on darwin

REENTERED = (
    "this thread is already inside the lock's bookkeeping (a signal handler took the "
    "lock while this thread was taking or releasing it): waiting would wait on itself"
)
HOLDS_WRITE = (
    "this thread holds the lock for writing (a signal handler that starts a process "
    "ran in the middle of a start?): waiting for it would wait on itself"
)


class _Mutex:
    """A C library mutex in ctypes memory: waiting for it runs no signal handler."""

    __slots__ = ("lock", "memory", "unlock")

    def __init__(self) -> None:
        self.memory = ctypes.create_string_buffer(_MUTEX_SIZE)
        error = libc.parent("pthread_mutex_init")(self.memory, None)
        if error:
            raise libc.errno_error(error, "pthread_mutex_init")
        # By address: ctypes converts an int faster than the buffer object
        # (callgrind: 6,100 instructions a lock and unlock, 7,600), and a
        # start takes and gives back the mutex twice. self.memory keeps it.
        address = ctypes.addressof(self.memory)
        self.lock = functools.partial(libc.parent("pthread_mutex_lock"), address)
        self.unlock = functools.partial(libc.parent("pthread_mutex_unlock"), address)


class _ThreadState(threading.local):
    inside = False  # this thread holds the internal mutex
    reads = 0  # this thread's rlock()s not yet runlock()ed, if epoch is the lock's
    epoch = 0

    def __init__(self) -> None:
        self.holds: dict[Hold, None] = {}  # this thread's holds of the write side
        self.read_holds: dict[_Reader, None] = {}  # and its read_hold()s


class _Turn:
    """A writer's turn, or a batch of forks': announced, then started, then over.

    ``queued`` counts the readers waiting for this turn to end (they get in
    when it ends, before the next turn starts); ``before`` is the turn
    before, whose admitted readers a new turn waits for.
    """

    __slots__ = ("before", "queued", "shared", "started")

    def __init__(self, shared: bool) -> None:
        self.shared = shared
        self.started = False
        self.queued = 0
        self.before: _Turn | None = None


class Hold:
    """One holding of an RWMutex's write side: a writer's, or one fork's share.

    ``held``: whether it holds now. ``release()`` gives it back (and wakes the
    waiting threads) in one call that makes only C calls; once done it does
    nothing, so an exception path may call it again. Made before the lock is
    taken, so whatever an exception interrupts, the holder can release.
    A spent Hold can be taken again (``RWMutex.take_share``): its release
    steps are kept, its turn and its one-shot release made anew.
    """

    __slots__ = ("held", "mine", "release", "rw", "steps", "turn", "waiter")

    def __init__(self, rw: RWMutex, shared: bool) -> None:
        self.held = False
        self.waiter: Any = None
        self.rw = rw
        self.mine = rw._local.holds
        exclusive = () if shared else (functools.partial(setattr, rw, "_exclusive", None),)
        self.steps = (
            rw._mutex.lock,
            functools.partial(rw._writers.pop, self, None),
            functools.partial(self.mine.pop, self, None),
            *exclusive,
            functools.partial(setattr, self, "held", False),
        )
        self.renew(shared)

    def renew(self, shared: bool) -> None:
        """A new turn and a new release (its chain is spent once run)."""
        self.turn = _Turn(shared)
        rw = self.rw
        self.release: Callable[[], Any] = functools.partial(
            _run,
            itertools.chain(
                map(_call, self.steps),
                map(_wake, rw._waiters),
                map(_call, (rw._waiters.clear, rw._mutex.unlock)),
            ),
        )


class _Reader:
    """A reader's request, while it waits and once it holds.

    Made by ``read_hold``, it carries its release as Hold does (``rw``);
    rlock's, counted only, has none (Go's RUnlock takes no token).
    """

    __slots__ = ("behind", "held", "mine", "release", "waiter")

    def __init__(self, rw: RWMutex | None = None) -> None:
        self.behind: _Turn | None = None  # the turn it waits for the end of
        self.held = False
        self.waiter: Any = None
        self.release: Any = None
        if rw is not None:
            self.mine = rw._local.read_holds
            steps = (
                rw._mutex.lock,
                functools.partial(rw._read_holds.pop, self, None),
                functools.partial(self.mine.pop, self, None),
                functools.partial(setattr, self, "held", False),
            )
            self.release = functools.partial(
                _run,
                itertools.chain(
                    map(_call, steps),
                    map(_wake, rw._waiters),
                    map(_call, (rw._waiters.clear, rw._mutex.unlock)),
                ),
            )


class Share:
    """A fork's share of the write side, taken and given back in the fork's own chain.

    For a start whose fork runs in a chain of C calls (runner_vfork's kept
    plans): ``around(calls)`` is that chain, the share's take before
    ``calls`` and its return after, so the share, the fork and the return
    make one call, with no point between them where a signal handler can
    run, and no Python frame. The take grants only where a share needs no
    bookkeeping beyond marking it: the lock idle (no rlock or read_hold, no
    writer or fork, the last turn over and no reader queued behind it),
    which C checks under the internal mutex, comparing the state with the
    idle one and choosing the grant's calls by a dict lookup. Otherwise it
    grants nothing and ``calls`` are not made (``hold.held`` says which):
    the caller takes the share the usual way (``write_hold``), which waits,
    joins a batch in progress or refuses (EDEADLK) as Go's lock would. The
    counterpart of the fast paths of Go's acquireForkLock and
    RWMutex.Lock, where the lock is free.

    The take allocates under the internal mutex (the state it reads, a
    ``map``), where CPython before 3.12 may collect and run a finalizer
    that takes the lock: the caller pauses the GC around the whole chain
    (runner_vfork.start_kept).

    Made once for a thread's Hold (``hold``: its spent share, taken again),
    with a turn of its own that each grant starts again: a turn over, with
    no reader queued behind it, is referred to by nothing but ``_turn``.
    """

    __slots__ = ("_give", "_grant", "_hold", "_leave", "_lock", "_rw", "_unlock", "_waiters",
                 "hold", "mutex")  # fmt: skip

    def __init__(self, rw: RWMutex, hold: Hold) -> None:
        turn = _Turn(True)
        turn.started = True
        self.hold = hold
        self._hold = (hold,)
        self.mutex = rw._mutex  # a share made before an os.fork() is not used after
        self._rw = (rw,)
        grant = (
            functools.partial(setattr, rw, "_turn", turn),
            functools.partial(setattr, hold, "turn", turn),
            functools.partial(rw._writers.__setitem__, hold, None),
            functools.partial(hold.mine.__setitem__, hold, None),
            functools.partial(setattr, hold, "held", True),
        )
        self._grant = {True: grant, False: ()}
        self._lock = (rw._mutex.lock,)
        self._unlock = (rw._mutex.unlock,)
        self._give = hold.steps  # Hold's own release: the mutex taken, the share taken off
        self._waiters = rw._waiters
        self._leave = (rw._waiters.clear, rw._mutex.unlock)

    def usable(self, rw: RWMutex, hold: Any) -> bool:
        """Whether this share serves ``hold`` of ``rw`` now (its state is the one made for)."""
        return hold is self.hold and rw._mutex is self.mutex and not rw._local.inside

    def around(self, calls: Iterator[Any]) -> Iterator[Any]:
        """The share taken if the lock is idle, then, only if it was, ``calls`` and its return."""
        granted = itertools.chain(
            calls, map(_call, self._give), map(_wake, self._waiters), map(_call, self._leave)
        )
        return itertools.chain(
            map(_call, self._lock),
            map(
                _run,
                map(_CALLS, map(self._grant.__getitem__, map(_IDLE.__eq__, map(_STATE, self._rw)))),
            ),
            map(_call, self._unlock),
            map(_run, itertools.compress((granted,), map(getattr, self._hold, _HELD))),
        )


def _over() -> _Turn:
    turn = _Turn(False)
    turn.started = True
    return turn


# Idle: no rlock, no read_hold, no writer (or fork), the last turn over and
# no reader queued behind it still to get in. The dicts compare by contents.
_STATE = operator.attrgetter("_readers", "_read_holds", "_writers", "_turn.started", "_turn.queued")
_IDLE: tuple[Any, ...] = (0, {}, {}, True, 0)
_CALLS = functools.partial(map, _call)
_HELD = ("held",)


if TYPE_CHECKING:
    _Token = Union[Hold, _Reader]
    _Step = Callable[[Any], Union[bool, str]]


class RWMutex:
    """Port of Go's sync.RWMutex. The zero value is unlocked.

    ``name``, ``writer``: how the EDEADLK error names the lock and who takes
    its write side. Where Go would deadlock, a thread that holds the read
    side (rlock or read_hold) and asks for the write side (lock, write_hold:
    a start, for fork_lock), itself or from a signal handler, gets
    OSError(EDEADLK) at once, with nothing taken (see the module doc). It is
    checked only where the write side would wait (while this thread reads,
    it always would), so a take that does not wait pays nothing for it.
    """

    def __init__(self, name: str = "the lock", writer: str = "lock()") -> None:
        self._holds_read = (
            f"this thread holds {name} for reading (its code was interrupted by a signal "
            f"handler, or asks this itself): taking it for writing, as {writer} does, "
            "would wait for this thread to leave, that is, wait on itself"
        )
        self.at_fork_reinit()

    def at_fork_reinit(self) -> None:
        """A fresh, unlocked state: for the child of os.fork(), where the threads
        that held or waited for the lock do not exist (os.register_at_fork)."""
        self._mutex = _Mutex()
        self._local = _ThreadState()
        self._readers = 0  # rlock's readers
        self._owned = 0  # how many of them a thread's count holds (reads at _epoch)
        self._epoch = 0
        self._read_holds: dict[_Reader, None] = {}  # read_hold's
        self._writers: dict[Hold, None] = {}  # one writer, or the forks of a batch
        # The announced turn, or the last one (at first, one over: a Share's
        # check reads any turn's state, with no branch for none).
        self._turn = _over()
        self._exclusive: Hold | None = None  # the writer's Hold, for unlock()
        self._waiters: list[Any] = []
        inside = functools.partial(setattr, self._local, "inside", True)
        outside = functools.partial(setattr, self._local, "inside", False)
        self._take = (self._mutex.lock, inside)
        self._leave = (outside, self._mutex.unlock)
        self._leave_waking = (self._waiters.clear, outside, self._mutex.unlock)

    # --- the bookkeeping ---------------------------------------------------------

    def _locked(self, step: _Step, token: Any, wake: bool = False) -> bool | str:
        """``step(token)`` under the internal mutex (see the module doc); its result.

        ``wake``: wake every waiting thread as the mutex is released.
        """
        local = self._local
        if local.inside:
            raise RuntimeError(REENTERED)
        if wake:
            leave: Any = itertools.chain(map(_wake, self._waiters), map(_call, self._leave_waking))
        else:
            leave = map(_call, self._leave)
        try:
            _run(map(_call, self._take))
            done = step(token)
            _run(leave)
        except BaseException:
            if local.inside:
                _run(leave)
            raise
        return done

    def _acquire(self, step: _Step, token: _Token, cancel: _Step) -> None:
        """Make ``step`` under the mutex until it grants; wait between tries.

        A step that cannot grant registers ``token.waiter`` (a lock of this
        thread's, taken) and returns False; any release wakes it. A string is
        why this thread must not wait (RuntimeError). On an exception, what
        was got is given back and the wait backed out of (``cancel``).

        The first try has no waiter (most takes never wait): a step that
        would wait then returns False without registering, and the next try
        has one. Each waiter is made inside the ``try``, so an exception
        there backs out of a queue the try before joined.
        """
        waiter = None
        # The loop inside the try: a handler runs at its backward jump too,
        # and an exception there once left the turn announced for good
        # (every later start and rlock waited for ever).
        try:
            while True:
                token.waiter = waiter
                done = self._locked(step, token)
                if done is True:
                    return
                if done is self._holds_read:
                    raise OSError(errno.EDEADLK, done)
                if done is not False:
                    raise RuntimeError(done)
                if waiter is not None:
                    waiter.acquire()  # until a release wakes it
                waiter = threading.Lock()
                waiter.acquire()
        except BaseException:
            try:
                if token.held and token.release is not None:
                    token.release()
            finally:
                self._locked(cancel, token, True)
            raise

    # A turn is announced from the moment its writer waits for it until its
    # last holder leaves: ``turn is not None and (not turn.started or
    # self._writers)``, spelled out in each step (a step makes no call).

    def _read_step(self, reader: _Reader) -> bool | str:
        turn = self._turn
        waited = reader.behind
        if waited is not None:
            if waited is turn and (not turn.started or self._writers):
                if reader.waiter is not None:  # else the next try has one
                    self._waiters += [reader.waiter]
                return False  # the turn it waits for has not ended
            waited.queued -= 1  # it has: this reader gets in, ahead of the next turn
            reader.behind = None
        elif turn is not None and (not turn.started or self._writers):
            turn.queued += 1
            reader.behind = turn
            if reader.waiter is not None:  # else the next try has one
                self._waiters += [reader.waiter]
            return False
        if reader.release is None:
            self._readers += 1
            local = self._local  # count this thread's read
            if local.epoch != self._epoch:
                local.epoch = self._epoch
                local.reads = 0
            local.reads += 1
            self._owned += 1
        else:
            self._read_holds[reader] = None
            reader.mine[reader] = None
        reader.held = True
        return True

    def _cancel_read_step(self, reader: _Reader) -> bool | str:
        if reader.behind is not None:
            reader.behind.queued -= 1
            reader.behind = None
        if reader.held and reader.release is None:
            self._readers -= 1
            local = self._local  # this thread's read, counted unless forgotten since
            if local.epoch == self._epoch:
                local.reads -= 1
                self._owned -= 1
            reader.held = False
        return True

    def _runlock_step(self, _: None) -> bool | str:
        if not self._readers:
            return "sync: RUnlock of unlocked RWMutex"
        self._readers -= 1
        local = self._local
        if local.reads and local.epoch == self._epoch:
            local.reads -= 1
            self._owned -= 1
        elif self._owned > self._readers:
            # Another thread's read ended, and it may be a counted one: whose is
            # unknown, so no count is trusted any more.
            self._epoch += 1
            self._owned = 0
        return True

    def _try_read_step(self, reader: _Reader) -> bool | str:
        turn = self._turn
        if turn is not None and (not turn.started or self._writers):
            return False
        self._readers += 1
        local = self._local  # count this thread's read
        if local.epoch != self._epoch:
            local.epoch = self._epoch
            local.reads = 0
        local.reads += 1
        self._owned += 1
        reader.held = True
        return True

    def _write_step(self, hold: Hold) -> bool | str:
        turn = self._turn
        mine = hold.turn
        if turn is not mine:
            if turn is not None and (not turn.started or self._writers):
                # Another turn. A fork joins a batch in progress unless a
                # reader waits for it to end (has_waiting_readers' test,
                # inline: a step makes no call; then it waits too, and the
                # readers go first); a fork of a thread that already holds a
                # share (a signal handler's start) joins it regardless.
                if mine.shared and turn.shared and turn.started and (not turn.queued or hold.mine):
                    self._writers[hold] = None
                    hold.mine[hold] = None
                    hold.held = True
                    return True
                if hold.mine:
                    return HOLDS_WRITE
                local = self._local
                if local.read_holds or (local.reads and local.epoch == self._epoch):
                    return self._holds_read  # that turn waits for this thread's read
                if hold.waiter is not None:  # else the next try has one
                    self._waiters += [hold.waiter]
                return False
            mine.before = turn  # announce: new readers wait from here on
            self._turn = mine
        if self._readers or self._read_holds or (mine.before is not None and mine.before.queued):
            local = self._local
            if local.read_holds or (local.reads and local.epoch == self._epoch):
                return self._holds_read  # the turn is withdrawn by the cancel step
            if hold.waiter is not None:  # else the next try has one
                self._waiters += [hold.waiter]
            return False  # wait for the readers in (or let in) to leave
        mine.started = True
        mine.before = None
        self._writers[hold] = None
        hold.mine[hold] = None
        if not mine.shared:
            self._exclusive = hold
        hold.held = True
        return True

    def _cancel_write_step(self, hold: Hold) -> bool | str:
        before = hold.turn.before
        if self._turn is hold.turn and not hold.turn.started and before is not None:
            self._turn = before  # withdrawn: readers queued behind it get in
        return True

    def _try_write_step(self, hold: Hold) -> bool | str:
        turn = self._turn
        if self._readers or self._read_holds:
            return False
        if turn is not None and (not turn.started or self._writers):
            return False
        if turn is not None and turn.queued:
            return False  # readers let in by the last turn have not got in yet
        mine = hold.turn
        mine.started = True
        self._turn = mine
        self._writers[hold] = None
        hold.mine[hold] = None
        self._exclusive = hold
        hold.held = True
        return True

    # --- Go's methods ----------------------------------------------------------------

    def rlock(self) -> None:
        """Port of RWMutex.RLock: lock for reading; waits while a writer is pending."""
        self._acquire(self._read_step, _Reader(), self._cancel_read_step)

    def read_hold(self) -> _Reader:
        """Lock for reading and return the holding, whose ``release()`` is
        one call that makes only C calls (and does nothing a second time).
        On an exception nothing is held."""
        reader = _Reader(self)
        self._acquire(self._read_step, reader, self._cancel_read_step)
        return reader

    def try_rlock(self) -> bool:
        """Port of RWMutex.TryRLock: lock for reading only if that needs no wait."""
        reader = _Reader()
        try:
            self._locked(self._try_read_step, reader)
        except BaseException:
            if reader.held:
                self._locked(self._cancel_read_step, reader, True)
            raise
        return reader.held

    def runlock(self) -> None:
        """Port of RWMutex.RUnlock: undo one rlock."""
        done = self._locked(self._runlock_step, None, True)
        if done is not True:
            raise RuntimeError(done)

    def write_hold(self, shared: bool = False, spent: Hold | None = None) -> Hold:
        """Lock for writing and return the Hold that releases it.

        ``shared``: a fork's share of the write side (forkpipe2.py): forks
        in progress share one turn. On an exception nothing is held.
        ``spent``: a Hold this thread took and gave back before (a start
        record's), taken again if it is of this kind and of this lock's
        state (not from before an os.fork): its release steps serve again,
        about 2 µs less than a new Hold. Otherwise, or None: a new Hold.
        """
        hold = spent
        if (
            hold is None
            or hold.held
            or hold.turn.shared is not shared
            or hold.rw is not self
            or hold.mine is not self._local.holds
        ):
            hold = Hold(self, shared)
        else:
            hold.renew(shared)
        self._acquire(self._write_step, hold, self._cancel_write_step)
        return hold

    def share(self, hold: Hold) -> Share | None:
        """A Share taking ``hold`` again, or None if ``hold`` cannot be (write_hold's test).

        ``hold``: a fork's share this thread took and gave back (a start record's).
        """
        if (
            hold.held
            or not hold.turn.shared
            or hold.rw is not self
            or hold.mine is not self._local.holds
        ):
            return None
        return Share(self, hold)

    def lock(self) -> None:
        """Port of RWMutex.Lock: lock for writing; waits for active readers."""
        self.write_hold()

    def try_lock(self) -> bool:
        """Port of RWMutex.TryLock: lock for writing only if that needs no wait."""
        hold = Hold(self, False)
        try:
            self._locked(self._try_write_step, hold)
        except BaseException:
            if hold.held:
                hold.release()
            raise
        return hold.held

    def unlock(self) -> None:
        """Port of RWMutex.Unlock: admit the readers that queued, then the next writer.

        Any thread may unlock, as in Go.
        """
        hold = self._exclusive
        if hold is None:
            raise RuntimeError("sync: Unlock of unlocked RWMutex")
        hold.release()

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

    True when a writer (or a batch of forks) holds ``rw`` and at least one
    reader has queued since: the counting fork lock then lets the readers in
    first.
    """
    turn = rw._turn
    return turn is not None and turn.started and bool(rw._writers) and turn.queued > 0
