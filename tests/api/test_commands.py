"""POST /api/v1/commands over real HTTP against real Postgres: every intent, bad input, idempotency, races."""

from __future__ import annotations

import threading
import time

import pytest

from tests.api.api_support import GROUP, SOURCE, Api, assert_problem, seed, snapshot


def source_row(api: Api, name: str = "orders") -> dict | None:
    with api.db.connection() as conn:
        return conn.execute("SELECT * FROM lakeforge.source WHERE name = %s", (name,)).fetchone()


def wait_until_finished(api: Api, batch_id: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with api.db.connection() as conn:
            row = conn.execute(
                "SELECT status FROM lakeforge_log.batch_run WHERE batch_id = %s", (batch_id,)
            ).fetchone()
        if row["status"] not in ("queued", "running"):
            return
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish")


def apply_confirmed(api: Api, intent: dict) -> dict:
    """Destructive intents answer a plan and a token first; sending the token applies."""
    first = api.command(intent)
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["status"] == "needs_confirmation" and body["confirm_token"] and body["plan"] is not None
    second = api.command(intent, confirm_token=body["confirm_token"])
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "applied"
    return second.json()


def test_register_source_applies_and_answers_the_envelope(api: Api) -> None:
    seed(api)
    row = source_row(api)
    assert row is not None and row["format"] == "csv" and row["revision"] == 1
    with api.db.connection() as conn:
        audit = conn.execute(
            "SELECT actor, surface, outcome FROM lakeforge.command_audit WHERE kind = 'register_source'"
        ).fetchall()
    assert audit == [{"actor": "admin_user", "surface": "api", "outcome": "applied"}]


def test_dry_run_plans_without_applying(api: Api) -> None:
    api.command(GROUP)
    before = snapshot(api.db)
    response = api.command(SOURCE, dry_run=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "planned" and body["plan"] and body["confirm_token"]
    assert set(body) >= {"status", "command_id", "plan", "confirm_token", "result", "message"}
    assert snapshot(api.db) == before
    applied = api.command(SOURCE, confirm_token=body["confirm_token"])
    assert applied.json()["status"] == "applied", applied.text
    assert source_row(api) is not None


def test_every_intent_over_http(api: Api) -> None:
    seed(api)
    steps: list[dict] = [
        {"kind": "upsert_system", "name": "shop", "system_kind": "files"},
        {"kind": "update_source", "name": "orders", "location": "/Volumes/main/landing/retail/orders_v2/"},
        {"kind": "set_schedule", "group": "retail", "quartz_cron": "0 30 6 ? * MON-FRI", "timezone": "UTC"},
        {"kind": "pause_schedule", "group": "retail"},
        {"kind": "resume_schedule", "group": "retail"},
        {"kind": "add_dq_rule", "source": "orders", "name": "has_id", "expression": "order_id IS NOT NULL"},
        {"kind": "update_dq_rule", "source": "orders", "name": "has_id", "action": "fail"},
        {"kind": "subscribe_channel", "group": "retail", "slack_channel_id": "C0123ABCD"},
        {"kind": "update_group", "name": "retail", "max_retries": 2},
        {"kind": "upsert_compute_profile", "name": "small", "profile_kind": "job_cluster", "num_workers": 2},
        {
            "kind": "upsert_gold",
            "group": "retail",
            "name": "daily_revenue",
            "sql": "SELECT order_date, sum(amount) AS revenue FROM main.retail_silver.orders GROUP BY 1",
        },
        {"kind": "run_now", "group": "retail"},
    ]
    for intent in steps:
        response = api.command(intent)
        assert response.status_code == 200, (intent["kind"], response.text)
        assert response.json()["status"] == "applied", (intent["kind"], response.text)

    with api.db.connection() as conn:
        schedule = conn.execute("SELECT quartz_cron, paused FROM lakeforge.schedule").fetchone()
        rule = conn.execute("SELECT action FROM lakeforge.dq_rule WHERE name = 'has_id'").fetchone()
        batch = conn.execute("SELECT max(batch_id) AS id FROM lakeforge_log.batch_run").fetchone()
    assert schedule == {"quartz_cron": "0 30 6 ? * MON-FRI", "paused": False}
    assert rule == {"action": "fail"}
    assert source_row(api)["location"].endswith("orders_v2/")

    batch_id = batch["id"]
    assert batch_id is not None
    wait_until_finished(api, batch_id)  # run_now really launches the batch; rerun needs it finished
    rerun = api.command({"kind": "rerun_batch", "batch_id": batch_id})
    assert rerun.status_code == 200 and rerun.json()["status"] == "applied", rerun.text

    sync = api.command({"kind": "sync_jobs", "mode": "plan"}, dry_run=True)
    assert sync.status_code == 200 and sync.json()["status"] == "planned", sync.text

    for intent in (
        {"kind": "show_source", "name": "orders"},
        {"kind": "list_runs", "group": "retail"},
        {"kind": "show_run", "batch_id": batch_id},
        {"kind": "list_sources", "group": "retail"},
        {"kind": "show_quarantine", "source": "orders", "limit": 3},
        {"kind": "help"},
    ):
        response = api.command(intent, role="viewer")
        assert response.status_code == 200, (intent["kind"], response.text)
        assert response.json()["status"] == "applied" and response.json()["result"] is not None

    apply_confirmed(api, {"kind": "restore_revision", "entity": "source", "name": "orders", "revision": 1})
    assert source_row(api)["location"] == SOURCE["location"]
    apply_confirmed(api, {"kind": "remove_gold", "group": "retail", "name": "daily_revenue"})
    # The restore brought back revision 1 with its one rule.
    apply_confirmed(api, {"kind": "remove_dq_rule", "source": "orders", "name": "amount_positive"})
    apply_confirmed(api, {"kind": "remove_source", "name": "orders"})
    assert source_row(api) is None


BAD_INPUTS = [
    pytest.param(
        {**SOURCE, "name": "customers", "format_options": "header"}, "intent.format_options", id="wrong-type"
    ),
    pytest.param({**SOURCE, "name": "customers", "colour": "blue"}, "intent.colour", id="unknown-field"),
    pytest.param({**SOURCE, "name": "customers", "group": "nowhere"}, "intent.group", id="unknown-group"),
    pytest.param(SOURCE, "intent.name", id="duplicate-name"),
    pytest.param(
        {"kind": "set_schedule", "group": "retail", "quartz_cron": "0 2 * * *"},
        "intent.quartz_cron",
        id="bad-cron",
    ),
    pytest.param(
        {"kind": "add_dq_rule", "source": "orders", "name": "evil",
         "expression": "reflect('java.lang.Runtime','exec','x') IS NOT NULL"},
        "intent.expression",
        id="reflect",
    ),
    pytest.param(
        {"kind": "add_dq_rule", "source": "orders", "name": "sub",
         "expression": "amount > (SELECT max(amount) FROM other)"},
        "intent.expression",
        id="subquery",
    ),
    pytest.param(
        {"kind": "add_dq_rule", "source": "orders", "name": "drop", "expression": "1=1; DROP TABLE t"},
        "intent.expression",
        id="statement",
    ),
    # The command layer names the intent itself for an unknown kind ("intent.kind" would be finer).
    pytest.param({"kind": "launch_rockets"}, "intent", id="unknown-kind"),
    pytest.param(
        {"kind": "update_source", "name": "ghost", "enabled": False}, "intent.name", id="unknown-source"
    ),
    pytest.param({"kind": "rerun_batch", "batch_id": 999999}, "intent.batch_id", id="unknown-batch"),
    pytest.param({"kind": "list_sources", "group": "nowhere"}, "intent.group", id="sources-unknown-group"),
    pytest.param({"kind": "list_sources", "group": "Not A Slug"}, "intent.group", id="sources-bad-group"),
    pytest.param({"kind": "show_quarantine", "source": "ghost"}, "intent.source", id="quarantine-unknown"),
    pytest.param(
        {"kind": "show_quarantine", "source": "orders", "limit": 0}, "intent.limit", id="quarantine-bad-limit"
    ),
    pytest.param(
        {**SOURCE, "name": "pg", "format": "jdbc", "location": "jdbc:postgresql://db/x",
         "format_options": {"dbtable": "public.t", "password": "hunter2"}},
        "intent.format_options",
        id="inline-secret",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("intent", "field"), BAD_INPUTS)
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    api: Api, intent: dict, field: str
) -> None:
    seed(api)
    before = snapshot(api.db)
    response = api.command(intent)
    body = assert_problem(response, (400, 404, 409, 422), field)
    assert all(error["message"] for error in body["errors"])
    assert snapshot(api.db) == before


def test_bad_envelope_names_the_field(api: Api) -> None:
    response = api.client().post("/commands", json={"intent": {"kind": "help"}, "dry_run": "perhaps"})
    assert_problem(response, 422, "dry_run")
    response = api.client().post("/commands", json={"intent": {"kind": "help"}, "surprise": 1})
    assert_problem(response, 422, "surprise")
    response = api.client().post(
        "/commands", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422)


def test_idempotency_key_applies_once(api: Api) -> None:
    api.command(GROUP)
    first = api.command(SOURCE, idempotency_key="register-orders-1")
    second = api.command(SOURCE, idempotency_key="register-orders-1")
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json()
    with api.db.connection() as conn:
        applied = conn.execute(
            "SELECT count(*) AS n FROM lakeforge.command_audit"
            " WHERE kind = 'register_source' AND outcome = 'applied'"
        ).fetchone()
        revisions = conn.execute(
            "SELECT count(*) AS n FROM lakeforge.metadata_revision WHERE entity_key = 'orders'"
        ).fetchone()
    assert applied["n"] == 1
    assert revisions["n"] == 1
    # The header works like the body field.
    header = api.client().post(
        "/commands",
        json={"intent": {"kind": "pause_schedule", "group": "retail"}},
        headers={"Idempotency-Key": "pause-1"},
    )
    again = api.client().post(
        "/commands",
        json={"intent": {"kind": "pause_schedule", "group": "retail"}},
        headers={"Idempotency-Key": "pause-1"},
    )
    assert header.json()["command_id"] == again.json()["command_id"]


def test_an_idempotency_key_used_for_another_command_is_refused(api: Api) -> None:
    api.command(GROUP)
    first = api.command(SOURCE, idempotency_key="orders-1")
    assert first.json()["status"] == "applied", first.text
    before = snapshot(api.db)
    # Answering the registration's outcome would tell the caller its pause was done.
    reused = api.command({"kind": "pause_schedule", "group": "retail"}, idempotency_key="orders-1")
    body = assert_problem(reused, 422, "idempotency_key")
    assert "register_source" in body["errors"][0]["message"] and body["errors"][0]["fix"], body
    assert snapshot(api.db) == before
    # On resource routes the path is part of the command: another source is another command.
    api.command({**SOURCE, "name": "returns", "location": "/Volumes/main/landing/retail/returns/"})
    headers = {"Idempotency-Key": "describe-1"}
    done = api.client().patch("/sources/orders", json={"description": "orders"}, headers=headers)
    assert done.json()["status"] == "applied", done.text
    before = snapshot(api.db)
    other = api.client().patch("/sources/returns", json={"description": "orders"}, headers=headers)
    assert_problem(other, 422, "idempotency_key")
    assert snapshot(api.db) == before
    # The same command with its key still answers the first answer.
    again = api.command(SOURCE, idempotency_key="orders-1")
    assert again.json()["command_id"] == first.json()["command_id"]


def test_a_plan_confirmed_with_its_own_idempotency_key_applies_once(api: Api) -> None:
    seed(api)
    change = {"kind": "update_group", "name": "retail", "max_retries": 3}
    plan = api.command(change, dry_run=True, idempotency_key="retries-3").json()
    assert plan["status"] == "planned" and plan["confirm_token"], plan
    # One key for the whole operation: the confirmation is not a repeat of the plan.
    confirm = {"confirm_token": plan["confirm_token"], "idempotency_key": "retries-3"}
    applied = api.command(change, **confirm)
    assert applied.status_code == 200 and applied.json()["status"] == "applied", applied.text
    assert api.client().get("/groups/retail").json()["max_retries"] == 3
    # Repeats of the confirmation (and of the plan) answer what was applied, and apply nothing more.
    for repeat in (
        api.command(change, **confirm),
        api.command(change, dry_run=True, idempotency_key="retries-3"),
    ):
        assert repeat.json()["command_id"] == applied.json()["command_id"], repeat.text
        assert repeat.json()["status"] == "applied"
    with api.db.connection() as conn:
        revisions = conn.execute(
            "SELECT count(*) AS n FROM lakeforge.metadata_revision WHERE command_id = %s",
            (applied.json()["command_id"],),
        ).fetchone()
    assert revisions["n"] == 1


def test_a_taken_name_is_a_conflict(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    for response in (
        api.client().post("/sources", json={k: v for k, v in SOURCE.items() if k != "kind"}),
        api.client().post("/groups", json={"name": "retail"}),
    ):
        body = assert_problem(response, 409, "name")
        assert body["reason"] == "conflict" and "exists already" in body["detail"], body
    assert snapshot(api.db) == before


def test_parallel_conflicting_updates_have_one_winner(api: Api) -> None:
    seed(api)
    results: list[tuple[int, dict]] = []
    barrier = threading.Barrier(20)

    def update(index: int) -> None:
        barrier.wait()
        intent = {
            "kind": "update_source",
            "name": "orders",
            "expected_revision": 1,
            "location": f"/Volumes/main/landing/retail/orders_{index}/",
        }
        response = api.command(intent, role="editor")
        results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=update, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [body for status, body in results if status == 200]
    losers = [(status, body) for status, body in results if status != 200]
    assert len(winners) == 1, results
    assert len(losers) == 19
    for status, body in losers:
        assert status == 409, body
        assert body["errors"], body
    row = source_row(api)
    assert row["revision"] == 2
    with api.db.connection() as conn:
        history = conn.execute(
            """SELECT revision, after->>'location' AS location FROM lakeforge.metadata_revision
               WHERE entity_type = 'source' AND entity_key = 'orders' ORDER BY revision"""
        ).fetchall()
    assert [entry["revision"] for entry in history] == [1, 2]
    assert history[-1]["location"] == row["location"]
