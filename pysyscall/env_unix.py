# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The environment a child gets with env=None: the C library's ``environ``.

Native subprocess (env=None: execv) hands the child the C library's
``environ``, so a variable set with os.putenv, removed with os.unsetenv, or
changed by C code reaches the child though os.environ never saw it.
pysyscall's child gets the same array, with one difference: a start
releases the GIL, and another thread's setenv may move ``environ`` to a new
array and free the old one meanwhile (glibc reallocs it to grow it). So
each plan owns an ``Environ``: its own copy of the array of pointers, taken
under the GIL before the start, that no other thread changes. Nothing is
encoded per start.

Copying the pointers and not the strings is enough where the C library
never frees a string its setenv or unsetenv drops. glibc keeps them all
(stdlib/setenv.c: __add_to_environ files every string it makes in the
``known_values`` search tree, to reuse it, and never frees one; unsetenv
only moves the later pointers down; newer versions keep the old arrays too:
__environ_array_list). CPython's os.putenv calls setenv (3.9+), so every
string it adds is one of those; PyPy's does not (see STRINGS_KEPT). musl
frees the strings it made when setenv replaces or unsetenv removes them
(src/env/setenv.c, __env_rm_add), and darwin frees or overwrites the ones
it owns (Apple Libc's stdlib/setenv-fbsd.c, __setenv and __unsetenv):
there, on PyPy, and with any C library but glibc, the strings are copied
as well (STRINGS_KEPT False).
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import operator
import os
import sys

from . import libc

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any

_ENCODING = sys.getfilesystemencoding()  # os.environ's, with surrogateescape


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc ")
    except (ValueError, OSError):  # a name this system does not know (darwin, musl)
        return False


# Whether a pointer taken from ``environ`` stays valid after another
# thread's setenv or unsetenv (see above): glibc's, under CPython. PyPy's
# os.putenv hands putenv a buffer of its own, and frees it when the
# variable is set again (measured: the old pointer then reads garbage).
STRINGS_KEPT = _glibc() and sys.implementation.name == "cpython"

_location = libc.environ_location()  # of the variable ``environ`` (a char **)
# Pointers whose target is read when an item is asked for: item i of these
# is environ[i] of the array ``environ`` points to at that moment.
_pointers = ctypes.POINTER(ctypes.c_size_t).from_address(_location)
_strings = ctypes.POINTER(ctypes.c_char_p).from_address(_location)
# environ as a char *: a slice of it is one copy of the bytes there, the
# variable read in the same C call; and as the address it holds.
_bytes: Any = ctypes.POINTER(ctypes.c_char).from_address(_location)  # a slice: bytes
_address = ctypes.c_size_t.from_address(_location)
_SIZE = ctypes.sizeof(ctypes.c_size_t)
_BLOCK = 4096  # the smallest page: a page is one or more of these, aligned
# Where no thread switch can come between bytecodes that make no call and
# jump no way back: CPython 3.11+ checks for one only at those (3.9 and
# 3.10 before any bytecode), and only with the GIL (a free-threaded build
# runs threads at once).
_NO_SWITCH = (
    sys.implementation.name == "cpython"
    and sys.version_info >= (3, 11)
    and getattr(sys, "_is_gil_enabled", lambda: True)()
)
_not_none = functools.partial(operator.is_not, None)
_indexes = itertools.count
# Item i of environ's array as getitem(pointers, i), judged by truth:
# operator's C functions reach the pointer's item slot directly, where a
# bound __getitem__ (a method-wrapper) and bool (a type) cost more per
# variable (callgrind: 46,800 instructions a copy of 36 variables, 51,400).
_getitem, _truth, _same = operator.getitem, operator.truth, itertools.repeat


def _read(strings: bool) -> list[int] | list[bytes]:
    """environ's entries now: their addresses, or (``strings``) copies of them.

    One C-level pass (takewhile over map), which no other Python thread can
    interrupt: the GIL is held throughout and no bytecode runs, so no
    os.putenv moves the array under it. Each item is read through the
    variable ``environ``, never through an array address kept across
    items, so a thread that got in all the same (a collection's finalizer
    switching threads) could not make this read a freed array: at worst
    the copy would miss or repeat a variable being moved. On PyPy, whose
    ctypes is Python code, threads may switch anywhere in here, and a
    string another thread's os.putenv frees may be read after it is freed:
    the hazard native subprocess has on every interpreter.
    """
    try:
        if strings:
            return list(itertools.takewhile(_not_none, map(_getitem, _same(_strings), _indexes())))
        return list(itertools.takewhile(_truth, map(_getitem, _same(_pointers), _indexes())))
    except ValueError:  # ctypes' "NULL pointer access": clearenv() leaves environ NULL
        return []


class Environ:
    """A plan's copy of the C library's ``environ``, taken again before each start.

    ``address`` is the NULL-terminated array the child's execve (or
    posix_spawn) gets; it never moves, so a plan and what a runner made of it
    stay valid across takes. The array has room for twice the variables
    there were when it was made, and more; ``take`` reports when they no
    longer fit (then the plan is made again). What Go's syscall.Environ
    (env_unix.go) is to a Go child started with a nil Env, but not a port:
    Go keeps its own copy of the environment, Python's is the C library's.
    """

    __slots__ = ("address", "array", "at", "capacity", "entries", "pages", "strings")

    def __init__(self) -> None:
        self.strings = not STRINGS_KEPT
        entries = _read(self.strings)
        # Powers of two: ctypes makes each array type once.
        self.capacity = 1 << max(6, (2 * len(entries)).bit_length())
        kind = ctypes.c_char_p if self.strings else ctypes.c_size_t
        self.array = (kind * (self.capacity + 1))()
        self.address = ctypes.addressof(self.array)
        self._fill(entries)

    def _fill(self, entries: list[int] | list[bytes]) -> None:
        self.entries: list[Any] | None = None  # what the array holds: unknown while it changes
        self.at: int | None = None  # nor compared with environ (_pages)
        count = len(entries)
        self.array[:count] = entries  # a c_char_p array keeps the bytes alive
        self.array[count] = None if self.strings else 0
        self.entries = entries
        self._pages(count)

    def _pages(self, count: int) -> None:
        """Where ``take`` finds, in one read a page, whether environ still holds the entries.

        ``at``: environ's address now (None: no such check, take reads every
        entry); ``pages``: for each 4096-byte block the array's ``count``
        pointers and NULL cross from there, the slice of bytes to read and
        what they must be. A read inside one such block of a valid address
        cannot fault (no page is smaller, nor starts inside one), whatever
        array environ points to; one that reaches the next block is made
        only once the block before held the entries, none NULL, so the
        array goes on into it. Two blocks at most (511 variables and more:
        every entry read; and where a thread switch could come between the
        reads: _NO_SWITCH).
        """
        address = _address.value
        if self.strings or not address or not _NO_SWITCH:
            return
        size = (count + 1) * _SIZE
        raw = ctypes.string_at(self.address, size)  # the entries and NULL, as environ has them
        split = min(size, _BLOCK - address % _BLOCK)
        if size - split > _BLOCK:
            return
        self.pages = (slice(0, split), raw[:split], slice(split, size), raw[split:])
        self.at = address

    def take(self) -> bool:
        """Copy ``environ`` as it is now; False (nothing copied) if it does not fit.

        Every start of a kept plan makes this copy before its fork: _read
        spelled out here, one Python call fewer on that path; and when
        environ holds what the array holds already (the usual case: the
        same pointers, or strings), the array is left as it is. Pointers
        (glibc): where environ is the array it was at the last take, its
        bytes are compared with the array's in one read of each 4096-byte
        block (_pages), each a single C call that reads ``environ`` itself.
        No bytecode from the first read of ``environ`` to the last can
        switch threads (_NO_SWITCH: no call, no backward jump), so no
        os.putenv of another thread moves the array between them.
        """
        if self.at is not None and _address.value == self.at:
            first, first_bytes, second, second_bytes = self.pages
            if _bytes[first] == first_bytes and (
                not second_bytes or _bytes[second] == second_bytes
            ):
                return True
        try:
            if self.strings:
                entries: list[Any] = list(
                    itertools.takewhile(_not_none, map(_getitem, _same(_strings), _indexes()))
                )
            else:
                entries = list(
                    itertools.takewhile(_truth, map(_getitem, _same(_pointers), _indexes()))
                )
        except ValueError:  # as _read: clearenv() leaves environ NULL
            entries = []
        if entries == self.entries:
            return True
        if len(entries) > self.capacity:
            return False
        self._fill(entries)
        return True


_RUNNER = "PYSYSCALL_RUNNER".encode(_ENCODING, "surrogateescape")


def getenv_runner() -> str | None:
    """os.environ.get("PYSYSCALL_RUNNER") in one dict lookup (asked on every start).

    os.environ and os.environb share one dict of bytes (os._Environ._data):
    reading it is C-level work, the name encoded once.
    """
    data = getattr(os.environ, "_data", None)
    if type(data) is not dict:
        return os.environ.get("PYSYSCALL_RUNNER")
    value = data.get(_RUNNER)
    return None if value is None else value.decode(_ENCODING, "surrogateescape")
