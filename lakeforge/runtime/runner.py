"""Run a batch of a source group through the zones, writing the run log as work happens.

>>> run = run_batch(settings, db, "sales")                      # every zone, every source
>>> run_batch(settings, db, "sales", sources=["orders"], zones=["raw"], batch_id=run.batch_id)
>>> run_batch(settings, db, "sales", rerun_of=run.batch_id)     # replaces batch N's rows everywhere

Independent sources keep going when one fails; a source that failed in one zone is skipped in
the later ones; Gold runs only when every source of the batch got through Silver.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from lakeforge.errors import LakeForgeError
from lakeforge.metadata import models
from lakeforge.metadata.db import Database
from lakeforge.metadata.repository import BATCH_RUNS, Repository
from lakeforge.runtime.cancel import BatchCancelled, CancelWatch, end_cancelled
from lakeforge.runtime.config import GroupSpec, SourceSpec, load_group
from lakeforge.runtime.engine import EngineName, TableRef, get_engine
from lakeforge.runtime.group_queue import QueueTimeout, wait_turn
from lakeforge.runtime.runlog import (
    RunLog,
    batch_created_at,
    create_batch,
    fail_stale_batches,
    hold_batch,
    release_batch,
    short_error,
)
from lakeforge.runtime.secrets import SecretResolver
from lakeforge.runtime.zones.bronze import run_bronze
from lakeforge.runtime.zones.catchup import bronze_batches, catch_up, catches_up
from lakeforge.runtime.zones.common import RunContext, TableOutcome
from lakeforge.runtime.zones.gold import gold_table, run_gold
from lakeforge.runtime.zones.raw import run_raw
from lakeforge.runtime.zones.silver import run_silver
from lakeforge.settings import Settings

ZONES = ("raw", "bronze", "silver", "gold")


def spark_session_active() -> bool:
    """True when this process already has a SparkSession (as on Databricks). Never starts one."""
    if "pyspark" not in sys.modules:
        return False
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() is not None


def resolve_engine_name(requested: str | None, group_engine: str | None, settings: Settings) -> EngineName:
    """The run's engine: the caller's choice, else the group's, else the setting, else ``auto``
    (Spark when a Spark session exists, the embedded engine otherwise)."""
    for choice in (requested, group_engine, settings.engine):
        if choice in ("embedded", "spark"):
            return choice  # type: ignore[return-value]
        if choice not in (None, "auto"):
            raise LakeForgeError(
                f"unknown engine {choice!r}", field="engine", fix="Use auto, embedded or spark."
            )
    return "spark" if spark_session_active() else "embedded"


def _dbutils() -> Any:
    return getattr(sys.modules.get("__main__"), "dbutils", None)


def run_batch(
    settings: Settings,
    db: Database,
    group: str,
    *,
    sources: list[str] | None = None,
    zones: list[str] | None = None,
    engine: str | None = None,
    trigger: str = "manual",
    rerun_of: int | None = None,
    batch_id: int | None = None,
    requested_by: str | None = None,
    databricks_run_id: str | None = None,
    cancel: threading.Event | None = None,
    replay_silver: bool = False,
    ends_batch: bool = True,
) -> models.BatchRun:
    """Run ``zones`` (default all) for ``sources`` (default the group's enabled ones).

    ``batch_id`` continues or retries that batch in place (job tasks pass it along);
    ``rerun_of`` starts a new batch that replaces batch N's rows in every zone;
    ``databricks_run_id`` finds or creates the batch of one job run, so each task of the job
    joins the same batch. The batch stops before its next zone or table once ``cancel_run``
    asked for it (or ``cancel`` is set: the local workspace cancelled the job run), and ends
    ``cancelled``. ``replay_silver``: Silver applies every batch its Bronze holds, oldest first,
    all recorded in this batch (a pipeline's full refresh, once the caller emptied Silver).
    Returns the ``batch_run`` row as it stands at the end.

    ``ends_batch=False`` (a job task that is not its run's last) leaves a batch carried by a job
    run ``running`` once its zones are done: the run's last task, ``pipeline_run_log``, ends it,
    so between two tasks it never reads as ended and its group's turn stays with it
    (docs/orchestration.md, "A job run's batch ends with its last task"). The caller reads what
    its own part came to with ``RunLog.outcome``. A batch no job run carries always ends here.

    The batch first waits its turn in its group (``group_queue``): ``queued`` while
    ``max_concurrent_runs`` other batches of the group are ahead of it. A pipeline update's
    replay runs in the update's own batch, so it never waits for itself.
    """
    unknown = [z for z in zones or [] if z not in ZONES]
    if unknown:
        raise LakeForgeError(f"unknown zone {unknown[0]!r}", field="zones", fix=f"Use {', '.join(ZONES)}.")
    # Job runs' batches are left to the API and the notifier, which ask the workspace how each run
    # ended: asking here would hold up every batch's start while the workspace is slow or down.
    fail_stale_batches(db)
    spec = load_group(db, group, sources)
    engine_name = resolve_engine_name(engine, spec.group.engine, settings)
    wanted = [z for z in ZONES if zones is None or z in zones]
    # The holder lives outside the pool: batches waiting their turn must not use up the pool the
    # running batch writes its run log through.
    with db.held_connection() as holder:
        run_id, data_batch = _open_batch(
            holder, spec, engine_name, trigger, rerun_of, batch_id, requested_by, databricks_run_id, sources
        )
        log = RunLog(db, run_id, spec.group.name)
        watch = CancelWatch.opened(db, run_id, cancel)
        try:
            watch.check()  # cancelled while it was queued
            try:
                wait_turn(db, run_id, spec.group.name, spec.group.max_concurrent_runs, watch)
            except QueueTimeout as error:
                log.batch_end(error=str(error))
                return _batch_row(db, run_id)
            log.batch_status("running", engine=engine_name)
            try:
                data_engine = get_engine(engine_name, settings)
            except Exception as error:
                log.batch_end(error=_message(error))
                raise
            ctx = RunContext(
                settings=settings,
                db=db,
                engine=data_engine,
                log=log,
                data_batch_id=data_batch,
                is_rerun=rerun_of is not None or batch_id is not None,
                secrets=SecretResolver(settings.state_dir, _dbutils()),
                ingested_at=batch_created_at(db, data_batch),
                replay=replay_silver,
                watch=watch,
            )
            _run_zones(ctx, spec, wanted, watch)
            # Asked to stop while its last table ran: that table stays written, but the batch
            # did not run as asked (a job run's later tasks will not run), so it ends cancelled.
            watch.check()
            # A task names its job run itself: the launcher may not have recorded it yet.
            if ends_batch or not (databricks_run_id or _carried_by_job_run(db, run_id)):
                log.batch_end()
        except BatchCancelled as stop:
            with db.connection() as conn:
                end_cancelled(conn, run_id, stop.by)
        finally:
            release_batch(holder, run_id)
    return _batch_row(db, run_id)


def _carried_by_job_run(db: Database, batch_id: int) -> bool:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT databricks_run_id FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        ).fetchone()
    return row is not None and row["databricks_run_id"] is not None


def _batch_row(db: Database, batch_id: int) -> models.BatchRun:
    with db.connection() as conn:
        return Repository(conn, BATCH_RUNS).get(batch_id=batch_id)


def _open_batch(
    conn: Any,
    spec: GroupSpec,
    engine_name: str,
    trigger: str,
    rerun_of: int | None,
    batch_id: int | None,
    requested_by: str | None,
    databricks_run_id: str | None,
    sources: list[str] | None,
) -> tuple[int, int]:
    """(run-log batch id, data batch id the rows carry), with this process holding the batch."""
    batches = Repository(conn, BATCH_RUNS)
    if batch_id is None and databricks_run_id is not None:
        # Parallel tasks of one job run race to create its batch: serialize on the run id.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"lakeforge:{databricks_run_id}"])
        found = batches.find(databricks_run_id=databricks_run_id, group_name=spec.group.name)
        if found is not None:
            batch_id = found.batch_id
            conn.commit()
        # Otherwise the lock stays held until create_batch commits the new row, so a task that
        # waited on it finds this batch instead of creating a second one.
    if batch_id is not None:
        found = batches.find(batch_id=batch_id)
        if found is None or found.batch_id is None:
            raise LakeForgeError(
                f"no batch {batch_id}", field="batch_id", fix="Check the id with `lakeforge runs`."
            )
        hold_batch(conn, found.batch_id)
        return found.batch_id, found.rerun_of or found.batch_id
    data_batch: int | None = None
    if rerun_of is not None:
        original = batches.find(batch_id=rerun_of)
        if original is None:
            raise LakeForgeError(
                f"no batch {rerun_of} to rerun", field="rerun_of", fix="Check the id with `lakeforge runs`."
            )
        data_batch = original.rerun_of or rerun_of
        trigger = "rerun"
    run_id = create_batch(
        conn,
        {
            "source_group_id": spec.group.id,
            "group_name": spec.group.name,
            # A job run's batch spans the group even though each of its tasks names one source.
            "source_name": sources[0]
            if sources and len(sources) == 1 and databricks_run_id is None
            else None,
            "trigger": trigger,
            "rerun_of": data_batch,
            "engine": engine_name,
            # Running once its group's queue lets it (``group_queue.wait_turn``).
            "status": "queued",
            "requested_by": requested_by,
            "databricks_run_id": databricks_run_id,
        },
    )
    return run_id, data_batch or run_id


def _message(error: BaseException) -> str:
    if isinstance(error, LakeForgeError):
        return short_error(error.sentence())
    return short_error(f"{type(error).__name__}: {error}")


def _run_zones(ctx: RunContext, spec: GroupSpec, zones: list[str], watch: CancelWatch) -> None:
    """Run the zones in order; ``watch`` stops the batch between zones and tables, never inside one."""
    failed: dict[str, str] = {}
    group_tables = {s.bronze_table() for s in spec.sources} | {
        table for s in spec.sources if (table := s.silver_table()) is not None
    }
    for zone in zones:
        watch.check()
        zone_id = ctx.log.zone_start(zone)
        if zone == "gold":
            for config in spec.gold:
                watch.check()
                target = gold_table(config, spec.group.catalog)
                _run_table(
                    ctx,
                    zone_id,
                    zone,
                    target,
                    None,
                    failed,
                    lambda table_id, c=config, t=target: run_gold(ctx, c, table_id, t, group_tables),
                    blocked_by=sorted(failed),
                )
        else:
            for source in spec.sources:
                source_target = _target(zone, source)
                if source_target is None:
                    continue
                watch.check()
                _run_table(
                    ctx,
                    zone_id,
                    zone,
                    source_target,
                    source.name,
                    failed,
                    _zone_function(ctx, zone, source, source_target),
                    blocked_by=[source.name] if source.name in failed else [],
                )
        ctx.log.zone_end(zone_id, zone)


def _target(zone: str, source: SourceSpec) -> TableRef | None:
    if zone == "raw":
        return TableRef(source.bronze_table().catalog, source.bronze_table().schema, f"raw_{source.name}")
    if zone == "bronze":
        return source.bronze_table()
    return source.silver_table()


def _zone_function(ctx: RunContext, zone: str, source: SourceSpec, target: TableRef) -> Any:
    if zone == "raw":
        return lambda table_id: run_raw(ctx, source, table_id)
    if zone == "bronze":
        return lambda table_id: run_bronze(ctx, source, table_id, target)
    if ctx.replay:
        return lambda table_id: catch_up(
            ctx, source, table_id, target, bronze_batches(ctx.engine, source.bronze_table())
        )
    if catches_up(ctx, source):
        # Silver alone (no rerun, no Bronze of its own): the Bronze batches Silver has not applied.
        return lambda table_id: catch_up(ctx, source, table_id, target)
    return lambda table_id: run_silver(ctx, source, table_id, target)


def _run_table(
    ctx: RunContext,
    zone_id: int,
    zone: str,
    target: TableRef,
    source: str | None,
    failed: dict[str, str],
    work: Any,
    *,
    blocked_by: list[str],
) -> None:
    name = f"raw:{source}" if zone == "raw" else target.name
    table_id = ctx.log.table_start(zone_id, zone, name, source)
    if blocked_by:
        reason = f"skipped: {', '.join(blocked_by)} failed in an earlier zone of this batch"
        ctx.log.table_end(table_id, zone, name, source, "skipped", error=reason)
        return
    try:
        outcome: TableOutcome = work(table_id)
    except BatchCancelled:
        raise  # asked between the batches a catch-up applies: the batch ends cancelled
    except Exception as error:
        message = _message(error)
        if source is not None:
            failed[source] = message
        ctx.log.table_end(table_id, zone, name, source, "failed", error=message)
        return
    ctx.log.table_end(
        table_id,
        zone,
        name,
        source,
        outcome.status,
        rows_in=outcome.rows_in,
        rows_out=outcome.rows_out,
        rows_rejected=outcome.rows_rejected,
        bytes_=outcome.bytes,
        delta_version=outcome.delta_version,
        error=outcome.error,
    )
