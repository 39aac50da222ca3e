"""pysyscall: Go's Unix fork/exec layer (syscall.ForkExec and friends), in Python.

Start a process the way Go does: ``pysyscall.fork_exec(argv0, argv, attr)``.
The child runs no Python code between fork and execve; see plan.py for the
child's program and runner_fork.py for how it runs.
"""

from __future__ import annotations

import sys as _sys

from ._platform import system as _system
from .exec_unix import (
    ProcAttr,
    WaitStatus,
    exec,
    fork_exec,
    fork_lock,
    start_process,
    wait4,
)
from .lp_unix import ErrDot, look_path
from .plan import Credential
from .rwmutex import RWMutex

SysProcAttr = _system.SysProcAttr
if _sys.platform == "linux":  # Go has SysProcIDMap on Linux only
    from .linux import SysProcIDMap

__version__ = "0.1.0"

__all__ = [
    "Credential",
    "ErrDot",
    "ProcAttr",
    "RWMutex",
    "SysProcAttr",
    "WaitStatus",
    "exec",
    "fork_exec",
    "fork_lock",
    "look_path",
    "start_process",
    "wait4",
]
if _sys.platform == "linux":
    __all__ += ["SysProcIDMap"]

# The design card writes ``import pysyscall.fork_exec``. Registering the
# function itself as that module name makes the line work, and the import
# system then leaves the package's fork_exec attribute the function.
_sys.modules[__name__ + ".fork_exec"] = fork_exec  # type: ignore[assignment]
