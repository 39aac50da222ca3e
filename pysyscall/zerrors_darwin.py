# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""darwin constants and sizes (Go's zerrors_darwin_*.go and ztypes_darwin_*.go).

The one home of every darwin number pysyscall uses. darwin forbids raw
system calls, so there is no zsysnum module for it. The numbers are the
same on x86-64 and arm64. Names are Go's where Go has them.

Sources: the macOS SDK headers (sys/fcntl.h, sys/signal.h, sys/wait.h,
sys/ttycom.h, sys/ptrace.h, sys/poll.h, sys/syslimits.h, sys/pipe.h,
spawn.h, sys/spawn.h). tests/test_darwin.py checks the ones its plans use.

Shared modules read this module as ``_platform.zerrors``; darwin.py
imports it directly, as Go's exec_libc2.go sees only the darwin z-files.
"""

PLATFORMS = ("darwin",)

# open(2), fcntl(2)
O_RDONLY = 0
O_WRONLY = 1
O_NONBLOCK = 0x4
O_CLOEXEC = 0x1000000
F_GETFD = 1
F_SETFD = 2
FD_CLOEXEC = 1
F_DUPFD_CLOEXEC = 67
AT_FDCWD = -2
AT_EACCESS = 0x10

# Signals
SIG_DFL = 0
SIG_IGN = 1
SIG_BLOCK = 1
SIG_SETMASK = 3
SIGCHLD = 20

POLLIN = 0x1

# The tty, tracing
TIOCSCTTY = 0x20007461
TIOCNOTTY = 0x20007471
TIOCSPGRP = 0x80047476
PT_TRACE_ME = 0

# Limits
NGROUPS_MAX = 16  # sys/syslimits.h
PIPE_CAPACITY = 65536  # BIG_PIPE_SIZE (sys/pipe.h): what a pipe grows to

# _WSTOPPED with SIGCONT (0x13): what wait reports for a continued child
# (WIFCONTINUED).
CONTINUED_STATUS = 0x137F

# posix_spawn: libSystem's spawn.h (sys/spawn.h); SETSID and
# CLOEXEC_DEFAULT are Apple's own.
POSIX_SPAWN_SETPGROUP = 0x0002
POSIX_SPAWN_SETSIGDEF = 0x0004
POSIX_SPAWN_SETSIGMASK = 0x0008
POSIX_SPAWN_SETSID = 0x0400
POSIX_SPAWN_CLOEXEC_DEFAULT = 0x4000

# Sizes (Go's ztypes). posix_spawnattr_t and posix_spawn_file_actions_t are
# pointers to objects libSystem allocates in its init functions.
SIGSET_SIZE = 4  # sigset_t is a 32-bit mask
SIGACTION_SIZE = 16  # struct sigaction: handler, mask, flags
POSIX_SPAWNATTR_SIZE = 8
POSIX_SPAWN_FILE_ACTIONS_SIZE = 8
