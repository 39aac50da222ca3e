# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The one switch: the platform modules for this OS and machine (Go's build tags).

The only place that reads ``sys.platform`` and the machine (``GOOS``,
``MACHINE``; __init__.py reads sys.platform too, to stay lazy), and picks
by them:

* ``zerrors``: the OS's constants and sizes (zerrors_linux.py,
  zerrors_darwin.py), Go's zerrors and ztypes files;
* ``zsysnum``: the machine's system call numbers where they differ
  (zsysnum_linux_amd64.py, zsysnum_linux_arm64.py), or None where
  pysyscall knows none (darwin, which forbids raw system calls, or another
  Linux machine); the numbers every Linux machine shares are in
  zsysnum_linux.py;
* ``system``: the platform module (linux.py, darwin.py): SysProcAttr,
  child_program, FORK, EXIT, ERRNO_LOCATION;
* ``forkpipe``: the fork-pipe module (forkpipe2.py, forkpipe.py):
  fork_exec_pipe, acquire_fork_lock, release_fork_lock;
* ``asm``: the vfork runner's routine for this machine (asm_linux_amd64.py,
  asm_linux_arm64.py), or None where there is none.

Each of those modules declares the platforms it is for (PLATFORMS; a
per-machine one its MACHINES too; tests/test_package.py checks that each
is chosen exactly where it declares). Shared modules take the numbers from
here, and where they must differ by OS (a C library's symbol names, what
posix_spawn offers) read GOOS from here, never sys.platform; a module for
one platform (linux.py, runner_vfork.py, darwin.py) imports its own OS's
zerrors module, as Go's exec_linux.go sees only the linux z-files. The
z-modules import nothing, so any module may import this one; ``system``,
``forkpipe`` and ``asm`` load when first asked for (PEP 562).
"""

from __future__ import annotations

import os
import sys

# Not typing.TYPE_CHECKING: this module loads with the package's lowest
# modules (libc.py), which need not pay for typing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

GOOS = sys.platform
MACHINE = os.uname().machine  # platform.machine(), without loading the platform module

zsysnum: ModuleType | None = None
if sys.platform == "linux":
    from . import zerrors_linux as zerrors

    if MACHINE == "x86_64":
        from . import zsysnum_linux_amd64

        zsysnum = zsysnum_linux_amd64
    elif MACHINE == "aarch64":
        from . import zsysnum_linux_arm64

        zsysnum = zsysnum_linux_arm64
elif sys.platform == "darwin":
    from . import zerrors_darwin as zerrors
else:
    raise ImportError(
        f"pysyscall runs on linux and darwin; this is {sys.platform!r}, which "
        "neither linux.py nor darwin.py declares in its PLATFORMS"
    )

if TYPE_CHECKING:
    if sys.platform == "linux":
        from . import forkpipe2 as forkpipe
        from . import linux as system
    else:
        from . import darwin as system
        from . import forkpipe
    asm: ModuleType | None

_LAZY = {
    "linux": {"system": "linux", "forkpipe": "forkpipe2"},
    "darwin": {"system": "darwin", "forkpipe": "forkpipe"},
}[sys.platform]
_ASM = {"x86_64": "asm_linux_amd64", "aarch64": "asm_linux_arm64"}
if sys.platform == "linux" and MACHINE in _ASM:
    _LAZY["asm"] = _ASM[MACHINE]
else:
    asm = None


def __getattr__(name: str) -> Any:
    """Load ``system``, ``forkpipe`` or ``asm`` on first use (the first two import
    the modules that import this)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    __import__(f"{__package__}.{module}")
    value = sys.modules[f"{__package__}.{module}"]
    globals()[name] = value
    return value


__all__ = ["GOOS", "MACHINE", "asm", "forkpipe", "system", "zerrors", "zsysnum"]
