# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""subprocess on pysyscall: a drop-in for the stdlib's private ``_posixsubprocess.fork_exec``.

``fork_exec`` takes the running interpreter's arguments (21 on 3.9-3.10, 23
on 3.11-3.13 with ``process_group`` and ``allow_vfork``, 22 on 3.14+ without
``allow_vfork``: chosen by ``sys.version_info``), checks them as
Modules/_posixsubprocess.c does (the same exception types and messages as
the running interpreter's, before anything is started; 3.12's pid_t
converter truncates a pgid_to_set beyond 32 bits, and so does this one
there), and does what its child does, as a pysyscall plan: the parent plans
every step and the child runs no Python between fork and execve.

The child's order is _posixsubprocess's: fds_to_keep made inheritable, the
parent's pipe ends closed, the stdio dup dance, chdir, umask, the signal
reset (restore_signals, then every caught handler to SIG_DFL and the
parent's mask restored, as CPython's vfork child does), setsid, setpgid,
setgroups, setregid, setreuid, close_fds (close_range marking everything
but fds_to_keep close-on-exec), then execve of each executable in turn.

The child-error protocol: pysyscall's child reports its failure (step,
errno) to pysyscall's parent, which leaves the failed child unreaped
(``exec_unix._start(reap_failed=False)``); then this ``fork_exec`` writes
the message _posixsubprocess's child would have written into
``errpipe_write`` ("OSError:<hex errno>:noexec" for a failure before
execve, "OSError:<hex errno>:" for execve's, "noexec:chdir" for chdir's
where the running Popen reads it) and returns the failed child's pid. Popen
reads ``errpipe_read`` only after fork_exec has returned and closed its
copy of ``errpipe_write``, so it parses the same bytes, raises the same
exception with the same filename, and reaps the child as it does natively.
Where the runner reaped the failed child itself (posix_spawn), a stand-in
``true`` is started for Popen to reap.

Executables: each is tried in order, and the errno reported is the first
one that is not ENOENT or ENOTDIR, else the last one's (os._execvpe's
rule, which _posixsubprocess follows). A plan has no branches, so after
each execve but the last the child writes its errno (4 bytes, from the
forking thread's errno, which the child's errno is) into a private
non-blocking pipe; the parent picks the errno from those and the last
execve's.

Remembered plans: planning costs more than the rest of a start in Python,
so a request whose arguments are plain values (str, bytes, int, bool, None,
and lists and tuples of them) keeps its plans, up to ``POOL`` per request
and ``REMEMBERED`` requests. A plan is never run by two starts at once (a
start takes one from the pool and gives it back); the key includes this
process's pid, the runner asked for, and for several executables the
thread's errno address. The signal dispositions are not in it: a plan
carries the rule its resets follow (Plan.signal_rule), which the vfork
child applies to every signal; a plan the fork runner runs keeps the
SigIgn and SigCgt it was made from (Prepared.signals) and is made again
when they change. With env_list None a kept plan takes the C library's
``environ`` again before each start (env_unix).

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

import collections
import contextlib
import ctypes
import errno
import functools
import operator
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from types import ModuleType
from typing import Any, Callable

from . import env_unix, exec_unix, libc, runners, runtime
from ._platform import system as _system
from ._platform import zerrors, zsysnum
from .plan import PID_MAX, Builder, Cell, Envv, Plan, Start, environment_text

try:
    import _posixsubprocess

    NATIVE: Callable[..., int] | None = _posixsubprocess.fork_exec
except ImportError:  # pragma: no cover - embedded interpreters
    NATIVE = None

_COMMON = (
    "args",
    "executable_list",
    "close_fds",
    "fds_to_keep",
    "cwd",
    "env_list",
    "p2cread",
    "p2cwrite",
    "c2pread",
    "c2pwrite",
    "errread",
    "errwrite",
    "errpipe_read",
    "errpipe_write",
    "restore_signals",
    "call_setsid",
)
_TAIL = ("gid", "extra_groups", "uid", "child_umask", "preexec_fn")


def parameters(version: tuple[int, int] | None = None) -> tuple[str, ...]:
    """The positional parameters of ``_posixsubprocess.fork_exec`` on ``version``."""
    major_minor = version or (sys.version_info[0], sys.version_info[1])
    if major_minor < (3, 11):
        return _COMMON + _TAIL
    if major_minor < (3, 14):
        return (*_COMMON, "pgid_to_set", *_TAIL, "allow_vfork")
    return (*_COMMON, "pgid_to_set", *_TAIL)


PARAMETERS = parameters()
_INDEX = {name: i for i, name in enumerate(PARAMETERS)}
_PREEXEC = _INDEX["preexec_fn"]

_call = operator.methodcaller("__call__")
# One C call that makes a chain of C calls: no interrupt point between them.
_run: Callable[[Iterable[Any]], object] = functools.partial(collections.deque, maxlen=0)
_close, _fcntl = libc.parent("close"), libc.parent("fcntl")
INT_MAX = 2**31 - 1
ID_NONE = 2**32 - 1  # (uid_t)-1 / (gid_t)-1: leave the id alone
ERRNO_SIZE = 4
MAX_EXECUTABLES = zerrors.PIPE_CAPACITY // ERRNO_SIZE
POOL = 4  # plans kept per request, for threads starting it at once
REMEMBERED = 64  # requests whose plans are kept; past that the oldest goes

# Planned where the child's raw system calls (zsysnum) are known: Linux on
# x86-64 and arm64. _posixsubprocess calls the libc wrappers of the set*id
# family, which in a forked child of a threaded process signal threads that
# do not exist; umask has no libc entry in libc.py's table.
_PLANNED = zsysnum is not None


# --- the arguments, checked as _posixsubprocess checks them ------------------------


_V = sys.version_info[:2]
# The messages of the running interpreter's argument parsing (PyArg "i"
# before 3.12, Argument Clinic from 3.12), for the same exception types.
_GROUPS = "extra_groups" if _V >= (3, 12) else "groups"


def _c_int(value: Any) -> int:
    """A C int argument (PyArg "i"): TypeError or OverflowError as CPython raises."""
    kind = type(value).__name__
    if _V < (3, 10) and isinstance(value, float):
        raise TypeError("integer argument expected, got float")
    try:
        number = operator.index(value)
    except TypeError:
        if _V < (3, 10):
            raise TypeError(f"an integer is required (got type {kind})") from None
        raise TypeError(f"'{kind}' object cannot be interpreted as an integer") from None
    if not -INT_MAX - 1 <= number <= INT_MAX:
        if _V >= (3, 12):
            raise OverflowError("Python int too large to convert to C int")
        side = "greater than maximum" if number > 0 else "less than minimum"
        raise OverflowError(f"signed integer is {side}")
    return number


def _pgid(value: Any) -> int:
    """pgid_to_set (pid_t): a C int, or as the running interpreter converts it.

    3.12's converter reads a C long and truncates it to pid_t; others refuse
    what does not fit in an int. Which one runs here is asked of the native
    function itself, with arguments it refuses before starting anything.
    """
    try:
        return _c_int(value)
    except OverflowError:
        if not _native_truncates_pgid():
            raise
    number = operator.index(value)
    if not -(2**63) <= number < 2**63:
        raise OverflowError("Python int too large to convert to C long")
    return (number + 2**31) % 2**32 - 2**31


_truncates: list[bool] = []


def _native_truncates_pgid() -> bool:
    if not _truncates:
        probe: dict[str, Any] = dict.fromkeys(PARAMETERS, -1)
        probe.update(
            args=[b"x"], executable_list=0, close_fds=False, fds_to_keep=(), cwd=None,
            env_list=None, restore_signals=False, call_setsid=False, pgid_to_set=2**40,
            gid=None, extra_groups=None, uid=None, preexec_fn=None, allow_vfork=False,
        )  # fmt: skip
        try:
            _native([probe[name] for name in PARAMETERS])
        except OverflowError:
            _truncates.append(False)
        except TypeError:  # got past the parsing, to executable_list
            _truncates.append(True)
        else:  # pragma: no cover - cannot start with executable_list 0
            raise AssertionError("the native fork_exec took an executable_list of 0")
    return _truncates[0]


def _count_error(given: int) -> TypeError:
    expected = len(PARAMETERS)
    if _V >= (3, 12):
        return TypeError(f"fork_exec expected {expected} arguments, got {given}")
    return TypeError(f"fork_exec() takes exactly {expected} arguments ({given} given)")


def _truth(value: Any) -> bool:
    """A C bool argument (PyArg "p"): any object's truth."""
    return bool(value)


def _fs_path(value: Any) -> bytes:
    """PyUnicode_FSConverter: str, bytes or os.PathLike, as bytes without NUL."""
    data = os.fsencode(value)
    if b"\0" in data:
        raise ValueError("embedded null byte")
    return data


def _bytes_list(values: Any) -> list[bytes]:
    """A sequence of bytes without NUL (CPython's _PySequence_BytesToCharpArray)."""
    try:
        count = len(values)
    except TypeError:
        raise TypeError(f"object of type '{type(values).__name__}' has no len()") from None
    result = []
    for i in range(count):
        item = values[i]
        if not isinstance(item, bytes):
            raise TypeError(f"expected bytes, {type(item).__name__} found")
        if b"\0" in item:
            raise ValueError("embedded null byte")
        result.append(bytes(item))
    return result


def _id(value: Any, what: str) -> int:
    """CPython's _Py_Uid_Converter/_Py_Gid_Converter for a 32-bit id: ID_NONE for -1.

    -1 leaves the id alone; other negatives, and values that do not fit in
    32 bits while fitting in a signed long, raise OverflowError("... is less
    than minimum") as CPython's converter does (it detects them as a
    truncation); larger values "... is greater than maximum".
    """
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} should be integer, not {type(value).__name__}") from None
    if number == -1:
        return ID_NONE
    if number < 0 or ID_NONE < number < 2**63:
        raise OverflowError(f"{what} is less than minimum")
    if number >= 2**63:
        raise OverflowError(f"{what} is greater than maximum")
    return number


def _fds_to_keep(value: Any) -> tuple[int, ...]:
    """fds_to_keep: a tuple of sorted, distinct fds (else ValueError, as CPython)."""
    if not isinstance(value, tuple):
        raise TypeError(f"fork_exec() argument 4 must be tuple, not {type(value).__name__}")
    previous = -1
    for fd in value:
        if not isinstance(fd, int) or not previous < fd <= INT_MAX:
            raise ValueError("bad value(s) in fds_to_keep")
        previous = fd
    return tuple(int(fd) for fd in value)


class Request:
    """The checked arguments of one fork_exec call (what the child program needs)."""

    __slots__ = (
        "args",
        "call_setsid",
        "child_umask",
        "close_fds",
        "cwd",
        "env_list",
        "errpipe_read",
        "errpipe_write",
        "executables",
        "extra_groups",
        "fds_to_keep",
        "gid",
        "parent_ends",
        "pgid_to_set",
        "restore_signals",
        "stdio",
        "uid",
    )

    def __init__(self, arguments: Sequence[Any]) -> None:
        """Check ``arguments`` in _posixsubprocess's order; raise as it does."""
        a = dict(zip(PARAMETERS, arguments))
        self.close_fds = _truth(a["close_fds"])
        fds_to_keep = a["fds_to_keep"]
        if not isinstance(fds_to_keep, tuple):
            raise TypeError(
                f"fork_exec() argument 4 must be tuple, not {type(fds_to_keep).__name__}"
            )
        ints = [
            _c_int(a[name])
            for name in (
                *("p2cread", "p2cwrite", "c2pread", "c2pwrite", "errread", "errwrite"),
                *("errpipe_read", "errpipe_write"),
            )
        ]
        p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite, errpipe_read, errpipe_write = ints
        self.restore_signals = _truth(a["restore_signals"])
        self.call_setsid = _truth(a["call_setsid"])
        self.pgid_to_set = _pgid(a["pgid_to_set"]) if "pgid_to_set" in a else -1
        self.child_umask = _c_int(a["child_umask"])
        if "allow_vfork" in a:
            _truth(a["allow_vfork"])
        if self.close_fds and errpipe_write < 3:
            raise ValueError("errpipe_write must be >= 3")
        self.fds_to_keep = _fds_to_keep(fds_to_keep)
        self.executables = _bytes_list(a["executable_list"])
        args = a["args"]
        if args is None:
            self.args: list[bytes] = []
        else:
            try:
                items = list(args)
            except TypeError:
                raise TypeError("argv must be a tuple") from None
            self.args = [_fs_path(arg) for arg in items]
        self.env_list = None if a["env_list"] is None else _bytes_list(a["env_list"])
        self.cwd = None if a["cwd"] is None else _fs_path(a["cwd"])
        groups = a["extra_groups"]
        self.extra_groups: list[int] | None = None
        if groups is not None:
            if not isinstance(groups, list):
                raise TypeError("setgroups argument must be a list")
            if len(groups) > zerrors.NGROUPS_MAX:
                raise ValueError(f"too many {_GROUPS}")
            self.extra_groups = []
            for group in groups:
                if not isinstance(group, int):
                    raise TypeError(f"{_GROUPS} must be integers")
                try:
                    self.extra_groups.append(_id(group, "gid"))
                except (OverflowError, TypeError):
                    raise ValueError("invalid group id") from None
        self.gid = ID_NONE if a["gid"] is None else _id(a["gid"], "gid")
        self.uid = ID_NONE if a["uid"] is None else _id(a["uid"], "uid")
        self.stdio = (p2cread, c2pwrite, errwrite)
        self.parent_ends = (p2cwrite, c2pread, errread)
        self.errpipe_read = errpipe_read
        self.errpipe_write = errpipe_write


# --- the child's program -------------------------------------------------------------


def signal_state() -> Any:
    """What the plan's signal steps depend on, in a comparable form.

    (SigIgn, SigCgt) of this process as the kernel has them, from
    /proc/self/status (/proc/self/stat is cheaper, but shows only signals
    1-31); without /proc, pysyscall's list of signals to reset and Python's
    view of the two signals Python ignores at start-up.
    """
    masks = runtime._proc_signal_masks()
    if masks is not None:
        return masks
    return (
        tuple(runtime.signals_to_reset()),
        tuple(signal.getsignal(s) for s in runtime.IGNORED_BY_PYTHON),
    )


def signals_to_reset(state: Any, restore_signals: bool) -> list[int]:
    """The signals the child sets to SIG_DFL: CPython's vfork child's choice.

    Every caught signal (its handler must not run in the child once the
    mask is restored; execve would reset it anyway), and with
    restore_signals SIGPIPE and SIGXFSZ whatever they are. Ignored signals
    stay ignored. ``state`` is signal_state()'s.
    """
    first, second = state
    if isinstance(first, int):
        ignored, caught = first, second
        wanted = caught & runtime.ASKABLE_MASK
        if restore_signals:
            wanted |= runtime.IGNORED_BY_PYTHON_MASK
        else:
            wanted &= ~(ignored & runtime.IGNORED_BY_PYTHON_MASK)
        return runtime.signals_of(wanted)
    signals = set(first)
    for signum, handler in zip(runtime.IGNORED_BY_PYTHON, second):
        if restore_signals:
            signals.add(signum)
        elif handler == signal.SIG_IGN:
            signals.discard(signum)
    return sorted(signals)


class Prepared:
    """A planned request: the plan, the cell that carries the errno pipe's fd,
    the runner chosen for it (None: exec_unix chooses at each start), and
    the signal_state() its signal steps were read from, where that runner
    resets the handlers the plan lists (None: it needs no reading)."""

    __slots__ = ("errno_fd", "executables", "plan", "runner", "signals")

    def __init__(self, plan: Plan, errno_fd: Cell | None, executables: int) -> None:
        self.plan = plan
        self.errno_fd = errno_fd
        self.executables = executables
        self.runner: ModuleType | None = None
        self.signals: Any = None


def child_program(
    request: Request, state: Any = None, errno_address: int | None = None
) -> Prepared:
    """Plan _posixsubprocess's child (child_exec) for ``request`` as pysyscall steps.

    ``state``: signal_state() (read now if None); ``errno_address``: the
    calling thread's errno (read now if None), which the child reports after
    each failed execve but the last. env_list None: the C library's
    ``environ``, as execv gives it natively (env_unix.Environ).
    """
    assert zsysnum is not None  # planned only where the numbers are known (_PLANNED)
    if not request.executables:
        raise ValueError("executable_list must not be empty")
    if state is None:
        state = signal_state()
    envv: Envv = env_unix.Environ() if request.env_list is None else request.env_list
    b = Builder()
    stdio = request.stdio
    fds_named = [
        *stdio,
        *request.parent_ends,
        request.errpipe_read,
        request.errpipe_write,
        *request.fds_to_keep,
    ]
    # pysyscall's status pipe and the errno pipe go above every fd named
    # here, so no step of this program can touch them.
    first_free_fd = max([3, *(fd + 1 for fd in fds_named)])

    # fds_to_keep become inheritable, all but errpipe_write (close-on-exec,
    # and written by this parent instead).
    for fd in request.fds_to_keep:
        if fd != request.errpipe_write:
            b.call(
                "fcntl", fd, zerrors.F_SETFD, 0, text=f"fcntl({fd}, F_SETFD, 0)", name="inheritable"
            )
    # The parent's ends of the pipes.
    for fd in request.parent_ends:
        if fd != -1:
            b.call("close", fd, text=f"close({fd})")
    b.call("close", request.errpipe_read, text=f"close({request.errpipe_read})")

    # The stdio dance: a source the dups would overwrite first moves to 3 or
    # above (close-on-exec); a source already in place only loses
    # close-on-exec; -1 leaves fd i as it is.
    sources: list[Any] = list(stdio)
    for i in (1, 2):
        if 0 <= sources[i] < i:
            moved = b.cell(-1)
            b.call(
                "fcntl",
                sources[i],
                zerrors.F_DUPFD_CLOEXEC,
                3,
                text=f"fcntl({sources[i]}, F_DUPFD_CLOEXEC, 3) -> fd{i}",
                store=moved,
                name="dup",
            )
            sources[i] = moved
    for i, source in enumerate(sources):
        if isinstance(source, int) and source == -1:
            continue
        if isinstance(source, int) and source == i:
            b.call(
                "fcntl", i, zerrors.F_SETFD, 0, text=f"fcntl({i}, F_SETFD, 0)", name="inheritable"
            )
        else:
            shown = source if isinstance(source, int) else f"fd{i}"
            b.call("dup2", source, i, text=f"dup2({shown}, {i})")
    if request.cwd is not None:
        b.chdir(request.cwd)
    if request.child_umask >= 0:
        b.call(
            "syscall",
            zsysnum.SYS_UMASK,
            request.child_umask,
            text=f"syscall(SYS_umask, {request.child_umask:#o})",
            name="umask",
            checked=False,
        )
    saved_mask = b.reset_signals(
        signals_to_reset(state, request.restore_signals),
        zerrors.SIGACTION_SIZE,
        zerrors.SIG_SETMASK,
        zerrors.SIGSET_SIZE,
    )
    if request.call_setsid:
        b.call("setsid", text="setsid()")
    if request.pgid_to_set >= 0:
        b.call("setpgid", 0, request.pgid_to_set, text=f"setpgid(0, {request.pgid_to_set})")
    if request.extra_groups is not None:
        groups = request.extra_groups
        array = (ctypes.c_uint32 * max(len(groups), 1))(*groups)
        b.keep.append(array)
        b.call(
            "syscall",
            zsysnum.SYS_SETGROUPS,
            len(groups),
            ctypes.addressof(array),
            text=f"syscall(SYS_setgroups, {groups})",
            name="setgroups",
        )
    if request.gid != ID_NONE:
        b.call(
            "syscall",
            zsysnum.SYS_SETREGID,
            request.gid,
            request.gid,
            text=f"syscall(SYS_setregid, {request.gid}, {request.gid})",
            name="setregid",
        )
    if request.uid != ID_NONE:
        b.call(
            "syscall",
            zsysnum.SYS_SETREUID,
            request.uid,
            request.uid,
            text=f"syscall(SYS_setreuid, {request.uid}, {request.uid})",
            name="setreuid",
        )
    if request.close_fds:
        from . import linux  # planned on Linux only (_PLANNED)

        # Every fd from 3 up but fds_to_keep: close-on-exec.
        low = 3
        for fd in [*request.fds_to_keep, 0x100000000]:
            if fd > low:
                top = str(fd - 1) if fd < 0x100000000 else "~0U"
                linux.mark_cloexec(b, low, min(fd - 1, 0xFFFFFFFF), top)
            low = max(low, fd + 1)
    # Every executable in turn, sharing one argv and one envp. After each
    # failure but the last, the child writes its errno into the errno pipe
    # (errno_fd, set for each start); the parent picks the one to report.
    argv_address = b.c_string_array(request.args)
    envp_address = b.environment(envv)
    count = len(request.executables)
    errno_fd = None
    if count > 1:
        errno_fd = b.cell(-1)
        if errno_address is None:
            errno_address = _errno_location()
    for index, executable in enumerate(request.executables):
        last = index == count - 1
        program = os.fsdecode(executable)
        args_text = [os.fsdecode(arg) for arg in request.args] if last else "argv"
        b.call(
            "execve",
            b.c_string(executable),
            argv_address,
            envp_address,
            text=f"execve({program!r}, {args_text!r}, {environment_text(envv)})",
            checked=last,
            path=program if last else None,
        )
        if not last:
            b.call(
                "write",
                errno_fd,
                errno_address,
                ERRNO_SIZE,
                text="write(<errno pipe>, &errno, 4)",
                name="errno",
                checked=False,
            )
    assert _system.FORK is not None
    plan = b.plan(
        _system.__name__.rpartition(".")[2], _system.FORK, _system.EXIT, first_free_fd, saved_mask
    )
    # The rule signals_to_reset followed: every caught signal, and the
    # ignored ones Python ignores by itself with restore_signals. A runner
    # that applies it in the child (vfork) needs no new reading of the
    # handlers for a kept plan.
    plan.signal_rule = runtime.IGNORED_BY_PYTHON if request.restore_signals else ()
    return Prepared(plan, errno_fd, count)


def _errno_location() -> int:
    """The address of the calling thread's errno (a child of this thread writes there)."""
    address: int = libc.child(_system.ERRNO_LOCATION)()
    return address


# --- the error message Popen reads ---------------------------------------------------


def _chdir_tagged() -> bool:
    # 3.13+ Popen tells a chdir failure ("noexec:chdir", filename = cwd)
    # from other failures before exec ("noexec", no filename); before that
    # every "noexec" is taken as chdir's. Read from the Popen in use.
    if sys.version_info >= (3, 13):
        return True
    import subprocess

    try:
        with open(subprocess.__file__, "rb") as source:
            return b'"noexec:chdir"' in source.read()
    except OSError:
        return False


CHDIR_TAGGED = _chdir_tagged()


def error_message(step: str, code: int) -> bytes:
    """What _posixsubprocess's child writes to errpipe_write for a failure at ``step``."""
    if step == "execve":
        return b"OSError:%x:" % code
    if step == "chdir" and CHDIR_TAGGED:
        return b"OSError:%x:noexec:chdir" % code
    return b"OSError:%x:noexec" % code


def executable_errno(errnos: Sequence[int], last: int) -> int:
    """The errno of a failed executable list: the first not ENOENT/ENOTDIR, else the last."""
    for code in (*errnos, last):
        if code not in (errno.ENOENT, errno.ENOTDIR):
            return code
    return last


def _write_message(fd: int, message: bytes) -> None:
    """Write the child's message as the child would: once, errors ignored."""
    write = libc.parent("write")
    while write(fd, message, len(message)) == -1 and ctypes.get_errno() == errno.EINTR:
        pass


def _stand_in() -> int:
    """A child for Popen to reap where the runner reaped the failed one.

    posix_spawn (runner_spawn) reaps a child that failed before exec and
    returns only the errno; Popen will waitpid the pid fork_exec returns
    (and warn in __del__ if it cannot). So a failed start through that
    runner costs one more process: an immediately exiting ``true``, started
    through pysyscall. Only on the failure path. Without one, a pid no
    process has (Popen's waitpid gets ECHILD; a kill of it reaches nobody).
    """
    for program in ("/bin/true", "/usr/bin/true"):
        try:
            return exec_unix.fork_exec(program, [program], exec_unix.ProcAttr(env=[], files=[]))
        except OSError:
            pass
    return PID_MAX


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
_A = _INDEX["args"]
_X = _INDEX["executable_list"]
_K = _INDEX["fds_to_keep"]
_E = _INDEX["env_list"]
_G = _INDEX["extra_groups"]

_pools: dict[tuple[Any, ...], list[Prepared]] = {}


def request_key(arguments: Sequence[Any]) -> tuple[Any, ...] | None:
    """The key a request's plans are kept by; None if it cannot be keyed exactly.

    Exactly: every argument is a plain value whose equality means the same
    checks and the same plan (int and bool, str, bytes, None; args and
    env_list lists or tuples of those, extra_groups a list of ints,
    fds_to_keep a tuple of ints), so a request equal to one planned before
    passes the same checks. Then this process's pid and, for several
    executables, the thread's errno address (the plan writes it from
    there). Not the signal state: a kept plan is checked against it only
    where its runner needs that (Prepared.signals).
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
    thread = _errno_location() if len(executables) > 1 else None
    return (
        os.getpid(),
        thread,
        env,
        tuple(args),
        executables,
        keep,
        groups,
        scalars,
        runners.requested(),
    )


def _keep(key: tuple[Any, ...], prepared: Prepared) -> None:
    """Give a plan back to its request's pool (made on first use).

    No lock: each dict operation is atomic, and a start from a signal
    handler may come here while this thread is in the middle of it.
    """
    pool = _pools.get(key)
    if pool is None:
        while len(_pools) >= REMEMBERED:
            _pools.pop(next(iter(_pools), key), None)  # the oldest request
        pool = _pools.setdefault(key, [])
    if len(pool) < POOL:
        pool.append(prepared)


def forget() -> None:
    """Drop every remembered plan (tests; a changed runner setup)."""
    _pools.clear()


# --- fork_exec -----------------------------------------------------------------------


def _native(arguments: Sequence[Any]) -> int:
    if NATIVE is None:
        raise RuntimeError(
            "preexec_fn (or this platform) needs _posixsubprocess, which this interpreter lacks"
        )
    return NATIVE(*arguments)


def _errno_pipe(fds: Any, lowest: int) -> None:
    """A non-blocking close-on-exec pipe into ``fds[3:5]``, its write end at ``lowest`` or above.

    ``fds`` is the start's (plan.Start): every fd made lands there in the
    C call that makes it.
    """
    size = ctypes.sizeof(ctypes.c_int)
    libc.call("pipe2", ctypes.addressof(fds) + 3 * size, zerrors.O_CLOEXEC | zerrors.O_NONBLOCK)
    if fds[4] < lowest:
        duplicate = functools.partial(
            _fcntl, *libc.variadic_arguments("fcntl", (fds[4], zerrors.F_DUPFD_CLOEXEC, lowest))
        )
        _run(map(operator.setitem, (fds,), (5,), map(_call, (duplicate,))))
        if fds[5] == -1:
            raise libc.errno_error(ctypes.get_errno(), "fcntl")
        old = fds[4]
        fds[4], fds[5] = fds[5], -1
        _close(old)


def _read_errnos(fd: int, count: int) -> list[int]:
    """The errnos the child wrote (up to ``count``), already all in the pipe."""
    size = count * ERRNO_SIZE
    buffer = ctypes.create_string_buffer(size)
    read = libc.parent("read")
    got = 0
    while got < size:
        n = read(fd, ctypes.addressof(buffer) + got, size - got)
        if n == -1 and ctypes.get_errno() == errno.EINTR:
            continue
        if n <= 0:
            break
        got += n
    values = (ctypes.c_int32 * count).from_buffer(buffer)
    return list(values)[: got // ERRNO_SIZE]


def fork_exec(*arguments: Any) -> int:
    """``_posixsubprocess.fork_exec`` of this interpreter, on pysyscall's child program.

    Under exec_unix._guarded: an exception (a Ctrl-C) leaves no child, fd
    or lock behind; a pid returned is the caller's.
    """
    if len(arguments) != len(PARAMETERS):
        raise _count_error(len(arguments))
    if arguments[_PREEXEC] is not None or not _PLANNED:
        return _native(arguments)
    return exec_unix._guarded(_fork_exec, arguments)[0]


def _fork_exec(record: Start, arguments: Sequence[Any]) -> int:
    key = request_key(arguments)
    prepared = None
    pool = None if key is None else _pools.get(key)
    if pool:
        try:
            prepared = pool.pop()  # atomic: two threads never share a plan
        except IndexError:
            prepared = None
        signals = None if prepared is None else prepared.signals
        if signals is not None and signal_state() != signals:
            prepared = None  # the handlers its list was read from changed
        environ = None if prepared is None else prepared.plan.environ
        if environ is not None and not environ.take():
            prepared = None  # environ outgrew the plan's copy: plan again
    if prepared is None:
        request = Request(arguments)
        if len(request.executables) > MAX_EXECUTABLES:
            record.pid.value = _native(arguments)
            return -1
        state = signal_state()
        prepared = child_program(request, state, None if key is None else key[1])
        if key is not None:
            # Chosen once for a remembered plan (the key holds the runner asked for).
            prepared.runner = runner = runners.select(prepared.plan)
            if runner.signals_in_plan(prepared.plan):
                prepared.signals = state
    _start(record, prepared, arguments[_INDEX["errpipe_write"]])
    if pool is not None:
        if len(pool) < POOL:
            pool.append(prepared)
    elif key is not None:
        _keep(key, prepared)
    return -1


def _start(record: Start, prepared: Prepared, errpipe_write: int) -> None:
    """Start ``prepared`` (the pid into ``record``); on the child's failure, write
    its message for Popen."""
    plan = prepared.plan
    fds = record.fds
    try:
        if prepared.errno_fd is not None:
            _errno_pipe(fds, plan.first_free_fd)
            prepared.errno_fd.value = fds[4]
        # The runner a remembered plan was given (None: exec_unix chooses).
        exec_unix._start(record, plan, reap_failed=False, runner=prepared.runner)
    except OSError as error:
        step = getattr(error, "step", None)
        if step is None:
            raise  # the parent's own failure (pipe, fork): Popen gets it as is
        code = error.errno or 0
        if step == "execve" and fds[3] != -1:
            code = executable_errno(_read_errnos(fds[3], prepared.executables - 1), code)
        _write_message(errpipe_write, error_message(step, code))
        # The failed child, unreaped (its pid in record): Popen reaps it, as
        # it does natively; the runner reaped it itself: a stand-in.
        if record.pid.value == 0:
            record.pid.value = _stand_in()
    finally:
        plan.close()
        for i in (3, 4):  # the errno pipe, made only for several executables
            fd, fds[i] = fds[i], -1
            if fd != -1:
                _close(fd)


# --- install -------------------------------------------------------------------------


def _targets() -> list[tuple[Any, str]]:
    import subprocess

    if sys.version_info >= (3, 11):
        return [(subprocess, "_fork_exec")]
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
