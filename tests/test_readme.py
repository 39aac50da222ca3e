"""The README's recipes, run as a user would run them.

Every ```python block in README.md is a whole program: each runs in a fresh
interpreter, and what it prints must be what its ``# prints:`` comments
say, in order, with nothing on stderr. A block with a line
``# needs root`` runs only as root. The links of the README and the
pages it leads to are followed too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pysyscall

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_PARENT = Path(pysyscall.__file__).resolve().parent.parent


def blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


def title(block: str) -> str:
    """The recipe's heading in the README, to name the test."""
    text = (ROOT / "README.md").read_text()
    before = text[: text.index(block)]
    headings = re.findall(r"^#+ (.*)$", before, flags=re.M)
    return headings[-1] if headings else "top"


def expected_output(block: str) -> list[str]:
    return re.findall(r"# prints: (.*)$", block, flags=re.M)


def test_the_readme_has_recipes() -> None:
    found = blocks()
    assert len(found) >= 10
    assert all(expected_output(block) for block in found), "a recipe that shows nothing"


@pytest.mark.parametrize("block", blocks(), ids=title)
def test_recipe(block: str, tmp_path: Path) -> None:
    if re.search(r"^# needs root", block, flags=re.M) and os.geteuid() != 0:
        pytest.skip("needs root: the recipe starts a child with other ids")
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # its prints in order with its child's
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, cwd=tmp_path, env=env,
        timeout=60,
    )  # fmt: skip
    assert (out.returncode, out.stderr) == (0, ""), out.stderr
    assert out.stdout.splitlines() == expected_output(block)


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_lead_somewhere() -> None:
    """Every relative link in the README, docs/ and benchmarks/ names a file that is
    there, and a #fragment names one of that file's headings."""
    pages = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *(ROOT / "docs").glob("*.md")]
    checked = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"\w+:", target):
                continue  # an absolute URL: not checked offline
            path, _, fragment = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.relative_to(ROOT)}: {target} leads nowhere"
            if fragment:
                text = file.read_text()
                headings = {anchor(h) for h in re.findall(r"^#+ (.*)$", text, flags=re.M)}
                assert fragment in headings, f"{page.relative_to(ROOT)}: no heading for {target}"
            checked += 1
    assert checked >= 20
