"""The GET routes: sources, groups, schedules, rules with trends, runs with cursors, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.api_support import Api, assert_problem, seed


def _log_batch(api: Api, status: str = "succeeded", *, failing_rule: bool = False) -> int:
    """One batch through raw → bronze → silver, as the data plane writes it."""
    with api.db.connection() as conn:
        batch = conn.execute(
            """INSERT INTO lakeforge_log.batch_run (group_name, status, trigger, engine, started_at, ended_at)
               VALUES ('retail', %s, 'manual', 'embedded', now(), now()) RETURNING batch_id""",
            (status,),
        ).fetchone()["batch_id"]
        for zone in ("raw", "bronze", "silver"):
            zone_id = conn.execute(
                "INSERT INTO lakeforge_log.zone_run (batch_id, zone, status) VALUES (%s, %s, %s)"
                " RETURNING id",
                (batch, zone, status),
            ).fetchone()["id"]
            table_id = conn.execute(
                """INSERT INTO lakeforge_log.table_run (batch_id, zone_run_id, source_name, table_name,
                       status, rows_in, rows_out, error)
                   VALUES (%s, %s, 'orders', %s, %s, 10, 10, %s) RETURNING id""",
                (
                    batch,
                    zone_id,
                    f"main.retail_{zone}.orders",
                    status,
                    "boom" if status == "failed" else None,
                ),
            ).fetchone()["id"]
            conn.execute(
                "INSERT INTO lakeforge_log.step_run (batch_id, table_run_id, step, status)"
                " VALUES (%s, %s, 'write', %s)",
                (batch, table_id, status),
            )
            if zone == "silver":
                rule = conn.execute(
                    "SELECT id FROM lakeforge.dq_rule WHERE name = 'amount_positive'"
                ).fetchone()
                failed = 3 if failing_rule else 0
                conn.execute(
                    """INSERT INTO lakeforge_log.dq_run (batch_id, table_run_id, rule_id, rule_name,
                           table_name, expression, action, rows_checked, rows_passed, rows_failed, status)
                       VALUES (%s, %s, %s, 'amount_positive', 'main.retail_silver.orders', 'amount > 0',
                               'drop', 10, %s, %s, %s)""",
                    (
                        batch,
                        table_id,
                        rule["id"],
                        10 - failed,
                        failed,
                        "failed" if failing_rule else "passed",
                    ),
                )
    return int(batch)


def test_sources_list_and_detail(api: Api) -> None:
    seed(api)
    batch = _log_batch(api)
    client = api.client("viewer")
    listing = client.get("/sources").json()
    assert [(s["name"], s["group"], s["format"]) for s in listing] == [("orders", "retail", "csv")]
    assert client.get("/sources", params={"group": "nowhere"}).json() == []

    detail = client.get("/sources/orders").json()
    assert detail["silver"]["primary_keys"] == ["order_id"]
    assert detail["bronze"]["target_table"] and detail["raw"] is not None
    assert [rule["name"] for rule in detail["dq_rules"]] == ["amount_positive"]
    assert detail["schedule"]["quartz_cron"] == "0 0 2 * * ?"
    assert [run["batch_id"] for run in detail["last_runs"]] == [batch]
    # A group batch: what orders wrote is its Silver table's rows out.
    assert (detail["last_runs"][0]["source_rows_out"], detail["last_runs"][0]["source_rows_zone"]) == (
        10,
        "silver",
    )
    assert detail["load_mode"] == "full" and detail["files"]["files"] == 0  # a csv source, no file loaded
    assert detail["revisions"][0]["revision"] == 1 and detail["revisions"][0]["actor"] == "admin_user"
    assert_problem(client.get("/sources/ghost"), 404, "name")


def test_groups_schedules_profiles_channels(api: Api) -> None:
    seed(api)
    api.command({"kind": "subscribe_channel", "group": "retail", "slack_channel_id": "C0123ABCD"})
    client = api.client("viewer")
    groups = client.get("/groups").json()
    assert groups[0]["name"] == "retail" and groups[0]["source_count"] == 1
    assert groups[0]["compute_profile"] == "single_node"
    assert client.get("/groups/retail").json()["name"] == "retail"
    assert_problem(client.get("/groups/ghost"), 404, "name")

    schedules = client.get("/schedules", params={"upcoming": 3}).json()
    assert len(schedules) == 1
    schedule = schedules[0]
    assert schedule["group"] == "retail" and "02:00" in schedule["description"]
    fires = [datetime.fromisoformat(when) for when in schedule["next_fire_times"]]
    assert len(fires) == 3 and fires == sorted(fires)
    assert all(when.utcoffset() in (timedelta(hours=1), timedelta(hours=2)) for when in fires)  # Europe/Paris
    assert all((when.hour, when.minute) == (2, 0) for when in fires)

    api.command({"kind": "pause_schedule", "group": "retail"})
    paused = client.get("/schedules").json()[0]
    assert paused["paused"] is True and paused["next_fire_times"] == []

    assert [p["name"] for p in client.get("/compute-profiles").json()] == ["single_node"]
    channels = client.get("/channels").json()
    assert channels[0]["slack_channel_id"] == "C0123ABCD" and channels[0]["groups"] == ["retail"]


def test_dq_rules_with_trend(api: Api) -> None:
    seed(api)
    for failing in (False, True, False):
        _log_batch(api, failing_rule=failing)
    rules = api.client("viewer").get("/dq-rules", params={"trend": 2}).json()
    assert len(rules) == 1
    rule = rules[0]
    assert rule["source"] == "orders" and rule["name"] == "amount_positive"
    assert [run["status"] for run in rule["trend"]] == ["passed", "failed"]  # newest first
    assert (rule["passed"], rule["failed"]) == (1, 1)


def test_run_detail(api: Api) -> None:
    seed(api)
    batch = _log_batch(api, "failed", failing_rule=True)
    run = api.client("viewer").get(f"/runs/{batch}").json()
    assert [zone["zone"] for zone in run["zones"]] == ["raw", "bronze", "silver"]
    silver = run["zones"][2]["tables"][0]
    assert silver["steps"][0]["step"] == "write"
    assert silver["dq_results"][0]["rows_failed"] == 3
    assert {error["where"] for error in run["errors"]} >= {"main.retail_raw.orders"}
    assert_problem(api.client("viewer").get("/runs/987654"), 404, "batch_id")


def test_runs_cursor_pagination_over_100k_batches(api: Api) -> None:
    seed(api)
    with api.db.connection() as conn:
        conn.execute(
            """INSERT INTO lakeforge_log.batch_run (group_name, source_name, status, created_at)
               SELECT CASE WHEN i % 10 = 0 THEN 'other' ELSE 'retail' END,
                      CASE WHEN i % 7 = 0 THEN 'orders' END,
                      (ARRAY['succeeded', 'failed', 'running'])[1 + i % 3],
                      now() - make_interval(secs => 100000 - i)
               FROM generate_series(1, 100000) AS i"""
        )
        conn.execute("ANALYZE lakeforge_log.batch_run")
    client = api.client("viewer")

    seen: list[int] = []
    cursor = None
    for _ in range(3):
        page = client.get("/runs", params={"limit": 200, **({"cursor": cursor} if cursor else {})}).json()
        seen += [run["batch_id"] for run in page["items"]]
        cursor = page["next_cursor"]
    assert seen == list(range(100000, 100000 - 600, -1))

    failed = client.get("/runs", params={"status": "failed", "group": "retail", "limit": 50}).json()
    assert all(r["status"] == "failed" and r["group"] == "retail" for r in failed["items"])
    assert len(failed["items"]) == 50 and failed["next_cursor"] == str(failed["items"][-1]["batch_id"])

    by_source = client.get("/runs", params={"source": "orders", "limit": 20}).json()["items"]
    assert by_source and all(r["group"] == "retail" for r in by_source)

    since = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    recent = client.get("/runs", params={"since": since, "limit": 500}).json()
    assert 0 < len(recent["items"]) <= 31 and recent["next_cursor"] is None

    last = client.get("/runs", params={"cursor": "3", "limit": 10}).json()
    assert [r["batch_id"] for r in last["items"]] == [2, 1] and last["next_cursor"] is None
    assert_problem(client.get("/runs", params={"cursor": "abc"}), 422, "cursor")
    assert_problem(client.get("/runs", params={"status": "exploded"}), 422, "status")

    # The plan uses an index for the first page, whatever the filter: no sort of 100k rows.
    with api.db.connection() as conn:
        plan = conn.execute(
            "EXPLAIN SELECT * FROM lakeforge_log.batch_run WHERE status = 'failed'"
            " ORDER BY batch_id DESC LIMIT 51"
        ).fetchall()
    assert "Index" in " ".join(row["QUERY PLAN"] for row in plan)


def test_audit_lists_commands_newest_first(api: Api) -> None:
    seed(api)
    api.command({"kind": "pause_schedule", "group": "ghost"})  # rejected, audited too
    page = api.client("viewer").get("/audit", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_before"]
    assert page["items"][0]["created_at"] >= page["items"][1]["created_at"]
    kinds = {item["kind"] for item in api.client().get("/audit", params={"limit": 50}).json()["items"]}
    assert {"create_group", "register_source"} <= kinds
    only = api.client().get("/audit", params={"kind": "create_group"}).json()["items"]
    assert [item["kind"] for item in only] == ["create_group"]


@pytest.mark.parametrize(("answer", "param"), [("next_cursor", "cursor"), ("next_before", "before")])
def test_audit_pages_never_drop_commands_of_one_instant(api: Api, answer: str, param: str) -> None:
    """Concurrent commands can share a created_at; paging with the cursor (or its older spelling,
    the time in next_before) must still answer each of them exactly once, also when more than a
    page share one instant."""
    instant = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    times = [instant + timedelta(seconds=1)] + [instant] * 5 + [instant - timedelta(seconds=1)] * 2
    with api.db.connection() as conn:
        for index, created in enumerate(times):
            conn.execute(
                """INSERT INTO lakeforge.command_audit (id, actor, surface, kind, intent, outcome, created_at)
                   VALUES (gen_random_uuid(), 'ana', 'api', 'help', %s, 'applied', %s)""",
                (f'{{"kind": "help", "n": {index}}}', created),
            )
    for limit in (1, 2, 3, 7, 8):
        seen: list[str] = []
        params: dict[str, object] = {"limit": limit, "actor": "ana"}
        for _ in range(20):
            page = api.client("viewer").get("/audit", params=params).json()
            seen.extend(item["command_id"] for item in page["items"])
            assert (page["next_cursor"] is None) == (page["next_before"] is None), page
            if page[answer] is None:
                break
            params[param] = page[answer]
        assert len(seen) == len(set(seen)) == len(times), (limit, seen)
