# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""pysyscall: Go's Unix fork/exec layer (syscall.ForkExec and friends), in Python.

Start a process the way Go does: ``pysyscall.fork_exec(argv0, argv, attr)``.
The child runs no Python code between fork and execve; see plan.py for the
child's program and runner_fork.py for how it runs.

``import pysyscall`` loads nothing else: a tool that vendors pysyscall pays
for it only when it uses it. The first name asked for (``fork_exec``,
``ProcAttr``, ...) loads the layer (exec_unix, the runners and what they
need); the command line, the bench and the lab load when run. A submodule
that used to be loaded by the import is still there as an attribute
(``pysyscall.runtime``), loaded when asked for.
"""

import sys as _sys

# This, not typing.TYPE_CHECKING: importing typing would cost more than
# the rest of this module (mypy and ruff treat the name the same way). No
# ``from __future__ import annotations`` either, for the same reason.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from . import _platform
    from .exec_unix import (
        ProcAttr,
        WaitStatus,
        fork_exec,
        fork_lock,
        start_process,
        wait4,
    )
    from .exec_unix import exec as exec  # public, but not in __all__ (below)
    from .lp_unix import ErrDot, look_path
    from .plan import Credential
    from .rwmutex import RWMutex

    SysProcAttr = _platform.system.SysProcAttr
    if _sys.platform == "linux":  # Go has SysProcIDMap on Linux only
        from .linux import SysProcIDMap

# sys.platform, not _platform.GOOS, in this module only: the import must
# load no submodule, and mypy narrows on sys.platform alone.
if _sys.platform not in ("linux", "darwin"):
    from . import _platform  # raises the ImportError that names the platform
elif _sys.platform == "linux":
    import posix as _posix  # loaded at every interpreter start, even with -S

    if not _posix.confstr("CS_GNU_LIBC_VERSION"):
        # Not glibc (musl, say): the import fails here, naming the C library
        # found, rather than at the first start.
        from . import libc  # noqa: F401

__version__ = "0.1.0"

# pysyscall.exec is public but not in __all__: a star import would hide the
# builtin exec.
__all__ = [
    "Credential",
    "ErrDot",
    "ProcAttr",
    "RWMutex",
    "SysProcAttr",
    "WaitStatus",
    "fork_exec",
    "fork_lock",
    "look_path",
    "start_process",
    "wait4",
]
if _sys.platform == "linux":
    __all__ += ["SysProcIDMap"]

# Where each public name is defined, and the submodules the import used to
# load (still attributes of the package, each loaded when first asked for).
_DEFINED_IN = {
    **dict.fromkeys(
        ("ProcAttr", "WaitStatus", "exec", "fork_exec", "fork_lock", "start_process", "wait4"),
        "exec_unix",
    ),
    "Credential": "plan",
    "ErrDot": "lp_unix",
    "look_path": "lp_unix",
    "RWMutex": "rwmutex",
    "SysProcAttr": "_platform",
}
if _sys.platform == "linux":  # Go has SysProcIDMap on Linux only
    _DEFINED_IN["SysProcIDMap"] = "linux"
_SUBMODULES = (
    *("_platform", "env_unix", "exec_unix", "forkpipe", "forkpipe2", "libc", "plan"),
    *("remembered", "runner_fork", "runner_spawn", "runner_vfork", "runners", "runtime"),
    *("rwmutex", "linux", "darwin", "lp_unix"),
)


def _submodule(name: str) -> "Any":
    # __import__ loads it (and sets it as this package's attribute); the
    # package's own name, so a vendored, renamed copy loads its own.
    __import__(f"{__name__}.{name}")
    return _sys.modules[f"{__name__}.{name}"]


def __getattr__(name: str) -> "Any":
    """Load a public name's module, or a submodule, on first use (PEP 562)."""
    where = _DEFINED_IN.get(name)
    if where is not None:
        module = _submodule(where)
        value = module.system.SysProcAttr if name == "SysProcAttr" else getattr(module, name)
        globals()[name] = value  # asked once
        return value
    if name in _SUBMODULES:
        return _submodule(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})


def _fork_exec_on_import(*args: "Any", **kwargs: "Any") -> int:
    # ``import pysyscall.fork_exec`` (the design card's spelling) finds this
    # in sys.modules; the name then bound, ``pysyscall``, gives the real
    # fork_exec as its attribute. Called, it is that fork_exec.
    return __getattr__("fork_exec")(*args, **kwargs)  # type: ignore[no-any-return]


_fork_exec_on_import.__name__ = _fork_exec_on_import.__qualname__ = "fork_exec"
_sys.modules[__name__ + ".fork_exec"] = _fork_exec_on_import  # type: ignore[assignment]
