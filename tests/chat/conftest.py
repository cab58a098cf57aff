"""Chat fixtures: the API app (with the Slack handler) on uvicorn, a Slack stand-in, seeded metadata."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from lakeforge.metadata.db import Database
from lakeforge.settings import Settings, load_settings
from tests.chat.slack_standin import SlackStandin
from tests.chat.support import BOT_TOKEN, SIGNING_SECRET, LiveServer, action_body, post, seed, slash_body


@dataclass
class Env:
    url: str
    slack: SlackStandin
    http: httpx.Client
    db: Database
    settings: Settings

    def slash(self, text: str, user: str = "U0ANA", **headers: str) -> httpx.Response:
        return post(self.http, self.url, slash_body(text, user=user, response_url=self.slack.url), **headers)

    def click(self, action_id: str, value: str, user: str = "U0ANA") -> httpx.Response:
        return post(
            self.http, self.url, action_body(action_id, value, user=user, response_url=self.slack.url)
        )

    def responses(self, count: int = 1) -> list[dict]:
        found: list[dict] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = [c.payload for c in self.slack.calls if c.method.startswith("response/")]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} response_url posts, got {found}")


@pytest.fixture
def env(settings: Settings, db: Database) -> Iterator[Env]:
    from api.app import create_app

    slack = SlackStandin().start()
    chat_settings = load_settings(
        **{
            **settings.model_dump(exclude={"slack_signing_secret", "slack_bot_token"}, exclude_none=True),
            "slack_signing_secret": SIGNING_SECRET,
            "slack_bot_token": BOT_TOKEN,
            "slack_api_url": slack.api_url,
        }
    )
    seed(db)
    server = LiveServer(create_app(chat_settings, db=db)).start()
    with httpx.Client(timeout=10) as http:
        yield Env(server.url, slack, http, db, chat_settings)
    server.stop()
    slack.stop()
