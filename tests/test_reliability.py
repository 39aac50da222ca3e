"""Reliability: concurrent starts, the design note's hazard under load, soak, no bytecode.

* TestConcurrentExec, ported from Go's os/exec (the regression test for
  go.dev/issue/61080), for both fork-pipe variants; and controls with a
  status pipe that leaks into concurrent forks: without the child's
  close_range sweep the port catches the hang, with it nothing hangs.
* The hazard of ../shared/design/child-program.md: a big parent, threads
  busy in Python, threads spawning. Run in a separate process with a
  watchdog, so a hung child fails the test instead of freezing pytest; a
  control shows the same stress hangs a naive ctypes child.
* A soak of 2,000 starts, successes and failures: no fd, child or memory
  leaks.
* "No bytecode in the child": trace and profile hooks that fire in any
  process other than the parent see nothing from pysyscall's children, and
  do see a naive os.fork child.
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
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any, Callable

import pytest

import pysyscall
import pysyscall.exec_unix
import pysyscall.linux
from pysyscall import ProcAttr, fork_exec, forkpipe, forkpipe2, wait4

PACKAGE_PARENT = str(Path(pysyscall.__file__).resolve().parent.parent)
VARIANTS = {"forkpipe2": forkpipe2, "forkpipe": forkpipe}


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


def run_script(source: str, *args: str, timeout: float) -> dict[str, Any]:
    """Run ``source`` in a fresh interpreter; return the JSON its last line prints.

    A hang becomes a test failure (subprocess.run kills the script at the
    timeout), not a frozen pytest.
    """
    command = [sys.executable, "-I", "-c", textwrap.dedent(source), PACKAGE_PARENT, *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
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
def test_concurrent_exec(variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Port of Go's TestConcurrentExec (os/exec), several rounds per fork-pipe variant."""
    monkeypatch.setattr(pysyscall.exec_unix, "forkpipe", VARIANTS[variant])
    n, rounds = concurrency(), 20
    fds_before = open_fds()
    started = time.monotonic()
    for number in range(rounds):
        game = Round(n, deadline=30.0)
        stuck = game.run()
        where = f"{variant}, round {number}, n={n}: {stuck}, errors {game.errors}"
        assert stuck == {"stuck_exits": [], "stuck_after_cancel": []}, where
        assert game.errors == [], where
        assert len(game.pids) == 2 * n, where
        for status in game.exit_status + game.hang_status:
            assert status is not None and status.exited() and status.exit_status() == 0, where
        assert no_child_left(), where
    print(f"\n{variant}: {rounds} rounds of {n}+{n} starts in {time.monotonic() - started:.2f} s")
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

    def fork_exec_pipe() -> tuple[int, int]:
        if threading.current_thread().name.startswith("hang"):
            with ready:
                if not ready.wait_for(lambda: opened[0] == game.n, timeout=5):
                    raise TimeoutError("the exit starts did not open their pipes")
            return os.pipe()
        r, w = os.pipe()
        os.set_inheritable(r, True)
        os.set_inheritable(w, True)
        with ready:
            opened[0] += 1
            ready.notify_all()
        game.hangs_started.wait(5)
        os.set_inheritable(r, False)
        os.set_inheritable(w, False)
        return r, w

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
    if sweep and not pysyscall.linux.CLOSE_RANGE:
        pytest.skip("this kernel or C library has no close_range(CLOSE_RANGE_CLOEXEC)")
    monkeypatch.setattr(pysyscall.linux, "CLOSE_RANGE", sweep)
    monkeypatch.setenv("PYSYSCALL_RUNNER", "fork")  # the status pipe is the fork runner's
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
    pid = libc._Fork()
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
print(json.dumps({
    "python": sys.version.split()[0],
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


def test_no_hang_under_load() -> None:
    """The design note's stress: 256 MiB parent, 4 busy threads, 3 spawners, 100 spawns.

    (At a 0.5 ms switch interval, see SWITCH.)

    A child that ran Python code between fork and execve would inherit a
    pending "drop the GIL" request and hang there (35-49 % of children in
    the note's measurement with a naive child). Here every spawn must return
    and exit 0, with no child hung, left over or killed by the watchdog.
    """
    spawns = 100
    args = ("256", "4", "3", str(spawns), "5", "pysyscall", SWITCH)
    result = run_script(STRESS, *args, timeout=150)
    print(f"\nstress: {result}")
    assert result["rss_mib"] >= 256, result
    assert result["unfinished_spawners"] == 0, result
    assert result["hangs"] == 0, result
    assert result["errors"] == [], result
    assert result["spawns"] == spawns and result["exited_0"] == spawns, result
    assert result["bad_statuses"] == [], result
    assert result["children_left"] is False, result


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


def test_soak_no_leaks(tmp_path: Path) -> None:
    """2,000 starts, successes and three kinds of failure: no fd, child or memory leak."""
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
    total = 2000
    for i in range(total):
        kinds[i % len(kinds)]()
    seconds = time.monotonic() - started
    gc.collect()
    rss_after = vm_rss_kib()
    fds_after = open_fds()
    growth_mib = (rss_after - rss_before) / 1024
    print(
        f"\nsoak: {total} starts in {seconds:.1f} s; fds before {fds_before}, "
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
print(json.dumps({
    "pysyscall_marks": pysyscall_marks.decode(),
    "control_marks": control_marks.decode(),
    "results": results,
    "events_main": events.get(main_ident, 0),
    "events_other": events.get(other.ident, 0),
    "children_left": children_left,
}))
"""


def test_child_runs_no_bytecode(tmp_path: Path) -> None:
    """Trace and profile hooks never fire in a pysyscall child; they do in a naive one."""
    missing = str(tmp_path / "missing")
    result = run_script(NO_BYTECODE, missing, timeout=60)
    outcomes = sorted({tuple(r) for r in result["results"]})
    print(
        f"\nno bytecode: {len(result['results'])} starts {outcomes}; "
        f"marks from pysyscall children {result['pysyscall_marks']!r}, "
        f"from the naive child {result['control_marks']!r}; parent events "
        f"{result['events_main']} (main), {result['events_other']} (other thread)"
    )
    assert len(result["results"]) == 50
    assert outcomes == [("missing dir", "chdir"), ("missing program", "execve"), ("true", 0)]
    # The hooks were live in both spawning threads of the parent...
    assert result["events_main"] > 0 and result["events_other"] > 0
    # ...never fired in a pysyscall child...
    assert result["pysyscall_marks"] == ""
    # ...and do fire in a child that runs a Python statement after fork.
    assert result["control_marks"] == "!"
    assert result["children_left"] is False
