# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""Which runner runs the child's program: PYSYSCALL_RUNNER, or auto's choice.

Every runner runs the same plan (plan.py) with no Python in the child and
reports failures the same way. ``auto`` (the default) takes the first runner
in RUNNERS that can run the plan here; naming a runner forces it, and an
error says why when it cannot.
"""

from __future__ import annotations

from types import ModuleType

from . import env_unix, runner_fork, runner_spawn, runner_vfork
from .plan import Plan

# auto's order of preference: the vfork routine (Go's way: every plan, at a
# flat cost, on x86-64 and aarch64 Linux), then posix_spawn where the plan fits its
# attributes and file actions (runner_spawn.py), then fork. All three load
# with the layer, not when a selection first needs one: a start from a
# signal handler that interrupted that import would get the half-made
# module (the thread holds its import lock already).
RUNNERS: tuple[ModuleType, ...] = (runner_vfork, runner_spawn, runner_fork)


# A runner name that takes precedence over PYSYSCALL_RUNNER: the benchmark
# (bench.py) switches runners between starts without changing os.environ,
# which every child inherits.
override: str | None = None


def requested() -> str:
    """The runner PYSYSCALL_RUNNER names (or ``override``); auto when unset or empty."""
    return override or env_unix.getenv_runner() or "auto"


def select(plan: Plan | None = None) -> ModuleType:
    """The runner for ``plan``: the one PYSYSCALL_RUNNER names, or auto's pick."""
    name = requested()
    names = [runner.NAME for runner in RUNNERS]
    if name != "auto" and name not in names:
        choices = ", ".join(repr(n) for n in ["auto", *names])
        raise ValueError(f"PYSYSCALL_RUNNER={name!r}: the runners are {choices}")
    reasons = []
    for runner in RUNNERS:
        if name in ("auto", runner.NAME):
            reason = runner.unavailable(plan)
            if reason is None:
                return runner
            reasons.append(f"{runner.NAME}: {reason}")
    raise RuntimeError("pysyscall cannot start this process here: " + "; ".join(reasons))
