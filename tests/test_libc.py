"""libc.py's bindings and the platform constants."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import signal
import termios

import pytest

from pysyscall import libc, linux, runner_fork, zerrors_linux
from pysyscall.exec_unix import child_program

_PYTHONAPI = ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]


def test_child_bindings_hold_the_gil() -> None:
    """Every call of the child's program is bound through the GIL-holding handle.

    A child call that released the GIL would wait in the child for a GIL that
    no thread will ever drop: the hang the design note measured. Binding the
    parent's version first must not change what the child gets.
    """
    for name in libc.PROTOTYPES:
        if libc.has(name):
            parent = libc.parent(name)
            assert not parent._flags_ & _PYTHONAPI, name
            for checked in (True, False):
                assert libc.child(name, checked)._flags_ & _PYTHONAPI, name
                assert libc.child(name, checked) is not parent


def test_every_planned_call_has_a_prototype() -> None:
    plan = child_program("/bin/true", ["true"])
    for step in [plan.fork, *plan.steps]:
        assert step.func in libc.PROTOTYPES
        assert libc.has(step.func)
    assert libc.has(plan.exit) and libc.has(linux.ERRNO_LOCATION)


def test_child_record_layout() -> None:
    assert ctypes.sizeof(runner_fork.ChildError) == 12


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (errno.ENOENT, FileNotFoundError),
        (errno.EACCES, PermissionError),
        (errno.EPERM, PermissionError),
        (errno.ENOTDIR, NotADirectoryError),
        (errno.EAGAIN, BlockingIOError),
        (errno.ENOEXEC, OSError),
    ],
)
def test_errno_error(code: int, kind: type[OSError]) -> None:
    error = libc.errno_error(code, "chdir", "/x")
    assert type(error) is kind
    assert error.errno == code and error.filename == "/x"
    assert str(error) == f"[Errno {code}] {os.strerror(code)} (chdir): '/x'"


def test_parent_call_raises_errno() -> None:
    with pytest.raises(OSError) as info:
        libc.call("close", 1000)
    assert info.value.errno == errno.EBADF


def test_linux_constants_match_python() -> None:
    """zerrors_linux's numbers are those Python's own modules have (where they have them)."""
    expected = {
        "O_CLOEXEC": (os, "O_CLOEXEC"),
        "F_GETFD": (fcntl, "F_GETFD"),
        "F_SETFD": (fcntl, "F_SETFD"),
        "FD_CLOEXEC": (fcntl, "FD_CLOEXEC"),
        "F_DUPFD_CLOEXEC": (fcntl, "F_DUPFD_CLOEXEC"),
        "SIG_BLOCK": (signal, "SIG_BLOCK"),
        "SIG_SETMASK": (signal, "SIG_SETMASK"),
        "SIGCHLD": (signal, "SIGCHLD"),
        "PROT_READ": (mmap, "PROT_READ"),
        "PROT_WRITE": (mmap, "PROT_WRITE"),
        "PROT_EXEC": (mmap, "PROT_EXEC"),
        "MAP_PRIVATE": (mmap, "MAP_PRIVATE"),
        "MAP_ANONYMOUS": (mmap, "MAP_ANONYMOUS"),
        "MAP_STACK": (mmap, "MAP_STACK"),  # Python 3.12+
        "MAP_NORESERVE": (mmap, "MAP_NORESERVE"),
        "MFD_CLOEXEC": (os, "MFD_CLOEXEC"),
        "CLONE_VM": (os, "CLONE_VM"),  # Python 3.12+
        "CLONE_VFORK": (os, "CLONE_VFORK"),
        "CLONE_NEWUSER": (os, "CLONE_NEWUSER"),
    }
    compared = 0
    for name, (module, attribute) in expected.items():
        if hasattr(module, attribute):
            assert getattr(zerrors_linux, name) == getattr(module, attribute), name
            compared += 1
    assert compared >= 14  # the ones every supported Python has
    assert termios.TIOCSCTTY == 0x540E
    # The sigaction and sigset_t sizes are glibc's: ask the C compiler's view
    # through ctypes' own idea of the structure is not possible, so check the
    # kernel accepts a sigprocmask of that size and the handler is at offset 0.
    action = ctypes.create_string_buffer(zerrors_linux.SIGACTION_SIZE)
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        assert libc.child("sigaction")(signal.SIGUSR1, None, ctypes.addressof(action)) == 0
        assert ctypes.c_void_p.from_buffer(action).value == 1  # SIG_IGN
    finally:
        signal.signal(signal.SIGUSR1, previous)
