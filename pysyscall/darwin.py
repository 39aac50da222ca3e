# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""darwin: SysProcAttr and the child's program (Go's exec_libc2.go).

Its numbers are in zerrors_darwin.py.

darwin forbids raw system calls, so every step is a libSystem function, as in
Go. The fork is libSystem's ``__fork`` and the failure exit ``__exit``, Go's
choice in CL 459176: the public ``fork`` runs libSystem's
atfork handlers in the child, and those have hung Go's children
(go.dev/issue/33565, 56784); ``exit`` would run atexit handlers. Go later
reverted ``__fork`` because Cocoa/Metal programs that keep running after a
fork broke (go.dev/issue/57263); a child that only execs is not such a
program.

This module cannot run on the machines pysyscall is developed on: it is
type-checked for darwin and its plans are unit-tested on Linux.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence

from . import libc
from ._platform import GOOS
from .plan import (
    Builder,
    Plan,
    Step,
    SysProcAttrBase,
    byte_ptr_from_string,
    check_common,
)
from .zerrors_darwin import (
    F_SETFD,
    FD_CLOEXEC,
    PT_TRACE_ME,
    SIG_SETMASK,
    SIGACTION_SIZE,
    SIGSET_SIZE,
    TIOCNOTTY,
    TIOCSCTTY,
    TIOCSPGRP,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from .plan import Envv

PLATFORMS = ("darwin",)

EXIT = "__exit"  # the system call, no atexit handlers (CL 459176)
ERRNO_LOCATION = "__error"


class SysProcAttr(SysProcAttrBase):
    """Port of Go's SysProcAttr for darwin (exec_libc2.go).

    The fields mean what they mean on Linux (see linux.SysProcAttr): chroot,
    credential, ptrace (first here, last on Linux), setsid, setpgid, setctty,
    noctty, ctty, foreground, pgid. darwin has no pdeathsig, namespaces,
    capabilities, cgroups or pidfds.
    """

    __slots__ = ()


def _osinit_hack() -> None:
    """Port of Go's runtime osinit_hack (sys_darwin.go, go.dev/issue/56784).

    With the public fork, libSystem's atfork child handlers run in the child
    and have hung there on notify and xpc state the parent's threads held.
    Initialising that state once at start-up keeps the handlers on their
    fast path. Only used with PYSYSCALL_DARWIN_FORK=fork.
    """
    if GOOS == "darwin":
        library = ctypes.CDLL(libc.LIBRARY)
        library.notify_is_valid_token.argtypes = (ctypes.c_int,)
        library.notify_is_valid_token(0)
        library.xpc_date_create_from_current.restype = ctypes.c_void_p
        library.xpc_date_create_from_current()


# The fork. By default libSystem's __fork, which runs no atfork handlers
# (Go's CL 459176). Go reverted that for programs that go on
# running after fork with Cocoa or Metal state (go.dev/issue/57263); a child
# that only execs never touches it, so __fork stays the default here.
# PYSYSCALL_DARWIN_FORK=fork chooses Go's later design instead: the public
# fork, with the state its handlers need warmed up at import.
if os.environ.get("PYSYSCALL_DARWIN_FORK") == "fork":
    FORK = Step("fork", "fork", (), "fork()")
    _osinit_hack()
else:
    FORK = Step("fork", "__fork", (), "__fork()")


def child_program(
    argv0: bytes,
    argv: Sequence[bytes],
    envv: Envv,
    dir: bytes | None,
    files: Sequence[int],
    sys: SysProcAttr,
    signals: Sequence[int],
) -> Plan:
    """Port of the child half of forkAndExecInChild (exec_libc2.go), as a Plan.

    Checks ``sys`` first (plan.check_common), as Go's forkExec does.
    """
    check_common(sys, files)
    chroot = None if sys.chroot is None else byte_ptr_from_string(sys.chroot, "chroot")
    b = Builder()
    if sys.ptrace:
        b.call("ptrace", PT_TRACE_ME, 0, 0, 0, text="ptrace(PT_TRACE_ME)")
    b.session(sys, TIOCSPGRP)
    saved_mask = b.reset_signals(signals, SIGACTION_SIZE, SIG_SETMASK, SIGSET_SIZE)
    if chroot is not None:
        b.chroot(chroot)
    credential = sys.credential
    if credential is not None:
        # One thread in a forked child: libSystem's calls are plain system calls.
        groups = list(credential.groups)
        if not credential.no_setgroups:
            array = (ctypes.c_uint32 * max(len(groups), 1))(*groups)
            b.keep.append(array)
            address = ctypes.addressof(array) if groups else 0
            b.call("setgroups", len(groups), address, text=f"setgroups({groups})")
        b.call("setgid", credential.gid, text=f"setgid({credential.gid})")
        b.call("setuid", credential.uid, text=f"setuid({credential.uid})")
    if dir is not None:
        b.chdir(dir)

    # darwin has no dup3: dup2, then mark the copy close-on-exec.
    def dup_cloexec(old: int, new: int) -> None:
        b.call("dup2", old, new, text=f"dup2({old}, {new})")
        b.call("fcntl", new, F_SETFD, FD_CLOEXEC, text=f"fcntl({new}, F_SETFD, FD_CLOEXEC)")

    def dup(old: int, new: int) -> None:
        b.call("dup2", old, new, text=f"dup2({old}, {new})")

    first_free_fd = b.fd_passes(files, dup_cloexec, dup, b.clear_cloexec)
    if sys.noctty:
        b.call("ioctl", 0, TIOCNOTTY, 0, text="ioctl(0, TIOCNOTTY)", name="ioctl TIOCNOTTY")
    if sys.setctty:
        # 0 here, where Linux passes 1.
        b.call(
            "ioctl",
            sys.ctty,
            TIOCSCTTY,
            0,
            text=f"ioctl({sys.ctty}, TIOCSCTTY, 0)",
            name="ioctl TIOCSCTTY",
        )
    b.execve(argv0, argv, envv)
    return b.plan("darwin", FORK, EXIT, first_free_fd, saved_mask)
