# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""Remembered starts: the plan cache, where a request planned before finds its plan.

Planning (exec_unix.child_program: every argument checked and encoded, the
steps built) is most of pysyscall's own work per start, about 80 µs, and
what a runner makes of the plan (the spawn runner's attributes and file
actions, the vfork runner's table) adds more. Programs that start processes
often mostly start the same few commands (a build tool, a test runner, a
watcher), so a request that can be keyed exactly is planned once, and its
plan, with what the runner made of it (``Plan.prepared``), serves the next
starts. Recognising one costs about 5 µs (and 15-20 µs more to read the
signal handlers, for the fork runner: see below).

Keyed exactly: argv0 and argv of str or bytes; ``dir`` str, bytes or None;
``env`` None (the C library's environ, copied again into the plan's own
array before each start: env_unix.Environ), or a dict or list of str/bytes; ``files`` of ints or
None; SysProcAttr fields in KEYED_FIELDS, of plain values (the others at
their defaults). Any other request is planned every time: among them every
plan with parent-side work or a pidfd (the id maps and pidfd are not keyed),
whose fds are made per start.

What a plan depends on besides the request is checked on every start, as a
new plan would be: the fds in ``files`` are open (one poll); this is the
process that planned it (the key holds ``pid``: after os.fork the child
plans again, as pdeathsig's check names the parent's pid); the runner asked
for is the same; and for a runner whose child resets the signal handlers
from the plan's own list (the fork runner: not the spawn runner, whose C
library resets every caught signal, nor the vfork runner, whose routine
applies the plan's rule to each signal in the child), that list is still
the one runtime.signals_to_reset gives.

Threads: a plan is never run by two starts at once (the mask saved in it,
the record a vfork child writes, the Cells a child fills). Each key keeps a
small pool: a start takes a plan from it, or plans a new one when all are
in use (several threads starting the same command), and gives it back.

The cache sits below the API that plans and starts: exec_unix (its
``_start_remembered``) and compat.fork_exec keep their plans here, in one
table of SIZE requests (compat's keys begin with "compat"), and this module
imports neither.
"""

from __future__ import annotations

import ctypes
import itertools
import operator
import os
from collections.abc import Callable
from types import ModuleType

from . import libc, runners, runtime
from ._platform import system
from .plan import Credential, OtherFields, Plan

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any

SIZE = 64  # requests remembered; past that, the oldest is forgotten
POOL = 4  # plans kept per request, for threads starting it at once

# SysProcAttr fields whose plan depends only on their values (and the pid).
# Not keyed: fds in the parent (ctty with foreground, cgroup_fd), the id maps
# and pidfd (fds made per start), darwin's other fields.
KEYED_FIELDS = (
    *("chroot", "credential", "ptrace", "setsid", "setpgid", "pgid", "noctty"),
    *("pdeathsig", "cloneflags", "unshareflags", "ambient_caps"),
)
_KEYED = tuple(name for name in KEYED_FIELDS if hasattr(system.SysProcAttr(), name))
_get_keyed = operator.attrgetter(*_KEYED)
_others = OtherFields(system.SysProcAttr(), _KEYED)
_UNKEYED: Any = object()  # an env no key stands for
_STRINGS = frozenset({str, bytes})
_PLAIN = frozenset({int, bool, str, bytes, type(None)})
_FILE_TYPES = frozenset({int, type(None)})


class Entry:
    """A remembered request: its runner, its signal list, its pool of plans.

    ``plans`` holds Plans, or what a caller keeps a Plan in (compat's
    Prepared), each with the ``environ`` of its plan. ``give_back`` returns
    one in a single C call (list.append), so an interrupt cannot lose it
    half-way; ``take`` cuts the pool back to POOL.
    """

    __slots__ = (
        *("give_back", "nfds", "plans", "pollfds", "pollfds_address"),
        *("read_signals", "runner", "signals"),
    )

    def __init__(
        self, runner: ModuleType, signals: Any, read_signals: Callable[[], Any], files: Any
    ) -> None:
        self.runner = runner
        # What the plan's signal steps were made from, or None: not compared;
        # read_signals() reads it again.
        self.signals = signals
        self.read_signals = read_signals
        self.plans: list[Any] = []
        self.give_back = self.plans.append
        self.pollfds = _pollfds(files)
        self.pollfds_address = ctypes.addressof(self.pollfds)  # cheaper to pass than the array
        self.nfds = len(self.pollfds) // 2


_entries: dict[tuple[Any, ...], Entry] = {}

# This process's pid, for the keys: os.getpid() is a system call on every
# start (CPython keeps no pid), so it is asked once and again in the child
# of each os.fork (register_at_fork runs there for os.fork, os.forkpty,
# multiprocessing's fork and _posixsubprocess's preexec_fn child). Missed:
# a fork() made by C code (ctypes, an extension) whose child then runs
# Python without PyOS_AfterFork_Child; that child keeps the parent's plans
# (linux.child_program's pdeathsig check expects the planning process's pid).
pid = os.getpid()


def _forked() -> None:
    global pid
    pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def lookup(key: tuple[Any, ...]) -> Entry | None:
    """The entry remembered for ``key``; None: plan it (new, or its handlers changed)."""
    entry = _entries.get(key)
    if entry is None or entry.signals is None:
        return entry
    if entry.read_signals() != entry.signals:
        return None  # the handlers changed: plan again
    return entry


def files_changed(entry: Entry) -> bool:
    """Whether an fd of the request's files is not open, or has news (one poll).

    False: every fd is open, as when the plan was made; True: the caller
    checks them again as a new plan would (and raises, or passes).
    """
    return bool(_poll(entry.pollfds_address, entry.nfds, 0) != 0)


def keep(
    key: tuple[Any, ...],
    plan: Plan,
    files: Any = None,
    signals: tuple[Callable[[], Any], Any] | None = None,
) -> Entry:
    """Remember the request ``key`` with its first plan; the entry its starts use.

    Chooses the runner (runners.select: the plan is closed if none can run
    it) and lets it make what it keeps of the plan. ``files``: the fds each
    later start checks are open (None: 0, 1 and 2). Where the runner's
    child resets the plan's own list of signals, a later start reads the
    handlers again and plans anew if they changed: ``signals`` is (read,
    value), how to read them and what the plan was made from (compat's);
    None: runtime.signals_to_reset, and the signals the plan resets.
    """
    runner = runners.select(plan)
    prepare(runner, plan)
    if not runner.signals_in_plan(plan):
        read, planned = _signals_to_reset, None  # nothing to compare
    elif signals is None:
        # The signals this plan resets, read from its own steps.
        read, planned = _signals_to_reset, _planned_signals(plan)
    else:
        read, planned = signals
    entry = Entry(runner, planned, read, files)
    _remember(key, entry)
    return entry


def take(entry: Entry) -> Any:
    """A plan from ``entry``'s pool, ready to start; None: plan one."""
    del entry.plans[POOL:]
    try:
        kept = entry.plans.pop()  # atomic: two threads never get one plan
    except IndexError:
        return None  # all in use (threads starting the request at once)
    if kept.environ is not None and not kept.environ.take():
        return None  # environ outgrew the plan's copy (dropped: it has no fds)
    return kept


def prepare(runner: ModuleType, plan: Plan) -> None:
    """Let ``runner`` make what it keeps of ``plan`` hold for later starts."""
    remember = getattr(runner, "remember", None)
    if remember is not None:
        remember(plan)


def _signals_to_reset() -> tuple[int, ...]:
    return tuple(runtime.signals_to_reset())


def _planned_signals(plan: Plan) -> tuple[int, ...]:
    """The signals ``plan`` sets to SIG_DFL (its reset steps' first arguments)."""
    if plan.signal_steps is None:
        return ()
    first, count = plan.signal_steps
    return tuple(int(step.args[0]) for step in plan.steps[first : first + count])


def _remember(key: tuple[Any, ...], entry: Entry) -> None:
    # No lock: each dict operation is atomic, and a start from a signal
    # handler may come here while this thread is in the middle of it (a lock
    # would then wait on its own thread). Two threads remembering at once
    # may forget one more than needed.
    _entries.pop(key, None)
    while len(_entries) >= SIZE:
        _entries.pop(next(iter(_entries), key), None)  # the oldest
    _entries[key] = entry


def forget() -> None:
    """Forget every remembered request (tests; a changed runner setup)."""
    _entries.clear()


def request_key(argv0: Any, argv: Any, attr: Any, procattr: Any) -> tuple[Any, ...] | None:
    """The key a start is remembered by, or None if it cannot be keyed exactly.

    ``procattr`` is exec_unix.ProcAttr (exec_unix is above this module). The key
    ends with the files (for the fd check) and the SysProcAttr's key.
    """
    if type(argv0) not in _STRINGS or type(argv) not in (list, tuple):
        return None
    argv = tuple(argv)
    if not set(map(type, argv)) <= _STRINGS:
        return None
    runner = runners.requested()
    if attr is None:
        return (pid, runner, argv0, argv, None, None, None, ())
    if type(attr) is not procattr:
        return None
    dir, env, files = attr.dir, _env_key(attr.env), attr.files
    if (dir is not None and type(dir) not in _STRINGS) or env is _UNKEYED:
        return None
    if files is not None:
        if type(files) not in (list, tuple):
            return None
        files = tuple(files)
        if not set(map(type, files)) <= _FILE_TYPES:
            return None
    sys_key = () if attr.sys is None else _sys_key(attr.sys)
    if sys_key is None:
        return None
    return (pid, runner, argv0, argv, dir, env, files, sys_key)


def _env_key(env: Any) -> Any:
    if env is None:
        return None  # the C library's environ, taken at each start
    if type(env) is dict:
        items = tuple(env.items())
        if set(map(type, itertools.chain.from_iterable(items))) <= _STRINGS:
            return ("mapping", items)
    elif type(env) in (list, tuple) and set(map(type, env)) <= _STRINGS:
        return ("sequence", tuple(env))
    return _UNKEYED


def _sys_key(sys_attr: Any) -> tuple[Any, ...] | None:
    """The keyed fields' values, if plain and every other field is at its default.

    With their types: False == 0, but only 0 is a pgid or an id, and a
    request that planning refuses must not find the plan of one it took.
    """
    if type(sys_attr) is not system.SysProcAttr or _others.unknown(sys_attr) is not None:
        return None
    values: tuple[Any, ...] = _get_keyed(sys_attr)
    kinds = tuple(map(type, values))
    if set(kinds) <= _PLAIN:
        return (*values, kinds)
    key = []
    for value, kind in zip(values, kinds):
        if kind in _PLAIN:
            key.append(value)
        elif kind is Credential:
            parts = (value.uid, value.gid, value.no_setgroups, *value.groups)
            part_kinds = tuple(map(type, parts))
            if not set(part_kinds) <= _PLAIN:
                return None
            key.append(("credential", parts, part_kinds))
        elif kind in (list, tuple) and set(map(type, value)) <= {int}:
            key.append(("sequence", tuple(value)))
        else:
            return None
    return (*key, kinds)


def _pollfds(files: tuple[int | None, ...] | None) -> Any:
    """struct pollfd {int fd; short events, revents;} for each fd in ``files``.

    poll with no events asked reports only POLLNVAL (not open), POLLHUP and
    POLLERR: a return of 0 means every fd is open. Threads share the array;
    the revents the kernel writes are never read.
    """
    fds = sorted({fd for fd in (files if files is not None else (0, 1, 2)) if fd not in (None, -1)})
    return (ctypes.c_int32 * (2 * len(fds)))(*[x for fd in fds for x in (fd, 0)])


_poll = libc.parent("poll")
