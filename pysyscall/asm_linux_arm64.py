"""The vfork child's routine for linux/arm64, as bytes. Generated: do not edit.

tools/asm.py assembled asm_linux_arm64.s (the listing beside this file, which says
what the routine does and how the table is laid out) and wrote its .text
bytes, entry offsets and layout constants here. tests/test_vfork.py
re-assembles the listing and checks that this file matches.
"""

CODE = bytes.fromhex(
    "5f2403d5e903009129ed7c923f010091"
    "1d0080d2f30300aa740240f975220191"
    "140800b4b61e40f9df0277f2a0000054"
    "690640f920013fd6692240f9090000b9"
    "a00640f9df0240f240000054000080b9"
    "a10a40f9df027ff240000054210080b9"
    "a20e40f9df027ef240000054420080b9"
    "a31240f9df027df240000054630080b9"
    "a41640f9df027cf240000054840080b9"
    "a51a40f9df027bf240000054a50080b9"
    "a90240f920013fd6df0274f241000054"
    "007c4093df0276f260000054a92640f9"
    "200100b9df0278f2600000541f0400b1"
    "a0020054a92240f9df0277f260000054"
    "1f0009eb01020054df0275f280000054"
    "1f0009eb0101005405000014df0273f2"
    "a00000541f0009eb60000054b5620191"
    "940600d1b5620191940600d1c1ffff17"
    "b56201d1690640f920013fd6000040b9"
    "611640f9200800b9a92a40f9290400b9"
    "601240f98000f8b7621a40f9690a40f9"
    "20013fd6601e40f9690e40f920013fd6"
    "000000005f2403d5683680d2010000d4"
    "400000b4c0035fd6e00302aaa1ffff17"
)

# Entry points: offsets into CODE.
VFORK_CHILD = 0x0
CLONE3_VFORK = 0x164

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
