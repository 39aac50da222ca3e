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
    assert "mytool._vendor.pysyscall.runner_fork" in report["modules"]
    assert report["echo_output"] == "vendored\n"
    assert report["echo_exited"] == [True, True, 0]
    assert report["missing_program_step"] == "execve"
    assert report["cli_true"] == 0
    assert report["cli_false"] == 1
    assert report["cli_exit_3"] == 3
