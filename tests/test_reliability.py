"""Reliability: concurrent starts, the design note's hazard under load, soak, no bytecode.

Every test that starts processes runs once per runner in runners.RUNNERS
(vfork, spawn, fork), forced with runners.override in this process or
PYSYSCALL_RUNNER in a helper's, so each stays covered whichever auto picks.

* TestConcurrentExec, ported from Go's os/exec (the regression test for
  go.dev/issue/61080), for both fork-pipe variants; and controls with a
  status pipe that leaks into concurrent forks: without the child's
  close_range sweep the port catches the hang, with it nothing hangs.
* The hazard of ../shared/design/child-program.md: a big parent, threads
  busy in Python, threads spawning. Run in a separate process with a
  watchdog, so a hung child fails the test instead of freezing pytest; a
  control shows the same stress hangs a naive ctypes child.
* A soak of starts, successes and failures (1,000 per runner, 400 for
  fork; PYSYSCALL_SOAK_STARTS=10000 for the issue's full soak): no fd,
  child or memory leaks.
* "No bytecode in the child": trace and profile hooks that fire in any
  process other than the parent see nothing from pysyscall's children, and
  do see a naive os.fork child.
* A SIGCHLD/SIGUSR1 storm during starts; resource exhaustion (EMFILE, and
  EAGAIN from RLIMIT_NPROC as an unprivileged uid): a clear OSError, nothing
  leaked, the next start works; property-based ProcAttr tests; 32 threads
  starting and reaping at once.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import signal
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import CHILD_VIEW, SLOWDOWN, assert_no_children, runner_declines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pysyscall
import pysyscall.exec_unix
import pysyscall.linux
from pysyscall import ProcAttr, fork_exec, forkpipe, forkpipe2, runners, wait4

PACKAGE_PARENT = str(Path(pysyscall.__file__).resolve().parent.parent)
VARIANTS = {"forkpipe2": forkpipe2, "forkpipe": forkpipe}
# Every runner; one that cannot run here (the vfork routine off x86-64 and
# aarch64, the fork runner on PyPy, the spawn runner on glibc before 2.34)
# says why in the skip.
RUNNER_NAMES = [
    pytest.param(
        runner.NAME,
        marks=pytest.mark.skipif(
            runner_declines(runner.NAME) is not None,
            reason=f"{runner.NAME}: {runner_declines(runner.NAME)}",
        ),
    )
    for runner in runners.RUNNERS
]


@pytest.fixture(params=RUNNER_NAMES)
def runner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each runner in turn, forced in this process (runners.override)."""
    name: str = request.param
    monkeypatch.setattr(runners, "override", name)
    return name


def open_fds() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"), key=int)


def no_child_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def kill_and_reap(pids: list[int]) -> None:
    """Last-resort cleanup: kill whatever is left of ``pids`` and reap it."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def run_script(
    source: str, *args: str, timeout: float, runner: str | None = None
) -> dict[str, Any]:
    """Run ``source`` in a fresh interpreter; return the JSON its last line prints.

    ``runner``: PYSYSCALL_RUNNER for the script. A hang becomes a test
    failure (subprocess.run kills the script at the timeout), not a frozen
    pytest.
    """
    command = [sys.executable, "-I", "-c", textwrap.dedent(source), PACKAGE_PARENT, *args]
    env = dict(os.environ)
    if runner is not None:
        env["PYSYSCALL_RUNNER"] = runner
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"the script did not finish in {timeout} s (a hang?)\n"
            f"stdout:\n{expired.stdout!r}\nstderr:\n{expired.stderr!r}",
            pytrace=False,
        )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, (
        f"script exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )
    result: dict[str, Any] = json.loads(lines[-1])
    result["stderr"] = done.stderr
    return result


# --- TestConcurrentExec -------------------------------------------------------


class Round:
    """One round of Go's TestConcurrentExec: n hang children and n exit children.

    Every start happens at once (a barrier). The "hang" children are cat
    with a pipe as stdin: they run until the pipe's write end is closed,
    which this harness does only once every "exit" start (/bin/true) has
    returned and its child been waited for, or the deadline has passed (Go's
    cancel()). Before go.dev/issue/61080 was fixed, a hang child could
    inherit an exit start's status pipe, and that start then never saw EOF.
    """

    def __init__(self, n: int, deadline: float, cancel_deadline: float | None = None) -> None:
        self.n = n
        self.deadline = deadline
        self.cancel_deadline = deadline if cancel_deadline is None else cancel_deadline
        self.devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        self.pipes = [os.pipe() for _ in range(n)]
        self.barrier = threading.Barrier(2 * n)
        self.lock = threading.Lock()
        self.pids: list[int] = []
        self.hang_status: list[Any] = [None] * n
        self.exit_status: list[Any] = [None] * n
        self.errors: list[str] = []
        self.hangs_started = threading.Event()
        self.hang_starts = 0

    def _started(self, pid: int) -> None:
        with self.lock:
            self.pids.append(pid)

    def hang(self, i: int) -> None:
        r = self.pipes[i][0]
        try:
            self.barrier.wait(self.deadline)
            pid = fork_exec("/bin/cat", ["cat"], ProcAttr(files=[r, self.devnull, 2]))
            self._started(pid)
            with self.lock:
                self.hang_starts += 1
                if self.hang_starts == self.n:
                    self.hangs_started.set()
            self.hang_status[i] = wait4(pid)[1]
        except BaseException as error:  # reported by the test
            self.errors.append(f"hang {i}: {error!r}")

    def exit(self, i: int) -> None:
        try:
            self.barrier.wait(self.deadline)
            pid = fork_exec("/bin/true", ["true"])
            self._started(pid)
            self.exit_status[i] = wait4(pid)[1]
        except BaseException as error:
            self.errors.append(f"exit {i}: {error!r}")

    def run(self) -> dict[str, Any]:
        """Run the round; returns what was stuck at each stage. Always cleans up."""
        hangs = [
            threading.Thread(target=self.hang, args=(i,), name=f"hang-{i}", daemon=True)
            for i in range(self.n)
        ]
        exits = [
            threading.Thread(target=self.exit, args=(i,), name=f"exit-{i}", daemon=True)
            for i in range(self.n)
        ]
        stuck_exits: list[str] = []
        stuck_hangs: list[str] = []
        try:
            for t in hangs + exits:
                t.start()
            end = time.monotonic() + self.deadline
            for t in exits:
                t.join(max(0.0, end - time.monotonic()))
            stuck_exits = [t.name for t in exits if t.is_alive()]
        finally:
            # cancel(): close the hang children's stdin, whatever happened.
            for _, w in self.pipes:
                os.close(w)
            end = time.monotonic() + self.cancel_deadline
            for t in hangs + exits:
                t.join(max(0.0, end - time.monotonic()))
            stuck_hangs = [t.name for t in hangs + exits if t.is_alive()]
            for r, _ in self.pipes:
                os.close(r)
            os.close(self.devnull)
            if stuck_hangs:
                kill_and_reap(list(self.pids))
        return {"stuck_exits": stuck_exits, "stuck_after_cancel": stuck_hangs}


def concurrency() -> int:
    return max(4, min(os.cpu_count() or 1, 16))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_concurrent_exec(variant: str, runner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Port of Go's TestConcurrentExec (os/exec), per fork-pipe variant and runner."""
    monkeypatch.setattr(pysyscall.exec_unix, "forkpipe", VARIANTS[variant])
    n, rounds = concurrency(), 12
    fds_before = open_fds()
    started = time.monotonic()
    for number in range(rounds):
        game = Round(n, deadline=30.0)
        stuck = game.run()
        where = f"{variant}, {runner}, round {number}, n={n}: {stuck}, errors {game.errors}"
        assert stuck == {"stuck_exits": [], "stuck_after_cancel": []}, where
        assert game.errors == [], where
        assert len(game.pids) == 2 * n, where
        for status in game.exit_status + game.hang_status:
            assert status is not None and status.exited() and status.exit_status() == 0, where
        assert no_child_left(), where
    seconds = time.monotonic() - started
    print(f"\n{variant}, {runner}: {rounds} rounds of {n}+{n} starts in {seconds:.2f} s")
    assert open_fds() == fds_before


def leaky_fork_pipe(game: Round) -> types.SimpleNamespace:
    """A fork-pipe module with go.dev/issue/61080's bug, made deterministic.

    The pipe is made inheritable and marked close-on-exec only later (as
    pipe + fcntl would, with a wide window), and forks share the fork lock
    (forkpipe2's protocol, wrong for a non-atomic pipe). Each exit start
    keeps its window open until all the hang children have started; each
    hang start forks only once every exit start's pipe is open. So every
    hang child is forked holding every exit start's status pipe.
    """
    ready = threading.Condition()
    opened = [0]

    def fork_exec_pipe(p: Any) -> None:
        if threading.current_thread().name.startswith("hang"):
            with ready:
                if not ready.wait_for(lambda: opened[0] == game.n, timeout=5):
                    raise TimeoutError("the exit starts did not open their pipes")
            p[0], p[1] = os.pipe()
            return
        r, w = p[0], p[1] = os.pipe()
        os.set_inheritable(r, True)
        os.set_inheritable(w, True)
        with ready:
            opened[0] += 1
            ready.notify_all()
        game.hangs_started.wait(5)
        os.set_inheritable(r, False)
        os.set_inheritable(w, False)

    return types.SimpleNamespace(
        ATOMIC=False,
        fork_exec_pipe=fork_exec_pipe,
        acquire_fork_lock=forkpipe2.acquire_fork_lock,
        release_fork_lock=forkpipe2.release_fork_lock,
    )


@pytest.mark.parametrize("sweep", [False, True], ids=["no-sweep", "close_range-sweep"])
def test_concurrent_exec_with_a_leaky_pipe(sweep: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the port above, with a status pipe that leaks into other forks.

    Without the child's close_range(CLOSE_RANGE_CLOEXEC) sweep (Go has
    none), the hang children keep the exit starts' status pipes across
    execve: every exit start blocks until cancel() ends the hang children,
    as in go.dev/issue/61080; so the port can fail. With the sweep, the
    leaked fds die at the hang children's execve and nothing blocks.
    """
    monkeypatch.setattr(pysyscall.linux, "SWEEP", sweep)
    monkeypatch.setenv("PYSYSCALL_RUNNER", "fork")  # the status pipe is the fork runner's
    pysyscall.remembered.forget()  # plans remembered with the other sweep setting
    n = 2
    fds_before = open_fds()
    game = Round(n, deadline=1.5, cancel_deadline=15.0)
    monkeypatch.setattr(pysyscall.exec_unix, "forkpipe", leaky_fork_pipe(game))
    stuck = game.run()
    expected = [] if sweep else [f"exit-{i}" for i in range(n)]
    assert stuck == {"stuck_exits": expected, "stuck_after_cancel": []}, game.errors
    assert game.errors == []
    for status in game.exit_status + game.hang_status:
        assert status is not None and status.exited() and status.exit_status() == 0
    assert no_child_left()
    assert open_fds() == fds_before


# --- The hazard under load ----------------------------------------------------

STRESS = r"""
import json, os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
import pysyscall

MIB, BUSY, SPAWNERS, SPAWNS, HUNG_AFTER = (int(a) for a in sys.argv[2:7])
MODE = sys.argv[7]
sys.setswitchinterval(float(sys.argv[8]))
me = os.getpid()
python = os.path.realpath(sys.executable)

ballast = bytearray(MIB << 20)
ballast[::4096] = b"\1" * len(range(0, len(ballast), 4096))  # touch every page
rss = 0
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) // 1024

stop = threading.Event()

def busy():
    while not stop.is_set():
        x = 0
        for i in range(1000):
            x += i

statuses, errors, lock = [], [], threading.Lock()

def naive_fork_exec(path, argv):
    # The design note's naive child, for the control: fork through a
    # GIL-holding ctypes function, then ordinary Python code in the child.
    import ctypes
    libc = ctypes.PyDLL(None)
    argv_array = (ctypes.c_char_p * (len(argv) + 1))(*[a.encode() for a in argv])
    env = (ctypes.c_char_p * 1)()
    # glibc before 2.34 has no _Fork; its fork runs the atfork handlers too,
    # which does not change the hazard shown here.
    pid = (libc._Fork if hasattr(libc, "_Fork") else libc.fork)()
    if pid == 0:
        for fd in range(3):
            libc.fcntl(fd, 2, 0)
        libc.execve(path.encode(), argv_array, env)
        libc._exit(127)
    return pid

start = naive_fork_exec if MODE == "naive" else pysyscall.fork_exec

def spawner(count):
    for _ in range(count):
        if MODE == "naive" and hung:
            break  # the control has shown the hazard: stop early
        try:
            pid = start("/bin/true", ["true"])
            _, status = pysyscall.wait4(pid)
        except BaseException as error:
            with lock:
                errors.append(repr(error))
            continue
        with lock:
            statuses.append(int(status))

hung = set()

def unexeced_children():
    # Children still running this interpreter's image: forked, not exec'd.
    with open("/proc/uptime") as f:
        now = float(f.read().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            if int(fields[1]) != me:
                continue
            if os.path.realpath(f"/proc/{name}/exe") != python:
                continue
        except OSError:
            continue
        age = now - int(fields[19]) / tick
        found.append((int(name), age))
    return found

def watchdog():
    # A child that has not exec'd after HUNG_AFTER seconds is hung before
    # execve: count it and kill it, which ends its start (EOF on the pipe).
    while not stop.is_set():
        for pid, age in unexeced_children():
            if age > HUNG_AFTER and pid not in hung:
                hung.add(pid)
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)

busy_threads = [threading.Thread(target=busy, daemon=True) for _ in range(BUSY)]
for t in busy_threads:
    t.start()
dog = threading.Thread(target=watchdog, daemon=True)
dog.start()
time.sleep(0.05)
started = time.monotonic()
counts = [SPAWNS // SPAWNERS + (i < SPAWNS % SPAWNERS) for i in range(SPAWNERS)]
spawners = [threading.Thread(target=spawner, args=(c,), daemon=True) for c in counts]
for t in spawners:
    t.start()
for t in spawners:
    t.join(120)
seconds = time.monotonic() - started
unfinished = sum(t.is_alive() for t in spawners)
stop.set()
for t in busy_threads + [dog]:
    t.join(5)
try:
    os.waitpid(-1, os.WNOHANG)
    children_left = True
except ChildProcessError:
    children_left = False
import pysyscall.exec_unix, pysyscall.runners
true_plan = pysyscall.exec_unix.child_program("/bin/true", ["true"])
print(json.dumps({
    "python": sys.version.split()[0],
    "runner": pysyscall.runners.select(true_plan).NAME,
    "rss_mib": rss,
    "spawns": len(statuses) + len(errors),
    "exited_0": sum(1 for s in statuses if s == 0),
    "hangs": len(hung),
    "bad_statuses": sorted({hex(s) for s in statuses if s != 0}),
    "errors": errors[:5],
    "unfinished_spawners": unfinished,
    "children_left": children_left,
    "seconds": round(seconds, 2),
}))
"""


# Python's switch interval in the stress script. The default 5 ms shows the
# hazard readily on 3.9-3.12, but on 3.13.0 the naive child of the control
# did not hang once in 600 spawns at 5 ms; at 0.5 ms, "drop the GIL"
# requests are pending ten times as often and it hangs on every version.
SWITCH = "0.0005"


@pytest.mark.parametrize("runner", RUNNER_NAMES)
def test_no_hang_under_load(runner: str) -> None:
    """The design note's stress: 256 MiB parent, 4 busy threads, 3 spawners, 100 spawns.

    (At a 0.5 ms switch interval, see SWITCH.)

    A child that ran Python code between fork and execve would inherit a
    pending "drop the GIL" request and hang there (35-49 % of children in
    the note's measurement with a naive child). Here every spawn must return
    and exit 0, with no child hung, left over or killed by the watchdog.
    """
    spawns = 100
    args = ("256", "4", "3", str(spawns), "5", "pysyscall", SWITCH)
    result = run_script(STRESS, *args, timeout=150, runner=runner)
    print(f"\nstress: {result}")
    assert result["runner"] == runner, result
    assert result["rss_mib"] >= 256, result
    assert result["unfinished_spawners"] == 0, result
    assert result["hangs"] == 0, result
    assert result["errors"] == [], result
    assert result["spawns"] == spawns and result["exited_0"] == spawns, result
    assert result["bad_statuses"] == [], result
    assert result["children_left"] is False, result


@pytest.mark.skipif(
    bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    reason="the naive child hangs on a drop-the-GIL request inherited by the fork: "
    "without a GIL (3.14t, 3.15t) there is none, and the control did not hang in 4-5 runs of 5",
)
def test_stress_catches_a_naive_child() -> None:
    """Control: the same stress hangs the design note's naive child.

    A child forked through ctypes that runs a few Python statements before
    execve (no pysyscall) hangs there under this load; the watchdog finds it
    still running the interpreter's image and kills it. Stops at the first
    hang, so it costs a few seconds, and shows the test above can fail.
    """
    result = run_script(STRESS, "256", "4", "3", "150", "2", "naive", SWITCH, timeout=150)
    print(f"\nnaive control: {result}")
    assert result["hangs"] >= 1, result
    assert result["unfinished_spawners"] == 0, result
    # Each hung child was killed by the watchdog; all the others exited 0.
    assert result["spawns"] == result["exited_0"] + result["hangs"], result
    assert result["bad_statuses"] == ["0x9"], result
    assert result["children_left"] is False, result


# --- Soak -------------------------------------------------------------------


def vm_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


# Starts per runner: 1,000 (400 for the fork runner, whose starts cost about
# four times as much); PYSYSCALL_SOAK_STARTS=10000 runs the full soak
# on each.
SOAK_STARTS = os.environ.get("PYSYSCALL_SOAK_STARTS")


def test_soak_no_leaks(runner: str, tmp_path: Path) -> None:
    """Starts, successes and three kinds of failure: no fd, child or memory leak."""
    missing = tmp_path / "missing"
    bad_fd = 1000
    while True:  # an fd number that is not open here
        try:
            os.fstat(bad_fd)
        except OSError:
            break
        bad_fd += 1

    def success() -> None:
        pid = fork_exec("/bin/true", ["true"])
        wpid, status = wait4(pid)
        assert wpid == pid and status.exited() and status.exit_status() == 0, status

    def missing_program() -> None:
        with pytest.raises(FileNotFoundError) as caught:
            fork_exec(str(missing / "prog"), ["prog"])
        assert caught.value.step == "execve"  # type: ignore[attr-defined]
        assert caught.value.filename == str(missing / "prog")

    def missing_dir() -> None:
        with pytest.raises(FileNotFoundError) as caught:
            fork_exec("/bin/true", ["true"], ProcAttr(dir=str(missing)))
        assert caught.value.step == "chdir"  # type: ignore[attr-defined]
        assert caught.value.filename == str(missing)

    def bad_file() -> None:
        with pytest.raises(OSError) as caught:
            fork_exec("/bin/true", ["true"], ProcAttr(files=[0, 1, 2, bad_fd]))
        assert caught.value.errno == errno.EBADF

    kinds: list[Callable[[], None]] = [success, missing_program, missing_dir, bad_file]
    for start in kinds * 5:  # warm up: one-time caches are not leaks
        start()
    gc.collect()
    fds_before = open_fds()
    rss_before = vm_rss_kib()
    started = time.monotonic()
    total = int(SOAK_STARTS) if SOAK_STARTS else 400 if runner == "fork" else 1000
    for i in range(total):
        kinds[i % len(kinds)]()
    seconds = time.monotonic() - started
    gc.collect()
    rss_after = vm_rss_kib()
    fds_after = open_fds()
    growth_mib = (rss_after - rss_before) / 1024
    print(
        f"\nsoak, {runner}: {total} starts in {seconds:.1f} s; fds before {fds_before}, "
        f"after {fds_after}; VmRSS {rss_before} KiB -> {rss_after} KiB "
        f"({growth_mib:+.2f} MiB)"
    )
    assert fds_after == fds_before
    assert no_child_left()
    assert growth_mib < 20


# --- No bytecode in the child ---------------------------------------------------

NO_BYTECODE = r"""
import json, os, sys, threading
sys.path.insert(0, sys.argv[1])
import pysyscall
from pysyscall import ProcAttr

missing = sys.argv[2]
parent = os.getpid()
r, w = os.pipe()
marker = 200  # otherwise unused
os.dup2(w, marker, inheritable=False)
os.close(w)
os.set_blocking(marker, False)
os.set_blocking(r, False)
fired = False
events = {}

def probe(frame, event, arg):
    # Runs for every Python call (trace, profile) in every traced thread. In
    # any process but the parent it means Python code ran there: mark it.
    global fired
    if os.getpid() != parent:
        if not fired:
            fired = True
            os.write(marker, b"!")
    else:
        ident = threading.get_ident()
        events[ident] = events.get(ident, 0) + 1
    return probe

def drain():
    data = b""
    while True:
        try:
            chunk = os.read(r, 4096)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk

results = []

def spawn(count):
    kinds = ("true", "missing program", "missing dir")
    for i in range(count):
        kind = kinds[i % 3]
        try:
            if kind == "true":
                pid = pysyscall.fork_exec("/bin/true", ["true"])
                results.append((kind, int(pysyscall.wait4(pid)[1])))
            elif kind == "missing program":
                pysyscall.fork_exec(missing + "/prog", ["prog"])
                results.append((kind, "started"))
            else:
                pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(dir=missing))
                results.append((kind, "started"))
        except FileNotFoundError as error:
            results.append((kind, error.step))

for install in (sys.settrace, sys.setprofile, threading.settrace, threading.setprofile):
    install(probe)

main_ident = threading.get_ident()
other = threading.Thread(target=spawn, args=(25,))
other.start()
spawn(25)
other.join()
pysyscall_marks = drain()

def naive_child_work():
    return sum(range(10))

pid = os.fork()
if pid == 0:
    naive_child_work()
    os._exit(0)
os.waitpid(pid, 0)
control_marks = drain()
sys.settrace(None)
sys.setprofile(None)

try:
    os.waitpid(-1, os.WNOHANG)
    children_left = True
except ChildProcessError:
    children_left = False
import pysyscall.exec_unix, pysyscall.runners
true_plan = pysyscall.exec_unix.child_program("/bin/true", ["true"])
print(json.dumps({
    "runner": pysyscall.runners.select(true_plan).NAME,
    "pysyscall_marks": pysyscall_marks.decode(),
    "control_marks": control_marks.decode(),
    "results": results,
    "events_main": events.get(main_ident, 0),
    "events_other": events.get(other.ident, 0),
    "children_left": children_left,
}))
"""


@pytest.mark.parametrize("runner", RUNNER_NAMES)
def test_child_runs_no_bytecode(runner: str, tmp_path: Path) -> None:
    """Trace and profile hooks never fire in a pysyscall child; they do in a naive one."""
    missing = str(tmp_path / "missing")
    result = run_script(NO_BYTECODE, missing, timeout=60, runner=runner)
    outcomes = sorted({tuple(r) for r in result["results"]})
    print(
        f"\nno bytecode: {len(result['results'])} starts {outcomes}; "
        f"marks from pysyscall children {result['pysyscall_marks']!r}, "
        f"from the naive child {result['control_marks']!r}; parent events "
        f"{result['events_main']} (main), {result['events_other']} (other thread)"
    )
    assert result["runner"] == runner
    assert len(result["results"]) == 50
    assert outcomes == [("missing dir", "chdir"), ("missing program", "execve"), ("true", 0)]
    # The hooks were live in both spawning threads of the parent...
    assert result["events_main"] > 0 and result["events_other"] > 0
    # ...never fired in a pysyscall child...
    assert result["pysyscall_marks"] == ""
    # ...and do fire in a child that runs a Python statement after fork.
    assert result["control_marks"] == "!"
    assert result["children_left"] is False


# --- Signals ----------------------------------------------------------------

STORM = r"""
import json, os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
import pysyscall, pysyscall.exec_unix, pysyscall.runners
from pysyscall import ProcAttr, fork_exec, wait4
marker = sys.argv[2]
me = os.getpid()
handled = {"CHLD": 0, "USR1": 0}
def handler(signum, frame):
    if os.getpid() != me:  # would mean Python code ran in a child
        with open(marker, "a") as f:
            f.write("child\n")
    handled["CHLD" if signum == signal.SIGCHLD else "USR1"] += 1
signal.signal(signal.SIGCHLD, handler)
signal.signal(signal.SIGUSR1, handler)
stop = threading.Event()
def storm():
    while not stop.is_set():
        os.kill(me, signal.SIGUSR1)
        os.kill(me, signal.SIGCHLD)
        time.sleep(0.0002)
t = threading.Thread(target=storm, daemon=True); t.start()
results = []
for i in range(150):
    kind = i % 3
    try:
        if kind == 0:
            pid = fork_exec("/bin/true", ["true"])
        elif kind == 1:
            pid = fork_exec("/bin/sh", ["sh", "-c", "exit 3"])
        else:
            fork_exec("/nonexistent/x", ["x"])
            results.append("started?"); continue
        results.append(int(wait4(pid)[1]) >> 8)
    except OSError as error:
        results.append("ENOENT" if error.errno == 2 else repr(error))
stop.set(); t.join()
want = [0, 3, "ENOENT"]
bad = [r for i, r in enumerate(results) if r != want[i % 3]]
true_plan = pysyscall.exec_unix.child_program("/bin/true", ["true"])
print(json.dumps({"ok": not bad, "bad": bad[:5], "usr1": handled["USR1"],
                  "runner": pysyscall.runners.select(true_plan).NAME}))
"""


@pytest.mark.parametrize("runner", RUNNER_NAMES)
def test_signal_storm_during_starts(runner: str, tmp_path: Path) -> None:
    """SIGCHLD and SIGUSR1, caught in Python, arrive every 0.2 ms during 150 starts."""
    marker = tmp_path / "marker"
    result = run_script(STORM, str(marker), timeout=60, runner=runner)
    assert result["runner"] == runner, result
    assert result["ok"], result
    assert result["usr1"] > 0, result
    assert not marker.exists(), marker.read_text()


# --- Resource exhaustion ----------------------------------------------------

EXHAUST = r"""
import errno, json, os, resource, sys
sys.path.insert(0, sys.argv[1])
import pysyscall, pysyscall.exec_unix, pysyscall.runners
from pysyscall import fork_exec, wait4
out = {}
true_plan = pysyscall.exec_unix.child_program("/bin/true", ["true"])
runner = pysyscall.runners.select(true_plan)
out["runner"] = runner.NAME
out["status_pipe"] = runner.status_pipe(true_plan)  # the only fds a start makes
wait4(fork_exec("/bin/true", ["true"]))  # one-time set-up is not what runs out
def start():
    try:
        pid = fork_exec("/bin/true", ["true"])
    except OSError as e:
        out["error"] = errno.errorcode.get(e.errno, str(e.errno)); out["text"] = str(e)
    else:
        out["error"] = None; out["status"] = int(wait4(pid)[1])
if sys.argv[2] == "emfile":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (fds[-1] + 1, hard))
    hogs = []
    while True:
        try: hogs.append(os.open("/dev/null", os.O_RDONLY))
        except OSError: break
    # One free fd: enough to list fds (and for the child's loader), not
    # for a pipe.
    os.close(hogs.pop())
    before = sorted(os.listdir("/proc/self/fd"))
    start()
    out["fds_same"] = sorted(os.listdir("/proc/self/fd")) == before
    for fd in hogs: os.close(fd)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
else:
    os.setgid(65534); os.setuid(65534)
    nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    resource.setrlimit(resource.RLIMIT_NPROC, (0, nproc_hard))
    before = sorted(os.listdir("/proc/self/fd"))
    start()
    out["fds_same"] = sorted(os.listdir("/proc/self/fd")) == before
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc_hard, nproc_hard))
try:
    os.waitpid(-1, os.WNOHANG); out["children"] = True
except ChildProcessError:
    out["children"] = False
pid = fork_exec("/bin/true", ["true"])
out["next"] = int(wait4(pid)[1])
print(json.dumps(out))
"""


@pytest.mark.parametrize("runner", RUNNER_NAMES)
@pytest.mark.parametrize("kind", ["emfile", "eagain"])
def test_resource_exhaustion(kind: str, runner: str) -> None:
    """EMFILE and EAGAIN: a clear OSError, nothing leaked, the next start works.

    A runner whose start makes no fd (its child reports through shared
    memory or posix_spawn's result) is not stopped by EMFILE: its start
    must then work, with the one fd left free.
    """
    if kind == "eagain" and os.geteuid() != 0:
        pytest.skip("needs root: drops to an unprivileged uid")
    result = run_script(EXHAUST, kind, timeout=60, runner=runner)
    assert result["runner"] == runner, result
    if kind == "emfile" and not result["status_pipe"]:
        assert result["error"] is None and result["status"] == 0, result
    else:
        expected = "EMFILE" if kind == "emfile" else "EAGAIN"
        assert result["error"] == expected, result
        text = result["text"]
        assert ("pipe" if kind == "emfile" else "fork") in text, result
    assert result["fds_same"] and not result["children"], result
    assert result["next"] == 0, result


# --- Property-based ProcAttr ------------------------------------------------

ODD = st.binary(min_size=0, max_size=12).filter(lambda b: b"\0" not in b)


@settings(
    max_examples=36,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    runner=st.sampled_from([r.NAME for r in runners.RUNNERS if runner_declines(r.NAME) is None]),
    picks=st.lists(st.sampled_from(["a", "b", "-1", "0", "1", "2", "hole", "pipe"]), max_size=6),
    env=st.dictionaries(st.from_regex(r"K_[A-Z]{1,6}", fullmatch=True), ODD, max_size=4),
    args=st.lists(ODD.filter(lambda b: b != b""), max_size=3),
    nul=st.booleans(),
)
def test_procattr_property(
    tmp_path: Path,
    runner: str,
    picks: list[str],
    env: dict[str, bytes],
    args: list[bytes],
    nul: bool,
) -> None:
    """Any fd layout, environment and argv: the child sees exactly them, on any runner."""
    report = tmp_path / "view.json"
    if report.exists():
        report.unlink()
    a = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    b_r, b_w = os.pipe()
    hole = os.dup(a)
    os.close(hole)  # a free fd number: the next pipe (the status pipe's) takes it
    named = {"a": a, "b": b_w, "-1": -1, "0": 0, "1": 1, "2": 2, "hole": hole, "pipe": hole}
    files = [named[p] for p in picks]
    envb = [b"LC_ALL=C.UTF-8"] + [k.encode() + b"=" + v for k, v in env.items()]
    if nul:
        envb.append(b"K_NUL=x\0y")
    argv = [os.fsencode(sys.executable), b"-I", b"-S", os.fsencode(CHILD_VIEW), os.fsencode(report)]
    argv += args
    targets = {
        fd: os.readlink(f"/proc/self/fd/{fd}") for fd in set(files) if fd >= 0 and fd != hole
    }
    before = open_fds()
    saved = runners.override
    runners.override = runner
    try:
        try:
            pid = fork_exec(sys.executable, argv, ProcAttr(files=files, env=envb))
        except (OSError, ValueError) as error:
            # Only a closed fd or a NUL may fail, and before any fork.
            assert nul or hole in files, error
            if isinstance(error, OSError):
                assert error.errno == errno.EBADF, error
            assert open_fds() == before
            assert_no_children()
            return
        assert not nul and hole not in files
        _, status = wait4(pid)
        assert status.exited() and status.exit_status() == 0, status
        view: dict[str, Any] = json.loads(report.read_text())
        want = {str(i): targets[f] for i, f in enumerate(files) if f >= 0}
        got = {fd: v["target"] for fd, v in view["fds"].items()}
        assert got == want, (runner, files, got, want)
        wanted_env = {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()}
        wanted_env["LC_ALL"] = "C.UTF-8"
        assert view["environ"] == wanted_env
        assert [os.fsencode(x) for x in view["argv"][2:]] == args
    finally:
        runners.override = saved
        for fd in (a, b_r, b_w):
            os.close(fd)


# --- Threads ----------------------------------------------------------------


def test_32_threads_start_and_reap(runner: str) -> None:
    """32 threads start and reap /bin/true for a second (SLOWDOWN seconds under
    emulation): no deadlock, error or leak."""
    fds = open_fds()
    stop = time.monotonic() + 1.0 * SLOWDOWN
    started: list[int] = []
    reaped: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while time.monotonic() < stop:
            try:
                pid = fork_exec("/bin/true", ["true"])
                with lock:
                    started.append(pid)
                wpid, status = wait4(pid)
                assert wpid == pid and status.exited() and status.exit_status() == 0
                with lock:
                    reaped.append(pid)
            except BaseException as error:
                errors.append(repr(error))
                return

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * SLOWDOWN)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert errors == []
    assert sorted(started) == sorted(reaped) and len(started) > 32
    assert_no_children()
    assert open_fds() == fds
