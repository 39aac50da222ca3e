"""The package as a user meets it: imports, the README's name map, lint."""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pysyscall

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(pysyscall.__file__).resolve().parent


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_import_fork_exec_as_the_design_card_writes_it() -> None:
    code = (
        "import pysyscall.fork_exec\n"
        "import pysyscall\n"
        "assert callable(pysyscall.fork_exec) and pysyscall.fork_exec.__name__ == 'fork_exec'\n"
        "pid = pysyscall.fork_exec('/bin/true', ['true'])\n"
        "print(pysyscall.wait4(pid)[1].exit_status())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert (out.returncode, out.stdout, out.stderr) == (0, "0\n", "")


def test_import_loads_nothing_heavy() -> None:
    """``import pysyscall`` loads no other module; a name, the layer; the CLI loads when run.

    -S: without site, whatever site imports (typing, often) is not there
    already, so the import is seen loading it or not.
    """
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "def loaded(): print(' '.join(sorted(set(sys.modules) - before)))\n"
        "import pysyscall\n"
        "loaded()\n"
        "from pysyscall import ProcAttr, fork_exec\n"
        "pysyscall.wait4(fork_exec('/bin/true', ['true'], ProcAttr()))\n"
        "loaded()\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    package, started = (set(line.split()) for line in out.stdout.splitlines())
    assert package == {"pysyscall", "pysyscall.fork_exec"}, package
    heavy = {"typing", "dataclasses", "inspect", "ctypes", "threading", "signal", "subprocess"}
    assert not heavy & package
    runners = {"pysyscall.runner_vfork", "pysyscall.runner_spawn", "pysyscall.runner_fork"}
    assert {"pysyscall.exec_unix", *runners} <= started, started
    later = {"pysyscall.cli", "pysyscall.bench", "pysyscall.lab", "pysyscall.compat", "argparse"}
    assert not later & started, started
    # What fork_exec's first use costs: no dataclasses (inspect), typing or
    # tempfile (only where memfd_create fails).
    assert not {"typing", "dataclasses", "inspect", "tempfile"} & started, started


def test_lazy_names_and_submodules() -> None:
    """Every public name and every submodule the import used to load is an attribute."""
    code = (
        "import pysyscall\n"
        "for name in pysyscall.__all__: getattr(pysyscall, name)\n"
        "assert pysyscall.SysProcAttr is pysyscall._platform.system.SysProcAttr\n"
        "assert pysyscall.fork_exec is pysyscall.exec_unix.fork_exec\n"
        "assert len(pysyscall.runners.RUNNERS) == 3 and pysyscall.runtime.exec_lock\n"
        "assert set(pysyscall.__all__) <= set(dir(pysyscall))\n"
        "try:\n"
        "    pysyscall.no_such_name\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == "module 'pysyscall' has no attribute 'no_such_name'\n"


def resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_readme_name_map_names_exist() -> None:
    section = readme().split("## Go-to-Python names", 1)[1].split("\n## ", 1)[0]
    table = section.strip().splitlines()  # the section is one table, with no blank line in it
    assert table[0] == "| Go | pysyscall |" and all(line.startswith("|") for line in table)
    rows = [line for line in table if line.startswith("| `")]
    names = [n for row in rows for n in re.findall(r"`(pysyscall\.[\w.]+)`", row.split("|")[2])]
    assert len(rows) >= 20 and len(names) >= len(rows)
    for name in names:
        resolve(name)  # raises if the README names something that is not there


def test_public_names() -> None:
    """What a user reaches for is at the top, in __all__, and documented."""
    for name in ("look_path", "ErrDot", "SysProcIDMap", "Credential", "WaitStatus"):
        assert name in pysyscall.__all__, name
        assert getattr(pysyscall, name).__doc__, name
    assert issubclass(pysyscall.ErrDot, OSError)
    assert pysyscall.SysProcIDMap(0, 1000, 1).host_id == 1000
    # pysyscall.exec, not in __all__: a star import keeps the builtin exec.
    names: dict[str, object] = {}
    builtins_exec = exec
    builtins_exec("from pysyscall import *", names)
    assert "exec" not in names and "fork_exec" in names
    assert pysyscall.exec.__doc__


USER_CODE = """
import os
import pysyscall

pysyscall.ProcAttr(env={"A": "1"})
pysyscall.ProcAttr(env={b"A": b"1"})
pysyscall.ProcAttr(env=dict(os.environ))
pysyscall.ProcAttr(env=os.environb)
pysyscall.ProcAttr(env=["A=1", b"B=2"])
pysyscall.ProcAttr(sys=pysyscall.SysProcAttr(uid_mappings=[pysyscall.SysProcIDMap(0, 0, 1)]))
pysyscall.ProcAttr(env={"A": 1})  # error: the value
pysyscall.fork_exec("/bin/true", ["true"], pysyscall.SysProcAttr())  # error: not a ProcAttr


def replace_me() -> int:
    pysyscall.exec("/bin/true", ["true"])
    return 0  # error: unreachable, exec returns only by raising
"""


@pytest.mark.lint
def test_mypy_checks_a_users_calls(tmp_path: Path) -> None:
    mypy = shutil.which("mypy")
    assert mypy, "mypy is missing: install the test extra"
    (tmp_path / "user.py").write_text(USER_CODE)
    out = subprocess.run(
        [mypy, "--strict", "--warn-unreachable", "--platform", "linux", "--no-incremental",
         "--python-executable", sys.executable, "user.py"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    errors = [line for line in out.stdout.splitlines() if line.startswith("user.py:")]
    lines = USER_CODE.splitlines()
    flagged = sorted(int(line.split(":")[1]) for line in errors)
    expected = [i + 1 for i, line in enumerate(lines) if "# error" in line]
    assert flagged == expected, out.stdout


def test_readme_starts_with_the_two_commands() -> None:
    lines = readme().splitlines()
    main_job = "python3 -m pip install . && python3 -m pysyscall run -- ls -l /proc/self/fd"
    assert lines[2] == "    " + main_job
    assert lines[3] == "    sh .ci/test"


def test_platform_modules_declare_their_platforms() -> None:
    from pysyscall import _platform, darwin, forkpipe, forkpipe2, linux

    assert sys.platform in _platform.system.PLATFORMS
    assert sys.platform in _platform.forkpipe.PLATFORMS
    assert linux.PLATFORMS == forkpipe2.PLATFORMS == ("linux",)
    assert darwin.PLATFORMS == forkpipe.PLATFORMS == ("darwin",)
    # The same names on every platform: callers never branch.
    for name in ("SysProcAttr", "child_program", "FORK", "EXIT", "ERRNO_LOCATION"):
        assert hasattr(linux, name) and hasattr(darwin, name), name
    for name in ("fork_exec_pipe", "acquire_fork_lock", "release_fork_lock", "ATOMIC"):
        assert hasattr(forkpipe, name) and hasattr(forkpipe2, name), name


def test_constants_have_one_home_chosen_by_platform() -> None:
    """Each OS number is defined once, in a z-module _platform.py chooses (Go's
    zerrors/zsysnum files and build tags)."""
    from pysyscall import (
        _platform,
        zerrors_darwin,
        zerrors_linux,
        zsysnum_linux,
        zsysnum_linux_amd64,
        zsysnum_linux_arm64,
    )

    assert (sys.platform,) == _platform.zerrors.PLATFORMS
    assert zerrors_linux.PLATFORMS == zsysnum_linux.PLATFORMS == ("linux",)
    assert zerrors_darwin.PLATFORMS == ("darwin",)
    for machine in (zsysnum_linux_amd64, zsysnum_linux_arm64):
        assert machine.PLATFORMS == ("linux",)
        chosen = sys.platform == "linux" and _platform.MACHINE in machine.MACHINES
        assert (_platform.zsysnum is machine) == chosen, machine
    # The vfork routines, by the same rule.
    from pysyscall import asm_linux_amd64, asm_linux_arm64, runner_vfork

    for routine in (asm_linux_amd64, asm_linux_arm64):
        assert routine.PLATFORMS == ("linux",)
        chosen = sys.platform == "linux" and _platform.MACHINE in routine.MACHINES
        assert (_platform.asm is routine) == chosen, routine
    assert runner_vfork.asm is _platform.asm
    # The shared code reads its numbers as _platform.zerrors.NAME: both OSes have them.
    source = "".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    shared = set(re.findall(r"\bzerrors\.([A-Z][A-Z_0-9]*)", source))
    assert shared and not shared - set(vars(zerrors_darwin)) - {"CLOSE_RANGE_CLOEXEC"}
    assert not shared - set(vars(zerrors_linux))
    assert vars(zsysnum_linux_amd64).keys() == vars(zsysnum_linux_arm64).keys()

    def defined(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        return {
            target.id
            for node in tree.body
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name) and target.id.isupper()
        }

    homes: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in defined(path):
            homes.setdefault(name, []).append(path.stem)
    zmodules = ("zerrors_linux", "zerrors_darwin", "zsysnum_linux", "zsysnum_linux_amd64")
    numbers = set().union(*(defined(PACKAGE / f"{z}.py") for z in zmodules))
    for name in sorted(numbers - {"PLATFORMS", "MACHINES"}):
        # One home per platform: zerrors_linux or zerrors_darwin or both (each
        # OS's number), zsysnum_linux or each machine's zsysnum module.
        modules = set(homes[name])
        assert modules <= {"zerrors_linux", "zerrors_darwin"} or modules in (
            {"zsysnum_linux"},
            {"zsysnum_linux_amd64", "zsysnum_linux_arm64"},
        ), f"{name} is defined in {sorted(modules)}"


def test_platform_is_read_only_in_platform_module() -> None:
    """sys.platform and the machine are read in _platform.py; __init__.py reads
    sys.platform only to stay lazy (it loads no submodule) and for mypy."""
    readers = sorted(
        path.name
        for path in PACKAGE.rglob("*.py")
        if re.search(r"sys\.platform|platform\.machine|uname\(\)\.machine", path.read_text())
    )
    assert readers == ["__init__.py", "_platform.py"]


def test_unsupported_platform_is_an_import_error() -> None:
    code = "import sys; sys.platform = 'sunos5'\nimport pysyscall"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1
    assert "ImportError: pysyscall runs on linux and darwin; this is 'sunos5'" in out.stderr


def test_relative_imports_only() -> None:
    """Vendorable: no module imports pysyscall by its absolute name."""
    for path in PACKAGE.rglob("*.py"):
        if path.name == "lab.py":
            continue  # its scenario scripts run in fresh interpreters; it refuses when renamed
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) pysyscall", text, re.M), path.name
        assert "importlib.metadata" not in text and "pkg_resources" not in text, path.name


# The scripts beside the package: they read its insides (bench_compat.py) or
# write part of it (tools/asm.py), so they are held to the same checks.
SCRIPTS = [str(ROOT / "benchmarks"), str(ROOT / "tools")]


@pytest.mark.lint
@pytest.mark.parametrize("platform", ["linux", "darwin"])
@pytest.mark.parametrize("version", ["3.10", "3.15"])  # the oldest mypy 2 targets; the newest
def test_mypy_strict(platform: str, version: str) -> None:
    mypy = shutil.which("mypy")
    assert mypy, "mypy is missing: install the test extra"
    out = subprocess.run(
        [mypy, "--strict", "--platform", platform, "--python-version", version,
         "--config-file", str(ROOT / "pyproject.toml"), str(PACKAGE), *SCRIPTS],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.lint
@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff(command: list[str]) -> None:
    ruff = shutil.which("ruff")
    assert ruff, "ruff is missing: install the test extra"
    out = subprocess.run(
        [ruff, *command, "--config", str(ROOT / "pyproject.toml"),
         str(PACKAGE), str(ROOT / "tests"), *SCRIPTS],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_records_are_what_dataclasses_were() -> None:
    """Every field is a constructor parameter and a slot; repr and == as a dataclass's."""
    from pysyscall import exec_unix, linux, plan, runner_spawn

    records = [
        exec_unix.ProcAttr, linux.SysProcAttr, linux.SysProcIDMap, plan.Credential,
        plan.SysProcAttrBase, plan.Step, plan.Plan, runner_spawn.Library, runner_spawn.Spawn,
    ]  # fmt: skip
    for cls in records:
        slots = [name for c in cls.__mro__ for name in c.__dict__.get("__slots__", ())]
        assert sorted(slots) == sorted(cls.FIELDS), cls
        assert not hasattr(cls(*[0] * len(cls.FIELDS)), "__dict__"), cls
    one = exec_unix.ProcAttr(dir="/", sys=linux.SysProcAttr(credential=plan.Credential(1, 2)))
    assert repr(one) == (
        "ProcAttr(dir='/', env=None, files=None, sys=SysProcAttr(chroot=None, "
        "credential=Credential(uid=1, gid=2, groups=(), no_setgroups=False), ptrace=False, "
        "setsid=False, setpgid=False, setctty=False, noctty=False, ctty=0, foreground=False, "
        "pgid=0, pdeathsig=0, cloneflags=0, unshareflags=0, uid_mappings=[], gid_mappings=[], "
        "gid_mappings_enable_setgroups=False, ambient_caps=[], use_cgroup_fd=False, "
        "cgroup_fd=0, pidfd=False))"
    )
    assert one == exec_unix.ProcAttr(
        "/", None, None, linux.SysProcAttr(None, plan.Credential(1, 2))
    )
    assert one != exec_unix.ProcAttr(dir="/") and one != ("/", None, None, one.sys)
    assert linux.SysProcAttr().uid_mappings is not linux.SysProcAttr().uid_mappings
    with pytest.raises(TypeError):
        hash(one)
    assert "keep=" not in repr(exec_unix.child_program("/bin/true", ["true"]))
