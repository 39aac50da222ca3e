"""The fork runner: fork, then run the child's program with no Python bytecode.

Between fork and execve Go's child makes raw system calls only. A Python
child that ran Python code there could hang forever: a "drop the GIL"
request from another thread, inherited through fork, makes the child's first
eval-loop check wait for a thread that does not exist in the child
(../shared/design/child-program.md: 35-49 % of children under load). So the
child never enters the eval loop. The plan's steps are bound with
functools.partial to GIL-holding ctypes functions (libc.child) and driven by
C-implemented iterators, consumed by a zero-length deque:

1. fork, its result looked up in ``{0: 0}``: the child (0) goes on, the
   parent gets KeyError(pid), or KeyError(-1) if fork failed, and is back in
   ordinary Python code;
2. the steps, each preceded by a memmove of its number into the failure
   record, under ``takewhile(-1 != result)``, so the first failing call ends
   them (execve returns only on failure);
3. the failure tail: copy errno into the record, write the record to the
   status pipe, exit 253 without atexit handlers.

Steps whose result Go ignores are bound with a void result type: they return
None, which never stops the takewhile.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import functools
import itertools
import operator
import sys
from collections.abc import Iterator
from typing import Any

from . import libc, runtime
from ._platform import system
from .plan import CHILD_ERROR_MAGIC, CHILD_EXIT_STATUS, ChildError, Plan

NAME = "fork"

_call = operator.methodcaller("__call__")
_not_failed = functools.partial(operator.ne, -1)
_raise_in_parent = {0: 0}.__getitem__


def unavailable(plan: Plan | None = None) -> str | None:
    """Why this runner cannot run ``plan`` here (or any plan), or None if it can."""
    if sys.implementation.name != "cpython":
        return (
            f"the fork runner needs CPython; on {sys.implementation.name} ctypes "
            "itself runs Python code, which the child must not do between fork and execve"
        )
    return None


def _program(plan: Plan, pipe: int, record: ChildError, step_numbers: Any) -> Iterator[Any]:
    """The C-level iterator whose consumption forks and runs the child."""
    memmove = libc.child("memmove")
    step_field = ctypes.addressof(record) + ChildError.step.offset
    numbers = ctypes.addressof(step_numbers)
    size = ctypes.sizeof(ctypes.c_int32)
    calls = []
    for index, step in enumerate(plan.steps):
        calls.append(functools.partial(memmove, step_field, numbers + index * size, size))
        function = libc.child(step.func, step.checked)
        calls.append(functools.partial(function, *libc.variadic_arguments(step.func, step.args)))
    # errno is thread-local: its address in the forking thread is its
    # address in the child, which is a copy of that thread.
    errno_address = libc.child(system.ERRNO_LOCATION)()
    tail = (
        functools.partial(
            memmove, ctypes.addressof(record) + ChildError.errno.offset, errno_address, size
        ),
        functools.partial(
            libc.child("write", False), pipe, ctypes.addressof(record), ctypes.sizeof(record)
        ),
        functools.partial(libc.child(plan.exit, False), CHILD_EXIT_STATUS),
    )
    fork = functools.partial(
        libc.child(plan.fork.func), *libc.variadic_arguments(plan.fork.func, plan.fork.args)
    )
    return itertools.chain(
        map(_raise_in_parent, map(_call, (fork,))),
        itertools.takewhile(_not_failed, map(_call, calls)),
        map(_call, tail),
    )


def fork_and_exec_in_child(plan: Plan, pipe: int) -> int:
    """Port of forkAndExecInChild (exec_linux.go, exec_libc2.go): fork, run the plan.

    The child reports a failure on ``pipe``. Returns the child's pid; raises
    OSError if fork failed. Must be called with the fork lock held.
    """
    record = ChildError(magic=CHILD_ERROR_MAGIC, step=-1, errno=0)
    step_numbers = (ctypes.c_int32 * len(plan.steps))(*range(len(plan.steps)))
    program = _program(plan, pipe, record, step_numbers)
    errno_value = ctypes.c_int.from_address(libc.child(system.ERRNO_LOCATION)())
    gc_was_enabled = runtime.before_fork(plan.saved_mask)
    try:
        collections.deque(program, maxlen=0)
    except KeyError as parent:
        pid: int = parent.args[0]
        fork_errno = errno_value.value
    finally:
        runtime.after_fork(plan.saved_mask, gc_was_enabled)
    if pid == -1:
        raise libc.errno_error(fork_errno or errno.EAGAIN, f"fork through {plan.fork.text}")
    return pid
