# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The fork runner: fork, then run the child's program with no Python bytecode.

Between fork and execve Go's child makes raw system calls only. A Python
child that ran Python code there could hang forever: a "drop the GIL"
request from another thread, inherited through fork, makes the child's first
eval-loop check wait for a thread that does not exist in the child
(../shared/design/child-program.md: 35-49 % of children under load). So the
child never enters the eval loop. The plan's steps are bound with
functools.partial to GIL-holding ctypes functions (libc.child) and driven by
C-implemented iterators, consumed by a zero-length deque:

1. fork; in the parent (and when fork failed) close the status pipe's
   write end and, on Linux, wait for the child's exec (poll, the GIL
   released); then
   fork's result is looked up in ``{0: 0}``: the child (0) goes on, the
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
import resource
import sys
from collections.abc import Iterator

from . import _platform, libc, runner_vfork, runtime
from ._platform import system, zerrors
from .libc import invoke as _call
from .plan import CHILD_EXIT_STATUS, Cell, ChildError, Plan, Start, Step

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any, Callable

NAME = "fork"

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


def signals_in_plan(plan: Plan) -> bool:
    """True: the child resets the handlers the plan lists (remembered.py)."""
    return True


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


def _bind_routine(step: Step) -> Callable[[], Any] | None:
    """A call of one of the vfork routine's functions; None where it cannot be mapped."""
    routine = runner_vfork.routine_function(step.func, step.checked)
    return None if routine is None else functools.partial(routine, *step.args)


# Where the vfork routine cannot be mapped (no routine for this machine, no
# read+execute mapping allowed), its cloexec_range becomes a sweep: fcntl(fd,
# F_SETFD, FD_CLOEXEC) on every fd up to the RLIMIT_NOFILE soft limit,
# driven by a C iterator (map over a range) whose results are dropped by
# deque.extend: no /proc walk, which would need Python code or a routine.
_FD_CLOEXEC_ARG = ctypes.c_long(zerrors.FD_CLOEXEC)  # fcntl's variadic argument


# The parent's side, right after the fork: close its copy of the status
# pipe's write end, then (unless the plan has parent-side work to do first)
# wait in poll until the child has exec'd (EOF) or written its record.
_CHILD_GOES_ON = {0: int}  # fork's 0: call int() (a no-op), anything else: the parent's side


class _Prepared:
    """What the fork runner makes of a plan once, for every start of it.

    The bound calls in the child's order, a judge for each; runs of plain
    steps (a mark, then the call) are one segment, a step with ``otherwise``
    or ``store`` is a segment of its own (it needs iterators of its own).
    Kept on the plan (Plan.prepared), so a remembered plan's start binds
    nothing. Between two forks, every page the parent writes is a page
    fault, and a page copy while the child still shares it: measured here,
    148 minor faults per start when each start bound its calls, 107 with
    them kept, 27 for os.fork + os.execv; so the parent also waits for the
    child's exec before it runs any more Python code (``parent_calls``).
    """

    __slots__ = (
        *("constants", "defaults", "einval", "fork", "parent_calls", "pipe", "pollfd"),
        *("record_errno", "segments", "tables", "tail"),
    )

    def __init__(self, plan: Plan) -> None:
        memmove = libc.child("memmove")
        size = ctypes.sizeof(ctypes.c_int32)
        count = len(plan.steps)
        # The step numbers, then EINVAL (the errno of a step that returned
        # the wrong value).
        self.constants = (ctypes.c_int32 * (count + 1))(*range(count), errno.EINVAL)
        numbers = ctypes.addressof(self.constants)
        self.einval = numbers + count * size
        # The child writes its record into its copy of plan.record, then to
        # the pipe's write end, set per start in a Cell (read at call time).
        record_address = ctypes.addressof(plan.record)
        step_field = record_address + ChildError.step.offset
        self.record_errno = record_address + ChildError.errno.offset
        self.pipe = Cell(-1)
        self.pollfd = (ctypes.c_int32 * 2)(-1, zerrors.POLLIN)  # struct pollfd: fd, events
        self.parent_calls: tuple[Callable[[], Any], ...] = (
            functools.partial(libc.child("close", False), self.pipe),
        )
        if plan.after_fork is None and _platform.forkpipe.ATOMIC:
            # The GIL is released: other threads run while this one waits.
            # Only where forks share the fork lock (forkpipe2): under
            # forkpipe's serializing lock (darwin) the wait would hold up
            # every other start for this child's exec, which Go avoids by
            # reading the pipe after releasing the lock; so does exec_unix.
            self.parent_calls += (functools.partial(libc.parent("poll"), self.pollfd, 1, -1),)
        self.fork = _bind(plan.fork)
        plain: list[Callable[[], Any]] = []
        judges: list[tuple[dict[Any, Any], Any]] = []
        self.segments: list[tuple[Any, ...]] = []  # ("plain", calls), or a special step
        for index, step in enumerate(plan.steps):
            mark = functools.partial(memmove, step_field, numbers + index * size, size)
            routine = step.func in runner_vfork.ROUTINE_CALLS
            call = _bind_routine(step) if routine else _bind(step)
            if call is None:
                self._flush(plain)
                first, last = step.args[0], step.args[1]
                self.segments.append(("sweep", mark, first, last))
                judges += [_NEVER_FAILS, _NEVER_FAILS]
            elif step.otherwise is not None:
                # Call, then call ``int`` (a no-op returning 0) if the result is
                # the expected one, else the otherwise step.
                self._flush(plain)
                choices = {step.expect: int}
                self.segments.append(("otherwise", mark, call, choices, _bind(step.otherwise)))
                judges += [_NEVER_FAILS, _FAILS_ON_MINUS_ONE]
            elif step.store is not None:
                self._flush(plain)
                store = functools.partial(setattr, step.store, "value")
                self.segments.append(("store", mark, call, store))
                judges += [_NEVER_FAILS, _NEVER_FAILS, _FAILS_ON_MINUS_ONE]
            elif step.expect is not None:
                plain += [mark, _SET_EINVAL, call]
                judges += [_NEVER_FAILS, _NEVER_FAILS, ({step.expect: None}, -1)]
            else:
                plain += [mark, call]
                judges += [_NEVER_FAILS, _FAILS_ON_MINUS_ONE if step.checked else _NEVER_FAILS]
        self._flush(plain)
        self.tables = tuple(t for t, _ in judges)
        self.defaults = tuple(d for _, d in judges)
        write = libc.child("write", False)
        self.tail = (
            functools.partial(write, self.pipe, record_address, ctypes.sizeof(plan.record)),
            functools.partial(libc.child(plan.exit, False), CHILD_EXIT_STATUS),
        )

    def _flush(self, plain: list[Callable[[], Any]]) -> None:
        if plain:
            self.segments.append(("plain", tuple(plain)))
            plain.clear()

    def program(self, errno_address: int, plan: Plan, pid: Cell) -> Iterator[Any]:
        """The C-level iterator whose consumption forks and runs the child.

        ``errno_address``: the starting thread's errno, which is the child's
        (the child is a copy of that thread). The GC pause and the signal
        block (runtime.ForkCalls) come first in it, their undoing in the
        parent's side: no signal handler runs in between. ``pid`` gets
        fork's result right after the fork, before the mask is restored:
        no handler can run before the child is recorded (the except clause
        that used to record it could be cut: 3.9 runs handlers after most
        bytecodes, 3.10 at an except clause's entry; docs/interpreters.md).
        """
        size = ctypes.sizeof(ctypes.c_int32)
        memmove = libc.child("memmove")
        set_einval = functools.partial(memmove, errno_address, self.einval, size)
        copy_errno = functools.partial(memmove, self.record_errno, errno_address, size)
        fork_calls = runtime.ForkCalls(plan.saved_mask)
        segments: list[Iterator[Any]] = []
        for segment in self.segments:
            kind = segment[0]
            if kind == "plain":
                calls = segment[1]
                if _SET_EINVAL in calls:
                    calls = tuple(set_einval if c is _SET_EINVAL else c for c in calls)
                segments.append(map(_call, calls))
            elif kind == "otherwise":
                _, mark, call, choices, otherwise = segment
                choice = map(dict.get, (choices,), map(_call, (call,)), (otherwise,))
                segments += [map(_call, (mark,)), map(_call, choice)]
            elif kind == "sweep":
                _, mark, first, last = segment
                try:
                    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                except OSError as error:
                    raise libc.errno_error(
                        error.errno or errno.EPERM, "getrlimit(RLIMIT_NOFILE), for the fd sweep"
                    ) from None
                top = last + 1 if soft == resource.RLIM_INFINITY else min(soft, last + 1)
                fcntl = libc.child("fcntl", False)
                fds = map(fcntl, range(first, top), itertools.repeat(zerrors.F_SETFD),
                          itertools.repeat(_FD_CLOEXEC_ARG))  # fmt: skip
                sweep = functools.partial(collections.deque(maxlen=0).extend, fds)
                segments += [map(_call, (mark,)), map(_call, (sweep,))]
            else:
                _, mark, call, store = segment
                stored, passed = itertools.tee(map(_call, (call,)))
                segments += [map(_call, (mark,)), map(store, stored), passed]
        judged = map(dict.get, self.tables, itertools.chain(*segments), self.defaults)
        parent: Callable[[], Any] = functools.partial(
            collections.deque, itertools.chain(map(_call, self.parent_calls), fork_calls.after()), 0
        )
        forked, again, stored = itertools.tee(map(_call, (self.fork,)), 3)
        return itertools.chain(
            fork_calls.before(),
            map(setattr, (pid,), ("value",), stored),
            map(_call, map(_CHILD_GOES_ON.get, forked, (parent,))),
            map(_raise_in_parent, again),
            itertools.takewhile(_not_failed, judged),
            map(_call, (copy_errno, *self.tail)),
        )


# Stands for "set errno to EINVAL" in a prepared plan: the address of errno
# is the starting thread's, known only at the start.
_SET_EINVAL = functools.partial(int)


def fork_and_exec_in_child(plan: Plan, record: Start) -> None:
    """Port of forkAndExecInChild (exec_linux.go, exec_libc2.go): fork, run the plan.

    ``record.fds[0:2]`` is the status pipe (read end, write end): the child
    reports a failure on the write end, which this function closes in the
    parent (``fds[1]`` set to -1 with no call in between); the read end
    stays the caller's. The child's pid goes into ``record.pid`` as the
    parent gets it (plan.Start). Unless the plan has parent-side work
    (plan.after_fork), returns once the child has exec'd or failed. Raises
    OSError if fork failed. Must be called with the fork lock held. Two
    starts of one plan must not overlap (remembered.py lends a plan to one
    start at a time).
    """
    fds = record.fds
    if fds[1] == -1:
        raise ValueError("the fork runner reports on the status pipe: there is none")
    prepared: _Prepared | None = plan.prepared.get(NAME)
    if prepared is None:
        prepared = plan.prepared[NAME] = _Prepared(plan)
    prepared.pollfd[0], prepared.pipe.value = fds[0], fds[1]
    errno_address = libc.child(system.ERRNO_LOCATION)()
    errno_value = ctypes.c_int.from_address(errno_address)
    program = prepared.program(errno_address, plan, record.pid)
    try:
        collections.deque(program, maxlen=0)
    except KeyError as parent:
        # The parent's side closed the write end (also when fork failed)
        # and restored the mask; the pid is in record.pid already.
        pid: int = parent.args[0]
        fds[1] = -1
        fork_errno = errno_value.value
        if pid == -1:
            record.pid.value = 0
    if pid == -1:
        raise libc.errno_error(fork_errno or errno.EAGAIN, f"fork through {plan.fork.text}")


# --- the program, as printed (python -m pysyscall plan) ------------------------------


def describe(plan: Plan) -> list[str]:
    """What this runner runs for ``plan``: the fork, the status pipe, the plan's steps.

    The steps as the plan lists them (the runner binds each, in order), the
    parent's side and the fd sweep as the prepared plan has them (_Prepared,
    the one a start uses, kept in Plan.prepared).
    """
    prepared: _Prepared | None = plan.prepared.get(NAME)
    if prepared is None:
        prepared = plan.prepared[NAME] = _Prepared(plan)
    lines = str(plan).splitlines()
    parent = "the parent closes the status pipe's write end"
    if len(prepared.parent_calls) > 1:
        parent += ", then waits in poll until the child has exec'd (EOF) or written its record"
    lines.insert(1, parent)
    for segment in prepared.segments:
        if segment[0] == "sweep":
            lines.insert(
                -1,
                f"  (cloexec_range({segment[2]}, {segment[3]}) runs as fcntl(fd, F_SETFD, "
                "FD_CLOEXEC) on every fd up to the RLIMIT_NOFILE soft limit: the vfork "
                "routine that has it cannot be mapped here)",
            )
    return lines
