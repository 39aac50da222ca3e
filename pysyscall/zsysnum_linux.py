# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""Linux system call numbers every machine shares (Go's zsysnum_linux_*.go).

Since Linux 5.1 a new system call has one number on every architecture (the
kernel's scripts/syscall.tbl, include/uapi/asm-generic/unistd.h); these are
such calls, which the kernel probes (linux.kernel_lacks) make on any machine.
The older numbers differ per machine: zsysnum_linux_amd64.py,
zsysnum_linux_arm64.py.
"""

PLATFORMS = ("linux",)

SYS_PIDFD_OPEN = 434
SYS_CLONE3 = 435
SYS_CLOSE_RANGE = 436
