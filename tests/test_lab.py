"""The lab at small rounds, and the adversarial reliability suite of issue 5.

Each lab scenario runs in its own interpreter (pysyscall.lab); here with a
round or two, asserting the fix holds and, where cheap, that the old design
still shows the bug. Then: a signal storm during starts, resource exhaustion
(EMFILE, EAGAIN), property-based ProcAttr tests and 32 threads at once.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import CHILD_VIEW, assert_no_children, open_fds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pysyscall
from pysyscall import ProcAttr, fork_exec, lab, wait4

ROOT = str(Path(__file__).resolve().parents[1])


# --- The lab at small rounds ------------------------------------------------


def test_lab_61080() -> None:
    s = lab.SCENARIOS["61080"]
    old = lab._run(s, "old", 3)
    assert old["bad"] >= 1, old  # the leaky pipe with the counting lock hangs
    for arm in ("serial", "pipe2"):
        result = lab._run(s, arm, 2)
        assert result["bad"] == 0 and result["total"] == 2, (arm, result)


def test_lab_33565() -> None:
    s = lab.SCENARIOS["33565"]
    assert lab._run(s, "old", 1)["bad"] == 1
    new = lab._run(s, "new", 2)
    assert new["bad"] == 0 and new["total"] == 2, new


def test_lab_19546() -> None:
    s = lab.SCENARIOS["19546"]
    assert lab._run(s, "old", 1)["bad"] == 1
    new = lab._run(s, "new", 1)
    assert new["bad"] == 0 and new["total"] == 1, new


def test_lab_23558_reader_gets_in() -> None:
    result = lab._run(lab.SCENARIOS["23558"], "new", 5)
    assert result["rate"] > 0 and result["reader_max"] < 1.0, result


def test_lab_bytecode_fix() -> None:
    result = lab._run(lab.SCENARIOS["bytecode"], "new", 9)
    assert result["bad"] == 0 and result["total"] == 9, result


def test_lab_cli_rejects_unknown() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pysyscall", "lab", "nosuch"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode != 0 and "no scenario" in done.stderr


# --- Signals ----------------------------------------------------------------

STORM = r"""
import json, os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
import pysyscall
from pysyscall import ProcAttr, fork_exec, wait4
marker = sys.argv[2]
me = os.getpid()
handled = {"CHLD": 0, "USR1": 0, "in_child": 0}
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
ok = all(r == [0, 3, "ENOENT"][i % 3] for i, r in enumerate(results))
print(json.dumps({"ok": ok, "bad": [r for i, r in enumerate(results)
                  if r != [0, 3, "ENOENT"][i % 3]][:5], "usr1": handled["USR1"]}))
"""


def test_signal_storm_during_starts(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    done = subprocess.run(
        [sys.executable, "-c", STORM, ROOT, str(marker)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"], result
    assert result["usr1"] > 0, result
    assert not marker.exists(), marker.read_text()


# --- Resource exhaustion ----------------------------------------------------

EXHAUST = r"""
import errno, json, os, resource, sys
os.environ["PYSYSCALL_RUNNER"] = "fork"  # the runner with the fork pipe
sys.path.insert(0, sys.argv[1])
import pysyscall
from pysyscall import fork_exec, wait4
out = {}
if sys.argv[2] == "emfile":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (fds[-1] + 1, hard))
    hogs = []
    while True:
        try: hogs.append(os.open("/dev/null", os.O_RDONLY))
        except OSError: break
    os.close(hogs.pop())  # one free fd: enough to list fds, not for a pipe
    before = sorted(os.listdir("/proc/self/fd"))
    try:
        fork_exec("/bin/true", ["true"]); out["error"] = None
    except OSError as e:
        out["error"] = errno.errorcode.get(e.errno, str(e.errno)); out["text"] = str(e)
    out["fds_same"] = sorted(os.listdir("/proc/self/fd")) == before
    for fd in hogs: os.close(fd)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
else:
    os.setgid(65534); os.setuid(65534)
    nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    resource.setrlimit(resource.RLIMIT_NPROC, (0, nproc_hard))
    before = sorted(os.listdir("/proc/self/fd"))
    try:
        fork_exec("/bin/true", ["true"]); out["error"] = None
    except OSError as e:
        out["error"] = errno.errorcode.get(e.errno, str(e.errno)); out["text"] = str(e)
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


@pytest.mark.parametrize("kind", ["emfile", "eagain"])
def test_resource_exhaustion(kind: str) -> None:
    if kind == "eagain" and os.geteuid() != 0:
        pytest.skip("needs root to drop to an unprivileged uid")
    done = subprocess.run(
        [sys.executable, "-c", EXHAUST, ROOT, kind],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] == ("EMFILE" if kind == "emfile" else "EAGAIN"), result
    assert result["fds_same"] and not result["children"], result
    assert result["next"] == 0, result


# --- Property-based ProcAttr ------------------------------------------------

ODD = st.binary(min_size=0, max_size=12).filter(lambda b: b"\0" not in b)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    picks=st.lists(st.sampled_from(["a", "b", "-1", "0", "1", "2", "hole", "pipe"]), max_size=6),
    env=st.dictionaries(st.from_regex(r"K_[A-Z]{1,6}", fullmatch=True), ODD, max_size=4),
    args=st.lists(ODD.filter(lambda b: b != b""), max_size=3),
    nul=st.booleans(),
)
def test_procattr_property(
    tmp_path: Path, picks: list[str], env: dict[str, bytes], args: list[bytes], nul: bool
) -> None:
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
        assert got == want, (files, got, want)
        wanted_env = {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()}
        wanted_env["LC_ALL"] = "C.UTF-8"
        assert view["environ"] == wanted_env
        assert [os.fsencode(x) for x in view["argv"][2:]] == args
    finally:
        for fd in (a, b_r, b_w):
            os.close(fd)


# --- Threads ----------------------------------------------------------------


def test_32_threads_start_and_reap() -> None:
    fds = open_fds()
    stop = time.monotonic() + 4.0
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
        t.join(60)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert errors == []
    assert sorted(started) == sorted(reaped) and len(started) > 32
    assert_no_children()
    assert open_fds() == fds


def test_signal_module_untouched() -> None:
    # The storm test installs handlers only in its helper process.
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 3
    assert pysyscall.fork_exec is fork_exec
