"""Helpers for the chat tests: a live uvicorn server, signed Slack requests, seeded metadata."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from slack_sdk.signature import SignatureVerifier

from lakeforge.commands.access import Principal, ensure_user, grant
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata.db import Database

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """uvicorn serving an ASGI app on a free port in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def signed_headers(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


_counter = iter(range(1, 1_000_000))


def slash_body(text: str, *, user: str, response_url: str, channel: str = "C0SALES1") -> str:
    n = next(_counter)
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "sales-data",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/lakeforge",
            "text": text,
            "api_app_id": "A1",
            "response_url": f"{response_url}/response/{n}",
            "trigger_id": f"trigger.{n}.{time.monotonic_ns()}",
        }
    )


def action_body(
    action_id: str, value: str, *, user: str, response_url: str, channel: str = "C0SALES1"
) -> str:
    n = next(_counter)
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": f"trigger.a{n}.{time.monotonic_ns()}",
        "channel": {"id": channel},
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": channel},
        "response_url": f"{response_url}/response/a{n}",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def view_body(view: dict[str, Any], values: dict[str, str], *, user: str) -> str:
    state = {"values": {}}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue  # the question above the fields
        element = block["element"]
        value = values.get(block["block_id"])
        if element["type"] == "static_select":
            state["values"][block["block_id"]] = {
                "value": {"type": "static_select", "selected_option": {"value": value} if value else None}
            }
        else:
            state["values"][block["block_id"]] = {"value": {"type": "plain_text_input", "value": value}}
    payload = {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": f"trigger.v{next(_counter)}",
        "view": {**view, "id": "V1", "state": state},
    }
    return urlencode({"payload": json.dumps(payload)})


def post(client: httpx.Client, url: str, body: str, **header_overrides: str) -> httpx.Response:
    headers = signed_headers(body)
    headers.update(header_overrides)
    return client.post(url + "/slack/events", content=body, headers=headers)


def seed(db: Database) -> None:
    """Group sales (daily at 2am) with source orders; ana is editor (mapped), vic is viewer (mapped)."""
    admin = Actor(user="admin", surface="cli")
    boss = Principal.local_admin("admin")
    for intent in (
        {"kind": "create_group", "name": "sales", "schedule": {"quartz_cron": "0 0 2 * * ?"}},
        {
            "kind": "register_source",
            "name": "orders",
            "group": "sales",
            "format": "csv",
            "location": "/Volumes/main/raw/orders",
        },
    ):
        result = execute(db, intent, admin, principal=boss)
        if result.status == "needs_confirmation":
            result = execute(db, intent, admin, principal=boss, confirm_token=result.confirm_token)
        assert result.status == "applied", result
    with db.connection() as conn:
        ensure_user(conn, "ana", slack_user_id="U0ANA")
        grant(conn, "ana", "editor")
        ensure_user(conn, "vic", slack_user_id="U0VIC")
        grant(conn, "vic", "viewer")


def said(payload: dict) -> str:
    """Every text of a reply: sections and context lines."""
    texts = []
    for block in payload.get("blocks", []):
        if isinstance(block.get("text"), dict):
            texts.append(block["text"]["text"])
        texts.extend(element.get("text", "") for element in block.get("elements", []))
    return "\n".join(texts)
