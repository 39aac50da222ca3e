"""darwin: constants, SysProcAttr and the child's program (Go's exec_libc2.go).

darwin forbids raw system calls, so every step is a libSystem function, as in
Go. The fork is libSystem's ``__fork`` and the failure exit ``__exit``, Go's
choice in CL 459176 (the seed 002): the public ``fork`` runs libSystem's
atfork handlers in the child, and those have hung Go's children
(go.dev/issue/33565, 56784); ``exit`` would run atexit handlers. Go later
reverted ``__fork`` because Cocoa/Metal programs that keep running after a
fork broke (go.dev/issue/57263); a child that only execs is not such a
program.

This module cannot run on the machines pysyscall is developed on: it is
type-checked for darwin and its plans are unit-tested on Linux.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .plan import Builder, Plan, Step

PLATFORMS = ("darwin",)

# Numbers from the macOS SDK headers (sys/fcntl.h, sys/signal.h).
O_CLOEXEC = 0x1000000
F_GETFD = 1
F_SETFD = 2
FD_CLOEXEC = 1
F_DUPFD_CLOEXEC = 67
SIG_BLOCK = 1
SIG_SETMASK = 3
SIGCHLD = 20
CONTINUED_STATUS = 0x137F  # _WSTOPPED with SIGCONT (0x13): WIFCONTINUED
SIGSET_SIZE = 4  # sigset_t is a 32-bit mask
SIGACTION_SIZE = 16  # struct sigaction: handler, mask, flags

FORK = Step("fork", "__fork", (), "__fork()")
EXIT = "__exit"  # the system call, no atexit handlers (CL 459176)
ERRNO_LOCATION = "__error"


@dataclass
class SysProcAttr:
    """Port of Go's SysProcAttr (syscall_darwin.go), the fields ported so far.

    ``setsid``: start a new session. ``setpgid``: put the child in process
    group ``pgid`` (0: a new group whose id is the child's pid).
    """

    setsid: bool = False
    setpgid: bool = False
    pgid: int = 0


def child_program(
    argv0: bytes,
    argv: Sequence[bytes],
    envv: Sequence[bytes],
    dir: bytes | None,
    files: Sequence[int],
    sys: SysProcAttr,
    signals: Sequence[int],
) -> Plan:
    """Port of the child half of forkAndExecInChild (exec_libc2.go), as a Plan."""
    b = Builder()
    if sys.setsid:
        b.call("setsid", text="setsid()")
    if sys.setpgid:
        b.call("setpgid", 0, sys.pgid, text=f"setpgid(0, {sys.pgid})")
    saved_mask = b.reset_signals(signals, SIGACTION_SIZE, SIG_SETMASK, SIGSET_SIZE)
    if dir is not None:
        b.chdir(dir)

    # darwin has no dup3: dup2, then mark the copy close-on-exec.
    def dup_cloexec(old: int, new: int) -> None:
        b.call("dup2", old, new, text=f"dup2({old}, {new})")
        b.call("fcntl", new, F_SETFD, FD_CLOEXEC, text=f"fcntl({new}, F_SETFD, FD_CLOEXEC)")

    def dup(old: int, new: int) -> None:
        b.call("dup2", old, new, text=f"dup2({old}, {new})")

    def clear_cloexec(fd: int) -> None:
        b.call("fcntl", fd, F_SETFD, 0, text=f"fcntl({fd}, F_SETFD, 0)")

    first_free_fd = b.fd_passes(files, dup_cloexec, dup, clear_cloexec)
    b.execve(argv0, argv, envv)
    return b.plan("darwin", FORK, EXIT, first_free_fd, saved_mask)
