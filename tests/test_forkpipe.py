"""The fork pipes and fork locks of forkpipe.py and forkpipe2.py, and RWMutex.

Both fork-pipe modules are tested here whatever the platform selects, so the
darwin protocol (pipe + fcntl, serialized forks) runs on Linux too.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import inspect
import os
import sys
import threading
from types import ModuleType
from typing import Any

import pytest
from conftest import SLOWDOWN, wait_until

from pysyscall import exec_unix, forkpipe, forkpipe2
from pysyscall.rwmutex import RWMutex, has_waiting_readers

VARIANTS = [forkpipe, forkpipe2]


@pytest.mark.parametrize("module", VARIANTS, ids=lambda m: m.__name__)
def test_fork_exec_pipe_is_close_on_exec(module: ModuleType) -> None:
    p = (ctypes.c_int * 2)(-1, -1)
    module.fork_exec_pipe(p)
    r, w = p
    try:
        for fd in (r, w):
            assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        os.write(w, b"x")
        assert os.read(r, 1) == b"x"
    finally:
        os.close(r)
        os.close(w)


def test_selected_variant() -> None:
    assert exec_unix.forkpipe is forkpipe2
    assert forkpipe2.ATOMIC and not forkpipe.ATOMIC


def test_forkpipe_serializes_forks() -> None:
    """Go's forkpipe.go: a second forker waits for the first (go.dev/issue/61080)."""
    lock = RWMutex()
    hold = forkpipe.acquire_fork_lock(lock)
    entered = threading.Event()

    def second() -> None:
        forkpipe.release_fork_lock(lock, forkpipe.acquire_fork_lock(lock))
        entered.set()

    t = threading.Thread(target=second)
    t.start()
    assert not entered.wait(0.2)
    forkpipe.release_fork_lock(lock, hold)
    assert entered.wait(5)
    t.join()


def test_forkpipe2_lets_forks_overlap() -> None:
    """Go's forkpipe2.go: forks share the write lock (go.dev/issue/23558)."""
    lock = RWMutex()
    holds = [forkpipe2.acquire_fork_lock(lock)]
    entered = threading.Event()

    def second() -> None:
        holds.append(forkpipe2.acquire_fork_lock(lock))
        entered.set()

    t = threading.Thread(target=second)
    t.start()
    assert entered.wait(5), "a second fork waited for the first"
    t.join()
    assert forkpipe2.forking(lock) == 2
    assert not lock.try_rlock(), "forks hold the lock for writing"
    forkpipe2.release_fork_lock(lock, holds[0])
    assert not lock.try_rlock()
    forkpipe2.release_fork_lock(lock, holds[1])
    assert forkpipe2.forking(lock) == 0
    assert lock.try_rlock()
    lock.runlock()


def test_forkpipe2_lets_a_waiting_reader_in() -> None:
    """The starvation branch of CL 421441: a queued reader gets in between batches."""
    lock = RWMutex()
    hold = forkpipe2.acquire_fork_lock(lock)
    order: list[str] = []

    def reader() -> None:
        lock.rlock()
        order.append("reader")
        lock.runlock()

    def late_forker() -> None:
        late = forkpipe2.acquire_fork_lock(lock)
        order.append("forker")
        forkpipe2.release_fork_lock(lock, late)

    r = threading.Thread(target=reader)
    r.start()
    wait_until(lambda: has_waiting_readers(lock))
    f = threading.Thread(target=late_forker)
    f.start()
    wait_until(lambda: len(lock._waiters) == 2)  # parked behind the reader, not in the batch
    assert order == [], "the late forker joined the batch past a waiting reader"
    forkpipe2.release_fork_lock(lock, hold)
    r.join(5)
    f.join(5)
    assert order == ["reader", "forker"]
    assert forkpipe2.forking(lock) == 0


def test_forkpipe2_release_without_acquire() -> None:
    lock = RWMutex()
    hold = forkpipe2.acquire_fork_lock(lock)
    forkpipe2.release_fork_lock(lock, hold)
    with pytest.raises(RuntimeError, match="negative count"):
        forkpipe2.release_fork_lock(lock, hold)


@pytest.mark.parametrize("module", VARIANTS, ids=lambda m: m.__name__)
def test_a_spent_hold_is_taken_again(module: ModuleType) -> None:
    """A start record's Hold, given back, holds the lock again and lets go again."""
    lock = RWMutex()
    hold = module.acquire_fork_lock(lock)
    module.release_fork_lock(lock, hold)
    for _ in range(2):
        again = module.acquire_fork_lock(lock, hold)
        assert again is hold and again.held
        assert not lock.try_rlock(), "the Hold taken again holds the write side"
        module.release_fork_lock(lock, again)
        assert lock.try_rlock(), "the Hold taken again let go"
        lock.runlock()
    other = RWMutex()
    assert module.acquire_fork_lock(other, hold) is not hold, "another lock's Hold was taken"
    lock.at_fork_reinit()  # as in the child of os.fork: the Hold names the old state
    fresh = module.acquire_fork_lock(lock, hold)
    assert fresh is not hold
    module.release_fork_lock(lock, fresh)
    assert lock.try_rlock()
    lock.runlock()


def test_a_spent_hold_of_the_other_kind_is_not_taken() -> None:
    lock = RWMutex()
    share = lock.write_hold(shared=True)
    joined = lock.write_hold(shared=True, spent=share)
    assert joined is not share, "a held Hold was taken twice"
    joined.release()
    share.release()
    hold = lock.write_hold(spent=share)
    assert hold is not share
    hold.release()
    assert lock.write_hold(shared=True, spent=hold) is not hold


# RWMutex: Go's semantics.


def test_readers_share() -> None:
    rw = RWMutex()
    rw.rlock()
    assert rw.try_rlock()
    assert not rw.try_lock()
    rw.runlock()
    rw.runlock()
    assert rw.try_lock()
    assert not rw.try_rlock() and not rw.try_lock()
    rw.unlock()


def test_writer_preference() -> None:
    """A pending writer blocks new readers (so readers cannot starve it)."""
    rw = RWMutex()
    rw.rlock()
    writer_in = threading.Event()

    def writer() -> None:
        rw.lock()
        writer_in.set()
        rw.unlock()

    t = threading.Thread(target=writer)
    t.start()
    wait_until(lambda: not rw._turn.started)  # the writer has announced itself
    assert not rw.try_rlock(), "a reader got in past a waiting writer"
    assert not writer_in.is_set()
    rw.runlock()
    assert writer_in.wait(5)
    t.join()


def test_has_waiting_readers() -> None:
    rw = RWMutex()
    assert not has_waiting_readers(rw)
    rw.lock()
    assert not has_waiting_readers(rw)
    t = threading.Thread(target=lambda: (rw.rlock(), rw.runlock()))
    t.start()
    wait_until(lambda: has_waiting_readers(rw))
    rw.unlock()
    t.join(5)
    assert not has_waiting_readers(rw)


def test_unlock_from_another_thread() -> None:
    """Go allows it, and the counting fork lock needs it."""
    rw = RWMutex()
    rw.lock()
    t = threading.Thread(target=rw.unlock)
    t.start()
    t.join()
    assert rw.try_lock()
    rw.unlock()


def test_misuse_raises() -> None:
    rw = RWMutex()
    with pytest.raises(RuntimeError, match="Unlock of unlocked"):
        rw.unlock()
    with pytest.raises(RuntimeError, match="RUnlock of unlocked"):
        rw.runlock()
    assert rw.try_lock()
    rw.unlock()


def test_rlocker_and_context_manager() -> None:
    rw = RWMutex()
    with rw.rlocker():
        assert not rw.try_lock()
    with rw:
        assert not rw.try_rlock()
    assert rw.try_lock()
    rw.unlock()


def test_a_take_that_does_not_wait_makes_no_waiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A waiter lock is made only once a try finds the lock taken (most never do)."""
    from pysyscall import rwmutex

    made: list[int] = []
    real = threading.Lock

    def counted() -> Any:
        made.append(1)
        return real()

    rw = RWMutex()
    monkeypatch.setattr(rwmutex.threading, "Lock", counted)
    rw.write_hold().release()
    rw.write_hold(shared=True).release()
    rw.rlock()
    rw.runlock()
    rw.read_hold().release()
    assert made == []
    monkeypatch.undo()
    # A reader that must wait gets one, and gets in once the writer leaves.
    hold = rw.write_hold()
    got = threading.Event()

    def reader() -> None:
        rw.rlock()
        got.set()
        rw.runlock()

    thread = threading.Thread(target=reader)
    thread.start()
    assert not got.wait(0.2)
    hold.release()
    assert got.wait(10)
    thread.join()


# A write-side wait by a thread that holds the read side waits on itself.


@pytest.mark.parametrize("module", [forkpipe, forkpipe2])
def test_fork_lock_refused_to_a_reader(module: ModuleType) -> None:
    """A thread holding rlock asks for the fork lock (Go: a deadlock): EDEADLK
    at once, the turn it announced withdrawn, its read lock still held."""
    rw = RWMutex("fork_lock", "a start")
    rw.rlock()
    with pytest.raises(OSError) as info:
        module.acquire_fork_lock(rw)
    assert info.value.errno == errno.EDEADLK
    assert str(info.value).startswith(
        f"[Errno {errno.EDEADLK}] this thread holds fork_lock for reading"
    )
    assert not rw._writers, "the refused take holds the lock"
    assert rw.try_rlock(), "the refused take left its turn announced: readers wait for it"
    rw.runlock()
    assert not rw.try_lock()
    rw.runlock()
    module.release_fork_lock(rw, module.acquire_fork_lock(rw))


def test_lock_refused_to_a_read_hold() -> None:
    rw = RWMutex()
    reader = rw.read_hold()
    with pytest.raises(OSError) as info:
        rw.lock()
    assert info.value.errno == errno.EDEADLK
    reader.release()
    rw.lock()
    rw.unlock()


def test_refused_while_another_writer_waits_for_this_reader() -> None:
    """Another thread's writer has announced its turn and waits for this
    thread's read: a start here would queue behind it, so wait on itself."""
    rw = RWMutex()
    rw.rlock()
    t = threading.Thread(target=lambda: (rw.lock(), rw.unlock()))
    t.start()
    wait_until(lambda: not rw._turn.started)
    with pytest.raises(OSError) as info:
        forkpipe2.acquire_fork_lock(rw)
    assert info.value.errno == errno.EDEADLK
    rw.runlock()
    t.join(5)
    assert not t.is_alive()
    assert rw.try_lock()
    rw.unlock()


def test_a_read_ended_by_another_thread_is_not_held_against_its_taker() -> None:
    """Go lets any thread RUnlock. This thread's read, ended by another
    thread, must not make its later wait for a third thread's read refused."""
    rw = RWMutex()
    rw.rlock()
    ender = threading.Thread(target=rw.runlock)
    ender.start()
    ender.join()
    reading, writer_waits, done = threading.Event(), threading.Event(), threading.Event()

    def reader() -> None:
        rw.rlock()
        reading.set()
        writer_waits.wait(5)
        wait_until(lambda: not rw._turn.started)
        rw.runlock()
        done.set()

    t = threading.Thread(target=reader)
    t.start()
    assert reading.wait(5)
    writer_waits.set()
    rw.lock()  # waits for the reader's runlock, not refused
    assert not rw._readers  # (its thread may not have set done yet)
    assert done.wait(5)
    rw.unlock()
    t.join()


def kept_vfork_start(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A start of /bin/true the vfork runner made before: its one chain (start_kept)."""
    import pysyscall
    from pysyscall import runner_vfork

    monkeypatch.setenv("PYSYSCALL_RUNNER", "vfork")
    calls: list[bool] = []
    real = runner_vfork.start_kept

    def counted(*args: Any) -> bool:
        calls.append(real(*args))
        return calls[-1]

    monkeypatch.setattr(runner_vfork, "start_kept", counted)

    def start() -> int:
        pid = pysyscall.fork_exec("/bin/true", ["true"])
        assert pysyscall.wait4(pid)[1] == 0
        return pid

    for _ in range(2):
        start()
    assert calls[-1], "a kept start on an idle lock takes it in its chain"
    calls.clear()
    start.calls = calls  # type: ignore[attr-defined]
    return start


def test_a_kept_start_waits_for_a_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork lock held for reading: the one chain takes nothing, and the
    start waits for the reader the usual way, then starts."""
    start = kept_vfork_start(monkeypatch)
    rw = exec_unix.fork_lock
    reading = threading.Event()

    def reader() -> None:
        with rw.rlocker():
            reading.set()
            wait_until(lambda: not rw._turn.started)  # the start, announced, waits
        # the read given back: the start goes on

    t = threading.Thread(target=reader)
    t.start()
    reading.wait(5)
    try:
        start()
    finally:
        t.join()
    assert start.calls == [False]  # type: ignore[attr-defined]
    assert not rw._writers and not rw._readers


def test_a_kept_start_joins_a_batch_of_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another fork in progress (its share of the lock held): the one chain
    takes nothing, and the start joins the batch the usual way (forks share
    the lock, forkpipe2.py) without waiting for it."""
    start = kept_vfork_start(monkeypatch)
    rw = exec_unix.fork_lock
    holding, release = threading.Event(), threading.Event()

    def other_fork() -> None:
        hold = forkpipe2.acquire_fork_lock(rw)
        holding.set()
        release.wait(10)
        forkpipe2.release_fork_lock(rw, hold)

    t = threading.Thread(target=other_fork)
    t.start()
    holding.wait(5)
    try:
        start()
        assert start.calls == [False]  # type: ignore[attr-defined]
        assert len(rw._writers) == 1  # the other fork's, still held
    finally:
        release.set()
        t.join()
    start()
    assert start.calls == [False, True]  # type: ignore[attr-defined]
    assert not rw._writers


def test_a_kept_start_after_readers_queued_behind_the_last_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reader that queued behind the last batch, woken but not yet in: the
    one chain takes nothing (readers go first), and the start waits for it
    the usual way."""
    from pysyscall.rwmutex import _Reader

    start = kept_vfork_start(monkeypatch)
    rw = exec_unix.fork_lock
    last = rw._turn
    reader = _Reader()
    reader.behind = last  # as _read_step leaves a reader waiting for that batch to end
    last.queued += 1

    def reader_gets_in() -> None:
        wait_until(lambda: not rw._turn.started)  # the start, announced, waits
        rw._locked(rw._read_step, reader)
        assert reader.held and last.queued == 0
        rw.runlock()

    t = threading.Thread(target=reader_gets_in)
    t.start()
    try:
        start()
    finally:
        t.join()
    assert start.calls == [False]  # type: ignore[attr-defined]
    assert not rw._writers and not rw._readers


FINALIZER_STARTS = r"""
import gc, os, sys
import pysyscall
from pysyscall import runner_vfork

how = sys.argv[1]
kept = []
real = runner_vfork.start_kept
def counted(*args):
    kept.append(real(*args))
    return kept[-1]
runner_vfork.start_kept = counted

class Unkeyed(list):  # a request the plan cache does not key: planned every time
    pass

def start():
    if how == "compat":
        return subprocess.Popen(["/bin/true"], cwd="/")
    argv = ["true"] if how == "kept" else Unkeyed(["true"])
    return pysyscall.fork_exec("/bin/true", argv)

def status(child):
    if how == "compat":
        return child.wait()
    return pysyscall.wait4(child)[1].exit_status()

if how == "compat":
    import subprocess
    from pysyscall import compat
    compat.install()

started, inside, failed = [], [], []
class Cycle:
    def __init__(self):
        self.me = self
    def __del__(self):
        frame = sys._getframe().f_back
        while frame is not None and frame.f_code.co_name not in ("fork_exec", "_execute_child"):
            frame = frame.f_back
        inside.append(frame is not None)
        try:
            started.append(pysyscall.fork_exec("/bin/true", ["true"]))
        except BaseException as error:
            failed.append(repr(error))

for _ in range(2):  # planned, then kept
    assert status(start()) == 0
fds = sorted(os.listdir("/proc/self/fd"))
for k in range(1, 200):
    gc.collect()
    Cycle()
    gc.set_threshold(k)  # the collection comes at the k-th allocation from here
    try:
        child = start()
    finally:
        gc.set_threshold(700)
    assert status(child) == 0
    assert [pysyscall.wait4(pid)[1].exit_status() for pid in started] == [0] * len(started)
    started.clear()
assert not failed, failed
assert sorted(os.listdir("/proc/self/fd")) == fds
print(sum(inside), len(inside), kept.count(True))
"""


@pytest.mark.skipif(
    sys.implementation.name != "cpython",
    reason="the collections placed here are CPython's: PyPy's GC has no gc.set_threshold",
)
@pytest.mark.parametrize(
    ("how", "runner"),
    [("kept", "vfork"), ("kept", "fork"), ("kept", "spawn"), ("planned", "vfork"),
     ("planned", "fork"), ("compat", "vfork"), ("compat", "fork")],
)  # fmt: skip
def test_a_finalizer_starts_a_process_at_each_allocation_of_a_start(how: str, runner: str) -> None:
    """A collection at each allocation of a start in turn, whose finalizer
    starts a process: every start completes, nothing leaks. (Before 3.12
    CPython collects right at the allocation: the vfork runner's kept start
    allocated under the fork lock's internal mutex, with the GC running,
    and the finalizer's start waited for that mutex in its own thread.)"""
    import subprocess

    package_parent = os.path.dirname(os.path.dirname(exec_unix.__file__))
    env = dict(os.environ, PYTHONPATH=package_parent, PYSYSCALL_RUNNER=runner)
    command = [sys.executable, "-c", FINALIZER_STARTS, how]
    # A hang is what this test finds: the timeout (PYSYSCALL_TEST_SLOWDOWN: CI's
    # emulated aarch64 machine) ends it as a failure.
    timeout = 120 * SLOWDOWN
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    assert out.returncode == 0, out.stderr
    inside, total, kept = map(int, out.stdout.split())
    assert total >= 190 and inside >= 20, out.stdout  # many in the middle of a start
    if runner == "vfork" and how != "planned":
        assert kept >= 190, out.stdout  # the vfork runner's one chain (start_kept)


def test_interrupt_at_the_wait_loops_back_jump() -> None:
    """A handler runs at a loop's backward jump too, where the profile events
    the interrupt walk uses never fire: a Ctrl-C as a writer that must wait
    loops back (its turn announced) withdraws the turn. It once left it
    announced, and every later rlock and start waited for ever. The
    KeyboardInterrupt is raised by a trace function as the loop's first line
    starts again, which is where the jump's handler would raise it."""
    lines, first_line = inspect.getsourcelines(RWMutex._acquire)
    loop_start = first_line + next(i for i, line in enumerate(lines) if "token.waiter =" in line)
    rw = RWMutex()
    held, leave = threading.Event(), threading.Event()

    def reader() -> None:
        rw.rlock()
        held.set()
        leave.wait(10)
        rw.runlock()

    first = threading.Thread(target=reader, daemon=True)
    first.start()
    assert held.wait(5)
    starts = []

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line" and frame.f_lineno == loop_start:
            starts.append(frame.f_lineno)
            if len(starts) == 2:
                raise KeyboardInterrupt("looping back")
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code is RWMutex._acquire.__code__ else None

    sys.settrace(tracer)
    try:
        with pytest.raises(KeyboardInterrupt, match="looping back"):
            rw.lock()  # a reader is in: the first try announces the turn, loops back
    finally:
        sys.settrace(None)
    # The turn is withdrawn: another reader gets in while the first is in.
    second = threading.Thread(target=lambda: (rw.rlock(), rw.runlock()), daemon=True)
    second.start()
    second.join(5)
    assert not second.is_alive(), "a reader waits for a turn nobody will take"
    leave.set()
    first.join(5)
    assert rw.try_lock()
    rw.unlock()
