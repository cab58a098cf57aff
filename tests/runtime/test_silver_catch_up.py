"""A run of Silver (and Gold) alone catches Silver up with Bronze on the engines: it applies, oldest
first, the Bronze batches Silver has not applied yet, as the group's pipeline on Databricks reads
the Bronze rows its streams have not read."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from lakeforge.metadata.repository import DQ_RULES, Repository
from lakeforge.runtime.runner import run_batch
from tests.runtime.helpers import delta, make_gold, make_source, rows, write_csv

HEADER = ["id", "amount", "seq"]
FIRST = [[1, 5, 1], [2, 7, 1], [3, -1, 1]]  # 3 is quarantined
SECOND_FULL = [[1, 5, 1], [2, 8, 2], [4, 1, 2]]  # the whole source again: 3 is gone
SECOND_NEW = [[2, 8, 2], [4, 1, 2]]

MODES = {
    "append": ("incremental", {}),
    "scd1": ("incremental", {"primary_keys": ["id"], "sequence_by": "seq"}),
    "scd1-snapshots": ("full", {"primary_keys": ["id"]}),
    "scd2": ("incremental", {"primary_keys": ["id"], "sequence_by": "seq", "scd_type": 2}),
    "scd2-snapshots": ("full", {"primary_keys": ["id"], "sequence_by": "seq", "scd_type": 2}),
}
# Columns that say when or in which batch a row came, which differ between the two groups compared.
WHEN = {"_batch_id", "_ingested_at"}


def _group(db, tmp_path: Path, group: str, load_mode: str, silver: dict[str, Any]) -> Path:
    land = tmp_path / group / "orders"
    write_csv(land / "a.csv", HEADER, FIRST)
    make_source(  # source names are unique across groups: each group's is <group>_orders
        db,
        f"{group}_orders",
        group=group,
        location=str(land),
        load_mode=load_mode,
        schema_ddl="id INT, amount INT, seq INT",
        silver=silver,
        rules=[("non_negative", "amount >= 0", "quarantine")],
    )
    total = f"SELECT sum(amount) AS total, count(*) AS n FROM main.{group}.{group}_orders"
    make_gold(db, "total", total, group=group)
    return land


def _next(land: Path, load_mode: str) -> None:
    if load_mode == "full":
        write_csv(land / "a.csv", HEADER, SECOND_FULL)
    else:
        write_csv(land / "b.csv", HEADER, SECOND_NEW)


def _content(settings, name: str) -> list[tuple]:
    return rows(settings, name, [c for c in delta(settings, name).column_names if c not in WHEN])


def _version(settings, name: str) -> int:
    return DeltaTable(str(settings.lakehouse_path.joinpath(*name.split(".")))).version()


def _silver_runs(db, batch_id: int) -> list[dict]:
    with db.connection() as conn:
        return conn.execute(
            "SELECT t.id, t.status, t.rows_in, t.rows_out, t.rows_rejected, t.error"
            " FROM lakeforge_log.table_run t JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id"
            " WHERE t.batch_id = %s AND z.zone = 'silver' ORDER BY t.id",
            [batch_id],
        ).fetchall()


def _merged(db, table_run_id: int) -> list[int]:
    with db.connection() as conn:
        found = conn.execute(
            "SELECT (details->>'data_batch')::bigint AS batch FROM lakeforge_log.step_run"
            " WHERE table_run_id = %s AND step = 'merge' AND status = 'succeeded' ORDER BY id",
            [table_run_id],
        ).fetchall()
    return [row["batch"] for row in found]


@pytest.mark.parametrize("mode", list(MODES))
def test_silver_and_gold_alone_apply_the_bronze_batches_silver_has_not_applied(
    settings, db, tmp_path, mode
) -> None:
    load_mode, silver = MODES[mode]
    # The group to match: two batches run through every zone.
    ref = _group(db, tmp_path, "ref", load_mode, silver)
    assert run_batch(settings, db, "ref").status == "succeeded"
    _next(ref, load_mode)
    assert run_batch(settings, db, "ref").status == "succeeded"

    land = _group(db, tmp_path, "sales", load_mode, silver)
    bronze = [run_batch(settings, db, "sales", zones=["raw", "bronze"])]
    _next(land, load_mode)
    bronze.append(run_batch(settings, db, "sales", zones=["raw", "bronze"]))
    assert [b.status for b in bronze] == ["succeeded", "succeeded"]

    caught = run_batch(settings, db, "sales", zones=["silver", "gold"])
    assert caught.status == "succeeded", caught.error
    for table in ("orders", "orders_quarantine"):
        assert _content(settings, f"main.sales.sales_{table}") == _content(settings, f"main.ref.ref_{table}")
    assert _content(settings, "main.sales_gold.total") == _content(settings, "main.ref_gold.total")

    # Recorded in the new batch: one Silver table whose counts add up both batches' merges.
    (run,) = _silver_runs(db, caught.batch_id)
    assert run["status"] == "succeeded"
    assert _merged(db, run["id"]) == [b.batch_id for b in bronze]
    with db.connection() as conn:
        merges = conn.execute(
            "SELECT sum(rows_out) AS rows_out FROM lakeforge_log.step_run WHERE table_run_id = %s"
            " AND step = 'merge'",
            [run["id"]],
        ).fetchone()
        rules = conn.execute(
            "SELECT rows_checked, rows_failed FROM lakeforge_log.dq_run WHERE batch_id = %s",
            [caught.batch_id],
        ).fetchall()
    assert run["rows_out"] == merges["rows_out"]
    assert run["rows_in"] == len(FIRST) + (len(SECOND_FULL) if load_mode == "full" else len(SECOND_NEW))
    assert run["rows_rejected"] == 1  # batch 1's negative amount
    assert [(r["rows_checked"], r["rows_failed"]) for r in rules] == [(run["rows_in"], 1)]  # one row per rule

    # Nothing pending: the next run succeeds, says so, and writes nothing to Silver.
    silver_tables = ("main.sales.sales_orders", "main.sales.sales_orders_quarantine")
    versions = {t: _version(settings, t) for t in silver_tables}
    gold = _content(settings, "main.sales_gold.total")
    again = run_batch(settings, db, "sales", zones=["silver", "gold"])
    assert again.status == "succeeded", again.error
    (run,) = _silver_runs(db, again.batch_id)
    assert run["status"] == "skipped" and "up to date" in run["error"]
    assert {t: _version(settings, t) for t in versions} == versions
    assert _content(settings, "main.sales_gold.total") == gold


def test_a_batch_whose_silver_failed_is_applied_by_the_next_catch_up(settings, db, tmp_path) -> None:
    land = _group(db, tmp_path, "sales", "full", {"primary_keys": ["id"]})
    with db.connection() as conn:
        found = conn.execute("SELECT id FROM lakeforge.source WHERE name = 'sales_orders'").fetchone()
    source_id = found["id"]
    first = run_batch(settings, db, "sales")
    assert first.status == "succeeded", first.error
    with db.connection() as conn:
        rule = Repository(conn, DQ_RULES).insert(
            Repository(conn, DQ_RULES)
            .get(name="non_negative", source_id=source_id)
            .model_copy(update={"id": None, "name": "small", "expression": "amount < 8", "action": "fail"})
        )
    _next(land, "full")  # id 2 now has amount 8: the fail rule stops batch 2's Silver
    second = run_batch(settings, db, "sales")
    assert second.status == "failed" and "small" in (second.error or "")
    assert rows(settings, "main.sales.sales_orders", ["id", "amount"]) == [(1, 5), (2, 7)]

    # While the rule still fails, a catch-up stops at batch 2, saying so, and writes nothing.
    stopped = run_batch(settings, db, "sales", zones=["silver"])
    assert stopped.status == "failed"
    assert f"applying Bronze batch {second.batch_id} (applied before it: none)" in (stopped.error or "")
    assert rows(settings, "main.sales.sales_orders", ["id", "amount"]) == [(1, 5), (2, 7)]

    with db.connection() as conn:
        Repository(conn, DQ_RULES).update(rule.id, enabled=False)
    caught = run_batch(settings, db, "sales", zones=["silver"])
    assert caught.status == "succeeded", caught.error
    (run,) = _silver_runs(db, caught.batch_id)
    assert _merged(db, run["id"]) == [second.batch_id]  # batch 1's Silver had succeeded
    assert rows(settings, "main.sales.sales_orders", ["id", "amount"]) == [(1, 5), (2, 8), (4, 1)]


def test_bronze_rewritten_by_a_rerun_of_bronze_alone_is_pending_again(settings, db, tmp_path) -> None:
    _group(db, tmp_path, "sales", "incremental", {"primary_keys": ["id"], "sequence_by": "seq"})
    first = run_batch(settings, db, "sales")
    assert first.status == "succeeded", first.error
    folder = settings.lakehouse_path / "_volumes/main/sales/raw/sales_orders" / f"batch_id={first.batch_id}"
    for path in folder.rglob("a.csv"):
        write_csv(path, HEADER, [[1, 50, 1], [2, 7, 1], [3, 30, 1]])
    rerun = run_batch(settings, db, "sales", rerun_of=first.batch_id, zones=["raw", "bronze"])
    assert rerun.status == "succeeded", rerun.error
    assert rows(settings, "main.sales.sales_orders", ["id", "amount"]) == [(1, 5), (2, 7)]  # Silver not yet

    caught = run_batch(settings, db, "sales", zones=["silver", "gold"])
    assert caught.status == "succeeded", caught.error
    (run,) = _silver_runs(db, caught.batch_id)
    assert _merged(db, run["id"]) == [first.batch_id]
    assert rows(settings, "main.sales.sales_orders", ["id", "amount"]) == [(1, 50), (2, 7), (3, 30)]
    assert rows(settings, "main.sales_gold.total", ["total", "n"]) == [(87, 3)]


class _OnceOneBatchMerged(threading.Event):
    """Set as soon as one more Silver merge has succeeded than when it was made: a cancel that
    arrives while a catch-up is between its batches, read from the run log, not from a clock."""

    def __init__(self, db) -> None:
        super().__init__()
        self.db = db
        self.before = self._merged()

    def _merged(self) -> int:
        with self.db.connection() as conn:
            found = conn.execute(
                "SELECT count(*) AS n FROM lakeforge_log.step_run"
                " WHERE step = 'merge' AND status = 'succeeded'"
            ).fetchone()
        return int(found["n"])

    def is_set(self) -> bool:
        return self._merged() > self.before


def test_a_cancelled_catch_up_keeps_what_it_applied_and_the_next_one_goes_on(settings, db, tmp_path) -> None:
    land = _group(db, tmp_path, "sales", "incremental", {"primary_keys": ["id"], "sequence_by": "seq"})
    bronze = [run_batch(settings, db, "sales", zones=["raw", "bronze"])]
    _next(land, "incremental")
    bronze.append(run_batch(settings, db, "sales", zones=["raw", "bronze"]))

    stopped = run_batch(settings, db, "sales", zones=["silver", "gold"], cancel=_OnceOneBatchMerged(db))
    assert stopped.status == "cancelled"
    (run,) = _silver_runs(db, stopped.batch_id)
    assert run["status"] == "cancelled" and _merged(db, run["id"]) == [bronze[0].batch_id]
    assert rows(settings, "main.sales.sales_orders", ["id", "amount"]) == [(1, 5), (2, 7)]

    caught = run_batch(settings, db, "sales", zones=["silver", "gold"])
    assert caught.status == "succeeded", caught.error
    (run,) = _silver_runs(db, caught.batch_id)
    assert _merged(db, run["id"]) == [bronze[1].batch_id]
    assert rows(settings, "main.sales.sales_orders", ["id", "amount"]) == [(1, 5), (2, 8), (4, 1)]


def test_a_run_starting_at_bronze_says_how_to_land_raw_first(settings, db, tmp_path) -> None:
    _group(db, tmp_path, "sales", "full", {"primary_keys": ["id"]})
    ran = run_batch(settings, db, "sales", zones=["bronze", "silver"])
    assert ran.status == "failed"
    assert f"Raw has no complete batch {ran.batch_id} for source sales_orders" in (ran.error or "")
    assert "run the zones from raw" in (ran.error or "") and "lakeforge rerun N" in (ran.error or "")
