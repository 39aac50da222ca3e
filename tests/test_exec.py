"""pysyscall.exec (Go's syscall.Exec) and the exec lock (go.dev/issue/19546)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import wait_until

import pysyscall
from pysyscall import runtime

SRC = str(Path(pysyscall.__file__).resolve().parent.parent)


def python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": SRC, **env},
    )


def test_exec_replaces_the_process() -> None:
    out = python(
        "import os, pysyscall\n"
        "print(os.getpid(), flush=True)\n"
        "pysyscall.exec('/bin/sh', ['sh', '-c', 'echo $$ $X'], {'X': 'replaced'})\n"
        "print('not reached')\n"
        "os._exit(9)\n"
    )
    assert out.returncode == 0, out.stderr
    python_pid, shell_pid, x = out.stdout.split()
    assert shell_pid == python_pid, "the shell is not the same process"
    assert x == "replaced"


def test_exec_while_threads_start() -> None:
    """Port of the spirit of Go's TestExec: exec while other threads keep
    starting threads; the new program runs, whatever the threads were doing."""
    out = python(
        "import threading, pysyscall\n"
        "def spawner():\n"
        "    while True:\n"
        "        t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
        "for _ in range(4):\n"
        "    threading.Thread(target=spawner, daemon=True).start()\n"
        "pysyscall.exec('/bin/echo', ['echo', 'exec won'])\n"
    )
    assert (out.returncode, out.stdout) == (0, "exec won\n"), out.stderr


def test_failed_exec_leaves_the_process_working() -> None:
    out = python(
        "import threading, pysyscall\n"
        "try:\n"
        "    pysyscall.exec('/nonexistent/prog', ['prog'])\n"
        "except FileNotFoundError as e:\n"
        "    print('raised', e.filename)\n"
        "t = threading.Thread(target=lambda: print('thread ran')); t.start(); t.join()\n"
        "pid = pysyscall.fork_exec('/bin/true', ['true'])\n"
        "print('child', pysyscall.wait4(pid)[1].exit_status())\n"
    )
    assert out.stdout == "raised /nonexistent/prog\nthread ran\nchild 0\n", out.stderr


def test_failed_exec_names_the_step_and_hints_at_look_path() -> None:
    """exec's error is a child step's: .step, the path, the same PATH hint
    as fork_exec's (none for a path with a slash, nor for an empty one)."""
    out = python(
        "import pysyscall\n"
        "for argv0 in ['no-such-prog-here', './no-such-prog-here', '']:\n"
        "    try:\n"
        "        pysyscall.exec(argv0, ['prog'])\n"
        "    except FileNotFoundError as e:\n"
        "        print(repr(e.step), repr(e.filename), 'look_path' in str(e))\n"
    )
    assert out.stdout.splitlines() == [
        "'execve' 'no-such-prog-here' True",
        "'execve' './no-such-prog-here' False",
        "'execve' '' False",
    ], out.stderr


def test_exec_bad_input() -> None:
    with pytest.raises(ValueError, match="NUL"):
        pysyscall.exec("/bin/tr\0ue", ["true"])
    with pytest.raises(ValueError, match="empty"):
        pysyscall.exec("/bin/true", [])


def start_a_thread_while_exec_runs(hooked: bool) -> bool:
    """Whether a thread start issued while exec holds the lock got through."""
    go = threading.Event()
    started = threading.Event()

    def starter() -> None:
        go.wait()
        threading.Thread(target=started.set).start()

    s = threading.Thread(target=starter)
    s.start()  # running before the lock is taken
    if not hooked:
        runtime.remove_thread_hook()
    hold = runtime.before_exec()  # what exec does around execve
    try:
        go.set()
        if hooked:  # the thread start parks on the exec lock (else: timed out)
            wait_until(lambda: runtime.exec_lock._waiters)
            got_through = started.is_set()
        else:
            got_through = started.wait(5)
    finally:
        hold.release()
        runtime.install_thread_hook()
    assert started.wait(5)
    s.join()
    return got_through


def test_thread_start_waits_for_exec_in_progress() -> None:
    assert not start_a_thread_while_exec_runs(hooked=True)


def test_thread_start_without_the_hook_does_not_wait() -> None:
    """The control: the wait above is the hook's doing."""
    assert start_a_thread_while_exec_runs(hooked=False)


def test_thread_starts_do_not_serialize() -> None:
    """The read side is shared: a start while another start holds it goes on."""
    runtime.exec_lock.rlock()  # as a thread start in progress would
    try:
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join(5)
        assert not t.is_alive()
    finally:
        runtime.exec_lock.runlock()


def test_thread_hook_is_installed_for_this_python() -> None:
    hooked = [
        name
        for name in ("_start_joinable_thread", "_start_new_thread")
        if hasattr(getattr(threading, name, None), "__wrapped__")
    ]
    assert hooked, "no thread-start function of this CPython was hooked"


def test_thread_hook_can_be_turned_off() -> None:
    out = python(
        "import threading, pysyscall\n"
        "print(any(hasattr(getattr(threading, n, None), '__wrapped__')\n"
        "          for n in ('_start_joinable_thread', '_start_new_thread')))\n",
        PYSYSCALL_THREAD_HOOK="0",
    )
    assert out.stdout == "False\n", out.stderr
