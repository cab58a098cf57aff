"""Run alerts over real HTTP: run-log writes + NOTIFY (the data plane's RunLog) → outbox → Slack stand-in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata.db import Database
from lakeforge.notify import Notifier
from lakeforge.notify.render import BatchView, parent
from lakeforge.runtime.runlog import RunLog, create_batch
from tests.chat.conftest import Env
from tests.chat.slack_standin import SlackStandin

ALERTS = "C0ALERTS1"


def _subscribe(db: Database, **target: str) -> None:
    actor, boss = Actor(user="admin", surface="cli"), Principal.local_admin("admin")
    result = execute(db, {"kind": "subscribe_channel", "group": "sales", **target}, actor, principal=boss)
    assert result.status == "applied", result


def run_batch_log(db: Database, zones: dict[str, str | None], *, failed_rule: bool = False) -> int:
    """Write a batch the way the data plane does: run-log rows, each change NOTIFYed."""
    with db.connection() as conn:
        batch_id = create_batch(conn, {"group_name": "sales", "trigger": "manual", "status": "queued"})
    log = RunLog(db, batch_id, "sales")
    log.batch_status("running", engine="embedded")
    for zone, error in zones.items():
        zone_id = log.zone_start(zone)
        log.zone_end(zone_id, zone, error=error)
        if error:
            break
    log.batch_end(error=next((e for e in zones.values() if e), None))
    return batch_id


@pytest.fixture
def notifier(env: Env) -> Iterator[Notifier]:
    client = WebClient(token="xoxb-test", base_url=env.slack.api_url)
    notifier = Notifier(env.settings, env.db, client, poll_seconds=0.2, retry_base_seconds=0.2).start()
    yield notifier
    notifier.stop()


def _thread(slack: SlackStandin, ts: str) -> list[dict]:
    return [p for p in slack.named("chat.postMessage") if p.get("thread_ts") == ts]


def _undelivered(db: Database) -> int:
    with db.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM alert_outbox WHERE delivered_at IS NULL").fetchone()[
            "n"
        ]


def _wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_a_batch_makes_one_parent_updates_a_thread_and_failures_broadcast_with_working_buttons(
    env: Env, notifier: Notifier
) -> None:
    _subscribe(env.db, slack_channel_id=ALERTS)
    ok = run_batch_log(env.db, {"raw": None, "bronze": None, "silver": None, "gold": None})
    _wait(
        lambda: any(
            "succeeded" in p["text"] and f"#{ok}" in p["text"] for p in env.slack.named("chat.update")
        )
    )
    parents = [p for p in env.slack.named("chat.postMessage") if "thread_ts" not in p]
    assert len(parents) == 1 and parents[0]["channel"] == ALERTS
    with env.db.connection() as conn:
        ts = conn.execute("SELECT ts FROM alert_thread WHERE batch_id = %s", (ok,)).fetchone()["ts"]
    _wait(lambda: len(_thread(env.slack, ts)) == 4)  # one reply per zone, in the parent's thread
    replies = _thread(env.slack, ts)
    assert [r["text"].split()[1] for r in replies] == ["raw:", "bronze:", "silver:", "gold:"]
    assert all(not r.get("reply_broadcast") for r in replies)
    assert all(u["ts"] == ts for u in env.slack.named("chat.update"))

    failed = run_batch_log(env.db, {"raw": None, "bronze": "cannot cast 'abc' to INT in column amount"})
    _wait(lambda: any(p.get("reply_broadcast") for p in env.slack.named("chat.postMessage")))
    alert = next(p for p in env.slack.named("chat.postMessage") if p.get("reply_broadcast"))
    assert f"#{failed}" in alert["text"] and "failed." in alert["text"] and "this is new" in alert["text"]
    assert "Failed in zone *bronze*" in alert["text"]
    buttons = {e["action_id"]: e for b in alert["blocks"] for e in b.get("elements", []) if "action_id" in e}
    assert set(buttons) >= {"lakeforge_alert_rerun", "lakeforge_alert_mute"}

    again = run_batch_log(env.db, {"raw": "source file missing"})
    _wait(lambda: sum(bool(p.get("reply_broadcast")) for p in env.slack.named("chat.postMessage")) == 2)
    repeat = [p for p in env.slack.named("chat.postMessage") if p.get("reply_broadcast")][1]
    assert (
        f"#{again}" in repeat["text"]
        and "failed again" in repeat["text"]
        and "2 failed batches in a row" in repeat["text"]
    )

    recovered = run_batch_log(env.db, {"raw": None, "bronze": None, "silver": None, "gold": None})
    _wait(lambda: sum(bool(p.get("reply_broadcast")) for p in env.slack.named("chat.postMessage")) == 3)
    recovery = [p for p in env.slack.named("chat.postMessage") if p.get("reply_broadcast")][2]
    assert (
        "recovered" in recovery["text"]
        and f"#{recovered}" in recovery["text"]
        and "2 failed batches" in recovery["text"]
    )

    # Rerun: a plan first, applied on Confirm, through the executor.
    env.click("lakeforge_alert_rerun", buttons["lakeforge_alert_rerun"]["value"])
    plan = env.responses(1)[0]
    confirm = next(
        e for b in plan["blocks"] for e in b.get("elements", []) if e.get("action_id") == "lakeforge_confirm"
    )
    env.click("lakeforge_confirm", confirm["value"])
    assert "queued again" in env.responses(2)[1]["text"]
    # Only the failed part: raw succeeded in that batch, so the rerun starts at bronze.
    with env.db.connection() as conn:
        proposed = conn.execute(
            "SELECT intent FROM slack_pending_command WHERE state = 'confirmed'"
        ).fetchone()["intent"]
    assert proposed == {"kind": "rerun_batch", "batch_id": failed, "zones": ["bronze"]}
    with env.db.connection() as conn:
        reruns = conn.execute(
            "SELECT batch_id FROM lakeforge_log.batch_run WHERE rerun_of = %s", (failed,)
        ).fetchall()
    assert len(reruns) == 1
    # The rerun was queued before the mute, so its own message is still due: wait for it.
    _wait(lambda: any(f"#{reruns[0]['batch_id']} " in p["text"] for p in env.slack.named("chat.postMessage")))

    # Mute 24 h: the next batch of sales says nothing in this channel.
    env.click("lakeforge_alert_mute", buttons["lakeforge_alert_mute"]["value"])
    assert "muted" in str(env.responses(3)[2]["blocks"])
    before = len(env.slack.calls)
    muted = run_batch_log(env.db, {"raw": "boom"})
    time.sleep(1.0)
    # Messages about the rerun queued before the mute may still arrive; the new batch says nothing.
    said = [c for c in env.slack.calls[before:] if c.method.startswith("chat.")]
    assert not [c for c in said if f"#{muted} " in str(c.payload.get("text", ""))]
    # Whatever arrived belongs to the rerun: its parent, an update of it or a reply in its thread.
    with env.db.connection() as conn:
        rerun_ts = conn.execute(
            "SELECT ts FROM alert_thread WHERE batch_id = %s", (reruns[0]["batch_id"],)
        ).fetchone()["ts"]
    assert all(
        f"#{reruns[0]['batch_id']} " in str(c.payload.get("text", ""))
        or rerun_ts in (c.payload.get("thread_ts"), c.payload.get("ts"))
        for c in said
    ), [(c.method, c.payload.get("text")) for c in said]


def test_slack_429_burst_is_honoured_and_nothing_is_lost(env: Env, notifier: Notifier) -> None:
    _subscribe(env.db, slack_channel_id=ALERTS)
    env.slack.burst(3, retry_after=1)
    started = time.monotonic()
    batch = run_batch_log(env.db, {"raw": None, "bronze": "bad rows"})
    _wait(lambda: any(p.get("reply_broadcast") for p in env.slack.named("chat.postMessage")), timeout=20)
    assert len(env.slack.rejected) == 3
    first_ok = min(c.at for c in env.slack.calls if c.method == "chat.postMessage")
    assert first_ok - min(c.at for c in env.slack.rejected) >= 0.9  # waited for Retry-After
    assert len([p for p in env.slack.named("chat.postMessage") if "thread_ts" not in p]) == 1
    _wait(lambda: _undelivered(env.db) == 0)
    print(f"\nbatch {batch}: all alerts delivered {time.monotonic() - started:.1f} s after a 3 x 429 burst")


def test_alerts_wait_in_the_outbox_while_slack_is_down(env: Env, notifier: Notifier) -> None:
    _subscribe(env.db, slack_channel_id=ALERTS)
    env.slack.down(True)
    run_batch_log(env.db, {"raw": None, "bronze": None, "silver": None, "gold": "division by zero"})
    _wait(lambda: len(env.slack.rejected) >= 2)
    # Everything the batch calls for is queued (parent, 4 zone replies, failure) and stays there.
    _wait(lambda: _undelivered(env.db) >= 6)
    time.sleep(0.5)
    assert _undelivered(env.db) >= 6 and env.slack.calls == []
    env.slack.down(False)
    _wait(lambda: any(p.get("reply_broadcast") for p in env.slack.named("chat.postMessage")), timeout=30)
    _wait(lambda: _undelivered(env.db) == 0)


def test_webhook_channels_get_one_post_per_finished_batch(env: Env, notifier: Notifier, monkeypatch) -> None:
    monkeypatch.setenv("LF_SECRET_ALERTS__SALES_HOOK", env.slack.url + "/hooks/sales")
    _subscribe(env.db, webhook_url="{{secrets/alerts/sales_hook}}")
    env.slack.lose_replies(1)  # the receiver handles the first POST, but its reply is lost
    batch = run_batch_log(env.db, {"raw": None, "bronze": "schema mismatch"})
    hooks = env.slack.wait_for("hooks/sales", count=2)
    time.sleep(0.5)
    tries = [c for c in env.slack.calls if c.method == "hooks/sales"]
    assert len(tries) == 2 and hooks[0] == hooks[1]  # a retry, with one key to drop it by
    keys = {c.headers.get("Idempotency-Key") for c in tries}
    assert len(keys) == 1 and next(iter(keys)).startswith("lakeforge-alert-")
    assert hooks[0]["batch_id"] == batch and hooks[0]["status"] == "failed" and "failed" in hooks[0]["text"]
    with env.db.connection() as conn:
        errors = conn.execute("SELECT last_error FROM alert_outbox WHERE last_error IS NOT NULL").fetchall()
    assert all("hooks" not in (e["last_error"] or "") for e in errors)  # the URL is a secret


def test_a_failure_says_where_it_failed_and_what_to_do_and_never_shows_a_credential(
    env: Env, notifier: Notifier
) -> None:
    _subscribe(env.db, slack_channel_id=ALERTS)
    # Drivers echo the connection string they were given, secret resolved: it must not reach Slack.
    leaked = (
        "could not connect to postgresql://etl:Hunter2@erp-db:5432/erp"
        " (token dapi0123456789abcdef0123456789abcdef)"
    )
    with env.db.connection() as conn:
        batch_id = create_batch(conn, {"group_name": "sales", "trigger": "manual", "status": "queued"})
    log = RunLog(env.db, batch_id, "sales")
    log.batch_status("running", engine="embedded")
    for zone in ("raw", "bronze"):
        log.zone_end(log.zone_start(zone), zone)
    silver = log.zone_start("silver")
    table = log.table_start(silver, "silver", "main.sales.orders", "orders")
    log.dq(table, "main.sales.orders", None, "amount_positive", "amount > 0", "fail", 10, 3)
    log.dq(table, "main.sales.orders", None, "has_email", "email IS NOT NULL", "warn", 10, 1)
    log.table_end(table, "silver", "main.sales.orders", "orders", "failed", error=leaked)
    log.zone_end(silver, "silver", error=leaked)
    log.batch_end(error=leaked)

    _wait(lambda: any(p.get("reply_broadcast") for p in env.slack.named("chat.postMessage")))
    _wait(lambda: _undelivered(env.db) == 0)
    alert = next(p for p in env.slack.named("chat.postMessage") if p.get("reply_broadcast"))
    text = alert["text"]
    assert "Failed in zone *silver*" in text and "table `main.sales.orders`: failed (the error above)" in text
    assert text.count("could not connect") == 1  # the batch's error is the table's: said once
    assert "rule `amount_positive` on `main.sales.orders`: 3 of 10 rows failed (fail)" in text
    assert "*What to do:*" in text and "/lakeforge set rule amount_positive on orders to warn" in text
    assert f"/lakeforge rerun {batch_id}" in text
    everything = json.dumps([c.payload for c in env.slack.calls])
    assert "Hunter2" not in everything and "dapi0123456789abcdef" not in everything
    assert "postgresql://etl:***redacted***@erp-db" in everything  # still says which host failed


def test_a_new_channel_hears_of_batches_from_its_subscription_on_and_a_restart_repeats_nothing(
    env: Env,
) -> None:
    client = WebClient(token="xoxb-test", base_url=env.slack.api_url)

    def start() -> Notifier:
        return Notifier(env.settings, env.db, client, poll_seconds=0.2, retry_base_seconds=0.2).start()

    def said_in(channel: str) -> list[str]:
        return [p["text"] for p in env.slack.named("chat.postMessage") if p["channel"] == channel]

    _subscribe(env.db, slack_channel_id=ALERTS)
    old = run_batch_log(env.db, {"raw": "source file missing"})  # while no notifier ran
    notifier = start()  # catches up: the subscribed channel hears of the batch it missed
    _wait(lambda: any(f"#{old}" in t and "failed." in t for t in said_in(ALERTS)))
    _wait(lambda: _undelivered(env.db) == 0)
    notifier.stop()

    calls_before_restart = len(env.slack.calls)
    start().stop()  # a restart (or a LISTEN reconnect) catches up again: nothing new to say
    assert len(env.slack.calls) == calls_before_restart

    _subscribe(env.db, slack_channel_id="C0NEWTEAM")
    new = run_batch_log(env.db, {"raw": None, "bronze": "bad rows"})
    notifier = start()
    try:
        _wait(lambda: any(f"#{new}" in t and "failed again" in t for t in said_in("C0NEWTEAM")))
        _wait(lambda: _undelivered(env.db) == 0)
    finally:
        notifier.stop()
    # The batch from before the move is not replayed into the new channel, and not repeated.
    assert not [t for t in said_in("C0NEWTEAM") if f"#{old}" in t]
    assert len([t for t in said_in(ALERTS) if f"#{old}" in t and "failed." in t]) == 1


def test_a_channel_slack_refuses_for_days_says_why_and_never_stops_delivery(env: Env) -> None:
    _subscribe(env.db, slack_channel_id=ALERTS)
    env.slack.refuse(ALERTS, "not_in_channel")  # a private channel the app was never invited to
    client = WebClient(token="xoxb-test", base_url=env.slack.api_url)
    notifier = Notifier(
        env.settings, env.db, client, retry_base_seconds=0.2
    )  # no threads: one step at a time
    batch = run_batch_log(env.db, {"raw": "source file missing"})
    assert notifier.handle({"batch_id": batch}) > 0
    assert notifier.deliverer.run_once() == 0
    with env.db.connection() as conn:
        errors = {
            r["last_error"] for r in conn.execute("SELECT last_error FROM alert_outbox WHERE attempts > 0")
        }
        assert errors == {
            "Slack: not_in_channel (invite the LakeForge app to the channel: /invite @lakeforge)"
        }
        # Days of refusals later, the back-off stays at its ceiling instead of overflowing.
        conn.execute("UPDATE alert_outbox SET attempts = 5000, next_attempt_at = now()")
    assert notifier.deliverer.run_once() == 0
    with env.db.connection() as conn:
        wait = conn.execute(
            "SELECT extract(epoch FROM next_attempt_at - now()) AS s FROM alert_outbox WHERE attempts > 5000"
        ).fetchone()["s"]
    assert 200 < wait <= 300

    env.slack.refuse(ALERTS, None)  # invited: everything waiting goes out, in order
    with env.db.connection() as conn:
        conn.execute("UPDATE alert_outbox SET next_attempt_at = now()")
    assert notifier.deliverer.run_once() >= 3
    assert _undelivered(env.db) == 0
    assert [p for p in env.slack.named("chat.postMessage") if p.get("reply_broadcast")]


def test_batches_kept_quiet_by_a_mute_are_not_posted_once_it_ends(env: Env) -> None:
    _subscribe(env.db, slack_channel_id=ALERTS)
    with env.db.connection() as conn:
        channel_id = conn.execute(
            "SELECT id FROM notification_channel WHERE slack_channel_id = %s", (ALERTS,)
        ).fetchone()["id"]
    env.click("lakeforge_alert_mute", f"sales|{channel_id}")
    assert "muted" in str(env.responses(1)[0]["blocks"])
    quiet = run_batch_log(env.db, {"raw": "source file missing"})  # during the mute
    with env.db.connection() as conn:  # the 24 hours end now
        conn.execute("UPDATE alert_mute SET muted_until = now()")
    heard = run_batch_log(env.db, {"raw": "source file missing"})

    client = WebClient(token="xoxb-test", base_url=env.slack.api_url)
    notifier = Notifier(env.settings, env.db, client, poll_seconds=0.2, retry_base_seconds=0.2).start()
    try:  # starting catches up on both batches
        _wait(lambda: any(f"#{heard}" in p["text"] for p in env.slack.named("chat.postMessage")))
        _wait(lambda: _undelivered(env.db) == 0)
    finally:
        notifier.stop()
    assert not [c for c in env.slack.calls if f"#{quiet}" in str(c.payload.get("text", ""))]


def test_a_post_whose_reply_was_lost_is_found_again_not_posted_twice(env: Env, notifier: Notifier) -> None:
    _subscribe(env.db, slack_channel_id=ALERTS)
    env.slack.lose_replies(1)  # Slack posts the parent, but the bot sees a 503
    batch = run_batch_log(env.db, {"raw": None, "bronze": "bad rows"})
    _wait(lambda: any(p.get("reply_broadcast") for p in env.slack.named("chat.postMessage")))
    _wait(lambda: _undelivered(env.db) == 0)
    parents = [
        c for c in env.slack.calls if c.method == "chat.postMessage" and not c.payload.get("thread_ts")
    ]
    assert len(parents) == 1 and f"#{batch}" in parents[0].payload["text"]
    replies = [p for p in env.slack.named("chat.postMessage") if p.get("thread_ts")]
    assert replies and {r["thread_ts"] for r in replies} == {parents[0].ts}
    assert {u["ts"] for u in env.slack.named("chat.update")} <= {parents[0].ts}


def test_rerun_from_an_alert_never_extracts_again_what_raw_already_landed(env: Env) -> None:
    from bot.service import ChatService

    service = ChatService(lambda: env.db, env.settings)
    gold = run_batch_log(env.db, {"raw": None, "bronze": None, "silver": None, "gold": "division by zero"})
    raw = run_batch_log(env.db, {"raw": "source file missing"})
    assert service.rerun_intent(gold) == {
        "kind": "rerun_batch",
        "batch_id": gold,
        "zones": ["bronze", "silver", "gold"],  # from Bronze: the pipeline follows it in the job
    }
    again = service.rerun_intent(raw)  # Raw itself failed: it runs again, with what followed it
    assert again["batch_id"] == raw and (again.get("zones") or ["raw"])[0] == "raw"


def test_a_batch_left_running_by_a_dead_process_is_announced_as_failed_when_the_bot_starts(
    env: Env,
) -> None:
    _subscribe(env.db, slack_channel_id=ALERTS)
    with env.db.connection() as conn:  # what a killed process leaves: running, and nobody holds it
        orphan = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, trigger, status, started_at)"
            " VALUES ('sales', 'manual', 'running', now()) RETURNING batch_id"
        ).fetchone()["batch_id"]
    client = WebClient(token="xoxb-test", base_url=env.slack.api_url)
    notifier = Notifier(env.settings, env.db, client, poll_seconds=0.2, retry_base_seconds=0.2).start()
    try:
        _wait(lambda: any(p.get("reply_broadcast") for p in env.slack.named("chat.postMessage")))
    finally:
        notifier.stop()
    alert = next(p for p in env.slack.named("chat.postMessage") if p.get("reply_broadcast"))
    assert f"#{orphan}" in alert["text"] and "stopped before it finished" in alert["text"]


def test_a_cancelled_batch_says_who_cancelled_it_in_its_channel(env: Env, notifier: Notifier) -> None:
    _subscribe(env.db, slack_channel_id=ALERTS)
    with env.db.connection() as conn:  # queued: cancel_run ends it at once
        batch = create_batch(conn, {"group_name": "sales", "trigger": "manual", "status": "queued"})
    ana = Principal(user="ana", bindings=(("operator", "sales"),))
    answer = execute(
        env.db, {"kind": "cancel_run", "batch_id": batch}, Actor(user="ana", surface="slack"), principal=ana
    )
    assert answer.status == "applied", answer.errors

    _wait(
        lambda: any("was cancelled by ana" in p.get("text", "") for p in env.slack.named("chat.postMessage"))
    )
    parent = next(p for p in env.slack.named("chat.postMessage") if not p.get("thread_ts"))
    assert f"#{batch}" in parent["text"] and parent["text"].endswith("cancelled by ana")
    reply = next(
        p for p in env.slack.named("chat.postMessage") if "was cancelled by ana" in p.get("text", "")
    )
    assert reply["thread_ts"] and f"/lakeforge rerun {batch}" in reply["text"]
    assert not reply.get("reply_broadcast")  # a cancel is someone's decision, not an incident


def test_a_batch_that_read_no_bronze_says_its_rows_out_only() -> None:
    """A batch of Silver or Gold alone has rows out and none in: no "? rows in" in chat."""
    view = BatchView(batch_id=7, group="sales", status="succeeded", rows_in=None, rows_out=12)
    _, blocks = parent(view, None)
    context = blocks[2]["elements"][0]["text"]

    assert context.endswith("(12 rows out)") and "?" not in context
    both = BatchView(batch_id=8, group="sales", status="succeeded", rows_in=20, rows_out=18)
    assert parent(both, None)[1][2]["elements"][0]["text"].endswith("(20 rows in, 18 out)")
