"""Run a command under a seccomp profile that makes this kernel look older.

    python tests/seccomp_profile.py PROFILE COMMAND [ARG...]

installs a seccomp filter (a BPF program, through ctypes: prctl and the
seccomp system call) that answers chosen system calls with a chosen errno,
then execs COMMAND; the filter holds for it and every process it starts.
The profiles match real machines (../shared/design/reach.md):

* ``4.18``: RHEL 8's kernel. ENOSYS for the system calls added since
  (close_range, clone3, the pidfd calls, faccessat2, openat2,
  epoll_pwait2); EINVAL for clone with CLONE_PIDFD (5.2) in its flags.
* ``5.4``: Ubuntu 20.04's kernel: clone3 and pidfd_open, none of the calls
  added since 5.5 (ENOSYS), and clone3's arguments as 5.4 reads them: E2BIG
  for a clone_args of 96 bytes, as 5.4 answers the set_tid probe
  (linux.kernel_lacks("clone_clear_sighand")) whose bytes past its 64 are
  not zero (glibc's clone3, of 88 bytes with zeros there, passes).
* ``5.10``: close_range without CLOSE_RANGE_CLOEXEC (5.11): EINVAL when
  its flags have it.
* ``docker-19.03``: Docker's default profile before 20.10, which does not
  know clone3 or close_range and answers what it does not know with EPERM
  (glibc 2.34+ falls back from clone3 to clone only on ENOSYS).
* ``no-memfd``: a sandbox that forbids memfd_create (EPERM).
* ``no-prlimit64``: no real machine; close_range missing and prlimit64
  refused, for the child's failure path when /proc is missing too.

Tests import ``install`` and ``PROFILES``; CI (.ci/run) runs the runner tests
under each profile with this script.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys

# struct seccomp_data: nr (int), arch (u32), instruction pointer (u64), args.
NR, ARCH, ARGS = 0, 4, 16
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SYSCALLS = {
    "x86_64": {"clone": 56, "memfd_create": 319, "prlimit64": 302},
    "aarch64": {"clone": 220, "memfd_create": 279, "prlimit64": 261},
}
# The same on every architecture (the unified numbers from Linux 5.1 on).
for _table in SYSCALLS.values():
    _table.update(
        pidfd_send_signal=424, pidfd_open=434, clone3=435, close_range=436, openat2=437,
        pidfd_getfd=438, faccessat2=439, epoll_pwait2=441,
    )  # fmt: skip
CLONE_PIDFD = 0x1000
CLOSE_RANGE_CLOEXEC = 4

# profile: [(system call, errno, None or (argument, bits that must all be set))]
Rule = tuple[str, int, "tuple[int, int] | None"]
PROFILES: dict[str, list[Rule]] = {
    "4.18": [
        *[
            (name, errno.ENOSYS, None)
            for name in (
                "close_range",
                "clone3",
                "pidfd_open",
                "pidfd_send_signal",
                "pidfd_getfd",
                "faccessat2",
                "openat2",
                "epoll_pwait2",
            )
        ],
        ("clone", errno.EINVAL, (0, CLONE_PIDFD)),
    ],
    "5.4": [
        *[
            (name, errno.ENOSYS, None)
            for name in ("close_range", "pidfd_getfd", "faccessat2", "openat2", "epoll_pwait2")
        ],
        ("clone3", errno.E2BIG, (1, 0x20)),  # the size: 96 has the bit, 64, 80 and 88 not
    ],
    "5.10": [("close_range", errno.EINVAL, (2, CLOSE_RANGE_CLOEXEC))],
    "docker-19.03": [("clone3", errno.EPERM, None), ("close_range", errno.EPERM, None)],
    "no-memfd": [("memfd_create", errno.EPERM, None)],
    # No real machine: 4.18 where prlimit64 is refused too, so that the
    # child's last fallback (every fd below the limit) cannot run.
    "no-prlimit64": [("close_range", errno.ENOSYS, None), ("prlimit64", errno.EPERM, None)],
}

# Classic BPF, as seccomp takes it (linux/filter.h, linux/seccomp.h).
BPF_LD_W_ABS = 0x20
BPF_ALU_AND_K = 0x54
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}


class SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


def program(profile: str, machine: str | None = None) -> list[tuple[int, int, int, int]]:
    """The profile's BPF program: (code, jt, jf, k) per instruction."""
    machine = machine or platform.machine()
    numbers = SYSCALLS[machine]
    code = [
        (BPF_LD_W_ABS, 0, 0, ARCH),
        (BPF_JEQ_K, 1, 0, AUDIT_ARCH[machine]),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),  # another ABI: left alone
        (BPF_LD_W_ABS, 0, 0, NR),
    ]
    for name, error, condition in PROFILES[profile]:
        answer = (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | error)
        if condition is None:
            code += [(BPF_JEQ_K, 0, 1, numbers[name]), answer]
            continue
        argument, bits = condition
        code += [
            (BPF_JEQ_K, 0, 4, numbers[name]),
            (BPF_LD_W_ABS, 0, 0, ARGS + 8 * argument),  # the low 32 bits
            (BPF_ALU_AND_K, 0, 0, bits),
            (BPF_JEQ_K, 0, 1, bits),
            answer,
            (BPF_LD_W_ABS, 0, 0, NR),
        ]
    return [*code, (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)]


def install(profile: str) -> None:
    """Install the profile's filter on this process (and what it starts)."""
    if profile not in PROFILES:
        raise ValueError(f"no profile {profile!r}: have {', '.join(PROFILES)}")
    machine = platform.machine()
    code = program(profile, machine)
    filters = (SockFilter * len(code))(*[SockFilter(*i) for i in code])
    fprog = SockFprog(len(code), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    args = (ctypes.c_long(SYS_SECCOMP[machine]), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
            ctypes.c_long(0), ctypes.c_void_p(ctypes.addressof(fprog)))  # fmt: skip
    if libc.syscall(*args) != 0:
        if ctypes.get_errno() != errno.EACCES:
            raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_SET_MODE_FILTER)")
        # Without CAP_SYS_ADMIN the kernel wants no_new_privs first.
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if libc.syscall(*args) != 0:
            raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_SET_MODE_FILTER)")


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} PROFILE COMMAND [ARG...]; profiles: {', '.join(PROFILES)}")
    install(argv[0])
    os.execvp(argv[1], argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
