# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""Finding a program in PATH: Go's os/exec LookPath (lp_unix.go).

fork_exec, like Go's syscall.ForkExec and execve itself, runs the file it is
given: a name without a slash names a file in the current directory, never a
program searched for in PATH. look_path is the search, done before the start
(as Go's exec.Command does).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import stat

from . import libc
from ._platform import zerrors
from .plan import byte_ptr_from_string

NOT_FOUND = "executable file not found in $PATH"  # Go's ErrNotFound
FOUND_IN_DOT = "cannot run executable found relative to current directory"  # Go's ErrDot


class LookPathError(OSError):
    """Port of exec.Error: a name look_path could not turn into a program, and why.

    ``filename`` is the name looked up, ``strerror`` the reason. It prints as
    Go's error does (``exec: "name": reason``). Raised as a subclass of the
    OSError for its errno too: FileNotFoundError when nothing was found,
    PermissionError for a file that is not executable, and so on.
    """

    def __str__(self) -> str:
        return f"exec: {json.dumps(self.filename, ensure_ascii=False)}: {self.strerror}"


class ErrDot(LookPathError):
    """Port of exec.ErrDot (Go 1.19): the program was found only through a relative PATH entry.

    An empty or relative entry in PATH ("", ".", "bin") is searched relative
    to the current directory, so whoever controls that directory chooses the
    program (go.dev/issue/43724). look_path refuses such a result; ``path``
    is what it found, for a caller that means to run it anyway.
    """

    def __init__(self, name: str, path: str) -> None:
        super().__init__(None, FOUND_IN_DOT, name)
        self.path = path


_kinds: dict[type[OSError], type[LookPathError]] = {OSError: LookPathError}


def _error(code: int, name: str, reason: str) -> LookPathError:
    """A LookPathError that is also the OSError subclass for ``code``."""
    base = type(OSError(code, reason))
    kind = _kinds.get(base)
    if kind is None:
        kind = type(base.__name__, (LookPathError, base), {"__module__": __name__})
        _kinds[base] = kind
    return kind(code, reason, name)


def _find_executable(file: str) -> int:
    """Port of findExecutable (lp_unix.go): 0 if ``file`` may be run, else an errno.

    Asks the kernel with the effective ids (faccessat, AT_EACCESS): root may
    run a file only if some execute bit is set, which the mode alone does not
    show for root. Where that call is missing (ENOSYS) or refused by a
    seccomp filter (EPERM), Go falls back to the mode's execute bits.
    """
    try:
        mode = os.stat(file).st_mode
    except OSError as error:
        return error.errno or errno.ENOENT
    if stat.S_ISDIR(mode):
        return errno.EISDIR
    result = libc.parent("faccessat")(
        zerrors.AT_FDCWD, os.fsencode(file), os.X_OK, zerrors.AT_EACCESS
    )
    if result == 0:
        return 0
    code = ctypes.get_errno()
    if code not in (errno.ENOSYS, errno.EPERM):
        return code
    return 0 if mode & 0o111 else errno.EACCES


def look_path(file: str) -> str:
    """Port of LookPath (os/exec, lp_unix.go): the program ``file`` names, found in PATH.

    A name with a slash is not searched: it is returned if it is an
    executable file. Otherwise each directory in the PATH environment
    variable is tried in order (an empty entry means the current directory,
    as in a shell) and the first executable file found is returned; an
    absolute PATH entry gives an absolute path. Raises FileNotFoundError
    (a LookPathError) when nothing is found, and ErrDot when the program
    was found through a relative PATH entry (Go 1.19's rule).
    """
    byte_ptr_from_string(file, "file")  # a NUL byte is a ValueError, as in fork_exec
    if "/" in file:
        code = _find_executable(file)
        if code == 0:
            return file
        raise _error(code, file, os.strerror(code))
    path_env = os.environ.get("PATH", "")
    for directory in path_env.split(":") if path_env else ():
        path = os.path.normpath(os.path.join(directory or ".", file))
        if _find_executable(path) == 0:
            if not os.path.isabs(path):
                raise ErrDot(file, path)
            return path
    raise _error(errno.ENOENT, file, NOT_FOUND)
