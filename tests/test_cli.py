"""The command line, run as a user runs it: python -m pysyscall."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pysyscall import (
    ProcAttr,
    SysProcAttr,
    cli,
    exec_unix,
    libc,
    runner_spawn,
    runner_vfork,
    runners,
    runtime,
    zerrors_linux,
)
from pysyscall import linux as pysyscall_linux
from pysyscall.exec_unix import child_program


def pysyscall(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysyscall", *args],
        capture_output=True,
        text=True,
        timeout=60,
        **kw,  # type: ignore[call-overload]
    )


def test_run_forwards_output_and_status() -> None:
    out = pysyscall("run", "--", "echo", "hello", "world")
    assert (out.returncode, out.stdout) == (0, "hello world\n")
    assert pysyscall("run", "--", "sh", "-c", "exit 42").returncode == 42


def test_run_killed_child() -> None:
    assert pysyscall("run", "--", "sh", "-c", "kill -KILL $$").returncode == 128 + 9


def test_run_options(tmp_path: Path) -> None:
    out = pysyscall(
        "run", "--dir", str(tmp_path), "--env", "PYSYSCALL_X=1", "--setsid", "--",
        "sh", "-c", 'pwd; echo "$PYSYSCALL_X"; ps -o sid= -p $$; echo $$',
    )  # fmt: skip
    cwd, x, sid, pid = out.stdout.split()
    assert (cwd, x) == (str(tmp_path), "1")
    assert sid == pid


def test_run_setpgid() -> None:
    out = pysyscall("run", "--setpgid", "--", "sh", "-c", "ps -o pgid= -p $$; echo $$")
    pgid, pid = out.stdout.split()
    assert pgid == pid


def test_run_not_found() -> None:
    out = pysyscall("run", "--", "no-such-command-anywhere")
    assert out.returncode == 127
    assert out.stderr == (
        'pysyscall: exec: "no-such-command-anywhere": executable file not found in $PATH\n'
    )
    out = pysyscall("run", "--", "/no/such/path")
    assert out.returncode == 127
    assert "No such file or directory (child step" in out.stderr


def test_run_cannot_execute(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("not a program")
    out = pysyscall("run", "--", str(data))
    assert out.returncode == 126
    assert "Permission denied" in out.stderr and "execve" in out.stderr
    out = pysyscall("run", "--dir", str(tmp_path / "missing"), "--", "true")
    assert out.returncode == 126
    assert "chdir" in out.stderr and str(tmp_path / "missing") in out.stderr
    assert out.stderr.count("\n") == 1


def test_top_level_help() -> None:
    out = pysyscall("--help")
    assert out.returncode == 0
    assert "``" not in out.stdout and ":func:" not in out.stdout  # no reST markup
    for command in ("run", "plan", "info", "bench", "lab"):
        assert f"\n    {command} " in out.stdout, command  # each listed, with its help


@pytest.mark.parametrize("command", ["run", "plan"])
def test_run_without_a_program(command: str) -> None:
    for args in ([command], [command, "--setsid"], [command, "--"]):
        out = pysyscall(*args)
        assert out.returncode == 2, out
        assert out.stderr.startswith(f"usage: pysyscall {command} [options] [--] PROGRAM [ARG ...]")
        assert out.stderr.endswith(
            f"pysyscall {command}: error: name the program to {command}, "
            f"e.g. 'pysyscall {command} -- ls -l'\n"
        )
        assert "required" not in out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--env", "NOEQUALS", "--", "true"],
         "pysyscall run: error: argument --env: expected KEY=VALUE, not 'NOEQUALS'"),
        (["plan", "--env", "A=1", "--env", "B", "--", "true"],
         "pysyscall plan: error: argument --env: expected KEY=VALUE, not 'B'"),
        (["bench", "--spawns", "0"],
         "pysyscall bench: error: argument --spawns: must be at least 1, not 0"),
        (["bench", "--spawns", "many"],
         "pysyscall bench: error: argument --spawns: not a whole number: 'many'"),
        (["bench", "--threads", "-1"],
         "pysyscall bench: error: argument --threads: must be at least 0, not -1"),
        (["bench", "--rss", "lots"], "pysyscall bench: error: argument --rss: not a size"),
        (["lab", "--rounds", "0"],
         "pysyscall lab: error: argument --rounds: must be at least 1, not 0"),
        (["lab", "--rounds", "-3"],
         "pysyscall lab: error: argument --rounds: must be at least 1, not -3"),
        (["lab", "no-such-scenario"], "pysyscall lab: error: no scenario 'no-such-scenario'"),
        (["plan", "--runner", "bogus", "--", "true"],
         "pysyscall plan: error: argument --runner: invalid choice: 'bogus'"),
    ],
)  # fmt: skip
def test_bad_options_are_usage_errors(args: list[str], message: str) -> None:
    """Exit status 2 with the usage line, as argparse's own errors; nothing run."""
    out = pysyscall(*args)
    assert (out.returncode, out.stdout) == (2, ""), out
    assert out.stderr.startswith(f"usage: pysyscall {args[0]} ")
    assert message in out.stderr


AUTO = {k: v for k, v in os.environ.items() if k != "PYSYSCALL_RUNNER"}


def need_vfork_runner() -> None:
    reason = runner_vfork.unavailable()
    if reason is not None:
        pytest.skip(f"the vfork runner is unavailable here: {reason}")


def test_plan_prints_vfork_clone_by_default(tmp_path: Path) -> None:
    """auto picks the vfork routine on x86-64 Linux: plan prints its clone and table."""
    need_vfork_runner()
    out = pysyscall("plan", "--dir", str(tmp_path), "--setsid", "--", "ls", "-l", env=AUTO)
    assert (out.returncode, out.stderr) == (0, ""), out
    lines = out.stdout.splitlines()
    assert lines[0] == "runner vfork (auto: its first choice)"
    if pysyscall_linux.kernel_lacks("clone_clear_sighand"):  # the routine resets each handler
        assert lines[1].startswith("clone(vfork_child, ")
        assert ", CLONE_VM|CLONE_VFORK|SIGCHLD, &table, 0)" in lines[1]
        reset = ": rt_sigaction(sig, SIG_DFL, &old) "
    else:  # the kernel does; the routine, Python's own two ignores
        assert lines[1].startswith(
            "clone3({flags=CLONE_VM|CLONE_VFORK|CLONE_CLEAR_SIGHAND, exit_signal=SIGCHLD, "
        )
        assert lines.pop(2).startswith("  CLONE_CLEAR_SIGHAND: the kernel sets every caught ")
        reset = "for each signal SIGPIPE, SIGXFSZ: rt_sigaction(sig, SIG_DFL) "
    assert lines[2].endswith("no status pipe")
    assert lines[3].startswith("the routine walks a table of ")
    assert lines[4] == "   0  setsid()  [fails on -1]"
    assert "the signal rule, " in lines[5] and reset in lines[5], lines[5]
    assert f"  chdir({str(tmp_path)!r})  [fails on -1]" in out.stdout
    assert lines[-2].endswith("  [fails on -1]") and " execve(" in lines[-2]
    assert lines[-1].startswith("on failure: errno and the step number into the plan's record")
    assert "_Fork" not in out.stdout and "status pipe at" not in out.stdout


def test_plan_fork_runner(tmp_path: Path) -> None:
    """--runner fork: the fork step, the status pipe and the plan's steps."""
    out = pysyscall("plan", "--runner", "fork", "--dir", str(tmp_path), "--setsid", "--", "ls")
    assert out.returncode == 0, out
    lines = out.stdout.splitlines()
    assert lines[0] == "runner fork (--runner fork)"
    assert pysyscall_linux.FORK is not None
    assert lines[1].startswith(f"child program for linux (fork: {pysyscall_linux.FORK.text}, ")
    assert "status pipe at fd >= " in lines[1]
    assert lines[2].startswith("the parent closes the status pipe's write end")
    names = [line.split()[1] for line in lines[3:-1]]
    assert names[0] == "setsid" and names[-1] == "execve"
    assert "chdir" in names and "sigprocmask" in names and "sigaction" in names
    assert f"chdir({str(tmp_path)!r})" in out.stdout
    assert lines[-1] == "on failure: errno and step number to the status pipe, then _exit(253)"


def test_plan_spawn_runner(tmp_path: Path) -> None:
    """--runner spawn: posix_spawn's attributes, its file actions in order, the call."""
    plan = child_program("/bin/true", ["true"], ProcAttr(dir=str(tmp_path)))
    reason = runner_spawn.unavailable(plan)
    if reason is not None:
        pytest.skip(f"the spawn runner declines the plan here: {reason}")
    out = pysyscall("plan", "--runner", "spawn", "--dir", str(tmp_path), "--", "/bin/true")
    assert out.returncode == 0, out
    lines = out.stdout.splitlines()
    assert lines[0] == "runner spawn (--runner spawn)"
    assert lines[1].startswith("posix_spawn, flags ") and "SETSIGMASK" in lines[1]
    actions = lines[lines.index("  file actions, in order (5):") + 1 :][:5]
    assert [a.split("(")[0].strip() for a in actions] == [
        "addchdir_np", "adddup2", "adddup2", "adddup2", "addclosefrom_np",
    ]  # fmt: skip
    assert actions[0].startswith(f"    addchdir_np({str(tmp_path)!r})  # step ")
    assert actions[1].endswith(", fcntl(0, F_SETFD, 0)")
    assert lines[-3].startswith("  posix_spawn(&pid, '/bin/true', &file_actions, &attr, argv")
    assert lines[-1].startswith("on failure: posix_spawn returns the errno")


def test_plan_follows_pysyscall_runner() -> None:
    """PYSYSCALL_RUNNER picks the runner plan shows; --runner (auto too) overrides it."""
    out = pysyscall("plan", "--", "true", env={**AUTO, "PYSYSCALL_RUNNER": "fork"})
    assert out.returncode == 0, out
    assert out.stdout.startswith("runner fork (PYSYSCALL_RUNNER=fork)\nchild program for ")
    need_vfork_runner()
    out = pysyscall("plan", "--runner", "auto", "--", "true",
                    env={**AUTO, "PYSYSCALL_RUNNER": "fork"})  # fmt: skip
    assert out.stdout.startswith("runner vfork (auto: its first choice)\nclone")
    out = pysyscall("plan", "--", "true", env={**AUTO, "PYSYSCALL_RUNNER": "nope"})
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr.startswith("pysyscall plan: PYSYSCALL_RUNNER='nope': the runners are ")


def test_plan_says_why_auto_passed_runners_over(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PYSYSCALL_RUNNER", raising=False)
    monkeypatch.setattr(runner_vfork, "unavailable", lambda plan=None: "no routine, say")
    monkeypatch.setattr(runner_spawn, "unavailable", lambda plan=None: "no posix_spawn, say")
    assert cli.main(["plan", "--", "/bin/true"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "runner fork (auto: vfork declines: no routine, say; spawn declines: no posix_spawn, "
        "say)\nchild program for linux (fork: "
    )
    assert runners.override is None


def test_plan_prints_the_vfork_table_a_start_walks(
    monkeypatch: pytest.MonkeyPatch, handlers_cleared: bool
) -> None:
    """The vfork steps plan prints are the entries of the table a start of that
    plan walks: the same calls, in the same order, judged as printed."""
    need_vfork_runner()
    if not libc.has("close_range"):
        # Its reading of the table takes syscall() entries for the signal
        # rule's; the by-number close_range of glibc < 2.34 is one too.
        pytest.skip("not yet for glibc before 2.34 (close_range made through syscall())")
    from pysyscall import asm_linux_amd64 as asm

    attr = ProcAttr(dir="/", sys=SysProcAttr(setsid=True, pdeathsig=signal.SIGKILL))
    plan = child_program("/bin/true", ["true"], attr)
    lines = runner_vfork.describe(plan)
    described = plan.prepared["vfork"].words
    monkeypatch.setenv("PYSYSCALL_RUNNER", "vfork")
    pid, _ = exec_unix._guarded(exec_unix._start, plan)
    assert os.waitpid(pid, 0)[1] == 0
    walked = plan.prepared["vfork"].words
    assert walked is described  # the start used the very table plan printed
    words = list(walked)
    width = asm.ENTRY_SIZE // 8
    rows = [words[i : i + width] for i in range(asm.HEADER_SIZE // 8, len(words), width)]
    address = {
        name: ctypes.cast(libc.parent(name), ctypes.c_void_p).value
        for name in {"syscall", "memcmp", *(s.func for s in plan.steps),
                     *(s.otherwise.func for s in plan.steps if s.otherwise)}
    }  # fmt: skip
    rule_calls = (address["syscall"], address["memcmp"])
    # What the table holds, in its order: the signal rule's run of entries as
    # one (its step number, its length), every other entry as its step's call.
    expected: list[tuple[int, str]] = []
    rule = 0
    for k, row in enumerate(rows):
        index = row[10]
        if row[0] in rule_calls and plan.steps[index].func != "syscall":
            rule += 1
            if k + 1 == len(rows) or rows[k + 1][0] not in rule_calls:
                expected.append((index, f"the signal rule, {rule} entries"))
            continue
        step = plan.steps[index]
        call = step.otherwise if k and rows[k - 1][7] & asm.F_OTHERWISE else step
        assert call is not None and row[0] == address[call.func], (k, call)
        flags = {asm.F_FAIL: "[fails on -1", asm.F_OTHERWISE: "[unless it returns",
                 asm.F_STORE | asm.F_FAIL: "[result kept"}[row[7] & ~asm.F_LOAD0]  # fmt: skip
        prefix = "" if call is step else "otherwise: "
        expected.append((index, f"{prefix}{call.text}  {flags}"))
    printed = [line for line in lines if line[:4].strip().isdigit()]
    assert len(printed) == len(expected)
    for line, (index, text) in zip(printed, expected):
        assert int(line[:4]) == index and line[6:].startswith(text), (line, text)
    # Three entries for each settable signal, one for those the rule resets
    # whatever they were; after CLONE_CLEAR_SIGHAND, only those.
    settable = [s for s in runtime.ASKABLE if s not in (signal.SIGKILL, signal.SIGSTOP)]
    if handlers_cleared:
        assert rule == len(runtime.IGNORED_BY_PYTHON)
    else:
        assert rule == 3 * len(settable) - 2 * len(runtime.IGNORED_BY_PYTHON)


def test_info() -> None:
    auto = {k: v for k, v in os.environ.items() if k != "PYSYSCALL_RUNNER"}
    out = pysyscall("info", env=auto)
    assert out.returncode == 0
    assert "platform module: pysyscall.linux (linux)" in out.stdout
    assert "fork pipe: pysyscall.forkpipe2" in out.stdout
    assert pysyscall_linux.FORK is not None
    assert f"fork: {pysyscall_linux.FORK.text}; failure exit: _exit" in out.stdout
    assert "runner fork: available" in out.stdout
    assert "runner spawn: available" in out.stdout
    assert "runner vfork: available" in out.stdout
    assert "PYSYSCALL_RUNNER='auto' picks: vfork" in out.stdout
    # What this C library lacks, one line each, and what the runners make of a start.
    lacking = [line for line in out.stdout.splitlines() if line.startswith("lacks: ")]
    assert lacking == [f"lacks: libc.so.6 {name} -> {then}" for name, then in libc.lacking()]
    assert "a start of /bin/true in /, runner by runner:\n  vfork: runs it\n" in out.stdout
    spawn = runner_spawn.unavailable(child_program("/bin/true", ["true"], ProcAttr(dir="/")))
    (spawn_line,) = [line for line in out.stdout.splitlines() if line.startswith("  spawn: ")]
    if spawn is None:
        assert spawn_line == "  spawn: runs it"
    else:  # the step's number depends on the signals the process catches
        assert spawn_line.startswith("  spawn: declines: step ")
        assert spawn_line.endswith(spawn.rpartition("): ")[2])
    assert "  fork: runs it\n  PYSYSCALL_RUNNER='auto' picks: vfork\n" in out.stdout


def test_ctrl_c_goes_to_the_child() -> None:
    """SIGINT to the CLI while a child runs: the CLI waits, the child decides."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pysyscall", "run", "--", "sh", "-c",
         "trap 'echo child got INT; exit 3' INT; echo ready; while :; do sleep 0.05; done"],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    with proc.stdout:
        assert proc.stdout.readline() == "ready\n"
        os.killpg(proc.pid, 2)
        assert proc.wait(timeout=30) == 3
        assert proc.stdout.read() == "child got INT\n"


@pytest.mark.parametrize("args", [[], ["run"], ["frobnicate"]])
def test_usage_errors(args: list[str]) -> None:
    out = pysyscall(*args)
    assert out.returncode == 2 and "usage:" in out.stderr


@pytest.mark.parametrize(
    ("sys_attr", "clone", "clone3", "failure"),
    [
        (SysProcAttr(pidfd=True),
         ", CLONE_VM|CLONE_VFORK|CLONE_PIDFD|SIGCHLD, &table, &pidfd)",
         "clone3({flags=CLONE_VM|CLONE_VFORK|CLONE_CLEAR_SIGHAND|CLONE_PIDFD, pidfd=&pidfd, "
         "exit_signal=SIGCHLD, stack=", "the plan's record"),
        (SysProcAttr(cloneflags=zerrors_linux.CLONE_NEWUSER),
         ", CLONE_NEWUSER|SIGCHLD, &table, 0)",
         "clone3({flags=CLONE_CLEAR_SIGHAND|CLONE_NEWUSER, exit_signal=SIGCHLD, stack=",
         "the status pipe"),
        (SysProcAttr(cloneflags=zerrors_linux.CLONE_NEWTIME),
         "clone3({flags=CLONE_VM|CLONE_VFORK|CLONE_NEWTIME, exit_signal=SIGCHLD, ",
         "clone3({flags=CLONE_VM|CLONE_VFORK|CLONE_CLEAR_SIGHAND|CLONE_NEWTIME, "
         "exit_signal=SIGCHLD, stack=", "the plan's record"),
    ],
)  # fmt: skip
def test_plan_prints_the_vfork_clone_a_start_makes(
    sys_attr: SysProcAttr, clone: str, clone3: str, failure: str, handlers_cleared: bool
) -> None:
    """The clone flags as _clone passes them: CLONE_VM|CLONE_VFORK unless the plan
    makes a user namespace (then the status pipe reports), clone3 where needed,
    or to have the kernel reset the caught handlers (CLONE_CLEAR_SIGHAND)."""
    need_vfork_runner()
    try:
        plan = child_program("/bin/true", ["true"], ProcAttr(sys=sys_attr))
    except OSError as error:  # no pidfds, no clone3: the kernel refuses
        pytest.skip(f"this kernel refuses the request: {error}")
    assert runner_vfork.unavailable(plan) is None
    lines = runner_vfork.describe(plan)
    assert (clone3 if handlers_cleared else clone) in lines[0], lines[0]
    if handlers_cleared:
        assert lines.pop(1).startswith("  CLONE_CLEAR_SIGHAND: the kernel sets every caught ")
    vfork = runner_vfork.shares_memory(plan)
    assert lines[1].endswith("no status pipe") == vfork
    assert ("without CLONE_VM|CLONE_VFORK" in lines[1]) == (not vfork)
    assert lines[-1].startswith(f"on failure: errno and the step number into {failure}")
