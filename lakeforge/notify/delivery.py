"""Sending queued alerts: Slack Web API (post, update, thread) and generic webhooks.

A message leaves the outbox only when the receiver said yes. Slack's 429 holds the whole
channel for ``Retry-After`` seconds; any other failure (Slack down, network) retries the
message with exponential back-off. Nothing is dropped.

A failed post may still have landed (Slack posted it, then the reply was lost or timed out), and
Slack has no idempotency key. So each batch's parent message carries Slack message metadata
naming its outbox row, and before a parent is posted again the channel's recent history is
searched for it: found, it is the parent, and nothing is posted twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from lakeforge.metadata.db import Connection, Database
from lakeforge.notify import outbox
from lakeforge.runtime.secrets import SecretResolver

log = logging.getLogger(__name__)


# Slack message metadata on each parent message: lets a retry find a post whose reply was lost.
EVENT_TYPE = "lakeforge_alert"


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Deliverer:
    db: Database
    client: WebClient
    secrets: SecretResolver
    http: httpx.Client | None = None
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0

    def run_once(self, limit: int = 200) -> int:
        """Send what is due, one message per transaction; returns how many were delivered."""
        sent = 0
        for _ in range(limit):
            with self.db.connection() as conn:
                rows = outbox.due(conn, limit=1)
                if not rows:
                    return sent
                row = rows[0]
                try:
                    self._send(conn, row)
                except RateLimited as limited:
                    log.info("alert channel %s rate limited for %s s", row["channel_id"], limited.retry_after)
                    outbox.hold_channel(conn, row["channel_id"], limited.retry_after)
                    outbox.retry_later(conn, row["id"], limited.retry_after, "rate limited (429)")
                    continue
                except (SlackApiError, httpx.HTTPError, OSError) as error:
                    delay = self.backoff(row["attempts"])
                    log.warning(
                        "alert %s not delivered (%s); retry in %.1f s", row["id"], _reason(error), delay
                    )
                    outbox.retry_later(conn, row["id"], delay, _reason(error))
                    continue
                outbox.delivered(conn, row["id"])
                sent += 1
        return sent

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try: doubling from the base, at most ``retry_max_seconds``.

        The exponent is capped: a message that keeps failing (the bot removed from a private
        channel) reaches a thousand attempts within days, and 2.0 ** 1024 overflows a float.
        """
        return min(self.retry_max_seconds, self.retry_base_seconds * 2.0 ** min(attempts, 30))

    def _send(self, conn: Connection, row: dict[str, Any]) -> None:
        payload = row["payload"]
        if row["op"] == "webhook":
            return self._webhook(row)
        channel = row["slack_channel_id"]
        try:
            if row["op"] == "parent":
                landed = self._landed_before(channel, row) if row["attempts"] else None
                if landed is None:
                    answer = self.client.chat_postMessage(
                        channel=channel,
                        text=payload["text"],
                        blocks=payload["blocks"],
                        metadata={"event_type": EVENT_TYPE, "event_payload": {"alert": row["id"]}},
                    )
                    landed = (answer["channel"], answer["ts"])
                conn.execute(
                    "INSERT INTO lakeforge.alert_thread (batch_id, channel_id, slack_channel, ts)"
                    " VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (batch_id, channel_id) DO UPDATE SET ts = EXCLUDED.ts",
                    (row["batch_id"], row["channel_id"], *landed),
                )
            elif row["op"] == "update" and row["thread_ts"]:
                self.client.chat_update(
                    channel=channel, ts=row["thread_ts"], text=payload["text"], blocks=payload["blocks"]
                )
            else:
                # A thread reply; without a parent (it was never posted) it goes to the channel itself.
                self.client.chat_postMessage(
                    channel=channel,
                    text=payload["text"],
                    blocks=payload["blocks"],
                    thread_ts=row["thread_ts"],
                    reply_broadcast=bool(payload.get("broadcast")) if row["thread_ts"] else None,
                )
        except SlackApiError as error:
            if error.response.status_code == 429:
                raise RateLimited(float(error.response.headers.get("Retry-After", 1))) from error
            raise

    def _landed_before(self, channel: str, row: dict[str, Any]) -> tuple[str, str] | None:
        """(channel, ts) of this parent if an earlier, failed-looking attempt did post it."""
        oldest = row["created_at"].timestamp() - 60  # clocks of Slack and Postgres differ a little
        try:
            page = self.client.conversations_history(
                channel=channel, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
            )
        except SlackApiError as error:
            if error.response.status_code == 429:
                raise
            # Without channels:history the lookup is refused: post, as without this check.
            log.info("cannot look for an earlier copy of alert %s (%s)", row["id"], _reason(error))
            return None
        for message in page.get("messages") or []:
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == EVENT_TYPE
                and (metadata.get("event_payload") or {}).get("alert") == row["id"]
            ):
                return channel, str(message["ts"])
        return None

    def _webhook(self, row: dict[str, Any]) -> None:
        url = self.secrets.resolve(row["webhook_url"])
        http = self.http or httpx.Client(timeout=10)
        try:
            # The same key on every try of one message: a receiver can drop a repeat whose first
            # try it did handle (its reply lost), which is all an at-least-once sender can offer.
            answer = http.post(
                url, json=row["payload"], headers={"Idempotency-Key": f"lakeforge-alert-{row['id']}"}
            )
        finally:
            if self.http is None:
                http.close()
        if answer.status_code == 429:
            raise RateLimited(float(answer.headers.get("Retry-After", 1)))
        answer.raise_for_status()


# Slack errors that repeat until someone acts: the fix goes with the error into log and outbox.
_FIXES = {
    "not_in_channel": "invite the LakeForge app to the channel: /invite @lakeforge",
    "channel_not_found": "the channel id is wrong or the channel is private without the app in it",
    "is_archived": "the channel is archived: subscribe the group to another channel",
    "invalid_auth": "check LAKEFORGE_SLACK_BOT_TOKEN",
    "token_revoked": "the bot token was revoked: reinstall the app and set LAKEFORGE_SLACK_BOT_TOKEN",
    "missing_scope": "add the missing scope from bot/manifest.yaml and reinstall the app",
}


def _reason(error: BaseException) -> str:
    # Never the URL: webhook URLs are secrets.
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, SlackApiError):
        code = error.response.get("error") or error.response.status_code
        return f"Slack: {code}" + (f" ({_FIXES[code]})" if code in _FIXES else "")
    return type(error).__name__
