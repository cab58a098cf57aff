"""Run alerts from real batches: the data plane's runner (embedded engine) → NOTIFY → Slack stand-in."""

from __future__ import annotations

import time
from pathlib import Path

from slack_sdk import WebClient

from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.notify import Notifier
from lakeforge.runtime.runner import run_batch
from tests.chat.conftest import Env


def _apply(env: Env, intent: dict) -> None:
    actor, boss = Actor(user="admin", surface="cli"), Principal.local_admin("admin")
    result = execute(env.db, intent, actor, principal=boss)
    if result.status == "needs_confirmation":
        result = execute(env.db, intent, actor, principal=boss, confirm_token=result.confirm_token)
    assert result.status == "applied", result


def _broadcasts(env: Env) -> list[dict]:
    return [p for p in env.slack.named("chat.postMessage") if p.get("reply_broadcast")]


def _wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_failing_then_fixed_source_alerts_failure_then_recovery(env: Env, tmp_path: Path) -> None:
    _apply(env, {"kind": "subscribe_channel", "group": "sales", "slack_channel_id": "C0ALERTS1"})
    client = WebClient(token="xoxb-test", base_url=env.slack.api_url)
    notifier = Notifier(env.settings, env.db, client, poll_seconds=0.2, retry_base_seconds=0.2).start()
    try:
        failed = run_batch(
            env.settings, env.db, "sales", zones=["raw", "bronze"]
        )  # the seeded path does not exist
        assert failed.status == "failed"
        _wait(lambda: len(_broadcasts(env)) == 1)
        alert = _broadcasts(env)[0]
        assert f"#{failed.batch_id}" in alert["text"] and "this is new" in alert["text"]

        landing = tmp_path / "landing" / "orders"
        landing.mkdir(parents=True)
        (landing / "orders.csv").write_text("id,amount\n1,10.5\n2,3.0\n")
        _apply(env, {"kind": "update_source", "name": "orders", "location": str(landing)})
        ok = run_batch(env.settings, env.db, "sales", zones=["raw", "bronze"])
        assert ok.status == "succeeded", ok.error
        _wait(lambda: len(_broadcasts(env)) == 2)
        assert "recovered" in _broadcasts(env)[1]["text"]
        parents = [p for p in env.slack.named("chat.postMessage") if "thread_ts" not in p]
        assert len(parents) == 2  # one per batch
        _wait(
            lambda: any(
                f"#{ok.batch_id}" in u["text"] and "succeeded" in u["text"]
                for u in env.slack.named("chat.update")
            )
        )
    finally:
        notifier.stop()
