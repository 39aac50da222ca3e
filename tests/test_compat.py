"""subprocess through pysyscall.compat, each outcome compared with the native fork_exec.

Each start through compat is also checked to have gone through one of
pysyscall's runners (conftest.runner_starts): a compat that handed its
requests to the native _posixsubprocess.fork_exec would give the same
outcomes, and fail here.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import runner_starts

from pysyscall import compat, remembered
from pysyscall.cli import main as cli_main

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


def both(work: Callable[[], Any], started: bool = True) -> Any:
    """Run ``work`` natively, then through compat; assert the same outcome.

    ``started``: compat's run started its children through pysyscall's
    runners. False: nothing went through them (a request refused before any
    fork, or preexec_fn, which compat hands to the native function).
    """
    native = outcome(work)
    with compat.installed(), runner_starts() as ran:
        ours = outcome(work)
    assert ours == native
    assert bool(ran) == started, f"starts through pysyscall's runners: {ran}"
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
    out = both(
        lambda: sh(
            "echo a; echo b >&2",
            capture_output=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    )
    assert out == ("ok", (0, b"a\nb\n", None))
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


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts a child as another user")
def test_user_group_extra_groups() -> None:
    kwargs: dict[str, Any] = {"user": 65534, "group": 65534, "extra_groups": [1, 2]}
    result = both(lambda: sh("id -u; id -g; id -G", **kwargs))
    assert result == ("ok", (0, b"65534\n65534\n65534 1 2\n", b""))
    # _posixsubprocess changes directory before dropping privileges.
    both(lambda: sh("id -u", user=65534, cwd="/root"))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: sets this process's groups")
def test_empty_extra_groups_drops_every_supplementary_group() -> None:
    # extra_groups=[] is setgroups(0, NULL), not "leave the groups as they are".
    previous = os.getgroups()
    os.setgroups([7, 8])
    try:
        result = both(lambda: sh("id -G", group=65534, extra_groups=[]))
        assert result == ("ok", (0, b"65534\n", b""))
        assert both(lambda: sh("id -G", group=65534)) == ("ok", (0, b"65534 7 8\n", b""))
    finally:
        os.setgroups(previous)


def test_preexec_fn() -> None:
    def bad() -> None:
        raise ValueError("no")

    result = both(lambda: sh("true", preexec_fn=bad), started=False)
    assert result[0] == "SubprocessError"
    both(lambda: sh("echo $$ >/dev/null", preexec_fn=os.getpid), started=False)


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
    with compat.installed(), runner_starts() as ran:
        for _ in range(20):
            sh("true")
            outcome(lambda: sh("true", cwd="/nonexistent-dir"))
            outcome(lambda: subprocess.run(["/no/such"], cwd="/"))
            outcome(lambda: subprocess.run(["no-such-program-on-path"], cwd="/"))
            outcome(lambda: sh("true", pass_fds=(250,)))
    assert fds() - before == set()
    assert len(ran) == 5 * 20, ran


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


def _program_dirs(tmp_path: Path) -> dict[str, str]:
    """Directories for PATH searches: one with a non-executable ``prog``,
    one with an executable ``prog``, one empty; and a regular file."""
    dirs = {}
    for name, mode in (("noexec", 0o644), ("exec", 0o755), ("empty", None)):
        d = tmp_path / name
        d.mkdir()
        if mode is not None:
            prog = d / "prog"
            prog.write_text("#!/bin/sh\necho ran $0\n")
            prog.chmod(mode)
        dirs[name] = str(d)
    file = tmp_path / "file"
    file.write_text("")
    dirs["file"] = str(file)
    return dirs


@pytest.mark.parametrize(
    "path",
    [
        # _posixsubprocess reports the first errno that is not ENOENT or
        # ENOTDIR, else the last one.
        ["noexec", "empty"],  # EACCES, then ENOENT: PermissionError
        ["empty", "noexec", "empty"],  # ENOENT, EACCES, ENOENT: PermissionError
        ["file", "empty"],  # ENOTDIR, ENOENT: FileNotFoundError
        ["empty", "file"],  # ENOENT, ENOTDIR: NotADirectoryError
        ["noexec", "exec"],  # EACCES, then found: runs
        ["file", "empty", "exec"],  # ENOTDIR, ENOENT, then found: runs
        ["noexec"],  # one entry: EACCES
        ["empty"],  # one entry: ENOENT
    ],
)
@pytest.mark.parametrize("runner", ["vfork", "fork"])
def test_executable_list_errno(
    tmp_path: Path, path: list[str], runner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On each runner compat's child reports through the errno pipe (on the
    fork runner, a start's status pipe once closed the pipe's read end
    before compat read it: the last errno won)."""
    monkeypatch.setenv("PYSYSCALL_RUNNER", runner)
    dirs = _program_dirs(tmp_path)
    env = {"PATH": ":".join(dirs[p] for p in path)}

    def work() -> Any:
        done = subprocess.run(["prog"], env=env, cwd="/", capture_output=True)
        return done.returncode, done.stdout, done.stderr

    result = both(work)
    if "exec" in path:
        assert result[0] == "ok" and result[1][1].startswith(b"ran ")
    else:
        assert result[2] == "prog"
        first = next((p for p in path if p == "noexec"), path[-1])
        expected = {"noexec": "PermissionError", "empty": "FileNotFoundError"}
        expected["file"] = "NotADirectoryError"
        assert result[0] == expected[first]


def test_executable_list_errno_remembered(tmp_path: Path) -> None:
    # The same request again, from its remembered plan, and after the
    # file it failed on became executable.
    dirs = _program_dirs(tmp_path)
    env = {"PATH": f"{dirs['noexec']}:{dirs['empty']}"}
    with compat.installed(), runner_starts() as ran:
        for _ in range(3):
            assert outcome(lambda: subprocess.run(["prog"], env=env, cwd="/"))[:2] == (
                "PermissionError",
                errno.EACCES,
            )
        os.chmod(os.path.join(dirs["noexec"], "prog"), 0o755)
        done = subprocess.run(["prog"], env=env, cwd="/", capture_output=True)
        assert done.stdout.startswith(b"ran ")
    assert len(ran) == 4, ran


def compat_entries() -> list[remembered.Entry]:
    """The requests compat keeps plans for, in the plan cache it shares with exec_unix."""
    return [entry for key, entry in remembered._entries.items() if key[0] == "compat"]


def test_plan_remembered_and_given_back() -> None:
    compat.forget()
    with compat.installed():
        sh("true")
        assert len(compat_entries()) == 1
        (entry,) = compat_entries()
        assert len(entry.plans) == 1
        first = entry.plans[0]
        sh("true")
        assert entry.plans == [first]  # taken, used again, given back
        sh("true", cwd="/tmp")  # another request: another plan
        assert len(compat_entries()) == 2


@pytest.mark.parametrize("runner_name", ["vfork", "fork"])
@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGRTMIN + 3])
def test_remembered_plan_follows_signal_handlers(
    signum: int, runner_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plan resets caught handlers and leaves ignored ones: a handler
    # changed between two starts of one request must be seen by the second
    # (a real-time signal too: /proc/self/stat would not show it). The vfork
    # child applies the rule itself; the fork runner's plan is made again.
    # (posix_spawn cannot run this plan: closing the parent's pipe ends.)
    monkeypatch.setenv("PYSYSCALL_RUNNER", runner_name)
    script = "grep -E 'Sig(Ign|Cgt)' /proc/self/status"
    previous = signal.getsignal(signum)
    try:
        signal.signal(signum, lambda *_: None)
        caught = both(lambda: sh(script))
        signal.signal(signum, signal.SIG_IGN)
        ignored = both(lambda: sh(script))
        assert caught != ignored  # ignored in the child only now
        signal.signal(signum, signal.SIG_DFL)
        assert both(lambda: sh(script)) == caught
    finally:
        signal.signal(signum, previous)


@pytest.mark.parametrize("runner_name", ["vfork", "fork"])
def test_kept_plan_reads_the_handlers_only_where_its_runner_lists_them(
    runner_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept plan's start reads /proc/self/status only for a runner whose child
    resets the plan's list (fork), not for the vfork child, which applies the
    plan's rule to every signal itself."""
    from pysyscall import runtime

    monkeypatch.setenv("PYSYSCALL_RUNNER", runner_name)
    reads: list[int] = []
    real = runtime._proc_signal_masks

    def counted() -> Any:
        reads.append(1)
        return real()

    monkeypatch.setattr(runtime, "_proc_signal_masks", counted)
    compat.forget()
    with compat.installed():
        assert sh("true")[0] == 0
        assert reads  # a new plan reads them
        reads.clear()
        assert sh("true")[0] == 0
    (entry,) = compat_entries()
    assert len(entry.plans) == 1
    assert len(reads) == (1 if runner_name == "fork" else 0)


def test_restore_signals_with_sigpipe_caught_or_default() -> None:
    script = "grep -E 'Sig(Ign|Cgt)' /proc/self/status"
    previous = signal.getsignal(signal.SIGPIPE)
    try:
        for handler in (signal.SIG_DFL, lambda *_: None, signal.SIG_IGN):
            signal.signal(signal.SIGPIPE, handler)
            for restore in (True, False):
                both(functools.partial(sh, script, restore_signals=restore))
    finally:
        signal.signal(signal.SIGPIPE, previous)


def test_env_none_is_the_c_librarys_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    # env=None: execv passes the C library's environ, which os.environ keeps
    # in step, and os.putenv and os.unsetenv change behind its back.
    monkeypatch.setenv("PYSYSCALL_COMPAT_A", "1")
    both(lambda: sh("echo $PYSYSCALL_COMPAT_A"))
    monkeypatch.setenv("PYSYSCALL_COMPAT_A", "2")
    assert both(lambda: sh("echo $PYSYSCALL_COMPAT_A")) == ("ok", (0, b"2\n", b""))
    monkeypatch.delenv("PYSYSCALL_COMPAT_A")
    assert both(lambda: sh("echo x$PYSYSCALL_COMPAT_A")) == ("ok", (0, b"x\n", b""))
    monkeypatch.setenv("PYSYSCALL_COMPAT_C", "in os.environ")
    compat.forget()
    try:
        script = functools.partial(sh, "echo x$PYSYSCALL_COMPAT_B y$PYSYSCALL_COMPAT_C")
        for value in ("behind", "changed"):  # a new plan, then the kept one
            os.putenv("PYSYSCALL_COMPAT_B", value)
            os.unsetenv("PYSYSCALL_COMPAT_C")
            assert both(script) == ("ok", (0, f"x{value} y\n".encode(), b""))
        assert len(compat_entries()) == 1  # the second start was the kept plan's
        assert "PYSYSCALL_COMPAT_B" not in os.environ and "PYSYSCALL_COMPAT_C" in os.environ
    finally:
        os.unsetenv("PYSYSCALL_COMPAT_B")
    assert both(lambda: sh("echo x$PYSYSCALL_COMPAT_B")) == ("ok", (0, b"x\n", b""))


def test_remembered_plan_not_used_by_a_forked_child() -> None:
    with compat.installed(), runner_starts() as ran:
        sh("true")
        assert ran
        key = compat.request_key(_captured_arguments(lambda: sh("true")))
        r, w = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: threads
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the forked child
            try:
                child_key = compat.request_key(_captured_arguments(lambda: sh("true")))
                code = sh("exit 7")[0]
                os.write(w, b"%d %d" % (code, child_key is not None and child_key != key))
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            assert f.read() == b"7 1"
        os.waitpid(pid, 0)


KEPT_STARTS = """
import subprocess, sys
sys.path.insert(0, sys.argv[1])
from pysyscall import compat

compat.install()
for _ in range(int(sys.argv[2])):
    subprocess.run(["/bin/true"], cwd="/", check=True)
"""


def test_kept_starts_ask_no_pid(tmp_path: Path) -> None:
    """A start asks no getpid of the kernel (remembered.pid): under strace,
    ten starts more make no getpid call more. In a fresh interpreter, whose
    parent process alone is traced (the children's execve of /bin/true are
    not its calls)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace is not installed (apt-get install strace); CI installs it")
    script = tmp_path / "kept.py"
    script.write_text(KEPT_STARTS)
    package_parent = str(Path(compat.__file__).resolve().parent.parent)

    def getpid_calls(starts: int) -> int:
        trace = tmp_path / f"trace-{starts}"
        subprocess.run(
            [strace, "-qq", "-e", "trace=getpid", "-o", str(trace), sys.executable, str(script),
             package_parent, str(starts)],
            check=True, timeout=120,
        )  # fmt: skip
        return trace.read_text().count("getpid(")

    assert getpid_calls(12) == getpid_calls(2)


def _captured_arguments(work: Callable[[], Any]) -> tuple[Any, ...]:
    """The arguments Popen passes to fork_exec while ``work`` runs (natively)."""
    seen: list[tuple[Any, ...]] = []

    def record(*arguments: Any) -> int:
        seen.append(arguments)
        assert compat.NATIVE is not None
        return compat.NATIVE(*arguments)

    with compat.installed():
        for module, name, _ in compat._saved:
            setattr(module, name, record)
        try:
            work()
        finally:
            for module, name, _ in compat._saved:
                setattr(module, name, compat.fork_exec)
    return seen[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user": 2**64},
        {"user": 2**40},
        {"user": -2},
        {"group": 2**64},
        {"group": 2**33},
        {"extra_groups": [2**64]},
        {"extra_groups": [2**40]},
        {"user": "no-such-user-here"},
        {"group": 1.5},
        {"extra_groups": ["no-such-group-here"]},
        {"pass_fds": (-3,)},
        {"cwd": "a\0b"},
        {"env": {"A": "b\0c"}},
        {"args": ["x\0y"]},
    ],
)
def test_bad_arguments_through_popen(kwargs: dict[str, Any]) -> None:
    kwargs = dict(kwargs)
    args = kwargs.pop("args", ["/bin/true"])
    kwargs.setdefault("cwd", "/")
    result = both(lambda: subprocess.run(args, **kwargs), started=False)
    assert result[0] in ("ValueError", "OverflowError", "TypeError", "KeyError")


def test_bad_arguments_to_fork_exec() -> None:
    # Called directly, as the stdlib's own tests do: the same exception
    # types as the native function, and nothing started.
    good = list(_captured_arguments(lambda: sh("true")))
    index = {name: i for i, name in enumerate(compat.PARAMETERS)}
    cases: list[tuple[str, Any]] = [
        ("args", 123),
        ("args", [b"a\0b"]),
        ("args", [1]),
        ("executable_list", 123),
        ("executable_list", ["str"]),
        ("executable_list", [b"a\0b"]),
        ("cwd", 123),
        ("env_list", 123),
        ("env_list", ["A=b"]),
        ("fds_to_keep", [3]),
        ("fds_to_keep", (5, 4)),
        ("fds_to_keep", (6, 6)),
        ("fds_to_keep", (-1,)),
        ("fds_to_keep", ("str",)),
        ("fds_to_keep", (2**63,)),
        ("p2cread", "0"),
        ("p2cread", 2**40),
        ("p2cread", 1.0),
        ("child_umask", None),
        ("gid", "0"),
        ("gid", 2**64),
        ("uid", -5),
        ("extra_groups", (1, 2)),
        ("extra_groups", ["a"]),
        ("extra_groups", [2**64]),
        ("extra_groups", list(range(70000))),
    ]
    if sys.version_info >= (3, 11):
        cases.append(("pgid_to_set", 2**40))
    for name, value in cases:
        arguments = list(good)
        arguments[index[name]] = value
        r, w = os.pipe()
        arguments[index["errpipe_read"]], arguments[index["errpipe_write"]] = r, w + 100
        if name != "fds_to_keep":
            arguments[index["fds_to_keep"]] = (w + 100,)
        for stdio in ("p2cread", "p2cwrite", "c2pread", "c2pwrite", "errread", "errwrite"):
            if stdio != name:
                arguments[index[stdio]] = -1
        os.dup2(w, w + 100)
        try:
            assert compat.NATIVE is not None
            native = outcome(lambda: compat.NATIVE(*arguments))  # noqa: B023
            ours = outcome(lambda: compat.fork_exec(*arguments))  # noqa: B023
        finally:
            for fd in (r, w, w + 100):
                os.close(fd)
        if name == "pgid_to_set" and native[0] == "ok":
            # 3.12's converter truncates a pid_t to 32 bits (setpgid(0, 0)
            # here), and so does compat there: both start the program.
            assert compat.arguments._native_truncates_pgid()
            assert ours[0] == "ok"
            for pid in (native[1], ours[1]):
                assert os.waitpid(pid, 0)[1] == 0
            continue
        assert native[0] != "ok", (name, value)
        assert ours[0] == native[0], (name, value, ours, native)
    # errpipe_write below 3 with close_fds
    arguments = list(good)
    arguments[index["errpipe_write"]] = 2
    assert compat.NATIVE is not None
    native = outcome(lambda: compat.NATIVE(*arguments))
    assert outcome(lambda: compat.fork_exec(*arguments)) == native
    assert native[0] == "ValueError"


def test_pass_fds_not_open_and_stdio_inherited() -> None:
    # A pass_fds entry that is not open fails in the child (EBADF, before
    # exec); a program with only its stderr a pipe, the rest inherited
    # (capture_output=False: subprocess.run refuses it beside stderr
    # before any start).
    both(lambda: sh("true", pass_fds=(250,)))
    both(lambda: sh("true", cwd=None, pass_fds=(250,)))
    out = both(lambda: sh("echo x >&2", capture_output=False, stderr=subprocess.PIPE))
    assert out == ("ok", (0, None, b"x\n"))


def test_failed_child_reaped_by_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    # A runner that reaps the child it failed to start (posix_spawn does)
    # leaves no pid for Popen to wait for: compat starts a stand-in that
    # exits at once, so Popen raises as natively and leaves nothing behind.
    real_start = compat.exec_unix._start
    calls = []

    def reaped(record: Any, plan: Any, reap_failed: bool = True, runner: Any = None) -> Any:
        calls.append(plan)
        if len(calls) > 1:  # the stand-in's own start
            return real_start(record, plan, reap_failed)
        error = OSError(errno.ENOENT, "No such file or directory", "/no/such")
        error.step = "execve"  # type: ignore[attr-defined]
        raise error

    compat.forget()
    monkeypatch.setattr(compat.exec_unix, "_start", reaped)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        with compat.installed():
            result = outcome(lambda: subprocess.run(["/no/such"], cwd="/"))
    assert result[:3] == ("FileNotFoundError", errno.ENOENT, "/no/such")
    assert len(calls) == 2  # compat's start, then the stand-in's
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_child_error_with_a_bad_errpipe() -> None:
    # Called directly with an errpipe_write that is not open: the native
    # child's write fails and is ignored; so is compat's. Both return the
    # failed child's pid for the caller to reap.
    arguments = list(_captured_arguments(lambda: sh("true")))
    index = {name: i for i, name in enumerate(compat.PARAMETERS)}
    r, w = os.pipe()
    os.close(w)
    for name, value in (
        ("executable_list", (b"/no/such/program",)),
        ("close_fds", False),
        ("fds_to_keep", ()),
        ("errpipe_read", r),
        ("errpipe_write", 250),
        *[(stdio, -1) for stdio in ("p2cread", "p2cwrite", "c2pread", "c2pwrite")],
        *[(stdio, -1) for stdio in ("errread", "errwrite")],
    ):
        arguments[index[name]] = value
    try:
        assert compat.NATIVE is not None
        for start in (compat.NATIVE, compat.fork_exec):
            with runner_starts() as ran:
                pid = start(*arguments)
            assert bool(ran) == (start is compat.fork_exec), ran
            _, status = os.waitpid(pid, 0)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) in (253, 255)
    finally:
        os.close(r)


MULTIPROCESSING = """
import _posixsubprocess, multiprocessing, sys
sys.path.insert(0, sys.argv[1])
from pysyscall import compat, runners

def double(x):
    return 2 * x

if __name__ == "__main__":
    calls = []
    started = []  # starts through pysyscall's runners
    for module in runners.RUNNERS:
        def spy(*arguments, real=module.fork_and_exec_in_child):
            started.append(1)
            return real(*arguments)
        module.fork_and_exec_in_child = spy
    with compat.installed():
        installed = _posixsubprocess.fork_exec

        def counted(*arguments):
            calls.append(1)
            return installed(*arguments)

        _posixsubprocess.fork_exec = counted
        try:
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                assert pool.map(double, range(4)) == [0, 2, 4, 6]
        finally:
            _posixsubprocess.fork_exec = installed
    print(installed is compat.fork_exec, len(calls) >= 1, len(started) >= 1)
"""


def test_multiprocessing_spawn(tmp_path: Path) -> None:
    """multiprocessing starts its spawn children with _posixsubprocess's
    fork_exec itself: through compat on 3.9 and 3.10, where install()
    replaces that function; natively from 3.11, where it replaces
    subprocess._fork_exec. In a fresh interpreter: multiprocessing leaves
    its resource tracker running as a child of the process that used it."""
    script = tmp_path / "pool.py"
    script.write_text(MULTIPROCESSING)
    package_parent = str(Path(compat.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, str(script), package_parent], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    through_compat = str(sys.version_info < (3, 11))
    assert done.stdout.split() == [through_compat, "True", through_compat]


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
    # In this process, to see that the start went through pysyscall's runners
    # (--dir keeps 3.13+ Popen off its own posix_spawn path, which compat
    # does not route).
    with runner_starts() as ran:
        assert cli_main(["run", "--via-subprocess", "--dir", "/", "--", SH, "-c", "exit 3"]) == 3
    assert len(ran) == 1, ran


def test_credential_steps_written_once() -> None:
    # compat's child and linux.py's change their ids through one function,
    # linux.credential_steps: no other module names the system calls.
    package = Path(compat.__file__).resolve().parent.parent
    writers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"SYS_SET(GROUPS|GID|UID|REGID|REUID)\b", path.read_text())
        and not path.name.startswith("zsysnum_")
    )
    assert writers == ["linux.py"]
