"""Data-quality results of a Lakeflow/DLT pipeline update, read back from the pipeline's event log.

On Databricks the group's declarative pipeline applies the quality rules as the platform's own
expectations, so no LakeForge code runs while rows are checked. After the update ends, the job's
``pipeline_run_log`` task reads the pipeline's event log and writes what the local engines write
themselves: one ``dq_run`` row per rule and table, and one ``table_run`` per Silver/Gold table.

Event-log shape used (Databricks "pipeline event log schema"): one row per event with ``id``,
``sequence`` (JSON), ``origin`` (struct or JSON: ``update_id``, ``flow_name``, ``dataset_name``),
``timestamp``, ``event_type`` and ``details`` (JSON text). For ``event_type = 'flow_progress'``,
``details.flow_progress`` holds ``status`` (QUEUED … RUNNING, COMPLETED, FAILED …),
``metrics.num_output_rows`` and ``data_quality.dropped_records`` plus
``data_quality.expectations``: ``[{name, dataset, passed_records, failed_records}]``.
``update_progress`` events carry ``details.update_progress.state``.

A flow that is retried inside an update logs its progress again: only its final attempt (the
events after its last QUEUED/STARTING) counts, and in it the last COMPLETED (else FAILED) event
with figures; with neither, that attempt's RUNNING micro-batch reports are added up.

Expectation ``dataset`` names the view the rule is declared on (``<source>_silver_input``);
LakeForge maps it back to the source's Silver table, and the rule name to its ``dq_rule`` id,
expression and action (the event log only knows expect / drop / fail; quarantine rules run as
drop expectations). The flow that reads the view reports them: the Silver table's (a streaming or
auto-CDC table, or the materialized view of a full load without keys, whose figures are then the
newest batch's) or, for a full load with keys, the quarantine table's. The NULL-key expectation of
a table with primary keys (``null_key:<key columns>``) is no rule: as on the engines it gives no
``dq_run`` row; its failed rows are the ``null_keys`` of the table's ``quality`` step (and,
dropped before an auto-CDC flow, among its rejected rows).

:func:`parse_event_log` is pure (rows in, records out); :func:`read_event_log` queries Spark;
:func:`record_update` writes the run log, replacing earlier rows for the same (batch, table, rule),
so a retried task never counts a rule twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lakeforge.errors import LakeForgeError
from lakeforge.metadata import models
from lakeforge.metadata.db import Database, open_database
from lakeforge.metadata.repository import BATCH_RUNS, Repository
from lakeforge.runtime.config import GroupSpec, load_group
from lakeforge.runtime.runlog import RunLog
from lakeforge.runtime.spark.pipeline import plan_pipeline
from lakeforge.runtime.spark.session import active_session, get_or_create_session, is_databricks
from lakeforge.runtime.tasks import BatchFailed, latest_batch_with, widget
from lakeforge.runtime.zones.dq import NULL_KEY_PREFIX
from lakeforge.settings import Settings, get_settings

EVENT_TYPES = ("create_update", "update_progress", "flow_progress")
# Flow states after which a flow's figures no longer change.
_FINAL = ("COMPLETED", "FAILED", "STOPPED", "SKIPPED", "EXCLUDED")
# Flow states that begin an attempt: a retried flow's earlier figures are superseded.
_STARTS = ("QUEUED", "STARTING", "INITIALIZING")


@dataclass(frozen=True)
class DqTarget:
    """Where a pipeline dataset's results go in the run log."""

    zone: str  # silver | gold
    table: str  # the LakeForge table name (catalog.schema.table)
    source: str | None
    # Names the event log may use for it: the table, and the view its rules are declared on.
    datasets: tuple[str, ...]
    rules: Mapping[str, models.DqRule] = field(default_factory=dict)


@dataclass(frozen=True)
class DqRecord:
    table: str
    rule_id: int | None
    rule_name: str
    expression: str
    action: str
    rows_checked: int
    rows_failed: int


@dataclass(frozen=True)
class TableRecord:
    zone: str
    table: str
    source: str | None
    status: str  # succeeded | failed
    rows_out: int | None
    rows_rejected: int | None
    error: str | None = None
    # Rows with a NULL primary-key column (quarantined), from the NULL-key expectation.
    null_keys: int | None = None


@dataclass
class UpdateOutcome:
    update_id: str | None
    state: str | None  # the update's last update_progress state
    tables: list[TableRecord] = field(default_factory=list)
    checks: list[DqRecord] = field(default_factory=list)
    # Expectations the metadata no longer knows (dataset or rule removed): kept out of dq_run.
    unmatched: list[str] = field(default_factory=list)
    # When the update began (its first event): the batch's start when no task of the job run
    # started it, as in a run of Silver or Gold alone, whose only work is the pipeline update.
    started_at: datetime | None = None

    @property
    def failed(self) -> bool:
        return self.state in ("FAILED", "CANCELED") or any(t.status == "failed" for t in self.tables)


def targets_for(spec: GroupSpec) -> list[DqTarget]:
    """The run-log targets of a group's pipeline: each Silver table (and its rules' view), each Gold view."""
    plan = plan_pipeline(spec)
    rules = {s.name: {r.name: r for r in s.rules} for s in spec.sources}
    targets = [
        DqTarget("silver", f.silver_table, f.source, (f.silver_table, f.view), rules.get(f.source, {}))
        for f in plan.silver
    ]
    targets += [DqTarget("gold", g.target, None, (g.target,)) for g in plan.gold]
    return targets


# -- parsing ----------------------------------------------------------------------------------
def _json(value: Any) -> dict[str, Any]:
    """A JSON column as a dict: the event log gives text, a struct (Row / dict) or NULL."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "asDict"):
        return dict(value.asDict(recursive=True))
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _key(name: str | None) -> str:
    return (name or "").replace("`", "").strip().lower()


def _matches(name: str | None, candidates: Iterable[str]) -> bool:
    """Event-log names may be bare (``orders``) or qualified (``main.sales.orders``)."""
    wanted = _key(name)
    if not wanted:
        return False
    for candidate in map(_key, candidates):
        if wanted == candidate or wanted.split(".")[-1] == candidate.split(".")[-1]:
            return True
    return False


@dataclass
class _Event:
    order: tuple[Any, ...]
    timestamp: datetime | None
    event_type: str
    origin: dict[str, Any]
    details: dict[str, Any]
    error: str | None


def _events(rows: Iterable[Mapping[str, Any] | Any]) -> list[_Event]:
    events = []
    for raw in rows:
        row = _json(raw)
        sequence = _json(row.get("sequence"))
        seq_no = (sequence.get("data_plane_id") or {}).get("seq_no") or sequence.get("control_plane_seq_no")
        timestamp = row.get("timestamp")
        stamp = timestamp.isoformat() if isinstance(timestamp, datetime) else str(timestamp or "")
        events.append(
            _Event(
                (stamp, int(seq_no or 0), str(row.get("id") or "")),
                timestamp if isinstance(timestamp, datetime) else _parsed_time(stamp),
                str(row.get("event_type") or ""),
                _json(row.get("origin")),
                _json(row.get("details")),
                str(row["error"]) if row.get("error") else None,
            )
        )
    return sorted(events, key=lambda e: e.order)


def _parsed_time(text: str) -> datetime | None:
    """An event's ``timestamp`` read back from JSON text (ISO 8601), None when it is not one."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def latest_update(rows: Iterable[Mapping[str, Any] | Any]) -> str | None:
    """The newest update in ``rows`` (by its ``create_update`` event, else any event)."""
    return _latest_update(_events(rows))


def _latest_update(events: list[_Event]) -> str | None:
    created = [e for e in events if e.event_type == "create_update" and e.origin.get("update_id")]
    pool = created or [e for e in events if e.origin.get("update_id")]
    return str(pool[-1].origin["update_id"]) if pool else None


@dataclass
class _Flow:
    name: str
    status: str  # the flow's last status
    final: dict[str, Any]  # the progress whose figures count
    error: str | None


def _final_progress(events: list[_Event]) -> dict[str, Any] | None:
    """A flow's figures from its final attempt (the events after its last QUEUED/STARTING): the
    last COMPLETED progress, else the last FAILED (or other final) one, else the sum of its
    RUNNING micro-batch reports."""
    progress = [e.details.get("flow_progress") or {} for e in events]
    starts = [i for i, p in enumerate(progress) if str(p.get("status", "")).upper() in _STARTS]
    attempt = progress[starts[-1] + 1 :] if starts else progress
    with_figures = [p for p in attempt if p.get("data_quality") or p.get("metrics")]
    for wanted in (("COMPLETED",), _FINAL):
        chosen = [p for p in with_figures if str(p.get("status", "")).upper() in wanted]
        if chosen:
            return chosen[-1]
    if not with_figures:
        return None
    outputs = [(p.get("metrics") or {}).get("num_output_rows") for p in with_figures]
    quality = [p.get("data_quality") or {} for p in with_figures]
    return {
        "status": "RUNNING",
        "metrics": {"num_output_rows": _sum(outputs)},
        "data_quality": {
            "dropped_records": _sum([q.get("dropped_records") for q in quality]),
            "expectations": [e for q in quality for e in q.get("expectations") or []],
        },
    }


def parse_event_log(
    rows: Iterable[Mapping[str, Any] | Any], targets: list[DqTarget], update_id: str | None = None
) -> UpdateOutcome:
    """Turn event-log rows (dicts, Spark rows, JSON text) of one update into run-log records.

    ``update_id`` defaults to the newest update in ``rows``. Rows of other updates are ignored.
    """
    events = _events(rows)
    if update_id is None:
        update_id = _latest_update(events)
    outcome = UpdateOutcome(update_id, None)
    if update_id is None:
        return outcome
    mine = [e for e in events if str(e.origin.get("update_id") or "") == update_id]
    outcome.started_at = next((e.timestamp for e in mine if e.timestamp is not None), None)
    states = [
        str((e.details.get("update_progress") or {}).get("state") or "")
        for e in mine
        if e.event_type == "update_progress"
    ]
    outcome.state = next((s for s in reversed(states) if s), None)

    flows: dict[str, list[_Event]] = {}
    for event in mine:
        if event.event_type == "flow_progress":
            origin = event.origin
            name = origin.get("flow_name") or origin.get("dataset_name") or origin.get("flow_id")
            flows.setdefault(_key(str(name or "")), []).append(event)

    # Per dataset: expectations summed over the flows that report them (one flow per dataset here).
    counts: dict[tuple[str, str], list[int]] = {}
    flow_facts: list[_Flow] = []
    for name, flow_events in flows.items():
        final = _final_progress(flow_events) or {}
        last_status = str((flow_events[-1].details.get("flow_progress") or {}).get("status") or "")
        error = next((e.error for e in reversed(flow_events) if e.error), None)
        flow_facts.append(_Flow(name, last_status.upper(), final, error))
        for expectation in ((final or {}).get("data_quality") or {}).get("expectations") or []:
            dataset = _key(expectation.get("dataset") or name)
            slot = counts.setdefault((dataset, str(expectation.get("name") or "")), [0, 0])
            slot[0] += int(expectation.get("passed_records") or 0)
            slot[1] += int(expectation.get("failed_records") or 0)

    seen: set[tuple[str, str]] = set()
    for target in targets:
        null_keys: int | None = None
        for (dataset, rule_name), (passed, failed) in sorted(counts.items()):
            if not _matches(dataset, target.datasets):
                continue
            seen.add((dataset, rule_name))
            if target.zone == "silver" and rule_name.startswith(NULL_KEY_PREFIX):
                null_keys = (null_keys or 0) + failed
                continue
            rule = target.rules.get(rule_name)
            if rule is None:
                outcome.unmatched.append(f"{dataset}.{rule_name}")
                continue
            outcome.checks.append(
                DqRecord(
                    target.table, rule.id, rule.name, rule.expression, rule.action, passed + failed, failed
                )
            )
        table_flows = [f for f in flow_facts if _matches(f.name, target.datasets)]
        if not table_flows:
            continue
        status = "failed" if any(f.status == "FAILED" for f in table_flows) else "succeeded"
        # Rows out come from the flow writing the table itself, not from the view feeding it.
        outputs = [
            (f.final.get("metrics") or {}).get("num_output_rows")
            for f in table_flows
            if _matches(f.name, (target.table,))
        ]
        dropped = [(f.final.get("data_quality") or {}).get("dropped_records") for f in table_flows]
        outcome.tables.append(
            TableRecord(
                target.zone,
                target.table,
                target.source,
                status,
                _sum(outputs),
                _sum(dropped),
                next((f.error for f in table_flows if f.error), None) if status == "failed" else None,
                null_keys,
            )
        )
    outcome.unmatched += [f"{d}.{r}" for d, r in sorted(counts) if (d, r) not in seen]
    return outcome


def _sum(values: list[Any]) -> int | None:
    known = [int(v) for v in values if v is not None]
    return sum(known) if known else None


# -- reading ----------------------------------------------------------------------------------
def event_log_source(pipeline_id: str | None = None, table: str | None = None) -> str:
    """The FROM clause: a published event-log table if given, else ``event_log('<pipeline id>')``."""
    if table:
        return table
    if not pipeline_id or not all(c.isalnum() or c == "-" for c in pipeline_id):
        raise ValueError(f"not a pipeline id: {pipeline_id!r}")
    return f"event_log('{pipeline_id}')"


def read_event_log(spark: Any, source: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """The update and flow events of ``source`` (newer than ``since``) as plain dicts.

    JSON paths are read in Python rather than with Databricks' ``:`` operator, so the same query
    runs on open-source Spark against a table shaped like the event log.
    """
    types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
    query = spark.sql(f"SELECT * FROM {source} WHERE event_type IN ({types})")
    if since is not None:
        query = query.where(query["timestamp"] >= since)
    wanted = ("id", "sequence", "origin", "timestamp", "event_type", "details", "error")
    columns = [c for c in wanted if c in query.columns]
    return [row.asDict(recursive=True) for row in query.select(*columns).collect()]


# -- writing ----------------------------------------------------------------------------------
def record_update(db: Database, spec: GroupSpec, batch_id: int, outcome: UpdateOutcome) -> str:
    """Write the update's tables and checks into batch ``batch_id``'s run log; returns the batch status.

    Safe to repeat: a table's earlier ``table_run`` from this reader is updated, not duplicated,
    and each (batch, table, rule) keeps exactly one ``dq_run`` row.
    """
    log = RunLog(db, batch_id, spec.group.name)
    if outcome.started_at is not None:
        log.started_no_later_than(outcome.started_at)
    checks: dict[str, list[DqRecord]] = {}
    for check in outcome.checks:
        checks.setdefault(check.table, []).append(check)
    zones = sorted({t.zone for t in outcome.tables}, key=("silver", "gold").index)
    for zone in zones:
        zone_id = log.zone_start(zone)
        for table in (t for t in outcome.tables if t.zone == zone):
            table_id = _existing_table_run(db, batch_id, zone_id, table.table) or log.table_start(
                zone_id, zone, table.table, table.source
            )
            for check in checks.pop(table.table, []):
                _write_check(log, table_id, check)
            if table.null_keys is not None:
                _write_null_keys(db, log, table_id, table.null_keys)
            log.table_end(
                table_id,
                zone,
                table.table,
                table.source,
                table.status,
                rows_out=table.rows_out,
                rows_rejected=table.rows_rejected,
                error=table.error,
            )
        log.zone_end(zone_id, zone)
    # Checks of a table without its own progress event (should not happen, but never lose them).
    for rest in checks.values():
        for check in rest:
            _write_check(log, None, check)
    if outcome.state in ("FAILED", "CANCELED") and not any(t.status == "failed" for t in outcome.tables):
        return log.batch_end(error=f"pipeline update {outcome.update_id} ended {outcome.state}")
    return log.batch_end()


def _write_check(log: RunLog, table_id: int | None, check: DqRecord) -> None:
    log.dq(
        table_id,
        check.table,
        check.rule_id,
        check.rule_name,
        check.expression,
        check.action,
        check.rows_checked,
        check.rows_failed,
        replace=True,
    )


def _write_null_keys(db: Database, log: RunLog, table_id: int, null_keys: int) -> None:
    """The table's ``quality`` step with ``null_keys``, as the engines log it; it replaces the step
    an earlier reading of the event log wrote, so a retried task never doubles it."""
    with db.connection() as conn:
        conn.execute(
            "DELETE FROM lakeforge_log.step_run WHERE table_run_id = %s AND step = 'quality'", [table_id]
        )
    with log.step(table_id, "quality", source="event_log") as step:
        step["null_keys"] = null_keys


def _existing_table_run(db: Database, batch_id: int, zone_id: int, table: str) -> int | None:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT id FROM lakeforge_log.table_run WHERE batch_id = %s AND zone_run_id = %s"
            " AND table_name = %s ORDER BY id DESC LIMIT 1",
            [batch_id, zone_id, table],
        ).fetchone()
    return int(row["id"]) if row else None


def pipeline_log_source(
    table: str | None, published: str | None, pipeline_id: str | None, *, on_databricks: bool
) -> str | None:
    """Where the run-log task reads the update's events; None where the engine wrote ``dq_run``.

    ``table`` (the ``event_log`` widget) is read anywhere. On Databricks the job passes the
    table the pipeline publishes its event log to (``event_log_table``): the ``event_log('<id>')``
    function's reference limits it to pipelines in the legacy publishing mode and to their owner
    (docs.databricks.com/sql/language-manual/functions/event_log), while a published table is
    read by whoever may SELECT it. The function stays the fallback for a job synced before the
    pipeline published its log. Off Databricks
    (the local workspace) the published table does not exist and nothing is read.
    """
    if table:
        return table
    if not on_databricks:
        return None
    if published:
        return published
    return event_log_source(pipeline_id) if pipeline_id else None


# -- the job task -----------------------------------------------------------------------------
# The update's events are looked for from a little before the batch was created (clock skew
# between the metadata store and the workspace).
_SKEW = timedelta(minutes=1)


def run_pipeline_log_task(dbutils: Any, *, settings: Settings | None = None, spark: Any = None) -> str:
    """The ``pipeline_run_log`` job task: record the pipeline update's results for the job's batch.

    Reads the event log when there is one (:func:`pipeline_log_source`): on Databricks the table
    the pipeline publishes it to, or any table shaped like it the ``event_log`` widget names.
    Elsewhere the pipeline ran on a LakeForge engine, which wrote its own ``dq_run`` rows, so
    nothing is read or written. Either
    way the task fails when the batch failed, so the job run's result stays that of the pipeline.
    """
    group = widget(dbutils, "group")
    if not group:
        raise LakeForgeError("the notebook needs a group", field="group", fix="Pass --param group=NAME.")
    settings = settings or getattr(dbutils, "lakeforge_settings", None) or get_settings()
    pipeline_id = widget(dbutils, "pipeline_id")
    if pipeline_id and pipeline_id.startswith("${"):
        pipeline_id = None  # an unresolved placeholder: the job was not synced by the reconciler
    table = widget(dbutils, "event_log")
    published = widget(dbutils, "event_log_table")
    summary: dict[str, Any] = {"recorded_checks": 0, "recorded_tables": 0}
    with open_database(settings) as db:
        batch = _find_batch(db, group, widget(dbutils, "batch_id"), widget(dbutils, "job_run_id"))
        if batch is None:
            return json.dumps({**summary, "reason": "no batch for this run"})
        summary["batch_id"] = batch.batch_id
        session = spark if spark is not None else active_session()
        source = pipeline_log_source(table, published, pipeline_id, on_databricks=is_databricks(session))
        if source:
            if session is None:
                session = get_or_create_session(settings)
            since = batch.created_at - _SKEW if batch.created_at else None
            rows = read_event_log(session, source, since)
            outcome = parse_event_log(rows, targets_for(load_group(db, group)))
            summary.update(update_id=outcome.update_id, unmatched=outcome.unmatched)
            if outcome.update_id is not None:
                record_update(db, load_group(db, group), int(batch.batch_id or 0), outcome)
                summary.update(recorded_checks=len(outcome.checks), recorded_tables=len(outcome.tables))
        else:
            summary["reason"] = "no pipeline event log here: the engine wrote dq_run itself"
        _end_run_batch(db, group, int(batch.batch_id or 0))
        with db.connection() as conn:
            current = Repository(conn, BATCH_RUNS).find(batch_id=batch.batch_id)
    status = current.status if current else batch.status
    summary["status"] = status
    if status == "failed":
        raise BatchFailed(
            f"batch {batch.batch_id} failed: {current.error if current else ''}",
            field="batch_id",
            fix=f"See `lakeforge runs` for batch {batch.batch_id}, fix the cause, then rerun it.",
        )
    return json.dumps(summary, default=str)


def _end_run_batch(db: Database, group: str, batch_id: int) -> None:
    """End the job run's batch from its zones: this task is the run's last (``ALL_DONE``, after
    every other task), and the others left the batch ``running`` (``run_batch(ends_batch=False)``).
    One that no task started (still ``queued``) is the sync's to settle as its run ended, and one
    that ended already (cancelled, or recorded above) stays as it is."""
    with db.connection() as conn:
        found = Repository(conn, BATCH_RUNS).find(batch_id=batch_id)
    if found is not None and found.status == "running":
        RunLog(db, batch_id, group).batch_end()


def _find_batch(
    db: Database, group: str, batch_id: str | None, job_run_id: str | None
) -> models.BatchRun | None:
    with db.connection() as conn:
        batches = Repository(conn, BATCH_RUNS)
        if batch_id:
            return batches.find(batch_id=int(batch_id))
        if job_run_id:
            return batches.find(databricks_run_id=job_run_id, group_name=group)
    latest = latest_batch_with(db, group, "bronze", None)
    if latest is None:
        return None
    with db.connection() as conn:
        return Repository(conn, BATCH_RUNS).find(batch_id=latest)
