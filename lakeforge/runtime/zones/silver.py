"""Silver: one batch of Bronze rows transformed, checked, deduplicated and merged.

Order: select/where transforms (Spark SQL) → data-quality rules → dedupe → write:

* no primary keys: the batch's rows replace-where ``_batch_id`` (append, exactly once);
* SCD type 1: MERGE on the keys; with ``sequence_by`` an older row never overwrites a newer one;
* SCD type 2: every version kept with ``valid_from`` (the ``sequence_by`` value), ``valid_to`` (the
  next version's) and ``is_current``; late rows slot into history. The affected keys' history is
  recomputed and merged on keys + ``valid_from``, so reruns are idempotent.
"""

from __future__ import annotations

from lakeforge.runtime.config import SourceSpec
from lakeforge.runtime.engine import Frame, TableRef
from lakeforge.runtime.registry import writer_for
from lakeforge.runtime.zones import dq
from lakeforge.runtime.zones.common import RunContext, TableOutcome, ZoneError, q

_KEEP_AUDIT = ("_batch_id", "_ingested_at")
_DROP_AUDIT = ("_source_file", "_rescued_data", "_record_hash")


def _names(ctx: RunContext, frame: Frame) -> list[str]:
    return list(ctx.engine.schema(frame).names)


def transform(ctx: RunContext, spec: SourceSpec, bronze: TableRef) -> Frame:
    assert spec.silver is not None
    batch = ctx.data_batch_id
    rows = ctx.engine.sql(f"SELECT * FROM {bronze.name} WHERE _batch_id = {batch}")
    exprs = list(spec.silver.select_expressions) or [
        q(c) for c in _names(ctx, rows) if c not in _KEEP_AUDIT and c not in _DROP_AUDIT
    ]
    where = f" WHERE {spec.silver.where_clause}" if spec.silver.where_clause else ""
    select = ", ".join([*exprs, *(q(c) for c in _KEEP_AUDIT)])
    return ctx.engine.sql(f"SELECT {select} FROM __lf_bronze{where}", {"__lf_bronze": rows})


def dedupe(ctx: RunContext, frame: Frame, keys: list[str], order: str | None, per_version: bool) -> Frame:
    columns = _names(ctx, frame)
    if keys:
        partition = [*keys, *([order] if per_version and order else [])]
    else:
        # Without keys, rows with identical values are duplicates.
        partition = [c for c in columns if c not in _KEEP_AUDIT]
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


def scd1_rows(ctx: RunContext, frame: Frame, target: TableRef, keys: list[str], order: str) -> Frame:
    if not ctx.engine.table_exists(target):
        return frame
    cols = ", ".join(f"s.{q(c)}" for c in _names(ctx, frame))
    return ctx.engine.sql(
        f"SELECT {cols} FROM __lf_in s LEFT JOIN {target.name} t ON {_match(keys, 's', 't')}"
        f" WHERE t.{q(order)} IS NULL OR s.{q(order)} >= t.{q(order)}",
        {"__lf_in": frame},
    )


def scd2_rows(
    ctx: RunContext, frame: Frame, target: TableRef, keys: list[str], order: str, batch: int
) -> Frame:
    """The batch's versions plus the recomputed history of every key they touch.

    Versions an earlier attempt of this batch wrote (a rerun or retry) are replaced rather than
    kept as history: they are left out here, their keys' history is recomputed all the same, and
    the merge deletes the ones the batch no longer produces (``delete_unmatched``). Without this a
    rerun whose ``valid_from`` is ``_ingested_at`` added a second copy of every version.
    """
    names = _names(ctx, frame)
    cols = ", ".join(q(c) for c in names)
    parts = ", ".join(q(k) for k in keys)
    views = {"__lf_in": frame}
    if ctx.engine.table_exists(target):
        touched = (
            f"SELECT {parts} FROM __lf_in"
            f" UNION ALL SELECT {parts} FROM {target.name} WHERE _batch_id = {batch}"
        )
        history = (
            f" UNION ALL SELECT {', '.join(f't.{q(c)}' for c in names)} FROM {target.name} t"
            f" WHERE NOT (t._batch_id <=> {batch})"
            f" AND EXISTS (SELECT 1 FROM ({touched}) k WHERE {_match(keys, 'k', 't')})"
            f" AND NOT EXISTS (SELECT 1 FROM __lf_in s WHERE {_match(keys, 's', 't')}"
            f" AND s.{q(order)} <=> t.{q(order)})"
        )
    else:
        history = ""
    window = f"OVER (PARTITION BY {parts} ORDER BY {q(order)})"
    return ctx.engine.sql(
        f"SELECT {cols}, {q(order)} AS valid_from, lead({q(order)}) {window} AS valid_to,"
        f" lead({q(order)}) {window} IS NULL AS is_current"
        f" FROM (SELECT {cols} FROM __lf_in{history}) AS __lf_all",
        views,
    )


def run_silver(ctx: RunContext, spec: SourceSpec, table_id: int, target: TableRef) -> TableOutcome:
    assert spec.silver is not None
    config = spec.silver
    engine = ctx.engine
    batch = ctx.data_batch_id
    writer = writer_for(config.options.get("writer"))
    if not engine.table_exists(spec.bronze_table()):
        return _nothing_yet(ctx, spec, table_id, target)
    with ctx.log.step(table_id, "transform") as step:
        frame = transform(ctx, spec, spec.bronze_table())
        rows_in = engine.count(frame)
        step["rows_out"] = rows_in
    with ctx.log.step(table_id, "quality", rules=len(spec.rules)) as step:
        outcome = dq.evaluate(engine, frame, spec.rules)
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
        step.update(rows_in=rows_in, dropped=outcome.dropped_rows, quarantined=outcome.quarantined_rows)
        if outcome.failed_hard:
            failed = ", ".join(f"{r.rule.name} ({r.rows_failed} rows)" for r in outcome.failed_hard)
            raise ZoneError(
                f"rule(s) with action fail did not hold: {failed}",
                field="dq_rule",
                fix="Fix the source data or the rule, then rerun the batch.",
            )
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
    keys = list(config.primary_keys)
    order = config.sequence_by
    # What reaches the merge, so the log adds up: rows in = rows out + rejected (dropped and
    # quarantined) + duplicates (of a key, or identical rows, in the batch) + stale (older than
    # the table's row for the key, SCD 1).
    kept = rows_in - outcome.dropped_rows - outcome.quarantined_rows
    with ctx.log.step(table_id, "merge", scd_type=config.scd_type, keys=keys) as step:
        rows = outcome.kept
        unique = kept
        if config.dedupe or keys:
            rows = dedupe(ctx, rows, keys, order, per_version=config.scd_type == 2)
            # On the embedded engine the deduplicated rows are kept and the merge reuses them.
            unique = engine.count(rows)
        if not keys:
            # A full load's batch is the whole source: it replaces the table, where appending it
            # would keep every earlier snapshot next to it. An incremental batch replaces its own rows.
            full = spec.source.load_mode == "full"
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
            # Without sequence_by the batch's ingestion time orders changes (as the Databricks
            # pipeline's auto-CDC flow does), so a rerun of an old batch never undoes a newer one.
            newer = scd1_rows(ctx, rows, target, keys, order or "_ingested_at")
            result = engine.upsert(target, newer, keys)
            merged = result.rows_in if result.rows_in is not None else engine.count(newer)
        else:
            # The merge also rewrites the history of the keys the batch touches; the batch's own
            # rows are its versions.
            result = engine.upsert(
                target,
                scd2_rows(ctx, rows, target, keys, order or "_ingested_at", batch),
                [*keys, "valid_from"],
                delete_unmatched=f"t._batch_id = {batch}",
            )
            merged = unique
        step.update(
            rows_in=kept,
            rows_out=merged,
            duplicates=kept - unique,
            stale=unique - merged,
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


def _nothing_yet(ctx: RunContext, spec: SourceSpec, table_id: int, target: TableRef) -> TableOutcome:
    """Bronze has no table until a batch brings rows (a first incremental batch may find no new
    files): Silver then has nothing to do, and every rule checked zero rows."""
    with ctx.log.step(table_id, "transform", bronze=str(spec.bronze_table()), bronze_exists=False) as step:
        step.update(rows_in=0, rows_out=0)
    for rule in spec.rules:
        ctx.log.dq(table_id, target.name, rule.id, rule.name, rule.expression, rule.action, 0, 0)
    return TableOutcome(rows_in=0, rows_out=0, rows_rejected=0, details={"empty": True})
