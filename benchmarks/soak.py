"""Soak: the demo stack under a steady mix of API and signed Slack commands for a bounded time.

Runs, on this machine only (127.0.0.1):
- an embedded Postgres (temporary state folder), the demo's retail metadata and sample data,
  with the group scheduled every 10 seconds;
- the local workspace (`lakeforge workspace serve`) firing that schedule and running batches;
- the API (`lakeforge up`) in its own process, whose memory is measured;
- a local Slack Web API stand-in the bot answers through;
- client threads sending commands at a steady rate: dry-run registrations, source updates,
  rule add/remove (with confirmation), run listings through the API, and signed `/lakeforge`
  slash commands.

It prints commands sent/applied/failed, lost commands (sent and acknowledged but missing from
the audit log), batches started/succeeded/failed, p99 latency per minute, and the API
process's memory at start and end. Exit code 0 only if nothing was lost, no batch failed and
memory grew less than 10 %.

    uv run python benchmarks/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support import free_port, percentile  # noqa: E402
from tests.chat.slack_standin import SlackStandin  # noqa: E402 - the same stand-in the tests use

SIGNING_SECRET = "soak-signing-secret"
SLACK_USER = "U0SOAK"
EVERY_10_SECONDS = "0/10 * * * * ?"


@dataclass
class Tally:
    sent: int = 0
    applied: int = 0
    answered: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    audited_keys: list[str] = field(default_factory=list)
    latencies: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, minute: int, seconds: float, ok: bool, applied: bool, note: str = "") -> None:
        with self.lock:
            self.sent += 1
            self.latencies[minute].append(seconds)
            if ok:
                self.answered += 1
                self.applied += int(applied)
            else:
                self.failed += 1
                if len(self.failures) < 10:
                    self.failures.append(note)


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    processes = [process, *process.children(recursive=True)]
    return sum(p.memory_info().rss for p in processes if p.is_running()) / 2**20


def prepare(env: dict[str, str]) -> tuple[str, str]:
    """Metadata store, sample data, demo metadata scheduled every 10 s, Slack user; returns tokens."""
    from api.cli import prepare_metadata
    from lakeforge.commands.access import Principal, create_token, ensure_user, grant
    from lakeforge.commands.declarative import apply_document, parse_document
    from lakeforge.commands.envelope import Actor
    from lakeforge.demo.runner import demo_document, land_next_increment
    from lakeforge.metadata.db import open_database
    from lakeforge.settings import load_settings

    settings = load_settings(state_dir=Path(env["LAKEFORGE_STATE_DIR"]))
    prepare_metadata(settings)
    land_next_increment(settings)
    document = demo_document(settings)
    document["groups"][0]["schedule"] = {"quartz_cron": EVERY_10_SECONDS, "timezone": "UTC"}
    with open_database(settings) as db:
        report = apply_document(
            db, parse_document(document), Actor(user="admin", surface="cli"), Principal.local_admin()
        )
        assert report.ok, [s.message for s in report.steps]
        token = create_token(db, "soak", "admin")
        with db.connection() as conn:
            ensure_user(conn, "soak_slack", slack_user_id=SLACK_USER)
            grant(conn, "soak_slack", "editor")
    return token, settings.database_url or ""


def sync(env: dict[str, str], workspace_url: str) -> None:
    from lakeforge.metadata.db import open_database
    from lakeforge.orchestration import reconciler
    from lakeforge.orchestration.client import workspace_client
    from lakeforge.settings import load_settings

    settings = load_settings(state_dir=Path(env["LAKEFORGE_STATE_DIR"]))
    with open_database(settings) as db:
        result = reconciler.apply(
            db, workspace_client(settings, host=workspace_url), settings=settings, upload=True
        )
    assert result.ok, result.errors


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Clients:
    """Steady command traffic; every mutating API command carries an idempotency key."""

    def __init__(self, api: str, token: str, tally: Tally, started: float, response_url: str) -> None:
        self.api = api
        self.response_url = response_url
        self.slack_sent = 0
        self.tally = tally
        self.started = started
        self.http = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.n = 0
        self.lock = threading.Lock()

    def _minute(self) -> int:
        return int((time.monotonic() - self.started) // 60)

    def command(self, intent: dict[str, Any], **extra: Any) -> dict[str, Any] | None:
        key = f"soak-{uuid.uuid4().hex}"
        began = time.perf_counter()
        try:
            response = self.http.post(
                "/api/v1/commands", json={"intent": intent, "idempotency_key": key, **extra}
            )
            body = response.json()
            ok = response.status_code < 500 and body.get("status") in (
                "applied",
                "planned",
                "needs_confirmation",
            )
            note = f"{intent['kind']}: {response.status_code} {body.get('message') or body.get('detail')}"
        except (httpx.HTTPError, ValueError) as error:
            ok, body, note = False, {}, f"{intent['kind']}: {error!r}"
        self.tally.record(
            self._minute(), time.perf_counter() - began, ok, body.get("status") == "applied", note
        )
        if ok:
            with self.tally.lock:
                self.tally.audited_keys.append(key)
        return body if ok else None

    def api_round(self, source: str) -> None:
        """One round of commands on ``source``; each client thread has its own, so no two rounds
        race for the same revision (that conflict is answered 409 on purpose, and tested elsewhere)."""
        with self.lock:
            self.n += 1
            n = self.n
        self.command(
            {
                "kind": "register_source",
                "name": f"soak_{n}",
                "group": "retail",
                "format": "csv",
                "location": f"/Volumes/main/landing/soak_{n}/",
            },
            dry_run=True,
        )
        self.command({"kind": "update_source", "name": source, "description": f"soak round {n}"})
        rule = f"soak_rule_{n}"
        self.command({"kind": "add_dq_rule", "source": source, "name": rule, "expression": "1 = 1"})
        removal = {"kind": "remove_dq_rule", "source": source, "name": rule}
        planned = self.command(removal)
        if planned and planned.get("confirm_token"):
            self.command(removal, confirm_token=planned["confirm_token"])
        self.command({"kind": "list_runs", "group": "retail", "limit": 5})

    def slack_round(self) -> None:
        for text in ("status retail", "runs retail", "help"):
            body = urllib.parse.urlencode(
                {
                    "token": "x",
                    "team_id": "T0SOAK",
                    "channel_id": "C0SOAK",
                    "user_id": SLACK_USER,
                    "user_name": "soak",
                    "command": "/lakeforge",
                    "text": text,
                    "response_url": self.response_url,
                    "trigger_id": uuid.uuid4().hex,
                }
            )
            stamp = str(int(time.time()))
            headers = {
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(
                    timestamp=stamp, body=body
                ),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            began = time.perf_counter()
            try:
                response = self.http.post("/slack/events", content=body, headers=headers)
                ok, note = response.status_code == 200, f"slack {text}: {response.status_code}"
                with self.lock:
                    self.slack_sent += int(ok)
            except httpx.HTTPError as error:
                ok, note = False, f"slack {text}: {error!r}"
            self.tally.record(self._minute(), time.perf_counter() - began, ok, False, note)


def run(minutes: float, rate: float) -> int:
    tally = Tally()
    state = Path(tempfile.mkdtemp(prefix="lakeforge-soak-"))
    api_port, workspace_port = free_port(), free_port()
    slack = SlackStandin().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEFORGE_", "DATABRICKS_"))}
    env.update(
        {
            "LAKEFORGE_STATE_DIR": str(state),
            "LAKEFORGE_API_PORT": str(api_port),
            "LAKEFORGE_WORKSPACE_PORT": str(workspace_port),
            "LAKEFORGE_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "LAKEFORGE_SLACK_BOT_TOKEN": "xoxb-soak",
            "LAKEFORGE_SLACK_API_URL": slack.api_url,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("LAKEFORGE_")})
    processes: list[subprocess.Popen[bytes]] = []
    lakeforge = [sys.executable, "-m", "lakeforge"]
    try:
        token, _ = prepare(env)
        workspace = subprocess.Popen(
            [*lakeforge, "workspace", "serve", "--port", str(workspace_port)], env=env
        )
        processes.append(workspace)
        wait_for(f"http://127.0.0.1:{workspace_port}/.well-known/databricks-config")
        sync(env, f"http://127.0.0.1:{workspace_port}")
        api = subprocess.Popen([*lakeforge, "up", "--port", str(api_port), "--no-workspace"], env=env)
        processes.append(api)
        wait_for(f"http://127.0.0.1:{api_port}/api/v1/health")

        started = time.monotonic()
        clients = Clients(f"http://127.0.0.1:{api_port}", token, tally, started, f"{slack.url}/response/soak")
        clients.api_round("orders")  # warm-up, then measure memory from here
        memory_start = rss_mb(api.pid)
        deadline = started + minutes * 60
        stop = threading.Event()

        def steady(round_: Any, period: float) -> None:
            while not stop.is_set() and time.monotonic() < deadline:
                began = time.monotonic()
                round_()
                stop.wait(max(0.0, period - (time.monotonic() - began)))

        threads = [
            threading.Thread(target=steady, args=(lambda s=source: clients.api_round(s), 1 / rate))
            for source in ("orders", "customers")
        ]
        threads.append(threading.Thread(target=steady, args=(clients.slack_round, 2 / rate)))
        for thread in threads:
            thread.start()
        minute = 0
        while time.monotonic() < deadline:
            time.sleep(min(60, max(0.1, deadline - time.monotonic())))
            with tally.lock:
                window = list(tally.latencies.get(minute, []))
            print(
                f"minute {minute + 1}: {len(window)} commands, p99 {percentile(window, 0.99) * 1000:.0f} ms, "
                f"API memory {rss_mb(api.pid):.0f} MB",
                flush=True,
            )
            minute += 1
        stop.set()
        for thread in threads:
            thread.join(60)
        memory_end = rss_mb(api.pid)
        time.sleep(12)  # let the last scheduled batch finish and the last replies arrive
        answered_in_slack = len([c for c in slack.calls if c.method.startswith("response/")])
        return report(env, tally, memory_start, memory_end, clients.slack_sent - answered_in_slack)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
        slack.stop()
        from lakeforge.metadata.embedded import EmbeddedPostgres

        EmbeddedPostgres(state).destroy()
        shutil.rmtree(state, ignore_errors=True)


def report(env: dict[str, str], tally: Tally, memory_start: float, memory_end: float, slack_lost: int) -> int:
    from lakeforge.metadata.db import open_database
    from lakeforge.settings import load_settings

    settings = load_settings(state_dir=Path(env["LAKEFORGE_STATE_DIR"]))
    with open_database(settings) as db, db.connection() as conn:
        audited = conn.execute(
            "SELECT count(*) AS n FROM lakeforge.command_audit WHERE idempotency_key = ANY(%s)",
            [tally.audited_keys],
        ).fetchone()["n"]
        batches = {
            row["status"]: row["n"]
            for row in conn.execute(
                "SELECT status, count(*) AS n FROM lakeforge_log.batch_run "
                "WHERE group_name = 'retail' GROUP BY status"
            )
        }
    # Lost: acknowledged but never recorded (API) or never answered in the channel (Slack).
    lost = len(tally.audited_keys) - audited + max(0, slack_lost)
    failed_batches = batches.get("failed", 0)
    growth = (memory_end - memory_start) / memory_start * 100
    all_latencies = [s for window in tally.latencies.values() for s in window]
    print(
        json.dumps(
            {
                "commands": {
                    "sent": tally.sent,
                    "answered": tally.answered,
                    "applied": tally.applied,
                    "failed": tally.failed,
                    "lost": lost,
                },
                "batches": {"started": sum(batches.values()), **batches},
                "latency_ms": {
                    "p50": round(percentile(all_latencies, 0.5) * 1000, 1),
                    "p99": round(percentile(all_latencies, 0.99) * 1000, 1),
                },
                "api_memory_mb": {
                    "start": round(memory_start, 1),
                    "end": round(memory_end, 1),
                    "growth_percent": round(growth, 1),
                },
                "first_failures": tally.failures,
            },
            indent=2,
        )
    )
    ok = lost == 0 and tally.failed == 0 and failed_batches == 0 and growth < 10
    print(
        "soak:",
        "PASS" if ok else "FAIL",
        "(goals: 0 lost, 0 failed commands, 0 failed batches, memory < +10 %)",
    )
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1.0, help="API command rounds per second per client")
    args = parser.parse_args()
    sys.exit(run(args.minutes, args.rate))


if __name__ == "__main__":
    main()
