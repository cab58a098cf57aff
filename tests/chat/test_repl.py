"""``lakeforge chat``: the same parse → plan → confirm → apply pipeline in a terminal."""

from __future__ import annotations

import re

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


def test_why_a_batch_failed_is_answered_in_words(settings: Settings, db: Database, tmp_path) -> None:
    from lakeforge.runtime.runner import run_batch

    seed(db)
    landing = tmp_path / "landing" / "orders"
    landing.mkdir(parents=True)
    (landing / "orders.csv").write_text("id,amount\n1,10.5\n2,-3.0\n3,4.0\n")
    console = Console(record=True, width=200)
    repl = Repl(settings, db, user="admin", ask=lambda prompt: "y", console=console)
    assert repl.one(f"update orders location {landing}").status == "applied"
    typed = {"kind": "update_source", "name": "orders", "format_options": {"header": True}}
    assert repl._execute({**typed, "schema_ddl": "id INT, amount DOUBLE"}).status == "applied"
    assert repl.one("add rule amount_ok on orders: amount is at least 0, fail").status == "applied"
    failed = run_batch(settings, db, "sales")
    assert failed.status == "failed"

    repl.one(f"why did batch {failed.batch_id} fail?")
    out = console.export_text()
    answer = out[out.index(f"Batch {failed.batch_id}: failed.") :]
    assert f"Batch #{failed.batch_id} of sales — failed" in answer
    assert "raw  →" in answer and "bronze main.sales_bronze.orders: 3 rows in, 3 out" in answer
    assert "Failed in zone silver." in answer
    assert answer.count("did not hold: amount_ok (1 rows)") == 1  # the batch's error is the table's
    assert "rule amount_ok on main.sales_silver.orders: 1 of 3 rows failed (fail)" in answer
    assert "What to do:" in answer and "set rule amount_ok on orders to warn" in answer
    assert '"batch_id"' not in answer  # words, not the result's JSON
    repl.one("show the failed runs of sales")
    listed = console.export_text()
    assert re.search(rf"#{failed.batch_id} sales — failed \d{{4}}-\d\d-\d\d \d\d:\d\d UTC\n", listed)


def test_keys_and_history_said_in_words_change_only_silver(settings: Settings, db: Database) -> None:
    seed(db)
    console = Console(record=True, width=200)
    repl = Repl(settings, db, user="admin", ask=lambda prompt: "y", console=console)
    assert repl.one("orders should be scd2 keyed on id, sequenced by updated_at").status == "applied"
    shown = repl.one("show orders")
    assert shown is not None and shown.result is not None
    silver = shown.result["source"]["silver"]
    assert (silver["primary_keys"], silver["scd_type"], silver["sequence_by"]) == (["id"], 2, "updated_at")
    assert shown.result["source"]["location"] == "/Volumes/main/raw/orders"  # the rest is kept
    assert "keys id, SCD type 2" in console.export_text()


ORDERS_CSV = (
    "id,amount,note,api_token\n"
    "1,10.5,fine,t1\n"
    "2,-3.0,postgresql://etl:Hunter2@db:5432/erp,t2\n"
    "3,4.0,fine,t3\n"
    "4,-1.0,second,t4\n"
)


def quarantining_orders(repl: Repl, tmp_path) -> None:
    """orders reads a real CSV and quarantines rows with a negative amount (set up in words)."""
    landing = tmp_path / "landing" / "orders"
    landing.mkdir(parents=True)
    (landing / "orders.csv").write_text(ORDERS_CSV)
    assert repl.one(f"update orders location {landing}").status == "applied"
    typed = {"kind": "update_source", "name": "orders", "format_options": {"header": True}}
    schema = "id INT, amount DOUBLE, note STRING, api_token STRING"
    assert repl._execute({**typed, "schema_ddl": schema}).status == "applied"
    assert repl.one("add a rule to orders: amount must be at least 0, quarantine").status == "applied"


def test_sources_and_quarantined_rows_are_answered_in_words(
    settings: Settings, db: Database, tmp_path
) -> None:
    from lakeforge.runtime.runner import run_batch

    seed(db)
    console = Console(record=True, width=200)
    repl = Repl(settings, db, user="admin", ask=lambda prompt: "y", console=console)
    assert repl.one("show me quarantined rows for orders").result["quarantine"]["total_rows"] == 0
    assert "Nothing quarantined for orders yet" in console.export_text()
    quarantining_orders(repl, tmp_path)
    assert run_batch(settings, db, "sales").status == "succeeded"

    shown = repl.one("show me quarantined rows for orders")
    assert shown is not None and shown.status == "applied"
    view = shown.result["quarantine"]
    assert (view["total_rows"], view["by_rule"]) == (2, {"amount_ge_0": 2})
    assert view["columns"] == ["id", "amount", "note", "api_token"]
    out = console.export_text()
    answer = out[out.index("Source orders: 2 quarantined row(s).") :]
    assert "2 quarantined row(s) of orders in main.sales_silver.orders_quarantine" in answer
    assert "By rule: amount_ge_0 2" in answer
    assert "Hunter2" not in answer and "etl:***redacted***@db" in answer  # scrubbed as alerts are
    assert "api_token=***redacted***" in answer and "t2" not in answer
    assert re.search(r"• #\d+ id=2, amount=-3.0, .* — failed amount_ge_0", answer)

    listed = repl.one("which sources do we have?")
    assert listed is not None and listed.result["sources"] == [
        {"name": "orders", "group": "sales", "format": "csv", "load_mode": "full", "enabled": True}
    ]
    assert "orders (sales): csv, full" in console.export_text()


def test_a_refused_command_says_the_words_to_type_here_and_they_are_that_command(
    settings: Settings, db: Database
) -> None:
    seed(db)
    with db.connection() as conn:
        batch = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status) VALUES ('sales', 'succeeded')"
            " RETURNING batch_id"
        ).fetchone()["batch_id"]
    console = Console(record=True, width=200)
    repl = Repl(settings, db, user="admin", ask=lambda prompt: "n", console=console)
    refused = repl.one(f"cancel batch {batch}")
    assert refused is not None and refused.status == "rejected"
    out = console.export_text()
    # Not the slash command of Slack, nor a `lakeforge` command: the words this prompt reads.
    assert f"If you need its data, run it again: `rerun batch {batch}`." in out
    [typed] = set(re.findall(r"`([^`]+)`", out))
    repl.one(typed)
    with db.connection() as conn:
        asked = conn.execute(
            "SELECT intent FROM command_audit WHERE kind = 'rerun_batch' AND raw_text = %s", [typed]
        ).fetchall()
    assert [row["intent"]["batch_id"] for row in asked] == [batch]
