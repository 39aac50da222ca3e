"""The posix_spawn runner's own parts.

What a child gets is the same on every runner: tests/test_runners.py checks
it on this one too. Here: the error's word on the failed step, auto's
fallback, strace's view of which runner ran (the clone flags), the
translation of plans into posix_spawn's attributes and file actions (Linux,
and darwin's plans on a described libSystem), the cached environment and
the /proc signal scan, and a smoke run of the bench. No test measures time.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import kernel_has, replaced, runner_declines, skip_if_declined

import pysyscall
from pysyscall import (
    ProcAttr,
    SysProcAttr,
    darwin,
    env_unix,
    exec_unix,
    runner_fork,
    runner_spawn,
    runner_vfork,
    runners,
    runtime,
    zerrors_darwin,
)
from pysyscall.plan import Step

PACKAGE_PARENT = str(Path(pysyscall.__file__).resolve().parent.parent)

# Under a sandbox that refuses clone3 with EPERM (tests/seccomp_profile.py
# docker-19.03) glibc's posix_spawn cannot start anything and the runner
# declines: tests/test_reach.py checks that, and these cannot run.
pytestmark = pytest.mark.skipif(
    runner_spawn._clone_refused() is not None,
    reason=f"the spawn runner declines here: {runner_spawn._clone_refused()}",
)


def test_spawn_errors_say_the_step_is_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    skip_if_declined("spawn")
    monkeypatch.setenv("PYSYSCALL_RUNNER", "spawn")
    with pytest.raises(FileNotFoundError, match="posix_spawn reports only the errno"):
        pysyscall.fork_exec("/nonexistent/program", ["program"])


# --- which runner runs what ----------------------------------------------------


def test_auto_prefers_vfork_then_spawn(monkeypatch: pytest.MonkeyPatch) -> None:
    skip_if_declined("spawn")
    monkeypatch.delenv("PYSYSCALL_RUNNER", raising=False)
    assert (runner_vfork, runner_spawn, runner_fork) == runners.RUNNERS
    plan = exec_unix.child_program("/bin/true", ["true"], ProcAttr(dir="/", files=[0, 1, 2, 2]))
    assert runners.select(plan) is runner_vfork
    monkeypatch.setattr(runner_vfork, "unavailable", lambda plan=None: "off for the test")
    assert runners.select(plan) is runner_spawn


def test_auto_falls_back_when_a_step_is_not_spawnable(
    monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """Where vfork is unavailable (a machine without a routine), auto takes spawn, and fork
    for what posix_spawn cannot do."""
    monkeypatch.delenv("PYSYSCALL_RUNNER", raising=False)
    monkeypatch.setattr(runner_vfork, "unavailable", lambda plan=None: "off for the test")
    attr = ProcAttr(sys=SysProcAttr(pdeathsig=signal.SIGTERM))
    plan = exec_unix.child_program("/bin/true", ["true"], attr)
    reason = runner_spawn.unavailable(plan)
    assert reason is not None and "prctl(PR_SET_PDEATHSIG, SIGTERM)" in reason
    ran: list[str] = []
    real = runner_fork.fork_and_exec_in_child
    monkeypatch.setattr(
        runner_fork,
        "fork_and_exec_in_child",
        lambda p, pipe: ran.append("fork") or real(p, pipe),
    )
    monkeypatch.setattr(runner_spawn, "fork_and_exec_in_child", lambda p, pipe: ran.append("spawn"))
    pid = pysyscall.fork_exec("/bin/true", ["true"], attr)
    assert pysyscall.wait4(pid)[1].exit_status() == 0
    assert ran == ["fork"]


# What posix_spawn cannot do, and the spawn runner's reason for each: the
# behaviour tests of these fields skip on the spawn runner (conftest's
# Runner.runs), and this test is where the refusal itself is checked.
UNSPAWNABLE = {
    "pdeathsig": (
        {"pdeathsig": signal.SIGTERM},
        r"\(prctl\(PR_SET_PDEATHSIG, SIGTERM\)\): posix_spawn has no equivalent",
    ),
    "credential": (
        {"credential": pysyscall.Credential(0, 0, [0])},
        r"\(syscall\(SYS_setgroups, \[0\]\)\): posix_spawn has no equivalent",
    ),
    "chroot": ({"chroot": "/"}, r"\(chroot\('/'\)\): a path posix_spawn would not report"),
    "setctty": (
        {"setsid": True, "setctty": True, "ctty": 0},
        r"\(ioctl\(0, TIOCSCTTY, 1\)\): comes after close_range, which closefrom cannot follow",
    ),
    "noctty": (
        {"noctty": True},
        r"\(ioctl\(0, TIOCNOTTY\)\): comes after close_range, which closefrom cannot follow",
    ),
    "clone-newpid": (
        {"cloneflags": 0x20000000},
        r"the fork is syscall\(SYS_clone, 0x20000000\|SIGCHLD.*posix_spawn forks only plainly",
    ),
    "pidfd": ({"pidfd": True}, "the plan's pidfd has no posix_spawn equivalent"),
}


# Under auto these start only with a terminal at fd 0 (tests/test_sysprocattr.py
# gives them a pty), or as root (test_as_nobody.py's run: the kernel refuses).
NEEDS_A_TERMINAL = {"setctty", "noctty"}
NEEDS_ROOT = {"credential", "chroot", "clone-newpid"}


@pytest.mark.parametrize("what", list(UNSPAWNABLE))
def test_forced_spawn_on_an_unspawnable_plan(
    what: str, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """Forced, the spawn runner refuses with its reason, before anything is
    started (no fd, no child); under auto the same start runs elsewhere."""
    skip_if_declined("spawn")  # before glibc 2.34 it refuses every plan (test_glibc.py)
    fields, reason = UNSPAWNABLE[what]
    if what == "pidfd":
        kernel_has("pidfd")  # else planning refuses it first (tests/test_reach.py)
    attr = ProcAttr(sys=SysProcAttr(**fields))
    monkeypatch.setenv("PYSYSCALL_RUNNER", "spawn")
    with pytest.raises(RuntimeError, match="cannot start this process here: spawn: .*" + reason):
        pysyscall.fork_exec("/bin/true", ["true"], attr)
    monkeypatch.setenv("PYSYSCALL_RUNNER", "auto")
    if what in NEEDS_A_TERMINAL or (what in NEEDS_ROOT and os.geteuid() != 0):
        return
    pid, handle = pysyscall.start_process("/bin/true", ["true"], attr)
    if handle != -1:
        os.close(handle)
    assert pysyscall.wait4(pid)[1].exit_status() == 0


def test_forced_spawn_refuses_compat(monkeypatch: pytest.MonkeyPatch, no_leaks: None) -> None:
    """Popen through compat with the spawn runner forced: _posixsubprocess's
    checked closes have no posix_spawn file action, so the start refuses."""
    from pysyscall import compat

    monkeypatch.setenv("PYSYSCALL_RUNNER", "spawn")
    compat.forget()
    refused = pytest.raises(RuntimeError, match=r"spawn: step \d+ .*posix_spawn")
    with compat.installed(), refused:
        subprocess.run(["/bin/true"], close_fds=True, cwd="/")  # cwd: 3.13+ Popen's posix_spawn
    compat.forget()


def strace_or_fail() -> str:
    path = shutil.which("strace")
    if path is None:
        pytest.fail("strace is not installed (apt-get install strace)", pytrace=False)
    return path


STRACED = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
import pysyscall
os.environ["PYSYSCALL_RUNNER"] = sys.argv[2]
attr = pysyscall.ProcAttr(dir="/", sys=pysyscall.SysProcAttr(setsid=True))
pid = pysyscall.fork_exec("/bin/true", ["true"], attr)
print(pid, pysyscall.wait4(pid)[1].exit_status())
"""


@pytest.mark.parametrize("name", ["spawn", "fork"])
def test_strace_shows_which_runner_ran(name: str, tmp_path: Path) -> None:
    """spawn: clone with CLONE_VM|CLONE_VFORK (glibc's posix_spawn), and the
    child makes the translated calls; fork: a clone without CLONE_VM."""
    skip_if_declined(name)
    trace = tmp_path / "trace"
    command = [strace_or_fail(), "-f", "-o", str(trace), sys.executable, "-I", "-S", "-c"]
    done = subprocess.run(
        [*command, STRACED, PACKAGE_PARENT, name], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    pid, status = (int(x) for x in done.stdout.split())
    assert status == 0
    lines = trace.read_text().splitlines()
    # Failed clones make no child: the spawn runner's clone3 probe
    # (runner_spawn._clone_refused), glibc's clone3 where the kernel has none
    # (it then falls back to clone).
    made = [
        line
        for line in lines
        if re.search(r"\bclone3?\(", line)
        and "CLONE_THREAD" not in line
        and "resumed" not in line
        and " = -1 " not in line
    ]
    assert len(made) == 1, made
    if name == "spawn":
        assert "CLONE_VM|CLONE_VFORK" in made[0], made[0]
        child = [
            line.split(None, 1)[1]
            for line in lines
            if line.startswith(f"{pid} ")
            and not line.split(None, 1)[1].startswith(("rt_sigaction", "<...", "+++"))
        ]
        calls = [re.match(r"[a-z_0-9]+", line)[0] for line in child]  # type: ignore[index]
        swept = calls.index("close_range")
        if " = -1 " in child[swept]:
            # A kernel without close_range (or a seccomp profile refusing it):
            # glibc's closefrom walks /proc/self/fd and closes what it lists.
            done = calls.index("rt_sigprocmask", swept)
            assert set(calls[swept + 1 : done]) <= {"openat", "getdents64", "close"}, child
            assert '"/proc/self/fd' in child[swept + 1], child
            del calls[swept + 1 : done]
        end = calls.index("execve")
        assert calls[:end] == [
            "rt_sigprocmask",  # glibc reads the mask, resets the handlers (not listed)
            "setsid",
            "chdir",
            *["fcntl"] * 6,  # adddup2(i, i): F_GETFD, F_SETFD for fds 0..2
            "close_range",  # addclosefrom_np(3)
            "rt_sigprocmask",  # the caller's mask
        ], child[: end + 1]
    else:
        assert "CLONE_VM" not in made[0] and "CLONE_VFORK" not in made[0], made[0]


# --- the translation -------------------------------------------------------------


# The translation tests judge the translation itself: they give it a C
# library with every file action it may use (glibc 2.34+), whatever this one
# has; test_what_an_older_library_cannot_do and tests/test_glibc.py check
# the older ones.
FULL_GLIBC = replaced(runner_spawn.LIBRARY, chdir=True, closefrom=True)


def translated(*args: Any, **kwargs: Any) -> runner_spawn.Spawn:
    plan = exec_unix.child_program(*args, **kwargs)
    result = runner_spawn.translate(plan, FULL_GLIBC)
    assert isinstance(result, runner_spawn.Spawn), result
    return result


def actions_of(spawn: runner_spawn.Spawn) -> list[tuple[str, tuple[Any, ...]]]:
    return [
        (func.replace("posix_spawn_file_actions_", ""), args) for func, args, _ in spawn.actions
    ]


def test_translation_of_go_fd_passes(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        spawn = translated("/bin/true", ["true"], ProcAttr(files=[0, 1, None, fd, 1]))
    finally:
        os.close(fd)
    # Pass 1 copies fd 1 (files[4] < 4) above every fd in play, close-on-exec;
    # pass 2 places each; then everything from 5 (the copy too) is closed.
    copy = max(5, fd) + 1
    assert actions_of(spawn) == [
        ("adddup2", (1, copy)),
        ("adddup2", (0, 0)),
        ("adddup2", (1, 1)),
        ("addclose", (2,)),
        ("adddup2", (fd, 3)),
        ("adddup2", (copy, 4)),
        ("addclosefrom_np", (5,)),
    ]
    assert spawn.flags & runner_spawn.zerrors.POSIX_SPAWN_SETSIGMASK
    assert str(spawn).startswith("posix_spawn, flags SETSIGDEF|SETSIGMASK")


def test_translation_of_attributes() -> None:
    attr = ProcAttr(dir="/tmp", sys=SysProcAttr(setsid=True, setpgid=True, pgid=0))
    spawn = translated("/bin/true", ["true"], attr)
    zerrors = runner_spawn.zerrors
    want = zerrors.POSIX_SPAWN_SETSID | zerrors.POSIX_SPAWN_SETPGROUP
    assert spawn.flags & want == want and spawn.pgroup == 0
    assert actions_of(spawn)[0] == ("addchdir_np", spawn.actions[0][1])
    assert spawn.actions_key[0] == ("posix_spawn_file_actions_addchdir_np", b"/tmp")
    # The plan's own list, and glibc's own signals (test_signal_dispositions).
    assert spawn.sigdefault == (*runtime.signals_to_reset(), 32, 33)


def test_unknown_step_fields_and_kinds_are_not_spawnable() -> None:
    plan = exec_unix.child_program("/bin/true", ["true"])
    assert isinstance(runner_spawn.translate(plan, FULL_GLIBC), runner_spawn.Spawn)
    for index, step in enumerate(plan.steps):
        changed = replaced(plan, steps=list(plan.steps))
        changed.steps[index] = replaced(step, expect=0)
        assert f"step {index} " in str(runner_spawn.translate(changed, FULL_GLIBC)), step

    class FutureStep(Step):
        __slots__ = ("uid",)

        def __init__(
            self,
            name: str,
            func: str,
            args: tuple[Any, ...],
            text: str,
            checked: bool,
            uid: int = 0,
        ) -> None:
            super().__init__(name, func, args, text, checked)
            self.uid = uid

    first = plan.steps[0]
    future = FutureStep(first.name, first.func, first.args, first.text, first.checked)
    changed = replaced(plan, steps=[future, *plan.steps[1:]])
    assert "FutureStep, not a Step" in str(runner_spawn.translate(changed, FULL_GLIBC))
    changed = replaced(plan, pidfd=object())
    assert "the plan's pidfd" in str(runner_spawn.translate(changed, FULL_GLIBC))
    changed = replaced(plan, fork=Step("clone", "syscall", (56, 0x20000011), "clone"))
    assert "posix_spawn forks only plainly" in str(runner_spawn.translate(changed, FULL_GLIBC))
    changed = replaced(plan, steps=plan.steps[:-1])
    assert runner_spawn.translate(changed, FULL_GLIBC) == "the plan has no execve"


def test_what_an_older_library_cannot_do() -> None:
    plan = exec_unix.child_program("/bin/true", ["true"], ProcAttr(dir="/"))
    lib = runner_spawn.LIBRARY
    for missing, reason in [
        ({"inherit": None}, "cannot clear FD_CLOEXEC"),
        ({"closefrom": False}, "has no posix_spawn_file_actions_addclosefrom_np"),
        ({"chdir": False}, "has no posix_spawn_file_actions_addchdir_np"),
        ({"missing": "no posix_spawn here"}, "no posix_spawn here"),
    ]:
        older = replaced(lib, **missing)
        assert reason in str(runner_spawn.translate(plan, older)), missing


DARWIN = runner_spawn.Library(
    "libSystem",
    None,
    setsid=True,
    chdir=True,
    closefrom=False,
    inherit="posix_spawn_file_actions_addinherit_np",
    cloexec_default=zerrors_darwin.POSIX_SPAWN_CLOEXEC_DEFAULT,
)


def test_darwin_plans_on_libsystem(monkeypatch: pytest.MonkeyPatch) -> None:
    """darwin's plan (dup2, then fcntl FD_CLOEXEC for pass 1) on libSystem's
    posix_spawn: inherit_np for files[i] == i, the pass-1 copy closed."""
    monkeypatch.setattr(runner_spawn, "zerrors", zerrors_darwin)
    plan = darwin.child_program(
        b"/bin/echo",
        [b"echo"],
        [b"A=1"],
        b"/tmp",
        [0, 2, 1, 1],
        darwin.SysProcAttr(setsid=True),
        [signal.SIGINT, signal.SIGPIPE],
    )
    spawn = runner_spawn.translate(plan, DARWIN)
    assert isinstance(spawn, runner_spawn.Spawn), spawn
    assert actions_of(spawn) == [
        ("addchdir_np", spawn.actions[0][1]),
        ("adddup2", (1, 5)),  # pass 1: files[2] == 1 < 2 ...
        ("adddup2", (1, 6)),  # ... and files[3]
        ("addinherit_np", (0,)),  # files[0] == 0
        ("adddup2", (2, 1)),
        ("adddup2", (5, 2)),
        ("adddup2", (6, 3)),
        ("addclose", (5,)),  # the copies were close-on-exec
        ("addclose", (6,)),
    ]
    flags = (
        zerrors_darwin.POSIX_SPAWN_SETSID
        | zerrors_darwin.POSIX_SPAWN_SETSIGDEF
        | zerrors_darwin.POSIX_SPAWN_SETSIGMASK
    )
    assert spawn.flags == flags
    assert spawn.sigdefault == (signal.SIGINT, signal.SIGPIPE)
    # A ptrace or credential step has no posix_spawn equivalent.
    plan = darwin.child_program(
        b"/bin/echo", [b"echo"], [], None, [0, 1, 2], darwin.SysProcAttr(ptrace=True), []
    )
    assert "ptrace(PT_TRACE_ME)" in str(runner_spawn.translate(plan, DARWIN))


def test_judging_the_failed_step(tmp_path: Path) -> None:
    spawn = translated("/bin/true", ["true"], ProcAttr(dir=tmp_path, files=[0, 1, 2, 1]))
    assert runner_spawn.judge(spawn, errno.EBADF).step == "dup3"  # type: ignore[attr-defined]
    error = runner_spawn.judge(spawn, errno.ENOENT)  # the dir exists: execve's
    assert (error.step, error.filename) == ("execve", "/bin/true")  # type: ignore[attr-defined]
    error = runner_spawn.judge(spawn, errno.EAGAIN)
    assert isinstance(error, BlockingIOError) and "fork through posix_spawn" in str(error)
    tmp_path.rmdir()
    error = runner_spawn.judge(spawn, errno.ENOENT)
    assert (error.step, error.filename) == ("chdir", str(tmp_path))  # type: ignore[attr-defined]


def test_setup_objects_are_cached_and_shared() -> None:
    skip_if_declined("spawn")
    for _ in range(3):
        pid = pysyscall.fork_exec("/bin/true", ["true"])
        assert pysyscall.wait4(pid)[1].exit_status() == 0
    assert 0 < len(runner_spawn._attributes_cache) <= runner_spawn._CACHE_SIZE
    assert 0 < len(runner_spawn._actions_cache) <= runner_spawn._CACHE_SIZE


# --- the cached environment and the signal scan ---------------------------------


def test_environ_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """An Environ is environ's entries now, then again at each take; strings copied on request."""
    monkeypatch.setenv("PYSYSCALL_ENV_TEST", "1")
    # The pointers where the strings stay valid (glibc, CPython); copies of
    # the strings (darwin, PyPy), which work anywhere.
    for kept in sorted({env_unix.STRINGS_KEPT, False}):
        monkeypatch.setattr(env_unix, "STRINGS_KEPT", kept)
        copy = env_unix.Environ()
        address = copy.address
        first = ctypes_strings(copy.address)
        native = subprocess.run(["/usr/bin/env", "-0"], capture_output=True, check=True).stdout
        assert first == native.split(b"\0")[:-1] and b"PYSYSCALL_ENV_TEST=1" in first
        os.putenv("PYSYSCALL_ENV_TEST", "2")
        os.unsetenv("HOME")
        try:
            assert ctypes_strings(copy.address) == first  # a copy: unmoved by setenv
            assert copy.take() and copy.address == address
            taken = ctypes_strings(copy.address)
        finally:
            os.putenv("PYSYSCALL_ENV_TEST", "1")
            os.putenv("HOME", os.environ["HOME"])
        assert b"PYSYSCALL_ENV_TEST=2" in taken and not [e for e in taken if e.startswith(b"HOME=")]
        assert len(taken) == len(first) - 1
        # Changed back, then unchanged: each take holds environ as it is.
        assert copy.take() and sorted(ctypes_strings(copy.address)) == sorted(first)
        again = ctypes_strings(copy.address)
        assert copy.take() and ctypes_strings(copy.address) == again


ENVIRON_BLOCKS = r"""
import ctypes, mmap, sys
sys.path.insert(0, sys.argv[1])
from pysyscall import env_unix

libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
variable = env_unix._address
real = variable.value
entries = env_unix._read(False)[:30]  # valid strings, as environ's
block = env_unix._BLOCK
memory = mmap.mmap(-1, 3 * block)
base = ctypes.addressof(ctypes.c_char.from_buffer(memory))
# 12 pointers before the boundary of the second and third blocks, 19 after.
array = (ctypes.c_size_t * 31).from_address(base + 2 * block - 12 * 8)
array[:30] = entries
array[30] = 0
result = []
variable.value = ctypes.addressof(array)
try:
    copy = env_unix.Environ()
    two = copy.at is not None and bool(copy.pages[3])
    result.append(copy.take() and copy.entries == entries)  # unchanged
    array[20] = entries[0]  # changed after the boundary
    result.append(copy.take() and copy.entries == entries[:20] + entries[:1] + entries[21:30])
    array[5] = 0  # shorter, its end before the boundary: the third block
    if libc.mprotect(base + 2 * block, block, 0) != 0:  # PROT_NONE: never read, no fault
        raise OSError(ctypes.get_errno(), "mprotect")
    result.append(copy.take() and copy.entries == entries[:5])
finally:
    variable.value = real
print(two, *result)
"""


def test_environ_compared_a_block_at_a_time(tmp_path: Path) -> None:
    """Environ.take's one read a 4096-byte block (glibc, CPython 3.11+, _NO_SWITCH):
    an array crossing a block boundary, unchanged, changed after the boundary,
    then shortened to end before it with the block after it unreadable, which a
    read past the array's NULL would fault on. In a fresh interpreter whose
    ``environ`` points to that array; elsewhere take reads every entry, and
    the same copies result."""
    script = tmp_path / "blocks.py"
    script.write_text(ENVIRON_BLOCKS)
    package_parent = str(Path(pysyscall.__file__).resolve().parent.parent)
    # The script uses 30 of environ's strings: a machine's own may be fewer.
    env = dict(os.environ, **{f"PYSYSCALL_BLOCK_{i}": str(i) for i in range(30)})
    done = subprocess.run(
        [sys.executable, str(script), package_parent],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    by_block = env_unix.STRINGS_KEPT and env_unix._NO_SWITCH
    assert done.stdout.split() == [str(by_block), "True", "True", "True"]


def ctypes_strings(address: int) -> list[bytes]:
    import ctypes

    array = ctypes.cast(address, ctypes.POINTER(ctypes.c_char_p))
    entries = []
    while array[len(entries)] is not None:
        entries.append(array[len(entries)])
    return entries


def test_signals_from_proc_match_sigaction() -> None:
    rt = signal.SIGRTMIN + 5
    previous = {
        signal.SIGUSR1: signal.signal(signal.SIGUSR1, lambda *a: None),
        signal.SIGUSR2: signal.signal(signal.SIGUSR2, signal.SIG_IGN),
        signal.SIGPIPE: signal.signal(signal.SIGPIPE, signal.SIG_DFL),
        rt: signal.signal(rt, lambda *a: None),
    }
    try:
        assert runtime._proc_signal_masks() is not None
        from_proc = runtime.signals_to_reset()
        assert from_proc == runtime._signals_to_reset_by_sigaction()
        assert {signal.SIGUSR1, rt} <= set(from_proc)
        assert signal.SIGUSR2 not in from_proc and signal.SIGPIPE not in from_proc
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert runtime.signals_to_reset() == runtime._signals_to_reset_by_sigaction()


def test_signals_without_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_proc_signal_masks", lambda: None)
    assert runtime.signals_to_reset() == runtime._signals_to_reset_by_sigaction()


# --- the bench -------------------------------------------------------------------


def test_bench_smoke() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pysyscall", "bench", "--spawns", "3", "--threads", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("`python -m pysyscall bench --rss 0 --threads 2 --spawns 3`")
    methods = ("pysyscall auto (vfork)", "pysyscall fork", "pysyscall vfork")
    if runner_declines("spawn") is None:
        methods += ("pysyscall spawn",)
    for method in (*methods, "os.posix_spawn", "subprocess.Popen", "os.fork + os.execv"):
        assert f"| {method} |" in text
    assert "| pysyscall auto, serializing fork lock |" in text
    as_root = os.geteuid() == 0  # only root may start a child as another user
    assert ("| pysyscall auto, credential 65534 |" in text) == as_root
    assert "Against the standard library:\n- pysyscall auto (vfork) / os.posix_spawn = " in text
    assert "The vfork routine, credentials included:\n- pysyscall vfork / os.posix_spawn = " in text
    ratio = "subprocess.Popen(user=, group=, extra_groups=) 65534 / pysyscall auto, credential"
    assert (ratio in text) == as_root
    # compat's Popen against the native one, rows and goal; the run's headline ratios
    for row in ('subprocess.Popen(cwd="/")', 'subprocess.Popen(cwd="/") through compat'):
        assert f"| {row} |" in text
    assert '- subprocess.Popen(cwd="/") through compat / subprocess.Popen(cwd="/") = ' in text
    headline = text.partition("Headline ratios of this run (medians):\n\n")[2]
    assert headline.startswith("- pysyscall auto / os.posix_spawn (goal ≤ 0.95): ")
    assert "MiB parent)\n- Popen through compat / native Popen (goal ≤ 1.00): " in headline
    assert "\n- import pysyscall / import subprocess (goal ≤ 1; -X importtime" in headline


def test_bench_runs_the_methods_that_fork_apart() -> None:
    """Each method that forks takes its turns only after every other method's
    rounds: the copy-on-write faults a fork leaves fall on no other method."""
    from pysyscall import bench

    calls: list[str] = []
    names = ["os.fork + os.execv", "os.posix_spawn", "pysyscall fork", "pysyscall auto (vfork)"]
    found = [(name, lambda name=name: calls.append(name)) for name in names]
    times = bench.latency(found, 5, lambda text: None)
    assert {name: len(times[name]) for name in names} == dict.fromkeys(names, 5)
    forks = bench.forking()
    assert {"os.fork + os.execv", "pysyscall fork", bench.CREDENTIAL_POPEN} <= forks
    assert "os.posix_spawn" not in forks and "pysyscall auto (vfork)" not in forks
    first_fork = min(i for i, name in enumerate(calls) if name in forks)
    assert all(name in forks for name in calls[first_fork:]), calls
    assert len(calls) == 4 * (3 + 5)  # each warmed up 3 times, then 5 rounds


def test_bench_compat_script_runs_each_mode() -> None:
    """benchmarks/bench_compat.py reads compat's and the vfork runner's insides
    (--parts, --layers): each mode still runs and prints its rows."""
    skip_if_declined("vfork")  # --layers cuts down the vfork runner's kept start
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_compat.py"
    env = dict(os.environ, PYSYSCALL_RUNNER="vfork", PYTHONPATH="")  # this checkout's

    def run(*options: str) -> str:
        out = subprocess.run(
            [sys.executable, str(script), "--rounds", "20", *options],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout

    text = run("--parts")
    assert re.search(r"^  ratio of medians \d+\.\d{3}$", text, flags=re.M), text
    assert re.search(r"^  request key +\d+\.\d$", text, flags=re.M), text
    rows = re.findall(r"^\| (.+?) \| \d+\.\d \| \d\.\d{3} \|$", run("--layers"), flags=re.M)
    assert rows == [
        "native fork_exec",
        "compat.fork_exec",
        "- interrupt guard and start frames",
        "- request key and lookup",
        "- environ copy, plan pool, checks",
        "- the fork lock's share",
        "- GC pause and signal mask: the clone",
    ]


def test_bench_sizes() -> None:
    from pysyscall import bench

    assert [bench.parse_size(s) for s in ("0", "512M", "2G", "1.5g", "64KiB")] == [
        0,
        512 << 20,
        2 << 30,
        3 << 29,
        64 << 10,
    ]
    with pytest.raises(Exception, match="not a size"):
        bench.parse_size("lots")
