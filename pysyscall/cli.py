"""The command line: ``python -m pysyscall run|plan|info|bench``.

``run`` starts a program through fork_exec (with a shell's PATH search),
waits for it and exits with its status (128 + the signal if it was killed);
if the program cannot start it prints one line and exits 127 (not found) or
126 (found but could not run), as a shell does. ``plan`` prints the child's
program without running it. ``info`` prints what this build selected, what
this machine lacks (one "lacks: X -> consequence" line each) and which runner
auto picks for a start, and why the others decline it.
``bench`` times starting a process against the stdlib's ways (bench.py).
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from typing import Any

from . import exec_unix, libc, runners
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
        if name == "run":
            command.add_argument(
                "--via-subprocess",
                action="store_true",
                help="start it with subprocess.Popen routed through pysyscall.compat",
            )
        command.add_argument("program", help="the program, searched in PATH unless it has a /")
        command.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    commands.add_parser("info", help="print the platform modules and runners selected")
    text = "time spawn + reap of /bin/true: pysyscall's runners against the stdlib's"
    bench = commands.add_parser("bench", help=text, description=text)
    bench.add_argument(
        "--rss",
        default="0",
        metavar="SIZE[,SIZE...]",
        help="parent sizes to measure at, allocated and touched first (0, 512M, 2G)",
    )
    bench.add_argument(
        "--threads", type=int, default=2, metavar="N", help="spawns/s with 1..N threads (0: none)"
    )
    bench.add_argument(
        "--spawns", type=int, default=200, metavar="N", help="rounds (starts per method)"
    )
    text = "reproduce each seed's bug with the old design, show pysyscall's fix holding"
    lab = commands.add_parser("lab", help=text, description=text)
    lab.add_argument("names", nargs="*", metavar="NAME", help="scenarios (default: all)")
    lab.add_argument("--rounds", type=int, metavar="N", help="rounds per arm (default: each's own)")
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


def _run_via_subprocess(options: argparse.Namespace, argv: list[str]) -> int:
    import subprocess

    from . import compat

    env = dict(_attr(options).env or {})
    previous = {s: signal.signal(s, _ignore) for s in (signal.SIGINT, signal.SIGQUIT)}
    try:
        group: dict[str, Any] = {"process_group": 0} if options.setpgid else {}
        with compat.installed():
            done: subprocess.CompletedProcess[bytes] = subprocess.run(
                argv, cwd=options.dir, env=env, start_new_session=options.setsid, **group
            )
    except OSError as error:
        print(f"pysyscall: {options.program}: {error}", file=sys.stderr)
        return 127 if error.errno == errno.ENOENT and error.filename == options.program else 126
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    code: int = done.returncode
    return 128 - code if code < 0 else code


def _run(options: argparse.Namespace, argv: list[str]) -> int:
    if getattr(options, "via_subprocess", False):
        return _run_via_subprocess(options, argv)
    path = shutil.which(options.program) if "/" not in options.program else options.program
    if path is None:
        print(f"pysyscall: {options.program}: command not found", file=sys.stderr)
        return 127
    # Ignored from before the start: a SIGINT sent to the child's group as soon
    # as the child runs (the vfork runner returns at its execve) must not stop
    # this process first. The child gets SIGINT and SIGQUIT at default (caught
    # signals are reset in the child).
    previous = {s: signal.signal(s, _ignore) for s in (signal.SIGINT, signal.SIGQUIT)}
    try:
        try:
            pid = exec_unix.fork_exec(path, argv, _attr(options))
        except OSError as error:
            print(f"pysyscall: {options.program}: {error}", file=sys.stderr)
            return 127 if error.errno == errno.ENOENT and error.filename == path else 126
        except (RuntimeError, ValueError) as error:  # no runner here; bad arguments
            print(f"pysyscall: {options.program}: {error}", file=sys.stderr)
            return 126
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


def lacks() -> list[tuple[str, str]]:
    """What this machine lacks that pysyscall could use, each with what it does instead."""
    return [(f"{libc.LIBRARY} {name}", then) for name, then in libc.lacking()]


# The start info shows auto's choice for: a working directory, as most
# starts have, and the sweep of the unlisted fds that every start has.
_SAMPLE = ("/bin/true", ["true"], "/")


def _info() -> int:
    print(f"platform module: pysyscall.{system.__name__.rpartition('.')[2]} ({sys.platform})")
    kind = "pipe2, forks share the lock" if forkpipe.ATOMIC else "pipe + fcntl, forks serialized"
    print(f"fork pipe: pysyscall.{forkpipe.__name__.rpartition('.')[2]} ({kind})")
    fork = system.FORK.text if system.FORK else "none"
    print(f"fork: {fork}; failure exit: {system.EXIT}")
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION") or "version unknown"
    except (ValueError, OSError):
        version = "not glibc"
    print(f"C library: {libc.LIBRARY} ({version})")
    for what, then in lacks():
        print(f"lacks: {what} -> {then}")
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
    path, argv, directory = _SAMPLE
    plan = exec_unix.child_program(path, argv, exec_unix.ProcAttr(dir=directory))
    print(f"a start of {path} in {directory}, runner by runner:")
    for runner in runners.RUNNERS:
        reason = runner.unavailable(plan)
        print(f"  {runner.NAME}: {'runs it' if reason is None else 'declines: ' + reason}")
    try:
        pick = runners.select(plan).NAME
    except (RuntimeError, ValueError) as error:
        pick = f"none ({error})"
    plan.close()
    print(f"  PYSYSCALL_RUNNER={runners.requested()!r} picks: {pick}")
    return 0


def _bench(options: argparse.Namespace) -> int:
    from . import bench

    try:
        sizes = [bench.parse_size(size) for size in options.rss.split(",")]
    except argparse.ArgumentTypeError as error:
        raise SystemExit(f"pysyscall bench: --rss: {error}") from None
    if options.spawns < 1 or options.threads < 0:
        raise SystemExit("pysyscall bench: --spawns must be >= 1 and --threads >= 0")
    command = (
        f"python -m pysyscall bench --rss {options.rss} --threads {options.threads} "
        f"--spawns {options.spawns}"
    )
    return bench.main(sizes, options.threads, options.spawns, command)


def main(args: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    options = _parser().parse_args(args)
    if options.command == "info":
        return _info()
    if options.command == "bench":
        return _bench(options)
    if options.command == "lab":
        from . import lab

        unknown = [name for name in options.names if name not in lab.SCENARIOS]
        if unknown:
            raise SystemExit(
                f"pysyscall lab: no scenario {unknown[0]!r}; have {', '.join(lab.SCENARIOS)}"
            )
        return lab.run(options.names, options.rounds)
    argv = [options.program, *options.args]
    if options.command == "plan":
        return _plan(options, argv)
    return _run(options, argv)
