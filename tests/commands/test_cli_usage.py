"""A mistyped command line gets the usage line and one error, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

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


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def test_every_option_says_what_it_does_and_the_daily_commands_show_examples() -> None:
    from lakeforge.cli import app

    commands = dict(_commands(typer.main.get_command(app)))
    for name, command in commands.items():
        silent = [p.opts[0] for p in command.params if p.param_type_name == "option" and not p.help]
        assert silent == [], f"lakeforge {name}: options without help"
        # The summary in `lakeforge --help` is the first paragraph: a line break there shows as one.
        assert "\n" not in (command.help or "").strip().split("\n\n")[0], f"lakeforge {name}"
    for name in ("apply", "export", "history", "run", "rerun", "runs"):
        assert f"Examples:\n\n  lakeforge {name} " in (commands[name].help or ""), name
    # There is no `db start`: the help says how the store starts instead.
    top = typer.main.get_command(app)
    assert "starts by itself" in (top.commands["db"].help or "")
    assert "lakeforge apply -f examples/lakeforge.yaml --dry-run" in (top.help or "")


def test_db_stop_says_when_there_was_nothing_to_stop(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lakeforge", "db", "stop"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LAKEFORGE_STATE_DIR": str(tmp_path / "state")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Embedded Postgres was not running; nothing to stop."
