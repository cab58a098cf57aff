"""A mistyped command line gets the usage line and one error, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lakeforge.settings import PROJECT_ROOT


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["rerun", "1", "--zone", "silver"], "No such option: --zone"),
        (["db", "start"], "No such command 'start'"),
        (["rerun"], "Missing argument 'batch_id'"),
        (["rerun", "abc"], "Invalid value for 'batch_id'"),
    ],
)
def test_usage_errors_are_one_message_and_exit_2(args: list[str], said: str, tmp_path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lakeforge"), *args],  # the script users type
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LAKEFORGE_STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert said in done.stderr and "Usage: lakeforge" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
