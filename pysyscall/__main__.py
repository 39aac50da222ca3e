"""``python -m pysyscall``: see cli.py."""

from .cli import main

raise SystemExit(main())
