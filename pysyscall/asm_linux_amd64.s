# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).

# The vfork child's routine for linux/amd64 (see runner_vfork.py).
#
# Go keeps its vfork stub in per-architecture assembly (rawVforkSyscall in
# src/syscall/asm_linux_amd64.s); this is pysyscall's counterpart, named
# after it. tools/asm.py assembles this file with binutils and writes the
# bytes, the entry offsets and every global .set below into
# asm_linux_amd64.py; tests/test_vfork.py re-assembles and compares.
#
# vfork_child(table) runs in a child started with clone(CLONE_VM|CLONE_VFORK)
# on a fresh stack. It walks a table planned in the parent: a header, then
# one entry per libc call. It never returns: the last entry is execve, and
# a failing entry ends in write(status fd, record) and _exit(253).
#
# clone3_vfork(clone_args, size, table) makes the clone3 system call (for
# what glibc's clone cannot express: CLONE_NEWTIME, CLONE_INTO_CGROUP). The
# parent returns its result (a pid, or -errno); the child, on the stack
# clone_args names, jumps to vfork_child(table).
#
# cloexec_range(first, last, errno_location) marks every open fd from first
# to last close-on-exec, on any kernel from 4.18, with raw system calls only
# (no libc, no lock: a vfork child and the fork runner's child both call it).
# It is CPython's _posixsubprocess fallback chain, for close-on-exec:
#   1. close_range(first, last, CLOSE_RANGE_CLOEXEC) (Linux 5.11+); on any
#      error (ENOSYS before 5.9, EINVAL on 5.9/5.10, EPERM from a seccomp
#      profile that does not know the call, as Docker's before 20.10) go on:
#   2. openat("/proc/self/fd") and getdents64 in a 4 KiB stack buffer:
#      fcntl(fd, F_SETFD, FD_CLOEXEC) for each listed fd in range (not the
#      directory's own, which is closed after); if /proc cannot be opened
#      (not mounted, or a chroot without it) or read:
#   3. fcntl(fd, F_SETFD, FD_CLOEXEC) for every fd from first up to
#      min(last, the RLIMIT_NOFILE soft limit - 1) (prlimit64); EBADF on a
#      closed fd is expected. Fds at or above the soft limit can exist only
#      if the limit was lowered after they were opened: CPython's rule too.
# Returns 0; or -1 with errno set through errno_location (the address of
# __errno_location) if prlimit64 failed. Arguments: edi first, esi last
# (unsigned int), rdx errno_location. Uses rbx, rbp, r12-r15 (saved and
# restored), 4 KiB + 64 bytes of stack; clobbers rax, rcx, rdx, rsi, rdi,
# r8-r11. asm_linux_arm64.s has the same function with aarch64's system
# call numbers (close_range 436, openat 56, getdents64 61, fcntl 25, close
# 57, prlimit64 261) and O_DIRECTORY (0x4000).
#
# System V AMD64 ABI: integer arguments in rdi, rsi, rdx, rcx, r8, r9; al
# holds the number of vector registers a variadic callee gets (always 0
# here); rsp is 16-byte aligned at every call; rbx, rbp, r12-r15 survive
# calls.

        # The table's header: 64-bit words.
        .globl  H_COUNT, H_ERRNO_LOCATION, H_WRITE, H_EXIT, H_STATUS_FD
        .globl  H_RECORD, H_RECORD_SIZE, H_EXIT_STATUS, H_EINVAL, HEADER_SIZE
        .set    H_COUNT, 0              # number of entries
        .set    H_ERRNO_LOCATION, 8     # address of __errno_location
        .set    H_WRITE, 16             # address of write
        .set    H_EXIT, 24              # address of _exit
        .set    H_STATUS_FD, 32         # the status pipe's write end (-1: none)
        .set    H_RECORD, 40            # address of the failure record
        .set    H_RECORD_SIZE, 48       # its size in bytes
        .set    H_EXIT_STATUS, 56       # 253
        .set    H_EINVAL, 64            # errno of an entry that returned the wrong value
        .set    HEADER_SIZE, 72

        # One entry: 64-bit words.
        .globl  E_FUNC, E_ARGS, E_FLAGS, E_EXPECTED, E_STORE, E_INDEX, ENTRY_SIZE
        .set    E_FUNC, 0               # function address
        .set    E_ARGS, 8               # six integer arguments
        .set    E_FLAGS, 56             # F_* below
        .set    E_EXPECTED, 64          # for F_EXPECT and F_OTHERWISE
        .set    E_STORE, 72             # for F_STORE: address of a 32-bit int
        .set    E_INDEX, 80             # the plan's step number, for the record
        .set    ENTRY_SIZE, 88

        # The failure record (plan.ChildError): magic, step, errno.
        .globl  R_STEP, R_ERRNO
        .set    R_STEP, 4
        .set    R_ERRNO, 8

        # Entry flags. Bits 0-5: argument k is the address of a 32-bit int
        # (a plan Cell), loaded sign-extended at call time. With none of the
        # judging bits the result is ignored.
        .globl  F_LOAD0, F_FAIL, F_EXPECT, F_STORE, F_OTHERWISE, F_WIDE, F_IF_EQUAL
        .set    F_LOAD0, 0x01           # F_LOAD0 << k for argument k
        .set    F_FAIL, 0x100           # fail on -1
        .set    F_EXPECT, 0x200         # errno = EINVAL first; fail unless == expected
        .set    F_STORE, 0x400          # store the result's low 32 bits at E_STORE
        .set    F_OTHERWISE, 0x800      # unless == expected, run the next entry;
                                        # if equal, skip it
        .set    F_WIDE, 0x1000          # the result is 64-bit (long, ssize_t);
                                        # else int, sign-extended
        .set    F_IF_EQUAL, 0x2000      # if == expected, run the next entry;
                                        # else skip it (F_OTHERWISE's converse)

        .set    SYS_clone3, 435
        .set    SYS_close, 3
        .set    SYS_fcntl, 72
        .set    SYS_getdents64, 217
        .set    SYS_openat, 257
        .set    SYS_prlimit64, 302
        .set    SYS_close_range, 436
        .set    AT_FDCWD, -100
        .set    O_DIRECTORY_CLOEXEC, 0x90000    # O_RDONLY|O_DIRECTORY|O_CLOEXEC
        .set    F_SETFD, 2
        .set    FD_CLOEXEC, 1
        .set    CLOSE_RANGE_CLOEXEC, 4
        .set    RLIMIT_NOFILE, 7
        .set    DIRENT_BUFFER, 4096
        .set    D_RECLEN, 16                    # struct linux_dirent64
        .set    D_NAME, 19

        .text
        .globl  vfork_child
vfork_child:
        endbr64                                 # a target of indirect calls (IBT)
        andq    $-16, %rsp
        xorl    %ebp, %ebp
        movq    %rdi, %rbx                      # rbx: the table
        movq    H_COUNT(%rbx), %r13             # r13: entries left
        leaq    HEADER_SIZE(%rbx), %r12         # r12: the current entry
next:
        testq   %r13, %r13
        jz      ran_out
        movq    E_FLAGS(%r12), %r14             # r14: its flags
        testl   $F_EXPECT, %r14d
        jz      load
        call    *H_ERRNO_LOCATION(%rbx)         # errno = EINVAL, for a wrong value
        movq    H_EINVAL(%rbx), %rcx
        movl    %ecx, (%rax)
load:
        movq    E_ARGS+0(%r12), %rdi
        testl   $F_LOAD0<<0, %r14d
        jz      1f
        movslq  (%rdi), %rdi
1:      movq    E_ARGS+8(%r12), %rsi
        testl   $F_LOAD0<<1, %r14d
        jz      1f
        movslq  (%rsi), %rsi
1:      movq    E_ARGS+16(%r12), %rdx
        testl   $F_LOAD0<<2, %r14d
        jz      1f
        movslq  (%rdx), %rdx
1:      movq    E_ARGS+24(%r12), %rcx
        testl   $F_LOAD0<<3, %r14d
        jz      1f
        movslq  (%rcx), %rcx
1:      movq    E_ARGS+32(%r12), %r8
        testl   $F_LOAD0<<4, %r14d
        jz      1f
        movslq  (%r8), %r8
1:      movq    E_ARGS+40(%r12), %r9
        testl   $F_LOAD0<<5, %r14d
        jz      1f
        movslq  (%r9), %r9
1:      xorl    %eax, %eax                      # no vector registers
        call    *E_FUNC(%r12)
        testl   $F_WIDE, %r14d
        jnz     1f
        movslq  %eax, %rax
1:      testl   $F_STORE, %r14d
        jz      1f
        movq    E_STORE(%r12), %rcx
        movl    %eax, (%rcx)
1:      testl   $F_FAIL, %r14d
        jz      1f
        cmpq    $-1, %rax
        je      fail
1:      testl   $F_EXPECT, %r14d
        jz      1f
        cmpq    E_EXPECTED(%r12), %rax
        jne     fail
1:      testl   $F_OTHERWISE, %r14d
        jz      1f
        cmpq    E_EXPECTED(%r12), %rax
        jne     advance                         # not as expected: run the alternative
        jmp     skip_next
1:      testl   $F_IF_EQUAL, %r14d
        jz      advance
        cmpq    E_EXPECTED(%r12), %rax
        je      advance                         # as expected: run the next entry
skip_next:
        addq    $ENTRY_SIZE, %r12
        decq    %r13
advance:
        addq    $ENTRY_SIZE, %r12
        decq    %r13
        jmp     next
ran_out:                                        # cannot happen: execve is last
        subq    $ENTRY_SIZE, %r12               # and returns only -1; report it
fail:
        call    *H_ERRNO_LOCATION(%rbx)
        movl    (%rax), %eax
        movq    H_RECORD(%rbx), %rsi
        movl    %eax, R_ERRNO(%rsi)
        movq    E_INDEX(%r12), %rax
        movl    %eax, R_STEP(%rsi)
        movq    H_STATUS_FD(%rbx), %rdi
        testq   %rdi, %rdi
        js      1f
        movq    H_RECORD_SIZE(%rbx), %rdx
        xorl    %eax, %eax
        call    *H_WRITE(%rbx)
1:      movq    H_EXIT_STATUS(%rbx), %rdi
        xorl    %eax, %eax
        call    *H_EXIT(%rbx)
        ud2                                     # _exit does not return

        .globl  clone3_vfork
clone3_vfork:
        endbr64
        movl    $SYS_clone3, %eax
        syscall                                 # keeps rdx (the table)
        testq   %rax, %rax
        jz      1f
        ret                                     # parent: pid or -errno
1:      movq    %rdx, %rdi                      # child: on the new stack
        jmp     vfork_child

        .globl  cloexec_range
cloexec_range:
        endbr64
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $DIRENT_BUFFER+8, %rsp          # the buffer; rsp 16-byte aligned
        movl    %edi, %r12d                     # r12: first (zero-extended)
        movl    %esi, %r13d                     # r13: last
        movq    %rdx, %r14                      # r14: __errno_location
        movl    $CLOSE_RANGE_CLOEXEC, %edx      # 1. close_range(first, last, CLOEXEC)
        movl    $SYS_close_range, %eax
        syscall
        testq   %rax, %rax
        jz      done
        movq    $AT_FDCWD, %rdi                 # 2. the fds /proc/self/fd lists
        leaq    proc_self_fd(%rip), %rsi
        movl    $O_DIRECTORY_CLOEXEC, %edx
        movl    $SYS_openat, %eax
        syscall
        testq   %rax, %rax
        js      every_fd
        movq    %rax, %r15                      # r15: the directory's fd
read_dir:
        movl    %r15d, %edi
        movq    %rsp, %rsi
        movl    $DIRENT_BUFFER, %edx
        movl    $SYS_getdents64, %eax
        syscall
        testq   %rax, %rax
        jle     dir_end                         # 0: all read; < 0: failed
        movq    %rsp, %rbx                      # rbx: the current entry
        leaq    (%rsp,%rax), %rbp               # rbp: the end of those read
entry:
        cmpq    %rbp, %rbx
        jae     read_dir
        leaq    D_NAME(%rbx), %rcx
        xorl    %eax, %eax                      # rax: the name as a number
digit:
        movzbl  (%rcx), %edx
        testl   %edx, %edx
        jz      parsed
        subl    $'0', %edx
        cmpl    $9, %edx
        ja      next_entry                      # "." and "..": not fds
        imulq   $10, %rax, %rax
        addq    %rdx, %rax
        incq    %rcx
        jmp     digit
parsed:
        cmpq    %r12, %rax
        jb      next_entry
        cmpq    %r13, %rax
        ja      next_entry
        cmpq    %r15, %rax
        je      next_entry                      # the directory: closed below
        movl    %eax, %edi
        movl    $F_SETFD, %esi
        movl    $FD_CLOEXEC, %edx
        movl    $SYS_fcntl, %eax
        syscall
next_entry:
        movzwl  D_RECLEN(%rbx), %eax
        addq    %rax, %rbx
        jmp     entry
dir_end:
        movq    %rax, %rbx                      # rbx: getdents64's last result
        movl    %r15d, %edi
        movl    $SYS_close, %eax
        syscall
        testq   %rbx, %rbx
        jz      done                            # else the listing is incomplete:
every_fd:                                       # 3. every fd below the soft limit
        xorl    %edi, %edi                      # this process
        movl    $RLIMIT_NOFILE, %esi
        xorl    %edx, %edx                      # no new limit
        movq    %rsp, %r10                      # the old one: {soft, hard}
        movl    $SYS_prlimit64, %eax
        syscall
        testq   %rax, %rax
        jnz     failed
        movq    (%rsp), %rbx                    # rbx: min(soft limit, last + 1)
        leaq    1(%r13), %rax
        cmpq    %rax, %rbx
        jbe     1f
        movq    %rax, %rbx
1:      movq    %r12, %rbp                      # rbp: the next fd
mark:
        cmpq    %rbx, %rbp
        jae     done
        movl    %ebp, %edi
        movl    $F_SETFD, %esi
        movl    $FD_CLOEXEC, %edx
        movl    $SYS_fcntl, %eax
        syscall                                 # EBADF for a closed fd: fine
        incq    %rbp
        jmp     mark
failed:
        negl    %eax
        movl    %eax, %ebx                      # rbx: the errno
        call    *%r14
        movl    %ebx, (%rax)
        movl    $-1, %eax
        jmp     out
done:
        xorl    %eax, %eax
out:
        addq    $DIRENT_BUFFER+8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret
proc_self_fd:
        .asciz  "/proc/self/fd"
