"""Run as a parent (under a seccomp profile: tests/test_reach.py): start a child, print JSON.

Usage: python reach_start.py RUNNER MODE REPORT DIR [no-routine]

Before the start this process holds inheritable fds 5, 10 and 251 (and
1000 where the fd limit allows) that are not in the child's files: the
child must not get them. MODE ``view`` starts tests/child_view.py (setsid, a
working directory, an environment of its own), ``fds`` a child that lists
its open fds below its fd limit without /proc; ``pidfd`` and ``newtime``
ask for what an old kernel cannot do (a pidfd, a time namespace).
``no-routine``: as if the vfork routine could not be mapped here. SIGUSR1
is caught here and SIGUSR2 ignored: the child must get the one at default,
the other still ignored. Prints {"parent", "runner", "error", "errno",
"status", "steps", "clears_handlers", "SigIgn"} (in mode ``view``, this
process's ignored signals before the start).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from pathlib import Path

runner, mode, report, directory = sys.argv[1:5]
os.environ["PYSYSCALL_RUNNER"] = runner

import pysyscall  # noqa: E402
from pysyscall import exec_unix, runner_vfork, runners, zerrors_linux  # noqa: E402

if "no-routine" in sys.argv[5:]:
    runner_vfork._mapped[:] = ["no read+execute mapping here (reach_start.py no-routine)"]

signal.signal(signal.SIGUSR1, lambda *args: None)
signal.signal(signal.SIGUSR2, signal.SIG_IGN)

EXTRA = [5, 10, 251]
try:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 1001:
        EXTRA.append(1000)
except PermissionError:  # the no-prlimit64 profile
    pass
for target in EXTRA:
    fd = os.open("/dev/null", os.O_RDONLY)
    os.dup2(fd, target, inheritable=True)
    os.close(fd)

LIST_FDS = (
    "import os, resource, sys\n"
    "def is_open(fd):\n"
    "    try:\n"
    "        os.fstat(fd)\n"
    "    except OSError:\n"
    "        return False\n"
    "    return True\n"
    "top = resource.getrlimit(resource.RLIMIT_NOFILE)[0]\n"
    "fds = [fd for fd in range(top) if is_open(fd)]\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    f.write(repr(fds))\n"
)
CHILD_VIEW = str(Path(__file__).with_name("child_view.py"))

sys_attr = pysyscall.SysProcAttr(setsid=True)
if mode == "pidfd":
    sys_attr.pidfd = True
elif mode == "newtime":
    sys_attr.cloneflags = zerrors_linux.CLONE_NEWTIME
if mode == "fds":
    argv = [sys.executable, "-I", "-S", "-c", LIST_FDS, report]
else:
    argv = [sys.executable, "-I", "-S", CHILD_VIEW, report]
attr = pysyscall.ProcAttr(
    dir=directory, env={"REACH": "1", "LC_ALL": "C.UTF-8"}, files=[0, 1, 2], sys=sys_attr
)
ignored = None  # this process's ignored signals, for the child view's to compare
if mode == "view":
    with open("/proc/self/status") as status:
        ignored = next(line.split()[1] for line in status if line.startswith("SigIgn:"))
result: dict[str, object] = {
    "parent": os.getpid(), "runner": None, "error": None, "SigIgn": ignored
}  # fmt: skip
try:
    plan = exec_unix.child_program(sys.executable, argv, attr)
    result["steps"] = [step.text for step in plan.steps]
    result["runner"] = runners.select(plan).NAME
    vfork = result["runner"] == "vfork"
    result["clears_handlers"] = vfork and runner_vfork.clears_handlers(plan)
    pid = pysyscall.fork_exec(sys.executable, argv, attr)
except (OSError, RuntimeError) as error:
    result["error"] = f"{type(error).__name__}: {error}"
    result["errno"] = getattr(error, "errno", None)
else:
    _, status = pysyscall.wait4(pid)
    result["status"] = status.exit_status() if status.exited() else -1
print(json.dumps(result))
