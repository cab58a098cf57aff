"""The one way LakeForge's command line writes: a Rich console sized for where its output goes.

Rich lays out for 80 columns when the output is not a terminal, which cut table headers and
names short (``chec…``, ``quarant…``) in CI logs and in ``lakeforge runs > runs.txt``. A pipe or
a file has no width of its own, so LakeForge gives it ``PIPE_WIDTH`` columns; ``COLUMNS`` still
wins when set, and a terminal keeps its own width.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPE_WIDTH = 160


def make_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=PIPE_WIDTH if piped else None)
