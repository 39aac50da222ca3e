"""The vfork runner (runner_vfork.py): the plan run by a machine-code routine.

What a child gets is the same on every runner: tests/test_runners.py checks
it on this one too. Here, the routine's own parts: its table, edited plans
it must run (a failing step at every position, Go's getppid alternative),
its clone3 entry, its fallbacks, its stacks and threads. Tests that start
a child force PYSYSCALL_RUNNER=vfork (the ``vfork`` fixture) and check that
the vfork runner was the one selected; the strace tests prove it from the
kernel's side (a clone with CLONE_VM|CLONE_VFORK, where the fork runner's
has no CLONE_VM) and show that the child makes exactly the planned calls,
with no Python in it.

The routines' bytes (asm_linux_amd64.py, asm_linux_arm64.py) are checked
against their listings (the .s beside each) by re-assembling them with
binutils, on any machine. That test fails, and does not skip, when the
binutils for a listing's machine are missing: the listing is the source of
truth, and a suite that cannot check the bytes against it should say so
loudly. CI installs them (.ci/test: binutils-aarch64-linux-gnu; the
aarch64 guest of .ci/arm64-guest.sh has both).

The rest runs where the runner has a routine: x86-64, and aarch64 (CI runs
the suite in an emulated aarch64 machine, .ci/arm64-guest.sh).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    assert_no_children,
    kernel_has,
    open_fds,
    output_of,
    replaced,
    vfork_clone,
    without_fallback,
)

import pysyscall
from pysyscall import (
    Credential,
    ProcAttr,
    SysProcAttr,
    exec_unix,
    libc,
    linux,
    runner_fork,
    runner_vfork,
    runners,
    zerrors_linux,
)
from pysyscall._platform import zsysnum
from pysyscall.linux import SysProcIDMap
from pysyscall.plan import Cell, ChildError, Step

if sys.platform != "linux" or runner_vfork.asm is None:
    pytest.skip(
        f"the vfork routine exists for x86-64 and aarch64 Linux; this is {sys.platform} "
        f"{platform.machine()}",
        allow_module_level=True,
    )
asm: Any = runner_vfork.asm

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_PARENT = str(Path(pysyscall.__file__).resolve().parent.parent)
NOBODY = 65534
TIMEOUT = 60.0


def need_fork_runner() -> None:
    """Skip a test of the fallback (or of the fork runner) where it cannot run."""
    reason = runner_fork.unavailable()
    if reason is not None:
        pytest.skip(f"the fork runner is unavailable here: {reason}")


@pytest.fixture
def vfork(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the vfork runner, and check it is the one selected."""
    monkeypatch.setenv("PYSYSCALL_RUNNER", "vfork")
    assert runners.select() is runner_vfork


def proc_status(**attr: Any) -> dict[str, str]:
    """The started program's own /proc/self/status."""
    text = output_of(["/bin/cat", "/proc/self/status"], **attr).decode()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def ids(value: str) -> list[int]:
    return [int(x) for x in value.split()]


# --- The routine's bytes and layout -----------------------------------------------


def load_tool() -> Any:
    spec = importlib.util.spec_from_file_location("pysyscall_tools_asm", ROOT / "tools" / "asm.py")
    assert spec and spec.loader, "tools/asm.py is missing from the checkout"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_bytes_match_the_listing(arch: str) -> None:
    """Re-assemble asm_linux_ARCH.s: the generated module must be what is shipped."""
    tool = load_tool()
    for name in tool.tools(arch):
        if shutil.which(name) is None:
            pytest.fail(
                f"{name} is not installed: this test re-assembles pysyscall/asm_linux_{arch}.s "
                f"to check the routine's bytes (apt-get install {tool.package(arch)})",
                pytrace=False,
            )
    shipped_module = importlib.import_module(f"pysyscall.asm_linux_{arch}")
    listing = ROOT / "pysyscall" / f"asm_linux_{arch}.s"
    generated = tool.generate(listing)
    shipped = Path(shipped_module.__file__ or "").read_text()
    assert generated == shipped, f"asm_linux_{arch}.py is stale: run python3 tools/asm.py"
    assert shipped_module.CODE.hex() in generated.replace('"\n    "', "")


def test_both_routines_share_the_table() -> None:
    """One table for both machines: the same layout and flags in each listing."""
    from pysyscall import asm_linux_amd64, asm_linux_arm64

    def layout(module: Any) -> dict[str, int]:
        """The header, entry and record offsets and the entry flags."""
        return {
            k: v
            for k, v in vars(module).items()
            if k.startswith(("H_", "E_", "R_", "F_")) or k in ("HEADER_SIZE", "ENTRY_SIZE")
        }

    assert layout(asm_linux_amd64) == layout(asm_linux_arm64)
    assert len(layout(asm_linux_arm64)) == 26
    assert asm_linux_arm64.VFORK_CHILD == 0 and asm_linux_arm64.CLONE3_VFORK % 4 == 0
    # The same functions in each (a plan calls cloexec_range on either machine).
    functions = {k for k, v in vars(asm_linux_amd64).items() if k.isupper() and k not in
                 layout(asm_linux_amd64) and isinstance(v, int)}  # fmt: skip
    assert functions == {"VFORK_CHILD", "CLONE3_VFORK", "CLOEXEC_RANGE"}
    assert all(hasattr(asm_linux_arm64, name) for name in functions)
    assert asm_linux_arm64.CLOEXEC_RANGE % 4 == 0
    assert len(asm_linux_arm64.CODE) % 4 == 0  # whole A64 instructions


def test_layout_matches_python() -> None:
    assert (ChildError.step.offset, ChildError.errno.offset) == (asm.R_STEP, asm.R_ERRNO)
    assert asm.HEADER_SIZE == 9 * 8
    assert asm.ENTRY_SIZE == 11 * 8
    assert asm.E_ARGS + 6 * 8 == asm.E_FLAGS
    assert asm.F_LOAD0 << 5 < asm.F_FAIL  # the six load bits sit below the judging flags


def test_table_layout() -> None:
    """Header words, one entry per call (two for a step with ``otherwise``), flags."""
    attr = ProcAttr(dir="/", sys=SysProcAttr(setsid=True, pdeathsig=signal.SIGKILL))
    plan = exec_unix.child_program("/bin/true", ["true"], attr)
    plan.signal_rule = None  # the plan's own list of resets (see the next test for the rule)
    words = list(runner_vfork.table(plan, 77))
    assert runner_vfork.table(plan, 77) is runner_vfork.table(plan, 77)  # kept on the plan
    header, entries = words[:9], words[9:]
    width = asm.ENTRY_SIZE // 8
    otherwise = [s for s in plan.steps if s.otherwise is not None]
    assert len(otherwise) == 1
    assert header[0] == len(plan.steps) + 1 == len(entries) // width
    assert header[4] == 77 and header[5] == ctypes.addressof(plan.record)
    assert header[6] == 12 and header[7] == 253 and header[8] == errno.EINVAL
    rows = [entries[i : i + width] for i in range(0, len(entries), width)]
    index = [row[10] for row in rows]
    at = next(i for i, s in enumerate(plan.steps) if s.otherwise is not None)
    # The alternative entry follows its step and reports the same step number.
    assert index == [*range(at + 1), at, *range(at + 1, len(plan.steps))]
    flags = [row[7] for row in rows]
    assert flags[at] == asm.F_OTHERWISE and rows[at][8] == os.getpid()
    assert flags[at + 1] == asm.F_FAIL | asm.F_LOAD0  # kill(pid Cell, signal)
    store = next(i for i, s in enumerate(plan.steps) if s.store is not None)
    assert flags[store] == asm.F_STORE | asm.F_FAIL  # getpid() -> pid
    ignored = [i for i, s in enumerate(plan.steps) if s.func == "sigaction"]
    assert ignored and all(flags[i] == 0 for i in ignored)  # results ignored
    assert flags[-1] == asm.F_FAIL  # execve
    assert rows[-1][0] == ctypes.cast(libc.parent("execve"), ctypes.c_void_p).value


def test_table_applies_the_signal_rule(handlers_cleared: bool) -> None:
    """An exec_unix plan says how its reset list was chosen (Plan.signal_rule):
    the table judges every signal in the child instead of the list; or, after
    CLONE_CLEAR_SIGHAND, resets only what the kernel did not: Python's ignores."""
    from pysyscall import linux, runtime

    plan = exec_unix.child_program("/bin/true", ["true"])
    assert plan.signal_rule == runtime.IGNORED_BY_PYTHON and plan.signal_steps is not None
    first, count = plan.signal_steps
    assert {s.func for s in plan.steps[first : first + count]} <= {"sigaction"}
    words = list(runner_vfork.table(plan, -1))
    width = asm.ENTRY_SIZE // 8
    rows = [words[9 + i : 9 + i + width] for i in range(0, len(words) - 9, width)]
    syscall = ctypes.cast(libc.parent("syscall"), ctypes.c_void_p).value
    memcmp = ctypes.cast(libc.parent("memcmp"), ctypes.c_void_p).value
    rt_sigaction = zsysnum.SYS_RT_SIGACTION
    rule = [
        row for row in rows if row[0] == memcmp or (row[0] == syscall and row[1] == rt_sigaction)
    ]
    settable = [s for s in runtime.ASKABLE if s not in (signal.SIGKILL, signal.SIGSTOP)]
    if handlers_cleared:
        settable = list(runtime.IGNORED_BY_PYTHON)
        assert runner_vfork.clears_handlers(plan)
    assert len(rule) == len(settable) * 3 - 2 * len(runtime.IGNORED_BY_PYTHON)
    assert all(row[10] == first for row in rule)  # reported as the reset's step
    calls = iter(rule)
    for signum in settable:
        to_default = next(calls)  # syscall(SYS_rt_sigaction, sig, default, old, 8)
        assert to_default[2] == signum and to_default[7] & asm.F_IF_EQUAL == 0
        if signum in runtime.IGNORED_BY_PYTHON:  # to SIG_DFL, whatever it was
            assert to_default[4] == 0
            continue
        compare, ignore = next(calls), next(calls)
        assert compare[0] == memcmp and compare[1] == to_default[4] and compare[3] == 8
        assert compare[7] & asm.F_IF_EQUAL and compare[8] == 0  # SIG_IGN before:
        assert ignore[2] == signum and ignore[3] != to_default[3]  # SIG_IGN again
    if not handlers_cleared:
        assert ctypes.c_uint64.from_address(rule[2][3]).value == 1  # the SIG_IGN action
    assert ctypes.string_at(rule[0][3], 32) == bytes(32)  # the SIG_DFL one
    # The other steps follow as planned, their numbers kept.
    others = [row for row in rows if row not in rule]
    assert [row[10] for row in others] == [
        i for i in range(len(plan.steps)) if not first <= i < first + count
    ]
    # No reset in the list (nothing caught or ignored when planned): the
    # rule still runs, before the mask is restored.
    empty = linux.child_program(b"/bin/true", [b"true"], [], None, [0, 1, 2], SysProcAttr(), [])
    empty.signal_rule = runtime.IGNORED_BY_PYTHON
    assert empty.signal_steps is not None and empty.signal_steps[1] == 0
    words = list(runner_vfork.table(empty, -1))
    rows = [words[9 + i : 9 + i + width] for i in range(0, len(words) - 9, width)]
    funcs = [row[0] for row in rows]
    mask = ctypes.cast(libc.parent("sigprocmask"), ctypes.c_void_p).value
    assert funcs.index(mask) == len(rule) and funcs.count(memcmp) == funcs[: len(rule)].count(
        memcmp
    )


def test_a_rule_with_no_ignored_signal_to_default(handlers_cleared: bool) -> None:
    """compat's rule without restore_signals keeps every ignored signal ignored:
    after CLONE_CLEAR_SIGHAND the table has no entry left for it, and the
    printed program says where the plan's resets went."""
    plan = exec_unix.child_program("/bin/true", ["true"])
    plan.signal_rule = ()
    words = list(runner_vfork.table(plan, -1))
    lines = runner_vfork.describe(plan)
    width = asm.ENTRY_SIZE // 8
    rows = [words[9 + i : 9 + i + width] for i in range(0, len(words) - 9, width)]
    syscall = ctypes.cast(libc.parent("syscall"), ctypes.c_void_p).value
    sets = [row for row in rows if row[0] == syscall and row[1] == zsysnum.SYS_RT_SIGACTION]
    assert plan.signal_steps is not None
    first, count = plan.signal_steps
    if handlers_cleared:
        assert sets == []
        steps = list(range(first, first + count))
        assert f"{first:4}  (in place of the plan's steps {steps}: " in "\n".join(lines)
    else:
        assert len(sets) > 60  # every settable signal, and again for each ignored one
        assert any("the signal rule, " in line for line in lines)


# --- Edited plans and the clone3 entry, under PYSYSCALL_RUNNER=vfork -----------------


@pytest.fixture
def root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: sets credentials, chroots or makes namespaces only root may")


def test_credential_failure(vfork: None, root: None, no_leaks: None) -> None:
    """A failing setuid fails the start at that step (here a second setuid(0),
    which the child, nobody by then, may not make)."""
    attr = SysProcAttr(credential=Credential(NOBODY, NOBODY, []))
    assert ids(proc_status(sys=attr)["Uid"]) == [NOBODY] * 4
    plan = exec_unix.child_program("/bin/true", ["true"], ProcAttr(sys=attr))
    at = next(i for i, s in enumerate(plan.steps) if s.name == "setuid")
    # After setuid(nobody), a second setuid(0) must fail with EPERM.
    plan.steps.insert(at + 1, replaced(plan.steps[at], args=(plan.steps[at].args[0], 0)))
    with pytest.raises(PermissionError) as info:
        run_plan(plan)
    assert info.value.step == "setuid"  # type: ignore[attr-defined]
    assert f"child step {at + 1}," in str(info.value)


def test_pdeathsig_otherwise_runs_when_parent_differs(vfork: None, no_leaks: None) -> None:
    """Go's getppid check: the alternative entry (kill) runs when the result differs."""
    plan = exec_unix.child_program(
        "/bin/sleep", ["sleep", "30"], ProcAttr(sys=SysProcAttr(pdeathsig=signal.SIGUSR2))
    )
    at = next(i for i, s in enumerate(plan.steps) if s.otherwise is not None)
    plan.steps[at] = replaced(plan.steps[at], expect=1)  # not our pid
    pid, _ = run_plan(plan)
    status = pysyscall.wait4(pid)[1]
    assert status.signaled() and status.signal() == signal.SIGUSR2


def test_clone3_new_time_namespace(vfork: None, root: None, no_leaks: None) -> None:
    """CLONE_NEWTIME needs clone3: the routine's clone3_vfork entry makes it."""
    kernel_has("clone3")
    attr = SysProcAttr(cloneflags=zerrors_linux.CLONE_NEWTIME)
    plan = exec_unix.child_program("/bin/true", ["true"], ProcAttr(sys=attr))
    assert plan.fork.name == "clone3" and runner_vfork.unavailable(plan) is None
    out = output_of(["/bin/readlink", "/proc/self/ns/time"], sys=attr)
    assert out.decode().strip() != os.readlink("/proc/self/ns/time")


# --- A failing step at every position ----------------------------------------------


def run_plan(plan: Any) -> tuple[int, int]:
    """Start a (possibly edited) plan through exec_unix, as fork_exec would."""
    return exec_unix._guarded(exec_unix._start, plan)


def failing(kind: int, index: int, b: Any) -> Step:
    """A step that fails, of one of three kinds (checked -1, wrong value, stored)."""
    name = f"fails-{index}"
    if kind == 0:
        return Step(name, "close", (-1,), "close(-1)")  # EBADF
    if kind == 1:
        return Step(name, "getpid", (), "getpid() == 1", expect=1)  # EINVAL
    missing = ctypes.create_string_buffer(b"/nonexistent/pysyscall")
    b.append(missing)
    return Step(name, "open", (ctypes.addressof(missing), 0), "open", store=Cell(-1))  # ENOENT


@pytest.mark.parametrize("runner", ["vfork", "fork"])
def test_failing_step_at_every_position(
    runner: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_leaks: None
) -> None:
    """Each position of a long plan (with a Cell store and an ``otherwise`` step)
    fails in turn: the error names that step, with its errno; the fork runner,
    run the same way, agrees."""
    if runner == "fork":
        need_fork_runner()
    monkeypatch.setenv("PYSYSCALL_RUNNER", runner)
    attr = ProcAttr(
        dir=tmp_path,
        files=[0, 1, 2, 1, None, 0],
        sys=SysProcAttr(setsid=True, pdeathsig=signal.SIGKILL),
    )
    length = len(exec_unix.child_program("/bin/true", ["true"], attr).steps)
    assert length >= 15
    codes = {0: errno.EBADF, 1: errno.EINVAL, 2: errno.ENOENT}
    for index in range(length):
        plan = exec_unix.child_program("/bin/true", ["true"], attr)
        assert runner == runners.select(plan).NAME
        kind = index % 3
        plan.steps[index] = failing(kind, index, plan.keep)
        with pytest.raises(OSError) as info:
            run_plan(plan)
        assert info.value.errno == codes[kind], (index, info.value)
        assert info.value.step == f"fails-{index}", info.value  # type: ignore[attr-defined]
        assert f"child step {index}," in str(info.value)
    assert_no_children()


# --- Which runner ran: strace -----------------------------------------------------

TRACED = textwrap.dedent(
    r"""
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    import pysyscall
    from pysyscall import Credential, ProcAttr, SysProcAttr, runners
    from pysyscall.exec_unix import child_program
    from pysyscall.linux import SysProcIDMap
    from pysyscall.zerrors_linux import CLONE_NEWUSER

    cases = {
        "success": ("/bin/true", ProcAttr(dir="/", files=[0, 1, 2, 1],
                    sys=SysProcAttr(setsid=True, pdeathsig=9,
                                    credential=Credential(0, 0, [1, 2])))),
        "missing_dir": ("/bin/true", ProcAttr(dir=sys.argv[3])),
        "user_namespace": ("/bin/true", ProcAttr(sys=SysProcAttr(
            cloneflags=CLONE_NEWUSER, uid_mappings=[SysProcIDMap(0, 65534, 1)],
            gid_mappings=[SysProcIDMap(0, 65534, 1)],
            credential=Credential(0, 0, [], no_setgroups=True)))),
    }
    import errno, signal
    from pysyscall import linux, runtime
    if sys.argv[4] == "rule":  # as on a kernel without CLONE_CLEAR_SIGHAND
        linux._lacks["clone_clear_sighand"] = errno.ENOSYS
    # The vfork routine applies the plan's signal rule: a signal() per
    # settable signal, and one more for each ignored one it keeps ignored;
    # after CLONE_CLEAR_SIGHAND, one for each signal Python ignores itself.
    settable = [s for s in runtime.ASKABLE if s not in (signal.SIGKILL, signal.SIGSTOP)]
    kept = [s for s in settable if s not in runtime.IGNORED_BY_PYTHON
            and signal.getsignal(s) is signal.SIG_IGN]
    rule_calls = len(settable) + len(kept)
    if sys.argv[4] == "CLONE_CLEAR_SIGHAND":
        rule_calls = len(runtime.IGNORED_BY_PYTHON)
    report = {"parent": os.getpid(), "runner": runners.select().NAME, "cases": [],
              "rule_calls": rule_calls}
    for name, (argv0, attr) in cases.items():
        plan = child_program(argv0, ["true"], attr)
        case = {"name": name, "steps": [
            [s.func, [a if isinstance(a, int) else None for a in s.args],
             s.otherwise is not None] for s in plan.steps]}
        try:
            pid = pysyscall.fork_exec(argv0, ["true"], attr)
            case["status"] = int(pysyscall.wait4(pid)[1])
        except OSError as error:
            case["error"] = [error.errno, error.step]
        report["cases"].append(case)
    with open(sys.argv[2], "w") as f:
        json.dump(report, f)
    """
)
SYSCALL_OF = {
    "cloexec_range": "close_range",  # then its fallback, left out (without_fallback)
    "sigaction": "rt_sigaction",
    "sigprocmask": "rt_sigprocmask",
    "getpid": "getpid",
    "getppid": "getppid",
}
SYSCALL_NUMBERS = {
    getattr(zsysnum, f"SYS_{name.upper()}"): name
    for name in ("setgroups", "setgid", "setuid", "close_range")
}
LINE = re.compile(r"^(?P<name>[a-z_0-9]+)\((?P<args>.*)\)\s+= (?P<result>.*)$")
CLONE = re.compile(r"^clone3?\((?P<args>.*)\)\s+= (?P<pid>\d+)$")


def trace(runner: str, tmp_path: Path, resets: str = "CLONE_CLEAR_SIGHAND") -> dict[str, Any]:
    """strace of TRACED's cases; ``resets``: "rule" clones as on a kernel
    without CLONE_CLEAR_SIGHAND (the handlers_cleared fixture's two ways)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace is not installed (apt-get install strace); CI installs it")
    script = tmp_path / "traced.py"
    script.write_text(TRACED)
    report_path = tmp_path / "report.json"
    prefix = tmp_path / "trace"
    env = dict(os.environ, PYSYSCALL_RUNNER=runner)
    missing = str(tmp_path / "missing")
    command = [strace, "-f", "-ff", "-q", "-o", str(prefix), "--", sys.executable, "-I", "-S",
               str(script), PACKAGE_PARENT, str(report_path), missing, resets]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and report_path.exists(), done.stderr
    report: dict[str, Any] = json.loads(report_path.read_text())
    assert report["runner"] == runner
    traces = {int(p.name.rpartition(".")[2]): p.read_text().splitlines() for p in tmp_path.glob("trace.*")}  # fmt: skip  # noqa: E501
    clones = []
    for line in traces[report["parent"]]:
        m = CLONE.match(line)
        if m and "CLONE_THREAD" not in m["args"]:
            clones.append((m["args"], int(m["pid"])))
    # The cases' clones are the last ones (PyPy forks a helper at start-up).
    clones = clones[-len(report["cases"]) :]
    for case, (args, pid) in zip(report["cases"], clones):
        case["clone"] = args
        case["trace"] = traces[pid]
    return report


def planned_calls(case: dict[str, Any], tail: tuple[str, ...]) -> list[str]:
    """The system calls the plan makes, up to the failing step (names only),
    then ``tail``, the failure tail's calls."""
    calls = []
    for func, args, _has_otherwise in case["steps"]:
        if func == "syscall":
            calls.append(SYSCALL_OF.get(func, SYSCALL_NUMBERS[args[0]]))
        else:
            calls.append(SYSCALL_OF.get(func, func))
        # A step with ``otherwise`` (getppid) returns the expected parent
        # here: its alternative (kill) is skipped, so it adds no call.
        if "error" in case and func == case["error"][1]:
            return [*calls, *tail]
    return calls


def child_calls(lines: list[str]) -> list[str]:
    calls = []
    for line in without_fallback(lines):
        if line.startswith("+++"):
            break
        m = LINE.match(line)
        calls.append(m["name"] if m else f"<{line}>")
        if m and m["name"] == "execve" and m["result"].strip() == "0":
            break
    return calls


def test_strace_vfork_clone_and_only_the_planned_calls(
    root: None, tmp_path: Path, handlers_cleared: bool
) -> None:
    report = trace("vfork", tmp_path, "CLONE_CLEAR_SIGHAND" if handlers_cleared else "rule")
    success, missing_dir, user_namespace = report["cases"]

    def with_rule(calls: list[str]) -> list[str]:
        """The plan's resets (a run of rt_sigaction) as the routine makes
        them: the signal rule, one or two calls per settable signal."""
        first = calls.index("rt_sigaction")
        last = first
        while calls[last] == "rt_sigaction":
            last += 1
        return [*calls[:first], *["rt_sigaction"] * report["rule_calls"], *calls[last:]]

    for case in report["cases"]:  # the kernel resets the caught handlers, or the routine does
        assert ("CLONE_CLEAR_SIGHAND" in case["clone"]) == handlers_cleared, case["clone"]
    for case in (success, missing_dir):
        assert "CLONE_VM" in case["clone"] and "CLONE_VFORK" in case["clone"], case["clone"]
        # The child starts in the routine: no set_robust_list, no mmap, no
        # futex, nothing but the plan's calls (and the failure tail, which
        # writes no status pipe: the record is in the shared memory).
        expected = with_rule(planned_calls(case, ("exit_group",)))
        assert child_calls(case["trace"]) == expected, "\n".join(case["trace"][:40])
    assert success["status"] == 0
    assert missing_dir["error"] == [errno.ENOENT, "chdir"]
    # A new user namespace: a plain clone, as Go's, the same routine in a copy.
    clone = user_namespace["clone"]
    assert "CLONE_NEWUSER" in clone and "CLONE_VM" not in clone and "CLONE_VFORK" not in clone
    assert child_calls(user_namespace["trace"]) == with_rule(planned_calls(user_namespace, ()))
    assert user_namespace["status"] == 0


def test_strace_fork_runner_clone_has_no_clone_vm(root: None, tmp_path: Path) -> None:
    need_fork_runner()
    report = trace("fork", tmp_path)
    for case in report["cases"]:
        assert "CLONE_VM" not in case["clone"] and "CLONE_VFORK" not in case["clone"]


# --- Fallback: the mapping refused -----------------------------------------------------


@pytest.fixture
def mapping_refused(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test hook: a fresh mapping state whose mapping fails."""

    def refuse(code: bytes) -> int:
        raise OSError(errno.EPERM, "refused by the test hook")

    monkeypatch.setattr(runner_vfork, "_mapped", [])
    monkeypatch.setattr(runner_vfork, "_map_code", refuse)
    yield


def test_mapping_refused_auto_falls_back(
    mapping_refused: None, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    monkeypatch.setenv("PYSYSCALL_RUNNER", "auto")
    pysyscall.remembered.forget()  # an earlier test's plan would keep the vfork runner
    reason = runner_vfork.unavailable()
    assert reason is not None and "refused by the test hook" in reason
    if runner_fork.unavailable() is not None:  # PyPy: no other runner, a clear refusal
        with pytest.raises(RuntimeError, match="vfork: cannot map the routine"):
            pysyscall.fork_exec("/bin/true", ["true"])
        return
    assert runners.select() is not runner_vfork
    pid = pysyscall.fork_exec("/bin/true", ["true"])
    assert pysyscall.wait4(pid)[1].exit_status() == 0
    with pytest.raises(FileNotFoundError):
        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(dir="/nonexistent"))
    monkeypatch.setenv("PYSYSCALL_RUNNER", "vfork")
    with pytest.raises(RuntimeError, match="vfork: cannot map the routine read\\+execute"):
        pysyscall.fork_exec("/bin/true", ["true"])


SECCOMP = r"""
import ctypes, errno, json, os, struct, sys
sys.path.insert(0, sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
mode = sys.argv[2]
if mode == "mdwe":
    # The kernel's MemoryDenyWriteExecute (Linux 6.3+): no W+X mapping, no
    # mprotect to executable.
    if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
        print(json.dumps({"skip": os.strerror(ctypes.get_errno())})); sys.exit()
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    wx = libc.mmap(None, 4096, 7, 0x22, -1, 0)
    assert wx in (None, 2**64 - 1), "MDWE did not refuse a W+X mapping"
else:
    # A seccomp filter that refuses small executable mmaps (the routine's;
    # the dynamic loader's mappings of libraries are larger) and memfd_create.
    import platform
    AUDIT_ARCH, MEMFD_CREATE, MMAP = {
        "x86_64": (0xC000003E, 319, 9), "aarch64": (0xC00000B7, 279, 222)
    }[platform.machine()]
    def ins(code, k, jt=0, jf=0):
        return struct.pack("HBBI", code, jt, jf, k)
    LD, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
    JGE = 0x35
    prog = b"".join([
        ins(LD, 4), ins(JEQ, AUDIT_ARCH, 1, 0), ins(RET, 0x7FFF0000),      # this machine only
        ins(LD, 0), ins(JEQ, MEMFD_CREATE, 5, 0),
        ins(JEQ, MMAP, 0, 5),
        ins(LD, 32), ins(JSET, 4, 0, 3),                                   # PROT_EXEC
        ins(LD, 24), ins(JGE, 4096, 1, 0),                                 # len < 4096
        ins(RET, 0x00050000 | errno.EPERM),
        ins(RET, 0x7FFF0000),
    ])
    filters = ctypes.create_string_buffer(prog)
    fbuf = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", len(prog) // 8,
                                                   ctypes.addressof(filters)))
    assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
    assert libc.prctl(22, 2, ctypes.addressof(fbuf), 0, 0) == 0, os.strerror(ctypes.get_errno())
import pysyscall
from pysyscall import runner_vfork, runners
fds = sorted(os.listdir("/proc/self/fd"))
reason = runner_vfork.unavailable()
picked = runners.select().NAME
os.environ["PYSYSCALL_RUNNER"] = sys.argv[3]
pid = pysyscall.fork_exec("/bin/true", ["true"])
status = pysyscall.wait4(pid)[1].exit_status()
try:
    pysyscall.fork_exec("/bin/true", ["true"], pysyscall.ProcAttr(dir="/nonexistent"))
except FileNotFoundError as e:
    failed = e.step
print(json.dumps({"reason": reason, "picked": picked, "status": status, "failed": failed,
                  "leaked": sorted(os.listdir("/proc/self/fd")) != fds}))
"""


def run_guarded(mode: str, runner: str) -> dict[str, Any]:
    """Run SECCOMP's script; its starts are made with PYSYSCALL_RUNNER=runner."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", SECCOMP, PACKAGE_PARENT, mode, runner],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=dict(os.environ, PYSYSCALL_RUNNER="auto"),
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_works_under_memory_deny_write_execute() -> None:
    """PR_SET_MDWE refuses W+X pages: the routine's read+execute mapping is allowed."""
    result = run_guarded("mdwe", "vfork")
    if "skip" in result:
        pytest.skip(f"this kernel has no PR_SET_MDWE: {result['skip']}")
    assert result["reason"] is None, result
    assert (result["status"], result["failed"], result["leaked"]) == (0, "chdir", False), result


def test_exec_mapping_refused_by_seccomp_falls_back() -> None:
    """A seccomp filter refuses memfd_create and the executable mapping: auto falls
    back to another runner, which starts the program; no fd is left behind."""
    need_fork_runner()
    result = run_guarded("seccomp", "auto")
    assert result["picked"] != "vfork", result
    assert "cannot map the routine read+execute" in result["reason"], result
    assert "memfd" in result["reason"] and "temporary file" in result["reason"], result
    assert (result["status"], result["failed"], result["leaked"]) == (0, "chdir", False), result


# --- What the runner refuses -----------------------------------------------------------


@pytest.mark.parametrize("field", ["cloneflags", "unshareflags"])
def test_new_user_namespace_forks_plainly(field: str, vfork: None, no_leaks: None) -> None:
    """As Go's forkAndExecInChild1: CLONE_NEWUSER keeps the child off CLONE_VM,
    so the parent can write the id maps while it waits; the same routine runs
    in a copy of the parent and reports on the status pipe. (After unshare,
    the child writes its own maps, and may only map its own ids.)"""
    from pysyscall.zerrors_linux import CLONE_NEWUSER

    # The parent may map any id it has rights over; the child only its own.
    outside = 65534 if field == "cloneflags" else os.geteuid()
    outside_gid = 65534 if field == "cloneflags" else os.getegid()
    sys_attr = SysProcAttr(
        **{field: CLONE_NEWUSER},
        uid_mappings=[SysProcIDMap(0, outside, 1)],
        gid_mappings=[SysProcIDMap(0, outside_gid, 1)],
        credential=Credential(0, 0, [], no_setgroups=True),
    )
    attr = ProcAttr(sys=sys_attr)
    plan = exec_unix.child_program("/bin/true", ["true"], attr)
    assert runner_vfork.unavailable(plan) is None
    assert not runner_vfork.shares_memory(plan) and runner_vfork.status_pipe(plan)
    assert runners.select(plan) is runner_vfork
    inside = output_of(["/bin/sh", "-c", "id -u; cat /proc/self/uid_map"], sys=sys_attr)
    assert inside.split() == [b"0", b"0", str(outside).encode(), b"1"]
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("/nonexistent/program", ["x"], attr)
    assert info.value.step == "execve"  # type: ignore[attr-defined]


def test_unknown_call_refused() -> None:
    plan = exec_unix.child_program("/bin/true", ["true"])
    plan.steps.insert(0, Step("malloc", "memmove", (0, 0, 0), "memmove()"))
    assert "calls memmove, not known to be safe" in str(runner_vfork.unavailable(plan))


# --- Concurrency ------------------------------------------------------------------------


def test_child_stack_has_headroom_below_an_unreadable_page(
    vfork: None, root: None, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    """The child's stack pointer starts STACK_HEADROOM below the top: glibc's
    syscall() reads an argument slot above its caller's frame. With the page
    above the stack made unreadable, a clone3 child (whose first stack
    pointer is the one given, with nothing pushed) that makes syscall()
    steps (the signal rule, a credential) still execs."""
    kernel_has("clone3")
    page = runner_vfork.PAGE_SIZE
    size = runner_vfork.STACK_SIZE + 2 * page
    base = libc.parent("mmap")(
        None, size, zerrors_linux.PROT_READ | zerrors_linux.PROT_WRITE,
        zerrors_linux.MAP_PRIVATE | zerrors_linux.MAP_ANONYMOUS, -1, 0,
    )  # fmt: skip
    assert base not in (None, zerrors_linux.MAP_FAILED)
    for guard in (base, base + size - page):  # below, and right above the top
        assert libc.parent("mprotect")(guard, page, zerrors_linux.PROT_NONE) == 0
    stack: Any = object.__new__(runner_vfork._Stack)  # its own mapping, same fields
    stack.base, stack.size, stack._munmap = base, size, libc.parent("munmap")
    stack.low, stack.top = base + page, base + size - page
    stack.start = stack.top - runner_vfork.STACK_HEADROOM
    monkeypatch.setattr(runner_vfork._stacks, "stack", stack, raising=False)
    attr = SysProcAttr(cloneflags=zerrors_linux.CLONE_NEWTIME, credential=Credential(0, 0, [0]))
    assert output_of(["/bin/echo", "ok"], sys=attr) == b"ok\n"


def test_per_thread_stacks_with_guard_pages(vfork: None) -> None:
    stacks: list[Any] = []  # kept alive here, so no two can be at one address

    def grab() -> None:
        stacks.append(runner_vfork._stack())
        assert runner_vfork._stack() is stacks[-1]  # one per thread, kept

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for t in threads:
        t.start()
        t.join()
    grab()
    assert len({stack.top for stack in stacks}) == 4
    mine = stacks[-1]
    maps = Path("/proc/self/maps").read_text().splitlines()
    guard = f"{mine.base:x}-{mine.low:x} ---p"
    assert any(line.startswith(guard) for line in maps), guard
    assert any(line.startswith(f"{mine.low:x}-{mine.top:x} rw-p") for line in maps)


def test_gil_released_while_the_child_runs(vfork: None, tmp_path: Path, no_leaks: None) -> None:
    """A child blocked before execve (opening a FIFO) holds up only its own thread."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    plan = exec_unix.child_program("/bin/true", ["true"])
    path = ctypes.create_string_buffer(os.fsencode(fifo))
    plan.keep.append(path)
    opened = Cell(-1)
    plan.keep.append(opened)
    plan.steps.insert(0, Step("open", "open", (ctypes.addressof(path), os.O_RDONLY | os.O_CLOEXEC),
                              "open(fifo)", store=opened))  # fmt: skip
    result: list[int] = []
    spawner = threading.Thread(target=lambda: result.append(run_plan(plan)[0]))
    spawner.start()
    counted = 0
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # Python runs here while the spawner waits
        counted += 1
    assert spawner.is_alive() and not result and counted > 1000
    writer = os.open(fifo, os.O_WRONLY | os.O_CLOEXEC)  # lets the child go on
    spawner.join(TIMEOUT)
    os.close(writer)
    assert result and pysyscall.wait4(result[0])[1].exit_status() == 0


def test_many_threads_spawning(vfork: None) -> None:
    """4 threads spawning at once and 2 busy in Python: 2,000 starts (a quarter of
    them failing), no hang, no leaked fd, no zombie, each thread its own stack.

    The GIL changes hands every 0.1 ms, not every 5: more interleavings, and
    a spawner that releases it (each C call) waits 0.1 ms for a busy
    thread to let go, not 5 (29 s for this test with the default).
    """
    fds_before = open_fds()
    switch_interval = sys.getswitchinterval()
    used: dict[int, set[int]] = {}
    lock = threading.Lock()
    original = runner_vfork._stack

    def watched() -> Any:
        stack = original()
        with lock:
            used.setdefault(stack.top, set()).add(threading.get_ident())
        return stack

    statuses: list[Any] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            sum(range(1000))

    def spawn(count: int) -> None:
        try:
            for i in range(count):
                if i % 4 == 3:
                    with contextlib.suppress(FileNotFoundError):
                        pysyscall.fork_exec("/bin/true", ["true"], ProcAttr(dir="/nonexistent"))
                        statuses.append("started")
                    continue
                pid = pysyscall.fork_exec("/bin/true", ["true"])
                statuses.append(pysyscall.wait4(pid)[1])
        except BaseException as error:
            errors.append(error)

    runner_vfork._stack = watched  # type: ignore[assignment]
    try:
        sys.setswitchinterval(0.0001)
        busy_threads = [threading.Thread(target=busy, daemon=True) for _ in range(2)]
        spawners = [threading.Thread(target=spawn, args=(500,), daemon=True) for _ in range(4)]
        for t in busy_threads + spawners:
            t.start()
        for t in spawners:
            t.join(120)
        hung = [t for t in spawners if t.is_alive()]
        stop.set()
        for t in busy_threads:
            t.join(10)
    finally:
        runner_vfork._stack = original  # type: ignore[assignment]
        sys.setswitchinterval(switch_interval)
    assert not hung and not errors, errors[:3]
    assert len(statuses) == 1500 and all(s == 0 for s in statuses)
    assert all(len(threads) == 1 for threads in used.values()), used
    assert len(used) == 4
    assert open_fds() == fds_before
    assert_no_children()


CLONE_FAILS = """
import os, resource, sys
sys.path.insert(0, sys.argv[1])
import pysyscall
from pysyscall import ProcAttr, SysProcAttr, zerrors_linux
import tempfile  # the routine's no-memfd fallback's, while this user can (/root may be 0700)
if os.geteuid() == 0:  # RLIMIT_NPROC does not hold root back
    os.setgid(65534); os.setgroups([]); os.setuid(65534)
resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
fds = os.listdir("/proc/self/fd")
attrs = [None]
if not pysyscall.linux.kernel_lacks("clone3"):
    attrs.append(ProcAttr(sys=SysProcAttr(cloneflags=zerrors_linux.CLONE_NEWTIME)))
for attr in attrs:
    try:
        pysyscall.fork_exec("/bin/true", ["true"], attr)
    except BlockingIOError as error:
        print(error, os.listdir("/proc/self/fd") == fds)
"""


def test_clone_failure_is_an_os_error() -> None:
    """clone and clone3 refused (RLIMIT_NPROC, as nobody): EAGAIN, named, nothing leaked."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", CLONE_FAILS, PACKAGE_PARENT],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=dict(os.environ, PYSYSCALL_RUNNER="vfork"),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    clone3 = not pysyscall.linux.kernel_lacks("clone3")  # else CLONE_NEWTIME fails before
    assert len(lines) == 1 + clone3, done.stdout
    assert linux.FORK is not None  # _Fork(), or before glibc 2.34 the clone system call
    assert f"fork through {linux.FORK.text}, as {vfork_clone()}) True" in lines[0]
    if clone3:
        assert "fork through syscall(SYS_clone3" in lines[1]
        assert lines[1].endswith(f"as {vfork_clone(clone3=True)}) True")
