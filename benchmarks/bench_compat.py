"""Popen latency: native _posixsubprocess.fork_exec vs pysyscall.compat.

    python benchmarks/bench_compat.py [N]

Each round starts ``/bin/true`` with a cwd (which keeps 3.13+ Popen off its
posix_spawn path, so both sides go through fork_exec) and waits for it.
Prints the median and mean per start, and the ratio.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from pysyscall import compat, runners


def rounds(n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(["/bin/true"], cwd="/")
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds(20)
    native = rounds(n)
    with compat.installed():
        rounds(20)
        ours = rounds(n)
    print(f"python {sys.version.split()[0]}, runner {runners.requested()}, {n} rounds")
    for name, times in (("native", native), ("pysyscall", ours)):
        print(
            f"{name:10} median {statistics.median(times) * 1e6:8.1f} us  "
            f"mean {statistics.mean(times) * 1e6:8.1f} us"
        )
    print(f"ratio (median) {statistics.median(ours) / statistics.median(native):.2f}")


if __name__ == "__main__":
    main()
