# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
# Follows CPython's _posixsubprocess.c: Copyright (c) Python Software Foundation (NOTICE).
"""subprocess on pysyscall: a drop-in for the stdlib's private ``_posixsubprocess.fork_exec``.

``fork_exec`` takes the running interpreter's arguments, checks them as
Modules/_posixsubprocess.c does (arguments.py: the same exception types
and messages, before anything is started), and does what its child does,
as a pysyscall plan (program.py): the parent plans every step and the
child runs no Python between fork and execve. A child that fails reports
to Popen through its own error pipe, as _posixsubprocess's does
(errpipe.py). ``install`` routes subprocess through it.

Remembered plans: planning costs more than the rest of a start in Python,
so a request whose arguments are plain values (str, bytes, int, bool, None,
and lists and tuples of them) keeps its plans in the plan cache
(remembered.py, beside exec_unix's: ``remembered.POOL`` per request,
``remembered.SIZE`` requests in all; ``forget`` empties it). A
plan is never run by two starts at once (a start takes one from the pool
and gives it back); the key includes this process's pid, the runner asked
for, and for several executables the thread's errno address. Not the
signal dispositions: a plan carries the rule its resets follow
(Plan.signal_rule), which the vfork child applies to every signal; a plan
the fork runner runs keeps the SigIgn and SigCgt it was made from and is
made again when they change. With env_list None a kept plan takes the C
library's ``environ`` again before each start (env_unix).

Runners: these plans run on the vfork runner (auto's choice on x86-64
and aarch64 Linux) or the fork runner. posix_spawn's file actions cannot express
_posixsubprocess's checked closes, its stdio dance or its umask, so
``PYSYSCALL_RUNNER=spawn`` makes a compat start raise RuntimeError, as any
forced runner does for a plan it cannot run.

Differences from _posixsubprocess, and why:

* setgroups/setregid/setreuid are raw system calls (glibc's wrappers
  signal threads a forked child does not have); a child that failed
  exits 253, not 255 (invisible: Popen raises, and reaps it).
* close_fds marks fds close-on-exec instead of closing them (pysyscall's
  own status pipe must stay open until execve); the program sees the same
  fds (close_range with CLOSE_RANGE_CLOEXEC, or where the kernel lacks it
  the /proc/self/fd walk or the walk up to RLIMIT_NOFILE: linux.mark_cloexec).
* More than ``MAX_EXECUTABLES`` executables (a PATH of over 16 thousand
  entries) go to the native fork_exec: the child's errno pipe would fill.
* Linux only (x86-64, arm64): elsewhere ``fork_exec`` hands every call to
  the native one.

``preexec_fn`` needs the interpreter in the child, which no plan can run:
that case is handed to CPython's own ``_posixsubprocess.fork_exec``, which
runs the interpreter's after-fork hooks in the child (PyOS_AfterFork_Child)
and carries CPython's warning: preexec_fn is not safe in a program that
uses threads; the child may deadlock before exec.
"""

from __future__ import annotations

import contextlib
import operator
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from .. import exec_unix, libc, remembered, runners
from ..plan import Start
from ..remembered import forget
from .arguments import INDEX, NATIVE, PARAMETERS, Request, count_error, native, parameters
from .errpipe import (
    CHDIR_TAGGED,
    MAX_EXECUTABLES,
    errno_pipe,
    error_message,
    executable_errno,
    read_errnos,
    stand_in,
    write_message,
)
from .program import (
    PLANNED,
    Prepared,
    child_program,
    errno_location,
    signal_state,
    signals_to_reset,
)

__all__ = [
    "CHDIR_TAGGED",
    "MAX_EXECUTABLES",
    "NATIVE",
    "PARAMETERS",
    "Prepared",
    "Request",
    "child_program",
    "error_message",
    "executable_errno",
    "forget",
    "fork_exec",
    "install",
    "installed",
    "parameters",
    "request_key",
    "signal_state",
    "signals_to_reset",
    "uninstall",
]

_COUNT = len(PARAMETERS)
_PREEXEC = INDEX["preexec_fn"]
_ERRPIPE_WRITE = INDEX["errpipe_write"]
_close = libc.parent("close")


# --- remembered plans ----------------------------------------------------------------

_SCALARS = frozenset({int, bool, str, bytes, type(None)})
_STRINGS = frozenset({str, bytes})
_BYTES = frozenset({bytes})
_INTS = frozenset({int, bool})
_SEQUENCES = frozenset({list, tuple})
_SCALAR_INDEXES = [
    i
    for i, name in enumerate(PARAMETERS)
    if name not in ("args", "executable_list", "fds_to_keep", "env_list", "extra_groups")
    and name != "preexec_fn"
]
_get_scalars = operator.itemgetter(*_SCALAR_INDEXES)
_A = INDEX["args"]
_X = INDEX["executable_list"]
_K = INDEX["fds_to_keep"]
_E = INDEX["env_list"]
_G = INDEX["extra_groups"]


def request_key(arguments: Sequence[Any]) -> tuple[Any, ...] | None:
    """The key a request's plans are kept by; None if it cannot be keyed exactly.

    Exactly: every argument is a plain value whose equality means the same
    checks and the same plan (int and bool, str, bytes, None; args and
    env_list lists or tuples of those, extra_groups a list of ints,
    fds_to_keep a tuple of ints), so a request equal to one planned before
    passes the same checks. Then this process's pid (remembered.pid: no
    system call) and, for several executables, the thread's errno address
    (the plan writes it from there). Not the signal state: a kept plan is
    checked against it only where its runner needs that (remembered.keep).
    """
    scalars = _get_scalars(arguments)
    if not set(map(type, scalars)) <= _SCALARS:
        return None
    args, executables, keep, env, groups = (
        arguments[_A],
        arguments[_X],
        arguments[_K],
        arguments[_E],
        arguments[_G],
    )
    if type(args) not in _SEQUENCES or not set(map(type, args)) <= _STRINGS:
        return None
    if type(executables) not in _SEQUENCES or not set(map(type, executables)) <= _BYTES:
        return None
    if type(keep) is not tuple or not set(map(type, keep)) <= _INTS:
        return None
    if env is not None:
        if type(env) not in _SEQUENCES or not set(map(type, env)) <= _BYTES:
            return None
        env = tuple(env)
    if groups is not None:
        if type(groups) is not list or not set(map(type, groups)) <= _INTS:
            return None
        groups = tuple(groups)
    executables = tuple(executables)
    thread = errno_location() if len(executables) > 1 else None
    return (
        "compat",  # in the plan cache beside exec_unix's keys
        remembered.pid,
        thread,
        env,
        tuple(args),
        executables,
        keep,
        groups,
        scalars,
        runners.requested(),
    )


# --- fork_exec -----------------------------------------------------------------------


def fork_exec(*arguments: Any) -> int:
    """``_posixsubprocess.fork_exec`` of this interpreter, on pysyscall's child program.

    Port of subprocess_fork_exec (_posixsubprocess.c): the arguments
    checked (arguments.py), the child planned (program.py) and started.

    Under exec_unix._guarded: an exception (a Ctrl-C) leaves no child, fd
    or lock behind; a pid returned is the caller's.
    """
    if len(arguments) != _COUNT:
        raise count_error(len(arguments))
    if arguments[_PREEXEC] is not None or not PLANNED:
        return native(arguments)
    return exec_unix._guarded(_fork_exec, arguments)[0]


def _fork_exec(record: Start, arguments: Sequence[Any]) -> int:
    key = request_key(arguments)
    entry = None if key is None else remembered.lookup(key)
    prepared = None if entry is None else remembered.take(entry)
    if prepared is None:
        request = Request(arguments)
        if len(request.executables) > MAX_EXECUTABLES:
            record.pid.value = native(arguments)
            return -1
        state = signal_state()
        prepared = child_program(request, state, None if key is None else key[2])
        if entry is not None:
            remembered.prepare(entry.runner, prepared.plan)
        elif key is not None:
            # Its runner chosen once (the key holds the runner asked for).
            entry = remembered.keep(key, prepared.plan, files=(), signals=(signal_state, state))
    if entry is None:
        _start(record, prepared, arguments[_ERRPIPE_WRITE], None)
        return -1
    _start(record, prepared, arguments[_ERRPIPE_WRITE], entry.runner)
    entry.give_back(prepared)  # one C call
    return -1


def _start(
    record: Start, prepared: Prepared, errpipe_write: int, runner: ModuleType | None
) -> None:
    """Start ``prepared`` (the pid into ``record``); on the child's failure, write
    its message for Popen. ``runner``: the remembered request's (None:
    exec_unix chooses). The plan opens no fd in this process (it has no
    parent-side work): nothing of it to close after the start."""
    fds = record.fds
    errno_fd = prepared.errno_fd  # several executables: the errno pipe, made per start
    try:
        if errno_fd is not None:
            errno_pipe(fds, prepared.plan.first_free_fd)
            errno_fd.value = fds[4]
        exec_unix._start(record, prepared.plan, reap_failed=False, runner=runner)
    except OSError as error:
        step = getattr(error, "step", None)
        if step is None:
            raise  # the parent's own failure (pipe, fork): Popen gets it as is
        code = error.errno or 0
        if step == "execve" and errno_fd is not None:
            code = executable_errno(read_errnos(fds[3], prepared.executables - 1), code)
        write_message(errpipe_write, error_message(step, code))
        # The failed child, unreaped (its pid in record): Popen reaps it, as
        # it does natively; the runner reaped it itself: a stand-in.
        if record.pid.value == 0:
            record.pid.value = stand_in()
    finally:
        if errno_fd is not None:
            for i in (3, 4):
                fd, fds[i] = fds[i], -1
                if fd != -1:
                    _close(fd)


# --- install -------------------------------------------------------------------------


def _targets() -> list[tuple[Any, str]]:
    if sys.version_info >= (3, 11):
        import subprocess

        return [(subprocess, "_fork_exec")]
    import _posixsubprocess

    return [(_posixsubprocess, "fork_exec")]


_saved: list[tuple[Any, str, Any]] = []


def install() -> None:
    """Route subprocess (and asyncio's subprocess support) through ``fork_exec``."""
    if _saved:
        return
    for module, name in _targets():
        _saved.append((module, name, getattr(module, name)))
        setattr(module, name, fork_exec)


def uninstall() -> None:
    """Undo install()."""
    while _saved:
        module, name, original = _saved.pop()
        setattr(module, name, original)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """install() for the ``with`` block."""
    was = bool(_saved)
    install()
    try:
        yield
    finally:
        if not was:
            uninstall()
