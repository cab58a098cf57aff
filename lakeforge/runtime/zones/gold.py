"""Gold: each ``gold_config`` SQL (Spark SQL over three-part names) materialized as a Delta table.

The whole table is replaced in one commit on every run, like a materialized view.
"""

from __future__ import annotations

from lakeforge.metadata import models
from lakeforge.runtime.engine import TableRef
from lakeforge.runtime.zones.common import RunContext, TableOutcome


def gold_table(config: models.GoldConfig, catalog: str) -> TableRef:
    return TableRef.parse(config.target_table, default_catalog=catalog)


def run_gold(ctx: RunContext, config: models.GoldConfig, table_id: int, target: TableRef) -> TableOutcome:
    with ctx.log.step(table_id, "query", gold=config.name) as query_step:
        frame = ctx.engine.sql(config.sql)
    # The query runs once, inside the write, which reports how many rows it produced.
    with ctx.log.step(table_id, "write", table=str(target), mode="overwrite") as step:
        result = ctx.engine.write(target, frame, mode="overwrite")
        rows = result.rows_in if result.rows_in is not None else result.rows_written
        step.update(rows_in=rows, rows_out=result.rows_written, version=result.version)
    ctx.log.step_rows([query_step], rows_in=None, rows_out=rows)
    return TableOutcome(rows_in=rows, rows_out=result.rows_written, delta_version=result.version)
