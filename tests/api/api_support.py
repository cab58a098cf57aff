"""Helpers for the API tests: a live server in a thread, tokens per role, snapshots, problem checks."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings

ROLES = ("viewer", "operator", "editor", "admin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """uvicorn serving ``app`` in a background thread until ``stop()``."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name=f"api-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Api:
    """A running API plus one token per role (users viewer_user, operator_user, ...)."""

    url: str
    db: Database
    tokens: dict[str, str]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, role: str | None = "admin") -> httpx.Client:
        key = role or "anonymous"
        if key not in self.clients:
            headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
            self.clients[key] = httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=120)
        return self.clients[key]

    def command(self, intent: dict[str, Any], role: str = "admin", **options: Any) -> httpx.Response:
        return self.client(role).post("/commands", json={"intent": intent, **options})

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@contextmanager
def launch(settings: Settings, db: Database, tokens: dict[str, str] | None = None) -> Iterator[Api]:
    """Serve ``create_app(settings, db)`` until the block ends; one token per role unless given."""
    from lakeforge.commands.access import create_token

    if tokens is None:
        tokens = {role: create_token(db, f"{role}_user", role) for role in ROLES}
    server = LiveServer(create_app(settings, db)).start()
    live = Api(url=server.url, db=db, tokens=tokens)
    try:
        yield live
    finally:
        live.close()
        server.stop()


# Tables whose contents say "what LakeForge is configured to do"; the audit trail is left out
# because rejected commands are audited on purpose.
CONFIG_TABLES = (
    "source_system",
    "source_group",
    "schedule",
    "source",
    "raw_config",
    "bronze_config",
    "silver_config",
    "gold_config",
    "dq_rule",
    "compute_profile",
    "notification_channel",
    "watermark_state",
    "managed_resource",
    "metadata_revision",
    "app_user",
    "role_binding",
)


def snapshot(db: Database) -> dict[str, list[str]]:
    """Every config row as sorted JSON text, to assert that a refused command changed nothing."""
    state: dict[str, list[str]] = {}
    with db.connection() as conn:
        for table in CONFIG_TABLES:
            rows = conn.execute(f"SELECT to_jsonb(t) AS row FROM lakeforge.{table} t").fetchall()
            state[table] = sorted(json.dumps(row["row"], sort_keys=True) for row in rows)
        runs = conn.execute("SELECT count(*) AS n FROM lakeforge_log.batch_run").fetchone()
        state["batch_run"] = [str(runs["n"] if runs else 0)]
    return state


def assert_problem(response: httpx.Response, status: int | tuple[int, ...], field: str | None = None) -> dict:
    """A problem+json answer with this status, naming ``field`` (a prefix match) in ``errors``."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == response.status_code
    assert body["title"] and body["type"] and body["detail"]
    if field is not None:
        fields = [error["field"] for error in body["errors"]]
        assert any(
            name == field or name.startswith(field + ".") or name.startswith(field + "[") for name in fields
        ), (field, body)
    return body


GROUP = {
    "kind": "create_group",
    "name": "retail",
    "schedule": {"quartz_cron": "0 0 2 * * ?", "timezone": "Europe/Paris"},
}
SOURCE = {
    "kind": "register_source",
    "name": "orders",
    "group": "retail",
    "format": "csv",
    "location": "/Volumes/main/landing/retail/orders/",
    "format_options": {"header": True},
    "silver": {"primary_keys": ["order_id"]},
    "dq_rules": [{"name": "amount_positive", "expression": "amount > 0", "action": "drop"}],
}


def seed(api: Api) -> None:
    for intent in (GROUP, SOURCE):
        response = api.command(intent)
        assert response.status_code == 200 and response.json()["status"] == "applied", response.text
