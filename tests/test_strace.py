"""The child's system calls, seen by strace, are exactly the plan's.

A small script (written to a temp dir, run under ``strace -f -ff``) plans
each case with ``pysyscall.exec_unix.child_program`` and then starts it with
``pysyscall.fork_exec``. From the parent's trace we learn which clone made
which child; from each child's own trace file we take every system call
from its first one to execve (success) or to exit_group (failure) and
compare it with the plan, call by call: the plan's libc functions mapped to
their system calls, preceded by what glibc's _Fork does in the child
(see fork_prologue) and, on failure, followed by the status record write and
exit_group(253). Any other call (mmap, brk, futex, rt_sigreturn, ...) fails
the test: it would mean the child ran something besides the plan.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import without_fallback

import pysyscall

PACKAGE_PARENT = str(Path(pysyscall.__file__).resolve().parent.parent)
MISSING = f"/nonexistent-pysyscall-{uuid.uuid4().hex[:8]}"

# libc function of a plan step -> the system call glibc makes for it.
SYSCALL_OF = {
    "sigaction": "rt_sigaction",
    "sigprocmask": "rt_sigprocmask",
    "dup3": "dup3",
    "dup2": "dup2",
    "fcntl": "fcntl",
    "chdir": "chdir",
    "close": "close",
    "setsid": "setsid",
    "setpgid": "setpgid",
    "execve": "execve",
    "close_range": "close_range",
    # The vfork routine's function (linux.mark_cloexec, on kernels before
    # 5.11): close_range first; where it fails, its fallback's calls follow
    # (without_fallback).
    "cloexec_range": "close_range",
}


def fork_prologue(fork: str, glibc: str) -> list[tuple[str, str]]:
    """What the fork call itself does in the child before returning 0.

    As (system call, how its line starts). The raw clone system call
    returns straight into the caller. glibc's _Fork (2.34+) re-registers
    the robust futex list; since 2.41 it also blocks all signals around the
    clone (its abort lock) and restores the caller's mask in the child:
    pysyscall has blocked every signal before forking, so that mask is
    "all blocked" (strace: ~[...]), and the signals stay blocked until the
    plan's own sigprocmask step.
    """
    if fork == "syscall":
        return []
    assert fork == "_Fork", fork
    name, _, version = glibc.partition(" ")
    assert name == "glibc", f"_Fork outside glibc ({glibc!r}): this test does not know it"
    calls = [("set_robust_list", "set_robust_list(")]
    if tuple(int(part) for part in version.split(".")[:2]) >= (2, 41):
        calls.append(("rt_sigprocmask", "rt_sigprocmask(SIG_SETMASK, ~["))
    return calls


SCRIPT = textwrap.dedent(
    r"""
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    import pysyscall
    from pysyscall import ProcAttr, SysProcAttr
    from pysyscall.exec_unix import child_program

    missing = sys.argv[3]
    r, w = os.pipe()
    cases = {
        "success": ("/bin/true", ["true"], None, None),
        "missing_dir": ("/bin/true", ["true"], ProcAttr(dir=missing), "chdir"),
        "missing_program": (missing + "/prog", ["prog"], None, "execve"),
        "shuffle_setsid": (
            "/bin/true",
            ["true", "shuffled"],
            ProcAttr(dir="/", files=[0, 1, None, w, 1], sys=SysProcAttr(setsid=True)),
            None,
        ),
        "fewer_files_setpgid": (
            "/bin/true",
            ["true"],
            ProcAttr(files=[1], sys=SysProcAttr(setpgid=True)),
            None,
        ),
    }
    report = {"parent": os.getpid(), "glibc": os.confstr("CS_GNU_LIBC_VERSION"), "cases": []}
    for name, (argv0, argv, attr, fails_at) in cases.items():
        plan = child_program(argv0, argv, attr)
        case = {
            "name": name,
            "fork": plan.fork.func,
            "first_free_fd": plan.first_free_fd,
            "exit": plan.exit,
            "steps": [
                {"name": s.name, "func": s.func, "args": list(s.args), "path": s.path,
                 "text": s.text}
                for s in plan.steps
            ],
            "plan": str(plan),
            "expect_failure_at": fails_at,
        }
        try:
            pid = pysyscall.fork_exec(argv0, argv, attr)
        except OSError as error:
            case["error"] = {"errno": error.errno, "step": getattr(error, "step", None),
                             "filename": error.filename, "message": str(error)}
        else:
            wpid, status = pysyscall.wait4(pid)
            case["pid"] = pid
            case["status"] = int(status)
        report["cases"].append(case)
    os.close(r)
    os.close(w)
    with open(sys.argv[2], "w") as f:
        json.dump(report, f)
    """
)

LINE = re.compile(r"^(?P<name>[a-z_0-9]+)\((?P<args>.*)\)\s+= (?P<result>.*)$")
CLONE = re.compile(r"^clone3?\((?P<args>.*)\)\s+= (?P<pid>\d+)$")


def strace_path() -> str:
    path = shutil.which("strace")
    if path is None:
        pytest.fail(
            "strace is not installed: these tests read the child's system calls with "
            "strace (apt-get install strace); CI installs it",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the script under strace once; return its report and the trace files."""
    strace = strace_path()
    work = tmp_path_factory.mktemp("strace")
    script = work / "cases.py"
    script.write_text(SCRIPT)
    report_path = work / "report.json"
    prefix = work / "trace"
    command = [
        strace, "-f", "-ff", "-q", "-s", "256", "-o", str(prefix), "--",
        sys.executable, "-I", "-S", str(script), PACKAGE_PARENT, str(report_path), MISSING,
    ]  # fmt: skip
    # The fork runner's child runs the plan call by call; posix_spawn's child
    # is the C library's (tests/test_spawn.py traces that one).
    env = dict(os.environ, PYSYSCALL_RUNNER="fork")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    if done.returncode != 0 or not report_path.exists():
        pytest.fail(
            f"strace run failed ({done.returncode}):\n{' '.join(command)}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}",
            pytrace=False,
        )
    report: dict[str, Any] = json.loads(report_path.read_text())
    traces = {
        int(p.name.rpartition(".")[2]): p.read_text().splitlines() for p in work.glob("trace.*")
    }
    # The parent's clones, in order: one per case, the child's pid as result.
    children = []
    for line in traces[report["parent"]]:
        m = CLONE.match(line)
        if m and "CLONE_THREAD" not in m["args"]:
            children.append(int(m["pid"]))
    assert len(children) == len(report["cases"]), (
        f"expected one fork per case, saw clones of {children}:\n"
        + "\n".join(line for line in traces[report["parent"]] if "clone" in line)
    )
    for case, pid in zip(report["cases"], children):
        case["child"] = pid
        case["trace"] = traces[pid]
    return report


def signal_text(signum: int) -> str:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        return ""
    return "" if name.startswith("SIGRT") else name


def as_libc_call(step: dict[str, Any]) -> dict[str, Any]:
    """A step made as a system call by number (close_range where glibc has no
    wrapper, before 2.34) as the libc call it stands for: strace shows the same."""
    if step["func"] == "syscall" and step["name"] in SYSCALL_OF:
        return dict(step, func=step["name"], args=step["args"][1:])
    return step


def expected_prefix(step: dict[str, Any]) -> str:
    """How strace starts the line of this step's system call."""
    func, args = step["func"], step["args"]
    if func == "sigaction":
        name = signal_text(args[0])
        return f"rt_sigaction({name}, {{sa_handler=SIG_DFL," if name else "rt_sigaction("
    if func == "sigprocmask":
        return "rt_sigprocmask(SIG_SETMASK, "
    if func == "fcntl":
        assert args[1:] == [2, 0], step  # F_SETFD, 0: the only fcntl a plan makes
        return f"fcntl({args[0]}, F_SETFD, 0)"
    if func == "dup3":
        flags = "O_CLOEXEC" if args[2] else "0"
        return f"dup3({args[0]}, {args[1]}, {flags})"
    if func == "close":
        return f"close({args[0]})"
    if func == "chdir":
        return f'chdir("{step["path"]}")'
    if func == "setsid":
        return "setsid()"
    if func == "setpgid":
        return f"setpgid({args[0]}, {args[1]})"
    if func == "execve":
        return f'execve("{step["path"]}", ['
    if func == "cloexec_range":
        return f"close_range({args[0]}, {args[1]}, CLOSE_RANGE_CLOEXEC)"
    if func == "close_range":
        flags = {0: "0", 4: "CLOSE_RANGE_CLOEXEC"}.get(args[2], "")
        return f"close_range({args[0]}, {args[1]}, {flags}"
    return f"{SYSCALL_OF[func]}("


def child_calls(trace: list[str]) -> tuple[list[str], str | None]:
    """The child's system calls up to execve = 0 or exit_group; and how it ended."""
    calls: list[str] = []
    for line in trace:
        if line.startswith("+++"):
            return calls, line
        calls.append(line)
        m = LINE.match(line)
        if m and m["name"] == "execve" and m["result"].strip() == "0":
            return calls, "execve succeeded"
    return calls, None


def show(case: dict[str, Any], calls: list[str]) -> str:
    return (
        f"case {case['name']}: child {case['child']}\nplan:\n{case['plan']}\n"
        f"child's calls up to execve/exit:\n  " + "\n  ".join(calls) + "\n"
        f"whole child trace ({len(case['trace'])} lines, first 60):\n  "
        + "\n  ".join(case["trace"][:60])
    )


CASES = ["success", "missing_dir", "missing_program", "shuffle_setsid", "fewer_files_setpgid"]


@pytest.mark.parametrize("name", CASES)
def test_child_makes_exactly_the_planned_calls(traced: dict[str, Any], name: str) -> None:
    case = next(c for c in traced["cases"] if c["name"] == name)
    calls, ending = child_calls(case["trace"])
    context = show(case, calls)
    calls = without_fallback(calls)
    steps = [as_libc_call(step) for step in case["steps"]]

    fails_at = case["expect_failure_at"]
    if fails_at is None:
        assert "error" not in case, context + f"\nunexpected error: {case.get('error')}"
        assert case["status"] == 0, context + f"\nwait status {case['status']:#x}"
        assert case["pid"] == case["child"], context
        run = steps
    else:
        # The plan's first step of that kind fails; the steps after it never run.
        index = next(i for i, s in enumerate(steps) if s["func"] == fails_at)
        error = case.get("error")
        assert error is not None, context + "\nthe start did not fail"
        assert error["step"] == steps[index]["name"], context + f"\n{error}"
        assert f"child step {index}," in error["message"], context + f"\n{error}"
        assert error["errno"] == 2 and error["filename"] == steps[index]["path"], error
        run = steps[: index + 1]

    unknown = {s["func"] for s in steps} - set(SYSCALL_OF)
    assert not unknown, f"plan steps this test cannot map to system calls: {unknown}"
    prologue = fork_prologue(case["fork"], traced["glibc"])
    expected = [name for name, _ in prologue] + [SYSCALL_OF[s["func"]] for s in run]
    if fails_at is not None:
        expected += ["write", "exit_group"]
    seen = [m["name"] if (m := LINE.match(c)) else f"<not a call: {c}>" for c in calls]
    print(f"\n{name} (child {case['child']}):\n  " + "\n  ".join(calls))
    assert seen == expected, context

    # Each call's arguments are the step's, and it succeeded unless it is the
    # failing one (close and sigaction results are ignored, but succeed here).
    for line, (_, start) in zip(calls, prologue):
        assert line.startswith(start), context + f"\nnot how {traced['glibc']}'s _Fork starts"
    offset = len(prologue)
    for i, step in enumerate(run):
        line = calls[offset + i]
        assert line.startswith(expected_prefix(step)), context + f"\nstep {i}: {step['text']}"
        result = LINE.match(line)["result"].strip()  # type: ignore[index]
        if fails_at is not None and i == len(run) - 1:
            assert result.startswith("-1 ENOENT"), context + f"\nstep {i}: {line}"
        elif step["func"] == "cloexec_range":
            pass  # close_range may fail here: then its fallback ran (left out above)
        else:
            assert not result.startswith("-1"), context + f"\nstep {i} failed: {line}"

    if fails_at is None:
        assert ending == "execve succeeded", context
    else:
        write, exit_group = (LINE.match(c) for c in calls[-2:])
        assert write and exit_group, context
        # write(fd, "record", 12) = 12: the whole failure record at once, to
        # the status pipe (at or above the fds the plan uses); the record
        # names the failing step and errno ENOENT.
        m = re.fullmatch(r'(\d+), "(.*)", 12', write["args"])
        assert m and write["result"].strip() == "12", context
        assert int(m[1]) >= case["first_free_fd"], context
        record = ast.literal_eval(f'b"{m[2]}"')
        magic, step, code = struct.unpack("=Iii", record)
        assert (magic, step, code) == (0x50595343, len(run) - 1, 2), context + f"\n{record!r}"
        assert exit_group["args"] == "253", context
        assert ending == "+++ exited with 253 +++", context
