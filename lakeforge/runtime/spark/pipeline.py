"""The group's declarative pipeline (Lakeflow / DLT on Databricks), planned from metadata.

:func:`plan_pipeline` turns a group's metadata into a :class:`PipelinePlan`: plain values that can
be printed, compared and tested without a cluster. :func:`apply_plan` registers that plan with the
pipeline module (``pyspark.pipelines`` or Databricks' ``dlt``) inside ``notebooks/pipeline_dlt.py``:

* per source, a view over the Bronze table (read as a stream, rerun rewrites skipped) with the
  Silver select/where transforms and the data-quality rules as expectations: ``warn`` →
  ``expect_all``, ``drop`` and ``quarantine`` → ``expect_all_or_drop``, ``fail`` →
  ``expect_all_or_fail``;
* quarantined rows also go to ``<silver>_quarantine`` with ``_failed_rules``;
* Silver with primary keys is an auto-CDC flow (SCD type 1 or 2, ``sequence_by``), without keys a
  streaming append table;
* each gold definition is a materialized view.

Elsewhere the same metadata runs through ``lakeforge.runtime`` on the chosen engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lakeforge.runtime.config import GroupSpec, SourceSpec
from lakeforge.runtime.engine import FAILED_RULES_COLUMN


@dataclass(frozen=True)
class SilverFlow:
    source: str
    bronze_table: str
    silver_table: str
    view: str
    select: tuple[str, ...]
    where: str | None
    warn: dict[str, str] = field(default_factory=dict)
    drop: dict[str, str] = field(default_factory=dict)
    fail: dict[str, str] = field(default_factory=dict)
    quarantine: dict[str, str] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    sequence_by: str = "_ingested_at"
    scd_type: int = 1

    @property
    def quarantine_table(self) -> str | None:
        return f"{self.silver_table}_quarantine" if self.quarantine else None

    def quarantine_filter(self) -> tuple[str, str]:
        """Spark SQL for the quarantine table: which rows (failing any quarantine rule) and the
        ``_failed_rules`` column naming the rules each failed (NULL fails, as on every engine)."""
        names = ", ".join(
            f"CASE WHEN NOT coalesce(({expr}), false) THEN '{name}' END"
            for name, expr in self.quarantine.items()
        )
        failing = " OR ".join(f"NOT coalesce(({expr}), false)" for expr in self.quarantine.values())
        return failing, f"filter(array({names}), x -> x IS NOT NULL) AS {FAILED_RULES_COLUMN}"


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


def _flow(spec: SourceSpec) -> SilverFlow | None:
    silver = spec.silver_table()
    if silver is None or spec.silver is None:
        return None
    rules: dict[str, dict[str, str]] = {"warn": {}, "drop": {}, "fail": {}, "quarantine": {}}
    for rule in spec.rules:
        rules[rule.action][rule.name] = rule.expression
    return SilverFlow(
        source=spec.name,
        bronze_table=spec.bronze_table().name,
        silver_table=silver.name,
        view=f"{spec.name}_silver_input",
        select=tuple(spec.silver.select_expressions) or ("*",),
        where=spec.silver.where_clause,
        keys=tuple(spec.silver.primary_keys),
        sequence_by=spec.silver.sequence_by or "_ingested_at",
        scd_type=int(spec.silver.scd_type),
        **rules,
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


def apply_plan(plan: PipelinePlan, dp: Any, spark: Any) -> None:
    """Register the plan's tables, views and flows with the pipeline module ``dp``."""
    for flow in plan.silver:
        _register_silver(flow, dp, spark)
    for gold in plan.gold:
        dp.materialized_view(
            lambda sql=gold.sql: spark.sql(sql), name=gold.target, comment=f"gold {gold.name}"
        )


def _register_silver(flow: SilverFlow, dp: Any, spark: Any) -> None:
    select = list(flow.select)
    if "*" not in select:
        select += ["_batch_id", "_ingested_at"]

    def unchecked() -> Any:
        # Bronze reruns rewrite a batch's rows (replace-where): the stream skips those commits.
        frame = spark.readStream.option("skipChangeCommits", "true").table(flow.bronze_table)
        frame = frame.selectExpr(*select)
        return frame.where(flow.where) if flow.where else frame

    dp.temporary_view(unchecked, name=f"{flow.view}_unchecked")

    def checked() -> Any:
        return spark.readStream.table(f"{flow.view}_unchecked")

    # Expectations are Databricks' own (the open-source module has none): applied where present.
    query = checked
    for decorator, rules in (
        ("expect_all", flow.warn),
        ("expect_all_or_drop", {**flow.drop, **flow.quarantine}),
        ("expect_all_or_fail", flow.fail),
    ):
        if rules and hasattr(dp, decorator):
            query = getattr(dp, decorator)(rules)(query)
    dp.temporary_view(query, name=flow.view)

    if flow.quarantine_table:
        failing, failed_rules = flow.quarantine_filter()

        def quarantined() -> Any:
            return (
                spark.readStream.table(f"{flow.view}_unchecked").where(failing).selectExpr("*", failed_rules)
            )

        dp.table(quarantined, name=flow.quarantine_table, comment=f"quarantine {flow.source}")

    if flow.keys:
        dp.create_streaming_table(flow.silver_table, comment=f"silver {flow.source}")
        create_flow = getattr(dp, "create_auto_cdc_flow", None) or dp.apply_changes
        create_flow(
            target=flow.silver_table,
            source=flow.view,
            keys=list(flow.keys),
            sequence_by=flow.sequence_by,
            stored_as_scd_type=flow.scd_type,
        )
    else:
        dp.table(
            lambda: spark.readStream.table(flow.view), name=flow.silver_table, comment=f"silver {flow.source}"
        )
