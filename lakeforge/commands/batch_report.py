"""What a batch did, as terminal tables: every table it wrote, and every quality rule it checked.

``lakeforge run``, ``rerun`` and ``cancel`` print it once their batch ends, and ``lakeforge demo``
prints its rules with ``rules_table``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from lakeforge.metadata.db import Database


def count(value: int | None) -> str:
    # Raw lands files without reading rows: a dash says "not measured here" where 0 says "none".
    return "—" if value is None else f"{value:,}"


def tables_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """One line per table run: zone, table, status, rows in and out, rows rejected, error."""
    table = Table(title="Tables", title_justify="left")
    for column in ("zone", "table", "status", "rows in", "rows out", "rejected"):
        table.add_column(column, justify="right" if column.startswith(("rows", "rej")) else "left")
    table.add_column("error", overflow="fold")
    for row in rows:
        colour = {"succeeded": "green", "failed": "red"}.get(str(row["status"]), "yellow")
        table.add_row(
            str(row["zone"]),
            # Text, not markup: paths and errors hold brackets ("/data/[dev]/", "[/]") that markup
            # would swallow or refuse with a MarkupError once the batch has run.
            Text(str(row["table_name"])),
            Text(str(row["status"]), style=colour),
            count(row["rows_in"]),
            count(row["rows_out"]),
            count(row["rows_rejected"]),
            Text(str(row["error"] or "")),
        )
    return table


def rules_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """One line per quality rule and table: its action, rows checked and failed, and the verdict."""
    table = Table(title="Quality rules", title_justify="left")
    for column in ("table", "rule", "action", "checked", "failed", "result"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("checked", "failed") else "left")
    for row in rows:
        verdict = "[green]passed[/]" if row["status"] == "passed" else "[yellow]failed[/]"
        table.add_row(
            Text(str(row["table_name"]).split(".", 1)[-1]),
            Text(str(row["rule_name"])),
            str(row["action"]),
            count(row["rows_checked"]),
            count(row["rows_failed"]),
            verdict,
        )
    return table


def batch_tables(db: Database, batch_id: int) -> list[Table]:
    """The tables and the rules of ``batch_id`` (the rules only when it checked any)."""
    with db.connection() as conn:
        tables = conn.execute(
            "SELECT z.zone, t.table_name, t.status, t.rows_in, t.rows_out, t.rows_rejected, t.error"
            " FROM lakeforge_log.table_run t JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id"
            " WHERE t.batch_id = %s ORDER BY t.id",
            [batch_id],
        ).fetchall()
        rules = conn.execute(
            "SELECT table_name, rule_name, action, rows_checked, rows_failed, status"
            " FROM lakeforge_log.dq_run WHERE batch_id = %s ORDER BY table_name, rule_name",
            [batch_id],
        ).fetchall()
    return [tables_table(tables), *([rules_table(rules)] if rules else [])]
