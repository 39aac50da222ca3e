# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The command line: ``python -m pysyscall run|plan|info|bench|lab``.

``run`` starts a program through fork_exec (found in PATH by look_path),
waits for it and exits with its status (128 + the signal if it was killed);
if the program cannot start it prints one line and exits 127 (not found) or
126 (found but could not run), as a shell does. ``plan`` prints, without
running it, the program of the runner that would run it (auto's pick, or
``--runner NAME``), read from what that runner makes of the plan. ``info``
prints what this build selected, what this machine lacks (one "lacks: X ->
consequence" line each) and which runner auto picks for a start, and why the
others decline it.
``bench`` times starting a process against the stdlib's ways (bench.py).
``lab`` reproduces the Go bugs whose fixes pysyscall ports (lab.py).
Bad options are usage errors (exit status 2), as argparse's own are.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, Callable

from . import exec_unix, libc, lp_unix, runners
from ._platform import GOOS, forkpipe, system

DESCRIPTION = (
    "Start programs as Go's syscall.ForkExec does, from Python: run one, print the "
    "child's program, show what this machine selected, time it, or reproduce the Go "
    "bugs the design avoids (run, plan, info, bench, lab)."
)


def _at_least(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number, ``least`` or more (else a usage error)."""

    def number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, not {value}")
        return value

    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pysyscall", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in (
        ("run", "run PROGRAM through fork_exec and exit with its status"),
        ("plan", "print the program the runner would run for PROGRAM, without running it"),
    ):
        usage = "%(prog)s [options] [--] PROGRAM [ARG ...]"
        command = commands.add_parser(name, help=text, description=text, usage=usage)
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
        if name == "plan":
            command.add_argument(
                "--runner",
                choices=["auto", *(runner.NAME for runner in runners.RUNNERS)],
                help="the runner whose program to print (default: PYSYSCALL_RUNNER, else auto)",
            )
        if name == "run":
            command.add_argument(
                "--via-subprocess",
                action="store_true",
                help="start it with subprocess.Popen routed through pysyscall.compat",
            )
        # Optional to argparse, so that a missing program gets a plain message.
        command.add_argument(
            "program",
            nargs="?",
            metavar="PROGRAM",
            help="the program, searched in PATH unless it has a /",
        )
        command.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG", help="its arguments")
        command.set_defaults(usage_error=command.error)
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
        "--threads",
        type=_at_least(0),
        default=2,
        metavar="N",
        help="spawns/s with 1..N threads (0: none)",
    )
    bench.add_argument(
        "--spawns", type=_at_least(1), default=200, metavar="N", help="rounds (starts per method)"
    )
    bench.set_defaults(usage_error=bench.error)
    text = "reproduce the Go bugs with the old design, show pysyscall's fix holding"
    lab = commands.add_parser("lab", help=text, description=text)
    lab.add_argument("names", nargs="*", metavar="NAME", help="scenarios (default: all)")
    lab.add_argument(
        "--rounds", type=_at_least(1), metavar="N", help="rounds per arm (default: each's own)"
    )
    lab.set_defaults(usage_error=lab.error)
    return parser


def _check_run_options(options: argparse.Namespace) -> None:
    """The usage errors argparse cannot see: no program, an --env without "="."""
    if options.program is None:
        options.usage_error(
            f"name the program to {options.command}, e.g. 'pysyscall {options.command} -- ls -l'"
        )
    for item in options.env:
        if "=" not in item:
            options.usage_error(f"argument --env: expected KEY=VALUE, not {item!r}")


def _environment(options: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(item.split("=", 1) for item in options.env)
    return env


def _attr(options: argparse.Namespace) -> exec_unix.ProcAttr:
    env = _environment(options)
    sys_attr = system.SysProcAttr(setsid=options.setsid, setpgid=options.setpgid)
    return exec_unix.ProcAttr(dir=options.dir, env=env, sys=sys_attr)


def _ignore(signum: int, frame: object) -> None:
    """While the child runs, the terminal's SIGINT and SIGQUIT are the child's."""


def _run_via_subprocess(options: argparse.Namespace, argv: list[str]) -> int:
    import subprocess

    from . import compat

    env = _environment(options)
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
    try:
        path = _program(options.program)
    except OSError as error:  # not found; found only through a relative PATH entry
        print(f"pysyscall: {error}", file=sys.stderr)
        return 127 if isinstance(error, FileNotFoundError) else 126
    # Ignored from before the start: a SIGINT sent to the child's group as soon
    # as the child runs (the vfork runner returns at its execve) must not stop
    # this process first. The child gets SIGINT and SIGQUIT at default (caught
    # signals are reset in the child).
    previous = {s: signal.signal(s, _ignore) for s in (signal.SIGINT, signal.SIGQUIT)}
    try:
        try:
            pid = exec_unix.fork_exec(path, argv, _attr(options))
        except OSError as error:
            print(f"pysyscall plan: {error}", file=sys.stderr)
            return 127 if error.errno == errno.ENOENT and error.filename == path else 126
        except (RuntimeError, ValueError) as error:  # no runner here; bad arguments
            print(f"pysyscall plan: {error}", file=sys.stderr)
            return 126
        _, status = exec_unix.wait4(pid)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if status.signaled():
        return 128 + status.signal()
    return status.exit_status()


def _program(name: str) -> str:
    """The file to run for ``name``: searched in PATH only if it has no slash.

    As Go's exec.Command: a path is left for fork_exec to try (and to report).
    """
    return name if "/" in name else lp_unix.look_path(name)


def _plan(options: argparse.Namespace, argv: list[str]) -> int:
    """Print the program of the runner that would run the start: auto's pick, or the named one."""
    try:
        path = _program(options.program)
    except OSError:
        path = options.program  # the plan shows what fork_exec would be given
    plan = exec_unix.child_program(path, argv, _attr(options))
    previous = runners.override
    if options.runner is not None:
        runners.override = options.runner
    try:
        requested = runners.requested()
        try:
            runner = runners.select(plan)
        except (RuntimeError, ValueError) as error:  # no runner for it; a bad PYSYSCALL_RUNNER
            print(f"pysyscall plan: {error}", file=sys.stderr)
            return 1
        if requested == "auto":
            declined = [
                f"{earlier.NAME} declines: {earlier.unavailable(plan)}"
                for earlier in runners.RUNNERS[: runners.RUNNERS.index(runner)]
            ]
            why = "auto: " + ("; ".join(declined) or "its first choice")
        elif options.runner is not None:
            why = f"--runner {requested}"
        else:
            why = f"PYSYSCALL_RUNNER={requested}"
        print(f"runner {runner.NAME} ({why})")
        for line in runner.describe(plan):
            print(line)
    finally:
        runners.override = previous
    return 0


def lacks() -> list[tuple[str, str]]:
    """What this machine lacks that pysyscall could use, each with what it does instead."""
    return [(f"{libc.LIBRARY} {name}", then) for name, then in libc.lacking()]


# The start info shows auto's choice for: a working directory, as most
# starts have, and the sweep of the unlisted fds that every start has.
_SAMPLE = ("/bin/true", ["true"], "/")


def _info() -> int:
    print(f"platform module: pysyscall.{system.__name__.rpartition('.')[2]} ({GOOS})")
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
    if GOOS == "linux":
        for line in _kernel_lines():
            print(line)
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
    print(f"  PYSYSCALL_RUNNER={runners.requested()!r} picks: {pick}")
    return 0


# What pysyscall does where the kernel lacks (or a seccomp profile refuses)
# each feature linux.kernel_lacks probes.
_WITHOUT = {
    "close_range": "the fd sweep falls back (see CLOSE_RANGE_CLOEXEC)",
    "close_range_cloexec": "the child's fd sweep is the vfork routine's cloexec_range "
    "(/proc/self/fd, else every fd below RLIMIT_NOFILE; the fork runner's fcntl sweep "
    "where the routine cannot be mapped; glibc's closefrom for posix_spawn)",
    "clone3": "use_cgroup_fd and CLONE_NEWTIME raise an error naming clone3",
    "clone_clear_sighand": "the vfork child resets each signal's handler itself "
    "(one or two rt_sigaction per signal)",
    "pidfd": "SysProcAttr.pidfd raises an error naming pidfds",
    "memfd": "the vfork routine is mapped from an unlinked temporary file",
}


def _kernel_lines() -> list[str]:
    from . import linux

    lines = []
    for feature, what in linux.KERNEL_FEATURES.items():
        code = linux.kernel_lacks(feature)
        if code:
            name = errno.errorcode.get(code, str(code))
            lines.append(f"kernel lacks {what} ({name}): {_WITHOUT[feature]}")
    if linux.kernel_lacks("clone3") not in (0, errno.ENOSYS):
        lines.append(
            "  and auto passes over the spawn runner (glibc falls back to clone only on ENOSYS)"
        )
    if not lines:
        lines.append("kernel: has " + ", ".join(linux.KERNEL_FEATURES))
    return lines


def _bench(options: argparse.Namespace) -> int:
    from . import bench

    try:
        sizes = [bench.parse_size(size) for size in options.rss.split(",")]
    except argparse.ArgumentTypeError as error:
        options.usage_error(f"argument --rss: {error}")
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
            options.usage_error(f"no scenario {unknown[0]!r}; have {', '.join(lab.SCENARIOS)}")
        return lab.run(options.names, options.rounds)
    _check_run_options(options)
    argv = [options.program, *options.args]
    if options.command == "plan":
        return _plan(options, argv)
    return _run(options, argv)
