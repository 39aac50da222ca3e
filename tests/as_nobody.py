"""Run the test suite as an unprivileged user (uid/gid 65534), from root.

``python tests/as_nobody.py [PYTEST ARGS]`` copies the package under test
and the tests into a directory any user can read, then runs pytest there as
uid 65534 with this interpreter. Its environment may live where that user
cannot look (pyenv under /root, a CI venv in a 0700 temporary directory), so
the run happens in a private mount namespace in which each such directory on
the way to the interpreter and its import path is covered by a 0755 tmpfs
holding bind mounts of only the entries on that way. Nothing changes outside
the namespace. tests/test_as_nobody.py runs part of the suite this way.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

NOBODY = 65534
TESTS = Path(__file__).resolve().parent


def _package() -> Path:
    import pysyscall

    return Path(pysyscall.__file__).resolve().parent


def _needed_paths() -> list[Path]:
    """What the interpreter and pytest read: the executable, the prefixes, sys.path."""
    paths = [Path(sys.executable), Path(sys.executable).resolve()]
    paths += [Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p]
    paths += [Path(p) for p in sys.path if p and Path(p).exists()]
    return paths


def _closed_dirs(paths: list[Path]) -> dict[Path, set[str]]:
    """Directories others may not search, each with its entries on the way to ``paths``."""
    closed: dict[Path, set[str]] = {}
    for path in paths:
        path = Path(os.path.abspath(path))
        for parent, child in zip(path.parents, (path, *path.parents)):
            if os.stat(parent).st_mode & stat.S_IXOTH == 0:
                closed.setdefault(parent, set()).add(child.name)
    return closed


def _script(closed: dict[Path, set[str]], command: list[str]) -> str:
    """Shell lines, run as root in the new mount namespace, then ``command`` as nobody."""
    lines = ["set -e", "stash=$(mktemp -d)"]
    for n, (directory, entries) in enumerate(sorted(closed.items(), key=lambda i: len(i[0].parts))):
        d = shlex.quote(str(directory))
        lines += [f'mkdir "$stash/{n}"', f'mount --bind {d} "$stash/{n}"']
        lines.append(f"mount -t tmpfs -o mode=0755 pysyscall-nobody {d}")
        for entry in sorted(entries):
            source = f'"$stash/{n}"/{shlex.quote(entry)}'
            target = shlex.quote(str(directory / entry))
            lines.append(f"if [ -d {source} ]; then mkdir {target}; else touch {target}; fi")
            lines.append(f"mount --bind {source} {target}")
    ids = [f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    lines.append(shlex.join(["exec", "setpriv", *ids, *command]))
    return "\n".join(lines)


def run(pytest_args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run pytest as nobody over a readable copy of the package and tests."""
    if os.geteuid() != 0:
        raise PermissionError("tests/as_nobody.py runs as root: it switches to uid 65534")
    with tempfile.TemporaryDirectory(prefix="pysyscall-nobody-") as work:
        top = Path(work) / "checkout"
        # The checkout as the tests read it (README, tools, benchmarks), with
        # the package under test (the installed one, when CI tests a wheel).
        skip = shutil.ignore_patterns(".git", "__pycache__", ".hypothesis", "*_cache", ".venv*")
        shutil.copytree(TESTS.parent, top, ignore=skip)
        shutil.rmtree(top / "pysyscall", ignore_errors=True)
        shutil.copytree(_package(), top / "pysyscall", ignore=skip)
        for path in (Path(work), top):
            path.chmod(0o755)
        os.chown(top, NOBODY, NOBODY)  # pytest and hypothesis write their files here
        home = Path(work) / "home"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYSYSCALL"))}
        env.update(PYTHONPATH=str(top), HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args]
        script = _script(_closed_dirs([*_needed_paths(), top]), command)
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            cwd=top,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


if __name__ == "__main__":
    done = run(sys.argv[1:] or ["-q", "-m", "not lint"])
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    sys.exit(done.returncode)
