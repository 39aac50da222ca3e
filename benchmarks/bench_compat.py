"""Popen latency: native _posixsubprocess.fork_exec vs pysyscall.compat.

    python benchmarks/bench_compat.py [--rounds N] [--batch B] [--parts]

Each round starts ``/bin/true`` with a cwd (which keeps 3.13+ Popen off its
posix_spawn path, so both sides go through fork_exec) and waits for it:
``subprocess.run(["/bin/true"], cwd="/")``. The two sides run in
alternating batches of B rounds, so that the drift of a shared machine hits
both alike. Prints the median per start of each side, their ratio, and the
median of the per-batch ratios. ``--parts`` also times compat's own Python
work per start (no process started). It runs this checkout's pysyscall,
or the one PYTHONPATH names if it is set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

if not os.environ.get("PYTHONPATH"):  # this checkout's pysyscall, not an installed one
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pysyscall import compat, runners
from pysyscall import remembered as plan_cache

COMMAND = ["/bin/true"]


def rounds(n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(COMMAND, cwd="/")
        times.append(time.perf_counter() - start)
    return times


def _median_us(work: Callable[[], Any], n: int = 2000) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def parts() -> None:
    """compat.fork_exec's Python work per start, in parts (median µs)."""
    seen: list[tuple[Any, ...]] = []

    def record(*arguments: Any) -> int:
        seen.append(arguments)
        assert compat.NATIVE is not None
        return compat.NATIVE(*arguments)

    with compat.installed():
        module, name, _ = compat._saved[0]
        setattr(module, name, record)
        try:
            subprocess.run(COMMAND, cwd="/")
        finally:
            setattr(module, name, compat.fork_exec)
    arguments = seen[0]
    request = compat.Request(arguments)
    prepared = compat.child_program(request)
    runner = runners.select(prepared.plan)

    def remembered() -> None:
        key = compat.request_key(arguments)
        assert key is not None
        entry = plan_cache.lookup(key)
        if entry is None:
            entry = plan_cache.keep(key, prepared.plan, files=(), signals=False)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3000, help="starts per side")
    parser.add_argument("--batch", type=int, default=10, help="starts per batch")
    parser.add_argument("--parts", action="store_true", help="time compat's parts too")
    options = parser.parse_args()
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
