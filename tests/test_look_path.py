"""look_path, Go's exec.LookPath; fork_exec's hint that it does no PATH search.

Ports of Go's os/exec lp_unix_test.go (TestLookPathUnixEmptyPath) and of
the ErrDot cases of lp_test.go/dot_test.go, with PATH and the current
directory set per test.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pysyscall
from pysyscall import runners
from pysyscall.lp_unix import LookPathError

RUNNER_NAMES = [
    pytest.param(
        runner.NAME,
        marks=pytest.mark.skipif(
            runner.unavailable() is not None, reason=f"{runner.NAME}: {runner.unavailable()}"
        ),
    )
    for runner in runners.RUNNERS
]


def program(directory: Path, name: str = "prog", mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\necho found\n")
    path.chmod(mode)
    return path


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_found_in_path_absolute(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = cwd / "a", cwd / "b"
    program(first, mode=0o644)  # not executable: skipped
    found = program(second)
    program(cwd / "c")
    monkeypatch.setenv("PATH", f"{first}:{second}:{cwd / 'c'}")
    assert pysyscall.look_path("prog") == str(found)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert pysyscall.look_path("sh") in ("/usr/bin/sh", "/bin/sh")


def test_not_found(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{cwd / 'missing'}:/bin")
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.look_path("no-such-program-anywhere")
    assert isinstance(info.value, LookPathError)
    assert str(info.value) == 'exec: "no-such-program-anywhere": executable file not found in $PATH'
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == "no-such-program-anywhere"
    # A directory of that name is not a program.
    (cwd / "d" / "prog").mkdir(parents=True)
    monkeypatch.setenv("PATH", str(cwd / "d"))
    with pytest.raises(FileNotFoundError):
        pysyscall.look_path("prog")


def test_empty_or_unset_path_finds_nothing(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Port of TestLookPathUnixEmptyPath: no default path, as Go (unlike shutil.which)."""
    program(cwd)
    for value in ("", None):
        if value is None:
            monkeypatch.delenv("PATH")
        else:
            monkeypatch.setenv("PATH", value)
        with pytest.raises(FileNotFoundError, match="executable file not found"):
            pysyscall.look_path("sh")
        with pytest.raises(FileNotFoundError, match="executable file not found"):
            pysyscall.look_path("prog")


@pytest.mark.parametrize("entry", ["", ".", "bin", "./bin"])
def test_relative_path_entry_is_err_dot(
    entry: str, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Go 1.19: found through a relative PATH entry is an error that says so."""
    program(cwd / entry if entry else cwd)
    monkeypatch.setenv("PATH", f"/nonexistent:{entry}:/bin")
    with pytest.raises(pysyscall.ErrDot) as info:
        pysyscall.look_path("prog")
    expected = "bin/prog" if "bin" in entry else "prog"
    assert info.value.path == expected
    assert info.value.filename == "prog"
    assert str(info.value) == (
        'exec: "prog": cannot run executable found relative to current directory'
    )
    assert isinstance(info.value, OSError) and isinstance(info.value, LookPathError)
    # What it found is the program in the current directory.
    done = subprocess.run([str(cwd / info.value.path)], capture_output=True, text=True)
    assert done.stdout == "found\n"
    # An absolute entry before it wins, with no error.
    absolute = program(cwd / "abs")
    monkeypatch.setenv("PATH", f"{absolute.parent}:{entry}")
    assert pysyscall.look_path("prog") == str(absolute)


def test_name_with_slash_is_not_searched(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program(cwd / "sub")
    monkeypatch.setenv("PATH", "")
    assert pysyscall.look_path("sub/prog") == "sub/prog"  # relative, but not from PATH
    assert pysyscall.look_path("./sub/prog") == "./sub/prog"
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.look_path("./missing")
    assert str(info.value) == 'exec: "./missing": No such file or directory'
    assert info.value.filename == "./missing"
    with pytest.raises(IsADirectoryError):
        pysyscall.look_path("./sub")
    program(cwd, "data", 0o644)
    with pytest.raises(PermissionError) as denied:
        pysyscall.look_path("./data")
    assert denied.value.errno == errno.EACCES and isinstance(denied.value, LookPathError)


def test_the_kernel_decides_for_the_effective_ids(cwd: Path) -> None:
    """Asked of the kernel (faccessat, AT_EACCESS), not read off the mode: root
    may run a file with any execute bit; its owner, only with the owner's."""
    others = str(program(cwd, "others", 0o601))  # only others may execute it
    if os.geteuid() == 0:
        assert pysyscall.look_path(others) == others
    else:
        with pytest.raises(PermissionError):
            pysyscall.look_path(others)
    with pytest.raises(PermissionError):  # no execute bit: not even root
        pysyscall.look_path(str(program(cwd, "none", 0o644)))


def test_nul_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="file contains a NUL"):
        pysyscall.look_path("pr\0g")


@pytest.mark.parametrize("runner", RUNNER_NAMES)
def test_fork_exec_says_it_does_no_path_search(
    runner: str, cwd: Path, monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    monkeypatch.setattr(runners, "override", runner)
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("ls", ["ls"])
    assert info.value.step == "execve"  # type: ignore[attr-defined]
    assert info.value.filename == "ls"
    message = str(info.value)
    assert "execve does no PATH search: pysyscall.look_path('ls') finds the program" in message
    assert message.startswith("[Errno 2] No such file or directory (child step")
    # With a slash, the name is the path: no hint.
    with pytest.raises(FileNotFoundError) as info:
        pysyscall.fork_exec("./ls", ["ls"])
    assert "PATH" not in str(info.value)
    # The remedy works.
    r, w = os.pipe()
    try:
        pid = pysyscall.fork_exec(
            pysyscall.look_path("sh"), ["sh", "-c", "echo ok"], pysyscall.ProcAttr(files=[0, w, 2])
        )
    finally:
        os.close(w)
    with os.fdopen(r) as f:
        assert f.read() == "ok\n"
    assert pysyscall.wait4(pid)[1] == 0


def cli(*args: str, path: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysyscall", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=dict(os.environ, PATH=path),
    )


def test_cli_searches_with_look_path(cwd: Path) -> None:
    program(cwd / "bin")
    out = cli("run", "--", "prog", path=f"{cwd / 'bin'}:/usr/bin:/bin", cwd=cwd)
    assert (out.returncode, out.stdout) == (0, "found\n")
    out = cli("run", "--", "prog", path="bin:/usr/bin:/bin", cwd=cwd)
    assert out.returncode == 126, out
    assert out.stderr == (
        'pysyscall: exec: "prog": cannot run executable found relative to current directory\n'
    )
    out = cli("run", "--", "bin/prog", path="/usr/bin:/bin", cwd=cwd)  # a path: not searched
    assert (out.returncode, out.stdout) == (0, "found\n")
