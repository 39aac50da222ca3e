# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""Linux: SysProcAttr and the child's program (Go's exec_linux.go).

Its numbers are in zerrors_linux.py and the zsysnum_linux modules.

The steps come in the order of Go's forkAndExecInChild1; each names the Go
issue it guards against where history matters. The fork is glibc's
``_Fork`` (2.34+), which runs no atfork handlers; when clone flags or a pidfd
are asked for, or glibc is older, the raw clone system call (clone3 for a
cgroup or a time namespace), which runs none either. Likewise close_range is
glibc's wrapper (2.34+), else the system call by number: as in Go's child,
a raw system call ties the child to no glibc version.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
from collections.abc import Collection, Sequence

from . import libc
from ._platform import MACHINE, zsysnum
from .plan import (
    Builder,
    Cell,
    Plan,
    Record,
    Step,
    SysProcAttrBase,
    byte_ptr_from_string,
    check_common,
    check_open,
    signal_name,
)
from .zerrors_linux import (
    CLONE_INTO_CGROUP,
    CLONE_IO,
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWTIME,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    CLONE_PARENT,
    CLONE_PIDFD,
    CLONE_PTRACE,
    CLONE_SYSVSEM,
    CLONE_UNTRACED,
    CLOSE_RANGE_CLOEXEC,
    CSIGNAL,
    LINUX_CAPABILITY_VERSION_3,
    MFD_CLOEXEC,
    MS_PRIVATE,
    MS_REC,
    O_CLOEXEC,
    O_WRONLY,
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_RAISE,
    PR_SET_KEEPCAPS,
    PR_SET_PDEATHSIG,
    PTRACE_TRACEME,
    SIG_SETMASK,
    SIGACTION_SIZE,
    SIGCHLD,
    SIGSET_SIZE,
    TIOCNOTTY,
    TIOCSCTTY,
    TIOCSPGRP,
)
from .zsysnum_linux import SYS_CLONE3, SYS_CLOSE_RANGE, SYS_PIDFD_OPEN

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any

    from .plan import Credential, Envv, StrPath

PLATFORMS = ("linux",)

EXIT = "_exit"  # glibc's _exit: exit_group, no atexit handlers
ERRNO_LOCATION = "__errno_location"


class SysProcIDMap(Record):
    """Port of Go's SysProcIDMap: ``size`` ids from ``host_id`` appear as ``container_id``."""

    __slots__ = ("container_id", "host_id", "size")

    def __init__(self, container_id: int, host_id: int, size: int) -> None:
        self.container_id = container_id
        self.host_id = host_id
        self.size = size


class SysProcAttr(SysProcAttrBase):
    """Port of Go's SysProcAttr (exec_linux.go). Every field is off by default.

    ``chroot``: the child's root, set before ``credential`` and the working
    directory. ``credential``: the ids to run as (see Credential).
    ``ptrace``: the child asks to be traced (PTRACE_TRACEME), last of all.
    ``setsid``: a new session. ``setpgid``: join process group ``pgid`` (0: a
    new one, the child's pid). ``setctty``: make child fd ``ctty`` the
    controlling terminal (needs ``setsid``). ``noctty``: detach fd 0 from its
    controlling terminal. ``foreground``: put the child's group in the
    foreground of the terminal at parent fd ``ctty`` (implies setpgid).
    ``pdeathsig``: the signal the child gets when the thread that started it
    exits (go.dev/issue/27505: the thread, not the process). ``cloneflags``:
    CLONE_NEW* namespaces to create at the fork. ``unshareflags``: namespaces
    the child unshares; with CLONE_NEWNS "/" is made private first.
    ``uid_mappings``, ``gid_mappings``: the user namespace's id maps,
    ``gid_mappings_enable_setgroups``: allow setgroups in it.
    ``ambient_caps``: capabilities raised into the ambient set, kept across
    the credential change. ``use_cgroup_fd``, ``cgroup_fd``: start the child
    in that cgroup v2 directory. ``pidfd``: get a pidfd for the child, which
    start_process returns as its handle (Go's PidFD).
    """

    __slots__ = (
        "ambient_caps",
        "cgroup_fd",
        "cloneflags",
        "gid_mappings",
        "gid_mappings_enable_setgroups",
        "pdeathsig",
        "pidfd",
        "uid_mappings",
        "unshareflags",
        "use_cgroup_fd",
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
        pdeathsig: int = 0,
        cloneflags: int = 0,
        unshareflags: int = 0,
        uid_mappings: Sequence[SysProcIDMap] | None = None,  # None: a new list
        gid_mappings: Sequence[SysProcIDMap] | None = None,  # None: a new list
        gid_mappings_enable_setgroups: bool = False,
        ambient_caps: Sequence[int] | None = None,  # None: a new list
        use_cgroup_fd: bool = False,
        cgroup_fd: int = 0,
        pidfd: bool = False,
    ) -> None:
        super().__init__(
            chroot, credential, ptrace, setsid, setpgid, setctty, noctty, ctty, foreground, pgid
        )
        self.pdeathsig = pdeathsig
        self.cloneflags = cloneflags
        self.unshareflags = unshareflags
        self.uid_mappings: Sequence[SysProcIDMap] = [] if uid_mappings is None else uid_mappings
        self.gid_mappings: Sequence[SysProcIDMap] = [] if gid_mappings is None else gid_mappings
        self.gid_mappings_enable_setgroups = gid_mappings_enable_setgroups
        self.ambient_caps: Sequence[int] = [] if ambient_caps is None else ambient_caps
        self.use_cgroup_fd = use_cgroup_fd
        self.cgroup_fd = cgroup_fd
        self.pidfd = pidfd


# What cloneflags may ask for: new namespaces, flags that change nothing in
# this process, and SIGCHLD as the exit signal (the C idiom; every fork has
# it). Go hands any flag to clone; the others are refused here, before the
# fork, because they break this process: CLONE_THREAD (with CLONE_SIGHAND)
# makes the child a thread, whose execve replaces this whole process;
# CLONE_FILES and CLONE_FS share this process's fd table and cwd with a
# child that rearranges its own; CLONE_SETTLS and the tid flags write into
# memory the child shares; another exit signal hides the child from wait4.
# CLONE_VM, CLONE_VFORK and CLONE_CLEAR_SIGHAND are the runner's to choose;
# pidfd and use_cgroup_fd ask for CLONE_PIDFD and CLONE_INTO_CGROUP.
# CLONE_PARENT is Go's too: the child is this process's parent's to wait for.
EXIT_SIGNAL = CSIGNAL & ~CLONE_NEWTIME  # the low byte but CLONE_NEWTIME, which clone3 reads there
CLONEFLAGS = (
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
    | CLONE_NEWNET | CLONE_NEWTIME | CLONE_PARENT | CLONE_PTRACE | CLONE_UNTRACED | CLONE_IO
    | CLONE_SYSVSEM
)  # fmt: skip
UNSHAREFLAGS_MAX = 0x7FFFFFFF  # unshare(2) takes an int: a higher bit would be cut off
ID_MAX = 0xFFFFFFFF  # ids and id-map ranges are 32-bit in the kernel


def _fork_step(sys: SysProcAttr, pidfd: Cell | None, keep: list[Any]) -> Step:
    """The fork: _Fork, or raw clone/clone3 for flags _Fork cannot pass."""
    # SIGCHLD, the C idiom's exit signal (check lets only it through), is
    # every fork's: clone gets it below, clone3 in its own field.
    flags = sys.cloneflags & ~EXIT_SIGNAL | (CLONE_PIDFD if pidfd is not None else 0)
    pidfd_address = 0 if pidfd is None else ctypes.addressof(pidfd)
    if sys.use_cgroup_fd or flags & CLONE_NEWTIME:
        # CLONE_NEWTIME overlaps clone's exit-signal byte; a cgroup needs
        # clone3's own field. Like Go, no fallback where clone3 is missing.
        if sys.use_cgroup_fd:
            flags |= CLONE_INTO_CGROUP
        args = (ctypes.c_uint64 * 11)(
            flags, pidfd_address, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, sys.cgroup_fd
        )
        keep.append(args)
        return Step(
            "clone3",
            "syscall",
            (SYS_CLONE3, ctypes.addressof(args), ctypes.sizeof(args)),
            f"syscall(SYS_clone3, {{flags={flags:#x}, exit_signal=SIGCHLD, "
            f"cgroup={sys.cgroup_fd}}}, {ctypes.sizeof(args)})",
        )
    if flags or not libc.has("_Fork"):
        assert zsysnum is not None  # check() refuses a machine without the numbers
        return Step(
            "clone",
            "syscall",
            (zsysnum.SYS_CLONE, flags | SIGCHLD, 0, pidfd_address, 0, 0),
            f"syscall(SYS_clone, {f'{flags:#x}|' if flags else ''}SIGCHLD, 0, "
            f"{'&pidfd' if pidfd else 0}, 0, 0)",
        )
    return Step("fork", "_Fork", (), "_Fork()")


# The plain fork (no flags): _Fork, else the clone system call by number.
FORK: Step | None = (
    _fork_step(SysProcAttr(), None, []) if libc.has("_Fork") or zsysnum is not None else None
)


def close_range_call(
    first: int, last: int, flags: int, shown: str = ""
) -> tuple[str, tuple[int, ...], str]:
    """The function, arguments and text of close_range(first, last, flags) for a step.

    glibc's wrapper (2.34+), else the system call by number through syscall();
    raises ENOSYS where neither is known (no number for this machine).
    ``shown``: the arguments as the step's text shows them.
    """
    if libc.has("close_range"):
        return "close_range", (first, last, flags), f"close_range({shown})"
    if zsysnum is None:  # a machine whose raw system calls pysyscall does not make
        raise libc.errno_error(
            errno.ENOSYS, f"no close_range in the C library, no number for {MACHINE}"
        )
    return (
        "syscall",
        (SYS_CLOSE_RANGE, first, last, flags),
        f"syscall(SYS_close_range, {shown})",
    )


def _has_close_range_cloexec() -> bool:
    # An empty range at the top: 0 where close_range knows the flag (Linux
    # 5.11+), EINVAL or ENOSYS where it does not.
    try:
        func, args, _ = close_range_call(0xFFFFFFFF, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
    except OSError:
        return False
    result: int = libc.parent(func)(*libc.variadic_arguments(func, args))
    return result == 0


CLOSE_RANGE = _has_close_range_cloexec()
# Whether the child marks every fd past the files close-on-exec (below); the
# lab turns it off to show Go's own child, which does not.
SWEEP = True
# The vfork routine's function that does it on any kernel (see mark_cloexec).
CLOEXEC_RANGE = "cloexec_range"


def mark_cloexec(b: Builder, first: int, last: int, last_text: str) -> None:
    """A step that marks every open fd from ``first`` to ``last`` close-on-exec.

    close_range(CLOSE_RANGE_CLOEXEC) where this kernel has it (5.11+);
    elsewhere the routine's cloexec_range (asm_linux_amd64.s,
    asm_linux_arm64.s), which makes
    the same call and, where it fails (ENOSYS before 5.9, EINVAL on 5.9 and
    5.10, EPERM under an old seccomp profile), walks /proc/self/fd with
    getdents64, else marks every fd below the RLIMIT_NOFILE soft limit:
    CPython's _posixsubprocess fallbacks, with no Python in the child. Its
    third argument is the address of __errno_location, through which it
    reports a failure.
    """
    if CLOSE_RANGE:
        shown = f"{first}, {last_text}, CLOSE_RANGE_CLOEXEC"
        func, args, text = close_range_call(first, last, CLOSE_RANGE_CLOEXEC, shown)
        b.call(func, *args, text=text, name="close_range")
        return
    b.call(
        CLOEXEC_RANGE,
        first,
        last,
        _errno_location_address(),
        text=f"cloexec_range({first}, {last_text}): close_range(CLOSE_RANGE_CLOEXEC), "
        "else each fd in /proc/self/fd, else each fd below RLIMIT_NOFILE",
        name="cloexec_range",
    )


def _errno_location_address() -> int:
    function: Any = libc.parent(ERRNO_LOCATION)
    return int(ctypes.cast(function, ctypes.c_void_p).value or 0)


# What kernel_lacks probes, and what each needs (for errors and info).
KERNEL_FEATURES = {
    "close_range": "close_range (Linux 5.9+)",
    "close_range_cloexec": "close_range's CLOSE_RANGE_CLOEXEC (Linux 5.11+)",
    "clone3": "clone3 (Linux 5.3+)",
    "clone_clear_sighand": "clone3's CLONE_CLEAR_SIGHAND (Linux 5.5+)",
    "pidfd": "pidfds (pidfd_open, Linux 5.3+; CLONE_PIDFD, 5.2+)",
    "memfd": "memfd_create (Linux 3.17+)",
}
_lacks: dict[str, int] = {}


def kernel_lacks(feature: str) -> int:
    """0 if this kernel (and its seccomp filter) allows ``feature``, else the errno it gave.

    One system call, made once per feature (KERNEL_FEATURES), none with an
    effect: clone3 with no arguments (EINVAL where it exists), clone3 with
    5.5's arguments (set_tid pointing at no memory), pidfd_open of
    this process (the fd closed), close_range of the one fd past the
    largest, memfd_create (closed). ENOSYS: the kernel is older; EPERM (or
    any other errno): a seccomp profile refuses the call, as Docker's before
    20.10 does for clone3 and close_range.
    """
    known = _lacks.get(feature)
    if known is not None:
        return known
    call = libc.parent("syscall")

    def syscall(*args: int) -> int:
        result: int = call(*libc.variadic_arguments("syscall", args))
        return ctypes.get_errno() if result == -1 else 0

    if feature == "clone3":
        code = syscall(SYS_CLONE3, 0, 0)
        code = 0 if code == errno.EINVAL else code
    elif feature == "clone_clear_sighand":
        # Came with clone3's set_tid in 5.5, and no flag can be asked about
        # without a child (an unknown flag and a refused combination are both
        # EINVAL): a clone_args whose set_tid points at no memory. 5.5+ fails
        # to read it (EFAULT) before any process is made; 5.3 and 5.4, which
        # know 64 bytes, refuse non-zero bytes past them (E2BIG). 96 bytes, a
        # size no C library's clone3 passes (glibc's: 88), zero past set_tid.
        args = (ctypes.c_uint64 * 12)()
        args[8], args[9] = 8, 1  # set_tid: an address no process maps; set_tid_size
        code = kernel_lacks("clone3")
        if not code:
            read = syscall(SYS_CLONE3, ctypes.addressof(args), ctypes.sizeof(args))
            code = 0 if read == errno.EFAULT else errno.ENOSYS
    elif feature == "pidfd":
        fd = call(*libc.variadic_arguments("syscall", (SYS_PIDFD_OPEN, os.getpid(), 0)))
        code = ctypes.get_errno() if fd == -1 else 0
        if fd != -1:
            os.close(fd)
    elif feature.startswith("close_range"):
        flags = CLOSE_RANGE_CLOEXEC if feature == "close_range_cloexec" else 0
        code = syscall(SYS_CLOSE_RANGE, 0xFFFFFFFF, 0xFFFFFFFF, flags)
    elif feature == "memfd":
        create: Any = getattr(os, "memfd_create", None)  # CPython 3.8+ on Linux
        try:
            os.close(create("pysyscall-probe", MFD_CLOEXEC))
            code = 0
        except OSError as error:
            code = error.errno or errno.EPERM
    else:
        raise ValueError(f"no kernel feature {feature!r}: have {', '.join(KERNEL_FEATURES)}")
    _lacks[feature] = code
    return code


def refused(feature: str, code: int) -> str:
    """Why the kernel refuses ``feature``, from the errno it gave."""
    what = KERNEL_FEATURES[feature]
    if code == errno.ENOSYS:
        return f"this kernel has no {what}"
    return f"{what} is refused here ({errno.errorcode.get(code, code)}: a seccomp profile?)"


def check(sys: SysProcAttr, files: Sequence[int]) -> None:
    """Go's checks before the fork (check_common), and the Linux fields' own.

    Bad values raise ValueError or TypeError, a closed fd OSError(EBADF):
    nothing has been forked or opened yet.
    """
    check_common(sys, files)
    _check_int("cloneflags", sys.cloneflags)
    _check_int("unshareflags", sys.unshareflags)
    flags, exit_signal = sys.cloneflags, sys.cloneflags & EXIT_SIGNAL
    if flags < 0 or flags & ~(CLONEFLAGS | EXIT_SIGNAL) or exit_signal not in (0, SIGCHLD):
        raise ValueError(
            f"cloneflags {sys.cloneflags:#x} has {_clone_flag_names(sys.cloneflags)}: it "
            "takes CLONE_NEW* namespaces, CLONE_PARENT, CLONE_PTRACE, CLONE_UNTRACED, "
            "CLONE_IO, CLONE_SYSVSEM and SIGCHLD (the start picks its own clone flags; "
            "pidfd and use_cgroup_fd ask for theirs)"
        )
    if not 0 <= sys.unshareflags <= UNSHAREFLAGS_MAX:
        raise ValueError(f"unshareflags {sys.unshareflags:#x} does not fit unshare(2)'s int flags")
    for what, mappings in (("uid_mappings", sys.uid_mappings), ("gid_mappings", sys.gid_mappings)):
        _check_id_maps(what, mappings)
    if (sys.uid_mappings or sys.gid_mappings) and not (
        (sys.cloneflags | sys.unshareflags) & CLONE_NEWUSER
    ):
        raise ValueError("uid or gid mappings need CLONE_NEWUSER in cloneflags or unshareflags")
    _check_int("pdeathsig", sys.pdeathsig)
    for i, cap in enumerate(_collection("ambient_caps", sys.ambient_caps)):
        _check_int(f"ambient_caps[{i}]", cap)
    if sys.pdeathsig and not 0 < sys.pdeathsig < signal.NSIG:
        raise ValueError(f"pdeathsig {sys.pdeathsig} is not a signal number")
    if sys.ambient_caps:
        last = int(libc.read_file("/proc/sys/kernel/cap_last_cap"))
        for cap in sys.ambient_caps:
            if not 0 <= cap <= last:
                raise ValueError(f"unknown capability {cap}: this kernel has 0..{last}")
    if sys.use_cgroup_fd:
        check_open(sys.cgroup_fd, "cgroup_fd")
    if (sys.cloneflags or sys.use_cgroup_fd or sys.pidfd or FORK is None) and zsysnum is None:
        raise libc.errno_error(errno.ENOSYS, f"no clone system call number for {MACHINE}")
    # Before any fork, as Go probes pidfd support once (os/pidfd_linux.go):
    # a kernel before 5.2 may ignore CLONE_PIDFD rather than refuse it.
    if sys.pidfd and kernel_lacks("pidfd"):
        code = kernel_lacks("pidfd")
        raise libc.errno_error(code, f"SysProcAttr.pidfd: {refused('pidfd', code)}")
    if (sys.use_cgroup_fd or sys.cloneflags & CLONE_NEWTIME) and kernel_lacks("clone3"):
        # Neither fits clone's arguments: no fallback, as in Go.
        what = "use_cgroup_fd" if sys.use_cgroup_fd else "CLONE_NEWTIME"
        code = kernel_lacks("clone3")
        raise libc.errno_error(code, f"{what} needs clone3: {refused('clone3', code)}")


def _check_int(what: str, value: object) -> None:
    """Raise TypeError naming ``what`` unless ``value`` is an int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")


def _collection(what: str, values: Collection[Any]) -> Collection[Any]:
    """``values``, or TypeError naming ``what`` if it is not a collection (a list,
    a tuple, a set: read more than once, so not an iterator)."""
    if not isinstance(values, Collection) or isinstance(values, (str, bytes)):
        raise TypeError(f"{what} must be a list, tuple or set, not {type(values).__name__}")
    return values


def _clone_flag_names(flags: int) -> str:
    """What of ``flags`` cloneflags refuses, by name where the flag has one."""
    if flags < 0:
        return "a negative value"
    from . import zerrors_linux

    refused = flags & ~(CLONEFLAGS | EXIT_SIGNAL)
    said = []
    if flags & EXIT_SIGNAL not in (0, SIGCHLD):
        said.append(f"exit signal {flags & EXIT_SIGNAL} (the CSIGNAL byte)")
    for name, value in vars(zerrors_linux).items():
        if name.startswith("CLONE_") and refused & value == value:
            said.append(name)
            refused &= ~value
    return ", ".join(said + ([f"{refused:#x}"] if refused else []))


def _check_id_maps(what: str, mappings: Sequence[SysProcIDMap]) -> None:
    """Refuse id maps the kernel would cut to 32 bits or refuse after the fork."""
    fields = ("container_id", "host_id", "size")
    for i, m in enumerate(_collection(what, mappings)):
        if not all(hasattr(m, field) for field in fields):
            raise TypeError(f"{what}[{i}] must be a SysProcIDMap, not {type(m).__name__}")
        for field in fields:
            _check_int(f"{what}[{i}].{field}", getattr(m, field))
        if m.size < 1 or min(m.container_id, m.host_id) < 0:
            raise ValueError(f"{what}[{i}] is {m}: ids are 0 or more, size 1 or more")
        if max(m.container_id, m.host_id) + m.size > ID_MAX:
            raise ValueError(f"{what}[{i}] is {m}: ids are 0 to {ID_MAX - 1}")


def _id_map_text(mappings: Sequence[SysProcIDMap]) -> bytes:
    """Port of formatIDMappings (exec_linux.go): one "container host size" line per map."""
    return b"".join(b"%d %d %d\n" % (m.container_id, m.host_id, m.size) for m in mappings)


def _write_proc_self(b: Builder, name: str, data: bytes) -> None:
    """Steps that write ``data`` to /proc/self/NAME (the child's own id maps)."""
    fd = b.cell(-1)
    path = f"/proc/self/{name}"
    b.call(
        "open",
        b.c_string(path.encode()),
        O_WRONLY,
        text=f"open({path!r}, O_WRONLY) -> fd",
        store=fd,
        path=path,
    )
    b.call("write", fd, b.c_string(data), len(data), text=f"write(fd, {data!r})", path=path)
    b.call("close", fd, text="close(fd)")


def _ambient_capabilities(sys: SysProcAttr) -> tuple[Any, Any]:
    """The capset header and data for the child, computed in the parent.

    Go's child reads its capabilities and ORs the ambient ones into the
    permitted and inheritable sets. Here the parent reads them (the child's
    are the same, kept across setuid by PR_SET_KEEPCAPS) and does the OR;
    the effective set is empty, as setuid away from root leaves it.
    """
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two of {effective, permitted, inheritable}
    libc.call("capget", ctypes.addressof(header), ctypes.addressof(data))
    for cap in sys.ambient_caps:
        word = 3 * (cap >> 5)
        data[word + 1] |= 1 << (cap & 31)
        data[word + 2] |= 1 << (cap & 31)
    credential = sys.credential
    if credential is not None and credential.uid != 0 and libc.call("geteuid") == 0:
        data[0] = data[3] = 0
    return header, data


def credential_steps(
    b: Builder, groups: Sequence[int] | None, gid: int | None, uid: int | None, real: bool = False
) -> None:
    """The credential change, as raw system calls: setgroups, then the gid, then the uid.

    Go's order and Go's raw calls (forkAndExecInChild1): glibc's wrappers
    signal every other thread to change its ids too, threads a forked
    child does not have. None leaves the groups or that id as it is.
    ``real``: setregid(gid, gid) and setreuid(uid, uid), which CPython's
    child calls (_posixsubprocess.c's child_exec), instead of setgid and
    setuid.
    """
    if zsysnum is None:
        raise libc.errno_error(
            errno.ENOSYS, f"no setgroups, setgid and setuid system call numbers for {MACHINE}"
        )
    if groups is not None:
        groups = list(groups)
        array = (ctypes.c_uint32 * max(len(groups), 1))(*groups)
        b.keep.append(array)
        b.call(
            "syscall",
            zsysnum.SYS_SETGROUPS,
            len(groups),
            ctypes.addressof(array) if groups else 0,
            text=f"syscall(SYS_setgroups, {groups})",
            name="setgroups",
        )
    ids = (
        (
            gid,
            "setregid" if real else "setgid",
            zsysnum.SYS_SETREGID if real else zsysnum.SYS_SETGID,
        ),
        (
            uid,
            "setreuid" if real else "setuid",
            zsysnum.SYS_SETREUID if real else zsysnum.SYS_SETUID,
        ),
    )
    for value, name, number in ids:
        if value is not None:
            args = (value, value) if real else (value,)
            shown = ", ".join(map(str, args))
            b.call("syscall", number, *args, text=f"syscall(SYS_{name}, {shown})", name=name)


def child_program(
    argv0: bytes,
    argv: Sequence[bytes],
    envv: Envv,
    dir: bytes | None,
    files: Sequence[int],
    sys: SysProcAttr,
    signals: Sequence[int],
) -> Plan:
    """Port of the child half of forkAndExecInChild1 (exec_linux.go), as a Plan.

    ``signals`` are the signals whose handlers the child resets
    (runtime.signals_to_reset). Checks ``sys`` first (see check).
    """
    check(sys, files)
    chroot = None if sys.chroot is None else byte_ptr_from_string(sys.chroot, "chroot")
    b = Builder()
    new_user_by_unshare = bool(sys.unshareflags & CLONE_NEWUSER)
    after_fork = None

    if sys.ambient_caps:
        b.call("prctl", PR_SET_KEEPCAPS, 1, 0, 0, 0, text="prctl(PR_SET_KEEPCAPS, 1)")
    map_pipe = None
    if sys.uid_mappings or sys.gid_mappings:
        # Wait until the parent has written the id maps (or, with
        # unshareflags, until it says go): the parent closes its end without
        # writing if it failed, and the read then returns 0. Each start makes
        # the pipe (Plan.parent_pipe); its fds are Cells.
        map_pipe = b.cell(-1), b.cell(-1)
        b.call("close", map_pipe[1], text="close(id-map pipe, write end)")
        word = b.buffer(8)
        b.call("read", map_pipe[0], word, 8, text="read(id-map pipe, 8)", expect=8, name="id maps")
    b.session(sys, TIOCSPGRP)
    # After TIOCSPGRP, so the child is not stopped by SIGTTOU (go.dev/issue/37217).
    saved_mask = b.reset_signals(signals, SIGACTION_SIZE, SIG_SETMASK, SIGSET_SIZE)
    if sys.unshareflags:
        b.call("unshare", sys.unshareflags, text=f"unshare({sys.unshareflags:#x})")
        if new_user_by_unshare and sys.gid_mappings:
            allow = b"allow" if sys.gid_mappings_enable_setgroups else b"deny"
            _write_proc_self(b, "setgroups", allow)
            _write_proc_self(b, "gid_map", _id_map_text(sys.gid_mappings))
        if new_user_by_unshare and sys.uid_mappings:
            _write_proc_self(b, "uid_map", _id_map_text(sys.uid_mappings))
        if sys.unshareflags & CLONE_NEWNS:
            # systemd mounts / shared: keep the child's mounts its own
            # (go.dev/issue/19661).
            b.call(
                "mount",
                b.c_string(b"none"),
                b.c_string(b"/"),
                0,
                MS_REC | MS_PRIVATE,
                0,
                text='mount("none", "/", NULL, MS_REC|MS_PRIVATE, NULL)',
            )
    if chroot is not None:
        b.chroot(chroot)
    credential = sys.credential
    if credential is not None:
        groups = list(credential.groups)
        setgroups_denied = bool(sys.gid_mappings) and not sys.gid_mappings_enable_setgroups
        skip_groups = credential.no_setgroups or (setgroups_denied and not groups)
        credential_steps(b, None if skip_groups else groups, credential.gid, credential.uid)
    if sys.ambient_caps:
        header, data = _ambient_capabilities(sys)
        b.keep += [header, data]
        b.call(
            "capset",
            ctypes.addressof(header),
            ctypes.addressof(data),
            text="capset(v3, permitted and inheritable + the ambient caps)",
        )
        for cap in sys.ambient_caps:
            b.call(
                "prctl",
                PR_CAP_AMBIENT,
                PR_CAP_AMBIENT_RAISE,
                cap,
                0,
                0,
                text=f"prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, {cap})",
            )
    if dir is not None:
        b.chdir(dir)
    if sys.pdeathsig:
        name = signal_name(sys.pdeathsig)
        b.call(
            "prctl",
            PR_SET_PDEATHSIG,
            sys.pdeathsig,
            0,
            0,
            0,
            text=f"prctl(PR_SET_PDEATHSIG, {name})",
        )
        if not sys.cloneflags & CLONE_NEWPID:
            # The parent may have died before the prctl: then signal
            # ourselves. (In a new pid namespace getppid() is 0: no check.)
            pid = b.cell()
            b.call("getpid", text="getpid() -> pid", store=pid)
            parent = libc.call("getpid")
            kill = Step("kill", "kill", (pid, sys.pdeathsig), f"kill(pid, {name})")
            b.call("getppid", text="getppid()", otherwise=kill, expect=parent)

    def dup_cloexec(old: int, new: int) -> None:
        b.call("dup3", old, new, O_CLOEXEC, text=f"dup3({old}, {new}, O_CLOEXEC)")

    def dup(old: int, new: int) -> None:
        b.call("dup3", old, new, 0, text=f"dup3({old}, {new}, 0)")

    first_free_fd = b.fd_passes(files, dup_cloexec, dup, b.clear_cloexec)
    if SWEEP:
        # Go stops here: an inheritable fd not in files leaks into the child.
        # Python's subprocess (close_fds=True) closes them, and fds a Python
        # process inherited from its own parent are inheritable: mark every
        # fd above the files close-on-exec (the status pipe already is).
        mark_cloexec(b, len(files), 0xFFFFFFFF, "~0U")
    if sys.noctty:
        b.call("ioctl", 0, TIOCNOTTY, 0, text="ioctl(0, TIOCNOTTY)", name="ioctl TIOCNOTTY")
    if sys.setctty:
        b.call(
            "ioctl",
            sys.ctty,
            TIOCSCTTY,
            1,
            text=f"ioctl({sys.ctty}, TIOCSCTTY, 1)",
            name="ioctl TIOCSCTTY",
        )
    if sys.ptrace:
        # Last, so no other step is traced (go.dev/issue/21428).
        b.call("ptrace", PTRACE_TRACEME, 0, 0, 0, text="ptrace(PTRACE_TRACEME)")
    b.execve(argv0, argv, envv)
    pidfd = b.cell(-1) if sys.pidfd else None
    fork = _fork_step(sys, pidfd, b.keep)
    if map_pipe is not None:
        after_fork = _id_map_handshake(sys, map_pipe[1])
    return b.plan(
        "linux",
        fork,
        EXIT,
        first_free_fd,
        saved_mask,
        after_fork=after_fork,
        parent_pipe=map_pipe,
        pidfd=pidfd,
    )


def _id_map_handshake(sys: SysProcAttr, map_write: Cell) -> Any:
    """Port of the parent's side of Go's id-map handshake (exec_linux.go:
    forkAndExecInChild's call of writeUidGidMappings).

    With CLONE_NEWUSER in cloneflags the parent writes the child's maps
    (uid_map, then setgroups, then gid_map: writeUidGidMappings), then lets
    the child go. Returns the function the runner's caller calls with the
    child's pid, under the fork lock; it returns the error, if any.
    ``map_write``: the pipe's write end, this start's (Plan.parent_pipe).
    """

    def write_maps(pid: int) -> OSError | None:
        error = None
        if not sys.unshareflags & CLONE_NEWUSER:
            try:
                if sys.uid_mappings:
                    libc.write_file(f"/proc/{pid}/uid_map", _id_map_text(sys.uid_mappings))
                if sys.gid_mappings:
                    allow = b"allow" if sys.gid_mappings_enable_setgroups else b"deny"
                    # Kernels before 3.19 have no setgroups file.
                    try:  # noqa: SIM105 (contextlib would be 0.4 ms of a first start)
                        libc.write_file(f"/proc/{pid}/setgroups", allow)
                    except FileNotFoundError:
                        pass
                    libc.write_file(f"/proc/{pid}/gid_map", _id_map_text(sys.gid_mappings))
            except OSError as failure:
                failure.step = "id maps"  # type: ignore[attr-defined]  # the child's waiting step
                error = failure
        if error is None:
            libc.call("write", map_write.value, bytes(8), 8)
        return error

    return write_maps
