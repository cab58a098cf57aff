"""The group's declarative pipeline (Lakeflow / DLT on Databricks), planned from metadata.

:func:`plan_pipeline` turns a group's metadata into a :class:`PipelinePlan`: plain values that can
be printed, compared and tested without a cluster. :func:`apply_plan` registers that plan with the
pipeline module (``pyspark.pipelines`` or Databricks' ``dlt``) inside ``notebooks/pipeline_dlt.py``:

* per source, a view over the Bronze table (read as a stream, rerun rewrites skipped; a full load
  without keys reads its newest batch as a batch) with the Silver select/where transforms (the
  engines' columns: the default select leaves Bronze's own audit columns out) and the
  data-quality rules as expectations: ``warn`` → ``expect_all``, ``drop`` and ``quarantine`` →
  ``expect_all_or_drop``, ``fail`` → ``expect_all_or_fail``;
* Silver with primary keys also checks that no key column is NULL (one expectation,
  ``null_key:<key columns>``), as the engines do: such rows are quarantined, not merged into one;
* quarantined rows also go to ``<silver>_quarantine`` with ``_failed_rules`` naming every check
  the row failed, as the engines do: ``null_key:<column>`` for each NULL key column, then every
  rule it failed (whatever its action) in rule-name order;
* the Silver flow, by :attr:`SilverFlow.kind`:

  - ``auto_cdc``: an incremental source with primary keys, a streaming auto-CDC flow (SCD type 1
    or 2, ``sequence_by``);
  - ``auto_cdc_from_snapshot``: a full load with primary keys. Each Bronze batch is the whole
    source: the snapshot auto-CDC flow applies the batches in order (version = ``_batch_id``),
    deleting (SCD 1) or closing (SCD 2) the keys a snapshot lacks. The rows come from
    :func:`snapshot_source`, which applies the checks itself and refuses an empty snapshot;
  - ``materialized_view``: a full load without primary keys. Each Bronze batch is the whole
    source, and the engines replace Silver with it: Silver is a materialized view of the newest
    Bronze batch (largest ``_batch_id``) after the transforms and checks, recomputed by every update;
  - ``append``: an incremental load without primary keys, a streaming append table; with
    ``dedupe``, identical rows of one Bronze batch once (:func:`appended`);
* each gold definition is a materialized view.

Elsewhere the same metadata runs through ``lakeforge.runtime`` on the chosen engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from lakeforge.runtime.config import GroupSpec, SourceSpec
from lakeforge.runtime.engine import FAILED_RULES_COLUMN
from lakeforge.runtime.zones.common import ZoneError, lit, q
from lakeforge.runtime.zones.dq import NULL_KEY_PREFIX, null_key_check
from lakeforge.runtime.zones.silver import DROP_AUDIT, KEEP_AUDIT

FlowKind = Literal["append", "auto_cdc", "auto_cdc_from_snapshot", "materialized_view"]
SNAPSHOT: FlowKind = "auto_cdc_from_snapshot"
# A full load without keys: Silver holds the newest batch, as the engines' replace leaves it.
LATEST: FlowKind = "materialized_view"

# ``select`` of a source without select expressions: Bronze's columns as the engines keep them.
DEFAULT_SELECT = ("*",)
# How long an append flow's deduplication remembers a row (processing time): identical rows of a
# Bronze batch that one micro-batch does not hold whole (one commit's files split by the stream's
# admission limits) still meet within it, and state never outlives it by much.
DEDUPE_WINDOW = "10 minutes"
SEEN_AT = "__lf_seen_at"

# What the snapshot flow's source returns: the snapshot's rows and its version, or None when done.
Snapshot = tuple[Any, int] | None


class Rule(NamedTuple):
    """A data-quality rule as the pipeline checks it."""

    name: str
    expression: str
    action: str  # warn | drop | quarantine | fail


@dataclass(frozen=True)
class SilverFlow:
    source: str
    bronze_table: str
    silver_table: str
    view: str
    select: tuple[str, ...]
    where: str | None
    # Every enabled rule in the order the engines check them (by name): ``_failed_rules``' order.
    rules: tuple[Rule, ...] = ()
    keys: tuple[str, ...] = ()
    sequence_by: str = "_ingested_at"
    scd_type: int = 1
    # ``null_key:<column>`` → predicate, per key column: quarantined like a rule (engines alike).
    null_keys: dict[str, str] = field(default_factory=dict)
    kind: FlowKind = "append"
    # ``silver_config.dedupe``: identical rows once (what a flow without keys keeps of a batch).
    dedupe: bool = True

    def rules_for(self, action: str) -> dict[str, str]:
        """Name → expression of the rules with ``action`` (warn, drop, quarantine, fail), in order."""
        return {rule.name: rule.expression for rule in self.rules if rule.action == action}

    @property
    def unchecked_view(self) -> str:
        return f"{self.view}_unchecked"

    @property
    def quarantine_table(self) -> str | None:
        return f"{self.silver_table}_quarantine" if self.rules_for("quarantine") or self.null_keys else None

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables declared for the source: Silver and, when it has one, ``<silver>_quarantine``.
        Its views are no tables (an update cannot select them) and hold no state, so these two are
        all a full refresh of the source has to reset."""
        return (self.silver_table, *([self.quarantine_table] if self.quarantine_table else []))

    @property
    def key_expectation(self) -> dict[str, str]:
        """The NULL-key check as one expectation over the whole key, so its failed count is the
        number of rows with any NULL key column: the engines' ``null_keys`` figure."""
        if not self.null_keys:
            return {}
        return {NULL_KEY_PREFIX + ",".join(self.keys): " AND ".join(self.null_keys.values())}

    def expectations(self) -> dict[str, dict[str, str]]:
        """The checked view's expectations, by decorator.

        Before an auto-CDC, append or materialized-view flow, the NULL-key, drop and quarantine
        checks drop rows. A snapshot flow's source is a function, where no expectation can attach:
        it removes those rows itself (:func:`snapshot_source`), so on the view they only count (for
        the event log) and the quarantine table reads the view.
        """
        warn, fail = self.rules_for("warn"), self.rules_for("fail")
        removing = {**self.key_expectation, **self.rules_for("drop"), **self.rules_for("quarantine")}
        if self.kind == SNAPSHOT:
            return {"expect_all": {**warn, **removing}, "expect_all_or_fail": fail}
        return {"expect_all": warn, "expect_all_or_drop": removing, "expect_all_or_fail": fail}

    @property
    def quarantine_source(self) -> str:
        """The view the quarantine table reads: one whose rows no expectation dropped. It streams
        Bronze for every kind, so the table keeps each batch's quarantined rows, as on the engines
        (a full load without keys too, whose checked view holds the newest batch only)."""
        return self.view if self.kind == SNAPSHOT else self.unchecked_view

    @property
    def streams_bronze(self) -> bool:
        """Whether anything reads the Bronze stream (``unchecked_view``): every flow but a full load
        without keys, whose Silver reads Bronze as a batch; its quarantine table still streams."""
        return self.kind != LATEST or self.quarantine_table is not None

    def quarantine_filter(self) -> tuple[str, str]:
        """Spark SQL for the quarantine table: which rows (a NULL key column, or failing any
        quarantine rule) and their ``_failed_rules``, as the engines write them: every check the
        row failed (NULL fails), ``null_key:<column>`` per NULL key column in key order, then every
        rule whatever its action (a warn or drop rule the row also failed is named too), in the
        order of :attr:`rules`."""
        quarantining = {**self.null_keys, **self.rules_for("quarantine")}
        failing = " OR ".join(f"NOT {holds(expr)}" for expr in quarantining.values())
        named = {**self.null_keys, **{rule.name: rule.expression for rule in self.rules}}
        names = ", ".join(f"CASE WHEN NOT {holds(expr)} THEN {lit(name)} END" for name, expr in named.items())
        return failing, f"filter(array({names}), x -> x IS NOT NULL) AS {FAILED_RULES_COLUMN}"

    def keep_filter(self) -> str:
        """Spark SQL: the rows that pass every check that removes rows (NULL key, drop, quarantine)."""
        removing = {**self.null_keys, **self.rules_for("drop"), **self.rules_for("quarantine")}
        return " AND ".join(holds(expr) for expr in removing.values()) or "true"


def holds(expression: str) -> str:
    """Spark SQL: TRUE when ``expression`` is, FALSE when it is FALSE or NULL (NULL fails a check,
    as on every engine)."""
    return f"coalesce(({expression}), false)"


@dataclass(frozen=True)
class GoldView:
    name: str
    target: str
    sql: str


@dataclass(frozen=True)
class PipelinePlan:
    group: str
    silver: tuple[SilverFlow, ...]
    gold: tuple[GoldView, ...]

    def source_tables(self, source: str) -> tuple[str, ...]:
        """The tables the pipeline declares for ``source`` (:attr:`SilverFlow.tables`)."""
        return tuple(table for flow in self.silver if flow.source == source for table in flow.tables)

    @property
    def gold_tables(self) -> tuple[str, ...]:
        return tuple(gold.target for gold in self.gold)

    def table_sources(self) -> dict[str, str | None]:
        """Every table the pipeline declares → the source it belongs to (None for Gold)."""
        found: dict[str, str | None] = {table: flow.source for flow in self.silver for table in flow.tables}
        return found | dict.fromkeys(self.gold_tables)

    @property
    def views(self) -> tuple[str, ...]:
        """The temporary views it declares (each source's checked and unchecked Bronze views)."""
        return tuple(
            name
            for flow in self.silver
            for name in (flow.view, *([flow.unchecked_view] if flow.streams_bronze else []))
        )


def _kind(spec: SourceSpec) -> FlowKind:
    assert spec.silver is not None
    full = spec.source.load_mode == "full"
    if not spec.silver.primary_keys:
        # A full load's batch is the whole source: it replaces Silver rather than adding to it.
        return LATEST if full else "append"
    # A full load's batch is the whole source: keys it lacks are gone, which only a snapshot says.
    return SNAPSHOT if full else "auto_cdc"


def _flow(spec: SourceSpec) -> SilverFlow | None:
    silver = spec.silver_table()
    if silver is None or spec.silver is None:
        return None
    return SilverFlow(
        source=spec.name,
        bronze_table=spec.bronze_table().name,
        silver_table=silver.name,
        view=f"{spec.name}_silver_input",
        select=tuple(spec.silver.select_expressions) or DEFAULT_SELECT,
        where=spec.silver.where_clause,
        keys=tuple(spec.silver.primary_keys),
        sequence_by=spec.silver.sequence_by or "_ingested_at",
        scd_type=int(spec.silver.scd_type),
        rules=tuple(Rule(rule.name, rule.expression, rule.action) for rule in spec.rules),
        null_keys=dict(null_key_check(k) for k in spec.silver.primary_keys),
        kind=_kind(spec),
        dedupe=spec.silver.dedupe,
    )


def plan_pipeline(spec: GroupSpec) -> PipelinePlan:
    """The pipeline's definitions for a group (pure: no Spark, no workspace)."""
    catalog = spec.group.catalog
    gold = []
    for config in spec.gold:
        target = (
            config.target_table if config.target_table.count(".") == 2 else f"{catalog}.{config.target_table}"
        )
        gold.append(GoldView(config.name, target, config.sql))
    flows = tuple(flow for flow in (_flow(s) for s in spec.sources) if flow is not None)
    return PipelinePlan(spec.group.name, flows, tuple(gold))


# Names the ``dlt`` module of older runtimes gives two of the functions: ``pyspark.pipelines``
# (``from pyspark import pipelines as dp``) renamed ``@dlt.view`` to ``@dp.temporary_view``, and
# split ``@dlt.table`` into ``@dp.table`` (streaming tables) and ``@dp.materialized_view``
# (docs.databricks.com/aws/en/ldp/concepts/where-is-dlt). The auto-CDC flows' older names are
# looked up where they are called.
_DLT_NAMES = {"temporary_view": "view", "materialized_view": "table"}


class _CurrentNames:
    """A pipeline module read through the ``pyspark.pipelines`` names, whichever it is."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self.__name__ = str(getattr(module, "__name__", module))

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(self._module, name)
        except AttributeError:
            if name not in _DLT_NAMES:
                raise
            return getattr(self._module, _DLT_NAMES[name])


def apply_plan(plan: PipelinePlan, dp: Any, spark: Any) -> None:
    """Register the plan's tables, views and flows with the pipeline module ``dp``
    (``pyspark.pipelines``, or ``dlt`` on runtimes without it)."""
    dp = _CurrentNames(dp)
    # A module lacking the snapshot flow is refused before anything is declared.
    for flow in plan.silver:
        if flow.kind == SNAPSHOT:
            _snapshot_flow_api(flow, dp)
    for flow in plan.silver:
        _register_silver(flow, dp, spark)
    for gold in plan.gold:
        dp.materialized_view(
            lambda sql=gold.sql: spark.sql(sql), name=gold.target, comment=f"gold {gold.name}"
        )


def silver_rows(flow: SilverFlow, bronze: Any) -> Any:
    """Bronze rows (a stream or a batch) after the Silver where/select transforms, with the engines'
    columns: the where clause reads Bronze's columns (the engines run ``SELECT … FROM bronze WHERE``),
    and the default select keeps every column but Bronze's own audit columns (its file, hash,
    rescue), with ``_batch_id`` and ``_ingested_at`` last. Every dataset reads these rows, so Silver
    and ``<silver>_quarantine`` have the engines' columns whatever the flow."""
    rows = bronze.where(flow.where) if flow.where else bronze
    if flow.select != DEFAULT_SELECT:
        return rows.selectExpr(*flow.select, *([] if "*" in flow.select else KEEP_AUDIT))
    data = [q(c) for c in rows.columns if c not in KEEP_AUDIT and c not in DROP_AUDIT]
    return rows.selectExpr(*data, *(q(c) for c in KEEP_AUDIT))


def newest_bronze_batch(flow: SilverFlow, spark: Any) -> Any:
    """The newest Bronze batch (largest ``_batch_id``), read as a batch, after the Silver transforms.

    The batch is chosen before the where clause and the checks: a newest batch they empty leaves
    Silver empty, as the engines' replace of the table with it does.
    """
    bronze = spark.read.table(flow.bronze_table)
    # Joined with the one-row maximum rather than computed first: a dataset's query runs no action.
    newest = bronze.selectExpr("max(_batch_id) AS __lf_newest")
    return silver_rows(flow, bronze.crossJoin(newest).where("_batch_id = __lf_newest").drop("__lf_newest"))


def latest_snapshot(flow: SilverFlow, checked: Any) -> Any:
    """Silver of a full load without keys, from its checked view (the newest batch, without the rows
    the expectations dropped): identical rows once with ``dedupe``.

    ``distinct`` compares whole rows where the engines compare all but ``_batch_id`` and
    ``_ingested_at``: the same thing here, since every row of one batch has the same two values.
    """
    return checked.distinct() if flow.dedupe else checked


def appended(flow: SilverFlow, checked: Any) -> Any:
    """Silver of an incremental load without keys, from its checked stream: identical rows of one
    Bronze batch once with ``dedupe``, as the engines dedupe each batch (rows of different batches
    are never duplicates: the compared columns include ``_batch_id``).

    A streaming deduplication keeps what it has seen as state. Keyed on the row alone that state
    would hold every row Silver ever got; here it is bounded by a watermark on the micro-batch's
    processing time (``current_timestamp()``), so rows are remembered for :data:`DEDUPE_WINDOW`
    only. A watermark on ``_ingested_at`` would also bound it, but it drops "late" rows, and a
    Bronze batch rerun days later keeps its original ``_ingested_at``: its rows would vanish.
    Processing time only moves forward, so no row is ever late unless the clock goes back by more
    than the window (docs/decisions.md).
    """
    if not flow.dedupe:
        return checked
    columns = checked.columns
    seen = checked.selectExpr("*", f"current_timestamp() AS {SEEN_AT}").withWatermark(SEEN_AT, DEDUPE_WINDOW)
    return seen.dropDuplicatesWithinWatermark(columns).drop(SEEN_AT)


def _register_silver(flow: SilverFlow, dp: Any, spark: Any) -> None:
    def unchecked() -> Any:
        # Bronze reruns rewrite a batch's rows (replace-where): the stream skips those commits.
        return silver_rows(
            flow, spark.readStream.option("skipChangeCommits", "true").table(flow.bronze_table)
        )

    if flow.streams_bronze:
        dp.temporary_view(unchecked, name=flow.unchecked_view)

    def checked() -> Any:
        if flow.kind == LATEST:
            return newest_bronze_batch(flow, spark)
        return spark.readStream.table(flow.unchecked_view)

    # Expectations are Databricks' own (the open-source module has none): applied where present.
    query = checked
    for decorator, rules in flow.expectations().items():
        if rules and hasattr(dp, decorator):
            query = getattr(dp, decorator)(rules)(query)
    dp.temporary_view(query, name=flow.view)

    if flow.quarantine_table:
        failing, failed_rules = flow.quarantine_filter()

        def quarantined() -> Any:
            return spark.readStream.table(flow.quarantine_source).where(failing).selectExpr("*", failed_rules)

        dp.table(quarantined, name=flow.quarantine_table, comment=f"quarantine {flow.source}")

    _register_target(flow, dp, spark)


def _register_target(flow: SilverFlow, dp: Any, spark: Any) -> None:
    if flow.kind == LATEST:
        # Recomputed by every update: the checked view's expectations count (and drop) its rows.
        dp.materialized_view(
            lambda: latest_snapshot(flow, spark.read.table(flow.view)),
            name=flow.silver_table,
            comment=f"silver {flow.source}",
        )
        return
    if flow.kind == "append":
        dp.table(
            lambda: appended(flow, spark.readStream.table(flow.view)),
            name=flow.silver_table,
            comment=f"silver {flow.source}",
        )
        return
    if flow.kind == "auto_cdc":
        dp.create_streaming_table(flow.silver_table, comment=f"silver {flow.source}")
        create_flow = getattr(dp, "create_auto_cdc_flow", None) or dp.apply_changes
        create_flow(
            target=flow.silver_table,
            source=flow.view,
            keys=list(flow.keys),
            sequence_by=flow.sequence_by,
            stored_as_scd_type=flow.scd_type,
        )
        return
    history: dict[str, Any] = {}
    if flow.scd_type == 2:
        # Every snapshot stamps its batch on each row: a new version only when the data changes.
        history["track_history_except_column_list"] = list(KEEP_AUDIT)
    dp.create_streaming_table(flow.silver_table, comment=f"silver {flow.source}")
    _snapshot_flow_api(flow, dp)(
        target=flow.silver_table,
        source=snapshot_source(flow, spark),
        keys=list(flow.keys),
        stored_as_scd_type=flow.scd_type,
        **history,
    )


def _snapshot_flow_api(flow: SilverFlow, dp: Any) -> Callable[..., Any]:
    """Databricks' snapshot auto-CDC flow (older runtimes: ``apply_changes_from_snapshot``)."""
    api = getattr(dp, "create_auto_cdc_from_snapshot_flow", None) or getattr(
        dp, "apply_changes_from_snapshot", None
    )
    if api is None:
        raise ZoneError(
            f"source {flow.source}: {flow.silver_table} is a full load with primary keys, applied as"
            f" snapshots by create_auto_cdc_from_snapshot_flow, which the pipeline module"
            f" {getattr(dp, '__name__', dp)!s} does not have",
            field="load_mode",
            fix="Run the group's pipeline on Databricks, or run the group with `lakeforge run` on an"
            " engine; an incremental load (`load_mode: incremental`) runs as a plain auto-CDC flow.",
        )
    return api


def snapshot_source(flow: SilverFlow, spark: Any) -> Callable[[int | None], Snapshot]:
    """The ``source`` of a full load's snapshot flow: ``next_snapshot_and_version(latest_version)``.

    The next snapshot is the Bronze batch with the smallest ``_batch_id`` above ``latest_version``
    (the version the flow applied last; None before the first), after the Silver transforms and
    checks, one row per key; its version is that ``_batch_id``. None when no newer batch exists,
    so one update applies every batch Bronze gained since the last, oldest first.
    """

    def next_snapshot_and_version(latest_version: int | None) -> Snapshot:
        bronze = spark.read.table(flow.bronze_table)
        newer = bronze if latest_version is None else bronze.where(f"_batch_id > {int(latest_version)}")
        batch = newer.selectExpr("min(_batch_id)").first()[0]
        if batch is None:
            return None
        rows = silver_rows(flow, bronze.where(f"_batch_id = {int(batch)}"))
        kept = _checked_snapshot(flow, rows, int(batch), applied=latest_version is not None)
        return _newest_per_key(flow, kept), int(batch)

    return next_snapshot_and_version


def _checked_snapshot(flow: SilverFlow, rows: Any, batch: int, *, applied: bool) -> Any:
    """The snapshot's rows that pass its checks, counted in one pass. Fails on a ``fail`` rule that
    did not hold, and on a snapshot left with no rows once one was applied: it would delete or
    close every key of Silver."""
    keep = flow.keep_filter()
    fails = list(flow.rules_for("fail").items())
    counts = rows.selectExpr(
        "count(*) AS n",
        f"count_if({keep}) AS kept",
        *(f"count_if(NOT {holds(expr)}) AS fail_{i}" for i, (_, expr) in enumerate(fails)),
    ).first()
    broken = [
        f"{name} ({counts[f'fail_{i}']} rows)" for i, (name, _) in enumerate(fails) if counts[f"fail_{i}"]
    ]
    if broken:
        raise ZoneError(
            f"source {flow.source}: full-load batch {batch}: rule(s) with action fail did not hold:"
            f" {', '.join(broken)}; nothing was applied to {flow.silver_table}",
            field="dq_rule",
            fix="Fix the source data or the rule, then rerun the batch.",
        )
    if applied and not counts["kept"]:
        n = counts["n"]
        why = (
            f"its {n} rows were all dropped or quarantined" if n else "the where clause kept none of its rows"
        )
        raise ZoneError(
            f"source {flow.source}: full-load batch {batch} brought no rows to the snapshot ({why});"
            f" applying it would delete or close every key of {flow.silver_table}, so nothing was applied",
            field="load_mode",
            fix="Check that the extract read the whole source (a failed export looks like an empty table)"
            " and rerun the batch. If the source is really empty, delete Silver's rows yourself.",
        )
    return rows.where(keep)


def _newest_per_key(flow: SilverFlow, rows: Any) -> Any:
    """One row per key, as the engines keep: the newest by ``sequence_by``, then ``_ingested_at``,
    then the other columns (so a tie always picks the same row). A snapshot holds one row per key."""
    columns = dict.fromkeys([flow.sequence_by, "_ingested_at", *rows.columns])
    order = [c for c in columns if c not in flow.keys]
    keys = ", ".join(q(k) for k in flow.keys)
    window = f"PARTITION BY {keys} ORDER BY {', '.join(f'{q(c)} DESC' for c in order)}"
    ranked = rows.selectExpr("*", f"row_number() OVER ({window}) AS __lf_rank")
    return ranked.where("__lf_rank = 1").drop("__lf_rank")
