"""The lab: make each seed's bug happen, then show pysyscall's fix holding.

``python -m pysyscall lab [NAME ...] [--rounds N]`` runs every scenario twice
in a fresh interpreter (subprocess, with a timeout): once with the old design
(the bug's preconditions put back) and once with pysyscall's design. Each run
prints one JSON line; the table says what each arm measured and whether the
fix held. The exit status is 1 if a fix failed to hold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, Callable, NamedTuple

_PRELUDE = """
import json, os, signal, sys, threading, time, ctypes
sys.path.insert(0, %r)
ARM, ROUNDS = sys.argv[1], int(sys.argv[2])
def out(**kw):
    print(json.dumps(kw)); sys.stdout.flush()
"""

# go.dev/issue/61080: pipe + fcntl with forks sharing the lock.
S61080 = r"""
os.environ["PYSYSCALL_RUNNER"] = "fork"
import pysyscall, pysyscall.exec_unix as eu, pysyscall.linux as linux, types
from pysyscall import forkpipe, forkpipe2, ProcAttr, fork_exec, wait4
linux.CLOSE_RANGE = False   # the child's close_range sweep would mask the leak
import random
def pipe():
    # forkpipe's pipe then fcntl, its window widened to 5 ms (the starts
    # reach it at different times) so the race shows in a few rounds.
    time.sleep(random.uniform(0, 0.01))
    r, w = os.pipe(); os.set_inheritable(r, True); os.set_inheritable(w, True)
    time.sleep(0.005); os.set_inheritable(r, False); os.set_inheritable(w, False)
    return r, w
if ARM == "old":   # the non-atomic pipe with forkpipe2's counting lock
    eu.forkpipe = types.SimpleNamespace(ATOMIC=False, fork_exec_pipe=pipe,
        acquire_fork_lock=forkpipe2.acquire_fork_lock,
        release_fork_lock=forkpipe2.release_fork_lock)
elif ARM == "serial":   # the same pipe with forkpipe's serializing lock (the fix)
    eu.forkpipe = types.SimpleNamespace(ATOMIC=False, fork_exec_pipe=pipe,
        acquire_fork_lock=forkpipe.acquire_fork_lock,
        release_fork_lock=forkpipe.release_fork_lock)
else:   # pipe2(O_CLOEXEC) with the counting lock
    eu.forkpipe = forkpipe2
n = 4
hung = 0
for _ in range(ROUNDS):
    pipes = [os.pipe() for _ in range(n)]
    barrier = threading.Barrier(2 * n)
    pids, lock = [], threading.Lock()
    def hang(i):
        barrier.wait()
        pid = fork_exec("/bin/sleep", ["sleep", "2"], ProcAttr(files=[pipes[i][0], 1, 2]))
        with lock: pids.append(pid)
    def exit_():
        barrier.wait()
        pid = fork_exec("/bin/true", ["true"])
        with lock: pids.append(pid)
        wait4(pid)
    hs = [threading.Thread(target=hang, args=(i,), daemon=True) for i in range(n)]
    es = [threading.Thread(target=exit_, daemon=True) for _ in range(n)]
    for t in hs + es: t.start()
    # A /bin/true start takes milliseconds; one still running after 1.5 s
    # waits for EOF on a status pipe that a sleep child holds.
    end = time.monotonic() + 1.5
    for t in es: t.join(max(0, end - time.monotonic()))
    stuck = sum(t.is_alive() for t in es)
    hung += stuck > 0
    for t in hs + es: t.join(10)   # the sleep children end within 2 s
    with lock:
        for pid in pids:
            try: os.kill(pid, signal.SIGKILL)
            except ProcessLookupError: pass
    for r, w in pipes: os.close(r); os.close(w)
    while True:
        try: os.waitpid(-1, 0)
        except ChildProcessError: break
out(bad=hung, total=ROUNDS, text=f"{hung}/{ROUNDS} rounds hung")
"""

# go.dev/issue/23558, 54162: serializing every fork vs the counting lock.
S23558 = r"""
import pysyscall, pysyscall.exec_unix as eu, pysyscall.runners as runners
from pysyscall import forkpipe, forkpipe2, fork_exec, wait4
eu.forkpipe = forkpipe if ARM == "old" else forkpipe2
threads, per = 8, max(5, ROUNDS)
def worker():
    for _ in range(per):
        wait4(fork_exec("/bin/true", ["true"]))
t0 = time.monotonic()
ts = [threading.Thread(target=worker) for _ in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
rate = threads * per / (time.monotonic() - t0)
# Starvation: forks keep coming from 4 threads; how long does a reader wait?
stop = threading.Event()
def forker():
    while not stop.is_set():
        wait4(fork_exec("/bin/true", ["true"]))
fs = [threading.Thread(target=forker) for _ in range(4)]
for t in fs: t.start()
time.sleep(0.2)
waits = []
for _ in range(5):
    t1 = time.monotonic(); eu.fork_lock.rlock(); waits.append(time.monotonic() - t1)
    eu.fork_lock.runlock(); time.sleep(0.02)
stop.set()
for t in fs: t.join()
name = runners.select().NAME
out(rate=rate, reader_max=max(waits), runner=name,
    text=f"{rate:.0f} spawns/s ({threads} threads, {name}); "
         f"reader waited <= {max(waits)*1000:.1f} ms")
"""

# go.dev/issue/33565, 56784: a blocking pthread_atfork child handler.
S33565 = r"""
os.environ["PYSYSCALL_RUNNER"] = "fork"
import pysyscall
from pysyscall import fork_exec, wait4
libc = ctypes.CDLL(None, use_errno=True)
pause = ctypes.cast(libc.pause, ctypes.c_void_p)
# glibc >= 2.34 keeps pthread_atfork in libc_nonshared.a; the exported
# symbol underneath it is __register_atfork(prepare, parent, child, dso).
register = getattr(libc, "pthread_atfork", None)
rc = register(None, None, pause) if register else libc.__register_atfork(None, None, pause, None)
if rc != 0:
    out(bad=-1, total=0, text="pthread_atfork failed"); sys.exit()
hung = 0
for _ in range(ROUNDS):
    if ARM == "old":
        pid = os.fork()            # libc fork(): runs the atfork child handlers
        if pid == 0:
            os.execv("/bin/true", ["true"])
    else:
        pid = fork_exec("/bin/true", ["true"])   # _Fork: skips them
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done: break
        time.sleep(0.01)
    else:
        hung += 1; os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
out(bad=hung, total=ROUNDS, text=f"{hung}/{ROUNDS} children hung in the handler")
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
    arms: tuple[str, ...]  # the old design first, then pysyscall's
    rounds: int
    holds: Callable[[dict[str, Any], list[dict[str, Any]]], bool]
    note: str = ""


def _no_bad(old: dict[str, Any], new: list[dict[str, Any]]) -> bool:
    return all(r.get("bad") == 0 and r.get("total", 0) > 0 for r in new)


def _starvation(old: dict[str, Any], new: list[dict[str, Any]]) -> bool:
    return all(float(r["reader_max"]) < 1.0 for r in new)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "61080",
            "61080",
            S61080,
            ("old", "serial", "pipe2"),
            10,
            _no_bad,
            "old arm: close_range sweep off (it masks the leak); all arms without it",
        ),
        Scenario(
            "23558",
            "23558/54162",
            S23558,
            ("old", "new"),
            40,
            _starvation,
            "old = serializing lock, new = counting lock",
        ),
        Scenario(
            "33565",
            "33565/56784",
            S33565,
            ("old", "new"),
            5,
            _no_bad,
            "handler = pause(2) registered with pthread_atfork",
        ),
        Scenario(
            "19546",
            "19546",
            S19546,
            ("old", "new"),
            3,
            _no_bad,
            "execve slowed to 300 ms, then fails",
        ),
        Scenario(
            "bytecode",
            "design note",
            SBYTE,
            ("old", "new"),
            60,
            _no_bad,
            "256 MiB parent, 4 busy threads, switch interval 0.5 ms",
        ),
    )
}


def _run(scenario: Scenario, arm: str, rounds: int, timeout: float = 240.0) -> dict[str, Any]:
    # The scenarios run in fresh interpreters that import the package by its
    # own name from the folder above it: a vendored, renamed copy has no lab.
    if __package__ != "pysyscall":
        raise RuntimeError(f"the lab runs from the pysyscall package, not {__package__}")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = _PRELUDE % root + textwrap.dedent(scenario.script)
    try:
        done = subprocess.run(
            [sys.executable, "-c", source, arm, str(rounds)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"bad": -1, "total": 0, "text": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return {"bad": -1, "total": 0, "text": "failed: " + tail[0]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run(names: Sequence[str] = (), rounds: int | None = None) -> int:
    """Run the scenarios, print the table; returns the exit status."""
    chosen = [SCENARIOS[n] for n in (names or list(SCENARIOS))]
    rows = [("scenario", "Go issue", "with the old design", "with pysyscall's design", "verdict")]
    failed = False
    for s in chosen:
        n = rounds if rounds is not None else s.rounds
        old = _run(s, s.arms[0], n)
        new = [_run(s, arm, n) for arm in s.arms[1:]]
        ok = s.holds(old, new)
        failed |= not ok
        news = "; ".join(
            (f"{arm}: " if len(new) > 1 else "") + r["text"] for arm, r in zip(s.arms[1:], new)
        )
        verdict = "fix holds" if ok else "FIX FAILED"
        if ok and old.get("bad") == 0:
            verdict += " (bug not reproduced)"
        rows.append((s.name, s.issue, old["text"], news, verdict))
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(row) + " |")
    for s in chosen:
        print(f"{s.name}: {s.note}")
    return 1 if failed else 0
