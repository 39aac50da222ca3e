# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""Linux system call numbers on aarch64 (Go's zsysnum_linux_arm64.go).

The numbers that differ between machines (zsysnum_linux.py has the ones
every machine shares) which the child passes to syscall() directly, Go's raw
calls: credentials must not go through glibc's setuid family, which signals
every thread glibc knows of, threads a forked child does not have. Source:
the kernel's include/uapi/asm-generic/unistd.h (arm64 uses the generic table).
Chosen by _platform.py for machine aarch64 (MACHINES).
"""

# Every machine's numbers, so that this module has them all.
from .zsysnum_linux import SYS_CLONE3 as SYS_CLONE3
from .zsysnum_linux import SYS_CLOSE_RANGE as SYS_CLOSE_RANGE
from .zsysnum_linux import SYS_PIDFD_OPEN as SYS_PIDFD_OPEN

PLATFORMS = ("linux",)
MACHINES = ("aarch64",)

SYS_RT_SIGACTION = 134
SYS_SETREGID = 143
SYS_SETGID = 144
SYS_SETREUID = 145
SYS_SETUID = 146
SYS_SETGROUPS = 159
SYS_UMASK = 166
SYS_CLONE = 220
