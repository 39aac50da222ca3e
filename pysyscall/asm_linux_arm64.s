// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The pysyscall authors.
// Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).

// The vfork child's routine for linux/arm64 (see runner_vfork.py).
//
// Go keeps its vfork stub in per-architecture assembly (rawVforkSyscall in
// src/syscall/asm_linux_arm64.s); this is pysyscall's counterpart, named
// after it, and the same table walker as asm_linux_amd64.s: the same table
// layout, flags and failure record, so runner_vfork.py builds one table for
// both. tools/asm.py assembles this file with Debian's cross binutils
// (binutils-aarch64-linux-gnu) and writes the bytes, the entry offsets and
// every global .set below into asm_linux_arm64.py; tests/test_vfork.py
// re-assembles and compares.
//
// vfork_child(table) runs in a child started with clone(CLONE_VM|CLONE_VFORK)
// on a fresh stack. It walks a table planned in the parent: a header, then
// one entry per libc call. It never returns: the last entry is execve, and
// a failing entry ends in write(status fd, record) and _exit(253).
//
// clone3_vfork(clone_args, size, table) makes the clone3 system call (for
// what glibc's clone cannot express: CLONE_NEWTIME, CLONE_INTO_CGROUP). The
// parent returns its result (a pid, or -errno); the child, on the stack
// clone_args names, jumps to vfork_child(table).
//
// cloexec_range(first, last, errno_location) marks every open fd from first
// to last close-on-exec, on any kernel from 4.18, with raw system calls only
// (no libc, no lock: a vfork child and the fork runner's child both call it).
// It is CPython's _posixsubprocess fallback chain, for close-on-exec, and
// asm_linux_amd64.s's function of the same name, step for step:
//   1. close_range(first, last, CLOSE_RANGE_CLOEXEC) (Linux 5.11+); on any
//      error (ENOSYS before 5.9, EINVAL on 5.9/5.10, EPERM from a seccomp
//      profile that does not know the call, as Docker's before 20.10) go on:
//   2. openat("/proc/self/fd") and getdents64 in a 4 KiB stack buffer:
//      fcntl(fd, F_SETFD, FD_CLOEXEC) for each listed fd in range (not the
//      directory's own, which is closed after); if /proc cannot be opened
//      (not mounted, or a chroot without it) or read:
//   3. fcntl(fd, F_SETFD, FD_CLOEXEC) for every fd from first up to
//      min(last, the RLIMIT_NOFILE soft limit - 1) (prlimit64); EBADF on a
//      closed fd is expected. Fds at or above the soft limit can exist only
//      if the limit was lowered after they were opened: CPython's rule too.
// Returns 0; or -1 with errno set through errno_location (the address of
// __errno_location) if prlimit64 failed. Arguments: w0 first, w1 last
// (unsigned int), x2 errno_location. Uses x19-x24, x29 and x30 (saved and
// restored), 4 KiB + 64 bytes of stack; clobbers x0-x3 and x8. The system
// call numbers are aarch64's (the generic table), not x86-64's, and so is
// O_DIRECTORY (0x4000 here, 0x10000 there).
//
// AAPCS64: integer arguments in x0-x5 (variadic ones too: Linux, unlike
// Apple's ABI, passes them as named ones, so syscall, fcntl, ioctl and prctl
// need nothing more); the result in x0; x19-x28 survive calls, x30 is the
// link register; sp is 16-byte aligned whenever it is used. Calls are blr
// through x9 (a scratch register, not x16/x17, which linker veneers use).
// System calls: the number in x8, arguments in x0-x5, svc #0; the kernel
// keeps every register but x0.
//
// Each entry point starts with `bti c`, the landing pad an indirect call
// needs on a page the kernel guards for BTI. The routine's memfd mapping is
// not such a page (no PROT_BTI), and on a core without BTI the instruction
// is a no-op hint; it is there so the routine keeps working if it ever is.
//
// Instruction cache: nothing here or in the runner cleans it, because the
// kernel does. The bytes reach the memfd through write(2), and the page
// cache's write path marks each page it copied into as not clean for
// instruction fetch (flush_dcache_page/flush_dcache_folio clear
// PG_dcache_clean, arch/arm64/mm/flush.c); the first user-executable PTE
// that maps such a page goes through __set_pte_at (arch/arm64/include/asm/
// pgtable.h), which calls __sync_icache_dcache: it cleans the data cache
// to the point of unification and invalidates the instruction cache for
// the page before the mapping can be used. The pages never change after.

        // The table's header: 64-bit words.
        .globl  H_COUNT, H_ERRNO_LOCATION, H_WRITE, H_EXIT, H_STATUS_FD
        .globl  H_RECORD, H_RECORD_SIZE, H_EXIT_STATUS, H_EINVAL, HEADER_SIZE
        .set    H_COUNT, 0              // number of entries
        .set    H_ERRNO_LOCATION, 8     // address of __errno_location
        .set    H_WRITE, 16             // address of write
        .set    H_EXIT, 24              // address of _exit
        .set    H_STATUS_FD, 32         // the status pipe's write end (-1: none)
        .set    H_RECORD, 40            // address of the failure record
        .set    H_RECORD_SIZE, 48       // its size in bytes
        .set    H_EXIT_STATUS, 56       // 253
        .set    H_EINVAL, 64            // errno of an entry that returned the wrong value
        .set    HEADER_SIZE, 72

        // One entry: 64-bit words.
        .globl  E_FUNC, E_ARGS, E_FLAGS, E_EXPECTED, E_STORE, E_INDEX, ENTRY_SIZE
        .set    E_FUNC, 0               // function address
        .set    E_ARGS, 8               // six integer arguments
        .set    E_FLAGS, 56             // F_* below
        .set    E_EXPECTED, 64          // for F_EXPECT and F_OTHERWISE
        .set    E_STORE, 72             // for F_STORE: address of a 32-bit int
        .set    E_INDEX, 80             // the plan's step number, for the record
        .set    ENTRY_SIZE, 88

        // The failure record (plan.ChildError): magic, step, errno.
        .globl  R_STEP, R_ERRNO
        .set    R_STEP, 4
        .set    R_ERRNO, 8

        // Entry flags. Bits 0-5: argument k is the address of a 32-bit int
        // (a plan Cell), loaded sign-extended at call time. With none of the
        // judging bits the result is ignored.
        .globl  F_LOAD0, F_FAIL, F_EXPECT, F_STORE, F_OTHERWISE, F_WIDE, F_IF_EQUAL
        .set    F_LOAD0, 0x01           // F_LOAD0 << k for argument k
        .set    F_FAIL, 0x100           // fail on -1
        .set    F_EXPECT, 0x200         // errno = EINVAL first; fail unless == expected
        .set    F_STORE, 0x400          // store the result's low 32 bits at E_STORE
        .set    F_OTHERWISE, 0x800      // unless == expected, run the next entry;
                                        // if equal, skip it
        .set    F_WIDE, 0x1000          // the result is 64-bit (long, ssize_t);
                                        // else int, sign-extended
        .set    F_IF_EQUAL, 0x2000      // if == expected, run the next entry;
                                        // else skip it (F_OTHERWISE's converse)

        .set    SYS_clone3, 435
        .set    SYS_close, 57
        .set    SYS_fcntl, 25
        .set    SYS_getdents64, 61
        .set    SYS_openat, 56
        .set    SYS_prlimit64, 261
        .set    SYS_close_range, 436
        .set    AT_FDCWD, -100
        .set    O_DIRECTORY, 0x4000
        .set    O_CLOEXEC, 0x80000
        .set    F_SETFD, 2
        .set    FD_CLOEXEC, 1
        .set    CLOSE_RANGE_CLOEXEC, 4
        .set    RLIMIT_NOFILE, 7
        .set    DIRENT_BUFFER, 4096
        .set    D_RECLEN, 16                    // struct linux_dirent64
        .set    D_NAME, 19

        // Argument k of the current entry into register xk, loaded through
        // it when the entry's F_LOAD0 << k bit says it is a Cell's address.
        .macro  argument k
        ldr     x\k, [x21, #E_ARGS + 8 * \k]
        tst     x22, #F_LOAD0 << \k
        b.eq    1f
        ldrsw   x\k, [x\k]
1:
        .endm

        .text
        .globl  vfork_child
        .type   vfork_child, %function
vfork_child:
walk:                                           // (a local name: a branch to it needs no relocation)
        hint    #34                             // bti c (a no-op before ARMv8.5)
        mov     x9, sp
        and     x9, x9, #-16
        mov     sp, x9
        mov     x29, #0                         // the outermost frame
        mov     x19, x0                         // x19: the table
        ldr     x20, [x19, #H_COUNT]            // x20: entries left
        add     x21, x19, #HEADER_SIZE          // x21: the current entry
next:
        cbz     x20, ran_out
        ldr     x22, [x21, #E_FLAGS]            // x22: its flags
        tst     x22, #F_EXPECT
        b.eq    load
        ldr     x9, [x19, #H_ERRNO_LOCATION]    // errno = EINVAL, for a wrong value
        blr     x9
        ldr     x9, [x19, #H_EINVAL]
        str     w9, [x0]
load:
        argument 0
        argument 1
        argument 2
        argument 3
        argument 4
        argument 5
        ldr     x9, [x21, #E_FUNC]
        blr     x9
        tst     x22, #F_WIDE
        b.ne    1f
        sxtw    x0, w0
1:      tst     x22, #F_STORE
        b.eq    1f
        ldr     x9, [x21, #E_STORE]
        str     w0, [x9]
1:      tst     x22, #F_FAIL
        b.eq    1f
        cmn     x0, #1
        b.eq    fail
1:      ldr     x9, [x21, #E_EXPECTED]
        tst     x22, #F_EXPECT
        b.eq    1f
        cmp     x0, x9
        b.ne    fail
1:      tst     x22, #F_OTHERWISE
        b.eq    1f
        cmp     x0, x9
        b.ne    advance                         // not as expected: run the alternative
        b       skip_next
1:      tst     x22, #F_IF_EQUAL
        b.eq    advance
        cmp     x0, x9
        b.eq    advance                         // as expected: run the next entry
skip_next:
        add     x21, x21, #ENTRY_SIZE
        sub     x20, x20, #1
advance:
        add     x21, x21, #ENTRY_SIZE
        sub     x20, x20, #1
        b       next
ran_out:                                        // cannot happen: execve is last
        sub     x21, x21, #ENTRY_SIZE           // and returns only -1; report it
fail:
        ldr     x9, [x19, #H_ERRNO_LOCATION]
        blr     x9
        ldr     w0, [x0]
        ldr     x1, [x19, #H_RECORD]
        str     w0, [x1, #R_ERRNO]
        ldr     x9, [x21, #E_INDEX]
        str     w9, [x1, #R_STEP]
        ldr     x0, [x19, #H_STATUS_FD]
        tbnz    x0, #63, 1f                     // -1: no status pipe
        ldr     x2, [x19, #H_RECORD_SIZE]
        ldr     x9, [x19, #H_WRITE]
        blr     x9
1:      ldr     x0, [x19, #H_EXIT_STATUS]
        ldr     x9, [x19, #H_EXIT]
        blr     x9
        udf     #0                              // _exit does not return
        .size   vfork_child, . - vfork_child

        .globl  clone3_vfork
        .type   clone3_vfork, %function
clone3_vfork:
        hint    #34                             // bti c
        mov     x8, #SYS_clone3
        svc     #0                              // keeps x2 (the table)
        cbz     x0, 1f
        ret                                     // parent: pid or -errno
1:      mov     x0, x2                          // child: on the new stack
        b       walk
        .size   clone3_vfork, . - clone3_vfork

        .globl  cloexec_range
        .type   cloexec_range, %function
cloexec_range:
        hint    #34                             // bti c
        stp     x29, x30, [sp, #-64]!
        mov     x29, sp
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        stp     x23, x24, [sp, #48]
        sub     sp, sp, #DIRENT_BUFFER          // the buffer; sp stays 16-byte aligned
        mov     w19, w0                         // x19: first (zero-extended)
        mov     w20, w1                         // x20: last
        mov     x21, x2                         // x21: __errno_location
        mov     x0, x19                         // 1. close_range(first, last, CLOEXEC)
        mov     x1, x20
        mov     x2, #CLOSE_RANGE_CLOEXEC
        mov     x8, #SYS_close_range
        svc     #0
        cbz     x0, done
        mov     x0, #AT_FDCWD                   // 2. the fds /proc/self/fd lists
        adr     x1, proc_self_fd
        mov     x2, #O_DIRECTORY                // O_RDONLY|O_DIRECTORY|O_CLOEXEC: not
        movk    x2, #O_CLOEXEC >> 16, lsl #16   // one immediate, so two halves
        mov     x8, #SYS_openat
        svc     #0
        tbnz    x0, #63, every_fd
        mov     x22, x0                         // x22: the directory's fd
read_dir:
        mov     x0, x22
        mov     x1, sp
        mov     x2, #DIRENT_BUFFER
        mov     x8, #SYS_getdents64
        svc     #0
        cmp     x0, #0
        b.le    dir_end                         // 0: all read; < 0: failed
        mov     x23, sp                         // x23: the current entry
        add     x24, x23, x0                    // x24: the end of those read
entry:
        cmp     x23, x24
        b.hs    read_dir
        add     x1, x23, #D_NAME
        mov     x0, #0                          // x0: the name as a number
        mov     x3, #10
digit:
        ldrb    w2, [x1], #1
        cbz     w2, parsed
        sub     w2, w2, #'0'
        cmp     w2, #9
        b.hi    next_entry                      // "." and "..": not fds
        madd    x0, x0, x3, x2
        b       digit
parsed:
        cmp     x0, x19
        b.lo    next_entry
        cmp     x0, x20
        b.hi    next_entry
        cmp     x0, x22
        b.eq    next_entry                      // the directory: closed below
        mov     x1, #F_SETFD
        mov     x2, #FD_CLOEXEC
        mov     x8, #SYS_fcntl
        svc     #0
next_entry:
        ldrh    w0, [x23, #D_RECLEN]
        add     x23, x23, x0
        b       entry
dir_end:
        mov     x23, x0                         // x23: getdents64's last result
        mov     x0, x22
        mov     x8, #SYS_close
        svc     #0
        cbz     x23, done                       // else the listing is incomplete:
every_fd:                                       // 3. every fd below the soft limit
        mov     x0, #0                          // this process
        mov     x1, #RLIMIT_NOFILE
        mov     x2, #0                          // no new limit
        mov     x3, sp                          // the old one: {soft, hard}
        mov     x8, #SYS_prlimit64
        svc     #0
        cbnz    x0, failed
        ldr     x23, [sp]                       // x23: min(soft limit, last + 1)
        add     x0, x20, #1
        cmp     x23, x0
        csel    x23, x23, x0, ls
        mov     x24, x19                        // x24: the next fd
mark:
        cmp     x24, x23
        b.hs    done
        mov     x0, x24
        mov     x1, #F_SETFD
        mov     x2, #FD_CLOEXEC
        mov     x8, #SYS_fcntl
        svc     #0                              // EBADF for a closed fd: fine
        add     x24, x24, #1
        b       mark
failed:
        neg     w23, w0                         // x23: the errno
        blr     x21
        str     w23, [x0]
        mov     w0, #-1
        b       out
done:
        mov     w0, #0
out:
        add     sp, sp, #DIRENT_BUFFER
        ldp     x23, x24, [sp, #48]
        ldp     x21, x22, [sp, #32]
        ldp     x19, x20, [sp, #16]
        ldp     x29, x30, [sp], #64
        ret
        .size   cloexec_range, . - cloexec_range
proc_self_fd:
        .asciz  "/proc/self/fd"
        .balign 4                               // whole words in .text
