"""Spawn + reap of /bin/true: the vfork runner against os.posix_spawn, the fork
runner and subprocess.Popen(user=, group=, extra_groups=).

    python3 benchmarks/vfork.py [--quick]

For each parent size (small; 2 GiB resident, every page touched) one fresh
interpreter measures every method, batch after batch in turn, so that the
drift of a shared machine hits them all alike; each figure is the median of
the batch means (µs per spawn + reap). Credentials (run as root): uid and
gid 65534, groups [65534]. Threads: spawns per second over a fixed time with
1 and 2 threads spawning at once, each in a fresh interpreter. A standalone
script for issue 8; the project's bench command is pysyscall/bench.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534
TRUE = "/bin/true"


def ballast(mib: int) -> bytearray:
    data = bytearray(mib << 20)
    data[::4096] = b"\1" * len(range(0, len(data), 4096))  # touch every page
    return data


def starter(method: str) -> Callable[[], None]:
    """A function that starts /bin/true with ``method`` and reaps it."""
    sys.path.insert(0, str(ROOT))
    import pysyscall
    from pysyscall import runners

    credential = pysyscall.Credential(NOBODY, NOBODY, [NOBODY])
    if method.startswith(("vfork", "fork", "spawn")):
        runner, _, what = method.partition("+")
        cred = pysyscall.SysProcAttr(credential=credential)
        attr = pysyscall.ProcAttr(sys=cred) if what else None

        def start() -> None:
            # runners.override where the package has it (bench.py's switch),
            # else the environment variable.
            if hasattr(runners, "override"):
                runners.override = runner
            else:
                os.environ["PYSYSCALL_RUNNER"] = runner
            os.waitpid(pysyscall.fork_exec(TRUE, ["true"], attr), 0)

        return start
    if method == "posix_spawn":

        def start() -> None:
            os.waitpid(os.posix_spawn(TRUE, ["true"], os.environ), 0)

        return start
    if method == "popen":
        return lambda: subprocess.Popen([TRUE]).wait()
    if method == "popen+cred":
        return lambda: subprocess.Popen(
            [TRUE], user=NOBODY, group=NOBODY, extra_groups=[NOBODY]
        ).wait()
    raise ValueError(method)


METHODS = ["vfork", "posix_spawn", "spawn", "fork", "vfork+cred", "fork+cred", "popen",
           "popen+cred"]  # fmt: skip
SLOW_IN_BIG = {"fork", "fork+cred", "popen+cred"}  # copy the page tables


def measure_all(mib: int, rounds: int, per_batch: int) -> dict[str, list[float]]:
    """In one process: every method, batch after batch in turn (drift hits all)."""
    held = ballast(mib)
    starts = {method: starter(method) for method in METHODS}
    for start in starts.values():
        for _ in range(5):
            start()  # warm up: bindings, the routine's mapping, the thread's stack
    means: dict[str, list[float]] = {method: [] for method in METHODS}
    for _ in range(rounds):
        for method, start in starts.items():
            n = max(3, per_batch // 30) if mib and method in SLOW_IN_BIG else per_batch
            began = time.perf_counter()
            for _ in range(n):
                start()
            means[method].append((time.perf_counter() - began) / n * 1e6)
    assert len(held) == mib << 20
    return means


def rate(method: str, threads: int, seconds: float) -> float:
    """Spawns per second with ``threads`` threads spawning at once."""
    start = starter(method)
    for _ in range(20):
        start()
    counts = [0] * threads
    stop = threading.Event()

    def loop(i: int) -> None:
        while not stop.is_set():
            start()
            counts[i] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    began = time.perf_counter()
    for t in workers:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in workers:
        t.join()
    return sum(counts) / (time.perf_counter() - began)


def fresh(*args: str) -> Any:
    """Run this script with ``--measure ARGS`` in a fresh interpreter; its JSON."""
    command = [sys.executable, __file__, "--measure", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and smaller batches")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.measure:
        kind, *args = options.measure
        if kind == "all":
            print(json.dumps(measure_all(*map(int, args))))
        else:
            print(json.dumps(rate(kind, int(args[0]), float(args[1]))))
        return
    rounds, per_batch, seconds = (5, 60, 2.0) if options.quick else (9, 150, 4.0)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; µs per spawn + reap of "
          f"{TRUE}: median of {rounds} batches, the methods' batches interleaved in one "
          f"process per parent size")  # fmt: skip
    medians: dict[int, dict[str, float]] = {}
    for mib in (0, 2048):
        means = fresh("all", str(mib), str(rounds), str(per_batch))
        medians[mib] = {method: statistics.median(values) for method, values in means.items()}
    print(f"{'':12} {'small':>8} {'2 GiB':>8}")
    for method in METHODS:
        print(f"{method:12} {medians[0][method]:8.0f} {medians[2048][method]:8.0f}")
    for mib, size in ((0, "small"), (2048, "2 GiB")):
        m = medians[mib]
        print(f"{size}: vfork / os.posix_spawn {m['vfork'] / m['posix_spawn']:.3f} (goal <= 1.05); "
              f"vfork+cred / vfork {m['vfork+cred'] / m['vfork']:.3f} (goal <= 1.1); "
              f"Popen(user=, group=, extra_groups=) / vfork+cred "
              f"{m['popen+cred'] / m['vfork+cred']:.1f}x (goal >= 20)")  # fmt: skip
    for method in ("vfork", "posix_spawn", "spawn"):
        one, two = (fresh(method, str(threads), str(seconds)) for threads in (1, 2))
        print(f"{method:12} spawns/s: 1 thread {one:6.0f}, 2 threads {two:6.0f}, "
              f"ratio {two / one:.2f} (goal >= 1.8, or >= os.posix_spawn's)")  # fmt: skip


if __name__ == "__main__":
    main()
