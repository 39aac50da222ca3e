# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
# Follows CPython's _posixsubprocess.c: Copyright (c) Python Software Foundation (NOTICE).
"""How a child's failure reaches Popen: the error pipe's message and the errno pipe.

Popen's protocol (subprocess.py's _execute_child reading what
_posixsubprocess.c's child_exec writes): pysyscall's child reports its
failure (step, errno) to pysyscall's parent, which leaves the failed child
unreaped (``exec_unix._start(reap_failed=False)``); compat then writes the
message _posixsubprocess's child would have written into ``errpipe_write``
("OSError:<hex errno>:noexec" for a failure before execve,
"OSError:<hex errno>:" for execve's, "noexec:chdir" for chdir's where the
running Popen reads it) and returns the failed child's pid. Popen reads
``errpipe_read`` only after fork_exec has returned and closed its copy of
``errpipe_write``, so it parses the same bytes, raises the same exception
with the same filename, and reaps the child as it does natively. Where the
runner reaped the failed child itself (posix_spawn), a stand-in ``true`` is
started for Popen to reap.

Executables: each is tried in order, and the errno reported is the first
one that is not ENOENT or ENOTDIR, else the last one's (os._execvpe's
rule, which _posixsubprocess follows). A plan has no branches, so after
each execve but the last the child writes its errno (ERRNO_SIZE bytes,
from the forking thread's errno, which the child's errno is) into a
private non-blocking pipe, the errno pipe; the parent picks the errno from
those and the last execve's. More than MAX_EXECUTABLES would fill it.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import operator
import sys
from collections.abc import Sequence
from typing import Any

from .. import exec_unix, libc
from .._platform import zerrors
from ..libc import invoke as _call
from ..libc import run_chain as _run
from ..plan import PID_MAX

_close, _fcntl = libc.parent("close"), libc.parent("fcntl")
ERRNO_SIZE = 4
MAX_EXECUTABLES = zerrors.PIPE_CAPACITY // ERRNO_SIZE


def _chdir_tagged() -> bool:
    # 3.13+ Popen tells a chdir failure ("noexec:chdir", filename = cwd)
    # from other failures before exec ("noexec", no filename); before that
    # every "noexec" is taken as chdir's. Read from the Popen in use.
    if sys.version_info >= (3, 13):
        return True
    import subprocess

    try:
        with open(subprocess.__file__, "rb") as source:
            return b'"noexec:chdir"' in source.read()
    except OSError:
        return False


CHDIR_TAGGED = _chdir_tagged()


def error_message(step: str, code: int) -> bytes:
    """What _posixsubprocess's child writes to errpipe_write for a failure at ``step``.

    Port of child_exec's error tail (_posixsubprocess.c), with the chdir
    tag 3.13+ subprocess.py's _execute_child reads.
    """
    if step == "execve":
        return b"OSError:%x:" % code
    if step == "chdir" and CHDIR_TAGGED:
        return b"OSError:%x:noexec:chdir" % code
    return b"OSError:%x:noexec" % code


def executable_errno(errnos: Sequence[int], last: int) -> int:
    """The errno of a failed executable list: the first not ENOENT/ENOTDIR, else the last.

    Port of child_exec's exec loop (_posixsubprocess.c), which follows
    os.py's _execvpe.
    """
    for code in (*errnos, last):
        if code not in (errno.ENOENT, errno.ENOTDIR):
            return code
    return last


def write_message(fd: int, message: bytes) -> None:
    """Write the child's message as the child would: once, errors ignored."""
    write = libc.parent("write")
    while write(fd, message, len(message)) == -1 and ctypes.get_errno() == errno.EINTR:
        pass


def stand_in() -> int:
    """A child for Popen to reap where the runner reaped the failed one.

    posix_spawn (runner_spawn) reaps a child that failed before exec and
    returns only the errno; Popen will waitpid the pid fork_exec returns
    (and warn in __del__ if it cannot). So a failed start through that
    runner costs one more process: an immediately exiting ``true``, started
    through pysyscall. Only on the failure path. Without one, a pid no
    process has (Popen's waitpid gets ECHILD; a kill of it reaches nobody).
    """
    for program in ("/bin/true", "/usr/bin/true"):
        try:
            return exec_unix.fork_exec(program, [program], exec_unix.ProcAttr(env=[], files=[]))
        except OSError:
            pass
    return PID_MAX


def errno_pipe(fds: Any, lowest: int) -> None:
    """A non-blocking close-on-exec pipe into ``fds[3:5]``, its write end at ``lowest`` or above.

    ``fds`` is the start's (plan.Start): every fd made lands there in the
    C call that makes it.
    """
    size = ctypes.sizeof(ctypes.c_int)
    libc.call("pipe2", ctypes.addressof(fds) + 3 * size, zerrors.O_CLOEXEC | zerrors.O_NONBLOCK)
    if fds[4] < lowest:
        duplicate = functools.partial(
            _fcntl, *libc.variadic_arguments("fcntl", (fds[4], zerrors.F_DUPFD_CLOEXEC, lowest))
        )
        _run(map(operator.setitem, (fds,), (5,), map(_call, (duplicate,))))
        if fds[5] == -1:
            raise libc.errno_error(ctypes.get_errno(), "fcntl")
        old = fds[4]
        fds[4], fds[5] = fds[5], -1
        _close(old)


def read_errnos(fd: int, count: int) -> list[int]:
    """The errnos the child wrote (up to ``count``), already all in the pipe."""
    size = count * ERRNO_SIZE
    buffer = ctypes.create_string_buffer(size)
    read = libc.parent("read")
    got = 0
    while got < size:
        n = read(fd, ctypes.addressof(buffer) + got, size - got)
        if n == -1 and ctypes.get_errno() == errno.EINTR:
            continue
        if n <= 0:
            break
        got += n
    values = (ctypes.c_int32 * count).from_buffer(buffer)
    return list(values)[: got // ERRNO_SIZE]
