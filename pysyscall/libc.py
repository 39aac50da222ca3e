# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The C library, bound once: every system call pysyscall makes goes through here.

Go declares its libc and system-call stubs one line each (the ``//sys`` lines
of syscall_darwin.go, the z-files); this module does the same as one table of
prototypes, so what the child may call can be audited in one place.

Each function is bound through two handles:

* the *child* handle, ``ctypes.PyDLL``: the GIL stays held across the call and
  ctypes leaves ``errno`` alone. Fork and the child's program use it (see
  runner_fork.py): the child must never try to release or take the GIL.
* the *parent* handle, ``ctypes.CDLL(use_errno=True)``: the GIL is released
  around the call, so a parent blocked in read or wait4 does not stop other
  threads, and errno is copied out for ``errno_error``.

Every C library from glibc 2.28 on is supported. A function is looked up
once (``has``), in libc.so.6 and, for the few that glibc kept in
libpthread.so.0 before 2.34, there. The functions a supported C library may
lack are listed in ``MAY_LACK`` with what pysyscall does without each (its
callers check ``has``); ``lacking()`` is that list for this C library.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import functools
import itertools
import operator
import os
from collections.abc import Iterable, Iterator
from ctypes import c_int, c_long, c_size_t, c_ssize_t, c_void_p

from ._platform import GOOS, zerrors

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any, Callable

LIBRARY = "libSystem.B.dylib" if GOOS == "darwin" else "libc.so.6"
# glibc before 2.34 (Debian 11, Ubuntu 20.04, RHEL 8) has these in
# libpthread.so.0, not in libc.so.6; 2.34 merged libpthread into libc.
LIBPTHREAD = "libpthread.so.0"
IN_LIBPTHREAD = frozenset({"pthread_sigmask"}) if LIBRARY == "libc.so.6" else frozenset()

# name: (result type, fixed argument types, variadic)
# Pointers travel as plain integer addresses (c_void_p), so a step of the
# child's program is a function name and integers, whatever runner runs it.
# Variadic functions declare only their fixed arguments; the rest are passed
# as c_long, which is what the calling conventions want for them.
PROTOTYPES: dict[str, tuple[Any, tuple[Any, ...], bool]] = {
    "_Fork": (c_int, (), False),
    "__fork": (c_int, (), False),
    "fork": (c_int, (), False),
    "_exit": (None, (c_int,), False),
    "__exit": (None, (c_int,), False),
    "__errno_location": (c_void_p, (), False),
    "_NSGetEnviron": (c_void_p, (), False),
    "__error": (c_void_p, (), False),
    "capget": (c_int, (c_void_p, c_void_p), False),
    "capset": (c_int, (c_void_p, c_void_p), False),
    "chdir": (c_int, (c_void_p,), False),
    "chroot": (c_int, (c_void_p,), False),
    "close": (c_int, (c_int,), False),
    "close_range": (c_int, (ctypes.c_uint, ctypes.c_uint, c_int), False),
    "clone": (c_int, (c_void_p, c_void_p, c_int, c_void_p), True),
    "dup2": (c_int, (c_int, c_int), False),
    "dup3": (c_int, (c_int, c_int, c_int), False),
    "execve": (c_int, (c_void_p, c_void_p, c_void_p), False),
    "faccessat": (c_int, (c_int, c_void_p, c_int, c_int), False),
    "fcntl": (c_int, (c_int, c_int), True),
    "geteuid": (ctypes.c_uint, (), False),
    "getpid": (c_int, (), False),
    "getppid": (c_int, (), False),
    "ioctl": (c_int, (c_int, ctypes.c_ulong), True),
    "kill": (c_int, (c_int, c_int), False),
    "memcmp": (c_int, (c_void_p, c_void_p, c_size_t), False),
    "memmove": (None, (c_void_p, c_void_p, c_size_t), False),
    "mmap": (c_void_p, (c_void_p, c_size_t, c_int, c_int, c_int, c_long), False),
    "mount": (c_int, (c_void_p, c_void_p, c_void_p, ctypes.c_ulong, c_void_p), False),
    "mprotect": (c_int, (c_void_p, c_size_t, c_int), False),
    "munmap": (c_int, (c_void_p, c_size_t), False),
    "open": (c_int, (c_void_p, c_int), True),
    "pipe": (c_int, (c_void_p,), False),
    "pipe2": (c_int, (c_void_p, c_int), False),
    "poll": (c_int, (c_void_p, ctypes.c_ulong, c_int), False),
    "posix_spawn": (c_int, (c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p), False),
    "posix_spawn_file_actions_addchdir_np": (c_int, (c_void_p, c_void_p), False),
    "posix_spawn_file_actions_addclose": (c_int, (c_void_p, c_int), False),
    "posix_spawn_file_actions_addclosefrom_np": (c_int, (c_void_p, c_int), False),
    "posix_spawn_file_actions_adddup2": (c_int, (c_void_p, c_int, c_int), False),
    "posix_spawn_file_actions_addinherit_np": (c_int, (c_void_p, c_int), False),
    "posix_spawn_file_actions_destroy": (c_int, (c_void_p,), False),
    "posix_spawn_file_actions_init": (c_int, (c_void_p,), False),
    "posix_spawnattr_destroy": (c_int, (c_void_p,), False),
    "posix_spawnattr_init": (c_int, (c_void_p,), False),
    "posix_spawnattr_setflags": (c_int, (c_void_p, ctypes.c_short), False),
    "posix_spawnattr_setpgroup": (c_int, (c_void_p, c_int), False),
    "posix_spawnattr_setsigdefault": (c_int, (c_void_p, c_void_p), False),
    "posix_spawnattr_setsigmask": (c_int, (c_void_p, c_void_p), False),
    "prctl": (c_int, (c_int,), True),
    "pthread_mutex_init": (c_int, (c_void_p, c_void_p), False),
    "pthread_mutex_lock": (c_int, (c_void_p,), False),
    "pthread_mutex_unlock": (c_int, (c_void_p,), False),
    "pthread_sigmask": (c_int, (c_int, c_void_p, c_void_p), False),
    "ptrace": (c_long, (c_int,), True),
    "read": (c_ssize_t, (c_int, c_void_p, c_size_t), False),
    "setgid": (c_int, (ctypes.c_uint,), False),
    "setgroups": (c_int, (c_size_t, c_void_p), False),
    "setpgid": (c_int, (c_int, c_int), False),
    "setsid": (c_int, (), False),
    "setuid": (c_int, (ctypes.c_uint,), False),
    "sigaction": (c_int, (c_int, c_void_p, c_void_p), False),
    "sigfillset": (c_int, (c_void_p,), False),
    "sigprocmask": (c_int, (c_int, c_void_p, c_void_p), False),
    "syscall": (c_long, (c_long,), True),
    "unshare": (c_int, (c_int,), False),
    "wait4": (c_int, (c_int, c_void_p, c_int, c_void_p), False),
    "write": (c_ssize_t, (c_int, c_void_p, c_size_t), False),
}

# Functions a supported C library may lack, and what pysyscall does then
# (each caller checks ``has``). Every other function the Linux code calls is
# in every glibc since 2.28; darwin's, in libSystem.
if LIBRARY == "libc.so.6":
    MAY_LACK = {
        "_Fork": "glibc 2.34+; the fork is the clone system call by number (SIGCHLD "
        "only), which runs no atfork handlers either",
        "close_range": "glibc 2.34+; the close-on-exec sweep is the close_range system "
        "call by number",
        "posix_spawn_file_actions_addclosefrom_np": "glibc 2.34+; the spawn runner "
        "declines every plan that marks the unlisted fds close-on-exec (auto takes "
        "the next runner)",
        "posix_spawn_file_actions_addchdir_np": "glibc 2.29+; the spawn runner declines "
        "plans with a working directory (auto takes the next runner)",
    }
else:
    MAY_LACK = {
        "posix_spawn_file_actions_addchdir_np": "macOS 10.15+; the spawn runner declines "
        "plans with a working directory (auto takes the next runner)",
        "posix_spawn_file_actions_addinherit_np": "macOS 10.7+; the spawn runner "
        "declines plans that clear FD_CLOEXEC on a listed fd",
    }


def _c_library_in_use(maps: str) -> str:
    """The C library among the files mapped into a process (/proc/PID/maps text)."""
    paths = sorted({line.split()[-1] for line in maps.splitlines() if "/" in line})
    for path in paths:
        if os.path.basename(path).startswith(("ld-musl-", "libc.musl-")):
            return f"musl ({path})"
    for path in paths:
        if os.path.basename(path).startswith(("libc.so", "libc-")):
            return path
    return "no C library file that pysyscall knows of"


def _handles(library: str) -> tuple[ctypes.CDLL, ctypes.CDLL]:
    """The child's and the parent's handle on ``library`` (the module docstring)."""
    # PyPy has no PyDLL (its ctypes is Python code anyway, so the fork runner
    # refuses there: runner_fork.unavailable); the parent's calls made through
    # child() then go through a plain handle.
    child_handle = getattr(ctypes, "PyDLL", ctypes.CDLL)(library, use_errno=False)
    return child_handle, ctypes.CDLL(library, use_errno=True)


try:
    _libraries = {LIBRARY: _handles(LIBRARY)}
except OSError as _error:
    try:
        with open("/proc/self/maps") as _maps:
            _found = _c_library_in_use(_maps.read())
    except OSError:
        _found = "a C library this process cannot name (no /proc/self/maps)"
    raise ImportError(
        f"pysyscall needs glibc's {LIBRARY} ({_error}); this process runs on {_found}, "
        "which pysyscall does not support yet"
    ) from None

_where: dict[str, str | None] = {}  # function name: the library that has it, or None
_bound: dict[tuple[int, str, Any], Callable[..., Any]] = {}


def _library_of(name: str) -> str | None:
    """The library file exporting ``name`` (looked up once), or None."""
    try:
        return _where[name]
    except KeyError:
        pass
    found = None
    for library in (LIBRARY, LIBPTHREAD) if name in IN_LIBPTHREAD else (LIBRARY,):
        handles = _libraries.get(library)
        if handles is None:
            try:
                handles = _libraries[library] = _handles(library)
            except OSError:
                continue
        try:
            handles[1]._FuncPtr((name, handles[1]))
        except AttributeError:
            continue
        found = library
        break
    _where[name] = found
    return found


def has(name: str) -> bool:
    """Report whether this C library exports ``name`` (in libpthread, for IN_LIBPTHREAD)."""
    return _library_of(name) is not None


def lacking() -> list[tuple[str, str]]:
    """(function, what pysyscall does without it) for each MAY_LACK function missing here."""
    return [(name, then) for name, then in MAY_LACK.items() if not has(name)]


_CHILD, _PARENT = 0, 1


def _bind(which: int, name: str, restype: Any) -> Callable[..., Any]:
    # Keyed by handle kind: a child call bound through the parent's handle
    # would release the GIL in the child and hang it.
    key = (which, name, restype)
    function = _bound.get(key)
    if function is None:
        _, argtypes, _ = PROTOTYPES[name]
        library_name = _library_of(name)
        if library_name is None:
            raise AttributeError(f"{LIBRARY}: undefined symbol: {name}")
        library = _libraries[library_name][which]
        # A fresh function object per (handle, result type): two steps may
        # want the same symbol checked and unchecked.
        function = library._FuncPtr((name, library))
        function.restype = restype
        function.argtypes = argtypes
        _bound[key] = function
    return function


def child(name: str, checked: bool = True) -> Callable[..., Any]:
    """The GIL-holding binding of ``name`` for fork and the child's program.

    With ``checked=False`` the result type is void, so the call returns None:
    that is how a step whose failure Go ignores (closing 0..2) is told apart
    by the runner without any Python code in the child.
    """
    restype = PROTOTYPES[name][0] if checked else None
    return _bind(_CHILD, name, restype)


def parent(name: str) -> Callable[..., Any]:
    """The GIL-releasing, errno-saving binding of ``name`` for the parent."""
    return _bind(_PARENT, name, PROTOTYPES[name][0])


def environ_location() -> int:
    """The address of the C library's variable ``environ`` (a char **), not its array."""
    if GOOS == "darwin":
        # A shared library (what ctypes loads) reaches it through
        # _NSGetEnviron (crt_externs.h): libSystem exports no ``environ``.
        location: int = parent("_NSGetEnviron")()
        return location
    # The definition the process uses, looked up in the global scope (the
    # program first), not in libc.so.6's: a program that refers to environ
    # itself (Debian's python3, linked with libpython) has its own copy,
    # made by a copy relocation, and libc's own stays stale.
    return ctypes.addressof(c_void_p.in_dll(ctypes.CDLL(None), "environ"))


def variadic_arguments(name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Wrap the integers past a variadic function's fixed arguments as c_long."""
    _restype, fixed, variadic = PROTOTYPES[name]
    if not variadic:
        return args
    rest = args[len(fixed) :]
    return args[: len(fixed)] + tuple(c_long(a) if isinstance(a, int) else a for a in rest)


def errno_error(code: int, detail: str | None = None, filename: str | None = None) -> OSError:
    """The OSError subclass for errno ``code`` (FileNotFoundError for ENOENT, ...).

    ``detail`` is added to the message (which call failed, which child step).
    """
    message = os.strerror(code)
    if detail:
        message = f"{message} ({detail})"
    if filename is None:
        return OSError(code, message)
    return OSError(code, message, filename)


def check(result: int, name: str, filename: str | None = None) -> int:
    """Return ``result``, or raise the errno of a parent call that returned -1."""
    if result == -1:
        raise errno_error(ctypes.get_errno(), name, filename)
    return result


# Chains of C calls. run_chain consumes an iterator of calls (maps over
# invoke, setattr, operator.setitem...) in one C call, a zero-length
# deque's extend: no bytecode runs between two of them, so no signal
# handler can (see plan.Start). One deque serves every chain, nested or in
# other threads at once: at length 0, extend only drains the iterator and
# keeps no state (a new deque per chain cost 0.2 µs more, several times a
# start). invoke(f) is f(), made by C: operator.call (3.11+) calls f at
# once, where methodcaller first makes the bound ``__call__`` (callgrind:
# 790 against 1,410 instructions a call; a start makes dozens).
run_chain: Callable[[Iterable[Any]], object] = collections.deque(maxlen=0).extend
invoke: Callable[[Any], Any] = getattr(operator, "call", None) or operator.methodcaller("__call__")


def stored(into: Any, make: Callable[[], Any], name: str = "value") -> Iterator[None]:
    """A link of a chain: ``setattr(into, name, make())``, the call and the
    store with no bytecode between them, so a result (an fd, a pid, a
    mapping) is never made and then lost to an interrupt."""
    return map(setattr, (into,), (name,), map(invoke, (make,)))


def call(name: str, *args: Any) -> int:
    """Call ``name`` in the parent; raise its errno as an OSError on -1."""
    result: int = parent(name)(*variadic_arguments(name, args))
    return check(result, name)


def read_file(path: str, limit: int = 65536) -> bytes:
    """Read a small file (a /proc entry) with the C library's open and read."""
    buffer = ctypes.create_string_buffer(limit)
    n = _open_call_close(path, zerrors.O_RDONLY, "read", ctypes.addressof(buffer), limit)
    return buffer.raw[:n]


def write_file(path: str, data: bytes) -> None:
    """Write ``data`` to a file (a /proc entry) in one write, as Go does."""
    if _open_call_close(path, zerrors.O_WRONLY, "write", data, len(data)) != len(data):
        raise errno_error(errno.EIO, "short write", path)


def _open_call_close(path: str, flags: int, name: str, *args: Any) -> int:
    """open ``path``, call ``name(fd, *args)``, close: one chain of C calls.

    An exception (a Ctrl-C) cannot come between the open and the close, so
    no fd is left open; the errno of each call is kept as it is made.
    Returns the call's result; raises the open's or the call's error.
    """
    fd, result, open_errno, call_errno = c_int(-1), c_ssize_t(-1), c_int(0), c_int(0)
    run_chain(
        itertools.chain(
            stored(fd, functools.partial(parent("open"), os.fsencode(path), flags)),
            stored(open_errno, ctypes.get_errno),
            # With the open failed, on fd -1: EBADF, not reported.
            stored(result, functools.partial(parent(name), fd, *args)),
            stored(call_errno, ctypes.get_errno),
            map(invoke, (functools.partial(parent("close"), fd),)),
        )
    )
    if fd.value == -1:
        raise errno_error(open_errno.value, "open", path)
    if result.value == -1:
        raise errno_error(call_errno.value, name, path)
    return result.value
