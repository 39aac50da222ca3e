"""pysyscall vendored into another package, inside a zipapp, with no installed copy.

The package is copied as ``mytool/_vendor/pysyscall`` and imported
relatively (``from ._vendor import pysyscall``), as pip vendors its
dependencies; the tool is packed with zipapp and run isolated (``-I -S``:
no PYTHONPATH, no current directory, no site-packages), so only the
vendored copy can be imported. That checks pysyscall imports itself only
relatively and runs from a zip file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipapp
from pathlib import Path

import pytest
from conftest import runner_declines

import pysyscall

MYTOOL_MAIN = textwrap.dedent(
    '''
    """mytool: a tool that vendors pysyscall."""
    import importlib.util
    import json
    import os
    import sys

    from ._vendor import pysyscall
    from ._vendor.pysyscall.cli import main as pysyscall_cli


    def main():
        report = {
            "installed_pysyscall_importable": importlib.util.find_spec("pysyscall") is not None,
            "module": pysyscall.__name__,
            "file": pysyscall.__file__,
            "modules": sorted(m for m in sys.modules if "pysyscall" in m),
        }
        r, w = os.pipe()
        try:
            pid = pysyscall.fork_exec(
                "/bin/echo", ["echo", "vendored"], pysyscall.ProcAttr(files=[0, w, 2])
            )
        finally:
            os.close(w)
        with os.fdopen(r, "rb") as f:
            report["echo_output"] = f.read().decode()
        wpid, status = pysyscall.wait4(pid)
        report["echo_exited"] = [wpid == pid, status.exited(), status.exit_status()]
        try:
            pysyscall.fork_exec("/nonexistent-mytool/prog", ["prog"])
        except FileNotFoundError as error:
            report["missing_program_step"] = error.step
        # The command line, called as a function (no python -m).
        report["cli_true"] = pysyscall_cli(["run", "--", "true"])
        report["cli_false"] = pysyscall_cli(["run", "--", "false"])
        report["cli_exit_3"] = pysyscall_cli(["run", "--", "sh", "-c", "exit 3"])
        # The spawn and fork runners run from the archive too (or say why not:
        # the spawn runner declines every plan on glibc before 2.34).
        report["runners"] = {}
        for name in ("spawn", "fork"):
            pysyscall.runners.override = name
            try:
                pid = pysyscall.fork_exec("/bin/true", ["true"])
            except RuntimeError as refused:
                report["runners"][name] = str(refused)
            else:
                report["runners"][name] = pysyscall.wait4(pid)[1].exit_status()
        pysyscall.runners.override = None
        report["modules_at_end"] = sorted(m for m in sys.modules if "pysyscall" in m)
        print(json.dumps(report))
        return 0
    '''
)

ROOT_MAIN = textwrap.dedent(
    """
    import sys

    from mytool.__main__ import main

    sys.exit(main())
    """
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mytool.pyz: mytool with pysyscall vendored, and a root __main__.py."""
    tree = tmp_path_factory.mktemp("vendored") / "src"
    vendor = tree / "mytool" / "_vendor"
    source = Path(pysyscall.__file__).resolve().parent
    shutil.copytree(source, vendor / "pysyscall", ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "mytool" / "__init__.py").write_text('"""mytool."""\n')
    (vendor / "__init__.py").write_text('"""Vendored dependencies."""\n')
    (tree / "mytool" / "__main__.py").write_text(MYTOOL_MAIN)
    (tree / "__main__.py").write_text(ROOT_MAIN)
    target = tree.parent / "mytool.pyz"
    zipapp.create_archive(tree, target, interpreter=sys.executable)
    return target


def test_vendored_zipapp(archive: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(archive)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # not the checkout, whose pysyscall/ would be importable from cwd
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
    )
    # The child's own output (echo's, through the pipe) and the CLI's children
    # (true, false, sh) write nothing else to our stdout.
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nvendored: {report}")
    assert report["installed_pysyscall_importable"] is False
    assert report["module"] == "mytool._vendor.pysyscall"
    assert report["file"].startswith(str(archive) + "/mytool/_vendor/pysyscall/")
    # Only the vendored copy was imported: no top-level "pysyscall" module.
    assert all(m.startswith("mytool._vendor.pysyscall") for m in report["modules"]), report
    for name, outcome in report["runners"].items():
        # Where the runner declines plain plans here, the vendored start
        # refuses, naming it (its plan's step numbers are not this process's).
        refused = f"pysyscall cannot start this process here: {name}: "
        if runner_declines(name) is None:
            assert outcome == 0, (name, outcome)
        else:
            assert isinstance(outcome, str) and outcome.startswith(refused), (name, outcome)
    assert sorted(report["runners"]) == ["fork", "spawn"]
    assert all(m.startswith("mytool._vendor.pysyscall") for m in report["modules_at_end"])
    assert "mytool._vendor.pysyscall.runner_fork" in report["modules_at_end"]
    assert "mytool._vendor.pysyscall.runner_spawn" in report["modules_at_end"]
    assert report["echo_output"] == "vendored\n"
    assert report["echo_exited"] == [True, True, 0]
    assert report["missing_program_step"] == "execve"
    assert report["cli_true"] == 0
    assert report["cli_false"] == 1
    assert report["cli_exit_3"] == 3


TWO_COPIES = textwrap.dedent(
    """
    import json, os, sys, threading
    sys.path.insert(0, sys.argv[1])  # where mytool/_vendor/pysyscall is

    import pysyscall as installed
    from pysyscall import runtime as installed_runtime
    from mytool._vendor import pysyscall as vendored
    from mytool._vendor.pysyscall import runtime as vendored_runtime

    report = {"names": [installed.__name__, vendored.__name__]}
    report["separate locks"] = [
        installed.fork_lock is not vendored.fork_lock,
        installed_runtime.exec_lock is not vendored_runtime.exec_lock,
    ]


    def chain():
        name = next(n for n in installed_runtime._THREAD_STARTERS if hasattr(threading, n))
        function, modules = getattr(threading, name), []
        while function is not None:
            modules.append(function.__module__)
            function = getattr(function, "__wrapped__", None)
        return modules


    def starts_during_exec(runtime, timeout):
        # Whether a thread start issued while this copy's exec holds its lock
        # got through within ``timeout`` seconds.
        go, started = threading.Event(), threading.Event()

        def starter():
            go.wait()
            threading.Thread(target=started.set).start()

        s = threading.Thread(target=starter)
        s.start()  # started before the lock is taken
        hold = runtime.before_exec()  # what exec holds around execve
        try:
            go.set()
            got_through = started.wait(timeout)
        finally:
            hold.release()
        assert started.wait(30)
        s.join()
        return got_through


    def waits(runtime):
        return not starts_during_exec(runtime, 0.3)  # held back: no start at all


    def does_not_wait(runtime):
        return starts_during_exec(runtime, 30)


    report["chain"] = chain()
    report["both hooks hold"] = [waits(installed_runtime), waits(vendored_runtime)]

    # Both copies start processes from threads, while threads start threads.
    fds = sorted(os.listdir("/proc/self/fd"))
    statuses, errors = [], []

    def starter(copy, n):
        try:
            for _ in range(n):
                pid = copy.fork_exec("/bin/sh", ["sh", "-c", "exit 7"])
                statuses.append(copy.wait4(pid)[1].exit_status())
        except BaseException as error:
            errors.append(repr(error))

    threads = [threading.Thread(target=starter, args=(copy, 15))
               for copy in (installed, vendored) for _ in range(4)]
    threads += [threading.Thread(target=lambda: None) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    report["starts"] = [len(statuses), sorted(set(statuses)), errors]
    alive = any(t.is_alive() for t in threads)
    report["leaks"] = [sorted(os.listdir("/proc/self/fd")) != fds, alive]
    try:
        os.waitpid(-1, os.WNOHANG)
        report["zombies"] = True
    except ChildProcessError:
        report["zombies"] = False

    # Each copy's fork lock is its own: held for writing by one copy, it does
    # not hold back the other's starts.
    installed.fork_lock.lock()
    try:
        done = []
        t = threading.Thread(target=lambda: done.append(
            vendored.wait4(vendored.fork_exec("/bin/true", ["true"]))[1].exit_status()))
        t.start()
        t.join(30)
        report["vendored starts while installed fork_lock is held"] = done == [0]
    finally:
        installed.fork_lock.unlock()

    # Removing the installed copy's hook, which the vendored copy wrapped,
    # turns it off and leaves the vendored copy's working.
    installed_runtime.remove_thread_hook()
    report["installed removed"] = [
        chain(), does_not_wait(installed_runtime), waits(vendored_runtime)
    ]
    vendored_runtime.remove_thread_hook()
    report["both removed"] = [
        chain(), does_not_wait(installed_runtime), does_not_wait(vendored_runtime)
    ]
    installed_runtime.install_thread_hook()
    report["installed again"] = [chain(), waits(installed_runtime)]
    print(json.dumps(report))
    """
)


def test_vendored_and_installed_copies_in_one_process(tmp_path: Path) -> None:
    """Two copies of pysyscall (a vendored one under another name, and the
    installed one) in one interpreter, both starting processes from threads.

    Each copy has its own locks; both thread hooks wrap threading's start
    (the later import outermost) and both hold; either can be removed
    without taking the other's away.
    """
    vendor = tmp_path / "mytool" / "_vendor"
    source = Path(pysyscall.__file__).resolve().parent
    shutil.copytree(source, vendor / "pysyscall", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "mytool" / "__init__.py").write_text("")
    (vendor / "__init__.py").write_text("")
    done = subprocess.run(
        [sys.executable, "-c", TWO_COPIES, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["names"] == ["pysyscall", "mytool._vendor.pysyscall"]
    assert report["separate locks"] == [True, True]
    vendored_hook, installed_hook = "mytool._vendor.pysyscall.runtime", "pysyscall.runtime"
    original = report["chain"][2:]
    assert report["chain"][:2] == [vendored_hook, installed_hook] and len(original) == 1
    assert report["both hooks hold"] == [True, True]
    assert report["starts"] == [120, [7], []]
    assert report["leaks"] == [False, False] and report["zombies"] is False
    assert report["vendored starts while installed fork_lock is held"] is True
    assert report["installed removed"] == [report["chain"], True, True]
    assert report["both removed"] == [[installed_hook, *original], True, True]
    assert report["installed again"] == [[installed_hook, *original], True]


def test_every_file_carries_its_license() -> None:
    """A copied folder keeps the license and Go's credit without LICENSE and NOTICE.

    Each file's first lines (comments in the file's own syntax: ``#`` in
    Python and the amd64 listing, ``//`` in the arm64 one) say its SPDX
    license and credit the Go authors; py.typed is an empty marker.
    """
    package = Path(pysyscall.__file__).resolve().parent
    files = sorted(
        p
        for p in package.rglob("*")
        if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts
    )
    assert {"__init__.py", "asm_linux_amd64.s", "asm_linux_arm64.s", "py.typed"} <= {
        p.name for p in files
    }
    for path in files:
        if path.name == "py.typed":
            assert path.read_text() == "", "py.typed is an empty marker (PEP 561)"
            continue
        head = path.read_text().splitlines()[:3]
        assert head[0].endswith(" SPDX-License-Identifier: BSD-3-Clause"), path.name
        assert "Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE)" in head[2], path.name
