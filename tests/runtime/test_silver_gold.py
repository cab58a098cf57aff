"""Silver merges (SCD1, SCD2), every data-quality action, Gold, reruns exactly once, and the run log."""

from __future__ import annotations

import json
from datetime import UTC, date
from pathlib import Path

import psycopg
import pytest

from lakeforge.runtime.runlog import CHANNEL
from lakeforge.runtime.runner import run_batch
from tests.runtime.helpers import make_gold, make_source, rows, write_csv

DDL = "id INT, name STRING, amount DECIMAL(10,2), seq INT"


def _dq(db, batch_id: int) -> list[tuple]:
    with db.connection() as conn:
        return [
            (r["rule_name"], r["action"], r["rows_checked"], r["rows_passed"], r["rows_failed"], r["status"])
            for r in conn.execute(
                "SELECT * FROM lakeforge_log.dq_run WHERE batch_id = %s ORDER BY rule_name", [batch_id]
            ).fetchall()
        ]


def test_scd1_keeps_the_latest_row_per_key_by_sequence(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "c"
    write_csv(
        land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 1, 1], [1, "a2", 2, 2], [2, "b", 3, 1]]
    )
    make_source(
        db,
        "cust",
        location=str(land),
        load_mode="incremental",
        schema_ddl=DDL,
        silver={"primary_keys": ["id"], "scd_type": 1, "sequence_by": "seq"},
    )
    run_batch(settings, db, "sales")
    # A late, older row for id 1 must not overwrite the newer one; id 2 changes.
    write_csv(
        land / "2.csv", ["id", "name", "amount", "seq"], [[1, "old", 9, 0], [2, "b2", 4, 5], [3, "c", 5, 1]]
    )
    run = run_batch(settings, db, "sales")

    assert run.status == "succeeded", run.error
    assert rows(settings, "main.sales.cust", ["id", "name", "seq"]) == [
        (1, "a2", 2),
        (2, "b2", 5),
        (3, "c", 1),
    ]


def test_scd2_keeps_history_with_validity_and_late_rows(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "c"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 1, 10], [2, "b", 1, 10]])
    make_source(
        db,
        "cust",
        location=str(land),
        load_mode="incremental",
        schema_ddl=DDL,
        silver={"primary_keys": ["id"], "scd_type": 2, "sequence_by": "seq"},
    )
    run_batch(settings, db, "sales")
    write_csv(land / "2.csv", ["id", "name", "amount", "seq"], [[1, "a3", 1, 30], [1, "a2", 1, 20]])
    run_batch(settings, db, "sales")
    write_csv(land / "3.csv", ["id", "name", "amount", "seq"], [[1, "late", 1, 15]])
    run = run_batch(settings, db, "sales")

    assert run.status == "succeeded", run.error
    history = sorted(
        rows(settings, "main.sales.cust", ["id", "name", "valid_from", "valid_to", "is_current"]),
        key=lambda r: (r[0], r[2]),
    )
    assert history == [
        (1, "a", 10, 15, False),
        (1, "late", 15, 20, False),
        (1, "a2", 20, 30, False),
        (1, "a3", 30, None, True),
        (2, "b", 10, None, True),
    ]
    # A rerun of the last batch changes nothing.
    again = run_batch(settings, db, "sales", rerun_of=run.batch_id)
    assert again.status == "succeeded", again.error
    again_rows = rows(settings, "main.sales.cust", ["id", "name", "valid_from", "valid_to", "is_current"])
    assert sorted(again_rows, key=lambda r: (r[0], r[2])) == history


def test_dq_actions_warn_drop_quarantine_with_counts_and_quarantine_contents(
    settings, db, tmp_path: Path
) -> None:
    land = tmp_path / "o"
    write_csv(
        land / "1.csv",
        ["id", "name", "amount", "seq"],
        [[1, "a", 10, 1], [2, None, 20, 1], [3, "c", -5, 1], [4, "d", None, 1], [5, None, -1, 1]],
    )
    make_source(
        db,
        "orders",
        location=str(land),
        schema_ddl=DDL,
        silver={"primary_keys": ["id"], "select_expressions": ["id", "upper(name) AS name", "amount"]},
        rules=[
            ("has_name", "name IS NOT NULL", "warn"),
            ("positive", "amount > 0", "quarantine"),
            ("has_amount", "amount IS NOT NULL", "drop"),
        ],
    )

    run = run_batch(settings, db, "sales")

    assert run.status == "succeeded", run.error
    assert _dq(db, run.batch_id) == [
        ("has_amount", "drop", 5, 4, 1, "failed"),
        ("has_name", "warn", 5, 3, 2, "failed"),
        ("positive", "quarantine", 5, 2, 3, "failed"),
    ]
    assert rows(settings, "main.sales.orders", ["id", "name"]) == [(1, "A"), (2, None)]
    quarantine = rows(settings, "main.sales.orders_quarantine", ["id", "_failed_rules", "_batch_id"])
    assert quarantine == [
        (3, ["positive"], run.batch_id),
        (4, ["has_amount", "positive"], run.batch_id),
        (5, ["has_name", "positive"], run.batch_id),
    ]


def test_dq_fail_fails_the_table_and_writes_nothing(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "o"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 10, 1], [2, "b", -1, 1]])
    make_source(
        db,
        "orders",
        location=str(land),
        schema_ddl=DDL,
        silver={"primary_keys": ["id"]},
        rules=[("positive", "amount > 0", "fail")],
    )

    run = run_batch(settings, db, "sales")

    assert run.status == "failed"
    assert "positive (1 rows)" in (run.error or "")
    assert _dq(db, run.batch_id) == [("positive", "fail", 2, 1, 1, "failed")]
    assert not (settings.lakehouse_path / "main" / "sales" / "orders").exists()


def test_gold_materializes_spark_sql_over_silver(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "o"
    write_csv(
        land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 10, 1], [2, "a", 5, 1], [3, "b", 1, 1]]
    )
    make_source(db, "orders", location=str(land), schema_ddl=DDL, silver={"primary_keys": ["id"]})
    make_gold(
        db,
        "by_name",
        "SELECT nvl(name, '?') AS name, count(*) AS n, sum(amount) AS total,"
        " date_format(to_date('2026-11-26'), 'yyyy-MM') AS month"
        " FROM main.sales.orders GROUP BY name",
    )

    run = run_batch(settings, db, "sales")

    assert run.status == "succeeded", run.error
    assert rows(settings, "main.sales_gold.by_name", ["name", "n", "month"]) == [
        ("a", 2, "2026-11"),
        ("b", 1, "2026-11"),
    ]


def test_rerun_replaces_exactly_the_batch_rows_in_every_zone(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "e"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 1, 1], [2, "b", 2, 1]])
    make_source(db, "events", location=str(land), load_mode="incremental", schema_ddl=DDL, silver={})
    first = run_batch(settings, db, "sales")
    write_csv(land / "2.csv", ["id", "name", "amount", "seq"], [[3, "c", 3, 1]])
    second = run_batch(settings, db, "sales")
    before_bronze = rows(settings, "main.sales.events_bronze", ["_batch_id", "id", "_record_hash"])
    before_silver = rows(settings, "main.sales.events", ["_batch_id", "id"])

    rerun = run_batch(settings, db, "sales", rerun_of=first.batch_id)
    rerun2 = run_batch(settings, db, "sales", rerun_of=second.batch_id)

    assert rerun.status == rerun2.status == "succeeded"
    assert rerun.rerun_of == first.batch_id and rerun.trigger == "rerun"
    assert rows(settings, "main.sales.events_bronze", ["_batch_id", "id", "_record_hash"]) == before_bronze
    assert rows(settings, "main.sales.events", ["_batch_id", "id"]) == before_silver
    assert len(before_silver) == 3


def test_run_log_rows_and_notifications_for_a_full_batch(settings, db, database_url, tmp_path: Path) -> None:
    land = tmp_path / "o"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 10, 1]])
    make_source(
        db,
        "orders",
        location=str(land),
        schema_ddl=DDL,
        silver={"primary_keys": ["id"]},
        rules=[("positive", "amount > 0", "warn")],
    )
    make_gold(db, "total", "SELECT sum(amount) AS total FROM main.sales.orders")
    listener = psycopg.connect(database_url, autocommit=True)
    listener.execute(f"LISTEN {CHANNEL}")

    run = run_batch(settings, db, "sales", requested_by="ann")

    events = [json.loads(n.payload) for n in listener.notifies(timeout=2, stop_after=200)]
    listener.close()
    assert run.status == "succeeded" and run.requested_by == "ann" and run.engine == "embedded"
    assert run.rows_in == 1 and run.rows_out == 1 and run.started_at and run.ended_at
    with db.connection() as conn:
        zones = conn.execute(
            "SELECT zone, status FROM lakeforge_log.zone_run WHERE batch_id = %s ORDER BY id", [run.batch_id]
        ).fetchall()
        steps = conn.execute(
            "SELECT step, status, rows_in, rows_out FROM lakeforge_log.step_run WHERE batch_id = %s"
            " ORDER BY id",
            [run.batch_id],
        ).fetchall()
        tables = conn.execute(
            "SELECT table_name, rows_out, delta_version FROM lakeforge_log.table_run"
            " WHERE batch_id = %s ORDER BY id",
            [run.batch_id],
        ).fetchall()
    assert [(z["zone"], z["status"]) for z in zones] == [
        ("raw", "succeeded"),
        ("bronze", "succeeded"),
        ("silver", "succeeded"),
        ("gold", "succeeded"),
    ]
    assert [s["step"] for s in steps] == [
        "extract",
        "read",
        "conform",
        "write",
        "transform",
        "quality",
        "merge",
        "query",
        "write",
    ]
    assert all(s["status"] == "succeeded" for s in steps)
    # Frames are lazy: the write counts the rows, and the steps before it get the count too.
    counted = [(s["step"], s["rows_in"], s["rows_out"]) for s in steps]
    assert counted[1:4] == [("read", 1, 1), ("conform", 1, 1), ("write", 1, 1)]
    assert counted[-2:] == [("query", None, 1), ("write", 1, 1)]
    assert [t["table_name"] for t in tables] == [
        "raw:orders",
        "main.sales.orders_bronze",
        "main.sales.orders",
        "main.sales_gold.total",
    ]
    assert tables[1]["delta_version"] == 0
    assert events[0] == {"batch_id": run.batch_id, "level": "batch", "status": "running", "group": "sales"}
    assert events[-1]["level"] == "batch" and events[-1]["status"] == "succeeded"
    assert {e["level"] for e in events} == {"batch", "zone", "table", "step", "dq"}
    assert all(e["batch_id"] == run.batch_id and e["group"] == "sales" for e in events)


@pytest.mark.parametrize("expression", ["reflect('java.lang.System', 'exit', 1)"])
def test_a_rule_the_embedded_engine_cannot_run_fails_its_table_clearly(
    settings, db, tmp_path, expression
) -> None:
    land = tmp_path / "o"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 10, 1]])
    make_source(
        db,
        "orders",
        location=str(land),
        schema_ddl=DDL,
        silver={"primary_keys": ["id"]},
        rules=[("odd", expression, "warn")],
    )
    run = run_batch(settings, db, "sales")
    assert run.status == "failed"
    assert "embedded engine" in (run.error or "")


def test_pipeline_update_runs_silver_and_gold_for_the_newest_bronze_batch(
    settings, db, tmp_path: Path
) -> None:
    from lakeforge.runtime.pipeline import run_pipeline_update

    land = tmp_path / "o"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 10, 1], [2, "b", 5, 1]])
    make_source(
        db,
        "orders",
        location=str(land),
        load_mode="incremental",
        schema_ddl=DDL,
        silver={"primary_keys": ["id"]},
    )
    make_gold(db, "total", "SELECT sum(amount) AS total FROM main.sales.orders")
    bronze = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    update = run_pipeline_update(settings, db, "sales")
    assert update.batch_id == bronze.batch_id and update.status == "succeeded", update.error
    assert [float(v) for (v,) in rows(settings, "main.sales_gold.total", ["total"])] == [15.0]

    refreshed = run_pipeline_update(settings, db, "sales", full_refresh=True)
    assert refreshed.status == "succeeded", refreshed.error
    assert rows(settings, "main.sales.orders", ["id", "name"]) == [(1, "a"), (2, "b")]


def test_a_first_batch_with_no_files_succeeds_and_gold_waits_for_data(settings, db, tmp_path: Path) -> None:
    """An incremental source whose folder is still empty: Bronze writes no table, so Silver has
    nothing to merge (it used to fail on the missing Bronze table) and Gold is skipped until the
    Silver table it reads exists; the next batch with a file builds every zone."""
    land = tmp_path / "o"
    land.mkdir()
    make_source(
        db,
        "orders",
        location=str(land),
        load_mode="incremental",
        schema_ddl=DDL,
        silver={"primary_keys": ["id"]},
        rules=[("positive", "amount > 0", "drop")],
    )
    make_gold(db, "total", "SELECT count(*) AS n FROM main.sales.orders")

    empty = run_batch(settings, db, "sales")

    assert empty.status == "succeeded", empty.error
    with db.connection() as conn:
        tables = conn.execute(
            "SELECT table_name, status, rows_in, rows_out, error FROM lakeforge_log.table_run"
            " WHERE batch_id = %s ORDER BY id",
            [empty.batch_id],
        ).fetchall()
    assert [(t["table_name"], t["status"], t["rows_in"], t["rows_out"]) for t in tables[1:]] == [
        ("main.sales.orders_bronze", "succeeded", 0, 0),
        ("main.sales.orders", "succeeded", 0, 0),
        ("main.sales_gold.total", "skipped", 0, 0),
    ]
    assert tables[-1]["error"] == "skipped: main.sales.orders has no data yet"
    with db.connection() as conn:
        zones = conn.execute(
            "SELECT zone, status, error FROM lakeforge_log.zone_run WHERE batch_id = %s ORDER BY id",
            [empty.batch_id],
        ).fetchall()
    # A zone none of whose tables ran is skipped, with their reason (it said succeeded).
    assert [(z["zone"], z["status"]) for z in zones] == [
        ("raw", "succeeded"),
        ("bronze", "succeeded"),
        ("silver", "succeeded"),
        ("gold", "skipped"),
    ]
    assert zones[-1]["error"] == "skipped: main.sales.orders has no data yet"
    assert _dq(db, empty.batch_id) == [("positive", "drop", 0, 0, 0, "passed")]

    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 10, 1]])
    full = run_batch(settings, db, "sales")

    assert full.status == "succeeded", full.error
    assert rows(settings, "main.sales_gold.total", ["n"]) == [(1,)]


def test_gold_reading_a_table_outside_the_group_that_does_not_exist_fails(settings, db, tmp_path) -> None:
    land = tmp_path / "o"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 10, 1]])
    make_source(db, "orders", location=str(land), schema_ddl=DDL, silver={"primary_keys": ["id"]})
    make_gold(db, "typo", "SELECT count(*) AS n FROM main.sales.ordres")

    run = run_batch(settings, db, "sales")

    assert run.status == "failed"
    assert "main.sales.ordres does not exist" in (run.error or "")


def test_reruns_of_an_old_batch_without_sequence_by_keep_history_and_newer_values(
    settings, db, tmp_path: Path
) -> None:
    """Without sequence_by, the batch's ingestion time orders changes. A rerun writes Bronze with
    the original batch's _ingested_at, so SCD2 history gets no second copy of each version (it did:
    valid_from was the rerun's time) and SCD1 keeps the newer batch's value."""
    land = tmp_path / "c"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 1, 1], [2, "b", 1, 1]])
    for name, scd in (("hist", 2), ("latest", 1)):
        make_source(
            db,
            name,
            location=str(land),
            load_mode="incremental",
            schema_ddl=DDL,
            silver={"primary_keys": ["id"], "scd_type": scd},
        )
    first = run_batch(settings, db, "sales")
    write_csv(land / "2.csv", ["id", "name", "amount", "seq"], [[1, "a2", 1, 2]])
    second = run_batch(settings, db, "sales")
    bronze = rows(settings, "main.sales.hist_bronze", ["_batch_id", "id", "_ingested_at"])
    history = rows(settings, "main.sales.hist", ["id", "name", "is_current", "_batch_id"])
    assert history == [
        (1, "a", False, first.batch_id),
        (1, "a2", True, second.batch_id),
        (2, "b", True, first.batch_id),
    ]

    reruns = [
        run_batch(settings, db, "sales", rerun_of=first.batch_id),
        run_batch(settings, db, "sales", batch_id=second.batch_id),
        run_batch(settings, db, "sales", rerun_of=first.batch_id),
    ]

    assert all(r.status == "succeeded" for r in reruns), [r.error for r in reruns]
    assert rows(settings, "main.sales.hist_bronze", ["_batch_id", "id", "_ingested_at"]) == bronze
    assert rows(settings, "main.sales.hist", ["id", "name", "is_current", "_batch_id"]) == history
    assert rows(settings, "main.sales.latest", ["id", "name"]) == [(1, "a2"), (2, "b")]


def test_an_scd2_rerun_removes_the_versions_the_batch_no_longer_produces(settings, db, tmp_path) -> None:
    """A rule added before a rerun drops a version the batch wrote: the rerun deletes it and the
    key's history closes over the gap."""
    land = tmp_path / "c"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 1, 10]])
    source = make_source(
        db,
        "cust",
        location=str(land),
        load_mode="incremental",
        schema_ddl=DDL,
        silver={"primary_keys": ["id"], "scd_type": 2, "sequence_by": "seq"},
    )
    run_batch(settings, db, "sales")
    write_csv(land / "2.csv", ["id", "name", "amount", "seq"], [[1, "bad", -1, 20]])
    second = run_batch(settings, db, "sales")
    write_csv(land / "3.csv", ["id", "name", "amount", "seq"], [[1, "c", 1, 30]])
    run_batch(settings, db, "sales")
    from lakeforge.metadata import models
    from lakeforge.metadata.repository import DQ_RULES, Repository

    with db.connection() as conn:
        Repository(conn, DQ_RULES).insert(
            models.DqRule(source_id=source.id, name="positive", expression="amount > 0", action="drop")  # type: ignore[arg-type]
        )

    rerun = run_batch(settings, db, "sales", rerun_of=second.batch_id)

    assert rerun.status == "succeeded", rerun.error
    assert rows(settings, "main.sales.cust", ["name", "valid_from", "valid_to", "is_current"]) == [
        ("a", 10, 30, False),
        ("c", 30, None, True),
    ]


def test_a_full_load_without_keys_leaves_silver_holding_the_latest_snapshot(settings, db, tmp_path) -> None:
    """Each full batch is the whole source: Silver held every snapshot side by side (each row once
    per batch); now it holds the latest, while Bronze keeps each snapshot under its batch id."""
    land = tmp_path / "o"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 1, 1], [2, "b", 1, 1]])
    make_source(db, "snap", location=str(land), load_mode="full", schema_ddl=DDL, silver={})
    first = run_batch(settings, db, "sales")
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[2, "b2", 1, 1], [3, "c", 1, 1]])

    second = run_batch(settings, db, "sales")

    assert second.status == "succeeded", second.error
    assert rows(settings, "main.sales.snap", ["id", "name", "_batch_id"]) == [
        (2, "b2", second.batch_id),
        (3, "c", second.batch_id),
    ]
    assert [b for b, _ in rows(settings, "main.sales.snap_bronze", ["_batch_id", "id"])] == [
        first.batch_id,
        first.batch_id,
        second.batch_id,
        second.batch_id,
    ]


def test_a_keyless_full_load_refuses_an_empty_snapshot_and_keeps_a_newer_one(settings, db, tmp_path) -> None:
    """As with keys: an empty extract fails the table instead of emptying it, and a rerun of an
    older snapshot leaves the newer one in place (Bronze still gets the older batch's rows back)."""
    land = tmp_path / "o"
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[1, "a", 1, 1]])
    make_source(db, "snap", location=str(land), load_mode="full", schema_ddl=DDL, silver={})
    first = run_batch(settings, db, "sales")
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [[2, "b", 1, 1]])
    second = run_batch(settings, db, "sales")
    write_csv(land / "1.csv", ["id", "name", "amount", "seq"], [])
    empty = run_batch(settings, db, "sales")

    assert first.status == second.status == "succeeded", (first.error, second.error)
    assert empty.status == "failed" and "would replace with nothing" in (empty.error or ""), empty.error
    assert rows(settings, "main.sales.snap", ["id", "_batch_id"]) == [(2, second.batch_id)]

    rerun = run_batch(settings, db, "sales", rerun_of=first.batch_id)
    assert rerun.status == "succeeded", rerun.error
    assert rows(settings, "main.sales.snap", ["id", "_batch_id"]) == [(2, second.batch_id)]


def test_a_full_load_closes_missing_keys_by_sequence_type(settings, db, tmp_path) -> None:
    """A snapshot closes a key it lacks at the batch's time, as a date for a DATE sequence_by; a
    counter sequence_by has no time to give, so the closed version keeps valid_to NULL and is no
    longer current. A key that comes back opens a new version and the closure stays."""
    land = {name: tmp_path / name for name in ("by_day", "by_seq")}
    header = ["id", "name", "day", "seq"]
    for name, column in (("by_day", "day"), ("by_seq", "seq")):
        write_csv(land[name] / "1.csv", header, [[1, "a", "2026-01-01", 1], [2, "b", "2026-01-01", 1]])
        make_source(
            db,
            name,
            location=str(land[name]),
            schema_ddl="id INT, name STRING, day DATE, seq INT",
            silver={"primary_keys": ["id"], "scd_type": 2, "sequence_by": column},
        )
    run_batch(settings, db, "sales")
    for folder in land.values():
        write_csv(folder / "1.csv", header, [[1, "a", "2026-01-01", 1]])
    second = run_batch(settings, db, "sales")
    for folder in land.values():
        write_csv(folder / "1.csv", header, [[1, "a", "2026-01-01", 1], [2, "b2", "2099-01-03", 3]])
    third = run_batch(settings, db, "sales")

    assert second.status == third.status == "succeeded", (second.error, third.error)
    with db.connection() as conn:
        created = conn.execute(
            "SELECT created_at FROM lakeforge_log.batch_run WHERE batch_id = %s", [second.batch_id]
        ).fetchone()["created_at"]
    assert rows(settings, "main.sales.by_day", ["id", "name", "valid_from", "valid_to", "is_current"]) == [
        (1, "a", date(2026, 1, 1), None, True),
        (2, "b", date(2026, 1, 1), created.astimezone(UTC).date(), False),
        (2, "b2", date(2099, 1, 3), None, True),
    ]
    assert rows(settings, "main.sales.by_seq", ["id", "name", "valid_from", "valid_to", "is_current"]) == [
        (1, "a", 1, None, True),
        (2, "b", 1, None, False),
        (2, "b2", 3, None, True),
    ]


def _silver_counts(db, batch_id: int, table: str) -> tuple[dict, dict]:
    with db.connection() as conn:
        run = conn.execute(
            "SELECT id, rows_in, rows_out, rows_rejected FROM lakeforge_log.table_run"
            " WHERE batch_id = %s AND table_name = %s",
            [batch_id, table],
        ).fetchone()
        merge = conn.execute(
            "SELECT rows_in, rows_out, details FROM lakeforge_log.step_run"
            " WHERE table_run_id = %s AND step = 'merge'",
            [run["id"]],
        ).fetchone()
    return run, merge


def test_silver_counts_add_up_with_duplicates_and_stale_rows(settings, db, tmp_path: Path) -> None:
    """rows in = rows out + rejected + duplicates + stale. Rows removed by dedupe or by the
    sequence check were in no count (4 in, 1 out, 2 rejected), and SCD 2's rows out counted the
    history rows its merge rewrote."""
    land = tmp_path / "o"
    write_csv(
        land / "1.csv",
        ["id", "name", "amount", "seq"],
        [[1, "a", 1, 1], [1, "b", 1, 2], [2, "b", -1, 1], [3, None, 1, 1]],
    )
    rules = [("positive", "amount > 0", "drop"), ("named", "name IS NOT NULL", "quarantine")]
    for name, scd in (("latest", 1), ("hist", 2)):
        make_source(
            db,
            name,
            location=str(land),
            load_mode="incremental",
            schema_ddl=DDL,
            silver={"primary_keys": ["id"], "sequence_by": "seq", "scd_type": scd},
            rules=rules,
        )
    first = run_batch(settings, db, "sales")
    write_csv(land / "2.csv", ["id", "name", "amount", "seq"], [[1, "old", 1, 0], [4, "d", 1, 1]])
    second = run_batch(settings, db, "sales")

    assert first.status == second.status == "succeeded", (first.error, second.error)
    expected = {
        (first.batch_id, "main.sales.latest"): (4, 1, 2, {"duplicates": 1, "stale": 0}),
        (second.batch_id, "main.sales.latest"): (2, 1, 0, {"duplicates": 0, "stale": 1}),
        (first.batch_id, "main.sales.hist"): (4, 2, 2, {"duplicates": 0, "stale": 0}),
        (second.batch_id, "main.sales.hist"): (2, 2, 0, {"duplicates": 0, "stale": 0}),
    }
    for (batch, table), (rows_in, rows_out, rejected, removed) in expected.items():
        run, merge = _silver_counts(db, batch, table)
        details = merge["details"]
        assert (run["rows_in"], run["rows_out"], run["rows_rejected"]) == (rows_in, rows_out, rejected)
        assert {k: details[k] for k in removed} == removed, (batch, table)
        assert (
            run["rows_in"]
            == run["rows_out"] + run["rows_rejected"] + details["duplicates"] + details["stale"]
        )
        assert merge["rows_in"] == run["rows_in"] - run["rows_rejected"] and merge["rows_out"] == rows_out
    # The late row slotted into SCD 2 history: the merge wrote it and rewrote the key's versions.
    _, merge = _silver_counts(db, second.batch_id, "main.sales.hist")
    assert merge["details"]["inserted"] == 2 and merge["details"]["updated"] >= 1
