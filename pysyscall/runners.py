"""Which runner runs the child's program: PYSYSCALL_RUNNER, or auto's choice.

Every runner runs the same plan (plan.py) with no Python in the child and
reports failures the same way. ``auto`` (the default) takes the first runner
in RUNNERS that can run the plan here; naming a runner forces it, and an
error says why when it cannot.
"""

from __future__ import annotations

import os
from types import ModuleType

from . import runner_fork
from .plan import Plan

RUNNERS: tuple[ModuleType, ...] = (runner_fork,)  # auto's order of preference


def requested() -> str:
    """The runner PYSYSCALL_RUNNER names; auto when it is unset or empty."""
    return os.environ.get("PYSYSCALL_RUNNER") or "auto"


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
