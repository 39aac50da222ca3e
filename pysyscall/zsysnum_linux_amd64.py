# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""Linux system call numbers on x86_64 (Go's zsysnum_linux_amd64.go).

The numbers that differ between machines (zsysnum_linux.py has the ones
every machine shares) which the child passes to syscall() directly, Go's raw
calls: credentials must not go through glibc's setuid family, which signals
every thread glibc knows of, threads a forked child does not have. Source:
the kernel's arch/x86/entry/syscalls/syscall_64.tbl.
Chosen by _platform.py for machine x86_64 (MACHINES).
"""

# Every machine's numbers, so that this module has them all.
from .zsysnum_linux import SYS_CLONE3 as SYS_CLONE3
from .zsysnum_linux import SYS_CLOSE_RANGE as SYS_CLOSE_RANGE
from .zsysnum_linux import SYS_PIDFD_OPEN as SYS_PIDFD_OPEN

PLATFORMS = ("linux",)
MACHINES = ("x86_64",)

SYS_RT_SIGACTION = 13
SYS_CLONE = 56
SYS_UMASK = 95
SYS_SETUID = 105
SYS_SETGID = 106
SYS_SETREUID = 113
SYS_SETREGID = 114
SYS_SETGROUPS = 116
