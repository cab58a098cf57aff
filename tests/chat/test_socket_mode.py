"""Socket Mode: the same bolt app, over a real WebSocket, for workspaces without a public URL."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from websockets.sync.server import ServerConnection, serve

from bot.cli import socket_mode_handler
from lakeforge.settings import load_settings
from tests.chat.conftest import Env


class SocketStandin:
    """Plays Slack's Socket Mode endpoint: says hello, sends envelopes, records what comes back."""

    def __init__(self, envelopes: list[dict[str, Any]]) -> None:
        self.envelopes = envelopes
        self.received: list[dict[str, Any]] = []
        self.server = serve(self._session, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link"

    def _session(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}))
        for envelope in self.envelopes:
            ws.send(json.dumps(envelope))
        try:
            for message in ws:
                self.received.append(json.loads(message))
        except Exception:  # the client went away
            return

    def __enter__(self) -> SocketStandin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def test_a_slash_command_over_socket_mode_is_acked_and_answered(env: Env) -> None:
    payload = {
        "token": "legacy",
        "team_id": "T1",
        "channel_id": "C0SALES1",
        "user_id": "U0ANA",
        "command": "/lakeforge",
        "text": "pause sales",
        "api_app_id": "A1",
        "trigger_id": "trigger.socket.1",
        "response_url": env.slack.url + "/response/socket",
    }
    envelope = {
        "envelope_id": "env-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": payload,
    }
    settings = load_settings(
        **{
            **env.settings.model_dump(exclude_none=True),
            "slack_app_token": "xapp-test",
            "slack_signing_secret": "s",
            "slack_bot_token": "xoxb-test",
        }
    )
    with SocketStandin([envelope]) as socket_slack:
        env.slack.socket_url = socket_slack.url
        handler = socket_mode_handler(settings, env.db)
        handler.connect()
        try:
            deadline = time.monotonic() + 30
            while not socket_slack.received and time.monotonic() < deadline:
                time.sleep(0.02)
            ack = socket_slack.received[0]
            assert ack["envelope_id"] == "env-1"
            assert "pause_schedule" in json.dumps(ack.get("payload"))
            plan = env.responses(1)[0]
            assert plan["blocks"][0]["text"]["text"] == "Plan: pause schedule"
        finally:
            handler.close()
