"""Every Linux SysProcAttr field, tested for real from the child's own view.

Run as root (these tests change ids, make namespaces and cgroups). Each test
names the Go test it ports where there is one (src/syscall/exec_linux_test.go,
exec_unix_test.go, exec_pdeathsig_test.go). Programs the child runs as a
non-root uid are /bin or /usr/bin ones: this interpreter may live under a
directory only root can read. Helpers that must not be this process (a
session leader with a pty, an unprivileged starter, a parent that gets
killed) are Python subprocesses importing pysyscall; every wait has a
timeout, and children report through pipes rather than sleeps.

Tests that take the ``runner`` fixture (conftest.py) run once per runner,
as tests/test_runners.py's do; the rest run on the runner auto picks.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import TRAP, Runner, assert_no_children, kill_and_reap, open_fds, read_all, reap

import pysyscall
from pysyscall import Credential, ProcAttr, SysProcAttr
from pysyscall.exec_unix import child_program
from pysyscall.linux import SysProcIDMap
from pysyscall.zerrors_linux import (
    CLONE_CLEAR_SIGHAND,
    CLONE_FILES,
    CLONE_FS,
    CLONE_IO,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWTIME,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    CLONE_PIDFD,
    CLONE_PTRACE,
    CLONE_SETTLS,
    CLONE_SIGHAND,
    CLONE_SYSVSEM,
    CLONE_THREAD,
    CLONE_UNTRACED,
    CLONE_VM,
)

if not sys.platform.startswith("linux"):
    pytest.skip("Linux SysProcAttr fields", allow_module_level=True)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(pysyscall.__file__)))
TIMEOUT = 60.0  # seconds: the most any single wait in these tests may take
NOBODY = 65534
CLONE_PARENT = 0x8000
CAP_SYS_TIME = 25
CAP_SYSLOG = 34
PTRACE_DETACH = 17
CAP_LAST_CAP = int(Path("/proc/sys/kernel/cap_last_cap").read_text())

_libc = ctypes.CDLL(None, use_errno=True)


@pytest.fixture(autouse=True)
def _as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: sets ids, makes namespaces and cgroups only root may")


def output(
    argv: Sequence[str],
    sys_attr: SysProcAttr | None = None,
    *,
    files: Sequence[Any] = (0, "out", 2),
    dir: str | None = None,
    exit_status: int = 0,
) -> str:
    """Run ``argv`` with a pipe at ``files``' "out"; return what it wrote."""
    r, w = os.pipe()
    try:
        child_files = [w if f == "out" else f for f in files]
        pid = pysyscall.fork_exec(argv[0], argv, ProcAttr(dir=dir, files=child_files, sys=sys_attr))
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    try:
        data = read_all(r)
    except BaseException:
        kill_and_reap(pid)
        raise
    finally:
        os.close(r)
    status = reap(pid)
    assert status.exited() and status.exit_status() == exit_status, (status, data)
    return data.decode()


def proc_status(text: str) -> dict[str, str]:
    """A /proc/PID/status text as a dict (values stripped)."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def status_of(sys_attr: SysProcAttr | None = None) -> dict[str, str]:
    """The child's own /proc/self/status (cat is the process that was started)."""
    return proc_status(output(["/bin/cat", "/proc/self/status"], sys_attr))


def ids(value: str) -> list[int]:
    return [int(x) for x in value.split()]


def caps(value: str) -> set[int]:
    """The capabilities in a /proc/PID/status mask such as CapAmb."""
    mask = int(value, 16)
    return {n for n in range(64) if mask >> n & 1}


def stat_of(text: str) -> dict[str, int]:
    """The fields of /proc/PID/stat these tests read."""
    pid = int(text.split()[0])
    rest = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    keys = ["ppid", "pgrp", "session", "tty_nr", "tpgid"]
    return dict(zip(keys, map(int, rest[1:6])), pid=pid)


def tty_device(tty_nr: int) -> tuple[int, int]:
    """(major, minor) of /proc/PID/stat's tty_nr (0: no controlling terminal)."""
    return (tty_nr >> 8) & 0xFFF, (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)


def rdev(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def python_output(code: str, sys_attr: SysProcAttr | None = None) -> str:
    """What ``python -c code`` (run as root) prints."""
    return output([sys.executable, "-I", "-S", "-c", code], sys_attr)


def run_python(script: str, *args: str, new_session: bool = False, **popen: Any) -> str:
    """Run ``script`` in a helper interpreter that can import pysyscall; its stdout."""
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        start_new_session=new_session,
        **popen,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextlib.contextmanager
def blocked_child(
    script: str, sys_attr: SysProcAttr | None = None
) -> Iterator[tuple[int, str, int]]:
    """``sh -c script``, whose stdout is read to EOF, then kept waiting on stdin.

    Yields (pid, what the script wrote, pidfd or -1) while the child is alive
    and blocked, so the parent can look at /proc/PID; at the end the child
    sees EOF, exits 0 and is reaped.
    """
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    argv = ["sh", "-c", script + "\nexec >&-\nread line || :"]
    try:
        pid, handle = pysyscall.start_process(
            "/bin/sh", argv, ProcAttr(files=[stdin_r, out_w, 2], sys=sys_attr)
        )
    except BaseException:
        os.close(stdin_w)
        os.close(out_r)
        raise
    finally:
        os.close(stdin_r)
        os.close(out_w)
    try:
        try:
            report = read_all(out_r).decode()
        finally:
            os.close(out_r)
        yield pid, report, handle
    except BaseException:
        os.close(stdin_w)
        kill_and_reap(pid)
        raise
    finally:
        if handle >= 0:
            os.close(handle)
    os.close(stdin_w)
    status = reap(pid)
    assert status.exited() and status.exit_status() == 0, status


def planned(sys_attr: SysProcAttr) -> tuple[str, list[str]]:
    """The fork step's name and the step names of the plan for ``sys_attr``."""
    plan = child_program("/bin/true", ["true"], ProcAttr(sys=sys_attr))
    return plan.fork.name, [step.name for step in plan.steps]


def closed_fd() -> int:
    """An fd number that is not open (the lowest free one, just closed)."""
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    return fd


def ns(name: str, pid: str = "self") -> str:
    return os.readlink(f"/proc/{pid}/ns/{name}")


# Run as uid/gid 65534 with no groups, after importing what they need: the
# interpreter's own files may be readable by root only.
AS_NOBODY = """
import ctypes, errno, json, os, sys
import pysyscall
from pysyscall import Credential, ProcAttr, SysProcAttr
from pysyscall.linux import SysProcIDMap
from pysyscall.zerrors_linux import CLONE_NEWNS, CLONE_NEWUSER

def fds():
    return sorted(os.listdir("/proc/self/fd"))

def no_children():
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False

os.setgroups([])
os.setgid(65534)
os.setuid(65534)
# Dumpable again, as a process that never changed ids is: else its children's
# /proc/PID files stay root's, and it could not write their id maps.
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
"""

# Start sh -c SCRIPT with SysProcAttr ATTR (argv[1], evaluated), its stdout a
# pipe; report how it went as JSON. The scripts write to stdout, so the
# program ran if and only if the pipe has data.
NOBODY_START = (
    AS_NOBODY
    + """
attr = eval(sys.argv[1])
r, w = os.pipe()
before = fds()
result = {}
try:
    pid, handle = pysyscall.start_process(
        "/bin/sh", ["sh", "-c", sys.argv[2]], ProcAttr(files=[0, w, 2], sys=attr)
    )
except OSError as e:
    result["error"] = [type(e).__name__, e.errno, getattr(e, "step", None), e.filename]
else:
    if handle >= 0:
        os.close(handle)
    _, status = pysyscall.wait4(pid)
    result["exit"] = status.exit_status()
result["leaked_fds"] = fds() != before
os.close(w)
data = b""
while True:  # the child is gone and w closed: EOF comes
    chunk = os.read(r, 65536)
    if not chunk:
        break
    data += chunk
result["output"] = data.decode()
os.close(r)
result["no_children"] = no_children()
print(json.dumps(result))
"""
)


def start_as_nobody(attr: str, script: str) -> dict[str, Any]:
    """Start ``sh -c script`` from an unprivileged helper with SysProcAttr ``attr``."""
    result: dict[str, Any] = json.loads(run_python(NOBODY_START, attr, script))
    assert not result["leaked_fds"]
    assert result["no_children"]
    return result


# Credential: setgroups, setgid, setuid, in Go's order.


@pytest.fixture
def parent_groups() -> Iterator[list[int]]:
    """Give this process supplementary groups 11 and 22 for the test."""
    saved = os.getgroups()
    os.setgroups([11, 22])
    try:
        yield [11, 22]
    finally:
        os.setgroups(saved)


def test_credential_ids(runner: Runner, no_leaks: None) -> None:
    """Real, effective, saved and fs ids all change; groups are exactly the given
    ones; on every runner, and only in the child."""
    attr = SysProcAttr(credential=Credential(1234, 2345, [3, 30, 300]))
    runner.runs("/bin/cat", ["cat"], ProcAttr(sys=attr))
    status = status_of(attr)
    assert ids(status["Uid"]) == [1234] * 4
    assert ids(status["Gid"]) == [2345] * 4
    assert ids(status["Groups"]) == [3, 30, 300]
    assert os.getresuid() == (0, 0, 0) and os.getresgid() == (0, 0, 0)


def test_credential_group_cleanup(parent_groups: list[int], no_leaks: None) -> None:
    """Port of TestGroupCleanup: Credential{0, 0} clears the parent's groups."""
    assert ids(status_of()["Groups"]) == parent_groups
    status = status_of(SysProcAttr(credential=Credential(0, 0)))
    assert ids(status["Uid"]) == ids(status["Gid"]) == [0] * 4
    assert ids(status["Groups"]) == []


def test_credential_no_setgroups_keeps_groups(parent_groups: list[int], no_leaks: None) -> None:
    status = status_of(SysProcAttr(credential=Credential(1234, 2345, no_setgroups=True)))
    assert ids(status["Uid"]) == [1234] * 4
    assert ids(status["Gid"]) == [2345] * 4
    assert ids(status["Groups"]) == parent_groups
    _, steps = planned(SysProcAttr(credential=Credential(1, 2, no_setgroups=True)))
    assert "setgroups" not in steps


@pytest.mark.parametrize(
    ("credential", "step"),
    [
        ("Credential(0, 0, [0])", "setgroups"),
        ("Credential(0, 0, no_setgroups=True)", "setgid"),
        ("Credential(0, 65534, no_setgroups=True)", "setuid"),
    ],
    ids=["setgroups", "setgid", "setuid"],
)
def test_credential_failure_fails_the_start(credential: str, step: str) -> None:
    """Any of setgroups, setgid, setuid failing (EPERM as nobody) fails the start.

    The program never runs: not with partial privileges, not at all.
    """
    result = start_as_nobody(f"SysProcAttr(credential={credential})", "echo ran")
    assert result["error"] == ["PermissionError", errno.EPERM, step, None]
    assert result["output"] == ""


def test_credential_no_setgroups_unprivileged() -> None:
    """Port of TestCredentialNoSetGroups: an unprivileged process "changes" to its own ids."""
    result = start_as_nobody(
        "SysProcAttr(credential=Credential(65534, 65534, no_setgroups=True))", "id -u; id -g"
    )
    assert result["exit"] == 0
    assert result["output"] == "65534\n65534\n"


def test_credential_unmapped_uid_in_user_namespace(no_leaks: None) -> None:
    """setuid to a uid the new user namespace has no mapping for: EINVAL, no exec."""
    one = [SysProcIDMap(0, NOBODY, 1)]
    attr = SysProcAttr(
        cloneflags=CLONE_NEWUSER,
        uid_mappings=one,
        gid_mappings=one,
        credential=Credential(5, 0, no_setgroups=True),
    )
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as info:
            pysyscall.fork_exec(
                "/bin/sh", ["sh", "-c", "echo ran"], ProcAttr(files=[0, w, 2], sys=attr)
            )
    finally:
        os.close(w)
    try:
        assert read_all(r) == b""
    finally:
        os.close(r)
    assert info.value.errno == errno.EINVAL
    assert info.value.step == "setuid"  # type: ignore[attr-defined]
    assert "child step" in str(info.value)


# Chroot: the child's / is the tree; Dir and argv0 are resolved inside it.


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small root: /bin/sh (and a copy only in the tree) with the libraries ldd names."""
    root = tmp_path_factory.mktemp("root")
    sh = os.path.realpath("/bin/sh")
    ldd = subprocess.run(["ldd", sh], capture_output=True, text=True, timeout=TIMEOUT, check=True)
    libraries = [word for word in ldd.stdout.split() if word.startswith("/")]
    assert libraries, ldd.stdout
    for path in [*libraries, "/bin/sh", "/only-in-tree/sh"]:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sh if path.endswith("/sh") else path, target)
    root.chmod(0o755)  # mktemp's 0700 would keep a non-root child out of its /
    (root / "inside").mkdir()
    (root / "marker").write_text("in the tree\n")
    return root


def test_chroot(runner: Runner, tree: Path, no_leaks: None) -> None:
    """The child's / is the tree, its cwd Dir inside it (Go: chdir after chroot);
    a program outside the tree is not found. On every runner."""
    runner.runs("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(chroot=str(tree))))
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(chroot=str(tree))))
    assert info.value.step == "execve"  # type: ignore[attr-defined]  # no /bin/true inside
    script = 'pwd; echo /*; read line < /marker; echo "$line"; cd /..; pwd; echo /*'
    out = output(["/only-in-tree/sh", "-c", script], SysProcAttr(chroot=str(tree)), dir="/inside")
    lines = out.splitlines()
    listing = sorted("/" + name for name in os.listdir(tree))
    assert "/only-in-tree" in listing and "/marker" in listing
    assert [lines[0], lines[2], lines[3]] == ["/inside", "in the tree", "/"]
    assert sorted(lines[1].split()) == sorted(lines[4].split()) == listing


def test_chroot_dir_resolved_inside(tree: Path, tmp_path: Path, no_leaks: None) -> None:
    """A Dir that exists outside the tree but not inside it fails at chdir."""
    outside = tmp_path / "only-outside"
    outside.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec(
            "/bin/sh",
            ["sh", "-c", "true"],
            ProcAttr(dir=str(outside), sys=SysProcAttr(chroot=str(tree))),
        )
    assert info.value.errno == errno.ENOENT
    assert info.value.step == "chdir"  # type: ignore[attr-defined]
    assert info.value.filename == str(outside)


def test_chroot_missing(runner: Runner, tmp_path: Path, no_leaks: None) -> None:
    """The chroot step's error names the directory. On every runner."""
    missing = str(tmp_path / "missing")
    runner.runs("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(chroot=missing)))
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(chroot=missing)))
    assert info.value.errno == errno.ENOENT
    assert info.value.step == "chroot"  # type: ignore[attr-defined]
    assert info.value.filename == missing


def test_chroot_with_credential(tree: Path, no_leaks: None) -> None:
    """chroot comes before setuid (an unprivileged process could not chroot),
    and the ids hold inside: the child may not write into root's /inside."""
    attr = SysProcAttr(chroot=str(tree), credential=Credential(NOBODY, NOBODY, []))
    script = "echo /*; if (: > /inside/probe) 2>/dev/null; then echo wrote; else echo refused; fi"
    lines = output(["/bin/sh", "-c", script], attr, dir="/").splitlines()
    assert lines[0].split()[-1] == "/only-in-tree"
    assert lines[1] == "refused"
    assert not (tree / "inside" / "probe").exists()


# Terminals: setctty, noctty, foreground, with a pty from os.openpty().


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    try:
        yield master, slave
    finally:
        os.close(master)
        os.close(slave)


def test_setsid_setctty(runner: Runner, pty: tuple[int, int], no_leaks: None) -> None:
    """setsid + setctty: the pty is the child's controlling terminal, its group
    in front. On every runner."""
    _, slave = pty
    runner.runs("/bin/cat", ["cat"], ProcAttr(sys=SysProcAttr(setsid=True, setctty=True, ctty=0)))
    stat = stat_of(
        output(
            ["/bin/cat", "/proc/self/stat"],
            SysProcAttr(setsid=True, setctty=True, ctty=0),
            files=[slave, "out", 2],
        )
    )
    assert stat["session"] == stat["pgrp"] == stat["pid"]
    assert tty_device(stat["tty_nr"]) == rdev(slave)
    assert stat["tpgid"] == stat["pid"]


def test_setctty_ctty_is_a_child_fd(runner: Runner, pty: tuple[int, int], no_leaks: None) -> None:
    """go.dev/issue/29458: ctty names the child's fd (3 here), not the parent's.
    On every runner."""
    _, slave = pty
    attr = SysProcAttr(setsid=True, setctty=True, ctty=3)
    runner.runs("/bin/cat", ["cat"], ProcAttr(files=[0, 1, 2, slave], sys=attr))
    null = os.open(os.devnull, os.O_RDONLY)
    high = fcntl.fcntl(slave, fcntl.F_DUPFD_CLOEXEC, 40)
    try:
        assert null != 3 and high != 3
        attr = SysProcAttr(setsid=True, setctty=True, ctty=3)
        out = output(["/bin/cat", "/proc/self/stat"], attr, files=[null, "out", 2, high])
    finally:
        os.close(null)
        os.close(high)
    assert tty_device(stat_of(out)["tty_nr"]) == rdev(slave)


def test_setctty_without_setsid_fails(runner: Runner, pty: tuple[int, int], no_leaks: None) -> None:
    """TIOCSCTTY needs a session leader: EPERM, reported at that ioctl step. On every runner."""
    _, slave = pty
    runner.runs("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(setctty=True, ctty=0)))
    with pytest.raises(PermissionError) as info:
        pysyscall.fork_exec(
            "/bin/true",
            ["true"],
            ProcAttr(files=[slave, 1, 2], sys=SysProcAttr(setctty=True, ctty=0)),
        )
    assert info.value.errno == errno.EPERM
    assert info.value.step == "ioctl TIOCSCTTY"  # type: ignore[attr-defined]


def test_noctty_not_a_terminal(runner: Runner, no_leaks: None) -> None:
    """noctty detaches fd 0 from its terminal: ENOTTY where fd 0 is not one (as
    in Go). On every runner."""
    runner.runs("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(noctty=True)))
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        with pytest.raises(OSError) as info:
            pysyscall.fork_exec(
                "/bin/true", ["true"], ProcAttr(files=[null, 1, 2], sys=SysProcAttr(noctty=True))
            )
    finally:
        os.close(null)
    assert info.value.errno == errno.ENOTTY
    assert info.value.step == "ioctl TIOCNOTTY"  # type: ignore[attr-defined]


def test_foreground_ctty_not_a_terminal(no_leaks: None) -> None:
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as info:
            pysyscall.fork_exec(
                "/bin/true", ["true"], ProcAttr(sys=SysProcAttr(foreground=True, ctty=r))
            )
    finally:
        os.close(r)
        os.close(w)
    assert info.value.errno == errno.ENOTTY
    assert info.value.step == "ioctl TIOCSPGRP"  # type: ignore[attr-defined]


# A session leader whose controlling terminal is a fresh pty, as Go's tests
# use /dev/tty. It records any SIGTTIN/SIGTTOU it gets.
TTY_SESSION = """
import fcntl, json, os, select, signal, sys, termios
import pysyscall
from pysyscall import ProcAttr, SysProcAttr

got = []
for signum in (signal.SIGTTIN, signal.SIGTTOU):
    signal.signal(signum, lambda n, f: got.append(n))
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
device = os.fstat(slave).st_rdev
result = {"me": os.getpid(), "tty": [os.major(device), os.minor(device)]}

def read_all(fd):
    data = b""
    while select.select([fd], [], [], 60)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data.decode()
        data += chunk
    raise TimeoutError(data)
"""

FOREGROUND = (
    TTY_SESSION
    + """
result["fg_before"] = os.tcgetpgrp(slave)
stdin_r, stdin_w = os.pipe()
out_r, out_w = os.pipe()
script = "cat /proc/self/stat; exec >&-; read line || :"
attr = ProcAttr(files=[stdin_r, out_w, 2], sys=SysProcAttr(foreground=True, ctty=slave))
pid = pysyscall.fork_exec("/bin/sh", ["sh", "-c", script], attr)
os.close(stdin_r)
os.close(out_w)
result["pid"] = pid
result["stat"] = read_all(out_r)
result["pgid"] = os.getpgid(pid)
result["fg_master"] = os.tcgetpgrp(master)
result["fg_slave"] = os.tcgetpgrp(slave)
os.close(stdin_w)
_, status = pysyscall.wait4(pid, os.WUNTRACED)
if status.stopped():
    os.kill(pid, signal.SIGKILL)
    pysyscall.wait4(pid)
result["stopped"] = status.stopped()
result["exit"] = status.exit_status()
result["signals"] = list(got)
# Give the terminal back, as Go's TestForeground does, with SIGTTOU ignored.
previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
os.tcsetpgrp(slave, os.getpgrp())
signal.signal(signal.SIGTTOU, previous)
result["fg_after"] = os.tcgetpgrp(slave)
print(json.dumps(result))
"""
)


def test_foreground() -> None:
    """Ports of TestForeground and TestForegroundSignal (go.dev/issue/37217).

    The child leads a new group that is the terminal's foreground group, as
    the parent sees it (tcgetpgrp on master and slave) and as the child sees
    it (tpgid in its /proc/self/stat). It does not stop, and the parent gets
    no SIGTTIN or SIGTTOU while starting it and while it runs.
    """
    r = json.loads(run_python(FOREGROUND, new_session=True))
    assert r["fg_before"] == r["me"]
    stat = stat_of(r["stat"])  # cat, in the child's group and session
    assert r["pgid"] == r["pid"] == stat["pgrp"] == stat["tpgid"] != r["me"]
    assert stat["session"] == r["me"]
    assert list(tty_device(stat["tty_nr"])) == r["tty"]
    assert r["fg_master"] == r["fg_slave"] == r["pid"]
    assert not r["stopped"] and r["exit"] == 0
    assert r["signals"] == []
    assert r["fg_after"] == r["me"]


def without_and_with(field: str) -> dict[str, Any]:
    """In a session whose terminal is a pty, ``cat /proc/self/stat`` started
    with SysProcAttr(field=False), then True: each run's stat, pid, exit."""
    code = TTY_SESSION + textwrap.dedent(
        f"""
        for on in (False, True):
            out_r, out_w = os.pipe()
            attr = ProcAttr(files=[slave, out_w, 2], sys=SysProcAttr({field}=on))
            pid = pysyscall.fork_exec("/bin/cat", ["cat", "/proc/self/stat"], attr)
            os.close(out_w)
            result[str(on)] = read_all(out_r)
            os.close(out_r)
            result["pid " + str(on)] = pid
            result["exit " + str(on)] = pysyscall.wait4(pid)[1].exit_status()
        print(json.dumps(result))
        """
    )
    result: dict[str, Any] = json.loads(run_python(code, new_session=True))
    return result


def test_setsid_alone_has_no_terminal() -> None:
    """setsid: a child of a session with a terminal leads a session of its
    own, with none (the child without setsid shows it would have had one)."""
    r = without_and_with("setsid")
    assert r["exit False"] == r["exit True"] == 0
    sharing, alone = stat_of(r["False"]), stat_of(r["True"])
    assert list(tty_device(sharing["tty_nr"])) == r["tty"]
    assert sharing["session"] == r["me"]
    assert alone["session"] == r["pid True"] != r["me"]
    assert alone["tty_nr"] == 0


def test_noctty() -> None:
    """noctty: a child that would share the parent's terminal has none."""
    r = without_and_with("noctty")
    assert r["exit False"] == r["exit True"] == 0
    sharing, detached = stat_of(r["False"]), stat_of(r["True"])
    assert list(tty_device(sharing["tty_nr"])) == r["tty"]
    assert sharing["session"] == detached["session"] == r["me"]
    assert detached["tty_nr"] == 0
    assert detached["tpgid"] == -1


@pytest.mark.parametrize(
    ("attr", "files", "message"),
    [
        (SysProcAttr(setctty=True, foreground=True, ctty=0), None, "both setctty and foreground"),
        (SysProcAttr(setctty=True, ctty=3), [0, 1, 2], "ctty 3 is not a child fd"),
    ],
    ids=["SetCtty-Foreground", "invalid-Ctty"],
)
def test_invalid_exec(
    attr: SysProcAttr, files: list[int] | None, message: str, no_leaks: None
) -> None:
    """Port of TestInvalidExec: refused before the fork."""
    with pytest.raises(ValueError, match=message):
        child_program("/bin/true", ["true"], ProcAttr(files=files, sys=attr))
    with pytest.raises(ValueError, match=message):
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(files=files, sys=attr))


# Pdeathsig: the signal comes when the thread that started the child exits.

INTERMEDIATE = """
import os, sys
import pysyscall
from pysyscall import Credential, ProcAttr, SysProcAttr

ready, report, signum, uid, cloneflags = (int(a) for a in sys.argv[1:6])
credential = Credential(uid, uid, []) if uid else None
null = os.open(os.devnull, os.O_RDWR)
attr = ProcAttr(
    files=[null, null, 2, ready, report],
    sys=SysProcAttr(pdeathsig=signum, credential=credential, cloneflags=cloneflags),
)
pid = pysyscall.fork_exec("/bin/sh", ["sh", "-c", sys.argv[6]], attr)
for fd in (null, ready, report):
    os.close(fd)
print(pid, flush=True)
os.read(0, 1)  # until killed
"""


@pytest.mark.parametrize(
    ("uid", "cloneflags"),
    [(0, 0), (NOBODY, 0), (0, CLONE_NEWPID)],
    ids=["root", "setuid-nobody", "new-pid-namespace"],
)
def test_pdeathsig_parent_killed(uid: int, cloneflags: int, no_leaks: None) -> None:
    """Port of TestDeathSignalSetuid: kill the intermediate, the grandchild gets SIGUSR1.

    With a credential (setuid clears the death signal, so it must be set
    after) and in a new pid namespace (where the child is pid 1 and Go's
    getppid check does not apply).
    """
    ready_r, ready_w = os.pipe()
    report_r, report_w = os.pipe()
    script = TRAP.format(signum=int(signal.SIGUSR1))
    args = [ready_w, report_w, int(signal.SIGUSR1), uid, cloneflags]
    helper = subprocess.Popen(
        [sys.executable, "-c", INTERMEDIATE, *map(str, args), script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        pass_fds=(ready_w, report_w),
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    os.close(ready_w)
    os.close(report_w)
    grandchild = -1  # a pidfd: the grandchild is not our child, and its pid may be reused
    try:
        assert read_all(ready_r) == b"ready\n"
        assert helper.stdout is not None
        assert readable(helper.stdout.fileno(), TIMEOUT)
        grandchild = os.pidfd_open(int(helper.stdout.readline()))
        helper.kill()
        assert helper.wait(TIMEOUT) == -signal.SIGKILL
        assert read_all(report_r) == b"got\n"
        assert readable(grandchild, TIMEOUT)  # and then it exited
    finally:
        os.close(ready_r)
        os.close(report_r)
        if helper.poll() is None:
            helper.kill()
        helper.wait(TIMEOUT)
        for stream in (helper.stdin, helper.stdout):
            if stream is not None:
                stream.close()
        if grandchild >= 0:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(grandchild, signal.SIGKILL)
            os.close(grandchild)


PARENT_GONE = """
import os, signal, sys
import pysyscall
from pysyscall import ProcAttr, SysProcAttr
attr = SysProcAttr(pdeathsig=signal.SIGUSR1, cloneflags=int(sys.argv[1]))
print(pysyscall.fork_exec("/bin/sh", ["sh", "-c", "exit 0"], ProcAttr(sys=attr)))
"""


def test_pdeathsig_parent_gone_before_prctl(no_leaks: None) -> None:
    """Go's check after prctl: a child whose parent is not its starter signals itself.

    CLONE_PARENT makes it deterministic: the helper starts the child, whose
    parent is this process, as if the helper had died before the prctl.
    """
    pid = int(run_python(PARENT_GONE, str(CLONE_PARENT)))
    status = reap(pid)
    assert status.signaled() and status.signal() == signal.SIGUSR1


# Ptrace.


def test_ptrace_stops_at_exec(no_leaks: None) -> None:
    """PTRACE_TRACEME: the child stops with SIGTRAP at execve, traced by us."""
    pid = pysyscall.fork_exec(
        "/bin/sh", ["sh", "-c", "exit 7"], ProcAttr(sys=SysProcAttr(ptrace=True))
    )
    try:
        wpid, status = pysyscall.wait4(pid, os.WUNTRACED)
        assert wpid == pid
        assert status.stopped() and status.stop_signal() == signal.SIGTRAP
        fields = proc_status(Path(f"/proc/{pid}/status").read_text())
        assert fields["TracerPid"] == str(os.getpid())
        assert fields["State"].startswith("t")
        assert Path(f"/proc/{pid}/comm").read_text() == "sh\n"  # stopped after execve
        detach = _libc.ptrace
        detach.restype = ctypes.c_long
        detach.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        assert detach(PTRACE_DETACH, pid, None, None) == 0, os.strerror(ctypes.get_errno())
    except BaseException:
        kill_and_reap(pid)
        raise
    assert reap(pid).exit_status() == 7


# Cloneflags: namespaces made at the fork.


def test_clone_newpid(runner: Runner, child_view: Any, no_leaks: None) -> None:
    """CLONE_NEWPID: the child is pid 1 of its namespace, with no parent there.
    On every runner."""
    runner.runs("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(cloneflags=CLONE_NEWPID)))
    view = child_view(ProcAttr(sys=SysProcAttr(cloneflags=CLONE_NEWPID)))
    assert view["pid"] == 1 and view["ppid"] == 0
    assert view["started_pid"] != 1
    assert view["status"]["NSpid"].split() == [str(view["started_pid"]), "1"]


def test_clone_newuts(no_leaks: None) -> None:
    """CLONE_NEWUTS: the child's sethostname does not reach this process."""
    mine = os.uname().nodename
    code = (
        "import os, socket; socket.sethostname('pysyscall-uts-test'); "
        "print(os.uname().nodename, os.readlink('/proc/self/ns/uts'))"
    )
    nodename, uts = python_output(code, SysProcAttr(cloneflags=CLONE_NEWUTS)).split()
    assert nodename == "pysyscall-uts-test"
    assert uts != ns("uts")
    assert os.uname().nodename == mine


@pytest.mark.parametrize("how", ["unshareflags", "cloneflags"])
def test_newnet(how: str, no_leaks: None) -> None:
    """Port of TestUnshare (and the same with cloneflags): only lo in /proc/net/dev."""
    mine = Path("/proc/net/dev").read_text().strip().splitlines()
    theirs = (
        output(["/bin/cat", "/proc/net/dev"], SysProcAttr(**{how: CLONE_NEWNET}))
        .strip()
        .splitlines()
    )
    assert len(theirs) == 3, theirs
    assert theirs[2].split()[0] == "lo:"
    assert len(theirs) < len(mine)


def test_clone_newtime(no_leaks: None) -> None:
    """Port of TestCloneTimeNamespace: a new time namespace, through clone3."""
    attr = SysProcAttr(cloneflags=CLONE_NEWTIME)
    assert planned(attr)[0] == "clone3"
    assert output(["/bin/readlink", "/proc/self/ns/time"], attr).strip() != ns("time")


# Unshareflags.


def test_unshare_mount_namespace(tmp_path: Path, no_leaks: None) -> None:
    """Port of TestUnshareMountNameSpace: the child's mount does not reach us."""
    target = tmp_path / "proc"
    target.mkdir()
    script = f'mount -t proc proc {target} && grep -c " {target} " /proc/self/mountinfo'
    out = output(["/bin/sh", "-c", script], SysProcAttr(unshareflags=CLONE_NEWNS))
    assert out.strip() == "1"  # mounted, in the child's view
    assert f" {target} " not in Path("/proc/self/mountinfo").read_text()
    target.rmdir()


# In its own mount namespace (nothing reaches the host), the helper mounts a
# shared tmpfs; children mount proc below it. A copy of a shared mount in a
# new mount namespace stays its peer: the mount propagates back unless "/" is
# made private in the child, which Go does for unshareflags and not for
# cloneflags (go.dev/issue/19661).
PROPAGATION = """
import ctypes, json, os, sys
import pysyscall
from pysyscall import ProcAttr, SysProcAttr
from pysyscall.zerrors_linux import CLONE_NEWNS

libc = ctypes.CDLL(None, use_errno=True)
MS_REC, MS_PRIVATE, MS_SHARED, MNT_DETACH = 0x4000, 0x40000, 0x100000, 2

def check(result):
    if result != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

check(libc.unshare(CLONE_NEWNS))
check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None))
top = sys.argv[1].encode()
check(libc.mount(b"tmpfs", top, b"tmpfs", 0, None))
check(libc.mount(b"none", top, None, MS_SHARED, None))
result = {}
for how in ("cloneflags", "unshareflags"):
    target = os.path.join(sys.argv[1], how)
    os.mkdir(target)
    attr = SysProcAttr(**{how: CLONE_NEWNS})
    argv = ["mount", "-t", "proc", "proc", target]
    pid = pysyscall.fork_exec("/bin/mount", argv, ProcAttr(sys=attr))
    status = pysyscall.wait4(pid)[1]
    with open("/proc/self/mountinfo") as f:
        seen = any(line.split()[4] == target for line in f)
    if seen:
        check(libc.umount2(target.encode(), MNT_DETACH))
    os.rmdir(target)
    result[how] = [status.exit_status(), seen]
print(json.dumps(result))
"""


def test_unshare_mount_namespace_private_root(tmp_path: Path) -> None:
    """unshareflags=CLONE_NEWNS makes / private: no propagation even from a shared mount.

    The cloneflags child, whose / stays as it was, shows the setup would see
    a propagated mount.
    """
    top = tmp_path / "shared"
    top.mkdir()
    result = json.loads(run_python(PROPAGATION, str(top)))
    assert result == {"cloneflags": [0, True], "unshareflags": [0, False]}
    assert not any(top.iterdir())


def test_unshare_mount_namespace_chroot(
    tree: Path, tmp_path_factory: pytest.TempPathFactory, no_leaks: None
) -> None:
    """Port of TestUnshareMountNameSpaceChroot (go.dev/issue/20103): mount after chroot."""
    root = tmp_path_factory.mktemp("mountroot")
    shutil.copytree(tree, root, symlinks=True, dirs_exist_ok=True)
    mount = shutil.which("mount") or "/bin/mount"
    ldd = subprocess.run(
        ["ldd", mount], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    for path in [w for w in ldd.stdout.split() if w.startswith("/")] + ["/bin/mount"]:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(mount if path == "/bin/mount" else path, target)
    (root / "proc").mkdir()
    attr = SysProcAttr(chroot=str(root), unshareflags=CLONE_NEWNS)
    pid = pysyscall.fork_exec(
        "/bin/mount", ["mount", "-n", "-t", "proc", "proc", "/proc"], ProcAttr(dir="/", sys=attr)
    )
    assert reap(pid).exit_status() == 0
    assert f" {root}/proc " not in Path("/proc/self/mountinfo").read_text()
    (root / "proc").rmdir()


def test_unshare_uid_gid_mapping(no_leaks: None) -> None:
    """Port of TestUnshareUidGidMapping (as root: the child maps its own ids)."""
    own = [SysProcIDMap(0, 0, 1)]
    attr = SysProcAttr(unshareflags=CLONE_NEWNS | CLONE_NEWUSER, uid_mappings=own, gid_mappings=own)
    out = output(
        [
            "/bin/sh",
            "-c",
            "id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; "
            "readlink /proc/self/ns/user",
        ],
        attr,
    )
    lines = out.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == lines[2].split() == ["0", "0", "1"]
    assert lines[3] == "deny"
    assert lines[4] != ns("user")


def test_unshare_uid_gid_mapping_unprivileged() -> None:
    """Port of TestUnshareUidGidMapping as Go runs it (unprivileged), with its chroot.

    The child writes its own maps after unshare; chroot, after that, works
    only because the child is root in its new user namespace.
    """
    maps = "uid_mappings=[SysProcIDMap(0, 65534, 1)], gid_mappings=[SysProcIDMap(0, 65534, 1)]"
    script = "id -u; id -g; cat /proc/self/uid_map /proc/self/setgroups"
    attr = f"SysProcAttr(unshareflags=CLONE_NEWNS | CLONE_NEWUSER, chroot='/', {maps})"
    result = start_as_nobody(attr, script)
    assert result["exit"] == 0
    lines = result["output"].splitlines()
    assert lines[:2] == ["0", "0"]
    assert lines[2].split() == ["0", "65534", "1"]
    assert lines[3] == "deny"
    # Without the new user namespace the same chroot is refused.
    result = start_as_nobody("SysProcAttr(chroot='/')", "echo ran")
    assert result["error"] == ["PermissionError", errno.EPERM, "chroot", "/"]
    assert result["output"] == ""


# User namespaces made by cloneflags: the parent writes the maps.


def test_user_namespace_maps(no_leaks: None) -> None:
    """Root in the child, 65534 seen from outside; the child waits on a pipe while we look."""
    one = [SysProcIDMap(0, NOBODY, 1)]
    attr = SysProcAttr(
        cloneflags=CLONE_NEWUSER,
        uid_mappings=one,
        gid_mappings=one,
        credential=Credential(0, 0, [], no_setgroups=True),
    )
    with blocked_child("cat /proc/self/status", attr) as (pid, report, _):
        inside = proc_status(report)
        outside = proc_status(Path(f"/proc/{pid}/status").read_text())
        uid_map = Path(f"/proc/{pid}/uid_map").read_text().split()
        gid_map = Path(f"/proc/{pid}/gid_map").read_text().split()
        setgroups = Path(f"/proc/{pid}/setgroups").read_text().strip()
        user_ns = ns("user", str(pid))
    assert ids(inside["Uid"]) == ids(inside["Gid"]) == [0] * 4
    assert ids(outside["Uid"]) == ids(outside["Gid"]) == [NOBODY] * 4
    assert uid_map == gid_map == ["0", str(NOBODY), "1"]
    assert setgroups == "deny"
    assert user_ns != ns("user")


@pytest.mark.parametrize("setgroups", [False, True])
def test_clone_newuser_and_remap(setgroups: bool, no_leaks: None) -> None:
    """Port of TestCloneNEWUSERAndRemap: 0 mapped to our uid, the child is root."""
    uid, gid = os.getuid(), os.getgid()
    attr = SysProcAttr(
        cloneflags=CLONE_NEWUSER,
        uid_mappings=[SysProcIDMap(0, uid, 1)],
        gid_mappings=[SysProcIDMap(0, gid, 1)],
        gid_mappings_enable_setgroups=setgroups,
    )
    with blocked_child("id -un", attr) as (pid, report, _):
        written = Path(f"/proc/{pid}/setgroups").read_text().strip()
    assert report.strip() == "root"
    assert written == ("allow" if setgroups else "deny")


UNPRIVILEGED_MAPS = (
    "cloneflags=CLONE_NEWUSER, pidfd=True, "
    "uid_mappings=[SysProcIDMap(0, 65534, 1)], gid_mappings=[SysProcIDMap(0, 65534, 1)]"
)


def test_clone_newuser_setgroups_unprivileged() -> None:
    """TestCloneNEWUSERAndRemap unprivileged: setgroups=true makes the gid map EPERM.

    The parent's write fails: the start fails with PermissionError, the
    waiting child never runs the program and is reaped, and no fd (pidfd
    included) is left. Without setgroups the same start works.
    """
    attr = f"SysProcAttr({UNPRIVILEGED_MAPS}, gid_mappings_enable_setgroups=True)"
    result = start_as_nobody(attr, "echo ran")
    assert result["error"][:2] == ["PermissionError", errno.EPERM]
    assert result["output"] == ""
    result = start_as_nobody(f"SysProcAttr({UNPRIVILEGED_MAPS})", "id -u")
    assert result["exit"] == 0 and result["output"] == "0\n"


def test_id_map_write_error_names_the_file() -> None:
    attr = f"SysProcAttr({UNPRIVILEGED_MAPS}, gid_mappings_enable_setgroups=True)"
    result = start_as_nobody(attr, "echo ran")
    assert result["error"][3] is not None and result["error"][3].endswith("/gid_map")


def test_empty_cred_groups_disable_setgroups(no_leaks: None) -> None:
    """Port of TestEmptyCredGroupsDisableSetgroups: no groups, setgroups denied: skipped."""
    one = [SysProcIDMap(0, NOBODY, 1)]
    attr = SysProcAttr(
        cloneflags=CLONE_NEWUSER, uid_mappings=one, gid_mappings=one, credential=Credential(0, 0)
    )
    assert "setgroups" not in planned(attr)[1]
    assert output(["/usr/bin/id", "-u"], attr) == "0\n"
    # With groups to set, setgroups runs and the kernel refuses it.
    attr.credential = Credential(0, 0, [0])
    with pytest.raises(PermissionError) as info:
        pysyscall.fork_exec("/usr/bin/id", ["id"], ProcAttr(sys=attr))
    assert info.value.errno == errno.EPERM
    assert info.value.step == "setgroups"  # type: ignore[attr-defined]


@pytest.mark.parametrize("setgroups", [False, True])
def test_group_cleanup_user_namespace(
    setgroups: bool, parent_groups: list[int], no_leaks: None
) -> None:
    """Port of TestGroupCleanupUserNamespace: uid and gid 0 inside.

    With setgroups denied Go skips setgroups, and the parent's groups (not
    mapped) show as the overflow gid; with it allowed they are cleared.
    """
    one = [SysProcIDMap(0, NOBODY, 1)]
    attr = SysProcAttr(
        cloneflags=CLONE_NEWUSER,
        uid_mappings=one,
        gid_mappings=one,
        gid_mappings_enable_setgroups=setgroups,
        credential=Credential(0, 0),
    )
    status = status_of(attr)
    assert ids(status["Uid"]) == ids(status["Gid"]) == [0] * 4
    overflow = int(Path("/proc/sys/kernel/overflowgid").read_text())
    assert ids(status["Groups"]) == ([] if setgroups else [overflow] * len(parent_groups))


# Ambient capabilities.


@pytest.mark.parametrize("userns", [False, True], ids=["host", "userns"])
def test_ambient_caps(userns: bool, no_leaks: None) -> None:
    """Ports of TestAmbientCaps and TestAmbientCapsUserns: nobody keeps two capabilities."""
    attr = SysProcAttr(
        credential=Credential(NOBODY, NOBODY), ambient_caps=[CAP_SYS_TIME, CAP_SYSLOG]
    )
    if userns:
        attr.cloneflags = CLONE_NEWUSER
        attr.uid_mappings = [SysProcIDMap(NOBODY, os.getuid(), 1)]
        attr.gid_mappings = [SysProcIDMap(NOBODY, os.getgid(), 1)]
    status = status_of(attr)
    assert ids(status["Uid"]) == [NOBODY] * 4
    wanted = {CAP_SYS_TIME, CAP_SYSLOG}
    assert caps(status["CapAmb"]) == wanted
    assert caps(status["CapEff"]) == caps(status["CapPrm"]) == wanted
    # Without them, nobody has none.
    attr.ambient_caps = []
    assert caps(status_of(attr)["CapEff"]) == set()


def test_ambient_caps_not_permitted() -> None:
    """A parent without the capability cannot pass it on: capset fails, EPERM."""
    result = start_as_nobody("SysProcAttr(ambient_caps=[25])", "echo ran")
    assert result["error"] == ["PermissionError", errno.EPERM, "capset", None]
    assert result["output"] == ""


# Cgroups: clone3 with CLONE_INTO_CGROUP.


@pytest.fixture
def cgroup() -> Iterator[Path]:
    """A new cgroup v2 directory below this process's own; skipped if none can be made."""
    mounts = [
        line.split(" - ")[0].split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split(" - ")[1].split()[0] == "cgroup2"
    ]
    if not mounts:
        pytest.skip("no cgroup v2 hierarchy is mounted")
    own = [
        line[3:]
        for line in Path("/proc/self/cgroup").read_text().splitlines()
        if line.startswith("0::")
    ]
    if not own:
        pytest.skip("this process is in no cgroup v2 cgroup (/proc/self/cgroup has no 0:: line)")
    path = Path(mounts[0] + own[0].rstrip("/")) / f"pysyscall-test-{os.getpid()}"
    try:
        path.mkdir()
    except OSError as e:
        pytest.skip(f"cannot make a cgroup v2 directory: {e}")
    try:
        yield path
    finally:
        # Emptied by the reaping; the kernel may take a moment to notice.
        deadline = time.monotonic() + 10
        while True:
            try:
                path.rmdir()
                break
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)


def test_use_cgroup_fd(cgroup: Path, no_leaks: None) -> None:
    """Port of TestUseCgroupFD (and TestPidFDClone3): the child starts in the new cgroup."""
    fd = os.open(cgroup, os.O_PATH | os.O_DIRECTORY)
    try:
        attr = SysProcAttr(use_cgroup_fd=True, cgroup_fd=fd, pidfd=True)
        assert planned(attr)[0] == "clone3"
        with blocked_child("cat /proc/self/cgroup", attr) as (pid, report, pidfd):
            procs = (cgroup / "cgroup.procs").read_text().split()
            assert pidfd >= 0
            assert fdinfo_pid(pidfd) == pid
    finally:
        os.close(fd)
    own = [line for line in report.splitlines() if line.startswith("0::")]
    assert len(own) == 1 and own[0].endswith("/" + cgroup.name)
    assert str(pid) in procs


def test_cgroup_fd_not_a_cgroup(tmp_path: Path, no_leaks: None) -> None:
    """A directory that is no cgroup: clone3 fails in the parent (EBADF), nothing leaks."""
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as info:
            pysyscall.start_process(
                "/bin/true",
                ["true"],
                ProcAttr(sys=SysProcAttr(use_cgroup_fd=True, cgroup_fd=fd, pidfd=True)),
            )
    finally:
        os.close(fd)
    assert info.value.errno == errno.EBADF
    assert "clone3" in str(info.value)


# Pidfd.


def fdinfo_pid(fd: int) -> int:
    return int(proc_status(Path(f"/proc/self/fdinfo/{fd}").read_text())["Pid"])


def readable(fd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


@pytest.mark.parametrize(
    "cloneflags",
    [0, CLONE_NEWUSER, CLONE_NEWTIME],
    ids=["TestPidFD", "TestPidFDWithUserNS", "TestPidFDClone3"],
)
def test_pidfd_send_signal(cloneflags: int, no_leaks: None) -> None:
    """Ports of TestPidFD, TestPidFDWithUserNS, TestPidFDClone3: SIGINT through the pidfd."""
    attr = SysProcAttr(pidfd=True, cloneflags=cloneflags)
    r, w = os.pipe()
    try:
        pid, pidfd = pysyscall.start_process(
            "/bin/cat", ["cat"], ProcAttr(files=[r, 1, 2], sys=attr)
        )
    finally:
        os.close(r)
    try:
        assert pidfd >= 0
        assert fcntl.fcntl(pidfd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert os.readlink(f"/proc/self/fd/{pidfd}") == "anon_inode:[pidfd]"
        assert fdinfo_pid(pidfd) == pid
        assert not readable(pidfd, 0)
        signal.pidfd_send_signal(pidfd, signal.SIGINT)
        assert readable(pidfd, TIMEOUT)
        status = reap(pid)
    finally:
        os.close(w)
        os.close(pidfd)
    assert status.signaled() and status.signal() == signal.SIGINT


def test_pidfd_not_inherited(no_leaks: None) -> None:
    """The pidfd is close-on-exec: a later child does not get it, even one
    started by os.posix_spawn, which closes nothing (pysyscall's own children
    would not get it either way: every start marks the unlisted fds)."""
    r, w = os.pipe()
    try:
        pid, pidfd = pysyscall.start_process(
            "/bin/cat", ["cat"], ProcAttr(files=[r, 1, 2], sys=SysProcAttr(pidfd=True))
        )
    finally:
        os.close(r)
    try:
        out_r, out_w = os.pipe()
        try:
            script = f"test -e /proc/self/fd/{pidfd} && echo open || echo closed"
            other = os.posix_spawn(
                "/bin/sh", ["sh", "-c", script], os.environ, file_actions=[
                    (os.POSIX_SPAWN_DUP2, out_w, 1)]
            )  # fmt: skip
        finally:
            os.close(out_w)
        with os.fdopen(out_r) as out:
            assert out.read() == "closed\n"
        assert os.waitpid(other, 0)[1] == 0
    finally:
        os.close(w)
        os.close(pidfd)
        assert reap(pid).exit_status() == 0


@pytest.mark.parametrize(
    ("argv0", "attr"),
    [
        ("/nonexistent/program", SysProcAttr(pidfd=True, cloneflags=CLONE_NEWTIME)),
        (
            "/bin/true",
            SysProcAttr(pidfd=True, credential=Credential(0, 0), cloneflags=CLONE_NEWUSER),
        ),
    ],
    ids=["missing-program-clone3", "setgroups-fails"],
)
def test_pidfd_closed_on_failed_start(argv0: str, attr: SysProcAttr, no_leaks: None) -> None:
    """go.dev/issue/69284: a start that fails leaves no pidfd open (a plain
    start's failure: tests/test_runners.py, on every runner)."""
    with pytest.raises(OSError) as info:
        pysyscall.start_process(argv0, ["program"], ProcAttr(sys=attr))
    if argv0 == "/bin/true":
        assert info.value.errno == errno.EPERM
        assert info.value.step == "setgroups"  # type: ignore[attr-defined]
    else:
        assert info.value.errno == errno.ENOENT
        assert info.value.step == "execve"  # type: ignore[attr-defined]


def test_fork_exec_pidfd_not_leaked(no_leaks: None) -> None:
    """fork_exec has no way to return the pidfd: it must close it."""
    pid = pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(sys=SysProcAttr(pidfd=True)))
    assert reap(pid).exit_status() == 0


# Bad input for the Linux fields: refused before anything is forked.

CLOSED = object()  # stands for an fd that is not open
OPEN = object()  # stands for an open fd (/dev/null)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"credential": Credential(-1, 0)}, ValueError, "credential uid is -1"),
        ({"credential": Credential(0, -1)}, ValueError, "credential gid is -1"),
        ({"credential": Credential(0, 0, [1, -5])}, ValueError, r"groups\[1\] is -5"),
        ({"credential": Credential(2**32 - 1, 0)}, ValueError, "credential uid is 4294967295"),
        ({"credential": Credential(2**32, 0)}, ValueError, "credential uid"),
        ({"credential": Credential("0", 0)}, TypeError, "uid must be an int"),  # type: ignore[arg-type]
        ({"credential": Credential(0, 1.0)}, TypeError, "gid must be an int"),  # type: ignore[arg-type]
        ({"credential": Credential(True, 0)}, TypeError, "uid must be an int"),
        ({"credential": Credential(0, 0, ["1"])}, TypeError, r"groups\[0\] must be an int"),  # type: ignore[list-item]
        ({"pdeathsig": -1}, ValueError, "pdeathsig -1 is not a signal"),
        ({"pdeathsig": signal.NSIG}, ValueError, "is not a signal"),
        ({"pdeathsig": 1000}, ValueError, "is not a signal"),
        ({"setpgid": True, "pgid": -1}, ValueError, "pgid is -1"),
        ({"foreground": True, "ctty": OPEN, "pgid": -2}, ValueError, "pgid is -2"),
        ({"uid_mappings": [SysProcIDMap(0, 0, 1)]}, ValueError, "need CLONE_NEWUSER"),
        ({"gid_mappings": [SysProcIDMap(0, 0, 1)]}, ValueError, "need CLONE_NEWUSER"),
        (
            {"uid_mappings": [SysProcIDMap(0, 0, 1)], "cloneflags": CLONE_NEWNS},
            ValueError,
            "need CLONE_NEWUSER",
        ),
        ({"ambient_caps": [99]}, ValueError, "unknown capability 99"),
        ({"ambient_caps": [-1]}, ValueError, "unknown capability -1"),
        (
            {"ambient_caps": [CAP_LAST_CAP + 1]},
            ValueError,
            f"unknown capability {CAP_LAST_CAP + 1}",
        ),
        ({"setctty": True, "ctty": -1}, ValueError, "not a child fd"),
        ({"setctty": True, "ctty": "0"}, TypeError, None),
        ({"foreground": True, "ctty": CLOSED}, OSError, "foreground's ctty is fd"),
        ({"foreground": True, "ctty": "0"}, TypeError, "must be an fd"),
        ({"use_cgroup_fd": True, "cgroup_fd": CLOSED}, OSError, "cgroup_fd is fd"),
        ({"use_cgroup_fd": True, "cgroup_fd": "3"}, TypeError, "cgroup_fd must be an fd"),
        ({"setpgid": True, "pgid": 1 << 40}, ValueError, "pgid is 1099511627776"),
        ({"setpgid": True, "pgid": 1.0}, TypeError, "pgid must be an int"),
        ({"foreground": True, "ctty": 1 << 32}, OSError, "foreground's ctty is fd 4294967296"),
    ],
    ids=[
        "uid-negative",
        "gid-negative",
        "group-negative",
        "uid-2**32-1",
        "uid-2**32",
        "uid-str",
        "gid-float",
        "uid-bool",
        "group-str",
        "pdeathsig-negative",
        "pdeathsig-NSIG",
        "pdeathsig-1000",
        "setpgid-pgid-negative",
        "foreground-pgid-negative",
        "uid-maps-without-newuser",
        "gid-maps-without-newuser",
        "maps-with-newns-only",
        "cap-99",
        "cap-negative",
        "cap-last-plus-1",
        "setctty-ctty-negative",
        "setctty-ctty-str",
        "foreground-ctty-closed",
        "foreground-ctty-str",
        "cgroup-fd-closed",
        "cgroup-fd-str",
        "pgid-2**40",
        "pgid-float",
        "foreground-ctty-2**32",
    ],
)
def test_bad_input(
    fields: dict[str, Any], error: type[Exception], message: str | None, no_leaks: None
) -> None:
    """A clear error while planning (before the fork); no fd, no child."""
    refused_before_fork(fields, error, message)


NEWUSER = CLONE_NEWUSER


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        # CLONE_THREAD|CLONE_SIGHAND made the child a thread: its execve
        # replaced the test's own process.
        pytest.param(
            {"cloneflags": CLONE_THREAD | CLONE_SIGHAND},
            ValueError,
            "has CLONE_SIGHAND, CLONE_THREAD: it takes CLONE_NEW",
            id="clone-thread",
        ),
        # These shared the parent's fd table, cwd, memory, or wrote into it.
        pytest.param({"cloneflags": CLONE_FILES}, ValueError, "has CLONE_FILES", id="clone-files"),
        pytest.param({"cloneflags": CLONE_FS}, ValueError, "has CLONE_FS", id="clone-fs"),
        pytest.param({"cloneflags": CLONE_VM}, ValueError, "has CLONE_VM", id="clone-vm"),
        pytest.param({"cloneflags": CLONE_SETTLS}, ValueError, "has CLONE_SETTLS", id="settls"),
        pytest.param(
            {"cloneflags": CLONE_NEWNS | CLONE_PIDFD},
            ValueError,
            r"cloneflags 0x21000 has CLONE_PIDFD: .*pidfd and use_cgroup_fd ask for theirs",
            id="clone-pidfd",
        ),
        pytest.param(
            {"cloneflags": CLONE_CLEAR_SIGHAND},
            ValueError,
            "has CLONE_CLEAR_SIGHAND",
            id="clear-sighand",
        ),
        pytest.param(
            {"cloneflags": signal.SIGUSR1},
            ValueError,
            f"exit signal {int(signal.SIGUSR1)} \\(the CSIGNAL byte\\)",
            id="exit-signal",
        ),
        pytest.param({"cloneflags": 1 << 40}, ValueError, "has 0x10000000000", id="clone-bit-40"),
        pytest.param({"cloneflags": -1}, ValueError, "has a negative value", id="clone-negative"),
        pytest.param({"cloneflags": "0"}, TypeError, "cloneflags must be an int", id="clone-str"),
        pytest.param({"cloneflags": True}, TypeError, "cloneflags must be an int", id="clone-bool"),
        # The fork runner's unshare(int) cut 1 << 32 to 0: a child with less.
        pytest.param({"unshareflags": 1 << 32}, ValueError, "does not fit", id="unshare-2**32"),
        pytest.param({"unshareflags": -1}, ValueError, "does not fit", id="unshare-negative"),
        pytest.param(
            {"unshareflags": 1.0}, TypeError, "unshareflags must be an int", id="unshare-float"
        ),
        # A float reached the fork runner's child, whose ctypes call raised
        # there: the child went on running the test's Python.
        pytest.param({"pdeathsig": 1.5}, TypeError, "pdeathsig must be an int", id="pdeathsig-1.5"),
        pytest.param({"pdeathsig": "9"}, TypeError, "pdeathsig must be an int", id="pdeathsig-str"),
        pytest.param(
            {"ambient_caps": ["1"]}, TypeError, r"ambient_caps\[0\] must be an int", id="cap-str"
        ),
        pytest.param(
            {"ambient_caps": 3},
            TypeError,
            "ambient_caps must be a list, tuple or set, not int",
            id="caps-int",
        ),
        # Maps the kernel cut to 32 bits (a host uid other than the one asked
        # for) or refused only after the fork.
        pytest.param(
            {"cloneflags": NEWUSER, "uid_mappings": [SysProcIDMap(0, 2**32 + 1000, 1)]},
            ValueError,
            r"uid_mappings\[0\] is SysProcIDMap\(container_id=0, host_id=4294968296, "
            "size=1\\): ids are 0 to 4294967294",
            id="map-host-2**32",
        ),
        pytest.param(
            {
                "cloneflags": NEWUSER,
                "gid_mappings": [SysProcIDMap(0, 0, 1), SysProcIDMap(-1, 0, 1)],
            },
            ValueError,
            r"gid_mappings\[1\] is .*: ids are 0 or more",
            id="map-negative",
        ),
        pytest.param(
            {"cloneflags": NEWUSER, "uid_mappings": [SysProcIDMap(0, 0, 0)]},
            ValueError,
            "size 1 or more",
            id="map-size-0",
        ),
        pytest.param(
            {"cloneflags": NEWUSER, "uid_mappings": [SysProcIDMap(0, 0, 1.5)]},  # type: ignore[arg-type]
            TypeError,
            r"uid_mappings\[0\].size must be an int",
            id="map-size-float",
        ),
        pytest.param(
            {"cloneflags": NEWUSER, "uid_mappings": [(0, 0, 1)]},
            TypeError,
            r"uid_mappings\[0\] must be a SysProcIDMap, not tuple",
            id="map-tuple",
        ),
        pytest.param(
            {"cloneflags": NEWUSER, "gid_mappings": 3},
            TypeError,
            "gid_mappings must be a list, tuple or set, not int",
            id="maps-int",
        ),
    ],
)
def test_bad_flags_and_maps(
    fields: dict[str, Any], error: type[Exception], message: str, no_leaks: None
) -> None:
    """Clone flags that would break this process, flags the child would get
    fewer of, and id maps the kernel would misread: refused while planning."""
    refused_before_fork(fields, error, message)


@pytest.mark.parametrize("runner_name", ["vfork", "fork"])
def test_clone_flags_that_change_nothing_here(runner_name: str, tmp_path: Path) -> None:
    """The flags cloneflags takes besides namespaces reach the child's clone
    (strace of it), and the child runs: CLONE_PTRACE (the child is traced
    as this process is, by the strace), CLONE_SYSVSEM, and SIGCHLD, the C
    idiom's exit signal, which every fork has anyway."""
    strace = shutil.which("strace")
    assert strace, "strace is missing: .ci/test installs it"
    flags = CLONE_IO | CLONE_UNTRACED | CLONE_PTRACE | CLONE_SYSVSEM | signal.SIGCHLD
    code = (
        "import sys, pysyscall\n"
        "attr = pysyscall.ProcAttr(sys=pysyscall.SysProcAttr(cloneflags=int(sys.argv[1])))\n"
        "pid = pysyscall.fork_exec('/bin/true', ['true'], attr)\n"
        "sys.exit(pysyscall.wait4(pid)[1].exit_status())\n"
    )
    trace = tmp_path / "trace"
    env = dict(os.environ, PYSYSCALL_RUNNER=runner_name, PYTHONPATH=REPO)
    done = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=clone,clone3", "-o", str(trace),
         sys.executable, "-c", code, str(flags)],
        env=env, timeout=TIMEOUT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    clones = [line for line in trace.read_text().splitlines() if "CLONE_IO" in line]
    assert len(clones) == 1, trace.read_text()
    for name in ("CLONE_UNTRACED", "CLONE_PTRACE", "CLONE_SYSVSEM", "SIGCHLD"):
        assert name in clones[0], clones[0]


def refused_before_fork(
    fields: dict[str, Any], error: type[Exception], message: str | None
) -> None:
    """Planning and a start raise ``error`` matching ``message``; no fd, no child."""
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        values = {CLOSED: closed_fd(), OPEN: null}
        fields = {k: values[v] if v is CLOSED or v is OPEN else v for k, v in fields.items()}
        attr = ProcAttr(sys=SysProcAttr(**fields))
        before = open_fds()
        with pytest.raises(error, match=message) as at_planning:
            child_program("/bin/true", ["true"], attr)
        with pytest.raises(error, match=message) as at_start:
            pysyscall.start_process("/bin/true", ["true"], attr)
        assert type(at_start.value) is type(at_planning.value)
        if error is OSError:
            assert at_start.value.errno == errno.EBADF  # type: ignore[attr-defined]
        assert open_fds() == before
        assert_no_children()
    finally:
        os.close(null)


@pytest.mark.parametrize("flags", ["cloneflags", "unshareflags"])
def test_id_maps_the_kernel_refuses(flags: str, runner: Runner, no_leaks: None) -> None:
    """Overlapping maps pass planning; the kernel refuses them when they are
    written: by the parent (cloneflags: the step is the child's wait for the
    maps, "id maps") or by the child (unshareflags: its write step). Either
    way EINVAL names the step and the uid_map file, and nothing is left."""
    overlapping = [SysProcIDMap(0, 0, 1), SysProcIDMap(0, 1, 1)]
    attr = ProcAttr(sys=SysProcAttr(**{flags: CLONE_NEWUSER}, uid_mappings=overlapping))
    runner.runs("/bin/true", ["true"], attr)
    with pytest.raises(OSError) as info:
        pysyscall.fork_exec("/bin/true", ["true"], attr)
    error: Any = info.value
    assert error.errno == errno.EINVAL
    if flags == "cloneflags":
        assert error.step == "id maps"
        assert re.fullmatch(r"/proc/\d+/uid_map", error.filename), error.filename
    else:
        assert (error.step, error.filename) == ("write", "/proc/self/uid_map")
    assert_no_children()


def test_planning_id_maps_opens_no_fd() -> None:
    """The id-map pipe is made by each start, into its record (where a Ctrl-C
    finds it: tests/test_interrupts.py walks that path); a plan holds none.
    Planning once made it last and kept it in the plan: an interrupt after
    the pipe, before the plan was returned, leaked both fds."""
    attr = SysProcAttr(
        cloneflags=CLONE_NEWUSER,
        uid_mappings=[SysProcIDMap(0, 0, 1)],
        gid_mappings=[SysProcIDMap(0, 0, 1)],
    )
    before = open_fds()
    plan = child_program("/bin/true", ["true"], ProcAttr(sys=attr))
    assert open_fds() == before
    assert plan.parent_pipe is not None
    assert [cell.value for cell in plan.parent_pipe] == [-1, -1]


def test_a_machine_without_system_call_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a Linux machine with no zsysnum module, what needs a raw system call
    (clone flags, credentials, close_range without glibc's wrapper) is refused
    with ENOSYS naming the machine, while planning, before any fork."""
    from pysyscall import libc, linux

    monkeypatch.setattr(linux, "zsysnum", None)
    monkeypatch.setattr(linux, "MACHINE", "riscv64")
    attrs = {
        "clone system call": SysProcAttr(cloneflags=CLONE_NEWUTS),
        "setgroups, setgid and setuid": SysProcAttr(credential=Credential(0, 0, [])),
    }
    for what, attr in attrs.items():
        with pytest.raises(OSError) as info:
            linux.child_program(b"/bin/true", [b"true"], [], None, [0, 1, 2], attr, [])
        assert info.value.errno == errno.ENOSYS
        assert what in str(info.value) and "riscv64" in str(info.value)
    monkeypatch.setattr(libc, "has", lambda name: name != "close_range")
    with pytest.raises(OSError) as info:
        linux.close_range_call(3, 0xFFFFFFFF, 0)
    assert info.value.errno == errno.ENOSYS and "riscv64" in str(info.value)
