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
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

CHILD_EXIT_STATUS = 253  # Go's exit status for a child whose setup failed


@dataclass(frozen=True)
class Step:
    """One C call of the child's program.

    ``name`` names the step in errors ("chdir", "dup3"), ``func`` is the
    libc symbol, ``args`` are integers (C buffers travel as addresses),
    ``text`` is how the call prints. A step with ``checked`` False has its
    result ignored, as Go ignores failures to close. ``path`` is the file
    name an error at this step is about.
    """

    name: str
    func: str
    args: tuple[int, ...]
    text: str
    checked: bool = True
    path: str | None = None


@dataclass
class Plan:
    """The child's whole program, planned in the parent."""

    platform: str
    fork: Step  # the call that forks, without running any atfork handler
    exit: str  # the libc symbol the child exits through on failure
    steps: list[Step]
    first_free_fd: int  # the status pipe must sit at or above this fd
    saved_mask: Any  # filled by runtime.before_fork; restored by a step
    keep: list[Any] = field(default_factory=list, repr=False)  # C buffers

    def __str__(self) -> str:
        lines = [
            f"child program for {self.platform} (fork: {self.fork.text}, "
            f"status pipe at fd >= {self.first_free_fd})"
        ]
        for index, step in enumerate(self.steps):
            note = "" if step.checked else "  (result ignored)"
            lines.append(f"{index:3}  {step.name:12} {step.text}{note}")
        lines.append(
            f"on failure: errno and step number to the status pipe, "
            f"then {self.exit}({CHILD_EXIT_STATUS})"
        )
        return "\n".join(lines)


class ChildError(ctypes.Structure):
    """What a failed child writes to the status pipe: fixed size, no allocation.

    ``magic`` tells a record from stray bytes; ``step`` is the index of the
    failing step in the plan, ``errno`` its error.
    """

    _fields_ = [("magic", ctypes.c_uint32), ("step", ctypes.c_int32), ("errno", ctypes.c_int32)]


CHILD_ERROR_MAGIC = 0x50595343  # "PYSC"


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

    def call(
        self,
        func: str,
        *args: int,
        text: str,
        name: str | None = None,
        checked: bool = True,
        path: str | None = None,
    ) -> None:
        """Append the step ``func(*args)``."""
        self.steps.append(Step(name or func, func, args, text, checked, path))

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
        """Port of SlicePtrFromStrings: a NULL-terminated array of C strings."""
        array = (ctypes.c_char_p * (len(values) + 1))(*values)
        self.keep.append(array)
        return ctypes.addressof(array)

    def chdir(self, dir: bytes) -> None:
        """Append chdir(dir): after chroot and credentials, as in Go."""
        path = os.fsdecode(dir)
        self.call("chdir", self.c_string(dir), text=f"chdir({path!r})", path=path)

    def execve(self, argv0: bytes, argv: Sequence[bytes], envv: Sequence[bytes]) -> None:
        """Append execve, the last step: it returns only when it fails."""
        program = os.fsdecode(argv0)
        shown = [os.fsdecode(a) for a in argv]
        self.call(
            "execve",
            self.c_string(argv0),
            self.c_string_array(argv),
            self.c_string_array(envv),
            text=f"execve({program!r}, {shown!r}, <{len(envv)} variables>)",
            path=program,
        )

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
        parent saves that mask into (runtime.before_fork).
        """
        default_action = self.buffer(sigaction_size)  # all zero: SIG_DFL
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
        Returns the lowest fd the passes leave untouched.
        """
        fd = list(files)
        next_fd = max([len(fd), *fd]) + 1
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
        return next_fd

    def plan(
        self, platform: str, fork: Step, exit: str, first_free_fd: int, saved_mask: Any
    ) -> Plan:
        return Plan(platform, fork, exit, self.steps, first_free_fd, saved_mask, self.keep)
