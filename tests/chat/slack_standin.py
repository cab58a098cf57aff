"""A local stand-in of the Slack Web API: a real HTTP server on 127.0.0.1 that records every call.

``WebClient(base_url=standin.api_url)`` talks to it unchanged. It also receives response_url
posts (``/response/<id>``) and generic webhooks (``/hooks/<id>``). ``burst(n)`` makes the next
``n`` Web API calls answer 429 with ``Retry-After``; ``down(True)`` refuses everything with 503;
``refuse(channel, "not_in_channel")`` answers chat calls to that channel as Slack does when the
app cannot post there (HTTP 200, ``ok: false``); ``lose_replies(n)`` carries out the next ``n``
calls (Web API or webhook) and then answers 503, as when Slack posted but its reply never arrived.
``conversations.history`` lists the top-level messages posted to a channel, newest first, with
their metadata.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Call:
    method: str
    payload: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    ts: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class SlackStandin:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.rejected: list[Call] = []
        self._lock = threading.Lock()
        self._burst = 0
        self._retry_after = 1
        self._down = False
        self._refused: dict[str, str] = {}
        self._lose = 0
        self._ts = itertools.count(1)
        # Where apps.connections.open sends Socket Mode clients (a test's WebSocket server).
        self.socket_url: str | None = None
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    payload = json.loads(body or "{}")
                else:
                    payload = {k: v[0] for k, v in parse_qs(body).items()}
                    for key in ("blocks", "view", "attachments", "metadata"):
                        if isinstance(payload.get(key), str):
                            payload[key] = json.loads(payload[key])
                standin._handle(self, self.path.strip("/"), payload)

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                standin._handle(self, path.strip("/"), {k: v[0] for k, v in parse_qs(query).items()})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def start(self) -> SlackStandin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def burst(self, count: int, retry_after: int = 1) -> None:
        with self._lock:
            self._burst, self._retry_after = count, retry_after

    def down(self, value: bool) -> None:
        self._down = value

    def lose_replies(self, count: int) -> None:
        with self._lock:
            self._lose = count

    def refuse(self, channel: str, error: str | None) -> None:
        """Answer chat calls to ``channel`` with ``error`` (None: accept them again)."""
        with self._lock:
            if error is None:
                self._refused.pop(channel, None)
            else:
                self._refused[channel] = error

    def named(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [call.payload for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.named(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {method} call(s), got {self.named(method)}")

    def _handle(self, handler: BaseHTTPRequestHandler, path: str, payload: dict[str, Any]) -> None:
        method = path.removeprefix("api/")
        with self._lock:
            if self._down:
                self.rejected.append(Call(method, payload))
                return self._reply(handler, 503, {"ok": False, "error": "service_unavailable"})
            if path.startswith("api/") and self._burst > 0:
                self._burst -= 1
                self.rejected.append(Call(method, payload))
                return self._reply(
                    handler,
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(self._retry_after)},
                )
            refused = self._refused.get(str(payload.get("channel")))
            if refused and method.startswith("chat."):
                self.rejected.append(Call(method, payload))
                return self._reply(handler, 200, {"ok": False, "error": refused})
            ts = f"1700000000.{next(self._ts):06d}"
            self.calls.append(Call(method, payload, ts=ts, headers=dict(handler.headers.items())))
            lost = self._lose > 0
            self._lose -= 1 if lost else 0
            history = [
                {"ts": call.ts, "text": call.payload.get("text"), "metadata": call.payload.get("metadata")}
                for call in reversed(self.calls)
                if call.method == "chat.postMessage"
                and call.payload.get("channel") == payload.get("channel")
                and not call.payload.get("thread_ts")
            ]
        if lost:
            return self._reply(handler, 503, {"ok": False, "error": "service_unavailable"})
        answer: dict[str, Any] = {"ok": True}
        if method == "conversations.history":
            answer.update(messages=history, has_more=False)
        elif method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            answer.update(channel=payload.get("channel"), ts=payload.get("ts") or ts, message_ts=ts)
        elif method == "views.open":
            answer["view"] = {"id": "V" + ts.replace(".", ""), **(payload.get("view") or {})}
        elif method == "apps.connections.open":
            answer["url"] = self.socket_url
        elif method == "auth.test":
            answer.update(user_id="UBOT", bot_id="BBOT", team_id="T1")
        self._reply(handler, 200, answer)

    @staticmethod
    def _reply(
        handler: BaseHTTPRequestHandler,
        code: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)
