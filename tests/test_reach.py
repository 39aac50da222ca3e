"""Old kernels and sandboxes, for real: each runner under a seccomp profile.

tests/seccomp_profile.py makes this kernel look like RHEL 8's 4.18, Ubuntu 20.04's 5.4, a 5.10,
Docker before 20.10 (clone3 and close_range answered with EPERM) or a
sandbox without memfd_create; tests/reach_start.py is the parent under the
profile, holding inheritable fds (5, 10, 251, 1000) that the child must not
get. Every runner must give the child exactly what was asked (fds, cwd,
env, session, ids), or decline saying why; what a kernel cannot do raises an
error naming it, before any fork.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import signal_set

import pysyscall
from pysyscall import linux, runner_vfork

HERE = Path(__file__).parent
PROFILE = str(HERE / "seccomp_profile.py")
START = str(HERE / "reach_start.py")
PROFILES = ("4.18", "5.4", "5.10", "docker-19.03", "no-memfd")
RUNNERS = ("vfork", "spawn", "fork", "auto")


def _filtered() -> bool:
    status = Path("/proc/self/status").read_text()
    return any(line.split() == ["Seccomp:", "2"] for line in status.splitlines())


pytestmark = [
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or runner_vfork.asm is None,
        reason="the profiles and the routine's fallback are for x86-64 and aarch64 Linux",
    ),
    pytest.mark.skipif(
        sys.platform.startswith("linux") and _filtered(),
        reason="already under a seccomp filter (.ci/run's profiles): the profiles would stack",
    ),
]


def under(profile: str, *command: str, no_proc: bool = False) -> str:
    """Run ``command`` under the seccomp profile; return its stdout (exit 0 expected)."""
    argv = [sys.executable, PROFILE, profile, *command]
    if no_proc:
        if os.geteuid() != 0:
            # /proc's mount is locked in a user's own mount namespace.
            pytest.skip("needs root: unmounts /proc in a mount namespace of its own")
        # A mount namespace of its own without /proc, as after a chroot.
        script = 'umount -l /proc && exec "$@"'
        argv = ["unshare", "-m", "sh", "-c", script, "sh", *argv]
    # reach_start.py imports the package this suite tests, installed or not
    # (the aarch64 guest of .ci/arm64-guest.sh runs it from the checkout).
    package_parent = os.path.dirname(os.path.dirname(pysyscall.__file__))
    path = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": path})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def start(
    profile: str, runner: str, mode: str, tmp_path: Path, *options: str, no_proc: bool = False
) -> tuple[dict[str, Any], Path]:
    report = tmp_path / "report"
    out = under(
        profile, sys.executable, START, runner, mode, str(report), str(tmp_path), *options,
        no_proc=no_proc,
    )  # fmt: skip
    return json.loads(out), report


# What each profile's kernel lacks (0: has it), as linux.kernel_lacks finds it.
LACKS = {
    "4.18": dict(close_range=errno.ENOSYS, close_range_cloexec=errno.ENOSYS,
                 clone3=errno.ENOSYS, clone_clear_sighand=errno.ENOSYS, pidfd=errno.ENOSYS,
                 memfd=0),
    "5.4": dict(close_range=errno.ENOSYS, close_range_cloexec=errno.ENOSYS, clone3=0,
                clone_clear_sighand=errno.ENOSYS, pidfd=0, memfd=0),
    "5.10": dict(close_range=0, close_range_cloexec=errno.EINVAL, clone3=0,
                 clone_clear_sighand=0, pidfd=0, memfd=0),
    "docker-19.03": dict(close_range=errno.EPERM, close_range_cloexec=errno.EPERM,
                         clone3=errno.EPERM, clone_clear_sighand=errno.EPERM, pidfd=0, memfd=0),
    "no-memfd": dict(close_range=0, close_range_cloexec=0, clone3=0, clone_clear_sighand=0,
                     pidfd=0, memfd=errno.EPERM),
}  # fmt: skip


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_is_the_kernel_it_names(profile: str) -> None:
    """The filter answers as that kernel would, and `info` says what it lacks."""
    code = (
        "import json, pysyscall.linux as l\n"
        "print(json.dumps({f: l.kernel_lacks(f) for f in l.KERNEL_FEATURES}))"
    )
    assert json.loads(under(profile, sys.executable, "-c", code)) == LACKS[profile]
    info = under(profile, sys.executable, "-m", "pysyscall", "info")
    for feature, code_ in LACKS[profile].items():
        line = f"kernel lacks {linux.KERNEL_FEATURES[feature]} ({errno.errorcode.get(code_)})"
        assert (line in info) == bool(code_), info
    spawn = next(line for line in info.splitlines() if line.startswith("runner spawn:"))
    # glibc 2.34+'s posix_spawn clones with clone3 (an older one with clone).
    clone3 = profile == "docker-19.03" and pysyscall.libc.has(
        "posix_spawn_file_actions_addclosefrom_np"
    )
    assert ("clone3" in spawn) == clone3, spawn


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("profile", PROFILES)
def test_child_view(profile: str, runner: str, tmp_path: Path) -> None:
    """The child sees exactly the listed fds, its cwd, env, session, ids; or the runner declines."""
    result, report = start(profile, runner, "view", tmp_path)
    if profile == "docker-19.03" and runner == "spawn":
        # glibc's posix_spawn would fail every start (clone3 EPERM, no fallback to clone).
        assert result["error"].startswith("RuntimeError"), result
        assert "clone3" in result["error"] and "execve" not in result["error"], result
        assert not report.exists()
        return
    assert result["error"] is None and result["status"] == 0, result
    assert result["runner"] == ("vfork" if runner == "auto" else runner)
    lacks_cloexec = LACKS[profile]["close_range_cloexec"] != 0
    assert any(s.startswith("cloexec_range(3,") for s in result["steps"]) == lacks_cloexec
    view = json.loads(report.read_text())
    assert sorted(view["fds"], key=int) == ["0", "1", "2"], view["fds"]
    assert view["cwd"] == str(tmp_path)
    assert view["environ"] == {"REACH": "1", "LC_ALL": "C.UTF-8"}
    assert view["ppid"] == result["parent"]
    assert view["sid"] == view["pgid"] == view["pid"]
    mine = {line.split(":")[0]: line.split(":")[1].split() for line in
            Path("/proc/self/status").read_text().splitlines()}  # fmt: skip
    for field in ("Uid", "Gid", "Groups"):
        assert view["status"][field].split() == mine[field], field
    # Caught in the parent, SIGUSR1 is at default; SIGUSR2 stays ignored, as
    # does whatever else the parent ignores. The kernel reset the handler
    # (CLONE_CLEAR_SIGHAND), or, where the profile refuses clone3, the vfork
    # routine's rule. (The child, a Python, catches SIGINT and ignores SIGPIPE
    # and SIGXFSZ itself, as the parent does.) Not compared: glibc's own 32
    # and 33, which CPython 3.13.0's subprocess leaves ignored in the parent
    # it starts here, glibc's posix_spawn sets to default in its child, and
    # glibc before 2.34 (libpthread) catches in any process, the child too.
    internal = {32, 33}
    assert signal_set(view["status"], "SigCgt") - internal == {signal.SIGINT}
    ignored = signal_set(result, "SigIgn") - internal
    assert {signal.SIGUSR2, signal.SIGPIPE, signal.SIGXFSZ} <= ignored
    assert signal_set(view["status"], "SigIgn") - internal == ignored
    has_it = LACKS[profile]["clone_clear_sighand"] == 0
    assert result["clears_handlers"] == (has_it and result["runner"] == "vfork"), result


@pytest.mark.parametrize(
    "runner, options",
    [("vfork", ()), ("fork", ()), ("spawn", ()), ("fork", ("no-routine",))],
    ids=["vfork", "fork", "spawn", "fork-without-routine"],
)
@pytest.mark.parametrize("no_proc", [False, True], ids=["proc", "no-proc"])
def test_every_fd_below_the_limit(runner: str, options: tuple[str, ...], no_proc: bool,
                                  tmp_path: Path) -> None:  # fmt: skip
    """On 4.18, with or without /proc, the child has only 0, 1, 2 of all fds below its limit.

    Without /proc the routine marks every fd below RLIMIT_NOFILE; glibc's
    posix_spawn (closefrom's own fallback walks /proc) would fail there, so
    the spawn runner declines, saying why.
    """
    result, report = start("4.18", runner, "fds", tmp_path, *options, no_proc=no_proc)
    if runner == "spawn" and no_proc:
        assert result["error"].startswith("RuntimeError"), result
        assert "/proc is not mounted: glibc's closefrom fails" in result["error"], result
        assert not report.exists()
        return
    assert result["error"] is None and result["status"] == 0, result
    assert result["runner"] == runner
    assert report.read_text() == "[0, 1, 2]"


def strace_child(profile: str, runner: str, tmp_path: Path, *options: str,
                 no_proc: bool = False) -> list[str]:  # fmt: skip
    """The system calls of the sweep, in the child only, up to its execve, under strace -f."""
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed (.ci/test installs it)")
    log = tmp_path / "strace"
    calls = "close_range,openat,getdents64,fcntl,prlimit64,execve"
    out = under(
        profile, "strace", "-f", "-o", str(log), "-e", f"trace={calls}", sys.executable, START,
        runner, "fds", str(tmp_path / "report"), str(tmp_path), *options, no_proc=no_proc,
    )  # fmt: skip
    parent = str(json.loads(out)["parent"])
    lines = [line.split(None, 1) for line in log.read_text().splitlines()]
    # The sweep's first call: close_range(3, ...), or for the fork runner's
    # sweep without the routine, fcntl(3, ...); the child is the process
    # that makes it (not the parent's other threads, which strace -f shows
    # under their own ids too).
    starts = ("close_range(3, ", "fcntl(3, F_SETFD, FD_CLOEXEC)")
    first = next(
        i for i, (pid, call) in enumerate(lines) if pid != parent and call.startswith(starts)
    )
    child = lines[first][0]
    calls = [call for pid, call in lines[first:] if pid == child]
    # What the exec'd program does is its own (a Python's start-up asks
    # for RLIMIT_STACK, say).
    return list(itertools.takewhile(lambda call: not call.startswith("execve("), calls))


@pytest.mark.parametrize("runner", ["vfork", "fork"])
@pytest.mark.parametrize("profile", ["4.18", "5.10", "docker-19.03"])
def test_strace_walks_proc_self_fd(profile: str, runner: str, tmp_path: Path) -> None:
    """close_range fails (ENOSYS, EINVAL, EPERM); the child walks /proc/self/fd."""
    calls = strace_child(profile, runner, tmp_path)
    want = {"4.18": "ENOSYS", "5.10": "EINVAL", "docker-19.03": "EPERM"}[profile]
    assert calls[0].startswith("close_range(3, 4294967295, CLOSE_RANGE_CLOEXEC) = -1 " + want)
    assert calls[1].startswith(
        'openat(AT_FDCWD, "/proc/self/fd", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = '
    )
    assert calls[2].startswith("getdents64(")
    for fd in (5, 10, 251):
        assert f"fcntl({fd}, F_SETFD, FD_CLOEXEC) = 0" in [" ".join(c.split()) for c in calls]
    assert not any(c.startswith("prlimit64(") for c in calls[:20])


@pytest.mark.parametrize(
    "runner, options", [("vfork", ()), ("fork", ("no-routine",))], ids=["vfork", "fork-sweep"]
)
def test_strace_every_fd_without_proc(
    runner: str, options: tuple[str, ...], tmp_path: Path
) -> None:
    """Without /proc: every fd from 3 below the soft limit, EBADF for the closed ones."""
    calls = [
        " ".join(c.split()) for c in strace_child("4.18", runner, tmp_path, *options, no_proc=True)
    ]
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]  # the child's, inherited
    for fd in (3, 5, 251, limit - 1):
        assert any(c.startswith(f"fcntl({fd}, F_SETFD, FD_CLOEXEC) = ") for c in calls), fd
    assert not any(c.startswith(f"fcntl({limit}, F_SETFD, FD_CLOEXEC)") for c in calls)


@pytest.mark.parametrize("runner", ["vfork", "fork"])
def test_strace_no_fallback_where_close_range_works(runner: str, tmp_path: Path) -> None:
    """No profile: one close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) = 0, nothing more."""
    if linux.kernel_lacks("close_range_cloexec"):
        pytest.skip("this kernel has no close_range(CLOSE_RANGE_CLOEXEC) itself")
    calls = strace_child("no-memfd", runner, tmp_path)
    assert calls[0].startswith("close_range(3, 4294967295, CLOSE_RANGE_CLOEXEC) = 0")
    assert not any("/proc/self/fd" in c or c.startswith("getdents64(") for c in calls[:5])


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize(
    "profile, mode, code, feature",
    [
        ("4.18", "pidfd", errno.ENOSYS, "pidfds"),
        ("4.18", "newtime", errno.ENOSYS, "clone3"),
        ("docker-19.03", "newtime", errno.EPERM, "clone3"),
    ],
)
def test_what_the_kernel_cannot_do(profile: str, mode: str, code: int, feature: str,
                                   runner: str, tmp_path: Path) -> None:  # fmt: skip
    """A pidfd on 4.18, a time namespace without clone3: an error naming it, no child."""
    result, report = start(profile, runner, mode, tmp_path)
    assert result["errno"] == code, result
    assert feature in result["error"] and "execve" not in result["error"], result
    assert not report.exists()


def test_cloexec_range_bounds(tmp_path: Path) -> None:
    """The routine's function marks exactly first..last, on each of its three paths."""
    code = r"""
import ctypes, json, os, sys
import pysyscall
from pysyscall import linux, runner_vfork
function = runner_vfork.routine_function("cloexec_range")
fds = []
for _ in range(6):
    fd = os.open("/dev/null", os.O_RDONLY)
    os.set_inheritable(fd, True)
    fds.append(fd)
result = function(fds[1], fds[4], linux._errno_location_address())
print(json.dumps([result, fds, [os.get_inheritable(fd) for fd in fds]]))
"""
    for profile, no_proc in (("no-memfd", False), ("4.18", False), ("4.18", True)):
        result, fds, inheritable = json.loads(
            under(profile, sys.executable, "-c", code, no_proc=no_proc)
        )
        assert result == 0
        assert inheritable == [True, False, False, False, False, True], (profile, no_proc, fds)


@pytest.mark.parametrize(
    "runner, options",
    [("vfork", ()), ("fork", ()), ("fork", ("no-routine",))],
    ids=["vfork", "fork", "fork-sweep"],
)
def test_sweep_failure_is_the_childs_error(runner: str, options: tuple[str, ...],
                                           tmp_path: Path) -> None:  # fmt: skip
    """No close_range, no /proc, prlimit64 refused: the start fails naming cloexec_range.

    The fork runner's sweep without the routine reads the limit in the parent
    (resource.getrlimit, the same prlimit64), so it fails there.
    """
    result, report = start("no-prlimit64", runner, "fds", tmp_path, *options, no_proc=True)
    assert result["errno"] == errno.EPERM, result
    assert "cloexec_range" in result["error"] or "getrlimit" in result["error"], result
    assert not report.exists()


def test_a_routine_without_cloexec_range(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine's routine that lacks the function (a port in progress): vfork declines."""
    from pysyscall import exec_unix

    monkeypatch.setattr(linux, "CLOSE_RANGE", False)  # as on a kernel before 5.11
    plan = exec_unix.child_program("/bin/true", ["true"], None)
    assert runner_vfork.unavailable(plan) is None
    monkeypatch.delattr(runner_vfork.asm, "CLOEXEC_RANGE")
    reason = runner_vfork.unavailable(plan)
    assert reason is not None and "cloexec_range, which this machine's routine lacks" in reason
    assert runner_vfork.routine_function("cloexec_range") is None
