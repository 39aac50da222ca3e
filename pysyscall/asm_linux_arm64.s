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
