"""The Slack app (slack-bolt): ``/lakeforge``, Confirm / Cancel and alert buttons, the two modals.

Served over HTTP at ``/slack/events`` by the API (``mount(app, settings)``) or over Socket Mode
(``lakeforge bot --socket``). Every listener acks at once and does its work in a lazy listener,
so Slack gets its answer well inside 3 s: an ack writes nothing and reads at most the cached
names. Signatures are verified by bolt (forged or stale: 401); a request Slack retries is
handled once (``slack_request_seen``, recorded by the work it starts).

>>> app = create_app(settings)
>>> mount(app, settings)          # POST /slack/events
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from psycopg import errors as pg_errors
from slack_bolt import Ack, App, BoltResponse, Respond
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import blocks
from bot.acks import AckFirst
from bot.service import ChatService, Reply, error_reply
from lakeforge.errors import ConfigurationError, LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings

log = logging.getLogger(__name__)
SLASH_COMMAND = "/lakeforge"
# Threads for the slow work (plans, runs, answers to Slack). Few on purpose: the acks share the
# process (and its GIL) with them, and two already overlap one's database waits with the other's work.
LAZY_THREADS = 2
# Every this many deliveries, keys older than a day are forgotten (Slack retries within minutes).
FORGET_EVERY = 500


def web_client(settings: Settings) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    if settings.slack_api_url:
        return WebClient(token=token, base_url=settings.slack_api_url)
    return WebClient(token=token)


def _dedupe_key(body: dict[str, Any]) -> str | None:
    """What identifies one Slack request across its retries."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("type") in ("block_actions", "view_submission") and body.get("trigger_id"):
        return f"{body['type']}:{body['trigger_id']}"
    if body.get("trigger_id"):
        return f"command:{body['trigger_id']}"
    return None


def record_delivery(db: Database, key: str) -> bool:
    """Remember one Slack delivery; False when it was seen before (a retry).

    One statement in autocommit: a single round trip, and it is durable on its own, before any
    of the work the delivery asks for starts.
    """
    with db.pool.connection() as conn:
        conn.autocommit = True
        try:
            row = conn.execute(
                "INSERT INTO lakeforge.slack_request_seen (key) VALUES (%s)"
                " ON CONFLICT DO NOTHING RETURNING key",
                (key,),
            ).fetchone()
        finally:
            if not conn.closed:
                conn.autocommit = False
    return row is not None


def forget_old_slack_state(db: Database) -> None:
    """Delete retry keys and plans older than a day: a retry comes within minutes, and a plan's
    token expires after 15 minutes, so neither is of use by then."""
    try:
        with db.connection() as conn:
            conn.execute("DELETE FROM lakeforge.slack_request_seen WHERE seen_at < now() - interval '1 day'")
            conn.execute(
                "DELETE FROM lakeforge.slack_pending_command WHERE created_at < now() - interval '1 day'"
            )
    except pg_errors.Error:
        log.exception("could not forget old Slack deliveries and plans; trying again later")


def build_bolt_app(
    settings: Settings,
    db: Callable[[], Database],
    *,
    client: WebClient | None = None,
    acks: AckFirst | None = None,
) -> App:
    """The bolt app; ``db`` gives the pooled Database (the API's, or one the caller opened).

    ``acks``: the gate the HTTP handler holds while it answers, so lazy listeners let acks go first.
    """
    acks = acks or AckFirst()
    if settings.slack_signing_secret is None:
        raise ConfigurationError(
            "is not set, so Slack requests cannot be verified",
            field="LAKEFORGE_SLACK_SIGNING_SECRET",
            fix="Copy the signing secret from the Slack app's Basic Information page.",
        )
    if settings.slack_bot_token is None:
        raise ConfigurationError(
            "is not set, so the bot cannot answer in Slack",
            field="LAKEFORGE_SLACK_BOT_TOKEN",
            fix="Copy the Bot User OAuth Token (xoxb-...) from the Slack app's OAuth & Permissions page.",
        )
    service = ChatService(db, settings)
    lazy_pool = ThreadPoolExecutor(max_workers=LAZY_THREADS, thread_name_prefix="lakeforge-slack")
    app = App(
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=client or web_client(settings),  # carries the bot token
        token_verification_enabled=False,
        # Acks run inline in the request thread (no hand-off, no polling), and the HTTP answer
        # is the ack; the slow work is in lazy listeners, which run on the executor below.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
        # Slow work (plans, runs) runs on LAZY_THREADS threads, each job starting only once no
        # ack is in flight (``acks``), so a burst of commands is acknowledged first.
        listener_executor=lazy_pool,
    )

    delivery_number = itertools.count(1).__next__

    def first_delivery(body: dict[str, Any], retry: str | None = None) -> bool:
        """Record this delivery; False for a retry of one already handled (do nothing then)."""
        key = _dedupe_key(body)
        if key is None:
            return True
        try:
            fresh = record_delivery(service.db, key)
        except pg_errors.Error:
            log.exception("could not record Slack request %s; handling it anyway", key)
            return True
        if delivery_number() % FORGET_EVERY == 0:
            # Housekeeping is nobody's ack: it runs with the slow work.
            lazy_pool.submit(forget_old_slack_state, service.db)
        if not fresh:
            log.info(
                "Slack request %s already handled; this delivery (retry %s) does nothing", key, retry or "?"
            )
        return fresh

    def begin(body: dict[str, Any]) -> bool:
        """The start of every lazy listener: let the acks in flight go first, then claim the delivery."""
        acks.wait_for_acks()
        return first_delivery(body)

    # Slash commands and buttons ack without touching the store: the work they start is in lazy
    # listeners, and each of those first records the delivery (one INSERT ... ON CONFLICT), so of
    # a request and its retries exactly one does the work, whichever comes first. A modal
    # submission does its work in the ack (its errors go back in the ack), so it is checked here.
    @app.middleware
    def once_per_submission(
        req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        if req.body.get("type") != "view_submission":
            return next()
        if not first_delivery(req.body, req.headers.get("x-slack-retry-num", [None])[0]):
            return BoltResponse(status=200, body="")
        return next()

    def send(respond: Respond, reply: Reply) -> None:
        respond(
            text=reply.text,
            blocks=reply.blocks,
            response_type="ephemeral",
            replace_original=reply.replace_original,
        )

    # -- /lakeforge --------------------------------------------------------------------------

    def ack_command(ack: Ack, body: dict[str, Any]) -> None:
        text = (body.get("text") or "").strip()
        try:
            parsed = service.glance(text, body.get("channel_id"))
        except LakeForgeError as error:
            ack(response_type="ephemeral", text=f":x: {error.sentence()}")
            return
        if parsed.intent is not None:
            ack(
                response_type="ephemeral",
                text=f":hourglass_flowing_sand: {blocks.describe_intent(parsed.intent)}",
            )
        else:
            ack(response_type="ephemeral", text=":hourglass_flowing_sand: one moment…")

    def run_command(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        if not begin(body):
            return
        try:
            reply = service.handle_command(
                (body.get("text") or "").strip(), slack_user=body["user_id"], channel=body.get("channel_id")
            )
        except LakeForgeError as error:
            reply = error_reply(error)
        if reply.modal is not None:
            client.views_open(trigger_id=body["trigger_id"], view=reply.modal)
            return
        send(respond, reply)

    app.command(SLASH_COMMAND)(ack=ack_command, lazy=[run_command])

    # -- plan buttons --------------------------------------------------------------------------

    def ack_only(ack: Ack) -> None:
        ack()

    def decide(confirm: bool) -> Callable[..., None]:
        def work(body: dict[str, Any], respond: Respond) -> None:
            if not begin(body):
                return
            action = body["actions"][0]
            try:
                reply = service.decide(action["value"], slack_user=body["user"]["id"], confirm=confirm)
            except LakeForgeError as error:
                reply = error_reply(error)
            send(respond, reply)

        return work

    app.action("lakeforge_confirm")(ack=ack_only, lazy=[decide(True)])
    app.action("lakeforge_cancel")(ack=ack_only, lazy=[decide(False)])

    # -- alert buttons -------------------------------------------------------------------------

    def rerun_from_alert(body: dict[str, Any], respond: Respond) -> None:
        if not begin(body):
            return
        batch_id = int(body["actions"][0]["value"])
        principal = service.principal(body["user"]["id"])
        channel = (body.get("channel") or {}).get("id")
        intent = service.rerun_intent(batch_id)
        zones = intent.get("zones")
        reply = service.propose(
            intent,
            principal,
            channel,
            raw_text=f"rerun batch {batch_id}" + (f" from {zones[0]}" if zones else ""),
            slack_user=body["user"]["id"],
        )
        send(respond, reply)

    def mute_from_alert(body: dict[str, Any], respond: Respond) -> None:
        if not begin(body):
            return
        send(respond, service.mute(body["actions"][0]["value"], slack_user=body["user"]["id"]))

    app.action("lakeforge_alert_rerun")(ack=ack_only, lazy=[rerun_from_alert])
    app.action("lakeforge_alert_mute")(ack=ack_only, lazy=[mute_from_alert])
    app.action("lakeforge_open_panel")(ack_only)

    # -- modals ------------------------------------------------------------------------------

    def submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        view = body["view"]
        try:
            errors, reply = service.submit_modal(view["callback_id"], view, slack_user=body["user"]["id"])
        except LakeForgeError as error:
            errors, reply = {"name": error.sentence()}, None
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        if reply is not None:
            import json

            channel = json.loads(view.get("private_metadata") or "{}").get("channel") or body["user"]["id"]
            client.chat_postEphemeral(
                channel=channel, user=body["user"]["id"], text=reply.text, blocks=reply.blocks
            )

    for callback in ("lakeforge_register_source", "lakeforge_add_rule"):
        app.view(callback)(submit)

    return app


def mount(app: Any, settings: Settings) -> None:
    """Serve ``POST /slack/events`` on the API app (uses the API's pooled Database)."""
    acks = AckFirst()
    bolt = (
        build_bolt_app(settings, lambda: app.state.db, acks=acks) if settings.slack_signing_secret else None
    )

    async def slack_events(request: Request) -> Response:
        if bolt is None:
            return JSONResponse(
                {
                    "detail": "Slack is not configured: set LAKEFORGE_SLACK_SIGNING_SECRET and "
                    "LAKEFORGE_SLACK_BOT_TOKEN."
                },
                status_code=503,
            )
        with acks.acking():
            body = (await request.body()).decode()
            bolt_request = BoltRequest(body=body, query=request.url.query, headers=dict(request.headers))
            # dispatch can block (a modal's checks, a names refresh): keep it off the event loop.
            answer: BoltResponse = await run_in_threadpool(bolt.dispatch, bolt_request)
        return Response(
            content=answer.body,
            status_code=answer.status,
            headers={k: v[0] for k, v in answer.headers.items() if k.lower() != "content-length"},
        )

    app.add_api_route("/slack/events", slack_events, methods=["POST"], include_in_schema=False)
