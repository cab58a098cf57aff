"""``lakeforge chat``: the same parse → plan → confirm → apply pipeline in a terminal."""

from __future__ import annotations

from rich.console import Console

from lakeforge.metadata.db import Database
from lakeforge.nlu.repl import Repl
from lakeforge.settings import Settings
from tests.chat.support import seed


def _paused(db: Database) -> bool:
    with db.connection() as conn:
        return conn.execute(
            "SELECT s.paused FROM schedule s JOIN source_group g ON g.id = s.source_group_id"
            " WHERE g.name = 'sales'"
        ).fetchone()["paused"]


def test_a_change_is_planned_then_applied_only_after_yes(settings: Settings, db: Database) -> None:
    seed(db)
    answers = iter(["n", "y"])
    console = Console(record=True, width=120)
    repl = Repl(settings, db, user="admin", ask=lambda prompt: next(answers), console=console)
    assert repl.one("pause the sales group").status == "planned"
    assert not _paused(db)
    assert repl.one("pause the sales group").status == "applied"
    assert _paused(db)
    out = console.export_text()
    assert "Cancelled." in out and "applied" in out
    with db.connection() as conn:
        row = conn.execute(
            "SELECT surface, channel FROM command_audit WHERE kind = 'pause_schedule' AND outcome = 'applied'"
        ).fetchone()
    assert row == {"surface": "cli", "channel": "terminal"}


def test_a_missing_value_gets_a_question(settings: Settings, db: Database) -> None:
    console = Console(record=True, width=120)
    repl = Repl(settings, db, ask=lambda prompt: "y", console=console)
    assert repl.one("schedule sales daily") is None
    assert "at what time" in console.export_text()
