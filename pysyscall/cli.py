"""The command line: ``python -m pysyscall run|plan|info``.

``run`` starts a program through fork_exec (with a shell's PATH search),
waits for it and exits with its status (128 + the signal if it was killed);
if the program cannot start it prints one line and exits 127 (not found) or
126 (found but could not run), as a shell does. ``plan`` prints the child's
program without running it. ``info`` prints what this build selected.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import signal
import sys
from collections.abc import Sequence

from . import exec_unix, runners
from ._platform import forkpipe, system


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pysyscall", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "run PROGRAM through fork_exec and exit with its status"),
        ("plan", "print the child's program for PROGRAM without running it"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--dir", help="the child's working directory")
        command.add_argument(
            "--env",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="set a variable in the child's environment (repeatable)",
        )
        command.add_argument("--setsid", action="store_true", help="start a new session")
        command.add_argument("--setpgid", action="store_true", help="start a new process group")
        command.add_argument("program", help="the program, searched in PATH unless it has a /")
        command.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    commands.add_parser("info", help="print the platform modules and runners selected")
    return parser


def _attr(options: argparse.Namespace) -> exec_unix.ProcAttr:
    env = dict(os.environ)
    for item in options.env:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"pysyscall: --env {item!r}: expected KEY=VALUE")
        env[key] = value
    sys_attr = system.SysProcAttr(setsid=options.setsid, setpgid=options.setpgid)
    return exec_unix.ProcAttr(dir=options.dir, env=env, sys=sys_attr)


def _ignore(signum: int, frame: object) -> None:
    """While the child runs, the terminal's SIGINT and SIGQUIT are the child's."""


def _run(options: argparse.Namespace, argv: list[str]) -> int:
    path = shutil.which(options.program) if "/" not in options.program else options.program
    if path is None:
        print(f"pysyscall: {options.program}: command not found", file=sys.stderr)
        return 127
    try:
        pid = exec_unix.fork_exec(path, argv, _attr(options))
    except OSError as error:
        print(f"pysyscall: {options.program}: {error}", file=sys.stderr)
        return 127 if error.errno == errno.ENOENT and error.filename == path else 126
    except (RuntimeError, ValueError) as error:  # no runner here; bad arguments
        print(f"pysyscall: {options.program}: {error}", file=sys.stderr)
        return 126
    previous = {s: signal.signal(s, _ignore) for s in (signal.SIGINT, signal.SIGQUIT)}
    try:
        _, status = exec_unix.wait4(pid)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if status.signaled():
        return 128 + status.signal()
    return status.exit_status()


def _plan(options: argparse.Namespace, argv: list[str]) -> int:
    path = shutil.which(options.program) if "/" not in options.program else options.program
    print(exec_unix.child_program(path or options.program, argv, _attr(options)))
    return 0


def _info() -> int:
    print(f"platform module: pysyscall.{system.__name__.rpartition('.')[2]} ({sys.platform})")
    kind = "pipe2, forks share the lock" if forkpipe.ATOMIC else "pipe + fcntl, forks serialized"
    print(f"fork pipe: pysyscall.{forkpipe.__name__.rpartition('.')[2]} ({kind})")
    fork = system.FORK.text if system.FORK else "none"
    print(f"fork: {fork}; failure exit: {system.EXIT}")
    for runner in runners.RUNNERS:
        reason = runner.unavailable()
        print(
            f"runner {runner.NAME}: {'available' if reason is None else 'unavailable: ' + reason}"
        )
    try:
        pick = runners.select().NAME
    except (RuntimeError, ValueError) as error:
        pick = f"none ({error})"
    print(f"PYSYSCALL_RUNNER={runners.requested()!r} picks: {pick}")
    return 0


def main(args: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    options = _parser().parse_args(args)
    if options.command == "info":
        return _info()
    argv = [options.program, *options.args]
    if options.command == "plan":
        return _plan(options, argv)
    return _run(options, argv)
