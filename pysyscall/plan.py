# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The child's program: what runs between fork and execve, planned as data.

Go's child (forkAndExecInChild1 in exec_linux.go, forkAndExecInChild in
exec_libc2.go) is straight-line code that makes only raw system calls. A
Python child cannot be trusted to run Python code there (the design note
../shared/design/child-program.md measured 35-49 % hung children), so the
parent plans the child's program as a list of steps, each one C call with
its arguments already integers and C buffers, and a runner executes the list
with no Python bytecode (runner_fork.py).

A Plan prints as one line per step: it is the executable reference of what
Go's child does, in Go's order. The parts every platform shares (Go's two fd
passes, the signal reset) are built here once; linux.py and darwin.py build
the rest.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import itertools
import operator
import os
import signal
from collections.abc import Iterable, Sequence

from . import libc
from ._platform import zerrors
from .env_unix import Environ
from .libc import invoke as _call
from .libc import run_chain as _run

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any, Callable, ClassVar, Union

    StrPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
    # A child's environment: "KEY=value" strings, or (env=None) the C library's.
    Envv = Union[Sequence[bytes], Environ]

CHILD_EXIT_STATUS = 253  # Go's exit status for a child whose setup failed
PID_MAX = 0x7FFFFFFF  # pid_t and int are 32-bit signed on Linux and darwin


def environment_text(envv: Envv) -> str:
    """How a plan prints the child's environment."""
    return "environ" if isinstance(envv, Environ) else f"<{len(envv)} variables>"


def byte_ptr_from_string(value: StrPath, what: str) -> bytes:
    """Port of BytePtrFromString (syscall.go): the bytes of a str or path, refusing
    NUL (Go: EINVAL)."""
    try:
        data = os.fsencode(value)
    except TypeError:
        raise TypeError(
            f"{what} must be str, bytes or os.PathLike, not {type(value).__name__}"
        ) from None
    if b"\0" in data:
        raise ValueError(f"{what} contains a NUL byte: {value!r}")
    return data


class Record:
    """A class of named fields, as a dataclass would be, without the dataclasses
    module: it loads inspect, 5 ms of a first start's imports.

    A subclass's constructor takes every field, by name, and stores each in
    the attribute of that name (a slot); ``FIELDS`` names them in the
    constructor's order, repr shows them (but ``HIDDEN``) and == compares them.
    """

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()
    HIDDEN: ClassVar[tuple[str, ...]] = ()  # left out of repr: C buffers, runners' state
    _values: ClassVar[operator.attrgetter[Any]]  # the fields' values, as a tuple

    def __init_subclass__(cls) -> None:
        init: Any = cls.__init__
        cls.FIELDS = init.__code__.co_varnames[1 : init.__code__.co_argcount]
        cls._values = operator.attrgetter(*cls.FIELDS)

    def __repr__(self) -> str:
        shown = (
            f"{name}={getattr(self, name)!r}" for name in self.FIELDS if name not in self.HIDDEN
        )
        return f"{type(self).__qualname__}({', '.join(shown)})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(self._values(self) == self._values(other))


class Credential(Record):
    """Port of Go's Credential (exec_unix.go): the ids the child runs with.

    The child calls setgroups(groups), then setgid(gid), then setuid(uid), as
    Go orders them; a failure at any of them fails the start, so the program
    never runs with partial privileges. An empty ``groups`` still clears the
    supplementary groups, unless ``no_setgroups`` (which lets a process that
    may not call setgroups keep its own).
    """

    __slots__ = ("gid", "groups", "no_setgroups", "uid")

    def __init__(
        self, uid: int, gid: int, groups: Sequence[int] = (), no_setgroups: bool = False
    ) -> None:
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.no_setgroups = no_setgroups

    def check(self) -> None:
        """Refuse ids the kernel cannot take, before any fork."""
        for what, value in [("uid", self.uid), ("gid", self.gid)] + [
            (f"groups[{i}]", g) for i, g in enumerate(self.groups)
        ]:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"credential {what} must be an int, not {type(value).__name__}")
            if not 0 <= value < 0xFFFFFFFF:
                raise ValueError(f"credential {what} is {value}: ids are 0 to 4294967294")


class SysProcAttrBase(Record):
    """The SysProcAttr fields every platform has (Go's exec_libc2.go set).

    linux.SysProcAttr and darwin.SysProcAttr add their own; their docstrings
    say what each field does.
    """

    __slots__ = (
        "chroot",
        "credential",
        "ctty",
        "foreground",
        "noctty",
        "pgid",
        "ptrace",
        "setctty",
        "setpgid",
        "setsid",
    )

    def __init__(
        self,
        chroot: StrPath | None = None,
        credential: Credential | None = None,
        ptrace: bool = False,
        setsid: bool = False,
        setpgid: bool = False,
        setctty: bool = False,
        noctty: bool = False,
        ctty: int = 0,
        foreground: bool = False,
        pgid: int = 0,
    ) -> None:
        self.chroot = chroot
        self.credential = credential
        self.ptrace = ptrace
        self.setsid = setsid
        self.setpgid = setpgid
        self.setctty = setctty
        self.noctty = noctty
        self.ctty = ctty
        self.foreground = foreground
        self.pgid = pgid


def check_common(sys: SysProcAttrBase, files: Sequence[int]) -> None:
    """Go's checks before the fork (forkExec, exec_unix.go) on the shared fields.

    Bad values raise ValueError or TypeError, a closed fd OSError(EBADF):
    nothing has been forked or opened yet.
    """
    if isinstance(sys.pgid, bool) or not isinstance(sys.pgid, int):
        raise TypeError(f"pgid must be an int, not {type(sys.pgid).__name__}")
    if sys.setctty and sys.foreground:
        raise ValueError("both setctty and foreground set: the terminal is one or the other")
    if sys.setctty and not 0 <= sys.ctty < len(files):
        # go.dev/issue/29458: for setctty, ctty is a child fd.
        raise ValueError(f"setctty set but ctty {sys.ctty} is not a child fd (0..{len(files) - 1})")
    if sys.foreground:
        check_open(sys.ctty, "foreground's ctty")
    if not 0 <= sys.pgid <= PID_MAX:
        raise ValueError(f"pgid is {sys.pgid}: a process group id is 0 to {PID_MAX}")
    if sys.credential is not None:
        sys.credential.check()


def check_open(fd: int, what: str) -> None:
    """Raise OSError(EBADF) naming ``what`` unless ``fd`` is open in the parent."""
    if isinstance(fd, bool) or not isinstance(fd, int):
        raise TypeError(f"{what} must be an fd (int), not {type(fd).__name__}")
    if not 0 <= fd <= PID_MAX:
        raise libc.errno_error(errno.EBADF, f"{what} is fd {fd}")
    if libc.parent("fcntl")(fd, zerrors.F_GETFD) == -1:
        raise libc.errno_error(ctypes.get_errno(), f"{what} is fd {fd}")


class Cell(ctypes.c_int):
    """A value the child computes and a later step reads (Go's child locals).

    A step that stores its result in a Cell (a pid, an fd) writes it there
    in the child; a step that has the Cell among its arguments reads it when
    it is called, because ctypes reads a c_int argument's value at call time.
    """


class Step(Record):
    """One C call of the child's program.

    ``name`` names the step in errors ("chdir", "setuid"), ``func`` is the
    libc symbol, ``args`` are integers (C buffers travel as addresses) or
    Cells, ``text`` is how the call prints. The call fails when it returns
    -1, or with ``expect`` set, when it returns anything else; failure ends
    the program (the failure tail reports the step) unless ``checked`` is
    False (Go ignores failures to close) or ``otherwise`` is set: then a
    result other than ``expect`` runs ``otherwise`` instead. ``store``
    keeps the result for later steps. ``path`` is the file name an error at
    this step is about.
    """

    __slots__ = ("args", "checked", "expect", "func", "name", "otherwise", "path", "store", "text")

    def __init__(
        self,
        name: str,
        func: str,
        args: tuple[Any, ...],
        text: str,
        checked: bool = True,
        path: str | None = None,
        expect: int | None = None,
        store: Cell | None = None,
        otherwise: Step | None = None,
    ) -> None:
        self.name = name
        self.func = func
        self.args = args
        self.text = text
        self.checked = checked
        self.path = path
        self.expect = expect
        self.store = store
        self.otherwise = otherwise


class ChildError(ctypes.Structure):
    """What a failed child writes to the status pipe: fixed size, no allocation.

    ``magic`` tells a record from stray bytes; ``step`` is the index of the
    failing step in the plan, ``errno`` its error. A child that shares its
    parent's memory (the vfork runner) writes it into Plan.record instead.
    """

    _fields_ = [("magic", ctypes.c_uint32), ("step", ctypes.c_int32), ("errno", ctypes.c_int32)]


CHILD_ERROR_MAGIC = 0x50595343  # "PYSC"


def _no_failure() -> ChildError:
    return ChildError(magic=CHILD_ERROR_MAGIC, step=-1, errno=0)


_EINTR_OR_FAILED = functools.partial(operator.eq, -1)
REAP_TRIES = 100  # wait4 calls a reap makes while it fails (ECHILD: none to wait for)
# A reap waits with every signal blocked: a storm of them (a held Ctrl-C)
# would fail every wait4 with EINTR and leave the child unreaped. The
# blocked signals stay pending and arrive once the mask is restored.
# Every signal, the set a fork or a reap blocks (runtime.ForkCalls, Start).
ALL_SIGNALS = ctypes.create_string_buffer(zerrors.SIGSET_SIZE)
libc.call("sigfillset", ctypes.addressof(ALL_SIGNALS))


def mask_calls(sigmask: Any, saved: Any) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Two calls for a C chain: block every signal, saving the thread's mask
    into ``saved`` (a sigset_t buffer); restore that mask. ``sigmask`` is the
    C library's pthread_sigmask through the handle the caller needs."""
    block = functools.partial(
        sigmask, zerrors.SIG_BLOCK, ctypes.addressof(ALL_SIGNALS), ctypes.addressof(saved)
    )
    restore = functools.partial(sigmask, zerrors.SIG_SETMASK, ctypes.addressof(saved), None)
    return block, restore


class Start:
    """What one start has made, where an exception path finds it (exec_unix._guarded).

    A Ctrl-C may land anywhere in a start (a signal handler runs right after
    a call into C returns, or when a Python function starts), so whatever
    the start makes is recorded where that path can see it the moment it is
    made, and cleared the moment it is handed over or given back, by code
    that makes no call in between:

    * ``pid``: the child, from the fork on (written by C, in the chain of
      calls that forks, or by posix_spawn itself); 0 once reaped;
    * ``fds``: the fds the start opened (the status pipe, a moved copy of
      its write end; at 3 and 4 compat's errno pipe or the plan's
      parent_pipe), -1 where none; closed as
      ``fd = fds[i]; fds[i] = -1; close(fd)``;
    * ``pidfd``: the plan's pidfd Cell, when it asks for one;
    * ``hold``: the fork lock's Hold (rwmutex.py).

    ``reap`` (kill the child and wait for it), ``wait`` (wait for a child
    that exits by itself: one that failed before execve) and ``close``
    (every fd in ``fds``) are each one C call, made at most once: an
    exception cannot cut them half-way, and a second call does nothing.
    ``reap`` and ``wait`` set ``pid`` to 0 in the same call, so no exception
    path kills a pid already reaped, and wait with every signal blocked.
    """

    __slots__ = ("busy", "close", "fds", "hold", "mask", "pid", "pidfd", "reap", "wait")
    FDS = 6

    def __init__(self) -> None:
        self.busy = False  # in use by a start (exec_unix._guarded: one spare per thread)
        self.pid = Cell(0)
        self.fds = (ctypes.c_int * self.FDS)(*(-1,) * self.FDS)
        self.pidfd: Cell | None = None
        self.hold: Any = None
        kill = functools.partial(libc.parent("kill"), self.pid, signal.SIGKILL)
        wait = functools.partial(libc.parent("wait4"), self.pid, None, 0, None)
        self.mask = ctypes.create_string_buffer(zerrors.SIGSET_SIZE)
        block, restore = mask_calls(libc.parent("pthread_sigmask"), self.mask)

        def waits() -> Iterable[Any]:
            # Signals blocked, wait4 until it succeeds (REAP_TRIES at most),
            # pid = 0, the mask restored.
            tries = itertools.takewhile(_EINTR_OR_FAILED, map(_call, itertools.repeat(wait)))
            cleared = map(setattr, (self.pid,), ("value",), (0,))
            return itertools.chain(
                map(_call, (block,)),
                itertools.islice(tries, REAP_TRIES),
                cleared,
                map(_call, (restore,)),
            )

        self.reap = functools.partial(_run, itertools.chain(map(_call, (kill,)), waits()))
        self.wait = functools.partial(_run, waits())
        self.close = functools.partial(_run, map(libc.parent("close"), self.fds))


class Plan(Record):
    """The child's whole program, planned in the parent.

    ``after_fork``, when set, is parent-side work to do right after the fork
    and before the fork lock is released (Linux's uid/gid map handshake); it
    returns the error that should fail the start, if any. ``parent_pipe``
    is the pipe it works with: each start makes it (exec_unix._start, into
    Start.fds, where an exception path closes it) and puts its read and
    write ends into these Cells, which the child reads at call time. ``pidfd``
    receives the child's pidfd when one was asked for. ``record`` is where a
    child that shares the parent's memory reports its failure (step -1:
    none). ``prepared`` holds what each runner made of the plan (keyed by
    runner name), kept for the next start of the same plan (remembered.py).
    ``signal_steps`` (first, count) are the steps that reset handlers to
    SIG_DFL (Builder.reset_signals). ``signal_rule``, when set, says how
    that list was chosen: every signal caught when the plan was made, and
    the ignored ones in ``signal_rule`` (runtime.signals_to_reset); a runner
    that can judge each signal in the child may apply the rule there
    instead of the list, which then holds whatever the handlers become.
    ``environ``, for env=None, is the plan's copy of the C library's
    environment, which a start of a kept plan takes again (Environ.take).
    """

    __slots__ = (
        "after_fork",
        "environ",
        "exit",
        "first_free_fd",
        "fork",
        "keep",
        "parent_pipe",
        "pidfd",
        "pipe_floor",
        "platform",
        "prepared",
        "record",
        "saved_mask",
        "signal_rule",
        "signal_steps",
        "steps",
    )
    HIDDEN = ("keep", "record", "prepared")

    def __init__(
        self,
        platform: str,
        fork: Step,  # the call that forks, without running any atfork handler
        exit: str,  # the libc symbol the child exits through on failure
        steps: list[Step],
        first_free_fd: int,  # the status pipe must sit at or above this fd
        saved_mask: Any,  # filled by runtime.ForkCalls' block; restored by a step
        keep: list[Any] | None = None,  # C buffers (None: a new list)
        after_fork: Callable[[int], OSError | None] | None = None,
        parent_pipe: tuple[Cell, Cell] | None = None,
        pidfd: Cell | None = None,
        record: ChildError | None = None,  # None: a new one, at step -1
        prepared: dict[str, Any] | None = None,  # None: a new dict
        signal_steps: tuple[int, int] | None = None,  # (first, count): the handler resets
        signal_rule: tuple[int, ...] | None = None,
        environ: Environ | None = None,
        # Where the status pipe may sit when no fd at or above first_free_fd is
        # free (RLIMIT_NOFILE): above the fds the passes write, if they write
        # none above the files (0: nowhere else).
        pipe_floor: int = 0,
    ) -> None:
        self.platform = platform
        self.fork = fork
        self.exit = exit
        self.steps = steps
        self.first_free_fd = first_free_fd
        self.saved_mask = saved_mask
        self.keep = [] if keep is None else keep
        self.after_fork = after_fork
        self.parent_pipe = parent_pipe
        self.pidfd = pidfd
        self.record = _no_failure() if record is None else record
        self.prepared = {} if prepared is None else prepared
        self.signal_steps = signal_steps
        self.signal_rule = signal_rule
        self.environ = environ
        self.pipe_floor = pipe_floor

    def __str__(self) -> str:
        lines = [
            f"child program for {self.platform} (fork: {self.fork.text}, "
            f"status pipe at fd >= {self.first_free_fd})"
        ]
        for index, step in enumerate(self.steps):
            note = ""
            if step.otherwise is not None:
                note = f"  (unless it returns {step.expect}: {step.otherwise.text})"
            elif step.expect is not None:
                note = f"  (must return {step.expect})"
            elif not step.checked:
                note = "  (result ignored)"
            lines.append(f"{index:3}  {step.name:12} {step.text}{note}")
        lines.append(
            f"on failure: errno and step number to the status pipe, "
            f"then {self.exit}({CHILD_EXIT_STATUS})"
        )
        return "\n".join(lines)


@functools.cache  # a fixed table, asked on every start
def signal_name(signum: int) -> str:
    """SIGINT for 2, or the number where Python has no name for it."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


class Builder:
    """Collects steps and keeps the C buffers they point to alive."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.keep: list[Any] = []
        self.signal_steps: tuple[int, int] | None = None
        self.environ: Environ | None = None
        self.pipe_floor = 0

    def call(
        self,
        func: str,
        *args: Any,
        text: str,
        name: str | None = None,
        checked: bool = True,
        path: str | None = None,
        expect: int | None = None,
        store: Cell | None = None,
        otherwise: Step | None = None,
    ) -> None:
        """Append the step ``func(*args)`` (see Step for the options).

        Raises TypeError for an argument that is not an int or a Cell: the
        child converts them at call time, where a ctypes error would be
        raised in the child (a fork runner's child would go on running
        the caller's Python).
        """
        for arg in args:
            if not isinstance(arg, (int, Cell)):
                raise TypeError(f"{text}: argument {arg!r} is not an int")
        self.steps.append(
            Step(name or func, func, args, text, checked, path, expect, store, otherwise)
        )

    def cell(self, value: int = 0) -> Cell:
        """A Cell (see Cell) that lives as long as the plan."""
        cell = Cell(value)
        self.keep.append(cell)
        return cell

    def buffer(self, size: int) -> int:
        """A zeroed C buffer of ``size`` bytes that lives as long as the plan."""
        buf = ctypes.create_string_buffer(size)
        self.keep.append(buf)
        return ctypes.addressof(buf)

    def c_string(self, value: bytes) -> int:
        """The address of a NUL-terminated copy of ``value``."""
        buf = ctypes.create_string_buffer(value)
        self.keep.append(buf)
        return ctypes.addressof(buf)

    def c_string_array(self, values: Sequence[bytes]) -> int:
        """A NULL-terminated array of C strings (SlicePtrFromStrings' result)."""
        array = (ctypes.c_char_p * (len(values) + 1))(*values)
        self.keep.append(array)
        return ctypes.addressof(array)

    def environment(self, envv: Envv) -> int:
        """The child's envp: ``envv``'s array; an Environ's is the plan's own."""
        if isinstance(envv, Environ):
            self.environ = envv  # taken again before each start of a kept plan
            return envv.address
        return self.c_string_array(envv)

    def session(self, sys: SysProcAttrBase, tiocspgrp: int) -> None:
        """Append Go's setsid, setpgid and foreground steps, in Go's order."""
        if sys.setsid:
            self.call("setsid", text="setsid()")
        if sys.setpgid or sys.foreground:
            self.call("setpgid", 0, sys.pgid, text=f"setpgid(0, {sys.pgid})")
        if sys.foreground:
            group = self.cell(sys.pgid)
            if sys.pgid == 0:
                self.call("getpid", text="getpid() -> pgrp", store=group)
            self.call(
                "ioctl",
                sys.ctty,
                tiocspgrp,
                ctypes.addressof(group),
                text=f"ioctl({sys.ctty}, TIOCSPGRP, &pgrp)",
                name="ioctl TIOCSPGRP",
            )

    def chroot(self, root: bytes) -> None:
        """Append chroot: before credentials and chdir, so dir is inside the root."""
        path = os.fsdecode(root)
        self.call("chroot", self.c_string(root), text=f"chroot({path!r})", path=path)

    def chdir(self, dir: bytes) -> None:
        """Append chdir(dir): after chroot and credentials, as in Go."""
        path = os.fsdecode(dir)
        self.call("chdir", self.c_string(dir), text=f"chdir({path!r})", path=path)

    def execve(
        self,
        argv0: bytes,
        argv: Sequence[bytes],
        envv: Envv,
        arrays: tuple[int, int] | None = None,
        checked: bool = True,
    ) -> tuple[int, int]:
        """Append execve: it returns only when it fails, which ends the program if ``checked``.

        Returns the addresses of the argv and envp arrays it passes; a later
        execve of the same argv and envv passes them as ``arrays`` (compat
        tries each executable of a PATH search in turn, unchecked but the last).
        """
        if arrays is None:
            arrays = self.c_string_array(argv), self.environment(envv)
        program = os.fsdecode(argv0)
        shown = [os.fsdecode(a) for a in argv]
        self.call(
            "execve",
            self.c_string(argv0),
            *arrays,
            text=f"execve({program!r}, {shown!r}, {environment_text(envv)})",
            checked=checked,
            path=program,
        )
        return arrays

    def clear_cloexec(self, fd: int) -> None:
        """Append fcntl(fd, F_SETFD, 0): ``fd`` survives execve."""
        self.call("fcntl", fd, zerrors.F_SETFD, 0, text=f"fcntl({fd}, F_SETFD, 0)")

    def reset_signals(
        self,
        signals: Sequence[int],
        sigaction_size: int,
        sig_setmask: int,
        sigset_size: int,
    ) -> Any:
        """Port of runtime_AfterForkInChild: reset handlers, restore the mask.

        Every signal in ``signals`` (the caught ones, see
        runtime.signals_to_reset) goes back to SIG_DFL, so no handler of the
        parent's runs in the child after its mask is restored. Then the mask
        the parent had before the fork is restored. Returns the buffer the
        parent saves that mask into (runtime.ForkCalls).
        """
        default_action = self.buffer(sigaction_size)  # all zero: SIG_DFL
        self.signal_steps = (len(self.steps), len(signals))
        for signum in signals:
            self.call(
                "sigaction",
                signum,
                default_action,
                0,
                text=f"sigaction({signal_name(signum)}, SIG_DFL, NULL)",
                checked=False,
            )
        saved_mask = ctypes.create_string_buffer(sigset_size)
        self.keep.append(saved_mask)
        self.call(
            "sigprocmask",
            sig_setmask,
            ctypes.addressof(saved_mask),
            0,
            text="sigprocmask(SIG_SETMASK, <the parent's mask>, NULL)",
        )
        return saved_mask

    def fd_passes(
        self,
        files: Sequence[int],
        dup_cloexec: Callable[[int, int], None],
        dup: Callable[[int, int], None],
        clear_cloexec: Callable[[int], None],
    ) -> int:
        """Port of Go's two fd passes: make child fd i a copy of files[i].

        Pass 1 moves every files[i] < i above all the fds in play (with
        close-on-exec), because pass 2, walking i upwards, will already have
        overwritten fd files[i] when it gets to i. Pass 2 then dups
        files[i] onto i, clears close-on-exec where files[i] == i (a dup onto
        itself would not), and closes i where files[i] == -1. Finally fds
        0..2 beyond the files are closed.

        Go moves the status pipe up in pass 1 too; here the parent puts it at
        or above the returned fd before forking, so the child never has to.
        Returns the lowest fd the passes leave untouched (3 at least: a
        parent with 1 and 2 closed gets its status pipe there).
        """
        fd = list(files)
        next_fd = above_files = max([len(fd), *fd]) + 1
        for i in range(len(fd)):
            if 0 <= fd[i] < i:
                dup_cloexec(fd[i], next_fd)
                fd[i] = next_fd
                next_fd += 1
        for i in range(len(fd)):
            if fd[i] == -1:
                self.call("close", i, text=f"close({i})", checked=False)
            elif fd[i] == i:
                clear_cloexec(i)
            else:
                dup(fd[i], i)
        for i in range(len(fd), 3):
            self.call("close", i, text=f"close({i})", checked=False)
        if next_fd == above_files:
            # Pass 1 moved nothing: the passes write no fd above the files,
            # so the pipe may sit anywhere above fd i's and 0..2 (with
            # files up to RLIMIT_NOFILE-1 there is no free fd above them).
            self.pipe_floor = max(len(fd), 3)
        # Above 0..2 as well, which the closes above may have touched.
        return max(next_fd, 3)

    def plan(
        self,
        platform: str,
        fork: Step,
        exit: str,
        first_free_fd: int,
        saved_mask: Any,
        **parent_side: Any,
    ) -> Plan:
        """The Plan of the steps so far; ``parent_side``: Plan's optional fields."""
        plan = Plan(
            platform, fork, exit, self.steps, first_free_fd, saved_mask, self.keep, **parent_side
        )
        plan.signal_steps = self.signal_steps
        plan.environ = self.environ
        plan.pipe_floor = self.pipe_floor
        return plan


class OtherFields:
    """Checks that an object's fields other than ``read`` are as in ``prototype``
    (a new one's values: the defaults).

    A runner that translates a plan (runner_spawn.py), or a key that stands
    for a request (remembered.py), reads some fields; any other field not at
    its default means something the reader does not know. One C-level
    attrgetter call in the common case.
    """

    def __init__(self, prototype: Record, read: tuple[str, ...]) -> None:
        self.names = tuple(name for name in prototype.FIELDS if name not in read)
        self.defaults = tuple(getattr(prototype, name) for name in self.names)
        get = operator.attrgetter(*self.names) if self.names else (lambda obj: ())
        self.get: Any = (lambda obj: (get(obj),)) if len(self.names) == 1 else get

    def unknown(self, obj: Any) -> str | None:
        """The first field not at its default, or None."""
        if self.get(obj) == self.defaults:
            return None
        for name, default in zip(self.names, self.defaults):
            value = getattr(obj, name)
            if not (value is default or value == default):
                return name
        return None
