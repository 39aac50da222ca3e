"""An older C library: each fallback for a function it lacks runs for real.

glibc before 2.34 (Debian 11, Ubuntu 20.04, RHEL 8) has no _Fork, no
close_range wrapper and no posix_spawn_file_actions_addclosefrom_np, and keeps
pthread_sigmask in libpthread.so.0; before 2.29 it has no addchdir_np either.
CI runs the whole suite on Debian 11's glibc 2.31 (.ci/current-pythons.sh
bullseye3.9); here each of those absences is made in a subprocess by
tests/hide_symbols.py (libc.so.6's handles stop resolving the names, as
dlsym does in an older glibc), and the child is checked from outside: its
own view of its fds, and strace for the system calls that made it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pysyscall import _platform, libc

HIDE = str(Path(__file__).with_name("hide_symbols.py"))
CHILD_VIEW = str(Path(__file__).with_name("child_view.py"))
BEFORE_2_34 = "_Fork,close_range,posix_spawn_file_actions_addclosefrom_np,pthread_sigmask"
ADDCLOSEFROM = "posix_spawn_file_actions_addclosefrom_np"
ADDCHDIR = "posix_spawn_file_actions_addchdir_np"

# Starts tests/child_view.py with PYSYSCALL_RUNNER (argv[1]) while an
# inheritable fd that files does not list is open; prints the plan's fork
# and close_range steps, the runner auto picks, and the child's view.
START = r"""
import json, os, sys
import pysyscall
from pysyscall import libc, runners
from pysyscall.exec_unix import child_program
runner, child_view, report = sys.argv[1:4]
os.environ["PYSYSCALL_RUNNER"] = runner
leak = os.open("/dev/null", os.O_RDONLY)
os.set_inheritable(leak, True)
argv = [sys.executable, "-I", "-S", child_view, report]
attr = pysyscall.ProcAttr(dir="/")
plan = child_program(sys.executable, argv, attr)
sweep = [s for s in plan.steps if s.name == "close_range"]
try:
    picked = runners.select(plan).NAME
    pid = pysyscall.fork_exec(sys.executable, argv, attr)
    status = pysyscall.wait4(pid)[1].exit_status()
    error = None
except (OSError, RuntimeError) as e:
    picked, status, error = None, None, str(e)
print(json.dumps({
    "fork": [plan.fork.func, list(plan.fork.args)],
    "sweep": [[s.func, list(s.args)] for s in sweep],
    "picked": picked, "status": status, "error": error, "leak": leak,
    "pthread_sigmask": libc._library_of("pthread_sigmask"),
    "lacking": [name for name, _ in libc.lacking()],
}))
"""


def hidden(names: str, code: str, *args: str, trace: Path | None = None) -> Any:
    """Run ``code`` with ``names`` hidden from libc.so.6 (under strace -f with ``trace``)."""
    command = [sys.executable, HIDE, names, code, *args]
    if trace is not None:
        strace = shutil.which("strace")
        if strace is None:
            pytest.fail("strace is not installed (apt-get install strace); CI installs it")
        command = [strace, "-f", "-qq", "-e", "trace=clone,clone3,close_range", "-o",
                   str(trace), *command]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def child_fds(report: Path) -> list[int]:
    view = json.loads(report.read_text())
    return sorted(int(fd) for fd in view["fds"])


@pytest.mark.parametrize("runner", ["fork", "vfork"])
def test_before_glibc_2_34_the_child_gets_raw_system_calls(runner: str, tmp_path: Path) -> None:
    """No _Fork: the fork runner forks with syscall(SYS_clone, SIGCHLD), which
    strace shows with no CLONE_CHILD_SETTID (glibc's _Fork and fork set it); no
    close_range wrapper: syscall(SYS_close_range), and the unlisted inheritable
    fd does not reach the child. pthread_sigmask comes from libpthread.so.0."""
    report, trace = tmp_path / "view.json", tmp_path / "trace"
    out = hidden(BEFORE_2_34, START, runner, CHILD_VIEW, str(report), trace=trace)
    assert out["error"] is None and out["status"] == 0, out
    assert out["pthread_sigmask"] == "libpthread.so.0"
    assert out["lacking"] == BEFORE_2_34.split(",")[:3]
    assert out["fork"] == ["syscall", [_platform.zsysnum.SYS_CLONE, 17, 0, 0, 0, 0]]
    assert out["sweep"] == [["syscall", [436, 3, 0xFFFFFFFF, 4]]]
    assert child_fds(report) == [0, 1, 2] and out["leak"] > 2
    lines = trace.read_text().splitlines()
    clones = [line for line in lines if re.search(" clone3?[(]", line)]
    # strace -f splits a call another thread interrupts into "<unfinished ...>"
    # and "<... NAME resumed>" lines: match the call's start, then its result.
    if runner == "fork":
        exact = re.compile(r"clone\(child_stack=NULL, flags=SIGCHLD(\)| <unfinished)")
        assert any(exact.search(line) for line in clones), lines
    else:
        assert any("CLONE_VM|CLONE_VFORK" in line for line in clones), lines
    assert not any("CLONE_CHILD_SETTID" in line for line in clones), lines
    (sweep,) = [line for line in lines if "close_range(3, 4294967295, CLOSE_RANGE_CLOEXEC" in line]
    pid = sweep.split()[0]
    done = (
        sweep
        if "<unfinished" not in sweep
        else next(line for line in lines if line.startswith(f"{pid} <... close_range resumed>"))
    )
    assert done.endswith("= 0"), lines


ATFORK = r"""
import ctypes, json, os, resource, sys
import pysyscall
from pysyscall import linux
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
# An atfork child handler that aborts: glibc's fork() runs it in the child.
libc = ctypes.CDLL(None)
libc.__register_atfork.argtypes = [ctypes.c_void_p] * 4
abort = ctypes.cast(libc.abort, ctypes.c_void_p).value
assert libc.__register_atfork(None, None, abort, None) == 0
os.environ["PYSYSCALL_RUNNER"] = "fork"
pid = pysyscall.fork_exec("/bin/true", ["true"])
status = pysyscall.wait4(pid)[1]
control = os.fork()  # glibc's fork(): the handler runs, the child aborts
if control == 0:
    os._exit(0)
_, control_status = os.waitpid(control, 0)
print(json.dumps([linux.FORK.text, status.exited() and status.exit_status(),
                  os.WIFSIGNALED(control_status) and os.WTERMSIG(control_status)]))
"""


@pytest.mark.parametrize("hide", ["_Fork", "nothing"])
def test_the_fork_runs_no_atfork_handlers(hide: str) -> None:
    """_Fork and the clone system call alike skip the atfork handlers, as Go's
    raw fork does: a child handler that aborts never runs in the fork runner's
    child, while glibc's fork() (the control, os.fork) runs it."""
    fork, status, control = hidden(hide, ATFORK)
    assert fork == ("_Fork()" if hide == "nothing" and libc.has("_Fork") else
                    "syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)")  # fmt: skip
    assert (status, control) == (0, 6)


def test_without_addclosefrom_the_spawn_runner_declines(tmp_path: Path) -> None:
    """Forced, the spawn runner refuses, naming the missing function; auto
    passes over it, to vfork, or (vfork off: no clone) to fork."""
    report = tmp_path / "view.json"
    out = hidden(BEFORE_2_34, START, "spawn", CHILD_VIEW, str(report))
    assert out["status"] is None and out["error"] is not None
    assert out["error"].startswith("pysyscall cannot start this process here: spawn: step ")
    assert out["error"].endswith(f"has no {ADDCLOSEFROM}")
    out = hidden(BEFORE_2_34, START, "auto", CHILD_VIEW, str(report))
    assert (out["picked"], out["status"]) == ("vfork", 0), out
    assert child_fds(report) == [0, 1, 2]
    out = hidden(BEFORE_2_34 + ",clone", START, "auto", CHILD_VIEW, str(report))
    assert (out["picked"], out["status"]) == ("fork", 0), out
    assert child_fds(report) == [0, 1, 2]


def test_without_the_close_range_wrapper_spawn_still_sweeps(tmp_path: Path) -> None:
    """glibc with addclosefrom_np but no close_range wrapper (not a real
    glibc, but the step by number must translate): the spawn runner runs it."""
    if not libc.has(ADDCLOSEFROM):
        pytest.skip(f"this glibc has no {ADDCLOSEFROM}: the decline is tested above")
    report = tmp_path / "view.json"
    out = hidden("close_range", START, "spawn", CHILD_VIEW, str(report))
    assert out["sweep"] == [["syscall", [436, 3, 0xFFFFFFFF, 4]]]
    assert (out["picked"], out["status"]) == ("spawn", 0), out
    assert child_fds(report) == [0, 1, 2]


def test_without_addchdir_the_spawn_runner_declines_a_dir(tmp_path: Path) -> None:
    """glibc before 2.29: no addchdir_np, so no posix_spawn for a start with a dir."""
    report = tmp_path / "view.json"
    out = hidden(ADDCHDIR, START, "spawn", CHILD_VIEW, str(report))
    assert out["error"] is not None and out["error"].endswith(f"has no {ADDCHDIR}")
    assert ADDCHDIR in out["lacking"]


INFO = r"""
from pysyscall import cli
cli.main(["info"])
print("{}")
"""


def test_info_says_what_is_lacking_and_what_auto_does() -> None:
    done = subprocess.run(
        [sys.executable, HIDE, BEFORE_2_34, INFO],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYSYSCALL_RUNNER"},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "fork: syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); failure exit: _exit" in lines
    lacking = [line for line in lines if line.startswith("lacks: ")]
    assert [line.split(" -> ")[0] for line in lacking] == [
        "lacks: libc.so.6 _Fork",
        "lacks: libc.so.6 close_range",
        f"lacks: libc.so.6 {ADDCLOSEFROM}",
    ]
    assert "the clone system call by number" in lacking[0]
    assert "the spawn runner declines" in lacking[2]
    start = lines.index("a start of /bin/true in /, runner by runner:")
    assert lines[start + 1] == "  vfork: runs it"
    assert lines[start + 2].startswith("  spawn: declines: step ")
    assert lines[start + 2].endswith(f"has no {ADDCLOSEFROM}")
    assert lines[start + 3 : start + 5] == [
        "  fork: runs it",
        "  PYSYSCALL_RUNNER='auto' picks: vfork",
    ]


@pytest.mark.parametrize(
    "code",
    [
        # Not glibc, as on musl: the import itself fails.
        "import posix; posix.confstr = lambda name: None; import pysyscall",
        # glibc, but no libc.so.6 to load: the first name used fails.
        "from pysyscall import fork_exec",
    ],
)
def test_no_libc_so_6_is_an_import_error_naming_the_c_library(code: str) -> None:
    done = subprocess.run(
        [sys.executable, HIDE, "libc.so.6", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: pysyscall needs glibc's libc.so.6 (libc.so.6: cannot open")
    # This process does run on glibc, so that is the library it names.
    found = last.rpartition("; this process runs on ")[2]
    path, sep, rest = found.partition(", which ")
    assert sep and rest == "pysyscall does not support yet", last
    assert os.path.basename(path).startswith(("libc.so", "libc-")), last


def test_the_c_library_is_named_from_the_process_maps() -> None:
    """musl's loader is its C library (Alpine); glibc's is libc.so.6."""
    musl = (
        "7f1c2a000000-7f1c2a014000 r--p 00000000 08:01 1234 /usr/bin/python3.12\n"
        "7f1c2b000000-7f1c2b014000 r--p 00000000 08:01 5678 /lib/ld-musl-x86_64.so.1\n"
        "7ffd5e000000-7ffd5e021000 rw-p 00000000 00:00 0 [stack]\n"
    )
    assert libc._c_library_in_use(musl) == "musl (/lib/ld-musl-x86_64.so.1)"
    glibc = "7f00-7f10 r-xp 00000000 08:01 9 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    assert libc._c_library_in_use(glibc) == "/usr/lib/x86_64-linux-gnu/libc.so.6"
    assert libc._c_library_in_use("7f00-7f10 r-xp 0 0:0 0 [vdso]\n").startswith("no C library")
