# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""``python -m pysyscall bench``: starting a process, against the stdlib, in one run.

Every method starts ``/bin/true`` and reaps it. In one run, on one machine,
the methods take turns, in a new random order every round: pysyscall with
each runner (auto, then every runner that can run the plan here),
os.posix_spawn, subprocess.Popen and os.fork + os.execv, and
``Popen(cwd="/")`` natively and through pysyscall's compat adapter (the cwd
keeps 3.13+ Popen off its posix_spawn path, so both go through fork_exec;
compat is installed only around its own starts). The methods that fork
(``forking()``) take their turns after all the others' rounds, among
themselves: a fork leaves every page of the parent copy-on-write, and the
next start pays a fault for each page it writes, which is the fork's cost,
not the start's (measured: right after os.fork + os.execv, a start of auto
faulted 151 times, os.posix_spawn 77, compat's Popen 247, native Popen
147; none of them faulted otherwise). The
table gives each method's median and min-max time per start + reap, and
its ratio to os.posix_spawn's median, at each parent size asked for
(``--rss``: memory allocated and touched before measuring, so the parent's
page tables are that big).

Then spawns per second with 1..N threads starting at once: pysyscall auto
with the counting fork lock (Linux's forkpipe2, forks share the lock), the
same with the serializing lock forced (forkpipe.acquire_fork_lock, darwin's
protocol), os.posix_spawn and subprocess.Popen; each figure the median of
three runs, interleaved. Last, the headline ratios of the whole run
(auto against os.posix_spawn at each size, compat's Popen against the
native one, and ``import pysyscall`` against ``import subprocess`` in fresh
interpreters, -X importtime). A progress line goes to stderr; the tables
(Markdown) to stdout.

Speed is only ever measured here, never asserted by the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable

from . import env_unix, exec_unix, forkpipe, forkpipe2, remembered, runners, runtime
from ._platform import GOOS, MACHINE, system
from .exec_unix import child_program, fork_exec, wait4
from .plan import Credential

Start = Callable[[], None]
PROGRAM = "/bin/true"
AUTO_GOAL = 0.95  # pysyscall auto / os.posix_spawn
COMPAT_GOAL = 1.0  # Popen through compat / native Popen
NOBODY = 65534  # the ids of the credential rows (run as root)
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """Bytes for "0", "512M", "2G", "1.5G" (binary units)."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in UNITS else ""
    number = text[: len(text) - len(unit)]
    try:
        return int(float(number) * UNITS[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 0, 512M, 2G)") from None


def show_size(size: int) -> str:
    for unit in ("G", "M", "K"):
        if size >= UNITS[unit] and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]} {unit}iB"
    return f"{size} B"


def rss() -> int:
    """This process's resident set, in bytes (VmRSS)."""
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def ballast(size: int) -> bytearray:
    """``size`` bytes allocated and every page touched (resident, own page tables)."""
    data = bytearray(size)
    page = os.sysconf("SC_PAGE_SIZE")
    data[::page] = b"\1" * len(range(0, size, page))
    return data


class Progress:
    """One line on stderr, rewritten in place (at most 10 times a second)."""

    def __init__(self) -> None:
        self.last = 0.0
        self.width = 0

    def __call__(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        sys.stderr.write("\r" + text.ljust(self.width))
        sys.stderr.flush()
        self.width = len(text)

    def done(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
        self.width = 0


# --- the methods ---------------------------------------------------------------


def pysyscall_start(runner: str | None, program: str = PROGRAM, credential: bool = False) -> Start:
    """fork_exec + wait4, as a user calls them; ``runner`` forced (None: auto).

    ``credential``: run as NOBODY (uid, gid and groups), as root only.
    """
    argv = [os.path.basename(program)]
    attr = None
    if credential:
        ids = Credential(NOBODY, NOBODY, [NOBODY])
        attr = exec_unix.ProcAttr(sys=system.SysProcAttr(credential=ids))

    def start() -> None:
        runners.override = runner
        try:
            pid = fork_exec(program, argv, attr)
        finally:
            runners.override = None
        wait4(pid)

    return start


def posix_spawn_start(program: str = PROGRAM) -> Start:
    argv = [os.path.basename(program)]

    def start() -> None:
        os.waitpid(os.posix_spawn(program, argv, os.environ), 0)

    return start


def popen_start(program: str = PROGRAM, credential: bool = False) -> Start:
    ids: dict[str, Any] = {}
    if credential:
        ids = {"user": NOBODY, "group": NOBODY, "extra_groups": [NOBODY]}

    def start() -> None:
        subprocess.Popen([program], **ids).wait()

    return start


class CompatPopen:
    """``Popen([program], cwd="/").wait()`` through pysyscall's compat adapter.

    ``enter`` installs compat and ``leave`` takes it out again, around each
    start but outside its timing (latency), so that every other method
    runs native subprocess.
    """

    def __init__(self, program: str = PROGRAM) -> None:
        self.program = program

    def enter(self) -> None:
        from . import compat

        compat.install()

    def leave(self) -> None:
        from . import compat

        compat.uninstall()

    def __call__(self) -> None:
        subprocess.Popen([self.program], cwd="/").wait()


def popen_cwd_start(program: str = PROGRAM) -> Start:
    """Native ``Popen([program], cwd="/").wait()``: what CompatPopen is compared with."""

    def start() -> None:
        subprocess.Popen([program], cwd="/").wait()

    return start


def fork_execv_start(program: str = PROGRAM) -> Start:
    argv = [os.path.basename(program)]

    def start() -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            try:
                os.execv(program, argv)
            finally:
                os._exit(127)
        os.waitpid(pid, 0)

    return start


def auto_pick(program: str = PROGRAM) -> str:
    """The runner auto picks for a plain start of ``program``."""
    plan = child_program(program, [os.path.basename(program)])
    return str(runners.select(plan).NAME)


def methods(program: str = PROGRAM) -> list[tuple[str, Start]]:
    """Every method, pysyscall's runners first; unavailable runners are left out."""
    found = [(f"pysyscall auto ({auto_pick(program)})", pysyscall_start(None, program))]
    plan = child_program(program, [os.path.basename(program)])
    for runner in runners.RUNNERS:
        if runner.unavailable(plan) is None:
            found.append((f"pysyscall {runner.NAME}", pysyscall_start(runner.NAME, program)))
    found += [
        ("os.posix_spawn", posix_spawn_start(program)),
        ("subprocess.Popen", popen_start(program)),
        ("os.fork + os.execv", fork_execv_start(program)),
    ]
    if compat_available():
        found += [(POPEN_NATIVE, popen_cwd_start(program)), (POPEN_COMPAT, CompatPopen(program))]
    if os.geteuid() == 0:  # changing ids: the vfork routine keeps its cost, Popen forks
        found += [
            (CREDENTIAL_AUTO, pysyscall_start(None, program, credential=True)),
            (CREDENTIAL_POPEN, popen_start(program, credential=True)),
        ]
    return found


# Whether _posixsubprocess starts a Popen without credentials with vfork
# (3.10+ on Linux, bpo-35823), or forks.
POPEN_VFORKS = sys.version_info >= (3, 10) and GOOS == "linux"


def forking() -> frozenset[str]:
    """The methods whose start forks: their copy-on-write faults fall on the next start."""
    names = {"pysyscall fork", "os.fork + os.execv", CREDENTIAL_POPEN}  # Popen forks for ids
    if not POPEN_VFORKS:
        names |= {"subprocess.Popen", POPEN_NATIVE}
    return frozenset(names)


def compat_available() -> bool:
    """Whether compat plans Popen's starts here (else it hands them all to the native one)."""
    from .compat.program import PLANNED

    return PLANNED


POPEN_NATIVE = 'subprocess.Popen(cwd="/")'
POPEN_COMPAT = 'subprocess.Popen(cwd="/") through compat'
CREDENTIAL_AUTO = f"pysyscall auto, credential {NOBODY}"
CREDENTIAL_POPEN = f"subprocess.Popen(user=, group=, extra_groups=) {NOBODY}"


@contextlib.contextmanager
def serializing_fork_lock() -> Iterator[None]:
    """Force forkpipe's serializing fork lock (every start takes the write lock)."""
    module: Any = exec_unix
    current = module.forkpipe
    shim = types.SimpleNamespace(
        fork_exec_pipe=current.fork_exec_pipe,
        acquire_fork_lock=forkpipe.acquire_fork_lock,
        release_fork_lock=forkpipe.release_fork_lock,
        ATOMIC=False,
    )
    module.forkpipe = shim
    try:
        yield
    finally:
        module.forkpipe = current


# --- measuring -----------------------------------------------------------------


def latency(
    found: Sequence[tuple[str, Start]], rounds: int, progress: Callable[[str], None]
) -> dict[str, list[float]]:
    """Seconds per start + reap, ``rounds`` per method, the methods taking turns.

    The methods that fork take theirs after the others' rounds (see the
    module doc).
    """
    times: dict[str, list[float]] = {name: [] for name, _ in found}
    forks = forking()
    for group, label in (
        ([m for m in found if m[0] not in forks], ""),
        ([m for m in found if m[0] in forks], ", the methods that fork"),
    ):
        _rounds(group, rounds, times, progress, label)
    return times


def _rounds(
    found: Sequence[tuple[str, Start]],
    rounds: int,
    times: dict[str, list[float]],
    progress: Callable[[str], None],
    label: str,
) -> None:
    for _, start in found:  # warm up: imports, caches, the first page faults
        for _ in range(3):
            _entered(start)
    clock = time.perf_counter
    order = list(found)
    shuffle = random.Random(4).shuffle
    gc.collect()
    for r in range(rounds):
        progress(f"round {r + 1}/{rounds}{label}")
        shuffle(order)
        for name, start in order:
            enter, leave = getattr(start, "enter", None), getattr(start, "leave", None)
            if enter is not None:
                enter()
            try:
                t0 = clock()
                start()
                times[name].append(clock() - t0)
            finally:
                if leave is not None:
                    leave()


def _entered(start: Start) -> None:
    """``start()``, between its ``enter`` and ``leave`` if it has them."""
    enter, leave = getattr(start, "enter", None), getattr(start, "leave", None)
    if enter is not None:
        enter()
    try:
        start()
    finally:
        if leave is not None:
            leave()


def rate(start: Start, threads: int, spawns: int) -> float:
    """Starts per second with ``threads`` threads each making ``spawns`` starts at once."""
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            for _ in range(spawns):
                start()
        except BaseException as error:  # reported by the caller
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    t0 = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return threads * spawns / elapsed


def throughput(
    threads: int, spawns: int, progress: Callable[[str], None], repeats: int = 3
) -> dict[str, list[float]]:
    """Median starts per second for 1..threads threads, per kind of start."""
    auto = pysyscall_start(None)
    kinds: list[tuple[str, Start, Callable[[], Any]]] = [
        ("pysyscall auto, counting fork lock", auto, contextlib.nullcontext),
        ("pysyscall auto, serializing fork lock", auto, serializing_fork_lock),
        ("os.posix_spawn", posix_spawn_start(), contextlib.nullcontext),
        ("subprocess.Popen", popen_start(), contextlib.nullcontext),
    ]
    rates: dict[tuple[str, int], list[float]] = {}
    total = repeats * threads * len(kinds)
    done = 0
    for _ in range(repeats):
        for n in range(1, threads + 1):
            for name, start, context in kinds:
                done += 1
                progress(f"threads: run {done}/{total} ({name}, {n} thread{'s' * (n > 1)})")
                with context():
                    rates.setdefault((name, n), []).append(rate(start, n, spawns))
    return {
        name: [statistics.median(rates[(name, n)]) for n in range(1, threads + 1)]
        for name, _, _ in kinds
    }


def overhead(samples: int = 2000) -> dict[str, float]:
    """Median µs of pysyscall's own Python work per start (no process started)."""
    plan = child_program(PROGRAM, ["true"])
    picked = runners.select(plan)
    procattr = exec_unix.ProcAttr

    def remembered_lookup() -> Any:
        key = remembered.request_key(PROGRAM, ["true"], None, procattr)
        return None if key is None else remembered._entries.get(key)

    def select() -> Any:
        plan.prepared.clear()  # else the runner's translation is kept
        return runners.select(plan)

    def fork_lock() -> None:
        hold = forkpipe2.acquire_fork_lock(exec_unix.fork_lock)
        forkpipe2.release_fork_lock(exec_unix.fork_lock, hold)

    parts: dict[str, Callable[[], Any]] = {
        "environment (env_unix.Environ)": env_unix.Environ,
        "environment taken again, as a kept plan's start does (Environ.take)": (
            env_unix.Environ().take
        ),
        "signals to reset (runtime.signals_to_reset)": runtime.signals_to_reset,
        "whole plan (exec_unix.child_program)": lambda: child_program(PROGRAM, ["true"]),
        f"runner choice (runners.select: {picked.NAME})": select,
        "a remembered start found (remembered.request_key + lookup)": remembered_lookup,
        "fork lock, taken and released (counting)": fork_lock,
    }
    result = {}
    for name, part in parts.items():
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            part()
            times.append(time.perf_counter() - t0)
        result[name] = statistics.median(times) * 1e6
    return result


# --- the report ----------------------------------------------------------------


def machine() -> str:
    libc = " ".join(platform.libc_ver()) or "?"
    python = f"{platform.python_implementation()} {platform.python_version()}"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.system()} {platform.release()} {MACHINE}, {libc}, {python}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )


def latency_table(times: dict[str, list[float]], baseline: str = "os.posix_spawn") -> list[str]:
    base = statistics.median(times[baseline])
    lines = [
        "| method | median µs | min-max µs | vs os.posix_spawn |",
        "|---|---:|---:|---:|",
    ]
    for name, samples in times.items():
        median = statistics.median(samples)
        lines.append(
            f"| {name} | {median * 1e6:,.0f} | {min(samples) * 1e6:,.0f}-"
            f"{max(samples) * 1e6:,.0f} | {median / base:.2f}x |"
        )
    return lines


def throughput_table(rates: dict[str, list[float]]) -> list[str]:
    n = len(next(iter(rates.values())))
    head = " | ".join(f"{k} thread{'s' * (k > 1)}" for k in range(1, n + 1))
    lines = [
        f"| spawns/s | {head} | {n} vs 1 |" if n > 1 else f"| spawns/s | {head} |",
        "|---|" + "---:|" * (n + (n > 1)),
    ]
    for name, per in rates.items():
        cells = " | ".join(f"{r:,.0f}" for r in per)
        ratio = f" | {per[-1] / per[0]:.2f}x" if n > 1 else ""
        lines.append(f"| {name} | {cells}{ratio} |")
    return lines


def goals(
    times: dict[str, list[float]], rates: dict[str, list[float]] | None, size: int = 0
) -> list[str]:
    """The project's speed goals, checked against this run's figures.

    Against the standard library: auto at most 0.95x os.posix_spawn and no
    slower than Popen, Popen through compat no slower than native Popen,
    the fork runner no slower than os.fork + os.execv, threads scaling.
    The vfork routine, credentials included: its cost whatever the plan
    asks (ids changed), against Popen that forks then.

    ``size``: the memory allocated in the parent. Popen(user=) is only slow
    in a big parent (it forks instead of vfork): that goal is for 2 GiB.
    """
    med = {name: statistics.median(samples) for name, samples in times.items()}
    auto = next(name for name in med if name.startswith("pysyscall auto ("))

    def ratio(ours: str, theirs: str, goal: float, at_least: bool = False) -> str:
        value = med[theirs] / med[ours] if at_least else med[ours] / med[theirs]
        met = value >= goal if at_least else value <= goal
        shown = f"{med[theirs] * 1e6:,.0f} / {med[ours] * 1e6:,.0f}" if at_least else (
            f"{med[ours] * 1e6:,.0f} / {med[theirs] * 1e6:,.0f}"
        )  # fmt: skip
        names = f"{theirs} / {ours}" if at_least else f"{ours} / {theirs}"
        sign = "≥" if at_least else "≤"
        return f"- {names} = {shown} µs = {value:.3f} (goal {sign} {goal:g}): " + (
            "met" if met else "not met"
        )

    lines = [
        "Against the standard library:",
        ratio(auto, "os.posix_spawn", AUTO_GOAL),
        ratio(auto, "subprocess.Popen", 1),
    ]
    if POPEN_COMPAT in med:
        lines.append(ratio(POPEN_COMPAT, POPEN_NATIVE, COMPAT_GOAL))
    if "pysyscall fork" in med:
        lines.append(ratio("pysyscall fork", "os.fork + os.execv", 1))
    scaling = reference = None
    if rates is not None and len(next(iter(rates.values()))) > 1:
        ours = rates["pysyscall auto, counting fork lock"]
        theirs = rates["os.posix_spawn"]
        scaling, reference = ours[1] / ours[0], theirs[1] / theirs[0]
        met = scaling >= 1.6 or scaling >= reference
        lines.append(
            f"- 2 threads / 1 thread, counting lock = {scaling:.2f} (goal ≥ 1.6, or ≥ "
            f"os.posix_spawn's {reference:.2f} in this run): " + ("met" if met else "not met")
        )
    if "pysyscall vfork" in med:
        lines += [
            "The vfork routine, credentials included:",
            ratio("pysyscall vfork", "os.posix_spawn", 1.05),
        ]
        if CREDENTIAL_AUTO in med and auto == "pysyscall auto (vfork)":
            lines.append(ratio(CREDENTIAL_AUTO, auto, 1.1))
            popen = ratio(CREDENTIAL_AUTO, CREDENTIAL_POPEN, 20, at_least=True)
            if size < 1 << 30:
                popen = popen.rpartition(":")[0] + ": a goal for a 2 GiB parent, not this one"
            lines.append(popen)
        if scaling is not None and reference is not None and auto == "pysyscall auto (vfork)":
            met = scaling >= 1.8 or scaling >= reference
            lines.append(
                f"- 2 threads / 1 thread = {scaling:.2f} (goal ≥ 1.8, or ≥ os.posix_spawn's "
                f"{reference:.2f} in this run): " + ("met" if met else "not met")
            )
    return lines


def import_time(module: str) -> float | None:
    """Seconds ``import module`` took in a fresh interpreter (-X importtime, cumulative).

    None when the interpreter had imported it before (no line for it).
    The child imports the pysyscall this process runs.
    """
    here = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=path),
        check=True,
    )
    for line in out.stderr.splitlines():
        fields = line.split("|")
        if len(fields) == 3 and fields[2].strip() == module and not fields[2][1:].startswith(" "):
            return int(fields[1]) / 1e6
    return None


IMPORTED = ("pysyscall", "subprocess", "pysyscall.exec_unix")


def import_times(runs: int = 5) -> dict[str, list[float]]:
    """``import pysyscall`` and ``import subprocess`` (and what fork_exec loads on its
    first use), ``runs`` times each, taking turns."""
    times: dict[str, list[float]] = {name: [] for name in IMPORTED}
    for _ in range(runs):
        for module, samples in times.items():
            seconds = import_time(module)
            if seconds is not None:
                samples.append(seconds)
    return times


def headline(
    ratios: list[tuple[str, dict[str, float]]], imports: dict[str, list[float]]
) -> list[str]:
    """The run's headline ratios: auto against os.posix_spawn, compat's Popen
    against the native one, at each parent size; the import against subprocess's."""

    def at_sizes(key: str) -> str:
        # Three decimals: two would print 0.951 as the goal, 0.95.
        return ", ".join(f"{r[key]:.3f}x ({label})" for label, r in ratios if key in r)

    lines = [
        f"- pysyscall auto / os.posix_spawn (goal ≤ {AUTO_GOAL:.2f}): {at_sizes('auto')}",
    ]
    if any("compat" in r for _, r in ratios):
        lines.append(
            f"- Popen through compat / native Popen (goal ≤ {COMPAT_GOAL:.2f}): "
            f"{at_sizes('compat')}"
        )
    ours, theirs = imports["pysyscall"], imports["subprocess"]
    if ours and theirs:
        a, b = statistics.median(ours), statistics.median(theirs)
        lines.append(
            f"- import pysyscall / import subprocess (goal ≤ 1; -X importtime cumulative, "
            f"median of {len(ours)} fresh interpreters): {a * 1e3:.1f} / {b * 1e3:.1f} ms "
            f"= {a / b:.2f}x"
        )
    loaded = imports["pysyscall.exec_unix"]
    if loaded:
        lines.append(
            f"  (what fork_exec needs, loaded on its first use: import pysyscall.exec_unix, "
            f"{statistics.median(loaded) * 1e3:.1f} ms)"
        )
    return lines


def run_ratios(times: dict[str, list[float]]) -> dict[str, float]:
    """This size's headline ratios (medians): auto / os.posix_spawn, compat / native Popen."""
    med = {name: statistics.median(samples) for name, samples in times.items()}
    auto = next(name for name in med if name.startswith("pysyscall auto ("))
    result = {"auto": med[auto] / med["os.posix_spawn"]}
    if POPEN_COMPAT in med:
        result["compat"] = med[POPEN_COMPAT] / med[POPEN_NATIVE]
    return result


def _prefixed(progress: Progress, label: str) -> Callable[[str], None]:
    return lambda text: progress(f"{label}: {text}")


def main(
    sizes: Sequence[int], threads: int, spawns: int, command: str = "", out: Any = None
) -> int:
    """Run the bench at each parent size; print the tables. Returns 0."""
    out = out or sys.stdout
    progress = Progress()
    if command:
        print(f"`{command}`", file=out)
    print(f"\n{machine()}; {PROGRAM}, start + reap, {spawns} rounds\n", file=out)
    keep: list[bytearray] = []
    ratios: list[tuple[str, dict[str, float]]] = []
    for size in sorted(sizes):
        grow = size - sum(len(b) for b in keep)
        if grow > 0:
            progress(f"allocating and touching {show_size(size)}", force=True)
            keep.append(ballast(grow))
        label = f"parent RSS {rss() / (1 << 20):,.0f} MiB" + (
            f" ({show_size(size)} allocated)" if size else " (nothing allocated)"
        )
        found = methods()
        times = latency(found, spawns, _prefixed(progress, label))
        rates = throughput(threads, spawns, _prefixed(progress, label)) if threads else None
        progress.done()
        print(f"### {label}\n", file=out)
        print("\n".join(latency_table(times)), file=out)
        if rates is not None:
            print("", file=out)
            print("\n".join(throughput_table(rates)), file=out)
        print("\nGoals:\n\n" + "\n".join(goals(times, rates, size)) + "\n", file=out)
        out.flush()
        ratios.append((f"{rss() / (1 << 20):,.0f} MiB parent", run_ratios(times)))
    progress(f"pysyscall's own work per start, {2000} samples", force=True)
    costs = overhead()
    progress.done()
    print("pysyscall's own Python work per start (median µs, no process started):\n", file=out)
    for name, micros in costs.items():
        print(f"- {name}: {micros:.1f}", file=out)
    progress("import pysyscall and import subprocess, in fresh interpreters", force=True)
    imports = import_times()
    progress.done()
    print("\nHeadline ratios of this run (medians):\n", file=out)
    print("\n".join(headline(ratios, imports)), file=out)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=out)
    return 0
