# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
# Follows CPython's _posixsubprocess.c: Copyright (c) Python Software Foundation (NOTICE).
"""CPython's argument checks of ``_posixsubprocess.fork_exec``, before anything starts.

The running interpreter's parameters (21 on 3.9-3.10, 23 on 3.11-3.13 with
``process_group`` and ``allow_vfork``, 22 on 3.14+ without ``allow_vfork``:
chosen by ``sys.version_info``), checked in the order and with the
exception types and messages of Modules/_posixsubprocess.c's
subprocess_fork_exec and its converters on that version (PyArg "i" before
3.12, Argument Clinic from 3.12; 3.12's pid_t converter truncates a
pgid_to_set beyond 32 bits, and so does this one there). ``Request`` holds
what the child program needs (program.py).
"""

from __future__ import annotations

import operator
import os
import sys
from collections.abc import Sequence
from typing import Any, Callable

from .._platform import zerrors

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
INDEX = {name: i for i, name in enumerate(PARAMETERS)}
INT_MAX = 2**31 - 1
ID_NONE = 2**32 - 1  # (uid_t)-1 / (gid_t)-1: leave the id alone


def native(arguments: Sequence[Any]) -> int:
    """The interpreter's own fork_exec with ``arguments``; RuntimeError where it has none."""
    if NATIVE is None:
        raise RuntimeError(
            "preexec_fn (or this platform) needs _posixsubprocess, which this interpreter lacks"
        )
    return NATIVE(*arguments)


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
            native([probe[name] for name in PARAMETERS])
        except OverflowError:
            _truncates.append(False)
        except TypeError:  # got past the parsing, to executable_list
            _truncates.append(True)
        else:  # pragma: no cover - cannot start with executable_list 0
            raise AssertionError("the native fork_exec took an executable_list of 0")
    return _truncates[0]


def count_error(given: int) -> TypeError:
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
    """fds_to_keep: a tuple of sorted, distinct fds, else ValueError.

    Port of _sanity_check_python_fd_sequence (_posixsubprocess.c).
    """
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
        """Check ``arguments`` in _posixsubprocess's order; raise as it does.

        Port of subprocess_fork_exec's conversions and checks
        (_posixsubprocess.c, its Argument Clinic parser from 3.12).
        """
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
