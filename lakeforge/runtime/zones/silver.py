"""Silver: one batch of Bronze rows transformed, checked, deduplicated and merged.

Order: select/where transforms (Spark SQL) → data-quality rules and NULL-key quarantine → dedupe →
write:

* no primary keys: the batch's rows replace-where ``_batch_id`` (append, exactly once); a full
  load's batch replaces the whole table, unless the table holds a newer snapshot (a rerun of an
  older batch writes nothing);
* SCD type 1: MERGE on the keys; an older row never overwrites a newer one (``sequence_by``, else
  ``_ingested_at``). A full load's batch is the whole source: keys it lacks are deleted;
* SCD type 2: every version kept with ``valid_from`` (the ``sequence_by`` value), ``valid_to`` (the
  next version's) and ``is_current``; late rows slot into history. The affected keys' history is
  recomputed and merged on keys + ``valid_from``, so reruns are idempotent. A full load closes the
  current version of keys it lacks at the batch's time; a key that comes back opens a new one.

A full load whose batch brings no rows to merge while Silver holds rows it would delete, close or
replace fails instead: an empty extract must not wipe the table.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from lakeforge.runtime.config import SourceSpec
from lakeforge.runtime.engine import Frame, TableRef, WriteResult
from lakeforge.runtime.registry import writer_for
from lakeforge.runtime.zones import dq
from lakeforge.runtime.zones.common import RunContext, TableOutcome, ZoneError, batch_time, q

# Audit columns Silver keeps, and the Bronze-only ones a select of every column leaves out.
KEEP_AUDIT = ("_batch_id", "_ingested_at")
DROP_AUDIT = ("_source_file", "_rescued_data", "_record_hash")


def _names(ctx: RunContext, frame: Frame) -> list[str]:
    return list(ctx.engine.schema(frame).names)


def transform(ctx: RunContext, spec: SourceSpec, bronze: TableRef) -> Frame:
    assert spec.silver is not None
    batch = ctx.data_batch_id
    rows = ctx.engine.sql(f"SELECT * FROM {bronze.name} WHERE _batch_id = {batch}")
    exprs = list(spec.silver.select_expressions) or [
        q(c) for c in _names(ctx, rows) if c not in KEEP_AUDIT and c not in DROP_AUDIT
    ]
    where = f" WHERE {spec.silver.where_clause}" if spec.silver.where_clause else ""
    select = ", ".join([*exprs, *(q(c) for c in KEEP_AUDIT)])
    return ctx.engine.sql(f"SELECT {select} FROM __lf_bronze{where}", {"__lf_bronze": rows})


def dedupe(ctx: RunContext, frame: Frame, keys: list[str], order: str | None, per_version: bool) -> Frame:
    columns = _names(ctx, frame)
    if keys:
        partition = [*keys, *([order] if per_version and order else [])]
    else:
        # Without keys, rows with identical values are duplicates.
        partition = [c for c in columns if c not in KEEP_AUDIT]
    ordering = ", ".join(
        [
            *([f"{q(order)} DESC"] if order else []),
            "`_ingested_at` DESC",
            *(f"{q(c)} DESC" for c in columns if c not in partition and c != order),
        ]
    )
    cols = ", ".join(q(c) for c in columns)
    return ctx.engine.sql(
        f"SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {', '.join(q(p) for p in partition)}"
        f" ORDER BY {ordering}) AS __lf_rn FROM __lf_in) WHERE __lf_rn = 1",
        {"__lf_in": frame},
    )


def _match(keys: list[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{q(k)} <=> {right}.{q(k)}" for k in keys)


def _scalar(ctx: RunContext, query: str, views: dict[str, Frame] | None = None) -> int | None:
    value = ctx.engine.to_arrow(ctx.engine.sql(query, views)).column(0)[0].as_py()
    return None if value is None else int(value)


def newest_batch(ctx: RunContext, target: TableRef) -> int | None:
    """The newest batch whose rows the table holds (``None`` when it holds none)."""
    return _scalar(ctx, f"SELECT max(_batch_id) FROM {target.name}")


def absent_rows(ctx: RunContext, frame: Frame, target: TableRef, keys: list[str], where: str) -> int:
    """Rows of ``target`` matching ``where`` whose key no frame row has: what a snapshot removes."""
    query = (
        f"SELECT count(*) FROM {target.name} t WHERE ({where})"
        f" AND NOT EXISTS (SELECT 1 FROM __lf_in s WHERE {_match(keys, 's', 't')})"
    )
    return _scalar(ctx, query, {"__lf_in": frame}) or 0


def next_batch_time(ctx: RunContext, target: TableRef, batch: int) -> datetime | None:
    """When the oldest batch newer than ``batch`` that wrote rows to ``target`` was ingested."""
    query = (
        f"SELECT max(_ingested_at) FROM {target.name} WHERE _batch_id ="
        f" (SELECT min(_batch_id) FROM {target.name} WHERE _batch_id > {batch})"
    )
    value = ctx.engine.to_arrow(ctx.engine.sql(query)).column(0)[0].as_py()
    return value if isinstance(value, datetime) else None


def closing_time(ctx: RunContext, order: str, order_type: pa.DataType, at: datetime | None = None) -> str:
    """Spark SQL for the ``valid_to`` a full load gives a key it lacks: the batch's time (or
    ``at``'s), as a date for a date ``sequence_by``, NULL for a ``sequence_by`` that is no point in
    time (a counter)."""
    time = batch_time(at or ctx.ingested_at)
    if order == "_ingested_at" or pa.types.is_timestamp(order_type):
        return time
    if pa.types.is_date(order_type):
        return f"CAST({time} AS DATE)"
    return "NULL"


def _closed_by_snapshot(target: TableRef, keys: list[str], row: str) -> str:
    """Spark SQL: version ``row`` of ``target`` was closed by a snapshot lacking its key, not by a
    successor (its ``valid_to`` is no other version's ``valid_from``, or is NULL)."""
    return (
        f"NOT {row}.is_current AND ({row}.valid_to IS NULL OR NOT EXISTS (SELECT 1 FROM {target.name} n"
        f" WHERE {_match(keys, 'n', row)} AND n.valid_from = {row}.valid_to))"
    )


def scd2_rows(
    ctx: RunContext,
    frame: Frame,
    target: TableRef,
    keys: list[str],
    order: str,
    batch: int,
    *,
    closed_at: str | None = None,
    later_closed_at: str | None = None,
) -> Frame:
    """The batch's versions plus the recomputed history of every key they touch.

    Versions an earlier attempt of this batch wrote (a rerun or retry) are replaced rather than
    kept as history: they are left out here, their keys' history is recomputed all the same, and
    the merge deletes the ones the batch no longer produces (``delete_unmatched``). Without this a
    rerun whose ``valid_from`` is ``_ingested_at`` added a second copy of every version.

    ``closed_at`` (a full load): the current version of a key the batch lacks, written by this
    batch or an older one, is closed with ``valid_to`` = ``closed_at`` and ``is_current`` false.
    Such a closure is kept when history is recomputed: a closed version whose ``valid_to`` is no
    other version's ``valid_from`` (or is NULL) was closed by a snapshot, not by its successor.

    ``later_closed_at`` (a rerun of a full load older than the newest the table holds: the time of
    the next snapshot, as ``closed_at`` is this one's): a version the batch writes again keeps the
    closure a newer snapshot gave the version it replaces (same key and sequence value), and a
    version with none to replace (its row was quarantined or dropped the first time) is closed at
    the next snapshot's time when no newer batch left its key current. Without this the rerun
    reopened every key a newer snapshot had closed.
    """
    names = _names(ctx, frame)
    cols = ", ".join(q(c) for c in names)
    parts = ", ".join(q(k) for k in keys)
    o = q(order)
    views = {"__lf_in": frame}
    incoming = f"SELECT {cols}, false AS __lf_gone, {o} AS __lf_end, false AS __lf_absent FROM __lf_in"

    def closed(row: str) -> str:
        return _closed_by_snapshot(target, keys, row)

    if ctx.engine.table_exists(target):
        if later_closed_at is not None:
            # r: the version this one replaces (same key and sequence), as newer batches left it.
            lacked = (
                f"NOT EXISTS (SELECT 1 FROM {target.name} c WHERE {_match(keys, 'c', 's')}"
                f" AND c.is_current AND c._batch_id > {batch})"
            )
            incoming = (
                f"SELECT {', '.join(f's.{q(c)}' for c in names)},"
                f" CASE WHEN r._batch_id IS NULL THEN {lacked} ELSE {closed('r')} END AS __lf_gone,"
                f" CASE WHEN r._batch_id IS NULL THEN {later_closed_at} ELSE r.valid_to END AS __lf_end,"
                f" false AS __lf_absent FROM __lf_in s LEFT JOIN {target.name} r"
                f" ON {_match(keys, 's', 'r')} AND s.{o} <=> r.{o}"
            )
        touched = [
            f"SELECT {parts} FROM __lf_in",
            f"SELECT {parts} FROM {target.name} WHERE _batch_id = {batch}",
        ]
        absent = "false"
        if closed_at is not None:
            touched.append(f"SELECT {parts} FROM {target.name} WHERE is_current AND _batch_id <= {batch}")
            absent = f"NOT EXISTS (SELECT 1 FROM __lf_in s WHERE {_match(keys, 's', 't')})"
        history = (
            f" UNION ALL SELECT {', '.join(f't.{q(c)}' for c in names)}, {closed('t')} AS __lf_gone,"
            f" t.valid_to AS __lf_end, {absent} AS __lf_absent FROM {target.name} t"
            f" WHERE NOT (t._batch_id <=> {batch})"
            f" AND EXISTS (SELECT 1 FROM ({' UNION ALL '.join(touched)}) k WHERE {_match(keys, 'k', 't')})"
            f" AND NOT EXISTS (SELECT 1 FROM __lf_in s WHERE {_match(keys, 's', 't')}"
            f" AND s.{o} <=> t.{o})"
        )
    else:
        history = ""
    # A kept closure ends the version unless a later version now starts before it; a key the
    # snapshot lacks closes only when a batch no newer than this one wrote its last version.
    kept = "__lf_gone AND (__lf_end IS NULL OR __lf_next IS NULL OR __lf_end < __lf_next)"
    close = f"__lf_absent AND __lf_next IS NULL AND _batch_id < {batch}"
    window = f"OVER (PARTITION BY {parts} ORDER BY {o})"
    return ctx.engine.sql(
        f"SELECT {cols}, {o} AS valid_from,"
        f" CASE WHEN {kept} THEN __lf_end WHEN {close} THEN {closed_at or 'NULL'} ELSE __lf_next END"
        f" AS valid_to, __lf_next IS NULL AND NOT __lf_gone AND NOT ({close}) AS is_current"
        f" FROM (SELECT *, lead({o}) {window} AS __lf_next FROM"
        f" ({incoming}{history})"
        f" AS __lf_all) AS __lf_ordered",
        views,
    )


def run_silver(ctx: RunContext, spec: SourceSpec, table_id: int, target: TableRef) -> TableOutcome:
    assert spec.silver is not None
    config = spec.silver
    engine = ctx.engine
    batch = ctx.data_batch_id
    writer = writer_for(config.options.get("writer"))
    keys = list(config.primary_keys)
    order = config.sequence_by
    full = spec.source.load_mode == "full"
    # A full load with keys is a snapshot: the keys it lacks are gone from the source.
    snapshot = full and bool(keys)
    if not engine.table_exists(spec.bronze_table()):
        return _nothing_yet(ctx, spec, table_id, target)
    with ctx.log.step(table_id, "transform") as step:
        frame = transform(ctx, spec, spec.bronze_table())
        rows_in = engine.count(frame)
        step["rows_out"] = rows_in
    with ctx.log.step(table_id, "quality", rules=len(spec.rules)) as step:
        outcome = dq.evaluate(engine, frame, spec.rules, keys)
        for rule_result in outcome.results:
            ctx.log.dq(
                table_id,
                target.name,
                rule_result.rule.id,
                rule_result.rule.name,
                rule_result.rule.expression,
                rule_result.rule.action,
                rule_result.rows_checked,
                rule_result.rows_failed,
            )
        step.update(
            rows_in=rows_in,
            dropped=outcome.dropped_rows,
            quarantined=outcome.quarantined_rows,
            null_keys=outcome.null_key_rows,
        )
        if outcome.failed_hard:
            failed = ", ".join(f"{r.rule.name} ({r.rows_failed} rows)" for r in outcome.failed_hard)
            raise ZoneError(
                f"rule(s) with action fail did not hold: {failed}",
                field="dq_rule",
                fix="Fix the source data or the rule, then rerun the batch.",
            )
        # What reaches the merge, so the log adds up: rows in = rows out + rejected (dropped and
        # quarantined) + duplicates (of a key, or identical rows, in the batch) + stale (older than
        # the table's row for the key, SCD 1).
        kept = rows_in - outcome.dropped_rows - outcome.quarantined_rows
        newest = newest_batch(ctx, target) if full and engine.table_exists(target) else None
        if full and kept == 0 and newest is not None:
            _refuse_empty_snapshot(ctx, spec, target, outcome.kept, newest, rows_in - kept)
    if outcome.quarantined is not None or engine.table_exists(target.sibling("_quarantine")):
        with ctx.log.step(table_id, "quarantine", table=str(target.sibling("_quarantine"))) as step:
            quarantine = target.sibling("_quarantine")
            if outcome.quarantined is not None:
                written = engine.write(
                    quarantine,
                    outcome.quarantined,
                    mode="overwrite",
                    replace_where=f"_batch_id = {batch}",
                    merge_schema=True,
                ).rows_written
            else:
                engine.delete(quarantine, f"_batch_id = {batch}")
                written = 0
            step["rows_out"] = written
    # ``data_batch``: the Bronze batch this merge applied, which a later catch-up reads (catchup.py).
    with ctx.log.step(
        table_id, "merge", scd_type=config.scd_type, keys=keys, snapshot=snapshot, data_batch=batch
    ) as step:
        rows = outcome.kept
        unique = kept
        if config.dedupe or keys:
            rows = dedupe(ctx, rows, keys, order, per_version=config.scd_type == 2)
            # On the embedded engine the deduplicated rows are kept and the merge reuses them.
            unique = engine.count(rows)
        # Keys the snapshot lacks: rows deleted (SCD 1) or current versions closed (SCD 2).
        removed = 0
        if not keys and full and newest is not None and newest > batch:
            # A rerun of a snapshot older than the one the table holds: the newer one stays, as a
            # keyed full load keeps it.
            result = WriteResult(target, engine.table_version(target), rows_written=0)
            merged = 0
        elif not keys:
            # A full load's batch is the whole source: it replaces the table, where appending it
            # would keep every earlier snapshot next to it. An incremental batch replaces its own rows.
            result = writer.write(
                engine,
                target,
                rows,
                zone="silver",
                mode="overwrite",
                replace_where="true" if full else f"_batch_id = {batch}",
                merge_schema=True,
            )
            merged = result.rows_in if result.rows_in is not None else unique
        elif config.scd_type == 1:
            if newest is not None and newest > batch:
                # A rerun of a snapshot older than the one the table holds: every key it has is
                # older than the table's, and every key it lacks there was removed by a newer one.
                result = WriteResult(target, engine.table_version(target), rows_written=0)
            else:
                # Without sequence_by the batch's ingestion time orders changes (as the Databricks
                # pipeline's auto-CDC flow does), so a rerun of an old batch never undoes a newer one.
                seq = q(order or "_ingested_at")
                result = engine.upsert(
                    target,
                    rows,
                    keys,
                    update_when=f"t.{seq} IS NULL OR s.{seq} >= t.{seq}",
                    delete_unmatched="true" if snapshot else None,
                )
                removed = result.rows_deleted
            # Every row that is not stale inserts or updates one row.
            merged = result.rows_written + result.rows_updated
        else:
            seq = order or "_ingested_at"
            closed_at = later_closed_at = None
            if snapshot:
                seq_type = engine.schema(rows).field(seq).type
                closed_at = closing_time(ctx, seq, seq_type)
                if newest is not None:
                    removed = absent_rows(ctx, rows, target, keys, f"t.is_current AND t._batch_id < {batch}")
                if newest is not None and newest > batch:
                    later = next_batch_time(ctx, target, batch)
                    later_closed_at = closing_time(ctx, seq, seq_type, at=later) if later else "NULL"
            # The merge also rewrites the history of the keys the batch touches; the batch's own
            # rows are its versions.
            result = engine.upsert(
                target,
                scd2_rows(
                    ctx, rows, target, keys, seq, batch, closed_at=closed_at, later_closed_at=later_closed_at
                ),
                [*keys, "valid_from"],
                delete_unmatched=f"t._batch_id = {batch}",
            )
            merged = unique
        step.update(
            rows_in=kept,
            rows_out=merged,
            duplicates=kept - unique,
            stale=unique - merged,
            removed=removed,
            inserted=result.rows_written,
            updated=result.rows_updated,
            deleted=result.rows_deleted,
            version=result.version,
        )
    return TableOutcome(
        rows_in=rows_in,
        rows_out=merged,
        rows_rejected=outcome.dropped_rows + outcome.quarantined_rows,
        delta_version=result.version,
    )


def _refuse_empty_snapshot(
    ctx: RunContext, spec: SourceSpec, target: TableRef, rows: Frame, newest: int, rejected: int
) -> None:
    """Fail a full load whose batch brings no rows while the table holds rows it would delete or
    close: an empty file or a failed export must not read as "every key was deleted"."""
    assert spec.silver is not None
    batch = ctx.data_batch_id
    if not spec.silver.primary_keys:
        at_stake = (_scalar(ctx, f"SELECT count(*) FROM {target.name}") or 0) if newest <= batch else 0
        what = "replace with nothing"
    elif spec.silver.scd_type == 1:
        at_stake = absent_rows(ctx, rows, target, spec.silver.primary_keys, "true") if newest <= batch else 0
        what = "delete"
    else:
        at_stake = absent_rows(
            ctx, rows, target, spec.silver.primary_keys, f"t.is_current AND t._batch_id < {batch}"
        )
        what = "close"
    if not at_stake:
        return
    why = f" ({rejected} dropped or quarantined)" if rejected else ""
    raise ZoneError(
        f"source {spec.name}: full-load batch {batch} brought no rows to merge{why}, and {target}"
        f" holds {at_stake} rows this snapshot would {what}; nothing was written to Silver",
        field="load_mode",
        fix="Check that the extract read the whole source (an empty file or a failed export looks like"
        " an empty table) and rerun the batch. If the source is really empty, delete the rows from"
        f" {target} yourself.",
    )


def _nothing_yet(ctx: RunContext, spec: SourceSpec, table_id: int, target: TableRef) -> TableOutcome:
    """Bronze has no table until a batch brings rows (a first incremental batch may find no new
    files): Silver then has nothing to do, and every rule checked zero rows."""
    with ctx.log.step(table_id, "transform", bronze=str(spec.bronze_table()), bronze_exists=False) as step:
        step.update(rows_in=0, rows_out=0)
    for rule in spec.rules:
        ctx.log.dq(table_id, target.name, rule.id, rule.name, rule.expression, rule.action, 0, 0)
    return TableOutcome(rows_in=0, rows_out=0, rows_rejected=0, details={"empty": True})
