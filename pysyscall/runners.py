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

from . import env_unix, runner_vfork

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from types import ModuleType

    from .plan import Plan

# auto's order of preference: the vfork routine (Go's way: every plan, at a
# flat cost, on x86-64 and aarch64 Linux), then posix_spawn where the plan fits its
# attributes and file actions (runner_spawn.py), then fork. Each is the
# module runner_<name>, imported when first asked for: where auto takes the
# vfork routine, the other two never load (1 ms of a first start's imports).
NAMES = ("vfork", "spawn", "fork")

# Every runner module, in NAMES' order; reading it imports them all (__getattr__).
RUNNERS: tuple[ModuleType, ...]


def runner(name: str) -> ModuleType:
    """The runner module called ``name`` (one of NAMES), imported on first use.

    The imports run at the runner's selection, before a start makes
    anything an interrupt could leave behind.
    """
    if name == "spawn":
        from . import runner_spawn

        return runner_spawn
    if name == "fork":
        from . import runner_fork

        return runner_fork
    return runner_vfork


def __getattr__(name: str) -> tuple[ModuleType, ...]:
    if name == "RUNNERS":
        return tuple(map(runner, NAMES))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    if name != "auto" and name not in NAMES:
        choices = ", ".join(repr(n) for n in ["auto", *NAMES])
        raise ValueError(f"PYSYSCALL_RUNNER={name!r}: the runners are {choices}")
    reasons = []
    for candidate in NAMES:
        if name in ("auto", candidate):
            module = runner(candidate)
            reason = module.unavailable(plan)
            if reason is None:
                return module
            reasons.append(f"{candidate}: {reason}")
    raise RuntimeError("pysyscall cannot start this process here: " + "; ".join(reasons))
