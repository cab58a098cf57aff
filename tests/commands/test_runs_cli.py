"""`lakeforge run`, `runs` and `rerun` from a terminal, against a real Postgres and the embedded engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC

from lakeforge.runtime.runlog import fail_stale_batches
from lakeforge.settings import PROJECT_ROOT
from tests.runtime.gate import gated_api
from tests.runtime.helpers import make_source


def _cli(database_url, state_dir, *args, env=None, input=None):
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEFORGE_", "DATABRICKS_"))}
    env.update({"LAKEFORGE_DATABASE_URL": database_url, "LAKEFORGE_STATE_DIR": str(state_dir), **extra})
    return subprocess.run(
        [sys.executable, "-m", "lakeforge", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        input=input,
    )


def test_run_follows_the_batch_and_rerun_replaces_it(database_url, tmp_path):
    applied = _cli(database_url, tmp_path, "apply", "-f", "examples/lakeforge.yaml")
    assert applied.returncode == 0, applied.stderr

    ran = _cli(database_url, tmp_path, "run", "retail")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "succeeded" in ran.stdout
    # Once the batch ends, what it wrote: each table with its rows, then each rule's result.
    report = ran.stdout[ran.stdout.index("Tables") :]
    assert "main.retail_silver.orders" in report and "main.retail_gold.daily_revenue" in report
    assert "Quality rules" in report and "failed" not in report.split("Quality rules")[0]

    listed = json.loads(_cli(database_url, tmp_path, "runs", "--group", "retail", "--json").stdout)
    assert [run["status"] for run in listed] == ["succeeded"]
    batch_id = listed[0]["batch_id"]

    today = json.loads(
        _cli(database_url, tmp_path, "runs", "--source", "orders", "--since", "today", "--json").stdout
    )
    assert [run["batch_id"] for run in today] == [batch_id]  # the group's run is also the source's
    future = _cli(database_url, tmp_path, "runs", "--since", "2999-01-01T00:00:00", "--json")
    assert future.returncode == 0 and json.loads(future.stdout) == []
    unclear = _cli(database_url, tmp_path, "runs", "--since", "soonish")
    assert unclear.returncode == 2 and "--since" in unclear.stderr and "'soonish'" in unclear.stderr

    again = _cli(database_url, tmp_path, "rerun", str(batch_id))
    assert again.returncode == 0, again.stdout + again.stderr
    listed = json.loads(_cli(database_url, tmp_path, "runs", "--json").stdout)
    assert listed[0]["trigger"] == "rerun" and listed[0]["rerun_of"] == batch_id
    # The table says what each batch was, how long it took and what it moved.
    shown = _cli(database_url, tmp_path, "runs", "--limit", "2").stdout
    assert f"rerun of #{batch_id}" in shown and "(all)" in shown, shown
    assert re.search(r"\b\d+ s\b", shown) and re.search(r"[\d,]+ → [\d,]+", shown), shown

    # From Silver on: the batch's Bronze rows again, and only the zones asked for.
    partial = _cli(database_url, tmp_path, "rerun", str(batch_id), "--zones", "silver, gold")
    assert partial.returncode == 0, partial.stdout + partial.stderr
    tables = partial.stdout[partial.stdout.index("Tables") : partial.stdout.index("Quality rules")]
    assert "│ silver" in tables and "│ gold" in tables and "│ raw" not in tables and "│ bronze" not in tables
    wrong = _cli(database_url, tmp_path, "rerun", str(batch_id), "--zones", "silvr")
    assert wrong.returncode == 2 and wrong.stderr.count("error:") == 1
    assert "zones.0" in wrong.stderr and "'silver'" in wrong.stderr


def test_run_of_something_unknown_names_the_field(database_url, tmp_path):
    ran = _cli(database_url, tmp_path, "run", "nothing_here")
    assert ran.returncode == 2
    assert "source" in ran.stderr and "nothing_here" in ran.stderr  # refusals go to stderr
    assert ran.stderr.count("nothing_here") == 1  # said once, with its fix


def test_cancel_stops_a_queued_batch_and_refuses_a_finished_one(database_url, db, tmp_path):
    with db.connection() as conn:
        queued, finished = (
            conn.execute(
                "INSERT INTO lakeforge_log.batch_run (group_name, status) VALUES ('retail', %s)"
                " RETURNING batch_id",
                [status],
            ).fetchone()["batch_id"]
            for status in ("queued", "succeeded")
        )

    cancelled = _cli(database_url, tmp_path, "cancel", str(queued))
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    assert f"Batch {queued} cancelled" in cancelled.stdout

    refused = _cli(database_url, tmp_path, "cancel", str(finished))
    assert refused.returncode == 2
    assert "already ended (succeeded)" in refused.stderr
    # The fix names the command a terminal user types, not the intent a REST client sends.
    assert f"If you need its data, run it again: `lakeforge rerun {finished}`." in refused.stderr
    assert "rerun_batch" not in refused.stderr


def test_a_store_missing_a_migration_is_refused_with_the_command_that_fixes_it(database_url, tmp_path):
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        newest = conn.execute(
            "DELETE FROM public.lakeforge_schema_migration WHERE version ="
            " (SELECT max(version) FROM public.lakeforge_schema_migration) RETURNING version"
        ).fetchone()
    assert newest is not None
    refused = _cli(database_url, tmp_path, "run", "retail")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "lakeforge db migrate" in refused.stderr and "lacks 1 migration" in refused.stderr
    assert "Traceback" not in refused.stderr and not refused.stdout.strip()


def _status(db, batch_id):
    with db.connection() as conn:
        return conn.execute(
            "SELECT status FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        ).fetchone()["status"]


def test_run_no_wait_returns_at_once_and_the_batch_runs_on_after_the_cli_has_gone(database_url, db, tmp_path):
    with gated_api() as gate:  # the source's extract waits here until the test opens the gate
        make_source(db, "orders", format="rest", location=gate.url, silver={"primary_keys": ["id"]})

        ran = _cli(database_url, tmp_path, "run", "orders", "--no-wait")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        batch_id = int(re.search(r"Batch id (\d+)\.", ran.stdout).group(1))
        log = tmp_path / "runs" / f"batch-{batch_id}.log"
        assert f"its output goes to {log}" in ran.stdout, ran.stdout

        # The command has returned and its process is gone; the batch has not: it is extracting.
        assert gate.arrived.wait(60), "no process went on with the batch"
        assert _status(db, batch_id) == "running"
        assert fail_stale_batches(db) == []  # its background process holds it: not stale
        gate.opened.set()
        deadline = time.monotonic() + 300
        while (status := _status(db, batch_id)) in ("queued", "running"):
            assert time.monotonic() < deadline, f"batch {batch_id} still {status}"
            time.sleep(0.2)

    assert status == "succeeded", log.read_text()
    assert f"batch {batch_id} succeeded" in log.read_text()


def test_a_mistyped_name_or_value_gets_the_closest_one_and_exits_2(database_url, retail, tmp_path):
    ran = _cli(database_url, tmp_path, "run", "retial")
    assert ran.returncode == 2 and not ran.stdout
    assert "'retial' is neither a group nor a source. Did you mean 'retail'?" in ran.stderr

    for option, typo, meant in (("--group", "retial", "retail"), ("--source", "ordrs", "orders")):
        listed = _cli(database_url, tmp_path, "runs", option, typo)
        assert listed.returncode == 2, listed.stdout
        assert listed.stderr.startswith(f"error: {option}: ") and f"Did you mean '{meant}'?" in listed.stderr
    # A name that exists but has not run yet is an empty list, not an error.
    assert json.loads(_cli(database_url, tmp_path, "runs", "--group", "retail", "--json").stdout) == []

    since = _cli(database_url, tmp_path, "runs", "--since", "soonish")
    assert since.returncode == 2 and since.stderr.startswith("error: --since: 'soonish'")
    zones = _cli(database_url, tmp_path, "rerun", "99", "--zones", "silvr")
    assert zones.returncode == 2
    assert (
        "error: --zones.0: 'silvr' is not one of the allowed values. Did you mean 'silver'?" in zones.stderr
    )


def test_runs_shows_one_line_per_batch_and_json_keeps_the_whole_error(database_url, db, tmp_path):
    error = "bronze: main.sales.orders: " + "a long reason that goes on " * 12 + "\nand a second line"
    with db.connection() as conn:
        for _ in range(3):
            conn.execute(
                "INSERT INTO lakeforge_log.batch_run (group_name, status, error, started_at, ended_at)"
                " VALUES ('retail', 'failed', %s, now(), now())",
                [error],
            )
    for width in ("100", "160"):
        shown = _cli(database_url, tmp_path, "runs", env={"COLUMNS": width})
        assert shown.returncode == 0, shown.stderr
        rows = [line for line in shown.stdout.splitlines() if line.startswith("│")]
        assert len(rows) == 3, shown.stdout  # no batch wraps over several lines
        assert all(len(line) <= int(width) for line in rows) and all("…" in line for line in rows)
        assert all(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line) for line in rows)  # start kept whole
    listed = json.loads(_cli(database_url, tmp_path, "runs", "--json").stdout)
    assert [run["error"] for run in listed] == [error] * 3


def test_token_create_prints_only_the_token_on_stdout(database_url, tmp_path):
    made = _cli(database_url, tmp_path, "token", "create", "--user", "ci", "--role", "operator")
    assert made.returncode == 0, made.stderr
    assert re.fullmatch(r"lf_[A-Za-z0-9_-]+\n", made.stdout)  # TOKEN=$(lakeforge token create ...)
    assert "shown once" in made.stderr


def test_history_shows_times_in_utc_whatever_the_session_time_zone(database_url, db, retail, tmp_path):
    with db.connection() as conn:
        created = conn.execute(
            "SELECT created_at FROM metadata_revision WHERE entity_type = 'source' AND entity_key = 'orders'"
        ).fetchone()["created_at"]
    # PGTZ sets the time zone of the CLI's database session: +09:00, never UTC.
    shown = _cli(database_url, tmp_path, "history", "orders", env={"PGTZ": "Asia/Tokyo", "COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    assert "when (UTC)" in shown.stdout
    assert created.astimezone(UTC).strftime("%Y-%m-%d %H:%M") in shown.stdout, shown.stdout


def test_runs_with_a_batch_id_shows_that_batch_and_prints_brackets_as_written(database_url, db, tmp_path):
    error = "cannot read /landing/[dev]/orders.csv: list index [/] out of range"
    with db.connection() as conn:
        batch = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status, error) VALUES ('retail', 'failed', %s)"
            " RETURNING batch_id",
            [f"bronze: main.retail_bronze.orders: {error}"],
        ).fetchone()["batch_id"]
        zone = conn.execute(
            "INSERT INTO lakeforge_log.zone_run (batch_id, zone, status) VALUES (%s, 'bronze', 'failed')"
            " RETURNING id",
            [batch],
        ).fetchone()["id"]
        conn.execute(
            "INSERT INTO lakeforge_log.table_run (batch_id, zone_run_id, table_name, status, error)"
            " VALUES (%s, %s, 'main.retail_bronze.orders', 'failed', %s)",
            [batch, zone, error],
        )
    shown = _cli(database_url, tmp_path, "runs", str(batch), env={"COLUMNS": "250"})
    assert shown.returncode == 0, shown.stderr
    assert "Traceback" not in shown.stderr and error in shown.stdout  # markup neither eats nor refuses it
    assert f"Batch {batch} failed. bronze: main.retail_bronze.orders: {error}" in shown.stdout
    assert (
        json.loads(_cli(database_url, tmp_path, "runs", str(batch), "--json").stdout)["batch"]["status"]
        == "failed"
    )

    missing = _cli(database_url, tmp_path, "runs", "999999")
    assert missing.returncode == 2 and "batch 999999 does not exist" in missing.stderr
    assert "Find batch ids: `lakeforge runs` lists them." in missing.stderr
    both = _cli(database_url, tmp_path, "runs", str(batch), "--group", "retail")
    assert both.returncode == 2 and "Give one or the other" in both.stderr


def test_since_takes_the_short_periods_its_help_shows():
    from datetime import datetime, timedelta

    from lakeforge.commands.runs_cli import _since

    for value, back in (
        ("45m", timedelta(minutes=45)),
        ("6h", timedelta(hours=6)),
        ("2d", timedelta(days=2)),
    ):
        earliest = datetime.now(UTC).replace(microsecond=0) - back
        start = datetime.fromisoformat(_since(value))
        assert earliest <= start <= datetime.now(UTC) - back, value
    assert datetime.fromisoformat(_since("1w")) <= datetime.now(UTC) - timedelta(weeks=1)


def test_run_of_silver_and_gold_alone_catches_up_with_what_bronze_holds(database_url, tmp_path):
    applied = _cli(database_url, tmp_path, "apply", "-f", "examples/lakeforge.yaml")
    assert applied.returncode == 0, applied.stderr
    bronze = _cli(database_url, tmp_path, "run", "retail", "--zones", "raw,bronze")
    assert bronze.returncode == 0, bronze.stdout + bronze.stderr

    caught = _cli(database_url, tmp_path, "run", "retail", "--zones", "silver,gold")
    assert caught.returncode == 0, caught.stdout + caught.stderr
    listed = json.loads(_cli(database_url, tmp_path, "runs", "--json").stdout)
    silver = _tables(database_url, tmp_path, listed[0]["batch_id"], "silver")
    assert {t["table_name"].split(".")[-1] for t in silver} == {"customers", "orders", "order_items"}
    # Each Silver table applied the Bronze batch the first run wrote; Gold was built from them.
    assert all(t["status"] == "succeeded" and t["rows_out"] for t in silver), silver
    gold = _tables(database_url, tmp_path, listed[0]["batch_id"], "gold")
    assert [(t["status"], bool(t["rows_out"])) for t in gold] == [("succeeded", True)]

    again = _cli(database_url, tmp_path, "run", "retail", "--zones", "silver,gold")
    assert again.returncode == 0, again.stdout + again.stderr
    listed = json.loads(_cli(database_url, tmp_path, "runs", "--json").stdout)
    assert listed[0]["status"] == "succeeded"
    silver = _tables(database_url, tmp_path, listed[0]["batch_id"], "silver")
    assert len(silver) == 3 and all(t["status"] == "skipped" and "up to date" in t["error"] for t in silver)
    # Such a batch read no Bronze: the listing says so rather than an unknown count.
    table = _cli(database_url, tmp_path, "runs").stdout.splitlines()
    line = next(
        row for row in table if [c.strip() for c in row.split("│")[1:2]] == [str(listed[0]["batch_id"])]
    )
    assert "— → 0" in line and "?" not in line, line


def _tables(database_url, state_dir, batch_id: int, zone: str) -> list[dict]:
    """The table runs of ``batch_id`` in ``zone``, as `lakeforge runs ID --json` gives them."""
    shown = json.loads(_cli(database_url, state_dir, "runs", str(batch_id), "--json").stdout)
    zone_ids = {z["id"] for z in shown["zones"] if z["zone"] == zone}
    return [t for t in shown["tables"] if t["zone_run_id"] in zone_ids]
