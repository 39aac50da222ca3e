# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The posix_spawn runner: the C library runs the child's program, at a flat cost.

The fork runner copies the parent's page tables (about 33 ms per GiB
resident). glibc's posix_spawn starts the child with
clone(CLONE_VM|CLONE_VFORK), as Go's ForkExec does, so its cost does not grow
with the parent; its whole child is C code in the C library, so no Python
runs there either. It cannot run every plan: only steps that posix_spawn's
attributes and file actions express, in an order it keeps. ``translate``
turns a plan into them, step by step, or says which step it cannot take;
``unavailable(plan)`` returns that reason and ``auto`` then falls back to the
next runner (runners.py).

| plan step (Go's child)                          | posix_spawn                            |
|-------------------------------------------------|----------------------------------------|
| setsid()                                        | POSIX_SPAWN_SETSID                     |
| setpgid(0, pgid)                                | POSIX_SPAWN_SETPGROUP, pgroup          |
| sigaction(sig, SIG_DFL) for the reset signals   | POSIX_SPAWN_SETSIGDEF, those signals   |
| sigprocmask(SIG_SETMASK, the parent's mask)     | POSIX_SPAWN_SETSIGMASK, the calling    |
|                                                 | thread's mask, read just before        |
| chdir(dir)                                      | addchdir_np(dir)                       |
| dup3(old, new, 0) / dup2(old, new)              | adddup2(old, new)                      |
| dup3(old, new, O_CLOEXEC) (Go's pass 1)         | adddup2(old, new); addclose(new) last  |
| fcntl(fd, F_SETFD, 0) (files[i] == i)           | adddup2(fd, fd) (glibc 2.29+ clears    |
|                                                 | FD_CLOEXEC); darwin: addinherit_np(fd) |
| close(fd) (result ignored)                      | addclose(fd) (glibc ignores EBADF)     |
| close_range(n, ~0U, CLOSE_RANGE_CLOEXEC)        | addclosefrom_np(n) (closes: the same   |
| or cloexec_range(n, ~0U, ...)                   | for exec); darwin: CLOEXEC_DEFAULT     |
| execve(path, argv, envp)                        | posix_spawn(path, argv, envp)          |

A close_range step made by number (linux.py, where glibc has no wrapper:
before 2.34) translates the same; such a glibc has no addclosefrom_np
either, so the plan is declined, and the reason names the function.

Anything else (credentials, chroot, a terminal, ptrace, pdeathsig,
namespaces, a pidfd, a clone flag, a Step field or Plan field this module
does not know, a known step with unknown arguments) is not spawnable.

Order: glibc's child resets the signals, then setsid, setpgid, the file
actions in order, restores the mask, and execs. The plan's order is Go's:
session, signal reset and mask, chdir, fd passes, execve. The only
difference is when the mask comes back (before chdir in the plan, just
before execve here), which no file action can observe. glibc's child also
sets its own signals (32, 33) to SIG_IGN unless they are in sigdefault, and
SIG_IGN survives execve: they always go there (Library.internal_signals).

Errors: posix_spawn returns only the errno of whatever failed (glibc reaps
the failed child itself). The error is the same OSError subclass, errno and
filename as the fork runner's, but the failing *step* is the parent's
judgement (``judge``): a chdir error the parent can reproduce on the
directory is chdir's, EPERM with a setpgid step is setpgid's, EBADF is the
first fd step's, EAGAIN and ENOMEM are the clone's ("fork through
posix_spawn"), anything else is execve's. The message says so.

No status pipe: posix_spawn returns the child's error itself (status_pipe;
exec_unix starts such a runner without the pipe). It runs under the fork
lock like the fork runner, with the GIL released (libc.parent), so other
threads keep running while the child starts. env=None passes the plan's own
copy of libc's environ (env_unix.Environ), never ``environ`` itself, which
another thread's putenv may reallocate while the GIL-released spawn reads it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import stat
import sys

from . import libc, runtime
from ._platform import GOOS, zerrors, zsysnum
from .plan import OtherFields, Plan, Record, Start, Step, signal_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any, Union

NAME = "spawn"

_FORK_FUNCS = ("_Fork", "__fork", "fork")  # plain forks, no flags
_FORK_ERRORS = (errno.EAGAIN, errno.ENOMEM)  # what clone (or its stack) fails with
# What chdir fails with; judge() checks the directory from the parent.
_CHDIR_ERRORS = (
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EACCES,
    errno.ELOOP,
    errno.ENAMETOOLONG,
)
_SETPGID_ERRORS = (errno.EPERM, errno.ESRCH, errno.EINVAL)
# Linux's close_range (its steps only appear in Linux plans); None on darwin.
_CLOSE_RANGE_CLOEXEC = getattr(zerrors, "CLOSE_RANGE_CLOEXEC", None)
_SYS_CLOSE_RANGE = None if zsysnum is None else zsysnum.SYS_CLOSE_RANGE


class Library(Record):
    """What this C library's posix_spawn offers, detected once (see detect).

    ``missing`` is why posix_spawn cannot be used at all (None: it can).
    ``inherit`` is the file action that clears FD_CLOEXEC on an fd in place
    (None: none does). ``cloexec_default`` is darwin's flag, 0 where absent.
    ``internal_signals``: glibc's own (SIGCANCEL, SIGSETXID: 32 and 33),
    which its child sets to SIG_IGN unless they are in sigdefault; an
    ignored signal stays ignored across execve, so they always go there
    (a fork runner's child gets them at default after execve).
    """

    __slots__ = (
        "chdir",
        "cloexec_default",
        "closefrom",
        "inherit",
        "internal_signals",
        "missing",
        "name",
        "setsid",
    )

    def __init__(
        self,
        name: str,
        missing: str | None,
        setsid: bool,
        chdir: bool,
        closefrom: bool,
        inherit: str | None,
        cloexec_default: int,
        internal_signals: tuple[int, ...] = (),
    ) -> None:
        self.name = name
        self.missing = missing
        self.setsid = setsid
        self.chdir = chdir
        self.closefrom = closefrom
        self.inherit = inherit
        self.cloexec_default = cloexec_default
        self.internal_signals = internal_signals


def _glibc_version() -> tuple[int, int] | None:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    name, _, version = text.partition(" ")
    if name != "glibc":
        return None
    major, _, minor = version.partition(".")
    try:
        return int(major), int(minor.partition(".")[0])
    except ValueError:
        return None


def _setflags_accepts(flag: int) -> bool:
    # glibc's posix_spawnattr_setflags refuses flags it does not know (EINVAL).
    attr = ctypes.create_string_buffer(zerrors.POSIX_SPAWNATTR_SIZE)
    if libc.parent("posix_spawnattr_init")(attr) != 0:
        return False
    try:
        return bool(libc.parent("posix_spawnattr_setflags")(attr, flag) == 0)
    finally:
        libc.parent("posix_spawnattr_destroy")(attr)


def detect() -> Library:
    """Probe this C library's posix_spawn: symbols, flags, and versions where needed."""
    if GOOS == "darwin":
        return Library(
            "libSystem",
            None if libc.has("posix_spawn") else "libSystem has no posix_spawn",
            setsid=True,
            chdir=libc.has("posix_spawn_file_actions_addchdir_np"),  # macOS 10.15+
            closefrom=False,
            inherit=(
                "posix_spawn_file_actions_addinherit_np"
                if libc.has("posix_spawn_file_actions_addinherit_np")
                else None
            ),
            cloexec_default=zerrors.POSIX_SPAWN_CLOEXEC_DEFAULT,
        )
    version = _glibc_version()
    if version is None:
        # Other C libraries differ in what their child resets and reports.
        return Library("libc", "not glibc: only glibc's posix_spawn is known here", *_NONE)
    name = f"glibc {version[0]}.{version[1]}"
    if not libc.has("posix_spawn"):
        return Library(name, f"{name} has no posix_spawn", *_NONE)
    return Library(
        name,
        None,
        setsid=_setflags_accepts(zerrors.POSIX_SPAWN_SETSID),  # 2.26+
        chdir=libc.has("posix_spawn_file_actions_addchdir_np"),  # 2.29+
        closefrom=libc.has("posix_spawn_file_actions_addclosefrom_np"),  # 2.34+
        # adddup2(fd, fd) clears FD_CLOEXEC since 2.29 (Austin Group issue
        # 411, now POSIX); before, it did nothing.
        inherit="posix_spawn_file_actions_adddup2" if version >= (2, 29) else None,
        cloexec_default=0,
        # Between the kernel's first real-time signal and the C library's.
        internal_signals=tuple(range(32, getattr(signal, "SIGRTMIN", 32))),
    )


_NONE = (False, False, False, None, 0)
LIBRARY = detect()


class Spawn(Record):
    """A plan as posix_spawn's arguments: attributes, file actions, the exec.

    ``actions`` are (libc function, arguments after the file-actions object,
    step index); ``restore_mask`` sets the calling thread's mask as the
    child's (the plan's sigprocmask step); ``steps`` are the plan's steps, for
    errors.
    """

    __slots__ = (
        "actions",
        "actions_key",
        "exec_args",
        "exec_index",
        "flags",
        "pgroup",
        "restore_mask",
        "sigdefault",
        "steps",
    )

    def __init__(
        self,
        steps: list[Step],
        flags: int = 0,
        pgroup: int = 0,
        sigdefault: tuple[int, ...] = (),
        restore_mask: bool = False,
        actions: list[tuple[str, tuple[int, ...], int]] | None = None,  # None: a new list
        exec_args: tuple[int, int, int] = (0, 0, 0),  # path, argv, envp addresses
        exec_index: int = -1,
        actions_key: tuple[Any, ...] = (),  # what the actions do, for the cache
    ) -> None:
        self.steps = steps
        self.flags = flags
        self.pgroup = pgroup
        self.sigdefault = sigdefault
        self.restore_mask = restore_mask
        self.actions = [] if actions is None else actions
        self.exec_args = exec_args
        self.exec_index = exec_index
        self.actions_key = actions_key

    def __str__(self) -> str:
        return "\n".join(spawn_lines(self))


# Step and Plan fields this module reads; every other field must be at its
# default, or the step (plan) means something this module does not know.
_STEP_READ = ("name", "func", "args", "text", "checked", "path")
_PLAN_READ = (
    *("platform", "fork", "exit", "steps", "first_free_fd", "pipe_floor", "saved_mask", "keep"),
    *("record", "prepared", "signal_steps", "signal_rule"),  # runners' state, and
    # what the signal steps are (the translation reads the steps themselves)
    "environ",  # the envp array execve's step points to, refilled in place
)

_STEP_FIELDS = OtherFields(Step("", "", (), ""), _STEP_READ)
_PLAN_FIELDS = OtherFields(Plan("", Step("", "", (), ""), "", [], 0, None), _PLAN_READ)
_INT_TYPES = [(int,) * n for n in range(8)]


def _plain_fork(fork: Step) -> bool:
    if type(fork) is not Step or _STEP_FIELDS.unknown(fork):
        return False
    if fork.func in _FORK_FUNCS:
        return fork.args == ()
    # linux.py without _Fork: the raw clone system call with SIGCHLD only.
    clone = None if zsysnum is None else zsysnum.SYS_CLONE
    return fork.func == "syscall" and fork.args == (clone, zerrors.SIGCHLD, 0, 0, 0, 0)


# exec_unix's plans reset the caught signals, and SIGPIPE and SIGXFSZ if they
# are ignored (runtime.signals_to_reset), to SIG_DFL. posix_spawn's child
# resets every caught signal itself (glibc's child, before anything else;
# darwin has no child code before the exec, and exec resets caught
# handlers), so for such a plan sigdefault needs only IGNORED_BY_PYTHON,
# whatever their state: a translation that holds whatever the handlers
# become, which lets a remembered plan reuse it (remember). translate keeps to
# the plan's own list, exact for any plan.
_SIGDEFAULT = tuple(sorted(runtime.IGNORED_BY_PYTHON))


def _no(index: int, step: Step, why: str) -> str:
    return f"step {index} ({step.text}): {why}"


if TYPE_CHECKING:
    Translation = Union[Spawn, str]


def translate(plan: Plan, lib: Library = LIBRARY) -> Translation:
    """The plan as posix_spawn's arguments, or why it cannot be (a reason).

    ``lib`` is what the C library offers (detect); tests pass darwin's.
    Runs on every start (about 6 µs for a plain plan): the checks are C-level
    where they can be.
    """
    if lib.missing is not None:
        return lib.missing
    if type(plan) is not Plan:
        return f"a {type(plan).__name__}, not a Plan"
    unknown = _PLAN_FIELDS.unknown(plan)
    if unknown is not None:
        return f"the plan's {unknown} has no posix_spawn equivalent"
    if not _plain_fork(plan.fork):
        return f"the fork is {plan.fork.text}: posix_spawn forks only plainly"
    f = zerrors  # the platform's constants
    spawn = Spawn(plan.steps)
    actions = spawn.actions
    flags = 0
    sigdefault: list[int] = []
    later_close: dict[int, int] = {}  # fd -> step: close-on-exec copies to close
    dup_targets: set[int] = set()
    swept = False  # after close_range no fd may be touched again
    closed_from: int | None = None  # closefrom's first fd: copies from here are gone
    files_started = False  # attributes must come before every file action
    mask_seen = False
    saved_mask = ctypes.addressof(plan.saved_mask) if plan.saved_mask is not None else None
    mask_args = (f.SIG_SETMASK, saved_mask, 0)
    get_fields, default_fields = _STEP_FIELDS.get, _STEP_FIELDS.defaults
    int_types = _INT_TYPES
    adddup2, addclose = "posix_spawn_file_actions_adddup2", "posix_spawn_file_actions_addclose"

    for index, step in enumerate(plan.steps):
        # Every step: a Step, its other fields at their defaults, integer
        # arguments, and nothing after execve.
        if type(step) is not Step or get_fields(step) != default_fields:
            unknown = _STEP_FIELDS.unknown(step) if type(step) is Step else None
            why = f"its {unknown}" if unknown else f"a {type(step).__name__}, not a Step"
            return _no(index, step, f"{why}: no posix_spawn equivalent")
        func, args, checked, path = step.func, step.args, step.checked, step.path
        if func == "syscall" and args[:1] == (_SYS_CLOSE_RANGE,) and step.name == "close_range":
            # close_range by number, where glibc has no wrapper (linux.py).
            func, args = "close_range", args[1:]
        n = len(args)
        # Plain ints, checked in C; else int subclasses (signal.SIGINT) will do.
        if (n >= 8 or tuple(map(type, args)) != int_types[n]) and not all(
            isinstance(a, int) for a in args
        ):
            return _no(index, step, "an argument that is not an integer (a Cell)")
        if spawn.exec_index >= 0:
            return _no(index, step, "comes after execve")
        if swept and func != "execve" and func != "sigprocmask":
            return _no(index, step, "comes after close_range, which closefrom cannot follow")
        if path is not None and func != "chdir" and func != "execve":
            return _no(index, step, "a path posix_spawn would not report")

        if func == "sigaction" and n == 3 and args[1] and args[2] == 0 and not checked:
            handler = ctypes.c_void_p.from_address(args[1]).value
            if (handler or zerrors.SIG_DFL) != zerrors.SIG_DFL:
                return _no(index, step, "only a reset to SIG_DFL is posix_spawn's sigdefault")
            if mask_seen:
                return _no(index, step, "posix_spawn resets handlers before the mask")
            sigdefault.append(args[0])
        elif func == "fcntl" and n == 3 and args[1] == f.F_SETFD and checked:
            fd, value = args[0], args[2]
            if value == f.FD_CLOEXEC and fd in dup_targets:
                # darwin's pass 1: dup2, then mark the copy close-on-exec.
                later_close[fd] = index
            elif value == 0:
                inherit = lib.inherit
                if inherit is None:
                    return _no(index, step, f"{lib.name} cannot clear FD_CLOEXEC in a file action")
                files_started = True
                actions.append((inherit, (fd, fd) if inherit == adddup2 else (fd,), index))
                later_close.pop(fd, None)
            else:
                return _no(index, step, "only fcntl(fd, F_SETFD, 0) is known")
        elif ((func == "dup3" and n == 3) or (func == "dup2" and n == 2)) and checked:
            old, new = args[0], args[1]
            cloexec = args[2] if n == 3 else 0
            if old == new or cloexec not in (0, f.O_CLOEXEC):
                return _no(index, step, "only Go's fd-pass dups are known")
            files_started = True
            actions.append((adddup2, (old, new), index))
            dup_targets.add(new)
            if cloexec:
                later_close[new] = index
            else:
                later_close.pop(new, None)
        elif func == "close" and n == 1 and not checked:
            files_started = True
            actions.append((addclose, args, index))
            later_close.pop(args[0], None)
        elif (func == "close_range" or func == "cloexec_range") and n == 3 and checked:
            # cloexec_range (linux.mark_cloexec, where close_range lacks
            # CLOSE_RANGE_CLOEXEC): glibc's closefrom action falls back to
            # walking /proc/self/fd itself when close_range fails.
            if args[1] != 0xFFFFFFFF or (func == "close_range" and args[2] != _CLOSE_RANGE_CLOEXEC):
                return _no(index, step, "only close_range(n, ~0U, CLOSE_RANGE_CLOEXEC) is known")
            files_started = swept = True
            if lib.closefrom:
                closed_from = args[0]
                actions.append(("posix_spawn_file_actions_addclosefrom_np", args[:1], index))
            elif lib.cloexec_default:
                # Every fd the file actions do not name is closed at exec;
                # Go's passes name every fd below files' length. The pass-1
                # copies are named (dup2 targets): closed below.
                flags |= lib.cloexec_default
            else:
                return _no(
                    index, step, f"{lib.name} has no posix_spawn_file_actions_addclosefrom_np"
                )
        elif func == "sigprocmask" and args == mask_args and checked and not mask_seen:
            mask_seen = spawn.restore_mask = True
        elif func == "execve" and n == 3 and checked and path is not None:
            spawn.exec_index = index
            spawn.exec_args = (args[0], args[1], args[2])
        elif func == "chdir" and n == 1 and checked and path is not None:
            if not lib.chdir:
                return _no(index, step, f"{lib.name} has no posix_spawn_file_actions_addchdir_np")
            files_started = True
            actions.append(("posix_spawn_file_actions_addchdir_np", args, index))
        elif func == "setsid" and n == 0 and checked:
            if not lib.setsid:
                return _no(index, step, f"{lib.name} has no POSIX_SPAWN_SETSID")
            if files_started or flags & f.POSIX_SPAWN_SETPGROUP:
                return _no(index, step, "posix_spawn calls setsid before setpgid and files")
            flags |= f.POSIX_SPAWN_SETSID
        elif func == "setpgid" and n == 2 and args[0] == 0 and args[1] >= 0 and checked:
            if files_started or flags & f.POSIX_SPAWN_SETPGROUP:
                return _no(index, step, "posix_spawn calls setpgid once, before the files")
            flags |= f.POSIX_SPAWN_SETPGROUP
            spawn.pgroup = args[1]
        else:
            return _no(index, step, "posix_spawn has no equivalent")

    if spawn.exec_index < 0:
        return "the plan has no execve"
    # Go's pass-1 copies are close-on-exec: close those closefrom did not.
    for fd, index in sorted(later_close.items()):
        if closed_from is None or fd < closed_from:
            actions.append((addclose, (fd,), index))
    sigdefault += [s for s in lib.internal_signals if s not in sigdefault]
    if sigdefault:
        flags |= f.POSIX_SPAWN_SETSIGDEF
        spawn.sigdefault = tuple(sigdefault)
    # The plan restores the parent's mask; without that step the child
    # would keep every signal blocked, as the fork runner leaves it.
    spawn.flags = flags | f.POSIX_SPAWN_SETSIGMASK
    # chdir's argument is an address that changes with every plan: its
    # cache key is the path.
    spawn.actions_key = tuple(
        (func, ctypes.string_at(args[0]) if func[-11:] == "addchdir_np" else args)
        for func, args, _ in actions
    )
    return spawn


def unavailable(plan: Plan | None = None) -> str | None:
    """Why this runner cannot run ``plan`` here (or any plan), or None if it can.

    The translation is kept in ``plan.prepared`` for fork_and_exec_in_child
    and for later starts of a remembered plan.
    """
    if sys.implementation.name != "cpython":
        # The C child runs no Python, but the plan's buffers, read by a
        # GIL-released posix_spawn, have only been checked on CPython.
        return f"the spawn runner is only tested on CPython, not {sys.implementation.name}"
    refused = _clone_refused()
    if refused is not None:
        return refused
    if plan is None:
        return LIBRARY.missing
    result = _translation(plan)
    if isinstance(result, str):
        return result
    # A list, not a generator that any() could leave suspended (see
    # runner_vfork.table).
    if any([func[-15:] == "addclosefrom_np" for func, _, _ in result.actions]):
        return _closefrom_refused()
    return None


def _closefrom_refused() -> str | None:
    """Why glibc's closefrom action would fail here, or None.

    It calls close_range and, where that fails, lists /proc/self/fd; with
    neither (an old kernel, /proc not mounted) posix_spawn fails every start
    with an errno the parent would blame on execve. The vfork routine and
    the fork runner mark every fd below the fd limit there instead.
    """
    if GOOS != "linux":
        return None
    from . import linux

    code = linux.kernel_lacks("close_range")
    if code and not os.path.isdir("/proc/self/fd"):
        refused = linux.refused("close_range", code)
        return f"{refused} and /proc is not mounted: glibc's closefrom fails"
    return None


_clone_state: list[str | None] = []  # why the C library's clone is refused, once known


def _clone_refused() -> str | None:
    """Why posix_spawn cannot start any child here, checked once, on first use.

    glibc 2.34+ starts posix_spawn's child with clone3 and falls back to
    clone only on ENOSYS: where a seccomp profile answers clone3 with EPERM
    (Docker's before 20.10), every start fails, with an errno that says
    nothing of clone. One clone3 probe (linux.kernel_lacks) finds it.
    """
    if not _clone_state:
        reason = None
        version = _glibc_version()
        if GOOS == "linux" and version is not None and version >= (2, 34):
            from . import linux

            code = linux.kernel_lacks("clone3")
            if code not in (0, errno.ENOSYS):
                reason = (
                    f"{LIBRARY.name}'s posix_spawn starts its child with clone3 and falls "
                    f"back to clone only on ENOSYS, and {linux.refused('clone3', code)}: "
                    "every start would fail"
                )
        _clone_state.append(reason)
    return _clone_state[0]


def _translation(plan: Plan) -> Translation:
    result: Translation | None = plan.prepared.get(NAME)
    if result is None:
        result = plan.prepared[NAME] = translate(plan)
    return result


def signals_in_plan(plan: Plan) -> bool:
    """False: the C library's child resets every caught handler (see remember)."""
    return False


def status_pipe(plan: Plan) -> bool:
    """False: posix_spawn returns the child's error itself (exec_unix._start)."""
    return False


def remember(plan: Plan) -> None:
    """Make the plan's translation hold for later starts (remembered.py).

    exec_unix's plan resets the signals caught when it was made; posix_spawn's
    child resets every caught signal itself, so the translation needs only
    IGNORED_BY_PYTHON in sigdefault (see _SIGDEFAULT) to hold whatever the
    handlers become.
    """
    spawn = _translation(plan)
    if isinstance(spawn, Spawn):
        spawn.sigdefault = _SIGDEFAULT + tuple(
            s for s in LIBRARY.internal_signals if s not in _SIGDEFAULT
        )
        spawn.flags |= zerrors.POSIX_SPAWN_SETSIGDEF


# Initialised attribute and file-action objects, by what they hold. posix_spawn
# only reads them, so threads share them; a cached one is never destroyed
# (it may be in use). Past _CACHE_SIZE entries, objects are made per start.
_CACHE_SIZE = 64
_attributes_cache: dict[tuple[Any, ...], Any] = {}
_actions_cache: dict[tuple[Any, ...], Any] = {}

_p = libc.parent
_attr_init, _attr_destroy = _p("posix_spawnattr_init"), _p("posix_spawnattr_destroy")
_actions_init = _p("posix_spawn_file_actions_init")
_actions_destroy = _p("posix_spawn_file_actions_destroy")
_pthread_sigmask, _sigfillset = _p("pthread_sigmask"), _p("sigfillset")
_posix_spawn = _p("posix_spawn") if libc.has("posix_spawn") else None


def _sigset(signals: tuple[int, ...]) -> Any:
    """A sigset_t of ``signals``, the bits set directly (glibc's sigaddset
    refuses its internal signals): glibc's is an array of unsigned longs, bit
    n-1 for signal n; darwin's one 32-bit word."""
    word = ctypes.c_uint32 if zerrors.SIGSET_SIZE == 4 else ctypes.c_ulong
    bits = 8 * ctypes.sizeof(word)
    sigset = (word * (zerrors.SIGSET_SIZE // ctypes.sizeof(word)))()
    for signum in signals:
        sigset[(signum - 1) // bits] |= 1 << ((signum - 1) % bits)
    return sigset


def _check(code: int, spawn: Spawn, index: int, what: str) -> None:
    if code:
        step = spawn.steps[index]
        error = libc.errno_error(code, f"{what} for child step {index}, {step.name}", step.path)
        error.step = step.name  # type: ignore[attr-defined]
        raise error


def _cached(cache: dict[tuple[Any, ...], Any], key: tuple[Any, ...], made: Any) -> bool:
    """Keep ``made`` under ``key`` if there is room; False: the caller destroys it."""
    return len(cache) < _CACHE_SIZE and cache.setdefault(key, made) is made


def _attributes(spawn: Spawn, mask: Any) -> tuple[Any, bool]:
    """The posix_spawnattr_t for ``spawn`` and the child's ``mask``; True: destroy it after."""
    key = (spawn.flags, spawn.pgroup, spawn.sigdefault, mask.raw)
    attr = _attributes_cache.get(key)
    if attr is not None:
        return attr, False
    attr = ctypes.create_string_buffer(zerrors.POSIX_SPAWNATTR_SIZE)
    code = _attr_init(attr)
    if code:
        raise libc.errno_error(code, "posix_spawnattr_init")
    try:
        at = spawn.exec_index
        _check(_p("posix_spawnattr_setflags")(attr, spawn.flags), spawn, at, "setflags")
        if spawn.flags & zerrors.POSIX_SPAWN_SETPGROUP:
            _check(_p("posix_spawnattr_setpgroup")(attr, spawn.pgroup), spawn, at, "setpgroup")
        if spawn.sigdefault:
            sigset = _sigset(spawn.sigdefault)
            _check(_p("posix_spawnattr_setsigdefault")(attr, sigset), spawn, at, "sigdefault")
        _check(_p("posix_spawnattr_setsigmask")(attr, mask), spawn, at, "setsigmask")
    except BaseException:
        _attr_destroy(attr)
        raise
    return attr, not _cached(_attributes_cache, key, attr)


def _file_actions(spawn: Spawn) -> tuple[Any, bool]:
    """The posix_spawn_file_actions_t for ``spawn``; True: destroy it after."""
    key = spawn.actions_key
    actions = _actions_cache.get(key)
    if actions is not None:
        return actions, False
    actions = ctypes.create_string_buffer(zerrors.POSIX_SPAWN_FILE_ACTIONS_SIZE)
    code = _actions_init(actions)
    if code:
        raise libc.errno_error(code, "posix_spawn_file_actions_init")
    try:
        for func, args, index in spawn.actions:
            _check(_p(func)(actions, *args), spawn, index, func)
    except BaseException:
        _actions_destroy(actions)
        raise
    return actions, not _cached(_actions_cache, key, actions)


def fork_and_exec_in_child(plan: Plan, record: Start) -> None:
    """Start the plan's program with posix_spawn; the child's pid into ``record.pid``.

    posix_spawn writes the pid there itself (plan.Start). ``record.fds``
    holds no pipe (status_pipe is False). Raises the OSError of a failed
    start, the child already reaped by the C library (see judge). Must be
    called with the fork lock held.
    """
    result = _translation(plan)
    if isinstance(result, str):
        raise RuntimeError(f"the spawn runner cannot run this plan: {result}")
    _run(result, record.pid)


def _run(spawn: Spawn, pid: Any) -> None:
    """posix_spawn with ``spawn``'s attributes and file actions, the pid into ``pid``."""
    assert _posix_spawn is not None  # else translate gave LIBRARY.missing
    mask = ctypes.create_string_buffer(zerrors.SIGSET_SIZE)
    if spawn.restore_mask:
        # The calling thread's mask, which the fork runner's child restores.
        code = _pthread_sigmask(zerrors.SIG_BLOCK, None, mask)
        _check(code, spawn, spawn.exec_index, "pthread_sigmask")
    else:
        _sigfillset(mask)
    attr, destroy_attr = _attributes(spawn, mask)
    try:
        actions, destroy_actions = _file_actions(spawn)
        try:
            path, argv, envp = spawn.exec_args
            # The GIL is released (libc.parent): this thread waits for the
            # child's exec, other threads run on.
            code = _posix_spawn(ctypes.addressof(pid), path, actions, attr, argv, envp)
        finally:
            if destroy_actions:
                _actions_destroy(actions)
    finally:
        if destroy_attr:
            _attr_destroy(attr)
    if code:
        raise judge(spawn, code)


def judge(spawn: Spawn, code: int) -> OSError:
    """The OSError for posix_spawn's error ``code``, naming the step it most likely was.

    posix_spawn does not say which step failed. In the child's order:
    setpgid for EPERM/ESRCH/EINVAL (with a group to join, or after setsid);
    the first dup for EBADF; chdir when the parent gets the same error for
    the directory; else execve. EAGAIN and ENOMEM are the clone's.
    """
    if code in _FORK_ERRORS:
        return libc.errno_error(code, "fork through posix_spawn")
    steps = spawn.steps
    index = spawn.exec_index
    for func, _, action_index in [("setpgid", (), -1), *spawn.actions]:
        if func == "setpgid":
            if (
                code in _SETPGID_ERRORS
                and spawn.flags & zerrors.POSIX_SPAWN_SETPGROUP
                and (spawn.pgroup != 0 or spawn.flags & zerrors.POSIX_SPAWN_SETSID)
            ):
                index = next(i for i, s in enumerate(steps) if s.func == "setpgid")
                break
        elif func.endswith("adddup2") or func.endswith("addinherit_np"):
            if code == errno.EBADF:
                index = action_index
                break
        elif func.endswith("addchdir_np"):
            path = steps[action_index].path
            if code in _CHDIR_ERRORS and path is not None and _chdir_error(path) == code:
                index = action_index
                break
    step = steps[index]
    error = libc.errno_error(
        code,
        f"child step {index}, {step.name}, as judged by the parent: "
        "posix_spawn reports only the errno",
        step.path,
    )
    error.step = step.name  # type: ignore[attr-defined]
    return error


def _chdir_error(path: str) -> int:
    """The errno chdir(path) would most likely fail with here, or 0."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return error.errno or 0
    if not stat.S_ISDIR(mode):
        return errno.ENOTDIR
    if not os.access(path, os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        return errno.EACCES
    return 0


# --- the program, as printed (python -m pysyscall plan) ------------------------------


def describe(plan: Plan) -> list[str]:
    """What this runner runs for ``plan``: its translation (the one a start uses).

    The plan must be one this runner can run (``unavailable(plan)`` is None).
    """
    spawn = _translation(plan)
    assert isinstance(spawn, Spawn), spawn
    return [
        *spawn_lines(spawn),
        "every caught handler goes to SIG_DFL in the C library's child (or at its exec)",
        "on failure: posix_spawn returns the errno (the C library reaps the child); "
        "the step is the parent's judgement (judge)",
    ]


def spawn_lines(spawn: Spawn) -> list[str]:
    """posix_spawn's attributes, file actions in order, and the call, one line each."""
    flags = [
        name
        for name in ("SETSID", "SETPGROUP", "SETSIGDEF", "SETSIGMASK", "CLOEXEC_DEFAULT")
        if spawn.flags & getattr(zerrors, "POSIX_SPAWN_" + name)
    ]
    lines = [f"posix_spawn, flags {'|'.join(flags) or '0'}"]
    if spawn.flags & zerrors.POSIX_SPAWN_SETPGROUP:
        lines.append(f"  pgroup {spawn.pgroup}")
    if spawn.sigdefault:
        lines.append(f"  sigdefault {', '.join(map(signal_name, spawn.sigdefault))}")
    if spawn.restore_mask:
        lines.append("  sigmask: the calling thread's, read just before the call")
    else:
        lines.append("  sigmask: every signal blocked")
    lines.append(f"  file actions, in order ({len(spawn.actions)}):")
    for func, args, index in spawn.actions:
        short = func.replace("posix_spawn_file_actions_", "")
        shown = ", ".join(str(a) for a in args)
        if func.endswith("addchdir_np"):
            shown = repr(spawn.steps[index].path)
        lines.append(f"    {short}({shown})  # step {index}, {spawn.steps[index].text}")
    execve = spawn.steps[spawn.exec_index]
    lines.append(
        f"  posix_spawn(&pid, {execve.path!r}, &file_actions, &attr, argv, envp)"
        f"  # step {spawn.exec_index}, {execve.text}"
    )
    return lines
