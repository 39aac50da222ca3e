"""Popen latency: native _posixsubprocess.fork_exec vs pysyscall.compat.

    python benchmarks/bench_compat.py [--rounds N] [--batch B] [--parts] [--layers]

Each round starts ``/bin/true`` with a cwd (which keeps 3.13+ Popen off its
posix_spawn path, so both sides go through fork_exec) and waits for it:
``subprocess.run(["/bin/true"], cwd="/")``. The two sides run in
alternating batches of B rounds, so that the drift of a shared machine hits
both alike. Prints the median per start of each side, their ratio, and the
median of the per-batch ratios. ``--parts`` also times compat's own Python
work per start (no process started). ``--layers`` measures what each
layer of a kept compat start costs: the same start cut down one layer at a
time, each cut-down copy in the same alternation against native (see
``layers``). It runs this checkout's pysyscall, or the one PYTHONPATH
names if it is set.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

if not os.environ.get("PYTHONPATH"):  # this checkout's pysyscall, not an installed one
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pysyscall import compat, exec_unix, libc, runner_vfork, runners
from pysyscall import remembered as plan_cache

COMMAND = ["/bin/true"]


def rounds(n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(COMMAND, cwd="/")
        times.append(time.perf_counter() - start)
    return times


@contextlib.contextmanager
def _through(fork_exec: Callable[..., int]) -> Iterator[None]:
    """Popen's fork_exec (what compat.install replaces) is ``fork_exec`` for the block."""
    module, name = compat._targets()[0]
    original = getattr(module, name)
    setattr(module, name, fork_exec)
    try:
        yield
    finally:
        setattr(module, name, original)


def _recorded_arguments() -> tuple[Any, ...]:
    """The arguments Popen passes fork_exec for one start of COMMAND (cwd "/")."""
    seen: list[tuple[Any, ...]] = []

    def record(*arguments: Any) -> int:
        seen.append(arguments)
        assert compat.NATIVE is not None
        return compat.NATIVE(*arguments)

    with _through(record):
        subprocess.run(COMMAND, cwd="/")
    return seen[0]


def _median_us(work: Callable[[], Any], n: int = 2000) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def parts() -> None:
    """compat.fork_exec's Python work per start, in parts (median µs)."""
    arguments = _recorded_arguments()
    request = compat.Request(arguments)
    prepared = compat.child_program(request)
    runner = runners.select(prepared.plan)

    def remembered() -> None:
        key = compat.request_key(arguments)
        assert key is not None
        entry = plan_cache.lookup(key)
        if entry is None:
            state = compat.signal_state()
            entry = plan_cache.keep(
                key, prepared.plan, files=(), signals=(compat.signal_state, state)
            )
        entry.give_back(plan_cache.take(entry) or prepared)

    timings = [
        ("signal state (/proc/self/status; fork runner, new plan)", compat.signal_state),
        ("request key", lambda: compat.request_key(arguments)),
        ("remembered plan found and given back", remembered),
        ("arguments checked (Request)", lambda: compat.Request(arguments)),
        ("plan made (child_program)", lambda: compat.child_program(request)),
        (f"runner chosen ({runner.NAME})", lambda: runners.select(prepared.plan)),
    ]
    print("compat's Python work per start (median us, no process started):")
    for what, work in timings:
        print(f"  {what:40} {_median_us(work):7.1f}")


def layers(rounds_per_side: int, batch: int) -> None:
    """What each layer of a kept compat start costs, against native Popen.

    Popen's own ``_fork_exec`` is replaced, batch by batch, by compat.fork_exec
    and by copies of its kept start with one more layer left out each: the
    interrupt guard and the start's frames (exec_unix._guarded, _start), the
    request key and lookup, the environ copy and the plan pool, the fork
    lock's share, the GC pause and signal mask (the clone alone, the child
    program as planned). The copies give up what those layers guarantee
    (a Ctrl-C, another thread, os.putenv): they are for this measurement
    only, on a kept plan of the vfork runner, starting /bin/true.
    """
    with compat.installed():
        rounds(20)  # planned and kept
    arguments = _recorded_arguments()
    key = compat.request_key(arguments)
    entry = None if key is None else plan_cache.lookup(key)
    if entry is None or entry.runner is not runner_vfork:
        print("--layers: needs compat's kept plan on the vfork runner (auto on x86-64, aarch64)")
        return
    record = exec_unix._records.record  # this thread's, made by compat's starts
    assert record is not None
    pid = record.pid
    made = entry.plans[-1].plan.prepared[runner_vfork.NAME]  # the plan the pool gives first

    def unguarded(*arguments: Any) -> int:
        key = compat.request_key(arguments)
        assert key is not None
        return pooled(plan_cache.lookup(key))

    def unkeyed(*arguments: Any) -> int:
        return pooled(entry)

    def pooled(entry: Any) -> int:
        prepared = plan_cache.take(entry)
        pid.value = 0
        runner_vfork.start_kept(prepared.plan, record, exec_unix.fork_lock)
        entry.give_back(prepared)
        return int(pid.value)

    def clone_into_record() -> Iterator[Any]:
        return map(setattr, (pid,), ("value",), map(libc.invoke, (made.start,)))

    def chain(*arguments: Any) -> int:
        deque(made.fork_calls.around(made.share.around(clone_into_record())), 0)
        return int(pid.value)

    def unshared(*arguments: Any) -> int:
        deque(made.fork_calls.around(clone_into_record()), 0)
        return int(pid.value)

    def clone(*arguments: Any) -> int:
        return int(made.start())

    sides: list[tuple[str, Any]] = [
        ("native fork_exec", compat.NATIVE),
        ("compat.fork_exec", compat.fork_exec),
        ("- interrupt guard and start frames", unguarded),
        ("- request key and lookup", unkeyed),
        ("- environ copy, plan pool, checks", chain),
        ("- the fork lock's share", unshared),
        ("- GC pause and signal mask: the clone", clone),
    ]
    times: list[list[float]] = [[] for _ in sides]
    for _ in range(max(1, rounds_per_side // batch)):
        for i, (_, fork_exec) in enumerate(sides):
            with _through(fork_exec):
                times[i] += rounds(batch)
    native = statistics.median(times[0])
    print(f"a kept compat start, one layer less each row ({len(times[0])} starts a row):")
    print("| start | median us | vs native |")
    print("|---|---:|---:|")
    for (what, _), row in zip(sides, times):
        median = statistics.median(row)
        print(f"| {what} | {median * 1e6:.1f} | {median / native:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3000, help="starts per side")
    parser.add_argument("--batch", type=int, default=10, help="starts per batch")
    parser.add_argument("--parts", action="store_true", help="time compat's parts too")
    parser.add_argument(
        "--layers", action="store_true", help="only: what each layer of a kept start costs"
    )
    options = parser.parse_args()
    if options.layers:
        layers(options.rounds, options.batch)
        return
    rounds(20)
    with compat.installed():
        rounds(20)
    native: list[float] = []
    ours: list[float] = []
    ratios = []
    for _ in range(max(1, options.rounds // options.batch)):
        a = rounds(options.batch)
        with compat.installed():
            b = rounds(options.batch)
        native += a
        ours += b
        ratios.append(statistics.median(b) / statistics.median(a))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}, runner {runners.requested()}, "
        f"{len(native)} starts per side in batches of {options.batch}, load average {load}"
    )
    for name, times in (("native", native), ("pysyscall", ours)):
        print(
            f"  {name:10} median {statistics.median(times) * 1e6:8.1f} us  "
            f"mean {statistics.mean(times) * 1e6:8.1f} us"
        )
    print(f"  ratio of medians {statistics.median(ours) / statistics.median(native):.3f}")
    print(f"  median of per-batch ratios {statistics.median(ratios):.3f}")
    if options.parts:
        parts()


if __name__ == "__main__":
    main()
