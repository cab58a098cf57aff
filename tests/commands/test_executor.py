"""The executor against a real Postgres: every intent applies, bad input changes nothing."""

from __future__ import annotations

from typing import Any

from lakeforge.commands import executor
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import _sweep_expired_tokens, execute
from lakeforge.commands.secrets import REDACTED
from lakeforge.metadata.db import Database
from tests.commands.conftest import ACTOR, ADMIN, ORDERS, RETAIL_GROUP, table_contents


def _one(db: Database, query: str, *params: Any) -> Any:
    with db.connection() as conn:
        row = conn.execute(query, list(params)).fetchone()
    return None if row is None else next(iter(row.values()))


# -- every intent succeeds -----------------------------------------------------------------------
def test_register_source_derives_target_names_and_writes_every_config(db, run, retail):
    with db.connection() as conn:
        row = conn.execute(
            "SELECT s.format, s.revision, b.target_table AS bronze, v.target_table AS silver, "
            "v.primary_keys, "
            "v.where_clause FROM source s JOIN bronze_config b ON b.source_id = s.id "
            "JOIN silver_config v ON v.source_id = s.id WHERE s.name = 'orders'"
        ).fetchone()
    assert row == {
        "format": "csv",
        "revision": 1,
        "bronze": "main.retail_bronze.orders",
        "silver": "main.retail_silver.orders",
        "primary_keys": ["order_id"],
        "where_clause": "amount IS NOT NULL",
    }
    assert _one(db, "SELECT count(*) FROM dq_rule") == 1
    assert _one(db, "SELECT count(*) FROM metadata_revision WHERE entity_type = 'source'") == 1


def test_register_source_with_a_schedule_sets_the_group_schedule(db, run):
    run({"kind": "create_group", "name": "crm"})
    result = run(
        {
            "kind": "register_source",
            "name": "customers",
            "group": "crm",
            "format": "jdbc",
            "location": "jdbc:postgresql://crm.internal:5432/crm",
            "format_options": {
                "dbtable": "public.customers",
                "user": "etl",
                "password": "{{secrets/crm/password}}",
            },
            "load_mode": "incremental",
            "watermark_column": "updated_at",
            "schema_ddl": "id INT, name STRING, updated_at TIMESTAMP",
            "silver": {"primary_keys": ["id"], "scd_type": 2, "sequence_by": "updated_at"},
            "schedule": {"quartz_cron": "0 15 * * * ?", "timezone": "Europe/Paris"},
        }
    )
    assert result.status == "applied", result.errors
    assert _one(db, "SELECT quartz_cron FROM schedule") == "0 15 * * * ?"
    assert {line["key"] for line in result.plan if line["op"] == "touch"} == {"group:crm"}


def test_update_source_changes_only_the_given_fields_and_shows_the_diff(db, run, retail):
    result = run(
        {"kind": "update_source", "name": "orders", "location": "/data/v2/", "silver": {"dedupe": False}}
    )
    assert result.status == "applied"
    changed = {
        line["field"]: (line["before"], line["after"]) for line in result.plan if line["op"] == "update"
    }
    assert changed == {"location": ("/data/retail/orders/", "/data/v2/"), "silver.dedupe": (True, False)}
    assert _one(db, "SELECT revision FROM source") == 2
    assert _one(db, "SELECT primary_keys FROM silver_config") == ["order_id"]
    again = run({"kind": "update_source", "name": "orders", "location": "/data/v2/"})
    assert again.status == "applied" and again.message.startswith("Nothing to change")
    assert _one(db, "SELECT revision FROM source") == 2


def test_a_watermark_belongs_to_incremental_loads_only(db, run, retail):
    before = table_contents(db)
    refused = run({**ORDERS, "name": "returns", "watermark_column": "updated_at"})
    assert refused.status == "rejected"
    assert [error.field for error in refused.errors] == ["intent.watermark_column"]
    assert "set load_mode to incremental" in refused.errors[0].message
    assert table_contents(db) == before

    incremental = run(
        {"kind": "update_source", "name": "orders", "load_mode": "incremental", "watermark_column": "ts"}
    )
    assert incremental.status == "applied", incremental.errors
    # Going back to a full load drops the watermark it would no longer read, and says so.
    full = run({"kind": "update_source", "name": "orders", "load_mode": "full"})
    changed = {line["field"]: (line["before"], line["after"]) for line in full.plan if line["op"] == "update"}
    assert changed == {"load_mode": ("incremental", "full"), "watermark_column": ("ts", None)}
    assert _one(db, "SELECT watermark_column FROM source WHERE name = 'orders'") is None


def test_remove_source_needs_confirmation_then_applies(db, run, retail):
    first = run({"kind": "remove_source", "name": "orders"}, confirm=False)
    assert first.status == "needs_confirmation" and first.confirm_token.startswith("lfc_")
    assert next(line["text"] for line in first.plan) == "delete source orders"
    assert _one(db, "SELECT count(*) FROM source") == 1
    done = run({"kind": "remove_source", "name": "orders"}, confirm_token=first.confirm_token)
    assert done.status == "applied"
    assert _one(db, "SELECT count(*) FROM source") == 0
    reused = run({"kind": "remove_source", "name": "orders"}, confirm_token=first.confirm_token)
    assert reused.status == "rejected"


def test_confirm_token_is_bound_to_the_intent_and_the_plan(db, run, retail):
    planned = run({"kind": "remove_dq_rule", "source": "orders", "name": "amount_positive"}, confirm=False)
    other = run({"kind": "remove_source", "name": "orders"}, confirm_token=planned.confirm_token)
    assert other.status == "rejected" and other.reason == "confirmation"
    # A token is single use even when refused, so plan again; then change the metadata meanwhile.
    planned = run({"kind": "remove_source", "name": "orders"}, confirm=False)
    run({"kind": "update_source", "name": "orders", "location": "/elsewhere/"})
    stale = run({"kind": "remove_source", "name": "orders"}, confirm_token=planned.confirm_token)
    assert stale.status == "rejected" and "changed since this plan" in stale.message
    assert _one(db, "SELECT count(*) FROM source") == 1


def test_dry_run_plans_without_applying_and_its_token_applies(db, run):
    intent = dict(RETAIL_GROUP)
    planned = run(intent, dry_run=True)
    assert planned.status == "planned" and planned.plan[0]["text"] == "create group retail"
    assert _one(db, "SELECT count(*) FROM source_group") == 0
    applied = run(intent, confirm_token=planned.confirm_token)
    assert applied.status == "applied"
    assert _one(db, "SELECT count(*) FROM source_group") == 1


def test_a_repeated_dry_run_answers_the_first_plan_with_a_fresh_token(db, run):
    first = run(dict(RETAIL_GROUP), dry_run=True, idempotency_key="plan-1")
    again = run(dict(RETAIL_GROUP), dry_run=True, idempotency_key="plan-1")
    assert again.command_id == first.command_id and again.plan == first.plan and again.plan
    # Tokens are kept hashed, so the repeat cannot show the first one: it gets a usable new one,
    # and the first stops working, so the plan still has one live token.
    assert again.confirm_token and again.confirm_token.startswith("lfc_")
    assert again.confirm_token not in (first.confirm_token, REDACTED)
    with db.connection() as conn:
        row = conn.execute(
            "SELECT plan, response FROM command_audit WHERE id = %s", [first.command_id]
        ).fetchone()
    # The plan is kept once, in its own column; the stored answer holds no token at all.
    assert row["plan"] == first.plan and "plan" not in row["response"]
    assert "confirm_token" not in row["response"]
    stale = run(dict(RETAIL_GROUP), confirm_token=first.confirm_token)
    assert stale.status == "rejected" and "unknown or already used" in stale.message
    assert run(dict(RETAIL_GROUP), confirm_token=again.confirm_token).status == "applied"
    # Once applied, a further repeat answers the plan without a token, and says why.
    late = run(dict(RETAIL_GROUP), dry_run=True, idempotency_key="plan-1")
    assert late.status == "planned" and late.confirm_token is None
    assert "confirmed already or its token has expired" in late.message
    assert _one(db, "SELECT count(*) FROM source_group") == 1


def test_a_repeated_destructive_plan_gets_a_token_that_removes_once(db, run, retail):
    removal = {"kind": "remove_source", "name": "orders"}
    first = run(dict(removal), confirm=False, idempotency_key="rm-1")
    again = run(dict(removal), confirm=False, idempotency_key="rm-1")
    assert first.status == again.status == "needs_confirmation"
    assert again.confirm_token != first.confirm_token
    assert run(dict(removal), confirm_token=again.confirm_token).status == "applied"
    assert run(dict(removal), confirm_token=first.confirm_token).status == "rejected"
    assert _one(db, "SELECT count(*) FROM source") == 0


def test_a_plan_that_loses_the_race_for_its_key_answers_the_winners_plan(db, run, monkeypatch):
    """Two requests with one key both pass the repeat check before either stores its plan: the
    second to store answers the first one's plan, and the plan still has one live token."""
    winner = run(dict(RETAIL_GROUP), dry_run=True, idempotency_key="race-1")
    real_lookup = executor._earlier_answer
    checks = []

    def lookup_missed_once(*args):
        checks.append(args)
        return None if len(checks) == 1 else real_lookup(*args)

    monkeypatch.setattr(executor, "_earlier_answer", lookup_missed_once)
    loser = run(dict(RETAIL_GROUP), dry_run=True, idempotency_key="race-1")
    assert loser.command_id == winner.command_id and loser.plan == winner.plan
    assert loser.confirm_token and loser.confirm_token != winner.confirm_token
    assert _one(db, "SELECT count(*) FROM command_confirmation WHERE used_at IS NULL") == 1
    assert _one(db, "SELECT count(*) FROM command_audit WHERE idempotency_key = 'race-1'") == 1
    assert run(dict(RETAIL_GROUP), confirm_token=winner.confirm_token).status == "rejected"
    assert run(dict(RETAIL_GROUP), confirm_token=loser.confirm_token).status == "applied"


def test_tokens_expired_for_a_day_are_swept_and_live_ones_kept(db, run):
    planned = run(dict(RETAIL_GROUP), dry_run=True)
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO command_confirmation (token_hash, actor, kind, intent_hash, plan_hash, expires_at) "
            "VALUES ('old', 'ana', 'create_group', 'h', 'p', now() - interval '2 days')"
        )
        _sweep_expired_tokens(conn)
    assert _one(db, "SELECT count(*) FROM command_confirmation WHERE token_hash = 'old'") == 0
    assert run(dict(RETAIL_GROUP), confirm_token=planned.confirm_token).status == "applied"


def test_group_schedule_and_gold_intents(db, run, retail):
    assert (
        run(
            {
                "kind": "set_schedule",
                "group": "retail",
                "quartz_cron": "0 30 6 ? * MON-FRI",
                "timezone": "Europe/Paris",
            }
        ).status
        == "applied"
    )
    assert _one(db, "SELECT timezone FROM schedule") == "Europe/Paris"
    assert run({"kind": "pause_schedule", "group": "retail"}).message == "Schedule of retail paused."
    assert _one(db, "SELECT paused FROM schedule") is True
    # A new cron for a paused group keeps it paused unless the caller says otherwise.
    moved = run({"kind": "set_schedule", "group": "retail", "quartz_cron": "0 0 7 * * ?"})
    assert moved.status == "applied" and _one(db, "SELECT paused FROM schedule") is True
    assert not any(line.get("field") == "schedule.paused" for line in moved.plan)
    # ... and keeps its time zone: "run it at 7" means 7 where the group runs, not 7 UTC.
    assert _one(db, "SELECT timezone FROM schedule") == "Europe/Paris"
    assert not any(line.get("field") == "schedule.timezone" for line in moved.plan)
    assert "(Europe/Paris)" in moved.message and moved.result["next_fire_times"][0][-6:] in (
        "+01:00",
        "+02:00",
    )
    assert run({"kind": "resume_schedule", "group": "retail"}).status == "applied"
    assert _one(db, "SELECT paused FROM schedule") is False
    explicit = {"kind": "set_schedule", "group": "retail", "quartz_cron": "0 0 8 * * ?", "paused": True}
    assert run(explicit).status == "applied" and _one(db, "SELECT paused FROM schedule") is True
    run({"kind": "resume_schedule", "group": "retail"})
    assert run({"kind": "update_group", "name": "retail", "max_retries": 3}).status == "applied"
    gold = run(
        {
            "kind": "upsert_gold",
            "group": "retail",
            "name": "revenue",
            "sql": "SELECT order_date, sum(amount) AS revenue FROM main.retail_silver.orders GROUP BY "
            "order_date",
        }
    )
    assert gold.status == "applied", gold.errors
    assert _one(db, "SELECT target_table FROM gold_config") == "main.retail_gold.revenue"
    assert run({"kind": "remove_gold", "group": "retail", "name": "revenue"}).status == "applied"
    assert _one(db, "SELECT count(*) FROM gold_config") == 0


def test_rule_intents(db, run, retail):
    added = run(
        {
            "kind": "add_dq_rule",
            "source": "orders",
            "name": "has_customer",
            "expression": "customer_id IS NOT NULL",
            "action": "fail",
        }
    )
    assert added.status == "applied"
    updated = run(
        {
            "kind": "update_dq_rule",
            "source": "orders",
            "name": "has_customer",
            "action": "quarantine",
            "expected_revision": 1,
        }
    )
    assert updated.status == "applied"
    assert _one(db, "SELECT revision FROM dq_rule WHERE name = 'has_customer'") == 2
    stale = run(
        {
            "kind": "update_dq_rule",
            "source": "orders",
            "name": "has_customer",
            "action": "warn",
            "expected_revision": 1,
        }
    )
    assert stale.status == "rejected" and stale.reason == "conflict"
    assert run({"kind": "remove_dq_rule", "source": "orders", "name": "has_customer"}).status == "applied"
    assert _one(db, "SELECT count(*) FROM dq_rule") == 1


def test_systems_profiles_and_channels(db, run, retail):
    assert (
        run(
            {
                "kind": "upsert_system",
                "name": "shop",
                "system_kind": "database",
                "connection": {"host": "db.internal", "password": "{{secrets/shop/pw}}"},
            }
        ).status
        == "applied"
    )
    assert run({"kind": "update_source", "name": "orders", "system": "shop"}).status == "applied"
    profile = run(
        {
            "kind": "upsert_compute_profile",
            "name": "small",
            "profile_kind": "job_cluster",
            "num_workers": 2,
            "node_type_id": "Standard_D4ds_v5",
        }
    )
    assert profile.status == "applied"
    assert run({"kind": "update_group", "name": "retail", "compute_profile": "small"}).status == "applied"
    touched = run(
        {"kind": "upsert_compute_profile", "name": "small", "profile_kind": "job_cluster", "num_workers": 4}
    )
    assert {line["key"] for line in touched.plan if line["op"] == "touch"} == {"group:retail"}
    channel = run({"kind": "subscribe_channel", "group": "retail", "slack_channel_id": "C0123ABCD"})
    assert channel.status == "applied"
    assert (
        _one(
            db,
            "SELECT c.name FROM source_group g JOIN notification_channel c ON c.id = "
            "g.notification_channel_id",
        )
        == "slack_c0123abcd"
    )


def test_a_batch_whose_runner_died_can_be_rerun_and_a_live_one_cannot(db, run, retail, launched):
    from lakeforge.runtime import runlog

    batch_id = run({"kind": "run_now", "source": "orders"}).result["batch_id"]
    with db.connection() as conn:
        conn.execute("UPDATE lakeforge_log.batch_run SET status = 'running' WHERE batch_id = %s", [batch_id])
    with db.connection() as holder:
        # A live runner holds its batch's lock on its own connection for as long as it works.
        holder.execute("SELECT pg_advisory_lock_shared(%s)", [runlog._lock_key(batch_id)])
        holder.commit()
        busy = run({"kind": "rerun_batch", "batch_id": batch_id})
        assert busy.status == "rejected" and "still running" in busy.message
        holder.execute("SELECT pg_advisory_unlock_shared(%s)", [runlog._lock_key(batch_id)])
        holder.commit()
    # The runner is gone and the row still says running: that batch must not block its rerun.
    again = run({"kind": "rerun_batch", "batch_id": batch_id})
    assert again.status == "applied", again.message
    assert launched[-1].rerun_of == batch_id


def test_run_now_and_rerun_create_batches_and_launch_them(db, run, retail, launched):
    queued = run({"kind": "run_now", "source": "orders"})
    assert queued.status == "applied" and queued.result["status"] == "queued"
    batch_id = queued.result["batch_id"]
    assert launched[0].batch_id == batch_id and launched[0].sources == ["orders"]
    busy = run({"kind": "rerun_batch", "batch_id": batch_id})
    assert busy.status == "rejected" and "still queued" in busy.message
    with db.connection() as conn:
        conn.execute("UPDATE lakeforge_log.batch_run SET status = 'failed' WHERE batch_id = %s", [batch_id])
    again = run({"kind": "rerun_batch", "batch_id": batch_id})
    assert again.status == "applied"
    with db.connection() as conn:
        row = conn.execute(
            "SELECT trigger, rerun_of, source_name, status FROM lakeforge_log.batch_run WHERE batch_id = %s",
            [again.result["batch_id"]],
        ).fetchone()
    assert row == {"trigger": "rerun", "rerun_of": batch_id, "source_name": "orders", "status": "queued"}
    assert launched[1].trigger == "rerun" and launched[1].rerun_of == batch_id


def test_a_rerun_of_a_removed_source_is_refused_until_the_source_is_restored(db, run, retail, launched):
    batch_id = run({"kind": "run_now", "source": "orders"}).result["batch_id"]
    with db.connection() as conn:
        conn.execute("UPDATE lakeforge_log.batch_run SET status = 'failed' WHERE batch_id = %s", [batch_id])
    revision = run({"kind": "show_source", "name": "orders"}).result["source"]["revision"]
    assert run({"kind": "remove_source", "name": "orders"}).status == "applied"
    refused = run({"kind": "rerun_batch", "batch_id": batch_id})
    assert refused.status == "rejected" and "source 'orders' of batch" in refused.message
    error = refused.errors[0]
    assert error.field == "intent.batch_id" and "restore_revision" in (error.fix or "")
    assert len(launched) == 1  # nothing queued
    restore = run({"kind": "restore_revision", "entity": "source", "name": "orders", "revision": revision})
    assert restore.status == "applied", restore.message
    assert run({"kind": "rerun_batch", "batch_id": batch_id}).status == "applied"


def test_a_launcher_that_cannot_start_marks_the_batch_failed(db, run, retail):
    from lakeforge.commands import launch

    def broken(db, request):
        raise RuntimeError("no engine today")

    launch.set_launcher(broken)
    try:
        result = run({"kind": "run_now", "group": "retail"})
    finally:
        launch.set_launcher(None)
    assert result.status == "applied"
    assert _one(db, "SELECT error FROM lakeforge_log.batch_run") == "no engine today"


def test_sync_jobs_goes_through_the_syncer_seam(db, run):
    from lakeforge.commands import launch

    calls = []
    plan = {"changes": [{"action": "create", "resource": "job:group.retail", "name": "[lakeforge] retail"}]}

    def syncer(db, mode):
        calls.append(mode)
        return plan if mode == "plan" else {"created": ["job:group.retail"]}

    launch.set_syncer(syncer)
    try:
        result = run({"kind": "sync_jobs"})
    finally:
        launch.set_syncer(None)
    # An apply is planned first: the plan lines are the workspace changes a confirm token binds.
    assert result.status == "applied" and calls == ["plan", "apply"]
    assert [(line["op"], line["entity"], line["key"]) for line in result.plan] == [
        ("create", "job", "group.retail")
    ]
    assert result.result == {"mode": "apply", "sync": {"created": ["job:group.retail"]}}


def test_read_only_intents_return_data(db, run, retail, launched):
    run({"kind": "run_now", "group": "retail"})
    shown = run({"kind": "show_source", "name": "orders"})
    assert shown.result["source"]["dq_rules"][0]["name"] == "amount_positive"
    assert shown.result["schedule"]["description"] == "At 02:00"
    assert len(shown.result["schedule"]["next_fire_times"]) == 3
    runs = run({"kind": "list_runs", "group": "retail"})
    assert [r["status"] for r in runs.result["runs"]] == ["queued"]
    batch_id = runs.result["runs"][0]["batch_id"]
    detail = run({"kind": "show_run", "batch_id": batch_id})
    assert detail.result["batch"]["batch_id"] == batch_id and detail.result["zones"] == []
    group = run({"kind": "show_group", "name": "retail"})
    assert group.message == "Group retail: 1 source(s); At 02:00 (UTC)."
    assert [s["name"] for s in group.result["sources"]] == ["orders"]
    assert len(group.result["schedule"]["next_fire_times"]) == 3
    assert group.result["recent_runs"][0]["batch_id"] == batch_id
    run({"kind": "pause_schedule", "group": "retail"})
    paused = run({"kind": "show_group", "name": "retail"})
    assert paused.message.endswith("(UTC), paused.") and paused.result["schedule"]["next_fire_times"] == []
    missing = run({"kind": "show_group", "name": "nowhere"})
    assert missing.status == "rejected" and missing.errors[0].field == "intent.name"
    helped = run({"kind": "help"})
    assert {item["kind"] for item in helped.result["intents"]} >= {"register_source", "sync_jobs", "help"}


def test_list_runs_of_a_source_include_its_group_runs_and_a_period(db, run, retail, launched):
    run({**ORDERS, "name": "returns"})
    group_batch = run({"kind": "run_now", "group": "retail"}).result["batch_id"]  # as a job run: no source
    own = run({"kind": "run_now", "source": "orders"}).result["batch_id"]
    sibling = run({"kind": "run_now", "source": "returns"}).result["batch_id"]
    with db.connection() as conn:
        conn.execute(
            "UPDATE lakeforge_log.batch_run SET created_at = now() - interval '3 days' WHERE batch_id = %s",
            [group_batch],
        )
    of_orders = run({"kind": "list_runs", "source": "orders"})
    assert [r["batch_id"] for r in of_orders.result["runs"]] == [own, group_batch]
    assert sibling not in [r["batch_id"] for r in of_orders.result["runs"]]
    recent = run({"kind": "list_runs", "source": "orders", "since": "2026-01-01T00:00:00Z"})
    assert recent.status == "applied"
    since_yesterday = run(
        {
            "kind": "list_runs",
            "group": "retail",
            "since": _one(db, "SELECT now() - interval '1 day'").isoformat(),
        }
    )
    assert {r["batch_id"] for r in since_yesterday.result["runs"]} == {own, sibling}
    assert " since " in since_yesterday.message
    naive = run({"kind": "list_runs", "since": "2026-11-26T00:00:00"})
    assert naive.status == "rejected" and naive.errors[0].field == "intent.since"


# -- bad input is refused, names the field, changes nothing -------------------------------------
BAD_INPUTS = [
    ("wrong type", {**ORDERS, "name": "bad1", "format_options": "header"}, "intent.format_options"),
    ("unknown field", {**ORDERS, "name": "bad2", "colour": "blue"}, "intent.colour"),
    ("unknown group", {**ORDERS, "name": "bad3", "group": "nowhere"}, "intent.group"),
    ("duplicate name", ORDERS, "intent.name"),
    ("bad slug", {**ORDERS, "name": "Orders!"}, "intent.name"),
    ("bad format", {**ORDERS, "name": "bad4", "format": "xlsx"}, "intent.format"),
    (
        "bad cron",
        {"kind": "set_schedule", "group": "retail", "quartz_cron": "0 2 * * *"},
        "intent.quartz_cron",
    ),
    (
        "reflect",
        {
            "kind": "add_dq_rule",
            "source": "orders",
            "name": "evil",
            "expression": "reflect('java.lang.Runtime','exec','x')",
        },
        "intent.expression",
    ),
    (
        "subquery",
        {
            "kind": "add_dq_rule",
            "source": "orders",
            "name": "evil",
            "expression": "id IN (SELECT id FROM other)",
        },
        "intent.expression",
    ),
    (
        "statement",
        {"kind": "add_dq_rule", "source": "orders", "name": "evil", "expression": "1=1; DROP TABLE t"},
        "intent.expression",
    ),
    (
        "forbidden select expression",
        {
            "kind": "update_source",
            "name": "orders",
            "silver": {"select_expressions": ["java_method('a','b') AS x"]},
        },
        "intent.silver.select_expressions.0",
    ),
    (
        "inline password option",
        {**ORDERS, "name": "bad5", "format_options": {"password": "hunter2"}},
        "intent.format_options.password",
    ),
    (
        "inline password url",
        {
            **ORDERS,
            "name": "bad6",
            "format": "jdbc",
            "location": "jdbc:postgresql://db:5432/x?user=a&password=hunter2",
        },
        "intent.location",
    ),
    ("unknown kind", {"kind": "drop_everything"}, "intent"),
    ("missing field", {"kind": "register_source", "name": "bad7", "group": "retail"}, "intent.format"),
    (
        "unknown rule source",
        {"kind": "add_dq_rule", "source": "nope", "name": "r", "expression": "a > 1"},
        "intent.source",
    ),
    ("unknown batch", {"kind": "rerun_batch", "batch_id": 999}, "intent.batch_id"),
    (
        "scd2 without keys",
        {**ORDERS, "name": "bad8", "silver": {"scd_type": 2}},
        "intent.silver.primary_keys",
    ),
    (
        "unknown profile",
        {"kind": "update_group", "name": "retail", "compute_profile": "huge"},
        "intent.compute_profile",
    ),
    (
        "restore missing revision",
        {"kind": "restore_revision", "name": "orders", "revision": 99},
        "intent.revision",
    ),
]


def test_bad_input_is_rejected_naming_the_field_and_changes_nothing(db, run, retail):
    # One database for every case: each must leave it exactly as it was, which is the point.
    before = table_contents(db)
    problems = []
    for case, intent, field in BAD_INPUTS:
        result = run(intent)
        if (
            result.status != "rejected"
            or not result.errors
            or result.errors[0].field != field
            or not result.message
        ):
            problems.append((case, result.status, [e.field for e in result.errors], result.message))
        if table_contents(db) != before:
            problems.append((case, "changed the database"))
            before = table_contents(db)
        with db.connection() as conn:
            audit = conn.execute(
                "SELECT outcome, intent::text AS intent FROM command_audit WHERE id = %s", [result.command_id]
            ).fetchone()
        # Rejected commands are audited too, without secrets.
        if audit is None or audit["outcome"] != "rejected" or "hunter2" in audit["intent"]:
            problems.append((case, "audit", audit))
    assert problems == []


# -- audit, idempotency, concurrency, restore ------------------------------------------------------
def test_applied_commands_write_audit_and_revision_rows(db, run, retail):
    result = execute(
        db,
        {"kind": "pause_schedule", "group": "retail"},
        Actor(user="admin_user", surface="slack", channel="C0123ABCD"),
        principal=ADMIN,
        raw_text="pause retail please",
    )
    with db.connection() as conn:
        audit = conn.execute("SELECT * FROM command_audit WHERE id = %s", [result.command_id]).fetchone()
        revision = conn.execute(
            "SELECT * FROM metadata_revision WHERE command_id = %s", [result.command_id]
        ).fetchone()
    assert (
        audit["surface"] == "slack"
        and audit["channel"] == "C0123ABCD"
        and audit["raw_text"] == "pause retail please"
    )
    assert audit["outcome"] == "applied" and audit["kind"] == "pause_schedule" and audit["duration_ms"] > 0
    assert audit["plan"][0]["field"] == "schedule.paused"
    assert revision["entity_type"] == "group" and revision["revision"] == 2
    assert (
        revision["before"]["schedule"]["paused"] is False and revision["after"]["schedule"]["paused"] is True
    )


def test_same_idempotency_key_applies_once(db, run, retail, launched):
    first = run({"kind": "run_now", "group": "retail"}, idempotency_key="k-1")
    second = run({"kind": "run_now", "group": "retail"}, idempotency_key="k-1")
    assert second == first
    assert _one(db, "SELECT count(*) FROM lakeforge_log.batch_run") == 1
    assert len(launched) == 1
    third = run({"kind": "run_now", "group": "retail"}, idempotency_key="k-2")
    assert third.result["batch_id"] != first.result["batch_id"]


def test_concurrent_repeats_of_one_idempotency_key_apply_once(db, run, retail, launched):
    from concurrent.futures import ThreadPoolExecutor

    def send(_: int):
        return execute(
            db, {"kind": "run_now", "group": "retail"}, ACTOR, principal=ADMIN, idempotency_key="same"
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(8)))
    assert {r.result["batch_id"] for r in results} == {results[0].result["batch_id"]}
    assert _one(db, "SELECT count(*) FROM lakeforge_log.batch_run") == 1
    assert len(launched) == 1


def test_twenty_parallel_conflicting_updates_have_one_winner(db, run, retail):
    from concurrent.futures import ThreadPoolExecutor

    def update(index: int):
        return execute(
            db,
            {
                "kind": "update_source",
                "name": "orders",
                "location": f"/data/writer_{index}/",
                "expected_revision": 1,
            },
            ACTOR,
            principal=ADMIN,
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(update, range(20)))
    winners = [r for r in results if r.status == "applied"]
    losers = [r for r in results if r.status != "applied"]
    assert len(winners) == 1
    assert all(r.status == "rejected" and r.reason == "conflict" for r in losers)
    assert all(r.errors[0].field == "intent.expected_revision" for r in losers)
    with db.connection() as conn:
        history = conn.execute(
            "SELECT revision, after->>'location' AS location FROM metadata_revision "
            "WHERE entity_type = 'source' AND entity_key = 'orders' ORDER BY revision"
        ).fetchall()
        current = conn.execute("SELECT location, revision FROM source").fetchone()
    assert [h["revision"] for h in history] == [1, 2]
    assert history[-1]["location"] == current["location"] and current["revision"] == 2


def test_restore_revision_brings_back_configs_and_rules(db, run, retail):
    run({"kind": "update_source", "name": "orders", "location": "/v2/", "dq_rules": []})
    assert _one(db, "SELECT count(*) FROM dq_rule") == 0
    planned = run(
        {"kind": "restore_revision", "entity": "source", "name": "orders", "revision": 1}, confirm=False
    )
    assert planned.status == "needs_confirmation"
    assert any(line["field"] == "location" for line in planned.plan)
    restored = run(
        {"kind": "restore_revision", "entity": "source", "name": "orders", "revision": 1},
        confirm_token=planned.confirm_token,
    )
    assert restored.status == "applied"
    assert _one(db, "SELECT location FROM source") == "/data/retail/orders/"
    assert _one(db, "SELECT expression FROM dq_rule") == "amount > 0"
    assert _one(db, "SELECT revision FROM source") == 3


def test_a_removed_source_can_be_restored(db, run, retail):
    run({"kind": "remove_source", "name": "orders"})
    assert _one(db, "SELECT count(*) FROM source") == 0
    assert run({"kind": "restore_revision", "name": "orders", "revision": 1}).status == "applied"
    assert _one(db, "SELECT revision FROM source") == 3
    assert _one(db, "SELECT count(*) FROM dq_rule") == 1


def test_input_postgres_cannot_store_is_refused_not_crashed(db, run, retail):
    before = table_contents(db)
    nul = run({"kind": "update_source", "name": "orders", "location": "/data/\x00evil"})
    assert nul.status == "rejected" and nul.errors[0].field == "intent.location"
    key = run({"kind": "help"}, idempotency_key="k\x00")
    assert key.status == "rejected" and key.errors[0].field == "idempotency_key"
    nan = run({"kind": "update_source", "name": "orders", "format_options": {"ratio": float("nan")}})
    assert nan.status == "rejected" and nan.errors[0].field.startswith("intent.format_options")
    huge = run({"kind": "restore_revision", "name": "orders", "revision": 2**40})
    assert huge.status == "rejected" and huge.errors[0].field == "intent.revision"
    odd = run(["not", "an", "object"])
    assert odd.status == "rejected" and odd.errors[0].field == "intent"
    assert table_contents(db) == before


# -- rehearsals ----------------------------------------------------------------------------------
def test_rehearse_plans_each_intent_after_the_ones_before_and_keeps_nothing(db):
    before = table_contents(db)
    bad_rule = {**ORDERS, "name": "refunds", "dq_rules": [{"name": "r", "expression": "reflect('a', 'b')"}]}
    results = executor.rehearse(
        db, [RETAIL_GROUP, ORDERS, bad_rule, {**ORDERS, "name": "returns"}], ACTOR, principal=ADMIN
    )
    assert [r.status for r in results] == ["planned", "planned", "rejected", "planned"]
    # The source was planned against the group the first intent would create.
    assert any(line["field"] == "group" and line["after"] == "retail" for line in results[1].plan or [])
    assert results[2].errors[0].field == "intent.dq_rules.0.expression"
    assert table_contents(db) == before
    assert _one(db, "SELECT count(*) FROM command_audit") == 0
    assert _one(db, "SELECT count(*) FROM command_confirmation") == 0
