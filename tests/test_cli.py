"""The command line, run as a user runs it: python -m pysyscall."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pysyscall import ProcAttr, libc, runner_spawn
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
    ],
)  # fmt: skip
def test_bad_options_are_usage_errors(args: list[str], message: str) -> None:
    """Exit status 2 with the usage line, as argparse's own errors; nothing run."""
    out = pysyscall(*args)
    assert (out.returncode, out.stdout) == (2, ""), out
    assert out.stderr.startswith(f"usage: pysyscall {args[0]} ")
    assert message in out.stderr


def test_plan_prints_the_steps(tmp_path: Path) -> None:
    out = pysyscall("plan", "--dir", str(tmp_path), "--setsid", "--", "ls", "-l")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert pysyscall_linux.FORK is not None
    assert lines[0].startswith(f"child program for linux (fork: {pysyscall_linux.FORK.text}")
    names = [line.split()[1] for line in lines[1:-1]]
    assert names[0] == "setsid" and names[-1] == "execve"
    assert "chdir" in names and "sigprocmask" in names
    assert f"chdir({str(tmp_path)!r})" in out.stdout
    assert lines[-1] == "on failure: errno and step number to the status pipe, then _exit(253)"


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
