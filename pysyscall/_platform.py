# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The one switch: the platform modules for this sys.platform (Go's build tags).

Each platform module declares the platforms it is for (PLATFORMS) and offers
the same names: SysProcAttr, child_program, FORK, EXIT, ERRNO_LOCATION and
the constants the shared code needs. Each fork-pipe module offers
fork_exec_pipe, acquire_fork_lock and release_fork_lock. Callers never
branch on the platform.
"""

from __future__ import annotations

import sys

if sys.platform == "linux":
    from . import forkpipe2 as forkpipe
    from . import linux as system
elif sys.platform == "darwin":
    from . import darwin as system
    from . import forkpipe
else:
    raise ImportError(
        f"pysyscall runs on linux and darwin; this is {sys.platform!r}, which "
        "neither linux.py nor darwin.py declares in its PLATFORMS"
    )

__all__ = ["forkpipe", "system"]
