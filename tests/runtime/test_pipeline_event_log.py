"""Expectation results of a Databricks pipeline update, read back from its event log into the run log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from lakeforge.metadata.db import Database
from lakeforge.runtime.config import load_group
from lakeforge.runtime.notebook import LocalDbutils
from lakeforge.runtime.runlog import create_batch
from lakeforge.runtime.spark.eventlog import (
    DqTarget,
    latest_update,
    parse_event_log,
    pipeline_log_source,
    record_update,
    run_pipeline_log_task,
    targets_for,
)
from lakeforge.runtime.tasks import BatchFailed
from lakeforge.settings import Settings
from tests.runtime.eventlog_rows import failed_update, sales_updates
from tests.runtime.helpers import make_gold, make_source

RULES = {
    "orders": [
        ("positive", "amount > 0", "warn"),
        ("has_id", "id IS NOT NULL", "drop"),
        ("not_test", "name <> 'test'", "quarantine"),
    ],
    "customers": [("has_email", "email IS NOT NULL", "fail")],
}


def sales_group(db: Database, tmp_path) -> list[DqTarget]:
    make_source(
        db,
        "orders",
        location=str(tmp_path),
        silver={"primary_keys": ["id"], "sequence_by": "seq"},
        rules=RULES["orders"],
    )
    make_source(db, "customers", location=str(tmp_path), silver={}, rules=RULES["customers"])
    make_gold(db, "totals", "SELECT count(*) AS n FROM main.sales.orders")
    return targets_for(load_group(db, "sales"))


def checks(outcome) -> dict[tuple[str, str], tuple[str, int, int]]:
    return {(c.table, c.rule_name): (c.action, c.rows_checked, c.rows_failed) for c in outcome.checks}


def test_final_completed_progress_of_each_flow_counts(db, tmp_path) -> None:
    targets = sales_group(db, tmp_path)
    rows = sales_updates().rows

    assert latest_update(rows) == "u2"
    outcome = parse_event_log(rows, targets)

    assert (outcome.update_id, outcome.state, outcome.failed) == ("u2", "COMPLETED", False)
    # The retried orders flow: its COMPLETED figures, not the first attempt's, not update u1's.
    # Quarantine rules run as drop expectations on Databricks; the action comes from the metadata.
    assert checks(outcome) == {
        ("main.sales.orders", "positive"): ("warn", 10, 2),
        ("main.sales.orders", "has_id"): ("drop", 10, 1),
        ("main.sales.orders", "not_test"): ("quarantine", 10, 2),
        ("main.sales.customers", "has_email"): ("fail", 5, 0),
    }
    ids = {c.rule_name: c.rule_id for c in outcome.checks}
    with db.connection() as conn:
        known = {
            r["name"]: r["id"] for r in conn.execute("SELECT id, name FROM lakeforge.dq_rule").fetchall()
        }
    assert ids == known
    tables = {(t.zone, t.table): (t.status, t.rows_out, t.rows_rejected) for t in outcome.tables}
    assert tables == {
        ("silver", "main.sales.orders"): ("succeeded", 7, 3),
        ("silver", "main.sales.customers"): ("succeeded", 5, 0),
        ("gold", "main.sales_gold.totals"): ("succeeded", 1, None),
    }
    assert outcome.unmatched == []


def test_an_older_update_can_be_read_by_id(db, tmp_path) -> None:
    outcome = parse_event_log(sales_updates().rows, sales_group(db, tmp_path), update_id="u1")
    assert checks(outcome) == {("main.sales.orders", "positive"): ("warn", 3, 0)}
    assert [(t.table, t.rows_out) for t in outcome.tables] == [("main.sales.orders", 3)]


def test_update_failed_on_expect_or_fail(db, tmp_path) -> None:
    outcome = parse_event_log(failed_update().rows, sales_group(db, tmp_path))

    assert (outcome.update_id, outcome.state, outcome.failed) == ("u3", "FAILED", True)
    assert checks(outcome)[("main.sales.customers", "has_email")] == ("fail", 5, 2)
    assert checks(outcome)[("main.sales.orders", "has_id")] == ("drop", 2, 0)
    customers = next(t for t in outcome.tables if t.table == "main.sales.customers")
    assert customers.status == "failed" and "has_email" in (customers.error or "")
    orders = next(t for t in outcome.tables if t.table == "main.sales.orders")
    assert (orders.status, orders.error) == ("succeeded", None)


def test_json_text_columns_and_unknown_rules(db, tmp_path) -> None:
    """``origin`` as JSON text (as ``event_log()`` documents it) parses like the struct; expectations
    the metadata no longer has are reported, not written."""
    targets = sales_group(db, tmp_path)
    rows = [{**r, "origin": json.dumps(r["origin"])} for r in sales_updates().rows]
    extra = json.loads(rows[-2]["details"])
    extra["flow_progress"]["data_quality"] = {
        "dropped_records": 0,
        "expectations": [{"name": "gone", "dataset": "main.sales_gold.totals", "passed_records": 1}],
    }
    rows[-2] = {**rows[-2], "details": json.dumps(extra)}

    outcome = parse_event_log(rows, targets)

    assert len(outcome.checks) == 4
    assert outcome.unmatched == ["main.sales_gold.totals.gone"]


def test_no_update_no_records() -> None:
    outcome = parse_event_log([], [])
    assert (outcome.update_id, outcome.checks, outcome.tables) == (None, [], [])


def dq_rows(db: Database, batch_id: int) -> dict[tuple[str, str], tuple]:
    with db.connection() as conn:
        found = conn.execute(
            "SELECT d.table_name, d.rule_name, d.action, d.rows_checked, d.rows_passed, d.rows_failed,"
            " d.status, d.rule_id IS NOT NULL AS linked, t.id IS NOT NULL AS has_table"
            " FROM lakeforge_log.dq_run d LEFT JOIN lakeforge_log.table_run t ON t.id = d.table_run_id"
            " WHERE d.batch_id = %s",
            [batch_id],
        ).fetchall()
    result: dict[tuple[str, str], tuple] = {}
    for r in found:
        key = (r["table_name"], r["rule_name"])
        assert key not in result, f"two dq_run rows for {key}"
        result[key] = (r["action"], r["rows_checked"], r["rows_passed"], r["rows_failed"], r["status"])
        assert r["linked"] and r["has_table"]
    return result


def new_batch(db: Database, run_id: str = "771") -> int:
    with db.connection() as conn:
        return create_batch(conn, {"group_name": "sales", "status": "succeeded", "databricks_run_id": run_id})


def test_recording_is_idempotent_per_batch_table_and_rule(db, tmp_path) -> None:
    spec_targets = sales_group(db, tmp_path)
    batch_id = new_batch(db)
    outcome = parse_event_log(sales_updates().rows, spec_targets)

    assert record_update(db, load_group(db, "sales"), batch_id, outcome) == "succeeded"
    first = dq_rows(db, batch_id)
    # The task retried: the same results once more, nothing doubled.
    assert record_update(db, load_group(db, "sales"), batch_id, outcome) == "succeeded"
    assert dq_rows(db, batch_id) == first
    assert first[("main.sales.orders", "not_test")] == ("quarantine", 10, 8, 2, "failed")
    assert first[("main.sales.customers", "has_email")] == ("fail", 5, 5, 0, "passed")
    with db.connection() as conn:
        tables = conn.execute(
            "SELECT z.zone, t.table_name, t.status, t.rows_out, t.rows_rejected"
            " FROM lakeforge_log.table_run t JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id"
            " WHERE t.batch_id = %s ORDER BY z.id, t.table_name DESC",
            [batch_id],
        ).fetchall()
        batch = conn.execute(
            "SELECT status, rows_out FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        ).fetchone()
    assert [tuple(t.values()) for t in tables] == [
        ("silver", "main.sales.orders", "succeeded", 7, 3),
        ("silver", "main.sales.customers", "succeeded", 5, 0),
        ("gold", "main.sales_gold.totals", "succeeded", 1, None),
    ]
    assert batch == {"status": "succeeded", "rows_out": 12}


def test_a_failed_update_fails_the_batch(db, tmp_path) -> None:
    targets = sales_group(db, tmp_path)
    batch_id = new_batch(db)
    outcome = parse_event_log(failed_update().rows, targets)

    assert record_update(db, load_group(db, "sales"), batch_id, outcome) == "failed"
    assert dq_rows(db, batch_id)[("main.sales.customers", "has_email")] == ("fail", 5, 3, 2, "failed")
    with db.connection() as conn:
        batch = conn.execute(
            "SELECT status, error FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        )
        row = batch.fetchone()
    assert row is not None and row["status"] == "failed" and "main.sales.customers" in row["error"]


def test_local_task_reads_nothing_and_reports_the_batch(db, tmp_path, settings: Settings) -> None:
    """Without a pipeline event log (the local engines ran the pipeline) the task writes nothing,
    though the job names the table a Databricks pipeline would publish its log to."""
    sales_group(db, tmp_path)
    batch_id = new_batch(db, "901")
    params = {
        "group": "sales",
        "job_run_id": "901",
        "pipeline_id": "${pipeline:group.sales}",
        "event_log_table": "main.sales.lakeforge_event_log",
    }

    summary = json.loads(run_pipeline_log_task(LocalDbutils(params, settings)))

    assert summary["batch_id"] == batch_id and summary["recorded_checks"] == 0
    assert dq_rows(db, batch_id) == {}
    with db.connection() as conn:
        conn.execute("UPDATE lakeforge_log.batch_run SET status = 'failed', error = 'silver: boom'")
    with pytest.raises(BatchFailed, match="silver: boom"):
        run_pipeline_log_task(LocalDbutils(params, settings))


def test_event_log_source_on_and_off_databricks() -> None:
    """On Databricks the published table wins over event_log('<id>'), which serves only pipelines
    in the legacy publishing mode; an explicit ``event_log`` table is read anywhere."""
    published = "main.sales.lakeforge_event_log"
    assert pipeline_log_source(None, published, "p-1", on_databricks=True) == published
    assert pipeline_log_source(None, None, "p-1", on_databricks=True) == "event_log('p-1')"
    assert pipeline_log_source(None, published, "p-1", on_databricks=False) is None
    assert pipeline_log_source("delta.`/x`", published, "p-1", on_databricks=False) == "delta.`/x`"
    assert pipeline_log_source(None, None, None, on_databricks=True) is None


def test_parser_needs_no_metadata_store_and_accepts_bare_names() -> None:
    """Pure: hand-built targets; the event log names datasets without catalog and schema. A flow
    that reports only RUNNING micro-batches in its final attempt: their figures add up."""
    from lakeforge.metadata import models
    from tests.runtime.eventlog_rows import EventLog

    rule = models.DqRule(id=7, source_id=1, name="positive", expression="amount > 0", action="drop")
    datasets = ("main.sales.orders", "orders_silver_input")
    target = DqTarget("silver", "main.sales.orders", "orders", datasets, {"positive": rule})
    log = EventLog()
    log.create_update("u9")
    log.flow("u9", "orders", "STARTING")
    log.flow(
        "u9",
        "orders",
        "RUNNING",
        rows_out=9,
        dropped=0,
        expectations=[("orders_silver_input", "positive", 9, 0)],
    )
    log.flow("u9", "orders", "STARTING")  # restarted: the attempt above no longer counts
    log.flow(
        "u9",
        "orders",
        "RUNNING",
        rows_out=1,
        dropped=1,
        expectations=[("orders_silver_input", "positive", 1, 1)],
    )
    log.flow(
        "u9",
        "orders",
        "RUNNING",
        rows_out=3,
        dropped=0,
        expectations=[("orders_silver_input", "positive", 3, 0)],
    )
    log.update_state("u9", "COMPLETED")

    outcome = parse_event_log(log.rows, [target])

    assert [(c.rule_id, c.action, c.rows_checked, c.rows_failed) for c in outcome.checks] == [
        (7, "drop", 5, 1)
    ]
    assert [(t.table, t.status, t.rows_out, t.rows_rejected) for t in outcome.tables] == [
        ("main.sales.orders", "succeeded", 4, 1)
    ]


def test_null_key_expectation_is_no_rule(db, tmp_path) -> None:
    """The NULL-key expectation of a keyed Silver table (``null_key:<key columns>``) is counted as the
    engines count it: no ``dq_run`` row, not an unknown rule, its failed rows the ``quality`` step's
    ``null_keys`` (written once however often the log is read). Before an auto-CDC flow (events)
    they are among the dropped rows; a full load's snapshot flow (orders) reports its checks through
    the quarantine table, which reads the view."""
    from tests.runtime.eventlog_rows import EventLog

    make_source(
        db,
        "orders",
        location=str(tmp_path),
        silver={"primary_keys": ["id"]},
        rules=[("positive", "amount > 0", "drop")],
    )
    make_source(
        db, "events", location=str(tmp_path), load_mode="incremental", silver={"primary_keys": ["id"]}
    )
    targets = targets_for(load_group(db, "sales"))
    log = EventLog()
    log.create_update("u7")
    orders = [("orders_silver_input", "null_key:id", 9, 1), ("orders_silver_input", "positive", 8, 2)]
    # (flow, rows out, dropped, expectations as (dataset, name, passed, failed))
    flows: list[tuple[str, int, int | None, list[tuple[str, str, int, int]] | None]] = [
        ("main.sales.orders_quarantine", 1, 0, orders),
        ("main.sales.orders", 6, None, None),
        ("main.sales.events", 4, 2, [("events_silver_input", "null_key:id", 4, 2)]),
    ]
    for flow, rows_out, dropped, expectations in flows:
        log.flow("u7", flow, "COMPLETED", rows_out=rows_out, dropped=dropped, expectations=expectations)
    log.update_state("u7", "COMPLETED")

    outcome = parse_event_log(log.rows, targets)

    assert checks(outcome) == {("main.sales.orders", "positive"): ("drop", 10, 2)}
    assert outcome.unmatched == []
    assert {t.table: (t.rows_out, t.rows_rejected, t.null_keys) for t in outcome.tables} == {
        "main.sales.orders": (6, None, 1),
        "main.sales.events": (4, 2, 2),
    }

    batch_id = new_batch(db)
    for _ in range(2):  # a retried task: nothing doubled
        assert record_update(db, load_group(db, "sales"), batch_id, outcome) == "succeeded"
    assert set(dq_rows(db, batch_id)) == {("main.sales.orders", "positive")}
    with db.connection() as conn:
        steps = conn.execute(
            "SELECT t.table_name, s.details FROM lakeforge_log.step_run s"
            " JOIN lakeforge_log.table_run t ON t.id = s.table_run_id"
            " WHERE s.batch_id = %s AND s.step = 'quality' ORDER BY t.table_name",
            [batch_id],
        ).fetchall()
    assert [(s["table_name"], s["details"]["null_keys"]) for s in steps] == [
        ("main.sales.events", 2),
        ("main.sales.orders", 1),
    ]


def test_an_update_no_task_started_gives_the_batch_its_start(db, tmp_path) -> None:
    """A job run of Silver or Gold alone has no notebook task before the pipeline: its batch is
    queued, without a start, until the run-log task records the update; the update began it."""
    targets = sales_group(db, tmp_path)
    log = sales_updates()
    with db.connection() as conn:
        queued = create_batch(conn, {"group_name": "sales", "status": "queued", "databricks_run_id": "772"})
        started = create_batch(conn, {"group_name": "sales", "status": "running", "databricks_run_id": "773"})
        conn.execute(
            "UPDATE lakeforge_log.batch_run SET started_at = %s WHERE batch_id = %s",
            [log.rows[0]["timestamp"] - timedelta(minutes=10), started],
        )
    outcome = parse_event_log(log.rows, targets)
    u2_began = next(row["timestamp"] for row in log.rows if row["origin"]["update_id"] == "u2")

    assert outcome.started_at == u2_began
    for batch_id in (queued, started):
        record_update(db, load_group(db, "sales"), batch_id, outcome)
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT batch_id, status, started_at, ended_at FROM lakeforge_log.batch_run"
            " WHERE batch_id IN (%s, %s) ORDER BY batch_id",
            [queued, started],
        ).fetchall()
    first, second = rows
    assert (first["status"], first["started_at"]) == ("succeeded", u2_began)
    assert first["ended_at"] is not None
    # A batch a task started earlier keeps its own start.
    assert second["started_at"] == log.rows[0]["timestamp"] - timedelta(minutes=10)


def test_event_times_given_as_text_are_read() -> None:
    log = sales_updates()
    as_text = [{**row, "timestamp": row["timestamp"].isoformat()} for row in log.rows]

    assert parse_event_log(as_text, []).started_at == parse_event_log(log.rows, []).started_at
