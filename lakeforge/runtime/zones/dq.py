"""Data-quality rules: Spark SQL predicates evaluated the same way on every engine.

A row passes a rule when its expression is TRUE; FALSE or NULL fails it (as a Delta CHECK would
not, but as an expectation should: a missing value is not a valid one). Actions:

* ``warn``: count and keep the row;
* ``drop``: count and drop the row;
* ``quarantine``: count, drop the row from the target, and write it to ``<table>_quarantine``
  with ``_failed_rules`` (names of every rule it failed);
* ``fail``: count and fail the table when any row fails; nothing is written.

Each rule gives one ``dq_run`` row (rows checked, passed, failed, action), identical on all engines.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakeforge.metadata import models
from lakeforge.runtime.engine import FAILED_RULES_COLUMN, Engine, Frame
from lakeforge.runtime.zones.common import lit, q


@dataclass
class RuleResult:
    rule: models.DqRule
    rows_checked: int
    rows_failed: int


@dataclass
class DqOutcome:
    kept: Frame
    quarantined: Frame | None
    quarantined_rows: int
    dropped_rows: int
    results: list[RuleResult]

    @property
    def failed_hard(self) -> list[RuleResult]:
        return [r for r in self.results if r.rule.action == "fail" and r.rows_failed]


def evaluate(engine: Engine, frame: Frame, rules: list[models.DqRule]) -> DqOutcome:
    if not rules:
        return DqOutcome(frame, None, 0, 0, [])
    columns = ", ".join(q(c) for c in engine.schema(frame).names)
    flags = [f"__lf_dq_{i}" for i in range(len(rules))]
    checks = ", ".join(
        f"coalesce(CAST(({r.expression}) AS BOOLEAN), false) AS {f}"
        for r, f in zip(rules, flags, strict=True)
    )
    flagged = engine.sql(f"SELECT *, {checks} FROM __lf_input", {"__lf_input": frame})
    removing = [f for r, f in zip(rules, flags, strict=True) if r.action in ("drop", "quarantine")]
    quarantining = [f for r, f in zip(rules, flags, strict=True) if r.action == "quarantine"]
    sums = ", ".join(f"coalesce(sum(CASE WHEN {f} THEN 0 ELSE 1 END), 0) AS {f}" for f in flags)
    keep_all = " AND ".join(removing) if removing else "true"
    quarantine_all = " AND ".join(quarantining) if quarantining else "true"
    counts_frame = engine.sql(
        f"SELECT count(*) AS n, {sums},"
        f" coalesce(sum(CASE WHEN {keep_all} THEN 0 ELSE 1 END), 0) AS __lf_removed,"
        f" coalesce(sum(CASE WHEN {quarantine_all} THEN 0 ELSE 1 END), 0) AS __lf_quarantined"
        " FROM __lf_flagged",
        {"__lf_flagged": flagged},
    )
    counts = engine.to_arrow(counts_frame).to_pylist()[0]
    results = [RuleResult(r, int(counts["n"]), int(counts[f])) for r, f in zip(rules, flags, strict=True)]
    kept = (
        engine.sql(f"SELECT {columns} FROM __lf_flagged WHERE {keep_all}", {"__lf_flagged": flagged})
        if removing
        else frame
    )
    quarantined = None
    n_quarantined = int(counts["__lf_quarantined"])
    if quarantining and n_quarantined:
        names = ", ".join(
            f"CASE WHEN NOT {f} THEN {lit(r.name)} END" for r, f in zip(rules, flags, strict=True)
        )
        quarantined = engine.sql(
            f"SELECT {columns}, filter(array({names}), x -> x IS NOT NULL) AS {q(FAILED_RULES_COLUMN)}"
            f" FROM __lf_flagged WHERE NOT ({quarantine_all})",
            {"__lf_flagged": flagged},
        )
    return DqOutcome(kept, quarantined, n_quarantined, int(counts["__lf_removed"]) - n_quarantined, results)
