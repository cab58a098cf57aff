"""Gold: each ``gold_config`` SQL (Spark SQL over three-part names) materialized as a Delta table.

The whole table is replaced in one commit on every run, like a materialized view.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlglot
from sqlglot import exp

from lakeforge.metadata import models
from lakeforge.runtime.engine import TableRef
from lakeforge.runtime.zones.common import RunContext, TableOutcome


def gold_table(config: models.GoldConfig, catalog: str) -> TableRef:
    return TableRef.parse(config.target_table, default_catalog=catalog)


def _tables_read(sql: str) -> set[TableRef]:
    try:
        tree = sqlglot.parse_one(sql, read="spark")
    except sqlglot.errors.ParseError:
        return set()  # the engine reports the SQL error itself
    return {
        TableRef(t.catalog.lower(), t.db.lower(), t.name.lower())
        for t in tree.find_all(exp.Table)
        if t.args.get("catalog") and t.args.get("db")
    }


def run_gold(
    ctx: RunContext,
    config: models.GoldConfig,
    table_id: int,
    target: TableRef,
    group_tables: Collection[TableRef] = (),
) -> TableOutcome:
    """Materialize one gold table. ``group_tables`` are the Bronze and Silver tables of the group:
    while one it reads has no data yet (no batch brought rows), the gold table is skipped rather
    than failed; any other missing table is an error in the SQL."""
    waiting = sorted(
        t.name for t in _tables_read(config.sql) & set(group_tables) if not ctx.engine.table_exists(t)
    )
    if waiting:
        return TableOutcome(
            status="skipped", error=f"skipped: {', '.join(waiting)} has no data yet", rows_in=0, rows_out=0
        )
    with ctx.log.step(table_id, "query", gold=config.name) as query_step:
        frame = ctx.engine.sql(config.sql)
    # The query runs once, inside the write, which reports how many rows it produced.
    with ctx.log.step(table_id, "write", table=str(target), mode="overwrite") as step:
        result = ctx.engine.write(target, frame, mode="overwrite")
        rows = result.rows_in if result.rows_in is not None else result.rows_written
        step.update(rows_in=rows, rows_out=result.rows_written, version=result.version)
    ctx.log.step_rows([query_step], rows_in=None, rows_out=rows)
    return TableOutcome(rows_in=rows, rows_out=result.rows_written, delta_version=result.version)
