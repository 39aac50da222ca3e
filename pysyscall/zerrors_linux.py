# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""Linux constants and sizes (Go's zerrors_linux_*.go and ztypes_linux_*.go).

The one home of every Linux number pysyscall uses but system call numbers
(zsysnum_linux_*.py). Go generates its files per machine; the numbers here
are the same on x86-64 and arm64 (asm-generic), the machines whose system
call numbers pysyscall knows, so one module serves both. Sizes are glibc's
on 64-bit machines. Names are Go's where Go has them.

Sources: the Linux uapi headers (asm-generic/fcntl.h, asm-generic/signal.h,
linux/sched.h, linux/close_range.h, linux/memfd.h, linux/prctl.h,
linux/capability.h, linux/mount.h, asm-generic/ioctls.h, asm-generic/mman.h,
asm-generic/poll.h, linux/limits.h, linux/fcntl.h) and glibc's (spawn.h,
bits/types/sigset_t.h, bits/sigaction.h, bits/pthreadtypes-arch.h).
tests/test_libc.py and tests/test_vfork.py check them against Python's own
where Python has them.

Shared modules read this module as ``_platform.zerrors``; the Linux-only
ones (linux.py, runner_vfork.py) import it directly, as Go's exec_linux.go
sees only the linux z-files.
"""

PLATFORMS = ("linux",)

# open(2), fcntl(2)
O_RDONLY = 0
O_WRONLY = 1
O_NONBLOCK = 0o4000
O_CLOEXEC = 0o2000000
O_TMPFILE = 0o20200000  # with O_DIRECTORY, as open(2) wants it
F_GETFD = 1
F_SETFD = 2
FD_CLOEXEC = 1
F_DUPFD_CLOEXEC = 1030
AT_FDCWD = -100
AT_EACCESS = 0x200

# Signals
SIG_DFL = 0
SIG_IGN = 1
SIG_BLOCK = 0
SIG_SETMASK = 2
SIGCHLD = 17

# clone(2), clone3(2)
CSIGNAL = 0xFF  # clone's exit-signal byte
CLONE_NEWTIME = 0x80
CLONE_VM = 0x100
CLONE_FS = 0x200
CLONE_FILES = 0x400
CLONE_SIGHAND = 0x800
CLONE_PIDFD = 0x1000
CLONE_PTRACE = 0x2000
CLONE_VFORK = 0x4000
CLONE_PARENT = 0x8000
CLONE_THREAD = 0x10000
CLONE_NEWNS = 0x20000
CLONE_SYSVSEM = 0x40000
CLONE_SETTLS = 0x80000
CLONE_PARENT_SETTID = 0x100000
CLONE_CHILD_CLEARTID = 0x200000
CLONE_DETACHED = 0x400000
CLONE_UNTRACED = 0x800000
CLONE_CHILD_SETTID = 0x1000000
CLONE_NEWCGROUP = 0x2000000
CLONE_NEWUTS = 0x4000000
CLONE_NEWIPC = 0x8000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_IO = 0x80000000
CLONE_CLEAR_SIGHAND = 0x100000000  # clone3 only
CLONE_INTO_CGROUP = 0x200000000  # clone3 only

CLOSE_RANGE_CLOEXEC = 4
MFD_CLOEXEC = 0x1
MFD_EXEC = 0x10  # Linux 6.3+: ask for an executable memfd where vm.memfd_noexec is set

# mmap(2)
PROT_NONE = 0
PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4
MAP_PRIVATE = 0x02
MAP_ANONYMOUS = 0x20
MAP_NORESERVE = 0x4000
MAP_STACK = 0x20000
MAP_FAILED = 2**64 - 1  # (void *)-1

POLLIN = 0x1

# The tty, tracing, prctl, capabilities, mounts
TIOCSCTTY = 0x540E
TIOCNOTTY = 0x5422
TIOCSPGRP = 0x5410
PTRACE_TRACEME = 0
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
LINUX_CAPABILITY_VERSION_3 = 0x20080522  # Go: _LINUX_CAPABILITY_VERSION_3
MS_REC = 0x4000
MS_PRIVATE = 0x40000

# Limits
NGROUPS_MAX = 65536  # linux/limits.h; _posixsubprocess's MAX_GROUPS
PIPE_CAPACITY = 65536  # a new pipe's, in bytes (pipe(7): 16 pages)

# What wait reports for a child continued by SIGCONT (WIFCONTINUED).
CONTINUED_STATUS = 0xFFFF

# posix_spawn: glibc's spawn.h. SETSID is a GNU extension (glibc 2.26+);
# glibc has no CLOEXEC_DEFAULT flag, its
# posix_spawn_file_actions_addclosefrom_np (2.34+) closes the fds instead.
POSIX_SPAWN_SETPGROUP = 0x02
POSIX_SPAWN_SETSIGDEF = 0x04
POSIX_SPAWN_SETSIGMASK = 0x08
POSIX_SPAWN_SETSID = 0x80
POSIX_SPAWN_CLOEXEC_DEFAULT = 0  # none

# Sizes (Go's ztypes): glibc's types on 64-bit machines, and the kernel's
# own sigaction and sigset, which rt_sigaction takes.
SIGSET_SIZE = 128  # glibc's sigset_t
SIGACTION_SIZE = 152  # glibc's struct sigaction
KERNEL_SIGACTION_SIZE = 32  # handler, flags, restorer, mask (8 bytes each)
KERNEL_SIGSET_SIZE = 8
POSIX_SPAWNATTR_SIZE = 336  # posix_spawnattr_t
POSIX_SPAWN_FILE_ACTIONS_SIZE = 80  # posix_spawn_file_actions_t
