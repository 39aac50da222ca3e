# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The vfork runner: Go's Linux child, run by a small machine-code routine.

Go starts Linux children with clone(CLONE_VM|CLONE_VFORK): the child borrows
the parent's memory, so a start costs the same in a small and a huge parent,
and it runs only runtime-free code until execve. Python code cannot run in
such a child, but the child needs none: the plan (plan.py) is already a list
of C calls. This runner lays the plan out as a table of C words and starts
the child with glibc's ``clone(fn, stack, CLONE_VM|CLONE_VFORK|SIGCHLD|flags,
table, parent_tid)`` (through ctypes, the GIL released), where ``fn`` is a
routine of about 95 instructions (x86-64: asm_linux_amd64.s, 350 bytes, 690
with cloexec_range, below; aarch64: asm_linux_arm64.s, 384 bytes, 784 with
cloexec_range; their bytes in the .py beside each) that walks the table:
for each entry, load the six integer arguments, call the function (a libc
function, or one of
the routine's own: ROUTINE_CALLS), judge the result, and on failure
store errno and the step number in the failure record, write the record to
the status pipe and ``_exit(253)``. No Python runs in the child, and no
Python object is touched there: the table holds only addresses of C
buffers the plan keeps alive until clone returns (the parent is suspended
until the child has called execve or exited).

The table (header, then one entry per call; 64-bit words; the offsets and
flags are the listing's, read from the generated module):

* header: number of entries, the addresses of ``__errno_location``,
  ``write`` and ``_exit``, the status fd (-1: none), the record's address and
  size, the failure exit status (253), EINVAL;
* entry: function address, six integer arguments, flags, expected value,
  store address, the plan's step number. Flags: ``F_LOAD0 << k``, argument
  k is a Cell's address and the Cell's value is loaded at call time;
  ``F_FAIL``, fail on -1; ``F_EXPECT``, errno is set to EINVAL before the
  call and any result but the expected one fails (a read that returns too
  few bytes); ``F_STORE``, the result goes into a Cell; ``F_OTHERWISE``,
  unless the result is the expected one, the next entry (the step's
  ``otherwise``) runs, else it is skipped; ``F_IF_EQUAL``, the converse:
  the next entry runs only if the result is the expected one (the signal
  rule, below); ``F_WIDE``, the result is a
  64-bit long, else an int (sign-extended before it is judged). No judging
  flag: the result is ignored (Go ignores failures to close).

No status pipe: clone(CLONE_VFORK) returns only once the child has called
execve or exited, and the child wrote its failure record (if any) into the
memory it shares with the parent (``plan.record``), so the parent reads the
record right there, and exec_unix reaps the child and raises the step's
error as it does for a record read from the pipe. Waiting for the pipe's
EOF made the parent wait for the child's close-on-exec, after the exec has
already released it: measured here, start + reap of /bin/true took 1.08x
os.posix_spawn's time with the pipe, 0.91x without. A plan that runs out
of steps without exec reports its last step failed, as the fork runner's
tail does.

Interpreters: the child runs no interpreter code at all, so PyPy is
supported too (its ctypes only builds the call in the parent). Machines:
x86-64 and aarch64, the same table for both (the listings share its layout
and flags; _platform.asm is the one for this machine, and everything
machine-specific is in it). aarch64 is tested under full-system emulation
(qemu-system-aarch64 booting Debian's arm64 kernel, .ci/arm64-guest.sh),
which honours CLONE_VM|CLONE_VFORK; qemu-user does not (it makes a plain
fork), so it cannot test this runner. Elsewhere the runner says it has no
routine and ``auto`` falls back.

Hazards (../shared/design/vfork-runner.md), and how they are met:

* only lock-free libc calls run in the child: a plan that calls anything
  outside ``SAFE_CALLS`` is refused (``unavailable``); credentials are raw
  ``syscall(SYS_setgroups/setgid/setuid)`` in linux.py, never glibc's setuid
  family, which would signal the parent's threads;
* signals: the forking thread blocks them all around clone
  (runtime.ForkCalls); the child resets the handlers and
  restores the mask; the child's handler table is a copy (no
  CLONE_SIGHAND), so resetting it there leaves the parent's alone. For a
  plan that says by what rule its resets were chosen (Plan.signal_rule:
  every exec_unix plan), the routine applies the rule to every signal in
  the child (_signal_rule_entries, raw rt_sigaction: recent glibc's
  sigaction takes a lock for SIGABRT) instead of the list read in the
  parent, so a remembered plan needs no new reading of the handlers
  (measured: start + reap 1.055x os.posix_spawn's time with the reading,
  0.99-1.02x with the rule). Where the kernel has CLONE_CLEAR_SIGHAND
  (clone3, 5.5+), the clone applies the rule's caught-to-default half and
  the routine only sets the rule's ignored signals to default
  (clears_handlers): 2 system calls in the child, not about 60;
* errno: the child runs on the forking thread's TLS, so its errno writes
  land in that thread's errno; only the record is read afterwards;
* one child stack per thread (a spawn is synchronous in its thread, and the
  GIL is released around clone so other threads spawn at the same time),
  each with a guard page below it;
* W^X: the routine's bytes go into a memfd (or, failing that, an unlinked
  temporary file) mapped PROT_READ|PROT_EXEC: never a writable and
  executable page, so it works under MemoryDenyWriteExecute and
  PR_SET_MDWE. If no mapping can be made the runner is unavailable and
  ``auto`` falls back;
* a new user namespace (CLONE_NEWUSER in cloneflags or unshareflags) needs
  the parent to write the id maps while the child waits, which a
  suspended parent cannot: as Go does, such a child is started without
  CLONE_VM|CLONE_VFORK (a copy of the parent, at fork's cost), runs the
  same routine, and reports on the status pipe (shares_memory).

clone3-only requests (CLONE_NEWTIME, CLONE_INTO_CGROUP) go through a
second entry of the routine, ``clone3_vfork``, which makes the clone3
system call with CLONE_VM|CLONE_VFORK and the child stack, as Go's
rawVforkSyscall does, and enters the same loop in the child.

The routine's third function, ``cloexec_range(first, last, errno_location)``,
is not an entry point but a step a plan calls (ROUTINE_CALLS): the fd sweep
on kernels without close_range(CLOSE_RANGE_CLOEXEC) (linux.mark_cloexec).
It tries close_range, then walks /proc/self/fd with getdents64, then marks
every fd below the RLIMIT_NOFILE soft limit, with raw system calls (CPython's
_posixsubprocess fallbacks), and reports a failure as a C function does, -1
and errno, through the __errno_location it is given. The fork runner's
child calls the same bytes through ctypes (routine_function).
"""

from __future__ import annotations

import array
import ctypes
import errno
import functools
import os
import signal
import threading

from . import _platform, libc, runtime, zerrors_linux
from ._platform import GOOS, MACHINE, zsysnum
from .libc import run_chain as _run
from .plan import CHILD_EXIT_STATUS, Cell, Plan, Start, Step, signal_name
from .rwmutex import RWMutex, Share
from .zerrors_linux import (
    CLONE_CLEAR_SIGHAND,
    CLONE_INTO_CGROUP,
    CLONE_NEWUSER,
    CLONE_PARENT,
    CLONE_VFORK,
    CLONE_VM,
    CSIGNAL,
    KERNEL_SIGACTION_SIZE,
    KERNEL_SIGSET_SIZE,
    MAP_ANONYMOUS,
    MAP_FAILED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MAP_STACK,
    MFD_CLOEXEC,
    MFD_EXEC,
    O_TMPFILE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    SIG_IGN,
    SIGCHLD,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING to mypy; importing typing costs a start
if TYPE_CHECKING:
    from typing import Any, Callable

NAME = "vfork"

STACK_SIZE = 64 * 1024  # glibc's posix_spawn gives its child 32 KiB + the argv
STACK_HEADROOM = 256  # bytes above the child's first stack pointer (see _Stack)
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# The libc functions a vfork child may call: system-call wrappers that take
# no lock, allocate nothing and touch no state but errno (the design note's
# list, and the others linux.py plans: getpid, getppid, kill, capset,
# mount, unshare, ptrace, open, read; and memcmp, which only compares
# memory, for the signal rule). Anything else makes the plan
# unavailable here, so a new kind of step is never run blind.
SAFE_CALLS = frozenset(
    {
        "capset",
        "chdir",
        "chroot",
        "cloexec_range",
        "close",
        "close_range",
        "dup2",
        "dup3",
        "execve",
        "fcntl",
        "getpid",
        "getppid",
        "ioctl",
        "kill",
        "memcmp",
        "mount",
        "open",
        "prctl",
        "ptrace",
        "read",
        "setpgid",
        "setsid",
        "sigaction",
        "sigprocmask",
        "syscall",
        "unshare",
        "write",
    }
)

_WORD = (1 << 64) - 1

# The routine's own functions that a plan may call, besides its entry points
# (each machine's listing says what each does): name -> (its symbol in the
# generated module, result type, argument types). The fork runner's child
# calls them through ctypes (routine_function).
ROUTINE_CALLS: dict[str, tuple[str, Any, tuple[Any, ...]]] = {
    "cloexec_range": (
        "CLOEXEC_RANGE",
        ctypes.c_int,
        (ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p),
    ),
}


asm = _platform.asm  # this machine's routine (None: no routine for it)


def _here() -> str | None:
    """Why this runner cannot run here at all (platform, machine, C library)."""
    if GOOS != "linux":
        return f"the vfork runner is for Linux; this is {GOOS}"
    if asm is None:
        return f"no vfork routine for {MACHINE} (there are for x86_64 and aarch64)"
    for name in ("clone", "__errno_location", "write", "_exit", "mmap", "mprotect"):
        if not libc.has(name):
            return f"this C library has no {name}"
    return None


_HERE = _here()


def unavailable(plan: Plan | None = None) -> str | None:
    """Why this runner cannot run ``plan`` here (or any plan), or None if it can."""
    if _HERE is not None:
        return _HERE
    state = _routine()
    if isinstance(state, str):
        return state
    if plan is not None:
        return _plan_unavailable(plan)
    return None


def _plan_unavailable(plan: Plan) -> str | None:
    flags, _ = _fork_flags(plan.fork)
    if flags is None:
        return f"cannot start a child through {plan.fork.text}"
    if plan.after_fork is not None and shares_memory(plan):
        return "the plan has parent-side work to do while the child waits"
    for index, step in enumerate(plan.steps):
        for call in (step, step.otherwise):
            if call is None:
                continue
            if call.func not in SAFE_CALLS:
                return f"step {index} calls {call.func}, not known to be safe in a vfork child"
            if call.func in ROUTINE_CALLS and not hasattr(asm, ROUTINE_CALLS[call.func][0]):
                return f"step {index} calls {call.func}, which this machine's routine lacks"
            if len(call.args) > 6:
                return f"step {index} ({call.name}) has more than six arguments"
    if not plan.steps:
        return "the plan has no steps"
    return None


def shares_memory(plan: Plan) -> bool:
    """Whether the child runs in the parent's memory (CLONE_VM|CLONE_VFORK).

    Not when the plan makes a new user namespace: the parent must write the
    id maps while the child waits for them, which a parent suspended until
    the child's execve cannot do, and unshare(CLONE_NEWUSER) refuses a
    process that shares its memory. Go keeps CLONE_NEWUSER off vfork and
    forks plainly there (forkAndExecInChild1 in exec_linux.go); so does this
    runner, with the same routine, in a copy of the parent's memory.
    """
    flags, _ = _fork_flags(plan.fork)
    if flags is not None and flags & CLONE_NEWUSER:
        return False
    return not any(
        step.func == "unshare" and _value(step.args[0]) & CLONE_NEWUSER for step in plan.steps
    )


def signals_in_plan(plan: Plan) -> bool:
    """Whether the child resets the handlers the plan lists (remembered.py).

    Not when the plan says by what rule the list was made (Plan.signal_rule,
    every exec_unix plan): the routine then judges each signal in the child
    (_signal_rule_entries), so the table holds whatever the handlers become.
    """
    return plan.signal_rule is None


def status_pipe(plan: Plan) -> bool:
    """Whether the child reports a failure on the status pipe (exec_unix._start).

    A child in the parent's memory writes its record into ``plan.record``
    instead: clone returns only once the child has called execve or exited,
    so the record is complete when the parent reads it, and the parent does
    not wait for the child's close-on-exec (measured: start + reap of
    /bin/true 0.91x of os.posix_spawn's time without the pipe, 1.08x with).
    """
    made: _Made | None = plan.prepared.get(NAME)
    if made is not None:
        return not made.shared  # a plan started before: known
    return not shares_memory(plan)


def _value(arg: Any) -> int:
    return arg.value if isinstance(arg, Cell) else int(arg or 0)


def _fork_flags(fork: Step) -> tuple[int | None, int]:
    """The clone flags (exit signal removed) and parent_tid address for ``fork``.

    None as flags where the fork step is not one this runner knows.
    """
    if fork.func == "_Fork":
        return 0, 0
    if fork.name == "clone" and fork.func == "syscall":
        # syscall(SYS_clone, flags|SIGCHLD, stack, parent_tid, child_tid, tls)
        return int(fork.args[1]) & ~CSIGNAL, int(fork.args[3])
    if fork.name == "clone3" and fork.func == "syscall":
        clone_args = (ctypes.c_uint64 * 2).from_address(int(fork.args[1]))
        return int(clone_args[0]), 0
    return None, 0


# --- the routine's mapping: read+execute, never writable ----------------------

_mapped: list[int | str] = []  # the routine's address, or why it cannot be mapped


def _routine() -> int | str:
    """The routine's address, mapped on first use; or why it cannot be mapped.

    Without a lock: a lock another thread holds at os.fork() stays held in
    the child for ever (a child that started a process hung so, 1 run in
    20 of the os.fork() test under load), as does one a Ctrl-C leaves right
    after ``with`` took it (bpo-29988). Threads that map at once each map;
    the first result appended stays and the others unmap their copy.
    """
    if not _mapped:
        assert asm is not None
        try:
            mine: int | str = _map_code(asm.CODE)
        except OSError as error:
            mine = f"cannot map the routine read+execute: {error}"
        _mapped.append(mine)
        if _mapped[0] != mine and isinstance(mine, int):
            libc.parent("munmap")(mine, len(asm.CODE))
    return _mapped[0]


def _map_code(code: bytes) -> int:
    """Map ``code`` PROT_READ|PROT_EXEC from a memfd, else an unlinked temp file.

    Like a shared library: no page is ever writable and executable, so
    MemoryDenyWriteExecute (seccomp) and PR_SET_MDWE allow it. Nor does the
    instruction cache need the flush that __builtin___clear_cache does for
    code written into memory: the bytes reach the file through write(2),
    and on aarch64 the kernel makes such a page coherent for instruction
    fetch when it first maps it executable (asm_linux_arm64.s names the
    code that does it); x86-64 keeps its caches coherent itself. Raises
    OSError naming every way that failed.
    """
    failures = []
    for source, make in (("memfd", _memfd), ("temporary file", _temporary_file)):
        # The fd goes into ``fd`` in the chain of C calls that makes it: a
        # Ctrl-C right after finds it there, and the finally closes it.
        fd = ctypes.c_int(-1)
        try:
            try:
                make(fd)
                view = memoryview(code)
                while view:
                    view = view[os.write(fd.value, view) :]
            except OSError as error:
                failures.append(f"{source}: {error}")
                continue
            address = libc.parent("mmap")(
                None, len(code), PROT_READ | PROT_EXEC, MAP_PRIVATE, fd.value, 0
            )
            if address is None or address == MAP_FAILED:
                code_ = ctypes.get_errno()
                failures.append(f"{source}: mmap PROT_READ|PROT_EXEC: {os.strerror(code_)}")
                continue
            return int(address)
        finally:
            if fd.value != -1:
                os.close(fd.value)
    raise OSError(errno.EPERM, "; ".join(failures))


def _into(fd: Any, make: Callable[[], int]) -> None:
    """``fd.value = make()`` as one chain of C calls (no point between them)."""
    _run(libc.stored(fd, make))


def _memfd(fd: Any) -> None:
    create = getattr(os, "memfd_create", None)
    if create is None:
        raise OSError(errno.ENOSYS, "no os.memfd_create")
    try:
        _into(fd, functools.partial(create, "pysyscall-vfork", MFD_CLOEXEC | MFD_EXEC))
    except OSError as error:
        if error.errno != errno.EINVAL:  # MFD_EXEC is Linux 6.3+
            raise
        _into(fd, functools.partial(create, "pysyscall-vfork", MFD_CLOEXEC))


def _temporary_file(fd: Any) -> None:
    # Imported here, where memfd_create failed: tempfile (shutil, random)
    # would cost every first start 3 ms. _routine runs at the runner's
    # selection, before any start, so no start runs this import.
    import tempfile

    directory = tempfile.gettempdir()
    flags = O_TMPFILE | os.O_RDWR | os.O_CLOEXEC
    try:
        _into(fd, functools.partial(os.open, directory, flags, 0o700))  # a file with no name
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            raise
        # A file system without O_TMPFILE (overlayfs before Linux 6.6): a
        # named file, unlinked at once. A Ctrl-C inside mkstemp could leave
        # its fd open; this runs once, where memfd_create is refused too.
        fd.value, path = tempfile.mkstemp(prefix="pysyscall-vfork-")
        os.unlink(path)


def routine_function(name: str, checked: bool = True) -> Any:
    """The routine's function ``name`` (ROUTINE_CALLS) as a ctypes function, or None.

    None where the routine cannot be mapped here (no routine for this
    machine, or no read+execute mapping allowed). The function holds the
    GIL and leaves errno alone, as libc.child's functions do, so the fork
    runner's child can call it; ``checked=False``: its result is void.
    """
    symbol, restype, argtypes = ROUTINE_CALLS[name]
    if asm is None or not hasattr(asm, symbol):
        return None
    address = _routine()
    if isinstance(address, str):
        return None
    prototype = ctypes.PYFUNCTYPE(restype if checked else None, *argtypes)
    return prototype(address + getattr(asm, symbol))


# --- per-thread child stacks -----------------------------------------------------


class _Stack:
    """A child stack: STACK_SIZE bytes above a PROT_NONE guard page."""

    # What __del__ unmaps, set as mmap returns; None until then (a class
    # default: __init__ may be cut short before its first line).
    base: int | None = None

    def __init__(self) -> None:
        size = self.size = STACK_SIZE + PAGE_SIZE
        self._munmap = libc.parent("munmap")
        mmap = functools.partial(
            libc.parent("mmap"),
            None,
            size,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE,
            -1,
            0,
        )
        _run(libc.stored(self, mmap, "base"))
        base = self.base
        if base is None or base == MAP_FAILED:
            self.base = None
            raise libc.errno_error(ctypes.get_errno(), "mmap of a vfork child stack")
        if libc.parent("mprotect")(base, PAGE_SIZE, PROT_NONE) != 0:
            code = ctypes.get_errno()
            self.base = None
            self._munmap(base, size)
            raise libc.errno_error(code, "mprotect of a vfork child stack's guard page")
        self.low: int = base + PAGE_SIZE  # the lowest usable byte
        self.top: int = base + size
        # Where the child's stack pointer starts: below the top, because a
        # variadic callee may read argument slots above its frame (glibc's
        # syscall() reads a seventh argument at 8(%rsp) whatever the call
        # passed): at the very top that read would fault on whatever is
        # mapped above, or not (seen: a thread's guard page, with clone3).
        self.start: int = self.top - STACK_HEADROOM

    def __del__(self) -> None:
        if self.base is not None:
            self._munmap(self.base, self.size)


_stacks = threading.local()


def _stack() -> _Stack:
    """This thread's child stack: no two spawns in flight ever share one."""
    stack: _Stack | None = getattr(_stacks, "stack", None)
    if stack is None:
        stack = _stacks.stack = _Stack()
    return stack


# --- the table ----------------------------------------------------------------------

_functions: dict[str, tuple[int, int]] = {}  # name: (address, F_WIDE or 0)


def _function(name: str) -> tuple[int, int]:
    """The address of libc's ``name`` and F_WIDE if it returns a 64-bit value."""
    known = _functions.get(name)
    if known is None and name in ROUTINE_CALLS:
        assert asm is not None
        address = _routine()
        assert isinstance(address, int)  # a table is made only once it is mapped
        known = _functions[name] = address + getattr(asm, ROUTINE_CALLS[name][0]), 0
    if known is None:
        assert asm is not None
        function: Any = libc.parent(name)
        restype = libc.PROTOTYPES[name][0]
        wide = asm.F_WIDE if restype is not None and ctypes.sizeof(restype) == 8 else 0
        known = _functions[name] = int(ctypes.cast(function, ctypes.c_void_p).value or 0), wide
    return known


# The flags, as plain module constants: _entry runs for every step of every start.
F_LOAD0, F_FAIL, F_EXPECT, F_STORE, F_OTHERWISE, F_IF_EQUAL = (
    (asm.F_LOAD0, asm.F_FAIL, asm.F_EXPECT, asm.F_STORE, asm.F_OTHERWISE, asm.F_IF_EQUAL)
    if asm
    else (0,) * 6
)


def _entry(step: Step, index: int, words: list[int]) -> None:
    """Append the table entry for ``step`` (the plan's step ``index``)."""
    address, flags = _function(step.func)
    args = [0, 0, 0, 0, 0, 0]
    for k, arg in enumerate(step.args):
        if type(arg) is int:
            args[k] = arg & _WORD
        elif isinstance(arg, Cell):
            flags |= F_LOAD0 << k
            args[k] = ctypes.addressof(arg)
        else:
            args[k] = int(arg or 0) & _WORD
    expected = store = 0
    # Judged exactly as runner_fork judges: otherwise, then store, then
    # expect, then checked.
    if step.otherwise is not None:
        flags |= F_OTHERWISE
        expected = step.expect or 0
    elif step.store is not None:
        flags |= F_STORE | F_FAIL
        store = ctypes.addressof(step.store)
    elif step.expect is not None:
        flags |= F_EXPECT
        expected = step.expect
    elif step.checked:
        flags |= F_FAIL
    words += (address, *args, flags, expected & _WORD, store, index)


_UNSETTABLE = (signal.SIGKILL, signal.SIGSTOP)


class _RuleBuffers(ctypes.Structure):
    """The C memory the signal rule's entries point to (kept with the plan)."""

    _fields_ = [
        ("default", ctypes.c_char * KERNEL_SIGACTION_SIZE),  # all zero: SIG_DFL
        ("ignore", ctypes.c_uint64 * (KERNEL_SIGACTION_SIZE // 8)),  # handler SIG_IGN
        ("old", ctypes.c_char * KERNEL_SIGACTION_SIZE),  # the action before, per signal
        ("ignored", ctypes.c_uint64),  # SIG_IGN, to compare the old handler with
    ]


def _signal_rule_entries(
    plan: Plan,
    index: int,
    ignored_to_default: tuple[int, ...],
    words: list[int],
    handlers_cleared: bool = False,
) -> None:
    """Entries that apply a plan's signal rule in the child (Plan.signal_rule).

    For every signal a handler can be set for: set SIG_DFL (the raw
    rt_sigaction system call, keeping the old action), and if the old
    handler was SIG_IGN (memcmp returns 0), set SIG_IGN again, unless the
    rule sets that ignored signal to default. So caught handlers go to
    SIG_DFL and ignored signals stay ignored, as the plan's list has it,
    whatever the handlers are by the time this table runs: the list is read
    in the parent (/proc/self/status, 15-20 µs, about 40 µs between real
    starts); this costs the child one or two system calls per signal, as
    glibc's posix_spawn child pays. Raw system calls, not glibc's signal()
    or sigaction(): recent glibc (seen with Debian sid's 2.43) takes abort's
    lock in them for SIGABRT, which a child sharing the parent's memory must
    not touch. Signals are
    blocked here, and only an ignored signal is ever set to SIG_IGN, so no
    pending signal is lost (setting SIG_DFL drops a pending signal only
    where the default is to ignore it). Results are not judged: the system
    call fails only for the signals left out.

    ``handlers_cleared``: the child was cloned with CLONE_CLEAR_SIGHAND
    (clears_handlers), which did the rest: only the ignored signals the
    rule sets to default get an entry.
    """
    assert asm is not None
    buffers = _RuleBuffers()
    buffers.ignore[0] = buffers.ignored = SIG_IGN
    plan.keep.append(buffers)
    base = ctypes.addressof(buffers)
    default = base + _RuleBuffers.default.offset
    ignore = base + _RuleBuffers.ignore.offset
    old = base + _RuleBuffers.old.offset
    ignored = base + _RuleBuffers.ignored.offset
    syscall, wide = _function("syscall")
    memcmp, int_result = _function("memcmp")
    assert zsysnum is not None  # a machine with a routine has its numbers
    number = zsysnum.SYS_RT_SIGACTION
    for signum in ignored_to_default if handlers_cleared else runtime.ASKABLE:
        if signum in _UNSETTABLE:
            continue
        if signum in ignored_to_default:
            words += (syscall, number, signum, default, 0, KERNEL_SIGSET_SIZE, 0, wide, 0, 0, index)
            continue
        words += (syscall, number, signum, default, old, KERNEL_SIGSET_SIZE, 0, wide, 0, 0, index)
        words += (memcmp, old, ignored, 8, 0, 0, 0, int_result | F_IF_EQUAL, 0, 0, index)
        words += (syscall, number, signum, ignore, 0, KERNEL_SIGSET_SIZE, 0, wide, 0, 0, index)


class _Made:
    """What a start of a plan needs besides the start's own record, made once.

    Kept in ``plan.prepared`` (remembered.py keeps the plan), so that a
    start of a plan started before makes none of it again: the table, and
    for the thread whose child stack it names, the clone call itself and
    the signal-mask calls around it. Everything made before the clone is
    on the start's critical path (what the parent does after the clone
    overlaps the child's exec).
    """

    __slots__ = ("clears_handlers", "clone3_args", "fork_calls", "share", "shared", "stack",
                 "start", "status_fd", "words")  # fmt: skip

    def __init__(self, plan: Plan, status_fd: int) -> None:
        self.status_fd = status_fd
        self.shared = shares_memory(plan)
        self.clears_handlers = clears_handlers(plan)
        self.words = _table(plan, status_fd, self.clears_handlers)
        self.stack: _Stack | None = None  # the stack ``start`` was made for
        self.start: Any = None
        self.clone3_args: Any = None
        self.fork_calls = runtime.ForkCalls(plan.saved_mask)
        self.share: Share | None = None  # the fork lock's, for start_kept


def _made(plan: Plan, status_fd: int) -> _Made:
    """The plan's _Made for ``status_fd``, made if it has none yet."""
    made: _Made | None = plan.prepared.get(NAME)
    if made is None or made.status_fd != status_fd:
        made = plan.prepared[NAME] = _Made(plan, status_fd)
    return made


def table(plan: Plan, status_fd: int) -> Any:
    """The routine's table for ``plan`` (a c_uint64 array; see the module doc).

    The child writes its failure record into ``plan.record`` (and to
    ``status_fd`` unless it is -1). Made once per plan and status fd: a
    remembered plan (remembered.py) keeps its table in ``plan.prepared``.
    """
    return _made(plan, status_fd).words


def clears_handlers(plan: Plan) -> bool:
    """Whether a start of ``plan`` clones with CLONE_CLEAR_SIGHAND (clone3, Linux 5.5+).

    For a plan that says by what rule its resets were chosen
    (Plan.signal_rule), the kernel then sets every caught signal to SIG_DFL
    in the child and leaves ignored ones ignored: the rule but its
    ignored-to-default signals, without the child's rt_sigaction per signal
    (about 60 system calls, 10-15 µs of a start on the child's side, while
    the parent waits). Where the kernel lacks it (linux.kernel_lacks), the
    routine applies the whole rule itself (_signal_rule_entries).
    """
    if plan.signal_rule is None or plan.signal_steps is None or GOOS != "linux":
        return False
    flags, _ = _fork_flags(plan.fork)
    if flags is None:  # linux.check refuses the flags clone3 takes otherwise (CLONE_SETTLS...)
        return False
    from . import linux  # loaded already: it made the plan

    return linux.kernel_lacks("clone_clear_sighand") == 0


def _table(plan: Plan, status_fd: int, handlers_cleared: bool = False) -> Any:
    assert asm is not None
    words: list[int] = []
    rule, skip = plan.signal_rule, None
    if rule is not None and plan.signal_steps is not None:
        first, count = plan.signal_steps
        resets = range(first, first + count)
        # Only while those steps are still the resets (a plan may be edited).
        # (A list, not a generator that all() could leave suspended: its
        # close on collection would resume it, a point where a signal
        # handler's exception is lost.)
        if all([plan.steps[i].func == "sigaction" for i in resets if i < len(plan.steps)]):
            skip = resets
    for index, step in enumerate(plan.steps):
        if skip is not None:
            if index == skip.start:  # where the resets were (none: before the mask step)
                _signal_rule_entries(plan, index, rule or (), words, handlers_cleared)
            if index in skip:
                continue
        _entry(step, index, words)
        if step.otherwise is not None:
            _entry(step.otherwise, index, words)
    count = len(words) // (asm.ENTRY_SIZE // 8)
    header = [
        count,
        _function("__errno_location")[0],
        _function("write")[0],
        _function("_exit")[0],
        status_fd & _WORD,
        ctypes.addressof(plan.record),
        ctypes.sizeof(plan.record),
        CHILD_EXIT_STATUS,
        errno.EINVAL,
    ]
    assert len(header) * 8 == asm.HEADER_SIZE
    # array.array converts the words in C; the ctypes view shares its memory
    # (and keeps it alive), so the table costs microseconds, not tens.
    words[:0] = header
    return (ctypes.c_uint64 * len(words)).from_buffer(array.array("Q", words))


# --- the start ----------------------------------------------------------------------

_clone3: Any = None
_close = libc.parent("close")


def fork_and_exec_in_child(plan: Plan, record: Start) -> None:
    """Port of forkAndExecInChild1 (exec_linux.go): clone, run the plan.

    With CLONE_VM|CLONE_VFORK (shares_memory), as Go does unless the plan
    makes a user namespace: the child reports a failure in ``plan.record``
    and ``record.fds`` holds no pipe; clone returns once the child has
    called execve or exited. Otherwise (a plain clone, the routine in a
    copy of this process) the child reports on the status pipe's write end
    (``record.fds[1]``; the read end is ``fds[0]``), which is closed here in
    the parent, and clone returns at once. The child's pid goes into
    ``record.pid`` in the chain of C calls that clones (plan.Start). Raises
    OSError if clone failed. Must be called with the fork lock held.
    """
    fds = record.fds
    try:
        _clone(plan, fds[1], record)
    finally:
        if fds[1] != -1:
            fd, fds[1] = fds[1], -1
            _close(fd)


def _clone(plan: Plan, status_fd: int, record: Start) -> None:
    made = plan.prepared.get(NAME)
    stack = _stack()
    if made is None or made.status_fd != status_fd or made.stack is not stack:
        made = _prepare_clone(plan, status_fd, stack)
    # One chain of C calls: signals blocked, clone (the GIL released, CDLL
    # and CFUNCTYPE: other threads run while this one waits for the child's
    # execve or exit), its result into record.pid, the mask restored. No
    # signal handler runs in between (see plan.Start).
    _run(made.fork_calls.around(libc.stored(record.pid, made.start)))
    _cloned(plan, made, record)


def start_kept(plan: Plan, record: Start, fork_lock: RWMutex) -> bool:
    """Start a plan started before, fork lock and all, in one chain of C calls.

    The chain pauses the GC and blocks the signals, takes a share of
    ``fork_lock`` if it is idle (rwmutex.Share) and only then clones (the
    pid into ``record``) and gives the share back, then restores the mask
    and resumes the GC: what fork_and_exec_in_child and the fork lock's
    take and release around it do, with no Python in between (about 5 µs
    less a start). The GC is paused first because the share's take, under
    the lock's internal mutex, allocates: CPython before 3.12 collects
    right there, and a finalizer that starts a process would then wait
    for that mutex in the thread that holds it (found by a test that
    collects at each allocation of a kept start in turn).
    False: nothing was done (the plan not started by this thread before,
    its child reporting on a pipe, or the lock not idle), the caller takes
    the usual way. Raises OSError if clone failed.
    """
    made: _Made | None = plan.prepared.get(NAME)
    # The clone call and the Hold are made the usual way, by a first start.
    if made is None or made.stack is not _stack() or made.status_fd != -1 or not made.shared:
        return False
    hold = record.hold
    share = made.share
    if share is None or not share.usable(fork_lock, hold):
        share = made.share = None if hold is None else fork_lock.share(hold)
        if share is None or not share.usable(fork_lock, hold):
            return False
    _run(made.fork_calls.around(share.around(libc.stored(record.pid, made.start))))
    pid = record.pid.value
    if pid <= 0:
        if pid == 0:
            return False  # the lock was not idle: nothing was made
        _cloned(plan, made, record)
    return True


def _cloned(plan: Plan, made: _Made, record: Start) -> None:
    """Raise clone's error if it failed (the result in ``record.pid``, then 0)."""
    result = record.pid.value
    if result <= 0:  # clone: -1 and errno; clone3: -errno
        record.pid.value = 0
        clone3 = made.clone3_args is not None
        code = -result if clone3 else ctypes.get_errno()
        how = "clone3" if clone3 else "clone"
        flags = [*(["CLONE_VM|CLONE_VFORK"] if made.shared else []),
                 *(["CLONE_CLEAR_SIGHAND"] if made.clears_handlers else [])]  # fmt: skip
        how += f"({'|'.join(flags)})" if flags else ""
        raise libc.errno_error(code or errno.EAGAIN, f"fork through {plan.fork.text}, as {how}")
    # The plan's buffers, the table and the stack were in use until here:
    # with CLONE_VFORK, clone returns once the child has exec'd or exited.
    # They stay with the plan (_Made) for its next start.


def _prepare_clone(plan: Plan, status_fd: int, stack: _Stack) -> _Made:
    """The plan's _Made, with its clone call made for this thread's ``stack``."""
    global _clone3
    assert asm is not None
    address = _routine()
    if isinstance(address, str):
        raise RuntimeError(f"vfork: {address}")
    flags, parent_tid = _fork_flags(plan.fork)
    if flags is None:
        raise RuntimeError(f"vfork: cannot start a child through {plan.fork.text}")
    made = _made(plan, status_fd)
    # Unusable while its call changes: an exception half-way must not leave
    # one thread's stack in the call another thread's start would match.
    made.stack = None
    vfork = CLONE_VM | CLONE_VFORK if made.shared else 0
    words = made.words
    if plan.fork.name == "clone3" or made.clears_handlers:
        clone3_args = _clone3_args(plan.fork, flags, parent_tid)
        clone3_args[0] |= vfork | (CLONE_CLEAR_SIGHAND if made.clears_handlers else 0)
        clone3_args[5] = stack.low  # stack, stack_size: the kernel starts at the top
        clone3_args[6] = stack.start - stack.low
        if _clone3 is None:
            prototype = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_void_p, ctypes.c_size_t,
                                         ctypes.c_void_p)  # fmt: skip
            _clone3 = prototype(address + asm.CLONE3_VFORK)
        made.start = functools.partial(
            _clone3,
            ctypes.addressof(clone3_args),
            ctypes.sizeof(clone3_args),
            ctypes.addressof(words),
        )
        made.clone3_args = clone3_args
    else:
        arguments = libc.variadic_arguments(
            "clone",
            (address + asm.VFORK_CHILD, stack.start, vfork | SIGCHLD | flags,
             ctypes.addressof(words), parent_tid, 0, 0),
        )  # fmt: skip
        made.start = functools.partial(libc.parent("clone"), *arguments)
        made.clone3_args = None
    made.stack = stack  # last: a _Made is used only once its call is whole
    return made


def _clone3_args(fork: Step, flags: int, parent_tid: int) -> Any:
    """A copy of a clone3 plan's clone_args, or clone's arguments as clone_args."""
    if fork.name == "clone3":
        return (ctypes.c_uint64 * 11)(*(ctypes.c_uint64 * 11).from_address(int(fork.args[1])))
    clone3_args = (ctypes.c_uint64 * 11)()
    # flags, exit_signal: none with CLONE_PARENT, which clone3 insists on
    # (clone ignores it there: the child signals this process's parent as
    # this process would).
    clone3_args[0], clone3_args[4] = flags, 0 if flags & CLONE_PARENT else SIGCHLD
    clone3_args[1] = parent_tid  # clone's pointer for CLONE_PIDFD (clears_handlers)
    return clone3_args


# --- the program, as printed (python -m pysyscall plan) ------------------------------


def describe(plan: Plan) -> list[str]:
    """What this runner runs for ``plan``: the clone, then the table as the routine walks it.

    Read back from the table a start of the plan uses (``table``, kept in
    Plan.prepared): each entry's function, its judging flags and the plan
    step it belongs to; the entries no step made (the signal rule) are
    summed up from their own arguments. The plan must be one this runner
    can run (``unavailable(plan)`` is None).
    """
    assert asm is not None
    shared = shares_memory(plan)
    flags, parent_tid = _fork_flags(plan.fork)
    assert flags is not None
    vfork = CLONE_VM | CLONE_VFORK if shared else 0
    prepared = _made(plan, -1)
    words = list(prepared.words)
    cleared = prepared.clears_handlers
    lines = [_describe_clone(plan, vfork | (CLONE_CLEAR_SIGHAND if cleared else 0), flags,
                             parent_tid)]  # fmt: skip
    if cleared:
        lines.append(
            "  CLONE_CLEAR_SIGHAND: the kernel sets every caught signal to SIG_DFL in the "
            "child, ignored ones stay ignored (the signal rule, but for what it sets to default)"
        )
    if shared:
        lines.append(
            "  the parent is suspended until the child calls execve or exits; no status pipe"
        )
    else:
        lines.append(
            "  without CLONE_VM|CLONE_VFORK: the plan makes a new user namespace, whose id "
            "maps the parent writes while the child waits (as Go forks there)"
        )
    header, size = asm.HEADER_SIZE // 8, asm.ENTRY_SIZE // 8
    entries = [tuple(words[i : i + size]) for i in range(header, len(words), size)]
    assert len(entries) == words[0]
    lines.append(f"the routine walks a table of {len(entries)} entries (step, call, judging):")
    names = {address: name for name, (address, _) in _functions.items()}
    # Each entry is the one _entry makes for its step (or the step's
    # otherwise), or, if neither, one of the signal rule's.
    made: list[Step | None] = []
    for entry in entries:
        step = plan.steps[entry[-1]]
        calls = [step] if step.otherwise is None else [step, step.otherwise]
        made.append(next((c for c in calls if entry == _entry_words(c, entry[-1])), None))
    left_out = set(range(len(plan.steps))) - {e[-1] for e, c in zip(entries, made) if c}
    # With CLONE_CLEAR_SIGHAND a rule may leave no entry at all (it sets no
    # ignored signal to default): the resets' place is then said on its own.
    unsaid = min(left_out) if cleared and left_out and None not in made else None
    rule: list[tuple[int, ...]] = []
    for entry, call in zip(entries, made):
        if call is None:
            rule.append(entry)
            continue
        lines += _describe_rule(rule, names, plan, left_out)
        rule = []
        if unsaid is not None and entry[-1] > unsaid:
            lines.append(f"{unsaid:4}  {_in_place_of(plan, left_out)}")
            unsaid = None
        step = plan.steps[entry[-1]]
        what = call.text if call is step else f"otherwise: {call.text}"
        lines.append(f"{entry[-1]:4}  {what}  [{_describe_flags(entry)}]")
    lines += _describe_rule(rule, names, plan, left_out)
    where = (
        "into the plan's record, in the memory the child shares with the parent (read "
        "when clone returns)"
        if shared
        else "into the status pipe (its write end, set in the table's header per start)"
    )
    lines.append(
        f"on failure: errno and the step number {where}, then {names[words[3]]}({words[7]})"
    )
    return lines


def _entry_words(step: Step, index: int) -> tuple[int, ...]:
    """The table entry ``_entry`` makes for ``step``."""
    words: list[int] = []
    _entry(step, index, words)
    return tuple(words)


def _describe_clone(plan: Plan, vfork: int, flags: int, parent_tid: int) -> str:
    """The clone call of a start of ``plan``: ``vfork`` (CLONE_VM|CLONE_VFORK or 0), then
    the plan's ``flags``, as _clone passes them."""
    known = {
        value: name
        for name, value in vars(zerrors_linux).items()
        if name.startswith("CLONE_") and isinstance(value, int)
    }
    named = [
        known.get(1 << bit, hex(1 << bit))
        for word in (vfork, flags & ~vfork)
        for bit in range(64)
        if word >> bit & 1
    ]
    if plan.fork.name == "clone3" or vfork & CLONE_CLEAR_SIGHAND:
        clone3_args = _clone3_args(plan.fork, flags, parent_tid)
        pidfd = ", pidfd=&pidfd" if clone3_args[1] else ""
        signal = "SIGCHLD" if clone3_args[4] == SIGCHLD else clone3_args[4]
        cgroup = f", cgroup={clone3_args[10]}" if flags & CLONE_INTO_CGROUP else ""
        return (
            f"clone3({{flags={'|'.join(named) or 0}{pidfd}, exit_signal={signal}{cgroup}, "
            "stack=<this thread's child stack>}) by the routine's clone3_vfork, "
            "the child entering the table walk"
        )
    return (
        f"clone(vfork_child, <this thread's child stack>, {'|'.join([*named, 'SIGCHLD'])}, "
        f"&table, {'&pidfd' if parent_tid else 0}) (glibc's clone, the GIL released)"
    )


def _describe_flags(entry: tuple[int, ...]) -> str:
    """What an entry's flags make the routine do with its result."""
    flags, expected = entry[7], entry[8]
    said = []
    if flags & F_OTHERWISE:
        said.append(f"unless it returns {expected}, the next entry runs; else it is skipped")
    if flags & F_IF_EQUAL:
        said.append(f"the next entry runs only if it returns {expected}")
    if flags & F_STORE:
        said.append("result kept for later steps")
    if flags & F_EXPECT:
        said.append(f"fails unless it returns {expected} (errno EINVAL)")
    if flags & F_FAIL:
        said.append("fails on -1")
    if not flags & (F_OTHERWISE | F_IF_EQUAL | F_EXPECT | F_FAIL):
        said.append("result ignored")
    loaded = [str(k) for k in range(6) if flags & (F_LOAD0 << k)]
    if loaded:
        said.append(f"argument {', '.join(loaded)} read from a cell at call time")
    return "; ".join(said)


def _describe_rule(
    entries: list[tuple[int, ...]], names: dict[int, str], plan: Plan, left_out: set[int]
) -> list[str]:
    """The signal rule's entries (_signal_rule_entries), read back and summed up.

    Each signal's entries: rt_sigaction(sig, SIG_DFL, &old), and where the
    rule keeps ignored signals ignored, memcmp(&old, SIG_IGN) == 0 then
    rt_sigaction(sig, SIG_IGN). An entry of any other shape is shown as is.
    ``left_out``: the plan's steps with no entry (the resets the rule
    stands for).
    """
    if not entries:
        return []
    assert zsysnum is not None  # a machine with a routine has its numbers
    rt_sigaction = zsysnum.SYS_RT_SIGACTION

    def sets(entry: tuple[int, ...], handler: int) -> bool:
        """Whether ``entry`` is rt_sigaction(signum, an action with ``handler``, ...)."""
        return (
            names.get(entry[0]) == "syscall"
            and entry[1] == rt_sigaction
            and ctypes.c_uint64.from_address(entry[3]).value == handler
        )

    defaulted: list[int] = []
    kept: list[int] = []
    lines = []
    i = 0
    while i < len(entries):
        func, _, signum, _, old = entries[i][:5]
        if sets(entries[i], 0):
            defaulted.append(signum)
            compare, again = (*entries[i + 1 : i + 3], (), ())[:2]
            if (
                old
                and compare
                and names.get(compare[0]) == "memcmp"
                and compare[1] == old
                and ctypes.c_uint64.from_address(compare[2]).value == SIG_IGN
                and compare[7] & F_IF_EQUAL
                and compare[8] == 0
                and again
                and sets(again, SIG_IGN)
                and again[2] == signum
            ):
                kept.append(signum)
                i += 3
            else:
                i += 1
            continue
        lines.append(
            f"{entries[i][-1]:4}  {names.get(func, hex(func))}"
            f"({', '.join(hex(a) for a in entries[i][1:7])})  [{_describe_flags(entries[i])}]"
        )
        i += 1
    index = entries[0][-1]
    which = _signal_range(defaulted) if kept else ", ".join(map(signal_name, defaulted))
    keeping = ", &old" if entries[0][4] else ""
    summary = [
        f"{index:4}  the signal rule, {len(entries)} entries: for each signal "
        f"{which}: rt_sigaction(sig, SIG_DFL{keeping}) [raw system call; "
        f"{_describe_flags(entries[0])}]",
    ]
    if kept:
        alone = sorted(set(defaulted) - set(kept))
        but = f" (not {', '.join(map(signal_name, alone))}: SIG_DFL even if ignored)"
        summary.append(
            "        then, where old's handler was SIG_IGN [memcmp == 0], rt_sigaction(sig, "
            f"SIG_IGN) again{but if alone else ''}"
        )
    if left_out:
        summary.append(f"        {_in_place_of(plan, left_out)}")
    return summary + lines


def _in_place_of(plan: Plan, left_out: set[int]) -> str:
    """The plan's steps with no entry (the resets the signal rule stands for)."""
    texts = "; ".join(plan.steps[i].text for i in sorted(left_out))
    return f"(in place of the plan's steps {sorted(left_out)}: {texts})"


def _signal_range(signals: list[int]) -> str:
    """1..64 but SIGKILL, SIGSTOP: the signals as a range and what it leaves out."""
    if not signals:
        return "(none)"
    low, high = min(signals), max(signals)
    left_out = sorted(set(range(low, high + 1)) - set(signals))
    but = f" but {', '.join(map(signal_name, left_out))}" if left_out else ""
    return f"{low}..{high}{but}"
