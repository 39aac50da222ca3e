# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""Regenerate pysyscall/asm_linux_ARCH.py from the listing pysyscall/asm_linux_ARCH.s.

    python3 tools/asm.py            # rewrite every asm_linux_*.py from its .s
    python3 tools/asm.py --check    # exit 1 if any .py differs from its listing

Uses the binutils for each listing's machine (``as``, ``objcopy``, ``nm``,
``objdump``, by their GNU triplet names, which Debian installs for the
native machine and for a cross one alike: binutils-x86-64-linux-gnu,
binutils-aarch64-linux-gnu). The listing is assembled into an object file; its .text section,
which must have no relocations (the bytes run wherever they are mapped),
becomes CODE; every global code symbol becomes an entry offset and every
global absolute symbol (a ``.globl`` + ``.set``: the table layout, the
flags) a constant, so the Python side never restates a number the routine
uses. tests/test_vfork.py runs ``generate`` and compares with the module.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pysyscall"

# Go's architecture names (the listing's suffix) -> the binutils prefix
# for that machine, and the Debian package that has them.
TOOLCHAINS = {
    "amd64": ("x86_64-linux-gnu-", "binutils-x86-64-linux-gnu"),
    "arm64": ("aarch64-linux-gnu-", "binutils-aarch64-linux-gnu"),
}

MACHINE_OF = {"amd64": "x86_64", "arm64": "aarch64"}  # Go's GOARCH: uname's machine

HEADER = '''\
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""The vfork child's routine for linux/{arch}, as bytes. Generated: do not edit.

tools/asm.py assembled {listing} (the listing beside this file, which says
what the routine does and how the table is laid out) and wrote its .text
bytes, entry offsets and layout constants here. tests/test_vfork.py
re-assembles the listing and checks that this file matches. Chosen by
_platform.py for machine {machine} (MACHINES).
"""

PLATFORMS = ("linux",)
MACHINES = ("{machine}",)
'''


class ToolMissing(RuntimeError):
    """A binutils program this script needs is not installed."""


def tools(arch: str) -> list[str]:
    """The binutils programs ``generate`` runs for ``arch``."""
    prefix, _ = TOOLCHAINS[arch]
    return [prefix + name for name in ("as", "objcopy", "nm", "objdump")]


def package(arch: str) -> str:
    """The Debian package with ``arch``'s binutils."""
    return TOOLCHAINS[arch][1]


def _tool(name: str, arch: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(
            f"{name} is not installed: tools/asm.py needs {arch}'s binutils "
            f"(apt-get install {package(arch)})"
        )
    return path


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def arch_of(listing: Path) -> str:
    m = re.fullmatch(r"asm_linux_(\w+)\.s", listing.name)
    if not m or m[1] not in TOOLCHAINS:
        raise ValueError(f"{listing.name}: expected asm_linux_ARCH.s, ARCH in {list(TOOLCHAINS)}")
    return m[1]


def generate(listing: Path) -> str:
    """The text of the Python module for ``listing``."""
    arch = arch_of(listing)
    assembler, objcopy, nm, objdump = (_tool(name, arch) for name in tools(arch))
    with tempfile.TemporaryDirectory() as work:
        obj = str(Path(work) / "routine.o")
        raw = Path(work) / "routine.bin"
        _run(assembler, "-o", obj, str(listing))
        relocations = _run(objdump, "-r", obj)
        if "RELOCATION RECORDS" in relocations:
            raise RuntimeError(f"{listing.name} needs relocations:\n{relocations}")
        _run(objcopy, "-O", "binary", "--only-section=.text", obj, str(raw))
        code = raw.read_bytes()
        symbols = _run(nm, obj)
    entries: dict[str, int] = {}
    constants: dict[str, int] = {}
    for line in symbols.splitlines():
        value, kind, name = line.split()
        if kind == "T":
            entries[name.upper()] = int(value, 16)
        elif kind == "A":
            constants[name] = int(value, 16)
    header = HEADER.format(arch=arch, listing=listing.name, machine=MACHINE_OF[arch])
    lines = [header, "CODE = bytes.fromhex("]
    for start in range(0, len(code), 16):
        lines.append(f'    "{code[start : start + 16].hex()}"')
    lines += [")", "", "# Entry points: offsets into CODE."]
    lines += [f"{name} = 0x{value:X}" for name, value in sorted(entries.items(), key=_by_value)]
    lines += ["", "# The table's layout and the entry flags (the listing's global symbols)."]
    lines += [f"{name} = 0x{value:X}" for name, value in sorted(constants.items())]
    return "\n".join(lines) + "\n"


def _by_value(item: tuple[str, int]) -> tuple[int, str]:
    return item[1], item[0]


def module_of(listing: Path) -> Path:
    return listing.with_suffix(".py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("listings", nargs="*", type=Path, help="default: pysyscall/asm_linux_*.s")
    options = parser.parse_args(argv)
    listings = options.listings or sorted(PACKAGE.glob("asm_linux_*.s"))
    status = 0
    for listing in listings:
        text = generate(listing)
        target = module_of(listing)
        if options.check:
            if not target.exists() or target.read_text() != text:
                print(f"{target} is out of date: run python3 tools/asm.py", file=sys.stderr)
                status = 1
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)} ({len(text)} characters)")
    return status


if __name__ == "__main__":
    sys.exit(main())
