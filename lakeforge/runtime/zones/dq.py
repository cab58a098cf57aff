"""Data-quality rules: Spark SQL predicates evaluated the same way on every engine.

A row passes a rule when its expression is TRUE; FALSE or NULL fails it (as a Delta CHECK would
not, but as an expectation should: a missing value is not a valid one). Actions:

* ``warn``: count and keep the row;
* ``drop``: count and drop the row;
* ``quarantine``: count, drop the row from the target, and write it to ``<table>_quarantine``
  with ``_failed_rules`` (names of every rule it failed);
* ``fail``: count and fail the table when any row fails; nothing is written.

Each rule gives one ``dq_run`` row (rows checked, passed, failed, action), identical on all engines.

A row whose primary key has a NULL column is quarantined the same way, with ``null_key:<column>``
in ``_failed_rules`` for each NULL key column (before the rule names): a MERGE on the keys would
fold every such row into one. These checks are not rules and write no ``dq_run`` row.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    # Of ``quarantined_rows``, those with a NULL primary-key column.
    null_key_rows: int = 0

    @property
    def failed_hard(self) -> list[RuleResult]:
        return [r for r in self.results if r.rule.action == "fail" and r.rows_failed]


# Prefix of the NULL-key checks' names. The colon keeps them apart from rule names, which are slugs.
NULL_KEY_PREFIX = "null_key:"


def null_key_check(column: str) -> tuple[str, str]:
    """The name a quarantined row carries in ``_failed_rules`` when key ``column`` is NULL, and the
    predicate it fails."""
    return f"{NULL_KEY_PREFIX}{column}", f"{q(column)} IS NOT NULL"


def evaluate(engine: Engine, frame: Frame, rules: list[models.DqRule], keys: Sequence[str] = ()) -> DqOutcome:
    """Check ``rules`` and, when given, that no ``keys`` column is NULL (quarantined like a rule)."""
    key_checks = [null_key_check(k) for k in keys]
    if not rules and not key_checks:
        return DqOutcome(frame, None, 0, 0, [])
    # (name, predicate, action) for every check: the key checks first, then the rules in name order.
    checks = [(name, expr, "quarantine") for name, expr in key_checks]
    checks += [(r.name, r.expression, r.action) for r in rules]
    columns = ", ".join(q(c) for c in engine.schema(frame).names)
    flags = [f"__lf_dq_{i}" for i in range(len(checks))]
    tests = ", ".join(
        f"coalesce(CAST(({expr}) AS BOOLEAN), false) AS {f}"
        for (_, expr, _), f in zip(checks, flags, strict=True)
    )
    flagged = engine.sql(f"SELECT *, {tests} FROM __lf_input", {"__lf_input": frame})
    actions = [action for _, _, action in checks]
    removing = [f for a, f in zip(actions, flags, strict=True) if a in ("drop", "quarantine")]
    quarantining = [f for a, f in zip(actions, flags, strict=True) if a == "quarantine"]
    null_key = flags[: len(key_checks)]
    sums = ", ".join(f"coalesce(sum(CASE WHEN {f} THEN 0 ELSE 1 END), 0) AS {f}" for f in flags)
    keep_all = " AND ".join(removing) if removing else "true"
    quarantine_all = " AND ".join(quarantining) if quarantining else "true"
    keys_all = " AND ".join(null_key) if null_key else "true"
    counts_frame = engine.sql(
        f"SELECT count(*) AS n, {sums},"
        f" coalesce(sum(CASE WHEN {keep_all} THEN 0 ELSE 1 END), 0) AS __lf_removed,"
        f" coalesce(sum(CASE WHEN {quarantine_all} THEN 0 ELSE 1 END), 0) AS __lf_quarantined,"
        f" coalesce(sum(CASE WHEN {keys_all} THEN 0 ELSE 1 END), 0) AS __lf_null_key"
        " FROM __lf_flagged",
        {"__lf_flagged": flagged},
    )
    counts = engine.to_arrow(counts_frame).to_pylist()[0]
    rule_flags = flags[len(key_checks) :]
    results = [
        RuleResult(r, int(counts["n"]), int(counts[f])) for r, f in zip(rules, rule_flags, strict=True)
    ]
    kept = (
        engine.sql(f"SELECT {columns} FROM __lf_flagged WHERE {keep_all}", {"__lf_flagged": flagged})
        if removing
        else frame
    )
    quarantined = None
    n_quarantined = int(counts["__lf_quarantined"])
    if quarantining and n_quarantined:
        names = ", ".join(
            f"CASE WHEN NOT {f} THEN {lit(name)} END" for (name, _, _), f in zip(checks, flags, strict=True)
        )
        quarantined = engine.sql(
            f"SELECT {columns}, filter(array({names}), x -> x IS NOT NULL) AS {q(FAILED_RULES_COLUMN)}"
            f" FROM __lf_flagged WHERE NOT ({quarantine_all})",
            {"__lf_flagged": flagged},
        )
    return DqOutcome(
        kept,
        quarantined,
        n_quarantined,
        int(counts["__lf_removed"]) - n_quarantined,
        results,
        null_key_rows=int(counts["__lf_null_key"]),
    )
