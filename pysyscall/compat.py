"""subprocess on pysyscall: a drop-in for the stdlib's private ``_posixsubprocess.fork_exec``.

``fork_exec`` takes the running interpreter's arguments (21 on 3.9-3.10, 23
on 3.11-3.13 with ``process_group`` and ``allow_vfork``, 22 on 3.14+ without
``allow_vfork``: chosen by ``sys.version_info``) and does what
Modules/_posixsubprocess.c's child does, as a pysyscall plan: the parent
plans every step and the child runs no Python between fork and execve.

The child's order is _posixsubprocess's: the stdio dup dance, chdir, umask,
the signal reset (restore_signals), setsid, setpgid, setgroups, setregid,
setreuid, close_fds (close_range marking everything but fds_to_keep
close-on-exec), then execve of each executable in turn.

The child-error protocol: pysyscall's child reports its failure (step,
errno) on its own status pipe and pysyscall's parent reaps it; then this
``fork_exec`` writes the message _posixsubprocess's child would have
written into ``errpipe_write`` ("OSError:<hex errno>:noexec" for a failure
before execve, "OSError:<hex errno>:" for execve's) and returns. Popen reads
``errpipe_read`` only after fork_exec has returned and closed its copy of
``errpipe_write``, so it parses the same bytes and raises the same
exception with the same filename. The pid returned for a failed start is
the failed child's, left unreaped (``exec_unix._start(reap_failed=False)``)
so that Popen reaps it as it does natively; where the runner already reaped
it (posix_spawn), a stand-in ``true`` is started for Popen to reap.
3.13+ Popen reads "noexec:chdir" for a chdir failure (filename = cwd) and
plain "noexec" (no filename) for the others; older ones take every
"noexec" as chdir's. Both are written as the running Popen expects.

Differences from _posixsubprocess, and why:

* executable_list: every entry is tried in order, but the errno reported
  is the last entry's, where _posixsubprocess reports the first one that
  is not ENOENT/ENOTDIR (picking it needs a branch in the child, and plan
  steps have none). Only a PATH search that meets a non-executable file
  before failing everywhere else raises differently (FileNotFoundError
  instead of PermissionError).
* setgroups/setregid/setreuid are raw system calls (glibc's wrappers
  signal threads a forked child does not have); a child that failed
  exits 253, not 255 (invisible: Popen raises).
* the child also resets every caught signal handler to SIG_DFL and
  restores the parent's signal mask (pysyscall's discipline).
* Linux only (x86-64, arm64): elsewhere ``fork_exec`` hands every call to
  the native one, as it does for preexec_fn.

``preexec_fn`` needs the interpreter in the child: that case is handed to
CPython's own ``_posixsubprocess.fork_exec`` (with its after-fork hooks and
its warning about threads), since no plan can run Python code.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform as _machine
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any, Callable

from . import exec_unix, runtime
from .plan import Builder, Plan, byte_ptr_from_string

if sys.platform == "linux":
    from . import linux as _system
else:  # pragma: no cover - darwin has no planned compat yet
    from . import darwin as _system

try:
    import _posixsubprocess

    NATIVE: Callable[..., int] | None = _posixsubprocess.fork_exec
except ImportError:  # pragma: no cover - embedded interpreters
    NATIVE = None

_COMMON = (
    "args",
    "executable_list",
    "close_fds",
    "fds_to_keep",
    "cwd",
    "env_list",
    "p2cread",
    "p2cwrite",
    "c2pread",
    "c2pwrite",
    "errread",
    "errwrite",
    "errpipe_read",
    "errpipe_write",
    "restore_signals",
    "call_setsid",
)
_TAIL = ("gid", "extra_groups", "uid", "child_umask", "preexec_fn")


def parameters(version: tuple[int, int] | None = None) -> tuple[str, ...]:
    """The positional parameters of ``_posixsubprocess.fork_exec`` on ``version``."""
    major_minor = version or (sys.version_info[0], sys.version_info[1])
    if major_minor < (3, 11):
        return _COMMON + _TAIL
    if major_minor < (3, 14):
        return (*_COMMON, "pgid_to_set", *_TAIL, "allow_vfork")
    return (*_COMMON, "pgid_to_set", *_TAIL)


PARAMETERS = parameters()

# Raw setregid/setreuid (_posixsubprocess calls the libc ones, which in a
# forked child of a threaded process signal threads that do not exist).
_SETRE = {
    "x86_64": {"setgroups": 116, "setregid": 114, "setreuid": 113, "umask": 95},
    "aarch64": {"setgroups": 159, "setregid": 143, "setreuid": 145, "umask": 166},
}
SETRE = _SETRE.get(_machine.machine(), {})
F_DUPFD_CLOEXEC = 1030
F_SETFD = 2
CLOSE_RANGE_CLOEXEC = 4


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, int) and value < 0)


def child_program(
    args: Sequence[Any],
    executable_list: Sequence[Any],
    close_fds: bool,
    fds_to_keep: Sequence[int],
    cwd: Any,
    env_list: Sequence[Any] | None,
    stdio: tuple[int, int, int],
    restore_signals: bool,
    call_setsid: bool,
    pgid_to_set: int,
    gid: Any,
    extra_groups: Sequence[int] | None,
    uid: Any,
    child_umask: int,
    errpipe_write: int,
) -> Plan:
    """Plan _posixsubprocess's child (child_exec) as pysyscall steps."""
    if not executable_list:
        raise ValueError("executable_list must not be empty")
    argv = exec_unix.slice_ptr_from_strings(list(args), "args")
    executables = exec_unix.slice_ptr_from_strings(list(executable_list), "executable")
    envv = exec_unix.environment(None if env_list is None else list(env_list))
    dir_bytes = None if cwd is None else byte_ptr_from_string(cwd, "cwd")
    b = Builder()

    signals = runtime.signals_to_reset()
    if not restore_signals:
        # Keep SIGPIPE and SIGXFSZ ignored, as Python left them.
        signals = [
            s
            for s in signals
            if not (s in (signal.SIGPIPE, signal.SIGXFSZ) and signal.getsignal(s) == signal.SIG_IGN)
        ]
    saved_mask = b.reset_signals(
        signals, _system.SIGACTION_SIZE, _system.SIG_SETMASK, _system.SIGSET_SIZE
    )

    # The stdio dance (child_exec): a source fd the dups would overwrite
    # first moves above 2 (F_DUPFD_CLOEXEC 3: never onto a kept fd); a
    # source already in place only loses close-on-exec; -1 leaves fd i as is.
    p2cread, c2pwrite, errwrite = stdio
    sources: list[Any] = [p2cread, c2pwrite, errwrite]
    for i in (1, 2):
        if 0 <= sources[i] < i:
            moved = b.cell(-1)
            b.call(
                "fcntl",
                sources[i],
                F_DUPFD_CLOEXEC,
                3,
                text=f"fcntl({sources[i]}, F_DUPFD_CLOEXEC, 3) -> fd{i}",
                store=moved,
                name="dup",
            )
            sources[i] = moved
    for i, source in enumerate(sources):
        if isinstance(source, int) and source == -1:
            continue
        if isinstance(source, int) and source == i:
            b.call("fcntl", i, F_SETFD, 0, text=f"fcntl({i}, F_SETFD, 0)", name="inheritable")
        else:
            shown = source if isinstance(source, int) else f"fd{i}"
            b.call("dup2", source, i, text=f"dup2({shown}, {i})")
    if dir_bytes is not None:
        b.chdir(dir_bytes)
    if child_umask >= 0:
        b.call(
            "syscall",
            SETRE["umask"],
            child_umask,
            text=f"syscall(SYS_umask, {child_umask:#o})",
            name="umask",
            checked=False,
        )
    if call_setsid:
        b.call("setsid", text="setsid()")
    if pgid_to_set >= 0:
        b.call("setpgid", 0, pgid_to_set, text=f"setpgid(0, {pgid_to_set})")
    if extra_groups is not None:
        groups = [int(g) for g in extra_groups]
        array = (ctypes.c_uint32 * max(len(groups), 1))(*groups)
        b.keep.append(array)
        b.call(
            "syscall",
            SETRE["setgroups"],
            len(groups),
            ctypes.addressof(array),
            text=f"syscall(SYS_setgroups, {groups})",
            name="setgroups",
        )
    if not _unset(gid):
        b.call(
            "syscall",
            SETRE["setregid"],
            gid,
            gid,
            text=f"syscall(SYS_setregid, {gid}, {gid})",
            name="setregid",
        )
    if not _unset(uid):
        b.call(
            "syscall",
            SETRE["setreuid"],
            uid,
            uid,
            text=f"syscall(SYS_setreuid, {uid}, {uid})",
            name="setreuid",
        )
    # fds_to_keep become inheritable (all but errpipe_write, which this
    # parent writes instead); with close_fds every other fd from 3 up is
    # marked close-on-exec around them.
    keep = sorted({int(fd) for fd in fds_to_keep if int(fd) != errpipe_write and int(fd) > 2})
    for fd in keep:
        b.call("fcntl", fd, F_SETFD, 0, text=f"fcntl({fd}, F_SETFD, 0)", name="inheritable")
    if close_fds:
        low = 3
        for fd in [*keep, 0x100000000]:
            if fd > low:
                b.call(
                    "close_range",
                    low,
                    fd - 1,
                    CLOSE_RANGE_CLOEXEC,
                    text=f"close_range({low}, {fd - 1 if fd < 0x100000000 else '~0U'}, "
                    "CLOSE_RANGE_CLOEXEC)",
                )
            low = fd + 1
    # Every executable in turn, sharing one argv and one envp; only the
    # last one's failure is reported (see the module docstring).
    argv_address = b.c_string_array(argv)
    envp_address = b.c_string_array(envv)
    for index, executable in enumerate(executables):
        last = index == len(executables) - 1
        program = os.fsdecode(executable)
        args_text = [os.fsdecode(arg) for arg in argv] if last else "argv"
        b.call(
            "execve",
            b.c_string(executable),
            argv_address,
            envp_address,
            text=f"execve({program!r}, {args_text!r}, <{len(envv)} variables>)",
            checked=last,
            path=program if last else None,
        )
    assert _system.FORK is not None
    return b.plan(_system.__name__.rpartition(".")[2], _system.FORK, _system.EXIT, 3, saved_mask)


def _chdir_tagged() -> bool:
    # 3.13+ Popen tells a chdir failure ("noexec:chdir", filename = cwd)
    # from other failures before exec ("noexec", no filename); before that
    # every "noexec" is taken as chdir's. Read from the Popen in use.
    if sys.version_info >= (3, 13):
        return True
    import subprocess

    try:
        with open(subprocess.__file__, "rb") as source:
            return b'"noexec:chdir"' in source.read()
    except OSError:
        return False


CHDIR_TAGGED = _chdir_tagged()


def error_message(step: str, code: int) -> bytes:
    """What _posixsubprocess's child writes to errpipe_write for a failure at ``step``."""
    if step == "execve":
        return b"OSError:%x:" % code
    if step == "chdir" and CHDIR_TAGGED:
        return b"OSError:%x:noexec:chdir" % code
    return b"OSError:%x:noexec" % code


def _stand_in() -> int:
    """A child for Popen to reap where the runner reaped the failed one.

    posix_spawn (runner_spawn) reaps a child that failed before exec and
    returns only the errno; Popen will waitpid the pid fork_exec returns
    (and warn in __del__ if it cannot). So a failed start through that
    runner costs one more process: an immediately exiting ``true``, started
    the same way. Only on the failure path.
    """
    for program in ("/bin/true", "/usr/bin/true"):
        with contextlib.suppress(OSError):
            return os.posix_spawn(program, [program], {})
    return os.getpid()  # not a child: Popen's waitpid gets ECHILD


def _bind(arguments: tuple[Any, ...]) -> dict[str, Any]:
    if len(arguments) != len(PARAMETERS):
        raise TypeError(
            f"fork_exec() takes exactly {len(PARAMETERS)} arguments ({len(arguments)} given)"
        )
    return dict(zip(PARAMETERS, arguments))


def fork_exec(*arguments: Any) -> int:
    """``_posixsubprocess.fork_exec`` of this interpreter, on pysyscall's child program."""
    a = _bind(arguments)
    if a["preexec_fn"] is not None or not SETRE or sys.platform != "linux":
        if NATIVE is None:
            raise RuntimeError(
                "preexec_fn (or this platform) needs _posixsubprocess, which this interpreter lacks"
            )
        return NATIVE(*arguments)
    plan = child_program(
        a["args"],
        a["executable_list"],
        bool(a["close_fds"]),
        a["fds_to_keep"],
        a["cwd"],
        a["env_list"],
        (a["p2cread"], a["c2pwrite"], a["errwrite"]),
        bool(a["restore_signals"]),
        bool(a["call_setsid"]),
        a.get("pgid_to_set", -1),
        a["gid"],
        a["extra_groups"],
        a["uid"],
        a["child_umask"],
        a["errpipe_write"],
    )
    try:
        pid, _ = exec_unix._start(plan, reap_failed=False)
    except OSError as error:
        step = getattr(error, "step", None)
        if step is None:
            raise  # the parent's own failure (pipe, fork): Popen gets it as is
        os.write(a["errpipe_write"], error_message(step, error.errno or 0))
        # The failed child, unreaped: Popen reaps it, as it does natively.
        failed_pid: int | None = getattr(error, "pid", None)
        if failed_pid is None:
            failed_pid = _stand_in()
        return failed_pid
    finally:
        plan.close()
    return pid


def _targets() -> list[tuple[Any, str]]:
    import subprocess

    if sys.version_info >= (3, 11):
        return [(subprocess, "_fork_exec")]
    return [(_posixsubprocess, "fork_exec")]


_saved: list[tuple[Any, str, Any]] = []


def install() -> None:
    """Route subprocess (and asyncio's subprocess support) through ``fork_exec``."""
    if _saved:
        return
    for module, name in _targets():
        _saved.append((module, name, getattr(module, name)))
        setattr(module, name, fork_exec)


def uninstall() -> None:
    """Undo install()."""
    while _saved:
        module, name, original = _saved.pop()
        setattr(module, name, original)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """install() for the ``with`` block."""
    was = bool(_saved)
    install()
    try:
        yield
    finally:
        if not was:
            uninstall()
