"""darwin's child program, built on Linux: darwin cannot run here.

The plan is data (libc symbol names and integer arguments), so its content
can be checked against Go's exec_libc2.go order without a Mac. A fake symbol
table stands for libSystem: every symbol the plan names must be in it.
"""

from __future__ import annotations

import signal

from pysyscall import darwin, libc, zerrors_darwin
from pysyscall.plan import Plan

# What libSystem exports and the child may call (Go's CL 459176 lists them).
LIBSYSTEM = {
    "__fork", "__exit", "__error", "chdir", "close", "dup2", "execve", "fcntl",
    "setpgid", "setsid", "sigaction", "sigprocmask", "write", "memmove",
    "ptrace", "chroot", "setgroups", "setgid", "setuid", "ioctl", "getpid",
}  # fmt: skip


def plan(files: list[int], **sys: object) -> Plan:
    return darwin.child_program(
        b"/bin/echo",
        [b"echo", b"hi"],
        [b"A=1"],
        b"/tmp",
        files,
        darwin.SysProcAttr(**sys),  # type: ignore[arg-type]
        [signal.SIGINT, signal.SIGPIPE],
    )


def calls(p: Plan) -> list[tuple[str, tuple[int, ...]]]:
    return [(s.func, s.args) for s in p.steps]


def test_fork_and_exit_symbols() -> None:
    p = plan([0, 1, 2])
    assert p.fork.func == "__fork" and p.exit == "__exit"
    assert darwin.ERRNO_LOCATION == "__error"
    for step in [p.fork, *p.steps]:
        assert step.func in LIBSYSTEM
        assert step.func in libc.PROTOTYPES
    assert {p.exit, darwin.ERRNO_LOCATION, "write", "memmove"} <= LIBSYSTEM


def test_order_follows_exec_libc2() -> None:
    p = plan([0, 1, 2], setsid=True, setpgid=True, pgid=7)
    funcs = [s.func for s in p.steps]
    assert funcs == [
        "setsid",
        "setpgid",
        "sigaction",
        "sigaction",
        "sigprocmask",
        "chdir",
        "fcntl",
        "fcntl",
        "fcntl",
        "execve",
    ]
    assert p.steps[1].args == (0, 7)
    assert p.steps[2].args[0] == signal.SIGINT
    assert p.steps[4].args[0] == zerrors_darwin.SIG_SETMASK == 3
    assert p.steps[-1].path == "/bin/echo"
    assert p.steps[5].path == "/tmp"


def test_fd_passes_use_dup2_then_fcntl() -> None:
    """darwin has no dup3: pass 1 is dup2 plus FD_CLOEXEC, pass 2 plain dup2."""
    p = plan([0, 1, 2, 7, 1])
    fd_steps = [c for c in calls(p) if c[0] in ("dup2", "fcntl", "close")]
    assert fd_steps == [
        ("dup2", (1, 8)),
        ("fcntl", (8, zerrors_darwin.F_SETFD, zerrors_darwin.FD_CLOEXEC)),
        ("fcntl", (0, zerrors_darwin.F_SETFD, 0)),
        ("fcntl", (1, zerrors_darwin.F_SETFD, 0)),
        ("fcntl", (2, zerrors_darwin.F_SETFD, 0)),
        ("dup2", (7, 3)),
        ("dup2", (8, 4)),
    ]
    assert p.first_free_fd == 9


def test_fewer_than_three_files_planned_closes() -> None:
    p = plan([5])
    assert [c for c in calls(p) if c[0] in ("dup2", "close")] == [
        ("dup2", (5, 0)),
        ("close", (1,)),
        ("close", (2,)),
    ]
    assert not any(s.checked for s in p.steps if s.func == "close")


def test_darwin_constants() -> None:
    # From the macOS SDK; a Mac's Python would give the same from its modules.
    assert zerrors_darwin.O_CLOEXEC == 0x1000000
    assert zerrors_darwin.F_DUPFD_CLOEXEC == 67
    assert (zerrors_darwin.SIG_BLOCK, zerrors_darwin.SIG_SETMASK) == (1, 3)
    assert zerrors_darwin.SIGCHLD == 20
    assert darwin.PLATFORMS == ("darwin",)


def test_every_field_in_exec_libc2_order() -> None:
    """ptrace first (last on Linux), then session, signals, chroot, ids, dir,
    fds, then the terminal, then execve: Go's forkAndExecInChild order."""
    from pysyscall.plan import Credential

    p = plan(
        [0, 1, 2],
        ptrace=True,
        setsid=True,
        setctty=True,
        ctty=0,
        noctty=True,
        chroot="/jail",
        credential=Credential(uid=501, gid=20, groups=[12, 61]),
    )
    names = [s.name for s in p.steps]
    assert names == [
        "ptrace", "setsid", "sigaction", "sigaction", "sigprocmask", "chroot",
        "setgroups", "setgid", "setuid", "chdir", "fcntl", "fcntl", "fcntl",
        "ioctl TIOCNOTTY", "ioctl TIOCSCTTY", "execve",
    ]  # fmt: skip
    for step in p.steps:
        assert step.func in LIBSYSTEM
    by_name = {s.name: s for s in p.steps}
    assert by_name["setgid"].args == (20,) and by_name["setuid"].args == (501,)
    assert by_name["setgroups"].args[0] == 2
    noctty, setctty = [s for s in p.steps if s.func == "ioctl"]
    assert noctty.args == (0, zerrors_darwin.TIOCNOTTY, 0)
    assert setctty.args == (0, zerrors_darwin.TIOCSCTTY, 0)  # 0 here, 1 on Linux
    assert by_name["chroot"].path == "/jail"


def test_foreground_stores_the_childs_pid() -> None:
    import os

    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        p = plan([0, 1, 2], foreground=True, ctty=fd)
    finally:
        os.close(fd)
    getpid, ioctl = [s for s in p.steps if s.func in ("getpid", "ioctl")]
    assert getpid.store is not None
    assert ioctl.args[:2] == (fd, zerrors_darwin.TIOCSPGRP)
    assert [s.func for s in p.steps][:2] == ["setpgid", "getpid"]


def test_no_setgroups() -> None:
    from pysyscall.plan import Credential

    p = plan([0, 1, 2], credential=Credential(1, 2, no_setgroups=True))
    assert "setgroups" not in [s.func for s in p.steps]


def test_bad_terminal_attributes_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="both setctty and foreground"):
        plan([0, 1, 2], setctty=True, foreground=True)
    with pytest.raises(ValueError, match="ctty 3 is not a child fd"):
        plan([0, 1, 2], setctty=True, ctty=3)
