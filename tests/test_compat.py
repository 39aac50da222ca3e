"""subprocess through pysyscall.compat, each outcome compared with the native fork_exec."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
import threading
from typing import Any, Callable

import pytest

from pysyscall import compat

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="compat plans Linux children")

SH = "/bin/sh"


def outcome(work: Callable[[], Any]) -> Any:
    """What ``work`` returned, or its exception's type, errno, filename and text."""
    try:
        return ("ok", work())
    except BaseException as error:  # compared, not swallowed
        return (
            type(error).__name__,
            getattr(error, "errno", None),
            getattr(error, "filename", None),
            str(error),
        )


def both(work: Callable[[], Any]) -> Any:
    """Run ``work`` natively, then through compat; assert the same outcome."""
    native = outcome(work)
    with compat.installed():
        ours = outcome(work)
    assert ours == native
    return ours


def sh(script: str, **kwargs: Any) -> Any:
    kwargs.setdefault("cwd", "/")  # keeps 3.13+ Popen off its posix_spawn path
    kwargs.setdefault("capture_output", True)
    done = subprocess.run([SH, "-c", script], **kwargs)
    return done.returncode, done.stdout, done.stderr


def _distinct_words(script: str, **kwargs: Any) -> int:
    return len(set(sh(script, **kwargs)[1].split()))


def test_signature_by_version() -> None:
    count = {(3, 9): 21, (3, 10): 21, (3, 11): 23, (3, 12): 23, (3, 13): 23, (3, 14): 22}
    for version, n in count.items():
        assert len(compat.parameters(version)) == n
    with pytest.raises(TypeError):
        compat.fork_exec(1, 2, 3)


def test_install_uninstall() -> None:
    compat.install()
    try:
        if sys.version_info >= (3, 11):
            assert subprocess._fork_exec is compat.fork_exec  # type: ignore[attr-defined]
        else:
            import _posixsubprocess

            assert _posixsubprocess.fork_exec is compat.fork_exec
    finally:
        compat.uninstall()
    if sys.version_info >= (3, 11):
        assert subprocess._fork_exec is not compat.fork_exec  # type: ignore[attr-defined]


def test_pipes_both_ways_large() -> None:
    data = os.urandom(4 << 20)
    result = both(lambda: sh("cat; echo err >&2; exit 3", input=data))
    assert result == ("ok", (3, data, b"err\n"))


def test_stdout_to_stderr_and_devnull() -> None:
    both(lambda: sh("echo a; echo b >&2", stderr=subprocess.STDOUT))
    both(lambda: sh("cat; echo x", stdin=subprocess.DEVNULL))


def test_timeout() -> None:
    def work() -> Any:
        with subprocess.Popen([SH, "-c", "sleep 5"], cwd="/") as p:
            try:
                p.wait(timeout=0.2)
            except subprocess.TimeoutExpired as error:
                p.kill()
                return ("timeout", error.timeout, p.wait())
        return None

    assert both(work) == ("ok", ("timeout", 0.2, -signal.SIGKILL))
    both(lambda: sh("sleep 5", timeout=0.2))


def test_cwd_error() -> None:
    result = both(lambda: sh("true", cwd="/nonexistent-dir"))
    assert result[0] == "FileNotFoundError" and result[2] == "/nonexistent-dir"
    both(lambda: sh("true", cwd="/etc/passwd"))


def test_missing_and_unrunnable_program() -> None:
    result = both(lambda: subprocess.run(["/no/such/program"], cwd="/"))
    assert result[0] == "FileNotFoundError" and result[2] == "/no/such/program"
    both(lambda: subprocess.run(["no-such-program-on-path"], cwd="/"))
    assert both(lambda: subprocess.run(["/etc/passwd"], cwd="/"))[0] == "PermissionError"


def test_path_search_and_env() -> None:
    both(lambda: sh("echo $FOO", env={"FOO": "bar", "PATH": "/usr/bin:/bin"}))
    both(lambda: subprocess.run(["env"], env={"A": "1"}, cwd="/", capture_output=True).stdout)


def test_close_fds_pass_fds() -> None:
    r, w = os.pipe()
    os.set_inheritable(r, True)
    try:
        script = "ls /proc/self/fd | sort -n | tr '\\n' ' '"
        for kwargs in ({}, {"close_fds": False}, {"pass_fds": (w,)}):
            result = both(functools.partial(sh, script, **kwargs))
            names = result[1][1].split()
            assert (str(r).encode() in names) == (kwargs.get("close_fds") is False)
            if "pass_fds" in kwargs:
                assert str(w).encode() in names
    finally:
        os.close(r)
        os.close(w)


def test_restore_signals() -> None:
    script = "grep SigIgn /proc/self/status"
    for restore in (True, False):
        both(functools.partial(sh, script, restore_signals=restore))


def test_start_new_session() -> None:
    script = "ps -o sid= -p $$; echo $$"
    for new in (True, False):
        result = both(functools.partial(_distinct_words, script, start_new_session=new))
        assert result == ("ok", 1 if new else 2)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="process_group is 3.11+")
def test_process_group() -> None:
    script = "ps -o pgid= -p $$; echo $$"
    result = both(functools.partial(_distinct_words, script, process_group=0))
    assert result == ("ok", 1)


def test_umask() -> None:
    assert both(lambda: sh("umask", umask=0o27)) == ("ok", (0, b"0027\n", b""))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_user_group_extra_groups() -> None:
    kwargs: dict[str, Any] = {"user": 65534, "group": 65534, "extra_groups": [1, 2]}
    result = both(lambda: sh("id -u; id -g; id -G", **kwargs))
    assert result == ("ok", (0, b"65534\n65534\n65534 1 2\n", b""))
    # _posixsubprocess changes directory before dropping privileges.
    both(lambda: sh("id -u", user=65534, cwd="/root"))


def test_preexec_fn() -> None:
    def bad() -> None:
        raise ValueError("no")

    result = both(lambda: sh("true", preexec_fn=bad))
    assert result[0] == "SubprocessError"
    both(lambda: sh("echo $$ >/dev/null", preexec_fn=os.getpid))


def test_asyncio() -> None:
    async def main() -> Any:
        proc = await asyncio.create_subprocess_exec(
            SH,
            "-c",
            "cat; exit 4",
            cwd="/",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate(b"hello" * 10000)
        return out, proc.returncode

    assert both(lambda: asyncio.run(main())) == ("ok", (b"hello" * 10000, 4))


def test_many_threads() -> None:
    def work() -> Any:
        results: list[Any] = []

        def one(i: int) -> None:
            for _ in range(10):
                results.append(sh(f"echo {i}")[1])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sorted(results)

    both(work)


def test_no_fd_leak() -> None:
    def fds() -> set[str]:
        return set(os.listdir("/proc/self/fd"))

    before = fds()
    with compat.installed():
        for _ in range(20):
            sh("true")
            outcome(lambda: sh("true", cwd="/nonexistent-dir"))
            outcome(lambda: subprocess.run(["/no/such"], cwd="/"))
    assert fds() - before == set()


def test_stdio_given_as_itself_and_swapped() -> None:
    # stdin=0 / stdout=1 (the fd itself), and stdout and stderr crossed.
    both(
        lambda: (
            subprocess.run([SH, "-c", "echo o; echo e >&2"], cwd="/", stdin=0, stdout=1).returncode
        )
    )
    r, w = os.pipe()
    try:
        both(lambda: subprocess.run([SH, "-c", "echo x"], cwd="/", stdout=w, stderr=w).returncode)
    finally:
        os.close(r)
        os.close(w)


def test_executable_list_path_search() -> None:
    both(lambda: subprocess.run(["sh", "-c", "echo found"], cwd="/", capture_output=True).stdout)
    both(lambda: subprocess.run(["sh"], executable="/no/such/sh", cwd="/"))


def test_cli_via_subprocess() -> None:
    def cli(*args: str) -> tuple[int, bytes, bytes]:
        done = subprocess.run(
            [sys.executable, "-m", "pysyscall", "run", "--via-subprocess", *args],
            capture_output=True,
        )
        return done.returncode, done.stdout, done.stderr

    assert cli("--", SH, "-c", "echo hi; exit 3")[:2] == (3, b"hi\n")
    assert cli("--dir", "/nonexistent-dir", "--", "true")[0] == 126
    assert cli("--", "no-such-program-anywhere")[0] == 127
    assert cli("--", SH, "-c", "kill -9 $$")[0] == 128 + signal.SIGKILL
