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
from typing import Any, Callable

from . import libc, runtime
from ._platform import system
from .plan import CHILD_ERROR_MAGIC, CHILD_EXIT_STATUS, ChildError, Plan, Step

NAME = "fork"
SIGNALS_IN_PLAN = True  # the child resets the handlers the plan lists

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


def status_pipe(plan: Plan) -> bool:
    """True: the child, a copy of this process, reports a failure on the status pipe."""
    return True


# How a result is judged: dict.get(table, result, default) is -1 (failed) or
# not. Every judge is a C-level dict lookup, so judging runs no bytecode.
_FAILS_ON_MINUS_ONE = ({-1: -1}, None)
_NEVER_FAILS: tuple[dict[Any, Any], Any] = ({}, None)


def _bind(step: Step) -> Callable[[], Any]:
    function = libc.child(step.func, step.checked)
    return functools.partial(function, *libc.variadic_arguments(step.func, step.args))


def _program(plan: Plan, pipe: int, record: ChildError, constants: Any) -> Iterator[Any]:
    """The C-level iterator whose consumption forks and runs the child.

    ``constants`` is a c_int32 array: the step numbers, then EINVAL (the
    errno of a step that returned the wrong value).
    """
    memmove = libc.child("memmove")
    size = ctypes.sizeof(ctypes.c_int32)
    record_address = ctypes.addressof(record)
    step_field = record_address + ChildError.step.offset
    numbers = ctypes.addressof(constants)
    # errno is thread-local: its address in the forking thread is its
    # address in the child, which is a copy of that thread.
    errno_address = libc.child(system.ERRNO_LOCATION)()
    set_einval = functools.partial(memmove, errno_address, numbers + len(plan.steps) * size, size)
    segments: list[Iterator[Any]] = []
    judges: list[tuple[dict[Any, Any], Any]] = []
    for index, step in enumerate(plan.steps):
        mark = functools.partial(memmove, step_field, numbers + index * size, size)
        call = _bind(step)
        if step.otherwise is not None:
            # Call, then call ``int`` (a no-op returning 0) if the result is
            # the expected one, else the otherwise step.
            otherwise = _bind(step.otherwise)
            choice = map(dict.get, ({step.expect: int},), map(_call, (call,)), (otherwise,))
            segments += [map(_call, (mark,)), map(_call, choice)]
            judges += [_NEVER_FAILS, _FAILS_ON_MINUS_ONE]
        elif step.store is not None:
            stored, passed = itertools.tee(map(_call, (call,)))
            store = functools.partial(setattr, step.store, "value")
            segments += [map(_call, (mark,)), map(store, stored), passed]
            judges += [_NEVER_FAILS, _NEVER_FAILS, _FAILS_ON_MINUS_ONE]
        elif step.expect is not None:
            segments.append(map(_call, (mark, set_einval, call)))
            judges += [_NEVER_FAILS, _NEVER_FAILS, ({step.expect: None}, -1)]
        else:
            segments.append(map(_call, (mark, call)))
            judges += [_NEVER_FAILS, _FAILS_ON_MINUS_ONE if step.checked else _NEVER_FAILS]
    tail = (
        functools.partial(memmove, record_address + ChildError.errno.offset, errno_address, size),
        functools.partial(libc.child("write", False), pipe, record_address, ctypes.sizeof(record)),
        functools.partial(libc.child(plan.exit, False), CHILD_EXIT_STATUS),
    )
    results = itertools.chain(*segments)
    judged = map(dict.get, [t for t, _ in judges], results, [d for _, d in judges])
    return itertools.chain(
        map(_raise_in_parent, map(_call, (_bind(plan.fork),))),
        itertools.takewhile(_not_failed, judged),
        map(_call, tail),
    )


def fork_and_exec_in_child(plan: Plan, pipe: int) -> int:
    """Port of forkAndExecInChild (exec_linux.go, exec_libc2.go): fork, run the plan.

    The child reports a failure on ``pipe``. Returns the child's pid; raises
    OSError if fork failed. Must be called with the fork lock held.
    """
    record = ChildError(magic=CHILD_ERROR_MAGIC, step=-1, errno=0)
    count = len(plan.steps)
    constants = (ctypes.c_int32 * (count + 1))(*range(count), errno.EINVAL)
    program = _program(plan, pipe, record, constants)
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
