"""Linux: constants, SysProcAttr and the child's program (Go's exec_linux.go).

The steps come in the order of Go's forkAndExecInChild1; each names the Go
issue it guards against where history matters. The fork itself is glibc's
``_Fork`` (2.34+), which runs no atfork handlers, or where that is missing
the raw clone system call with SIGCHLD, which runs none either.
"""

from __future__ import annotations

import errno
import platform as _machine
from collections.abc import Sequence
from dataclasses import dataclass

from . import libc
from .plan import Builder, Plan, Step

PLATFORMS = ("linux",)

# Numbers from the Linux uapi headers and glibc (x86-64 and arm64 agree on
# all of them); tests/test_constants.py checks them against Python's own.
O_CLOEXEC = 0o2000000
F_GETFD = 1
F_SETFD = 2
FD_CLOEXEC = 1
F_DUPFD_CLOEXEC = 1030
SIG_BLOCK = 0
SIG_SETMASK = 2
SIGCHLD = 17
CLOSE_RANGE_CLOEXEC = 4
CONTINUED_STATUS = 0xFFFF  # what wait reports for a child continued by SIGCONT
SIGSET_SIZE = 128  # glibc's sigset_t
SIGACTION_SIZE = 152  # glibc's struct sigaction, 64-bit
SYS_CLONE = {"x86_64": 56, "aarch64": 220}

EXIT = "_exit"  # glibc's _exit: exit_group, no atexit handlers
ERRNO_LOCATION = "__errno_location"


@dataclass
class SysProcAttr:
    """Port of Go's SysProcAttr (exec_linux.go), the fields ported so far.

    ``setsid``: start a new session. ``setpgid``: put the child in process
    group ``pgid`` (0: a new group whose id is the child's pid).
    """

    setsid: bool = False
    setpgid: bool = False
    pgid: int = 0


def _fork_step() -> Step | None:
    if libc.has("_Fork"):
        return Step("fork", "_Fork", (), "_Fork()")
    number = SYS_CLONE.get(_machine.machine())
    if number is None:
        return None
    return Step(
        "fork", "syscall", (number, SIGCHLD, 0, 0, 0, 0), "syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)"
    )


FORK = _fork_step()


def _has_close_range_cloexec() -> bool:
    # An empty range at the top: 0 where close_range knows the flag (Linux
    # 5.11+, glibc 2.34+), EINVAL or ENOSYS where it does not.
    if not libc.has("close_range"):
        return False
    result: int = libc.parent("close_range")(0xFFFFFFFF, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
    return result == 0


CLOSE_RANGE = _has_close_range_cloexec()


def child_program(
    argv0: bytes,
    argv: Sequence[bytes],
    envv: Sequence[bytes],
    dir: bytes | None,
    files: Sequence[int],
    sys: SysProcAttr,
    signals: Sequence[int],
) -> Plan:
    """Port of the child half of forkAndExecInChild1 (exec_linux.go), as a Plan.

    ``signals`` are the signals whose handlers the child resets
    (runtime.signals_to_reset).
    """
    if FORK is None:
        raise libc.errno_error(
            errno.ENOSYS, f"no _Fork in this C library and no clone number for {_machine.machine()}"
        )
    b = Builder()
    if sys.setsid:
        b.call("setsid", text="setsid()")
    if sys.setpgid:
        b.call("setpgid", 0, sys.pgid, text=f"setpgid(0, {sys.pgid})")
    # After any TIOCSPGRP, so the child is not stopped by SIGTTOU
    # (go.dev/issue/37217).
    saved_mask = b.reset_signals(signals, SIGACTION_SIZE, SIG_SETMASK, SIGSET_SIZE)
    if dir is not None:
        b.chdir(dir)

    def dup_cloexec(old: int, new: int) -> None:
        b.call("dup3", old, new, O_CLOEXEC, text=f"dup3({old}, {new}, O_CLOEXEC)")

    def dup(old: int, new: int) -> None:
        b.call("dup3", old, new, 0, text=f"dup3({old}, {new}, 0)")

    def clear_cloexec(fd: int) -> None:
        b.call("fcntl", fd, F_SETFD, 0, text=f"fcntl({fd}, F_SETFD, 0)")

    first_free_fd = b.fd_passes(files, dup_cloexec, dup, clear_cloexec)
    if CLOSE_RANGE:
        # Go stops here: an inheritable fd not in files leaks into the child.
        # Python's subprocess (close_fds=True) closes them, and fds a Python
        # process inherited from its own parent are inheritable: mark every
        # fd above the files close-on-exec (the status pipe already is).
        b.call(
            "close_range",
            len(files),
            0xFFFFFFFF,
            CLOSE_RANGE_CLOEXEC,
            text=f"close_range({len(files)}, ~0U, CLOSE_RANGE_CLOEXEC)",
        )
    b.execve(argv0, argv, envv)
    return b.plan("linux", FORK, EXIT, first_free_fd, saved_mask)
