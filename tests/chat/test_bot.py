"""The Slack app over real HTTP: the API app served by uvicorn, outbound calls to a Slack stand-in."""

from __future__ import annotations

import time

from lakeforge.metadata.db import Database
from tests.chat.conftest import Env
from tests.chat.support import action_body, post, said, signed_headers, slash_body, view_body


def _button(blocks: list[dict], action_id: str) -> dict:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button in {blocks}")


SHIPMENTS_FORM = {
    "name": "shipments",
    "group": "sales",
    "format": "csv",
    "location": "/Volumes/main/raw/shipments",
    "load_mode": "full",
}


def _paused(db: Database) -> bool:
    with db.connection() as conn:
        return conn.execute(
            "SELECT s.paused FROM schedule s JOIN source_group g ON g.id = s.source_group_id"
            " WHERE g.name = 'sales'"
        ).fetchone()["paused"]


def test_slash_command_is_acked_fast_with_the_intent_then_answered_with_a_plan(env: Env) -> None:
    started = time.perf_counter()
    response = env.slash("pause the sales group")
    elapsed = time.perf_counter() - started
    print(f"\nack in {elapsed * 1000:.1f} ms")
    assert response.status_code == 200
    assert elapsed < 3.0
    assert "pause_schedule" in response.json()["text"] and "group=sales" in response.json()["text"]
    plan = env.responses()[0]
    assert plan["blocks"][0]["text"]["text"] == "Plan: pause schedule"
    jobs = next(b["text"]["text"] for b in plan["blocks"] if "Jobs touched" in str(b))
    assert "job group:sales" in jobs
    confirm = _button(plan["blocks"], "lakeforge_confirm")
    assert confirm["style"] == "primary"
    assert not _paused(env.db)  # nothing applied before Confirm


def test_forged_and_stale_signatures_get_401(env: Env) -> None:
    body = slash_body("pause sales", user="U0ANA", response_url=env.slack.url)
    forged = signed_headers(body, secret="not-the-secret")
    assert env.http.post(env.url + "/slack/events", content=body, headers=forged).status_code == 401
    stale = signed_headers(body, timestamp=int(time.time()) - 600)
    assert env.http.post(env.url + "/slack/events", content=body, headers=stale).status_code == 401
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    assert env.http.post(env.url + "/slack/events", content=body, headers=unsigned).status_code == 401
    time.sleep(0.3)
    assert env.slack.calls == []


def test_a_slack_retry_executes_once(env: Env) -> None:
    body = slash_body("run orders", user="U0ANA", response_url=env.slack.url)
    assert post(env.http, env.url, body).status_code == 200
    assert (
        post(
            env.http, env.url, body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        ).status_code
        == 200
    )
    env.responses(1)
    time.sleep(0.5)
    assert len([c for c in env.slack.calls if c.method.startswith("response/")]) == 1
    with env.db.connection() as conn:
        audits = conn.execute(
            "SELECT count(*) AS n FROM command_audit WHERE raw_text = 'run orders'"
        ).fetchone()["n"]
    assert audits == 1


def test_a_retried_click_is_handled_once_even_when_it_arrives_first(env: Env) -> None:
    env.slash("pause sales")
    pending = _button(env.responses(1)[0]["blocks"], "lakeforge_confirm")["value"]
    body = action_body("lakeforge_confirm", pending, user="U0ANA", response_url=env.slack.url)
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    # Both deliveries are acked; whichever one's work starts first records it, the other does nothing.
    assert post(env.http, env.url, body, **retry).status_code == 200
    assert post(env.http, env.url, body).status_code == 200
    assert "paused" in env.responses(2)[1]["text"].lower()
    time.sleep(0.5)
    assert len([c for c in env.slack.calls if c.method.startswith("response/")]) == 2
    assert _paused(env.db)


def test_confirm_applies_the_plan_and_is_audited_with_slack_channel_and_user(env: Env) -> None:
    env.slash("pause sales")
    pending = _button(env.responses(1)[0]["blocks"], "lakeforge_confirm")["value"]
    assert env.click("lakeforge_confirm", pending).status_code == 200
    done = env.responses(2)[1]
    assert done["replace_original"] is True
    assert "paused" in done["text"].lower()
    assert _paused(env.db)
    env.click("lakeforge_confirm", pending)  # a second click changes nothing
    assert "already confirmed" in env.responses(3)[2]["text"] or "already" in str(
        env.responses(3)[2]["blocks"]
    )
    with env.db.connection() as conn:
        rows = conn.execute(
            "SELECT actor, surface, channel, outcome FROM command_audit"
            " WHERE kind = 'pause_schedule' ORDER BY created_at"
        ).fetchall()
    assert [r["outcome"] for r in rows] == ["planned", "applied"]
    assert all(r["actor"] == "ana" and r["surface"] == "slack" and r["channel"] == "C0SALES1" for r in rows)


def test_a_pending_plan_keeps_no_confirm_token(env: Env) -> None:
    env.slash("pause sales")
    pending = _button(env.responses(1)[0]["blocks"], "lakeforge_confirm")["value"]
    with env.db.connection() as conn:
        row = conn.execute(
            "SELECT to_jsonb(p) AS row, p.command_id FROM slack_pending_command p WHERE id = %s", (pending,)
        ).fetchone()
        planned = conn.execute(
            "SELECT count(*) AS n FROM command_confirmation WHERE command_id = %s AND used_at IS NULL",
            (row["command_id"],),
        ).fetchone()["n"]
    assert "lfc_" not in str(row["row"]) and "confirm_token" not in row["row"]
    assert planned == 1  # the plan's live token, kept hashed by the executor
    env.click("lakeforge_confirm", pending)
    assert "paused" in env.responses(2)[1]["text"].lower()
    assert _paused(env.db)


def test_confirming_an_expired_plan_applies_nothing_and_says_to_ask_again(env: Env) -> None:
    env.slash("pause sales")
    pending = _button(env.responses(1)[0]["blocks"], "lakeforge_confirm")["value"]
    with env.db.connection() as conn:
        conn.execute(
            "UPDATE command_confirmation SET expires_at = now() - interval '1 minute'"
            " WHERE command_id = (SELECT command_id FROM slack_pending_command WHERE id = %s)",
            (pending,),
        )
    env.click("lakeforge_confirm", pending)
    answer = env.responses(2)[1]
    assert "expired" in str(answer["blocks"]) and "pause" in str(answer["blocks"])
    assert not _paused(env.db)
    with env.db.connection() as conn:
        state = conn.execute("SELECT state FROM slack_pending_command WHERE id = %s", (pending,)).fetchone()
    assert state["state"] == "pending"  # a second click answers the same, rather than "confirmed"


def test_cancel_applies_nothing_and_destructive_plans_use_danger(env: Env) -> None:
    env.slash("remove source orders")
    plan = env.responses(1)[0]
    confirm = _button(plan["blocks"], "lakeforge_confirm")
    assert confirm["style"] == "danger" and "confirm" in confirm
    assert "delete source orders" in str(plan["blocks"])
    env.click("lakeforge_cancel", confirm["value"])
    assert "Cancelled" in env.responses(2)[1]["text"]
    with env.db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM source WHERE name = 'orders'").fetchone()["n"] == 1


def test_unmapped_user_can_read_but_not_change(env: Env) -> None:
    env.slash("pause sales", user="U0STRANGER")
    answer = env.responses(1)[0]
    assert "not mapped" in str(answer["blocks"])
    assert not _button_exists(answer["blocks"], "lakeforge_confirm")
    env.slash("runs", user="U0STRANGER")
    assert "run(s)" in env.responses(2)[1]["text"]
    env.slash("help", user="U0STRANGER")
    help_text = str(env.responses(3)[2]["blocks"])
    assert "remove source" not in help_text and "*runs*" in help_text
    assert not _paused(env.db)


def test_someone_else_cannot_confirm_my_plan(env: Env) -> None:
    env.slash("pause sales")
    pending = _button(env.responses(1)[0]["blocks"], "lakeforge_confirm")["value"]
    env.click("lakeforge_confirm", pending, user="U0VIC")
    assert "Only the person who asked" in str(env.responses(2)[1]["blocks"])
    assert not _paused(env.db)


def test_help_lists_what_the_role_allows(env: Env) -> None:
    env.slash("help", user="U0VIC")
    viewer = str(env.responses(1)[0]["blocks"])
    env.slash("help", user="U0ANA")
    editor = str(env.responses(2)[1]["blocks"])
    assert "*show*" in viewer and "*pause*" not in viewer and "*register source*" not in viewer
    assert "*register source*" in editor and "/lakeforge add rule on orders" in editor


def test_register_source_opens_a_prefilled_modal_and_its_submission_previews_the_plan(env: Env) -> None:
    env.slash("register source shipments csv")
    view = env.slack.wait_for("views.open")[0]["view"]
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        or b["element"].get("initial_option", {}).get("value")
        for b in _fields(view)
    }
    assert initial["name"] == "shipments" and initial["format"] == "csv" and initial["location"] is None
    bad = view_body(
        view,
        {"name": "shipments", "group": "sales", "format": "csv", "location": "", "load_mode": "incremental"},
        user="U0ANA",
    )
    answer = post(env.http, env.url, bad)
    assert answer.status_code == 200 and answer.json()["response_action"] == "errors"
    good = view_body(view, SHIPMENTS_FORM, user="U0ANA")
    assert post(env.http, env.url, good).status_code == 200
    posted = env.slack.wait_for("chat.postEphemeral")[0]
    assert posted["channel"] == "C0SALES1" and posted["user"] == "U0ANA"
    assert "create source shipments" in str(posted["blocks"])


def test_what_the_form_has_no_field_for_is_kept_through_the_form(env: Env) -> None:
    env.slash("load the shipments csv files from /Volumes/main/raw/shipments every day at 6am without header")
    view = env.slack.wait_for("views.open")[0]["view"]
    form = {b["block_id"]: b["element"].get("initial_value") for b in _fields(view)}
    assert form["name"] == "shipments" and form["group"] is None  # the group is asked for
    submitted = view_body(view, SHIPMENTS_FORM, user="U0ANA")
    assert post(env.http, env.url, submitted).status_code == 200
    plan = str(env.slack.wait_for("chat.postEphemeral")[0]["blocks"])
    # The schedule said in the message, and its CSV option, are in the plan the form previews.
    assert "0 0 6 * * ?" in plan and "header" in plan, plan


def test_add_rule_without_a_condition_opens_the_rule_modal(env: Env) -> None:
    env.slash("add rule on orders")
    view = env.slack.wait_for("views.open")[0]["view"]
    assert view["callback_id"] == "lakeforge_add_rule"
    assert {b["block_id"]: b["element"].get("initial_value") for b in _fields(view)}["source"] == "orders"


def _fields(view: dict) -> list[dict]:
    """A form's inputs (without the question above them)."""
    return [block for block in view["blocks"] if block["type"] == "input"]


def _button_exists(blocks: list[dict], action_id: str) -> bool:
    try:
        _button(blocks, action_id)
    except AssertionError:
        return False
    return True


def test_slack_events_answer_503_until_slack_is_configured(settings, db: Database) -> None:
    import httpx

    from api.app import create_app
    from tests.chat.support import LiveServer

    server = LiveServer(create_app(settings, db=db)).start()
    try:
        answer = httpx.post(server.url + "/slack/events", content="x", headers=signed_headers("x"))
        assert answer.status_code == 503 and "LAKEFORGE_SLACK_SIGNING_SECRET" in answer.text
    finally:
        server.stop()


def test_retry_keys_and_plans_older_than_a_day_are_forgotten(env: Env) -> None:
    from bot.app import forget_old_slack_state

    env.slash("pause sales")
    fresh = _button(env.responses(1)[0]["blocks"], "lakeforge_confirm")["value"]
    with env.db.connection() as conn:
        conn.execute(
            "INSERT INTO slack_pending_command (id, slack_user_id, intent, created_at)"
            " VALUES (gen_random_uuid(), 'U0ANA', '{}', now() - interval '2 days')"
        )
        conn.execute(
            "INSERT INTO slack_request_seen (key, seen_at) VALUES ('old-delivery', now() - interval '2 days')"
        )
    forget_old_slack_state(env.db)
    with env.db.connection() as conn:
        plans = [r["id"] for r in conn.execute("SELECT id::text FROM slack_pending_command")]
        keys = [r["key"] for r in conn.execute("SELECT key FROM slack_request_seen")]
    assert plans == [fresh]
    assert "old-delivery" not in keys and keys  # the slash command's own key stays


def test_when_does_a_group_run_answers_its_schedule_in_words(env: Env) -> None:
    env.slash("when does sales run?", user="U0VIC")
    answer = env.responses(1)[0]
    text = str(answer["blocks"])
    assert "Group sales: 1 source(s); At 02:00 (UTC)." in answer["text"]
    assert "*Schedule:* At 02:00 (UTC); next: " in text and "*Sources:* orders (csv, full)" in text
    assert "lakeforge_confirm" not in text  # a read: nothing to confirm
    assert not _paused(env.db)


def test_show_source_answers_in_words_not_json(env: Env) -> None:
    env.slash("show orders", user="U0VIC")
    text = str(env.responses(1)[0]["blocks"])
    assert "*Reads:* csv from `/Volumes/main/raw/orders`, full" in text
    assert "*Group sales:* At 02:00 (UTC); next: " in text and "*Rules:* _none_" in text
    assert '"format_options"' not in text  # not the raw snapshot


def test_stop_the_sales_run_is_planned_confirmed_and_answered_in_slack(env: Env) -> None:
    with env.db.connection() as conn:
        batch = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status) VALUES ('sales', 'queued')"
            " RETURNING batch_id"
        ).fetchone()["batch_id"]
    env.slash("stop the sales run")
    plan = env.responses(1)[0]
    assert f"cancel batch {batch} of sales (queued): it ends cancelled now" in str(plan["blocks"])
    env.click("lakeforge_confirm", _button(plan["blocks"], "lakeforge_confirm")["value"])
    done = env.responses(2)[1]
    assert f"Batch {batch} cancelled." in done["text"]
    assert f"#{batch} sales — *cancelled*" in str(done["blocks"])
    with env.db.connection() as conn:
        row = conn.execute(
            "SELECT status, cancelled_by FROM lakeforge_log.batch_run WHERE batch_id = %s", (batch,)
        ).fetchone()
    assert (row["status"], row["cancelled_by"]) == ("cancelled", "ana")


def test_a_group_bound_user_lists_all_sources_and_sees_its_groups_quarantine_only(env: Env, tmp_path) -> None:
    from lakeforge.commands.access import Principal, ensure_user, grant
    from lakeforge.commands.envelope import Actor
    from lakeforge.commands.executor import execute
    from lakeforge.runtime.runner import run_batch

    landing = tmp_path / "landing" / "orders"
    landing.mkdir(parents=True)
    (landing / "orders.csv").write_text("id,amount\n1,10.5\n2,-3.0\n3,4.0\n")
    admin, boss = Actor(user="admin", surface="cli"), Principal.local_admin("admin")
    for intent in (
        {"kind": "create_group", "name": "web"},
        {"kind": "register_source", "name": "clicks", "group": "web", "format": "json", "location": "/v/c"},
        {
            "kind": "update_source",
            "name": "orders",
            "location": str(landing),
            "format_options": {"header": True},
            "schema_ddl": "id INT, amount DOUBLE",
        },
        {"kind": "add_dq_rule", "source": "orders", "name": "amount_ok", "expression": "amount >= 0",
         "action": "quarantine"},
    ):  # fmt: skip
        result = execute(env.db, intent, admin, principal=boss)
        assert result.status == "applied", result
    assert run_batch(env.settings, env.db, "sales").status == "succeeded"
    with env.db.connection() as conn:
        for user, slack, group in (("sam", "U0SAM", "sales"), ("wes", "U0WES", "web")):
            ensure_user(conn, user, slack_user_id=slack)
            grant(conn, user, "viewer", group)

    env.slash("show me quarantined rows for orders", user="U0SAM")
    sam = said(env.responses(1)[-1])
    assert "*1 quarantined row(s)* of orders" in sam and "*By rule:* amount_ok 1" in sam
    assert "id=2, amount=-3.0 — failed amount_ok" in sam
    env.slash("show me quarantined rows for orders", user="U0WES")
    wes = said(env.responses(2)[-1])
    assert ":lock:" in wes and "wes may not show quarantine" in wes and "amount" not in wes
    env.slash("which sources do we have?", user="U0WES")
    listed = said(env.responses(3)[-1])
    assert "`clicks` (web): json" in listed and "`orders` (sales)" in listed  # metadata: everyone reads
    env.slash("what sources are in sales?", user="U0WES")
    in_sales = said(env.responses(4)[-1])
    assert "`orders` (sales)" in in_sales and "clicks" not in in_sales
    env.slash("list sources", user="U0ANA")  # a global binding sees every group
    everything = said(env.responses(5)[-1])
    assert "`orders` (sales)" in everything and "`clicks` (web)" in everything
