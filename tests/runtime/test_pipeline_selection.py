"""A pipeline update that fully refreshes some sources (what a rerun through the group's job asks
for on Databricks) ends with the Silver a rerun gives on the engines, and leaves the group's other
sources alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from lakeforge.runtime.config import load_group
from lakeforge.runtime.pipeline import RefreshSelectionError, run_pipeline_update, update_scope
from lakeforge.runtime.runner import run_batch
from lakeforge.runtime.spark.pipeline import plan_pipeline
from tests.runtime.helpers import delta, make_gold, make_source, rows, write_csv

HEADER = ["id", "amount", "seq"]
FIRST = [[1, 5, 1], [2, 7, 1], [3, -1, 1]]  # 3 is quarantined
CORRECTED = [[1, 6, 1], [2, 7, 1], [3, 30, 1]]  # batch 1's Raw, fixed before its rerun
ORDERS = ["main.sales.orders", "main.sales.orders_quarantine"]
GOLD = ["main.sales_gold.total"]

MODES = {
    "append": ("incremental", {}),
    "latest-snapshot": ("full", {}),
    "scd1": ("incremental", {"primary_keys": ["id"], "sequence_by": "seq"}),
    "scd1-snapshots": ("full", {"primary_keys": ["id"]}),
    "scd2": ("incremental", {"primary_keys": ["id"], "sequence_by": "seq", "scd_type": 2}),
    "scd2-snapshots": ("full", {"primary_keys": ["id"], "scd_type": 2}),
}


def _group(db, tmp_path: Path, load_mode: str, silver: dict[str, Any]) -> Path:
    land = tmp_path / "orders"
    write_csv(land / "a.csv", HEADER, FIRST)
    make_source(
        db,
        "orders",
        location=str(land),
        load_mode=load_mode,
        schema_ddl="id INT, amount INT, seq INT",
        silver=silver,
        rules=[("non_negative", "amount >= 0", "quarantine")],
    )
    write_csv(tmp_path / "customers" / "c.csv", ["id", "name"], [[1, "ana"]])
    make_source(
        db,
        "customers",
        location=str(tmp_path / "customers"),
        load_mode="incremental",
        schema_ddl="id INT, name STRING",
        silver={"primary_keys": ["id"]},
    )
    make_gold(db, "total", "SELECT sum(amount) AS total FROM main.sales.orders")
    return land


def _second_batch(land: Path, load_mode: str) -> None:
    if load_mode == "full":  # each batch is the whole source
        write_csv(land / "a.csv", HEADER, [[1, 5, 1], [2, 8, 2], [4, 1, 2]])
    else:
        write_csv(land / "b.csv", HEADER, [[2, 8, 2], [4, 1, 2]])


def _correct_raw(settings, batch_id: int) -> None:
    folder = settings.lakehouse_path / "_volumes/main/sales/raw/orders" / f"batch_id={batch_id}"
    landed = sorted(folder.rglob("a.csv"))
    assert landed, f"no a.csv in {folder}"
    for path in landed:
        write_csv(path, HEADER, CORRECTED)


def _table(settings, name: str) -> list[tuple]:
    return rows(settings, name, delta(settings, name).column_names)


def _version(settings, name: str) -> int:
    return DeltaTable(str(settings.lakehouse_path.joinpath(*name.split(".")))).version()


@pytest.mark.parametrize("mode", list(MODES))
def test_a_selected_full_refresh_gives_the_silver_of_a_rerun(settings, db, tmp_path, mode) -> None:
    load_mode, silver = MODES[mode]
    land = _group(db, tmp_path, load_mode, silver)
    first = run_batch(settings, db, "sales")
    assert first.status == "succeeded", first.error
    _second_batch(land, load_mode)
    assert run_batch(settings, db, "sales").status == "succeeded"
    _correct_raw(settings, first.batch_id)

    # The engines' rerun of batch 1 (the orders source only): the Silver to match.
    rerun = run_batch(settings, db, "sales", sources=["orders"], rerun_of=first.batch_id)
    assert rerun.status == "succeeded", rerun.error
    expected = {name: _table(settings, name) for name in [*ORDERS, *GOLD]}
    customers = _version(settings, "main.sales.customers")

    update = run_pipeline_update(settings, db, "sales", full_refresh_selection=ORDERS, refresh_selection=GOLD)
    assert update.status == "succeeded", update.error
    assert update.batch_id == rerun.batch_id  # the update's batch: the newest that got through Bronze
    assert {name: _table(settings, name) for name in expected} == expected
    assert _version(settings, "main.sales.customers") == customers  # not selected: not touched
    history = DeltaTable(str(settings.lakehouse_path / "main/sales/orders")).history()
    assert any(h["operation"] == "DELETE" for h in history[:4])  # emptied, then replayed


def test_the_update_scope_follows_the_selection(db, tmp_path) -> None:
    _group(db, tmp_path, "incremental", {"primary_keys": ["id"]})
    plan = plan_pipeline(load_group(db, "sales"))
    everything = update_scope(plan)
    assert everything.refresh == {"orders", "customers"} and not everything.full_refresh and everything.gold
    full = update_scope(plan, full_refresh=True)
    assert full.full_refresh == {"orders", "customers"} and not full.refresh and full.gold
    # Table names compare as Unity Catalog compares them: case and backticks aside.
    quarantine, customers = "`MAIN`.sales.orders_quarantine", "main.sales.customers"
    picked = update_scope(plan, full_refresh_selection=[quarantine], refresh_selection=[customers])
    assert picked.full_refresh == {"orders"} and picked.refresh == {"customers"} and not picked.gold
    gold_only = update_scope(plan, refresh_selection=GOLD)
    assert not gold_only.full_refresh and not gold_only.refresh and gold_only.gold


def test_a_selection_naming_no_table_of_the_pipeline_is_refused(settings, db, tmp_path) -> None:
    _group(db, tmp_path, "incremental", {"primary_keys": ["id"]})
    with pytest.raises(RefreshSelectionError) as missing:
        run_pipeline_update(settings, db, "sales", full_refresh_selection=["main.sales.order"])
    assert missing.value.error_class == "INVALID_REFRESH_SELECTION.TABLE_NOT_FOUND"
    assert "table main.sales.order is not part of the pipeline of group sales" in str(missing.value)
    assert "main.sales.orders, main.sales.orders_quarantine" in str(missing.value)  # what it has
    with pytest.raises(RefreshSelectionError) as view:
        run_pipeline_update(settings, db, "sales", refresh_selection=["orders_silver_input"])
    assert view.value.error_class.endswith("SELECTIVE_REFRESH_VIEW_NOT_SUPPORTED")
    with db.connection() as conn:  # refused before anything ran
        assert conn.execute("SELECT count(*) AS n FROM lakeforge_log.batch_run").fetchone()["n"] == 0


def test_a_job_runs_rerun_of_silver_alone_records_the_replay_in_its_batch(settings, db, tmp_path) -> None:
    """Batch 2 brought orders nothing (no new file): the full refresh replays batch 1, the only
    batch orders' Bronze holds, and records it in the rerun's batch, which ends; batch 1's run-log
    entry is left as it was."""
    _group(db, tmp_path, "incremental", {"primary_keys": ["id"], "sequence_by": "seq"})
    first = run_batch(settings, db, "sales")
    assert first.status == "succeeded", first.error
    second = run_batch(settings, db, "sales")
    assert second.status == "succeeded", second.error
    with db.connection() as conn:  # queued by rerun_batch for the job run, as the launcher leaves it
        queued = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (source_group_id, group_name, source_name, trigger,"
            " rerun_of, status, databricks_run_id) SELECT id, name, 'orders', 'rerun', %s, 'queued', '7'"
            " FROM lakeforge.source_group WHERE name = 'sales' RETURNING batch_id",
            [second.batch_id],
        ).fetchone()["batch_id"]
        before = conn.execute(
            "SELECT ended_at, (SELECT count(*) FROM lakeforge_log.table_run t WHERE t.batch_id = b.batch_id)"
            " AS tables FROM lakeforge_log.batch_run b WHERE batch_id = %s",
            [first.batch_id],
        ).fetchone()

    update = run_pipeline_update(settings, db, "sales", batch_id=queued, full_refresh_selection=ORDERS)
    assert update.batch_id == queued and update.status == "succeeded", update.error
    with db.connection() as conn:
        logged = conn.execute(
            "SELECT t.table_name, t.status, t.rows_in, t.rows_out,"
            " array_agg((s.details->>'data_batch')::bigint) FILTER (WHERE s.step = 'merge') AS merged"
            " FROM lakeforge_log.table_run t"
            " JOIN lakeforge_log.step_run s ON s.table_run_id = t.id WHERE t.batch_id = %s"
            " GROUP BY t.id ORDER BY t.id",
            [queued],
        ).fetchall()
        after = conn.execute(
            "SELECT ended_at, (SELECT count(*) FROM lakeforge_log.table_run t WHERE t.batch_id = b.batch_id)"
            " AS tables FROM lakeforge_log.batch_run b WHERE batch_id = %s",
            [first.batch_id],
        ).fetchone()
    # Batch 1's three rows again, one of them quarantined, as its own run merged them.
    assert [tuple(row.values()) for row in logged] == [
        ("main.sales.orders", "succeeded", 3, 2, [first.batch_id])
    ]
    assert after == before  # the replayed batch is not reopened


def test_a_job_runs_update_of_silver_alone_catches_up_in_its_batch(settings, db, tmp_path) -> None:
    """A run (no rerun) of Silver and Gold through the job: its update refreshes orders' Silver
    and Gold in the run's batch, which wrote no Bronze, so orders' Silver applies the Bronze batch
    it has not applied yet, as the engines' run of the same zones does."""
    _group(db, tmp_path, "full", {"primary_keys": ["id"]})
    bronze = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    assert bronze.status == "succeeded", bronze.error
    with db.connection() as conn:  # queued by run_now for the job run, as the launcher leaves it
        queued = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (source_group_id, group_name, trigger, status,"
            " databricks_run_id) SELECT id, name, 'manual', 'queued', '8' FROM lakeforge.source_group"
            " WHERE name = 'sales' RETURNING batch_id",
        ).fetchone()["batch_id"]

    update = run_pipeline_update(settings, db, "sales", batch_id=queued, refresh_selection=[*ORDERS, *GOLD])
    assert update.batch_id == queued and update.status == "succeeded", update.error
    assert rows(settings, "main.sales.orders", ["id", "amount"]) == [(1, 5), (2, 7)]
    assert rows(settings, "main.sales_gold.total", ["total"]) == [(12,)]
    with db.connection() as conn:
        merged = conn.execute(
            "SELECT (s.details->>'data_batch')::bigint AS batch FROM lakeforge_log.step_run s"
            " WHERE s.batch_id = %s AND s.step = 'merge'",
            [queued],
        ).fetchall()
    assert [row["batch"] for row in merged] == [bronze.batch_id]
