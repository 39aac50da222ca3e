# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The lab: make the Go bugs pysyscall's design answers happen, then show its fix holding.

``python -m pysyscall lab [NAME ...] [--rounds N]`` runs each scenario's arms
in fresh interpreters (subprocess, with a timeout): the old design (the bug's
preconditions put back) and pysyscall's design. Each run prints one JSON
line; the table says what each arm measured and whether the fix held, and
the lines under it give each scenario's set-up and figures. The exit status
is 1 if a fix failed to hold.

Nothing is staged: no scenario widens a race window or slows a step, except
19546, whose execve is slowed on purpose so that a thread start can be issued
while it is in progress (it says so).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import Any, Callable, NamedTuple

_PRELUDE = """
import json, os, signal, sys, threading, time, ctypes
sys.path.insert(0, %r)
ARM, ROUNDS, FIRST = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "first"
def out(**kw):
    print(json.dumps(kw)); sys.stdout.flush()
"""

# go.dev/issue/61080: pipe + fcntl with forks sharing the lock. Go's
# TestConcurrentExec: n children that live until their stdin closes and n
# that exit at once, all started at the same moment; an exit start still
# running after a second waits for EOF on a status pipe another child holds.
# (Or longer, on a machine where the 2n starts one after another could take
# a second: four times that, timed by one start first; such a wait would
# never end on its own.)
S61080 = r"""
os.environ["PYSYSCALL_RUNNER"] = "fork"   # the runner with Go's status pipe
import types
import pysyscall.exec_unix as eu, pysyscall.linux as linux
from pysyscall import forkpipe, forkpipe2, ProcAttr, fork_exec, wait4
# Go's child has no close-on-exec sweep; pysyscall's sweep alone closes the
# leaked fd at the long-lived child's execve (the "sweep" arm).
linux.SWEEP = ARM == "sweep"
if ARM in ("old", "sweep"):   # forkpipe's pipe, then fcntl, with forkpipe2's counting lock
    eu.forkpipe = types.SimpleNamespace(ATOMIC=False, fork_exec_pipe=forkpipe.fork_exec_pipe,
        acquire_fork_lock=forkpipe2.acquire_fork_lock,
        release_fork_lock=forkpipe2.release_fork_lock)
elif ARM == "serial":   # the same pipe with forkpipe's serializing lock (darwin's fix)
    eu.forkpipe = forkpipe
else:   # pipe2(O_CLOEXEC) with the counting lock (Linux)
    eu.forkpipe = forkpipe2
N = 8
devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
hung = rounds = 0
errors = []
started = time.monotonic()
wait4(fork_exec("/bin/true", ["true"]))
patience = max(1.0, 4 * 2 * N * (time.monotonic() - started))
for _ in range(ROUNDS):
    rounds += 1
    pipes = [os.pipe() for _ in range(N)]
    barrier = threading.Barrier(2 * N)
    def hang(i):
        try:
            barrier.wait(10)
            wait4(fork_exec("/bin/cat", ["cat"], ProcAttr(files=[pipes[i][0], devnull, 2])))
        except Exception as e:
            errors.append(repr(e))
    def exit_():
        try:
            barrier.wait(10)
            wait4(fork_exec("/bin/true", ["true"]))
        except Exception as e:
            errors.append(repr(e))
    hs = [threading.Thread(target=hang, args=(i,), daemon=True) for i in range(N)]
    es = [threading.Thread(target=exit_, daemon=True) for _ in range(N)]
    for t in hs + es: t.start()
    end = time.monotonic() + patience
    for t in es: t.join(max(0, end - time.monotonic()))
    hung += any(t.is_alive() for t in es)
    for r, w in pipes: os.close(w)   # cancel: the cat children see EOF and exit
    for t in hs + es: t.join(10)
    for r, w in pipes: os.close(r)
    if FIRST and hung: break
text = f"{hung}/{rounds} rounds hung" + (f"; errors: {errors[:2]}" if errors else "")
out(bad=hung + len(errors), total=rounds, text=text)
"""

# go.dev/issue/23558: serializing every fork on ForkLock vs the counting
# write lock. One interpreter alternates the two locks (so the machine's
# other load falls on both alike): 1 thread, then 2 threads, starting
# /bin/true through a runner that releases the GIL for the whole start, with
# a separate reaper thread, so a start is mostly the locked part. The vfork
# runner's kept starts take the counting lock's share inside their chain of
# C calls, where the timing below cannot see it (the counting arm measured
# the lock held 1-2 % of a start): both arms take the lock in Python here.
S23558 = r"""
import statistics, types
import pysyscall.exec_unix as eu, pysyscall.runners as runners
from pysyscall import forkpipe, forkpipe2, fork_exec, runner_vfork
runner_vfork.start_kept = None
spans, here = [], threading.local()
def timed(base):   # the lock-held span of every start
    def acquire(lock, spent=None):
        hold = base.acquire_fork_lock(lock, spent); here.t = time.perf_counter()
        return hold
    def release(lock, hold):
        spans.append((here.t, time.perf_counter())); base.release_fork_lock(lock, hold)
    return types.SimpleNamespace(ATOMIC=base.ATOMIC, fork_exec_pipe=base.fork_exec_pipe,
                                 acquire_fork_lock=acquire, release_fork_lock=release)
LOCKS = {"old": timed(forkpipe), "new": timed(forkpipe2)}
PER = 40
def starter(latencies):
    for _ in range(PER):
        t = time.perf_counter(); fork_exec("/bin/true", ["true"])
        latencies.append(time.perf_counter() - t)
def reaper(done):
    while True:
        try: os.waitpid(-1, 0)
        except ChildProcessError:
            if done.is_set(): return
            time.sleep(0.0005)
def burst(threads, acc):
    spans.clear()
    done = threading.Event(); rp = threading.Thread(target=reaper, args=(done,)); rp.start()
    ts = [threading.Thread(target=starter, args=(acc["lat"],)) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in ts: t.start()
    for t in ts: t.join()
    elapsed = time.perf_counter() - t0
    done.set(); rp.join()
    edges = sorted([(a, 1) for a, b in spans] + [(b, -1) for a, b in spans])
    depth, both, last = 0, 0.0, 0.0
    for t, d in edges:
        if depth >= 2: both += t - last
        depth += d; last = t
    acc["time"] += elapsed; acc["starts"] += threads * PER
    acc["both"] += both; acc["held"] += sum(b - a for a, b in spans)
result = {arm: {"overlap": {}, "speedup": {}, "held": {}} for arm in LOCKS}
cells = {"old": [], "new": []}
details = []
for runner in ("spawn", "vfork"):
    runners.override = runner
    # With a plan: the spawn runner declines exec_unix's plans on glibc < 2.34.
    plan = eu.child_program("/bin/true", ["true"])
    reason = {r.NAME: r for r in runners.RUNNERS}[runner].unavailable(plan)
    if reason is not None:
        details.append(f"{runner}: unavailable ({reason})"); continue
    for _ in range(5): os.waitpid(fork_exec("/bin/true", ["true"]), 0)
    acc = {(arm, n): dict(lat=[], time=0.0, starts=0, both=0.0, held=0.0)
           for arm in LOCKS for n in (1, 2)}
    for _ in range(ROUNDS):
        for arm, lock in LOCKS.items():
            eu.forkpipe = lock
            burst(1, acc[arm, 1]); burst(2, acc[arm, 2])
    line = []
    for arm in LOCKS:
        one, two = acc[arm, 1], acc[arm, 2]
        r1, r2 = one["starts"] / one["time"], two["starts"] / two["time"]
        overlap = two["both"] / two["time"]
        result[arm]["overlap"][runner] = overlap
        result[arm]["speedup"][runner] = r2 / r1
        cells[arm].append(
            f"{runner}: 2 threads {r2 / r1:.2f}x 1 thread, starts overlapped {overlap:.0%}")
        name = "serializing" if arm == "old" else "counting"
        lat1, lat2 = (statistics.median(acc[arm, n]["lat"]) * 1e6 for n in (1, 2))
        held = result[arm]["held"][runner] = one["held"] / one["time"]
        cap = f"; serialized, at most 1/{held:.2f} = {1 / held:.2f}x" if arm == "old" else ""
        line.append(
            f"{name}: {r1:,.0f} -> {r2:,.0f} starts/s ({r2 / r1:.2f}x{cap}), "
            f"median start {lat1:,.0f} -> {lat2:,.0f} us, "
            f"lock held {held:.0%} of 1 thread's time, "
            f"2 starts in the lock at once {overlap:.0%} of the time")
    details.append(
        f"{runner}, 1 -> 2 threads, {ROUNDS} x {PER} starts per thread: " + "; ".join(line))
for arm in LOCKS:
    result[arm]["text"] = "; ".join(cells[arm])
out(old=result["old"], new=result["new"], details=details)
"""

# go.dev/issue/23558, 54162: CL 421441's reader check. A thread that makes
# an fd under fork_lock.rlock() (darwin's way, and third-party code's) waits
# while 16 threads keep starting processes. Without the check (Go's
# hasWaitingReaders; here the write step's test of ``turn.queued``) the
# forks keep sharing the write lock, it is never released, and the reader
# starves; with it, a new fork lets the reader in first.
S54162 = r"""
os.environ["PYSYSCALL_RUNNER"] = "spawn"   # the GIL released for the whole start
import collections
import pysyscall.exec_unix as eu
from pysyscall import forkpipe2, fork_exec, wait4
if ARM == "old":   # the counting lock without the reader check: the write
    # step, made under the lock's mutex, sees no reader queued for the batch
    def without_reader_check(hold, step=eu.fork_lock._write_step, rw=eu.fork_lock):
        turn = rw._turn
        queued = 0 if turn is None else turn.queued
        if queued:
            turn.queued = 0
        try:
            return step(hold)
        finally:
            if queued:
                turn.queued = queued
    eu.fork_lock._write_step = without_reader_check
eu.forkpipe = forkpipe2
THREADS, PATIENCE, BEHIND = 16, 3.0, 4
stop = threading.Event()
counts = [0] * THREADS
def forker(i):
    # Each thread reaps its children BEHIND starts late, so it seldom waits
    # for one to run and is nearly always in the lock or on its way back.
    # Waiting for each child at once left all 16 threads out of the lock
    # together whenever starts were cheap next to the child's run (an
    # emulated aarch64: the old arm's reader got in after 58 ms).
    pids = collections.deque()
    while not stop.is_set():
        pids.append(fork_exec("/bin/true", ["true"])); counts[i] += 1
        if len(pids) > BEHIND:
            wait4(pids.popleft())
    for pid in pids: wait4(pid)
fs = [threading.Thread(target=forker, args=(i,)) for i in range(THREADS)]
for t in fs: t.start()
time.sleep(0.3)
waits, starved = [], 0
t_all = time.monotonic(); before = sum(counts)
for _ in range(ROUNDS):
    got = threading.Event()
    def reader():
        eu.fork_lock.rlock()
        try:
            r, w = os.pipe()
        finally:
            eu.fork_lock.runlock()
        os.close(r); os.close(w); got.set()
    t1 = time.monotonic()
    th = threading.Thread(target=reader, daemon=True); th.start()
    if not got.wait(PATIENCE):
        starved += 1; break   # it gets in once the forks stop, below
    waits.append(time.monotonic() - t1)
    time.sleep(0.05)
meanwhile = sum(counts) - before; rate = meanwhile / (time.monotonic() - t_all)
stop.set()
for t in fs: t.join()
th.join(10)
if starved:
    text = f"reader starved: still waiting after {PATIENCE:.0f} s on try {len(waits) + 1}"
    if waits:
        text += f" (tries before: at most {max(waits) * 1000:.1f} ms)"
else:
    text = f"reader got in after at most {max(waits) * 1000:.1f} ms ({len(waits)} tries)"
out(bad=starved, total=starved + len(waits), waits=waits, rate=rate,
    text=text + f"; {rate:,.0f} starts/s meanwhile")
"""

# go.dev/issue/33565, 56784: a blocking pthread_atfork child handler.
S33565 = r"""
import pysyscall.runners as runners
from pysyscall import fork_exec
from pysyscall.exec_unix import child_program
libc = ctypes.CDLL(None, use_errno=True)
pause = ctypes.cast(libc.pause, ctypes.c_void_p)
# glibc >= 2.34 keeps pthread_atfork in libc_nonshared.a; the exported
# symbol underneath it is __register_atfork(prepare, parent, child, dso).
register = getattr(libc, "pthread_atfork", None)
rc = register(None, None, pause) if register else libc.__register_atfork(None, None, pause, None)
if rc != 0:
    out(bad=-1, total=0, text="pthread_atfork failed"); sys.exit()
def start_old():
    pid = os.fork()            # libc fork(): runs the atfork child handlers
    if pid == 0:
        os.execv("/bin/true", ["true"])
    return pid
def hung_of(start):
    hung = 0
    for _ in range(ROUNDS):
        pid = start()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done: break
            time.sleep(0.01)
        else:
            hung += 1; os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
    return hung
if ARM == "old":
    hung = hung_of(start_old)
    out(bad=hung, total=ROUNDS, text=f"os.fork: {hung}/{ROUNDS} children hung in the handler")
else:
    parts, bad, total = [], 0, 0
    for runner in runners.RUNNERS:
        # With a plan: the spawn runner declines exec_unix's plans on glibc < 2.34.
        if runner.unavailable(child_program("/bin/true", ["true"])) is not None: continue
        runners.override = runner.NAME
        hung = hung_of(lambda: fork_exec("/bin/true", ["true"]))
        bad += hung; total += ROUNDS
        parts.append(f"{runner.NAME}: {hung}/{ROUNDS}")
    out(bad=bad, total=total, text=", ".join(parts) + " children hung")
"""

# go.dev/issue/19546: thread starts wait for an exec in progress.
S19546 = r"""
import pysyscall, pysyscall.exec_unix as eu, pysyscall.runtime as runtime, pysyscall.libc as libc
if ARM == "old":
    runtime.remove_thread_hook()
real = libc.parent
def parent(name):
    f = real(name)
    if name != "execve": return f
    def slow_execve(*args):        # an execve that takes 300 ms, then fails
        time.sleep(0.3); return f(*args)
    return slow_execve
libc.parent = parent
bad = 0
lines = []
for _ in range(ROUNDS):
    t0 = time.monotonic(); stamps = {}
    def starter():
        time.sleep(0.1)
        stamps["start issued"] = time.monotonic() - t0
        ran = lambda: stamps.setdefault("thread ran", time.monotonic() - t0)
        threading.Thread(target=ran).start()
    s = threading.Thread(target=starter); s.start()
    stamps["exec begins"] = time.monotonic() - t0
    try: eu.exec("/nonexistent/program", ["x"])
    except OSError: stamps["exec failed"] = time.monotonic() - t0
    s.join(); time.sleep(0.05)
    bad += stamps["thread ran"] < stamps["exec failed"]
    lines = sorted(stamps.items(), key=lambda kv: kv[1])
out(bad=bad, total=ROUNDS, text=f"{bad}/{ROUNDS} threads ran during exec; " +
    ", ".join(f"{k} {v*1000:.0f} ms" for k, v in lines))
"""

# The design note's hazard: Python bytecode in the child under GIL contention.
SBYTE = r"""
os.environ["PYSYSCALL_RUNNER"] = "fork"   # the runner whose child is this interpreter's copy
import pysyscall
sys.setswitchinterval(0.0005)
ballast = bytearray(256 << 20); ballast[::4096] = b"\1" * len(range(0, len(ballast), 4096))
stop = threading.Event()
def busy():
    while not stop.is_set():
        x = 0
        for i in range(1000): x += i
lib = ctypes.PyDLL(None)
def naive(path, argv):
    a = (ctypes.c_char_p * (len(argv) + 1))(*[x.encode() for x in argv])
    env = (ctypes.c_char_p * 1)()
    pid = lib._Fork()
    if pid == 0:
        for fd in range(3): lib.fcntl(fd, 2, 0)
        lib.execve(path.encode(), a, env); lib._exit(127)
    return pid
start = naive if ARM == "old" else pysyscall.fork_exec
for _ in range(4): threading.Thread(target=busy, daemon=True).start()
hung = total = 0; lock = threading.Lock()
def spawner(count):
    global hung, total
    for _ in range(count):
        pid = start("/bin/true", ["true"])
        end = time.monotonic() + 2.0
        while True:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done: break
            if time.monotonic() > end:
                os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
                with lock: hung += 1
                break
            time.sleep(0.005)
        with lock: total += 1
ts = [threading.Thread(target=spawner, args=(max(1, ROUNDS // 3),)) for _ in range(3)]
for t in ts: t.start()
for t in ts: t.join()
stop.set()
out(bad=hung, total=total, text=f"{hung}/{total} children hung")
"""


class Scenario(NamedTuple):
    name: str
    issue: str
    script: str
    # The old design's arm first, then pysyscall's; a single arm "both"
    # measures the two in one interpreter and reports {"old": ..., "new": ...}.
    arms: tuple[str, ...]
    rounds: int
    holds: Callable[[dict[str, Any], list[dict[str, Any]]], bool]
    note: str = ""


def _no_bad(old: dict[str, Any], new: list[dict[str, Any]]) -> bool:
    return all(r.get("bad") == 0 and r.get("total", 0) > 0 for r in new)


def _overlap(old: dict[str, Any], new: list[dict[str, Any]]) -> bool:
    # The counting lock let starts overlap under every runner measured; the
    # serializing one never did (a check that the old arm serialized).
    runs = new[0].get("overlap", {})
    return (
        bool(runs)
        and all(v > 0 for v in runs.values())
        and (not any(old.get("overlap", {}).values()))
    )


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "61080",
            "61080",
            S61080,
            ("old", "serial", "pipe2", "sweep"),
            20,
            _no_bad,
            "Go's TestConcurrentExec, 8 cat + 8 true starts per round at a barrier, "
            "fork runner (the status pipe); a round hangs when a true start has not "
            "returned after 1 s. Nothing staged: the window is forkpipe's own, between "
            "pipe() and fcntl(). old = that pipe with forkpipe2's counting lock; serial "
            "= with forkpipe's serializing lock (darwin); pipe2 = forkpipe2 (Linux). "
            "These three run without the child's close_range sweep, as Go's child has "
            "none; sweep = the old arm with pysyscall's sweep, which alone closes the "
            "leaked fd at the long-lived child's execve",
        ),
        Scenario(
            "23558",
            "23558",
            S23558,
            ("both",),
            15,
            _overlap,
            "old = forkpipe's serializing lock, new = forkpipe2's counting lock, "
            "alternating in one interpreter; /bin/true started by 1, then 2 threads "
            "through a runner that releases the GIL for the whole start, a separate "
            "thread reaping. The overlap is the lock's own effect; what it buys in "
            "starts/s is bounded by free CPU (2 cores here, shared)",
        ),
        Scenario(
            "54162",
            "23558/54162",
            S54162,
            ("old", "new"),
            5,
            _no_bad,
            "a thread makes a pipe under fork_lock.rlock() while 16 threads keep "
            "starting /bin/true (spawn runner); old = the counting lock without "
            "has_waiting_readers, new = forkpipe2's",
        ),
        Scenario(
            "33565",
            "33565/56784",
            S33565,
            ("old", "new"),
            5,
            _no_bad,
            "handler = pause(2) registered with pthread_atfork; old = os.fork "
            "(libc's fork), new = each runner: _Fork, clone, posix_spawn",
        ),
        Scenario(
            "19546",
            "19546",
            S19546,
            ("old", "new"),
            3,
            _no_bad,
            "execve slowed to 300 ms, then fails; old = the thread-start hook removed",
        ),
        Scenario(
            "bytecode",
            "design note",
            SBYTE,
            ("old", "new"),
            60,
            _no_bad,
            "256 MiB parent, 4 busy threads, switch interval 0.5 ms, 3 threads "
            "starting; old = a ctypes child running Python before execve, new = "
            "the fork runner",
        ),
    )
}


def _run(
    scenario: Scenario, arm: str, rounds: int, first: bool = False, timeout: float = 240.0
) -> dict[str, Any]:
    """Run one arm in a fresh interpreter; its JSON result.

    ``first``: stop at the first round that shows the bug (61080's script
    honours it; its test uses it on the old arm). A failure or timeout comes
    back as ``bad`` -1.
    """
    # The scenarios run in fresh interpreters that import the package by its
    # own name from the folder above it: a vendored, renamed copy has no lab.
    if __package__ != "pysyscall":
        raise RuntimeError(f"the lab runs from the pysyscall package, not {__package__}")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = _PRELUDE % root + textwrap.dedent(scenario.script)
    command = [sys.executable, "-c", source, arm, str(rounds), "first" if first else "all"]
    failed = {"bad": -1, "total": 0, "old": {}, "new": {}}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        text = f"timed out after {timeout:.0f} s"
        return {**failed, "text": text, "old": {"text": text}, "new": {"text": text}}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        text = "failed: " + tail[0]
        return {**failed, "text": text, "old": {"text": text}, "new": {"text": text}}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _machine() -> str:
    """The system, C library, interpreter and CPUs, as the bench names them."""
    uname = os.uname()
    libc = " ".join(platform.libc_ver()) or "unknown libc"
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return (
        f"{uname.sysname} {uname.release} {uname.machine}, {libc}, {python}, {os.cpu_count()} CPUs"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(names: Sequence[str] = (), rounds: int | None = None) -> int:
    """Run the scenarios, print the table and each one's figures; the exit status."""
    chosen = [SCENARIOS[n] for n in (names or list(SCENARIOS))]
    started = time.monotonic()
    print(f"{_machine()}; load average {_load()}")
    print()
    rows = [("scenario", "Go issue", "with the old design", "with pysyscall's design", "verdict")]
    notes = []
    failed = False
    for s in chosen:
        n = rounds if rounds is not None else s.rounds
        if s.arms == ("both",):
            both = _run(s, "both", n)
            old, new = both["old"], [both["new"]]
            labels: Sequence[str] = ("",)
            details = list(both.get("details", []))
        else:
            old = _run(s, s.arms[0], n)
            new = [_run(s, arm, n) for arm in s.arms[1:]]
            labels = [f"{arm}: " if len(new) > 1 else "" for arm in s.arms[1:]]
            details = []
        ok = s.holds(old, new)
        failed |= not ok
        news = "; ".join(label + r["text"] for label, r in zip(labels, new))
        verdict = "fix holds" if ok else "FIX FAILED"
        if ok and old.get("bad") == 0:
            verdict += " (bug not reproduced)"
        rows.append((s.name, s.issue, old["text"], news, verdict))
        notes.append(f"{s.name}: {s.note}.")
        notes.extend(f"  {line}" for line in details)
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(row) + " |")
    print()
    for line in notes:
        print(line)
    print()
    print(f"{time.monotonic() - started:.0f} s; load average at the end: {_load()}")
    return 1 if failed else 0
