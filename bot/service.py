"""What the bot does with a message or a click, apart from Slack's transport.

Every change goes through ``lakeforge.commands.executor.execute``: first as a dry run whose plan
is shown with Confirm / Cancel, then, on Confirm, with a confirm token the executor issues for that
plan at the click (the pending plan keeps only its command id, never a token) and an idempotency
key, so a double click or a Slack retry applies once. The executor audits each call with the
actor's surface (slack), channel and user.

>>> service = ChatService(lambda: db, settings)
>>> reply = service.handle_command("pause sales", slack_user="U123", channel="C42")
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from bot import blocks
from bot.blocks import Block
from lakeforge.commands.access import PermissionDenied, Principal, principal_for_slack
from lakeforge.commands.envelope import Actor, CommandResult, FieldError
from lakeforge.commands.executor import execute, reissue_confirm_token
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.nlu import CHAT_ONLY_KINDS, ParseResult, check_shape, parse_text
from lakeforge.nlu.lookup import Known, load_known
from lakeforge.nlu.rules import parse_rules
from lakeforge.notify.render import ZONES
from lakeforge.settings import Settings

log = logging.getLogger(__name__)
MODAL_KINDS = {"register_source": blocks.register_source_modal, "add_dq_rule": blocks.add_rule_modal}
MUTE_FOR = timedelta(hours=24)


@dataclass
class Reply:
    """What to show: blocks (and a text fallback), or a modal to open instead."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    modal: Block | None = None
    replace_original: bool = False


# What a message said that the forms have no field for ("... every day at 6am", "without
# header"): carried through the form in its private metadata, so submitting it keeps them.
_BEYOND_THE_FORM = ("schedule", "format_options")
_METADATA_LIMIT = 3000  # Slack's limit for a view's private_metadata


def _modal_metadata(channel: str | None, text: str, partial: dict[str, Any] | None) -> str:
    extra = {key: (partial or {})[key] for key in _BEYOND_THE_FORM if key in (partial or {})}
    metadata = json.dumps({"channel": channel, "text": text[:500], "extra": extra})
    if len(metadata) > _METADATA_LIMIT:
        metadata = json.dumps({"channel": channel, "text": text[:500]})
    return metadata


# The values each form asks for, and those it cannot go without.
_FORM_FIELDS = {
    "register_source": ("name", "group", "format", "location", "load_mode", "watermark_column"),
    "add_dq_rule": ("source", "expression", "name", "action"),
}
_FORM_REQUIRED = {"register_source": 4, "add_dq_rule": 2}  # the first fields above


def _form_answers(parsed: ParseResult) -> bool:
    """Whether the form can answer the question: a value it asks for is missing or wrong.

    A question about anything else (a JDBC table or password, a name that exists already) is
    asked in words: the form has no field to answer it, and would hide the question.
    """
    kind = parsed.intent_kind or ""
    fields = _FORM_FIELDS[kind]
    missing = any(not parsed.partial.get(name) for name in fields[: _FORM_REQUIRED[kind]])
    return missing or (parsed.clarify or "").split(":", 1)[0] in fields


class ChatService:
    # Known names are read at most this often: acks stay one round trip away from the store.
    KNOWN_TTL_SECONDS = 5.0

    def __init__(self, db: Callable[[], Database], settings: Settings) -> None:
        self._db = db
        self.settings = settings
        self._known: tuple[float, Known] | None = None
        self._known_lock = threading.Lock()

    def known(self) -> Known:
        """Source, group and rule names, read again when older than the TTL.

        Only the first caller to find them stale reads the store; the others go on with the
        names they have instead of queueing behind it (acks must not wait on each other).
        """
        current = self._known
        if current is not None:
            if time.monotonic() - current[0] <= self.KNOWN_TTL_SECONDS:
                return current[1]
            if not self._known_lock.acquire(blocking=False):
                return current[1]
        else:
            self._known_lock.acquire()
        try:
            current = self._known
            if current is None or time.monotonic() - current[0] > self.KNOWN_TTL_SECONDS:
                current = (time.monotonic(), load_known(self.db))
                self._known = current
            return current[1]
        finally:
            self._known_lock.release()

    def forget_known(self) -> None:
        # Under the lock, so a read that began before the change cannot be kept as fresh.
        with self._known_lock:
            self._known = None

    @property
    def db(self) -> Database:
        return self._db()

    # -- who is asking ----------------------------------------------------------------------

    def principal(self, slack_user: str) -> Principal:
        return principal_for_slack(self.db, slack_user)

    @staticmethod
    def actor(principal: Principal, channel: str | None) -> Actor:
        return Actor(user=principal.user, surface="slack", channel=channel)

    # -- typed commands ---------------------------------------------------------------------

    def parse(
        self, text: str, channel: str | None = None, groups: frozenset[str] | None = None
    ) -> ParseResult:
        return parse_text(
            text, db=self.db, settings=self.settings, channel=channel, known=self.known(), groups=groups
        )

    def glance(self, text: str, channel: str | None = None) -> ParseResult:
        """What the ack says: the rule parser on cached names only, no model and no run-log lookup.

        The full reading (the LLM when configured, "last failed batch" looked up) is the slow
        work's, so an ack never waits on a model or a query.
        """
        return check_shape(parse_rules(text, known=self.known(), channel=channel))

    def handle_command(
        self, text: str, *, slack_user: str, channel: str | None, parsed: ParseResult | None = None
    ) -> Reply:
        """A slash command or a message to the bot: an answer, a question, a modal or a plan to confirm."""
        principal = self.principal(slack_user)
        parsed = parsed or self.parse(text, channel, principal.readable_groups())
        if parsed.intent_kind == "help" or (parsed.intent or {}).get("kind") == "help":
            allowed = set(principal.allowed_kinds()) | {"show_history", "help"}
            return Reply("LakeForge help", blocks.help_blocks(allowed, principal.user_id is not None))
        if parsed.intent is None:
            form = MODAL_KINDS.get(parsed.intent_kind or "")
            if form is not None and principal.user_id is not None and _form_answers(parsed):
                metadata = _modal_metadata(channel, text, parsed.partial)
                return Reply(parsed.clarify or "", modal=form(parsed.partial, metadata, parsed.clarify))
            return Reply(
                parsed.clarify or "I did not understand that.",
                blocks.text_blocks(f":thinking_face: {parsed.clarify}"),
            )
        intent = parsed.intent
        if intent["kind"] in CHAT_ONLY_KINDS:
            return self.history(intent.get("name", ""))
        return self.propose(intent, principal, channel, raw_text=text, slack_user=slack_user)

    def propose(
        self,
        intent: dict[str, Any],
        principal: Principal,
        channel: str | None,
        *,
        raw_text: str | None,
        slack_user: str,
    ) -> Reply:
        """Reads run at once; changes come back as a plan with Confirm / Cancel."""
        actor = self.actor(principal, channel)
        from lakeforge.commands.intents import INTENTS_BY_KIND

        read_only = getattr(INTENTS_BY_KIND.get(intent["kind"]), "read_only", False)
        if not read_only and principal.user_id is None:
            return Reply(
                "read only",
                blocks.text_blocks(
                    ":lock: Your Slack user is not mapped to a LakeForge user, so you can only read. "
                    "Ask an admin to set `app_user.slack_user_id` for you and grant a role."
                ),
            )
        try:
            result = execute(self.db, intent, actor, dry_run=not read_only, raw_text=raw_text)
        except PermissionDenied as denied:
            return _refused(denied)
        if result.status != "planned":
            return Reply(result.message, blocks.outcome(result) + self._unknown_name_hint(result, principal))
        pending = self._remember(intent, result, slack_user, channel, raw_text)
        return Reply(
            f"Plan: {intent['kind']} (confirm or cancel)", blocks.preview(intent, result, pending, raw_text)
        )

    def _unknown_name_hint(self, result: CommandResult, principal: Principal) -> list[Block]:
        """For a source or group that does not exist: the ones that do, in the groups the caller sees."""
        if result.reason != "not_found" or not result.errors:
            return []
        what = result.errors[0].message.split(" ", 1)[0]
        if what not in ("source", "group"):
            return []
        known, readable = self.known(), principal.readable_groups()
        if what == "source":
            names = sorted(s for s, g in known.sources.items() if readable is None or g in readable)
        else:
            names = sorted(g for g in known.groups if readable is None or g in readable)
        return [blocks.context(blocks.known_names_line(what, names))]

    def _remember(
        self,
        intent: dict[str, Any],
        result: CommandResult,
        slack_user: str,
        channel: str | None,
        raw_text: str | None,
    ) -> str:
        pending = str(uuid.uuid4())
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO lakeforge.slack_pending_command"
                " (id, slack_user_id, channel, intent, raw_text, command_id)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (pending, slack_user, channel, Jsonb(intent), raw_text, result.command_id),
            )
        return pending

    # -- buttons ----------------------------------------------------------------------------

    def decide(self, pending_id: str, *, slack_user: str, confirm: bool) -> Reply:
        """Confirm or Cancel of a plan; only its requester may decide, and only once."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT * FROM lakeforge.slack_pending_command WHERE id = %s FOR UPDATE", (pending_id,)
            ).fetchone()
            if row is None:
                return Reply(
                    "unknown plan",
                    blocks.text_blocks(":x: This plan is no longer known. Type the command again."),
                )
            if row["slack_user_id"] != slack_user:
                return Reply(
                    "not yours",
                    blocks.text_blocks(":lock: Only the person who asked can confirm or cancel this plan."),
                )
            if row["state"] != "pending":
                return Reply(
                    "already decided",
                    blocks.text_blocks(f"This plan was already {row['state']}."),
                    replace_original=False,
                )
            token = None
            if confirm:
                # The plan's token was never kept: the executor issues a fresh one for this click.
                token = reissue_confirm_token(conn, row["command_id"]) if row["command_id"] else None
                if token is None:  # the row stays pending: a later click answers the same
                    return Reply(
                        "plan expired",
                        blocks.text_blocks(
                            ":hourglass: This plan has expired (plans wait 15 minutes). Type the command"
                            f" again for a new plan: {blocks.describe_intent(row['intent'])}"
                        ),
                        replace_original=True,
                    )
            state = "confirmed" if confirm else "cancelled"
            conn.execute(
                "UPDATE lakeforge.slack_pending_command SET state = %s, decided_at = now() WHERE id = %s",
                (state, pending_id),
            )
        if not confirm:
            return Reply(
                "Cancelled",
                blocks.text_blocks(f":no_entry_sign: Cancelled: {blocks.describe_intent(row['intent'])}"),
                replace_original=True,
            )
        principal = self.principal(slack_user)
        actor = self.actor(principal, row["channel"])
        try:
            result = execute(
                self.db,
                row["intent"],
                actor,
                confirm_token=token,
                idempotency_key=f"slack:{pending_id}",
                raw_text=row["raw_text"],
            )
        except PermissionDenied as denied:
            return _refused(denied, replace_original=True)
        self.forget_known()
        return Reply(result.message, blocks.outcome(result), replace_original=True)

    def submit_modal(
        self, callback_id: str, view: dict[str, Any], *, slack_user: str
    ) -> tuple[dict[str, str], Reply | None]:
        """A modal's values as an intent: field errors for the modal, or the plan to post."""
        values = blocks.modal_values(view)
        kind = "register_source" if callback_id == "lakeforge_register_source" else "add_dq_rule"
        metadata = json.loads(view.get("private_metadata") or "{}")
        extra = dict(metadata.get("extra") or {})
        if values.get("format") != "csv":
            extra.pop("format_options", None)  # header and delimiter were read for a CSV source
        intent = {"kind": kind, **extra, **values}
        checked = check_shape(ParseResult(intent=intent, parser="rules", intent_kind=kind))
        if checked.intent is None:
            field_name = (checked.clarify or "").split(":", 1)[0]
            block = (
                field_name
                if field_name in values
                or field_name in {"name", "group", "format", "location", "source", "expression"}
                else "name"
            )
            return {block: checked.clarify or "invalid"}, None
        principal = self.principal(slack_user)
        reply = self.propose(
            checked.intent,
            principal,
            metadata.get("channel"),
            raw_text=metadata.get("text"),
            slack_user=slack_user,
        )
        return {}, reply

    def rerun_intent(self, batch_id: int) -> dict[str, Any]:
        """What an alert's Rerun proposes: the batch again without the Raw zone when Raw succeeded.

        Raw's rows stay, so a failure after it does not re-extract every source. The rerun starts
        at Bronze at the latest: Silver and Gold are the group's pipeline, which on Databricks
        runs as a task of the group's job after Bronze and cannot be given a batch on its own.
        The batch ran the zones it has rows for; the rerun covers those from that start.
        """
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT zone, status FROM lakeforge_log.zone_run WHERE batch_id = %s", (batch_id,)
            ).fetchall()
        status = {r["zone"]: r["status"] for r in rows}
        ran = [zone for zone in ZONES if zone in status]
        failed = next((i for i, zone in enumerate(ran) if status[zone] == "failed"), 0)
        first = min(failed, ran.index("bronze")) if "bronze" in ran else failed
        zones = ran[first:]
        if not zones or zones == list(ZONES):
            return {"kind": "rerun_batch", "batch_id": batch_id}
        return {"kind": "rerun_batch", "batch_id": batch_id, "zones": zones}

    def mute(self, value: str, *, slack_user: str) -> Reply:
        """Mute a group's alerts in one channel for 24 hours (needs operator on the group)."""
        group, _, channel_id = value.partition("|")
        principal = self.principal(slack_user)
        if not principal.may("pause_schedule", {group}):
            return Reply(
                "not allowed", blocks.text_blocks(f":lock: Muting alerts of {group} needs the operator role.")
            )
        until = datetime.now(UTC) + MUTE_FOR
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO lakeforge.alert_mute (group_name, channel_id, muted_until, muted_by)"
                " VALUES (%s, %s, %s, %s)"
                # A new mute starts now: created_at and muted_until bound the quiet period.
                " ON CONFLICT (group_name, channel_id) DO UPDATE SET muted_until = EXCLUDED.muted_until,"
                " muted_by = EXCLUDED.muted_by, created_at = CASE WHEN alert_mute.muted_until < now()"
                " THEN now() ELSE alert_mute.created_at END",
                (group, int(channel_id), until, principal.user),
            )
        return Reply(
            "muted",
            blocks.text_blocks(f":mute: Alerts of {group} muted here until {until:%Y-%m-%d %H:%M} UTC."),
        )

    # -- chat-only reads --------------------------------------------------------------------

    def history(self, name: str) -> Reply:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT entity_type, revision, actor, created_at FROM lakeforge.metadata_revision"
                " WHERE entity_key = %s ORDER BY id DESC LIMIT 20",
                (name,),
            ).fetchall()
        if not rows:
            return Reply("no history", blocks.text_blocks(f"No recorded changes of {name}."))
        lines = [
            f"{r['entity_type']} {name} rev {r['revision']} by {r['actor']}"
            f" at {r['created_at']:%Y-%m-%d %H:%M}"
            for r in rows
        ]
        tip = f"\n_restore with_ `/lakeforge restore {name} to revision N`"
        return Reply(f"History of {name}", blocks.text_blocks("\n".join(lines) + tip))


def _refused(denied: PermissionDenied, *, replace_original: bool = False) -> Reply:
    text = blocks.refused_text(denied.message, denied.fix)
    return Reply(denied.sentence(), blocks.text_blocks(text), replace_original=replace_original)


def error_reply(error: LakeForgeError) -> Reply:
    result = CommandResult(
        status="rejected",
        message=error.sentence(),
        errors=[FieldError(field=error.field or "text", message=error.message, fix=error.fix)],
    )
    return Reply(error.sentence(), blocks.outcome(result))
