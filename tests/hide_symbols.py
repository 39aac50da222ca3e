"""Run Python code as if the C library lacked some functions (an older glibc).

Usage: python hide_symbols.py NAME[,NAME...] CODE [ARG...]

Before CODE runs (and so before anything imports pysyscall), every ctypes
handle on libc.so.6 stops resolving the NAMEs, as dlsym would in a glibc
without them; other libraries (libpthread.so.0, where glibc before 2.34
keeps pthread_sigmask) are left alone. The special NAME ``libc.so.6`` makes
loading libc.so.6 itself fail, as on musl. CODE sees ARGs as sys.argv[1:].
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any


def hide(names: set[str]) -> None:
    original_init = ctypes.CDLL.__init__

    def __init__(self: ctypes.CDLL, name: Any, *args: Any, **kwargs: Any) -> None:
        if name == "libc.so.6" and "libc.so.6" in names:
            raise OSError("libc.so.6: cannot open shared object file (hidden by hide_symbols.py)")
        original_init(self, name, *args, **kwargs)
        if name != "libc.so.6":
            return
        base: Any = self._FuncPtr

        class _FuncPtr(base):  # type: ignore[misc, valid-type]
            _flags_ = base._flags_
            _restype_ = base._restype_

            def __new__(cls, *args: Any) -> Any:
                if args and isinstance(args[0], tuple) and args[0][0] in names:
                    raise AttributeError(f"libc.so.6: undefined symbol: {args[0][0]} (hidden)")
                return base.__new__(cls, *args)

        self._FuncPtr = _FuncPtr  # type: ignore[misc]

    ctypes.CDLL.__init__ = __init__  # type: ignore[method-assign]


if __name__ == "__main__":
    hide(set(sys.argv[1].split(",")))
    code = sys.argv[2]
    sys.argv = [sys.argv[0], *sys.argv[3:]]
    exec(compile(code, "<hide_symbols>", "exec"), {"__name__": "__main__"})
