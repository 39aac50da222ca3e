# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The pysyscall authors.
# Ports the design of Go's syscall layer: Copyright 2009 The Go Authors, BSD-3-Clause (NOTICE).
"""``python -m pysyscall``: see cli.py."""

from .cli import main

raise SystemExit(main())
