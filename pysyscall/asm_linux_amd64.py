# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The vfork child's routine for linux/amd64, as bytes. Generated: do not edit.

tools/asm.py assembled asm_linux_amd64.s (the listing beside this file, which says
what the routine does and how the table is laid out) and wrote its .text
bytes, entry offsets and layout constants here. tests/test_vfork.py
re-assembles the listing and checks that this file matches. Chosen by
_platform.py for machine x86_64 (MACHINES).
"""

PLATFORMS = ("linux",)
MACHINES = ("x86_64",)

CODE = bytes.fromhex(
    "f30f1efa4883e4f031ed4889fb4c8b2b"
    "4c8d63484d85ed0f84f30000004d8b74"
    "243841f7c6000200007409ff5308488b"
    "4b408908498b7c240841f7c601000000"
    "740348633f498b74241041f7c6020000"
    "007403486336498b54241841f7c60400"
    "00007403486312498b4c242041f7c608"
    "00000074034863094d8b44242841f7c6"
    "1000000074034d63004d8b4c243041f7"
    "c62000000074034d630931c041ff1424"
    "41f7c60010000075034863c041f7c600"
    "0400007407498b4c2448890141f7c600"
    "01000074064883f8ff744941f7c60002"
    "00007407493b442440753941f7c60008"
    "00007409493b4424407519eb1041f7c6"
    "00200000740e493b44244074074983c4"
    "5849ffcd4983c45849ffcde904ffffff"
    "4983ec58ff53088b00488b7328894608"
    "498b442450894604488b7b204885ff78"
    "09488b533031c0ff5310488b7b3831c0"
    "ff53180f0bf30f1efab8b30100000f05"
    "4885c07401c34889d7e9a2fefffff30f"
    "1efa535541544155415641574881ec08"
    "1000004189fc4189f54989d6ba040000"
    "00b8b40100000f054885c00f84ff0000"
    "0048c7c79cffffff488d3505010000ba"
    "00000900b8010100000f054885c00f88"
    "840000004989c74489ff4889e6ba0010"
    "0000b8d90000000f054885c07e584889"
    "e3488d2c044839eb73dd488d4b1331c0"
    "0fb61185d2741483ea3083fa09772e48"
    "6bc00a4801d048ffc1ebe54c39e0721d"
    "4c39e877184c39f8741389c7be020000"
    "00ba01000000b8480000000f050fb743"
    "104801c3ebaf4889c34489ffb8030000"
    "000f054885db745831ffbe0700000031"
    "d24989e2b82e0100000f054885c07530"
    "488b1c24498d45014839c376034889c3"
    "4c89e54839dd732889efbe02000000ba"
    "01000000b8480000000f0548ffc5ebe3"
    "f7d889c341ffd68918b8ffffffffeb02"
    "31c04881c408100000415f415e415d41"
    "5c5d5bc32f70726f632f73656c662f66"
    "6400"
)

# Entry points: offsets into CODE.
VFORK_CHILD = 0x0
CLONE3_VFORK = 0x145
CLOEXEC_RANGE = 0x15E

# The table's layout and the entry flags (the listing's global symbols).
ENTRY_SIZE = 0x58
E_ARGS = 0x8
E_EXPECTED = 0x40
E_FLAGS = 0x38
E_FUNC = 0x0
E_INDEX = 0x50
E_STORE = 0x48
F_EXPECT = 0x200
F_FAIL = 0x100
F_IF_EQUAL = 0x2000
F_LOAD0 = 0x1
F_OTHERWISE = 0x800
F_STORE = 0x400
F_WIDE = 0x1000
HEADER_SIZE = 0x48
H_COUNT = 0x0
H_EINVAL = 0x40
H_ERRNO_LOCATION = 0x8
H_EXIT = 0x18
H_EXIT_STATUS = 0x38
H_RECORD = 0x28
H_RECORD_SIZE = 0x30
H_STATUS_FD = 0x20
H_WRITE = 0x10
R_ERRNO = 0x8
R_STEP = 0x4
