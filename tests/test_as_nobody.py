"""The suite as any user: its non-root part passes when run as uid 65534.

Run from a root suite (CI's), through tests/as_nobody.py: a readable copy of
the checkout and the package under test, pytest as nobody. Tests that need
root skip there, saying why; everything else must pass. The copy runs every
test file but the two whose tests are long stress and lab runs
(test_reliability.py, test_lab.py: they use no privilege, and take about as
long as all the rest); the lint tests are the root run's.
"""

from __future__ import annotations

import os
import re
import sys

import pytest

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="switches users in a Linux mount namespace"),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="needs root: it switches to uid 65534 (this run is that user)"
    ),
]


def test_suite_passes_as_nobody() -> None:
    import as_nobody

    args = ["-q", "-x", "-m", "not lint", "-rs"]
    args += ["--ignore=tests/test_reliability.py", "--ignore=tests/test_lab.py"]
    done = as_nobody.run(args, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    summary = output.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary, summary
    assert "error" not in summary, summary
    # The root-only tests skipped with their reason; nothing else skipped for
    # want of privilege without saying why.
    skips = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert any("needs root: sets ids" in line for line in skips), output[-3000:]
    for line in skips:
        reason = line.split(": ", 1)[1]
        assert "root" not in reason or reason.startswith("needs root: "), line
