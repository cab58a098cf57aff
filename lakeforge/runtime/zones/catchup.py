"""Silver catching up with Bronze: what a run of Silver alone does on the engines.

A batch that is no rerun and wrote no Bronze for a source (``lakeforge run sales --zones
silver,gold``, ``run_now`` with zones Silver and Gold, a job run of the pipeline alone) has no
Bronze rows of its own. Its Silver applies, oldest first, every Bronze batch of the source that
Silver has not applied yet, as the group's pipeline on Databricks takes the Bronze rows its
streams have not read (docs/zones.md, "Silver alone catches up").

"Not applied yet" comes from the run log, not from a high-water mark, so a failed, cancelled or
rerun batch is judged by what actually happened to it. A Bronze batch ``N`` present in the Bronze
table is pending when no Silver ``merge`` step of the source's Silver table succeeded for it, or
when the last one ended before Bronze last wrote ``N`` (a rerun of Bronze alone). A merge step's
``data_batch`` detail names the batch it applied (older runs: the data batch of its run-log
batch, a rerun's being the batch it replaced). Batches another live run is working on (queued or
running) are left to that run.

Everything the catch-up applies is recorded in the running batch: one Silver ``table_run`` per
source whose counts add up the applied batches, a ``catch_up`` step listing them, each batch's
own steps (their ``merge`` naming it), and one ``dq_run`` per rule with the counts summed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.config import SourceSpec
from lakeforge.runtime.engine import Engine, TableRef
from lakeforge.runtime.runlog import RunLog, batch_created_at
from lakeforge.runtime.zones.common import RunContext, TableOutcome, ZoneError
from lakeforge.runtime.zones.silver import run_silver

UP_TO_DATE = "up to date: Silver has applied every batch Bronze holds"


def bronze_batches(engine: Engine, bronze: TableRef) -> list[int]:
    """The data batches whose rows the Bronze table holds, oldest first (none without a table)."""
    if not engine.table_exists(bronze):
        return []
    found = engine.to_arrow(engine.sql(f"SELECT DISTINCT _batch_id FROM {bronze.name}"))
    return sorted(int(value) for value in found.column(0).to_pylist() if value is not None)


def catches_up(ctx: RunContext, source: SourceSpec) -> bool:
    """Whether this batch's Silver of ``source`` catches up: it is no rerun (its rows would carry
    another batch's id) and it has no Bronze table of its own for the source (tried or not)."""
    if ctx.data_batch_id != ctx.log.batch_id:
        return False
    with ctx.db.connection() as conn:
        row = conn.execute(
            "SELECT 1 FROM lakeforge_log.table_run t JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id"
            " WHERE t.batch_id = %s AND z.zone = 'bronze' AND t.source_name = %s LIMIT 1",
            [ctx.log.batch_id, source.name],
        ).fetchone()
    return row is None


def pending_batches(ctx: RunContext, source: SourceSpec, silver: TableRef) -> list[int]:
    """The Bronze batches of ``source`` that Silver has not applied yet, oldest first."""
    found = bronze_batches(ctx.engine, source.bronze_table())
    if not found:
        return []
    with ctx.db.connection() as conn:
        rows = conn.execute(
            "WITH applied AS ("
            " SELECT coalesce((s.details->>'data_batch')::bigint, b.rerun_of, b.batch_id) AS data,"
            " max(s.ended_at) AS at FROM lakeforge_log.step_run s"
            " JOIN lakeforge_log.table_run t ON t.id = s.table_run_id"
            " JOIN lakeforge_log.batch_run b ON b.batch_id = t.batch_id"
            " WHERE t.table_name = %(silver)s AND s.step = 'merge' AND s.status = 'succeeded' GROUP BY 1),"
            " written AS ("
            " SELECT coalesce(b.rerun_of, b.batch_id) AS data, max(t.ended_at) AS at"
            " FROM lakeforge_log.table_run t JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id"
            " JOIN lakeforge_log.batch_run b ON b.batch_id = t.batch_id"
            " WHERE z.zone = 'bronze' AND t.table_name = %(bronze)s AND t.status = 'succeeded' GROUP BY 1),"
            " busy AS ("
            " SELECT coalesce(rerun_of, batch_id) AS data FROM lakeforge_log.batch_run"
            " WHERE status IN ('queued', 'running') AND batch_id <> %(run)s)"
            " SELECT d.data FROM unnest(%(found)s::bigint[]) AS d (data)"
            " WHERE NOT EXISTS (SELECT 1 FROM busy WHERE busy.data = d.data)"
            " AND NOT EXISTS (SELECT 1 FROM applied a LEFT JOIN written w ON w.data = a.data"
            " WHERE a.data = d.data AND (w.at IS NULL OR a.at >= w.at))"
            " ORDER BY d.data",
            {
                "silver": silver.name,
                "bronze": source.bronze_table().name,
                "run": ctx.log.batch_id,
                "found": found,
            },
        ).fetchall()
    return [int(row["data"]) for row in rows]


class _SummingLog(RunLog):
    """The running batch's log, but each rule's results are added up over the applied batches and
    written once (:meth:`flush`): one ``dq_run`` per (batch, table, rule), as a pipeline update
    reading several batches reports."""

    def __init__(self, log: RunLog) -> None:
        super().__init__(log.db, log.batch_id, log.group)
        self.totals: dict[tuple[Any, ...], list[int]] = {}

    def dq(
        self,
        table_id: int | None,
        table: str,
        rule_id: int | None,
        rule_name: str,
        expression: str,
        action: str,
        rows_checked: int,
        rows_failed: int,
        *,
        replace: bool = False,
    ) -> None:
        counts = self.totals.setdefault((table_id, table, rule_id, rule_name, expression, action), [0, 0])
        counts[0] += rows_checked
        counts[1] += rows_failed

    def flush(self) -> None:
        for (table_id, table, rule_id, name, expression, action), (checked, failed) in self.totals.items():
            super().dq(table_id, table, rule_id, name, expression, action, checked, failed)
        self.totals.clear()


def catch_up(
    ctx: RunContext,
    source: SourceSpec,
    table_id: int,
    target: TableRef,
    batches: Sequence[int] | None = None,
) -> TableOutcome:
    """Apply ``batches`` (default: the pending ones) to the Silver of ``source``, oldest first, in
    the running batch. The first batch that fails stops the catch-up: the ones before it stay
    applied (each is its own Delta commit) and the next catch-up starts from the failed one."""
    with ctx.log.step(table_id, "catch_up", bronze=source.bronze_table().name) as step:
        todo = sorted(batches) if batches is not None else pending_batches(ctx, source, target)
        step.update(batches=todo)
        if not todo:
            step["message"] = UP_TO_DATE
    if not todo:
        # As Gold says of a table with nothing to read: skipped, with the reason, not failed.
        return TableOutcome(status="skipped", rows_in=0, rows_out=0, rows_rejected=0, error=UP_TO_DATE)
    log = _SummingLog(ctx.log)
    total = TableOutcome(rows_in=0, rows_out=0, rows_rejected=0)
    applied: list[int] = []
    try:
        for batch in todo:
            if applied and ctx.watch is not None:
                ctx.watch.check()  # the batches applied so far stay applied, each its own commit
            each = replace(ctx, log=log, data_batch_id=batch, ingested_at=batch_created_at(ctx.db, batch))
            try:
                outcome = run_silver(each, source, table_id, target)
            except Exception as error:
                # Which batch stopped the catch-up, and which it had applied, is what a rerun needs.
                raise _stopped_at(batch, applied, error) from error
            applied.append(batch)
            total.rows_in = (total.rows_in or 0) + (outcome.rows_in or 0)
            total.rows_out = (total.rows_out or 0) + (outcome.rows_out or 0)
            total.rows_rejected = (total.rows_rejected or 0) + (outcome.rows_rejected or 0)
            total.delta_version = outcome.delta_version
    finally:
        log.flush()
    return total


def _stopped_at(batch: int, applied: list[int], error: Exception) -> ZoneError:
    """The error of the batch that stopped a catch-up, saying which batches it had applied."""
    said = f"applying Bronze batch {batch} (applied before it: {applied or 'none'})"
    if isinstance(error, LakeForgeError):
        return ZoneError(f"{said}: {error.message}", field=error.field, fix=error.fix)
    return ZoneError(f"{said}: {type(error).__name__}: {error}")
