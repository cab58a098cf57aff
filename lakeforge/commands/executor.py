"""The one write path: parse → validate → plan → confirm → apply → audit + revision.

>>> result = execute(db, {"kind": "pause_schedule", "group": "retail"}, Actor(user="ana", surface="api"))
>>> result.status, result.message
('applied', 'Schedule of retail paused.')

- Destructive intents (remove_*, restore_revision) and ``dry_run`` return the plan and a confirm
  token (status ``needs_confirmation`` / ``planned``); sending the same intent again with
  ``confirm_token`` applies it. Tokens are single use, expire, and bind actor, intent and plan.
- Apply is one transaction: the entity writes (with an optimistic revision check), one
  ``metadata_revision`` row per entity, and the ``command_audit`` row commit together.
- The same ``idempotency_key`` (per actor) returns the first answer and never applies twice. A
  repeated plan answers a fresh confirm token and the earlier one stops working: tokens are kept
  hashed, so the first cannot be shown again, and one plan never has two live tokens.
- Rejected commands are audited too; permission failures raise ``PermissionDenied``.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from lakeforge.commands import access, handlers, state
from lakeforge.commands.access import PermissionDenied, Principal
from lakeforge.commands.envelope import Actor, CommandResult, CommandStatus, FieldError, RejectReason
from lakeforge.commands.intents import Intent, IntentBase, field_errors, parse_intent
from lakeforge.commands.plans import PlanLine, canonical_hash, diff
from lakeforge.commands.secrets import redact, redact_text
from lakeforge.errors import LakeForgeError, UnavailableError
from lakeforge.metadata.db import Connection, Database

log = logging.getLogger(__name__)
CONFIRM_TTL = timedelta(minutes=15)
CONFIRM_PREFIX = "lfc_"


class _Rejected(Exception):
    def __init__(self, message: str, errors: list[FieldError], reason: RejectReason) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.reason = reason


def _rejection(error: LakeForgeError, reason: RejectReason, actor: Actor) -> _Rejected:
    """``error`` as a rejection, its fix worded for the surface ``actor`` is on."""
    surface, channel = actor.surface, actor.channel
    sentence = error.sentence(surface, channel)
    if isinstance(error, handlers.Invalid) and error.own_errors:
        return _Rejected(sentence, error.errors, reason)
    if isinstance(error, UnavailableError):
        # Not the caller's input: the field is the setting that points at what is down.
        reason, field = "unavailable", error.field or "workspace"
    elif error.field and not error.field.startswith("intent"):
        field = f"intent.{error.field}"
    else:
        field = error.field or "intent"
    fix = error.fix_for(surface, channel)
    return _Rejected(sentence, [FieldError(field=field, message=error.message, fix=fix)], reason)


def execute(
    db: Database,
    intent: Intent | dict[str, Any],
    actor: Actor,
    *,
    dry_run: bool = False,
    idempotency_key: str | None = None,
    confirm_token: str | None = None,
    raw_text: str | None = None,
    principal: Principal | None = None,
) -> CommandResult:
    """Run one command for ``actor``. ``principal`` overrides the role lookup (API tokens, local CLI)."""
    started = time.perf_counter()
    command_id = uuid4()
    raw = intent.model_dump(mode="json") if isinstance(intent, IntentBase) else intent
    raw_text = _without_nul(raw_text) if raw_text else raw_text
    nul = _nul_field(raw, "intent") or _nul_field(idempotency_key, "idempotency_key")
    nul = nul or _nul_field(confirm_token, "confirm_token")
    if nul:
        # Postgres text cannot hold NUL: refuse it by name rather than fail on the audit insert.
        errors = [FieldError(field=nul, message="contains a NUL or invalid character", fix="Remove it.")]
        rejected = _Rejected(f"{nul}: contains a NUL or invalid character", errors, "validation")
        return _reject(db, actor, command_id, _without_nul(raw), raw_text, started, rejected)
    if idempotency_key:
        try:
            earlier = _earlier_answer(db, actor, idempotency_key, intent, confirm_token is not None)
        except _Rejected as rejected:
            return _reject(db, actor, command_id, raw, raw_text, started, rejected)
        if earlier is not None:
            return earlier
    try:
        parsed = parse_intent(intent)
    except ValidationError as error:
        errors = field_errors(error)
        return _reject(
            db, actor, command_id, raw, raw_text, started, _Rejected(_summary(errors), errors, "validation")
        )
    except (TypeError, ValueError) as error:
        errors = [FieldError(field="intent", message=str(error), fix="Send a JSON object with a 'kind'.")]
        return _reject(
            db, actor, command_id, raw, raw_text, started, _Rejected(str(error), errors, "validation")
        )
    raw = parsed.model_dump(mode="json")
    who = principal
    if who is None:
        with db.connection() as conn:
            who = _principal(conn, actor)
    try:
        return _run(
            db,
            parsed,
            raw,
            actor,
            who,
            command_id,
            started,
            dry_run,
            idempotency_key,
            confirm_token,
            raw_text,
        )
    except _Rejected as rejected:
        return _reject(db, actor, command_id, raw, raw_text, started, rejected)
    except PermissionDenied as denied:
        _reject(db, actor, command_id, raw, raw_text, started, _rejection(denied, "permission", actor))
        denied.command_id = command_id  # surfaces that answer the refusal can name its audit row
        raise


def _nul_field(value: Any, path: str) -> str | None:
    """The path of the first string (or key) holding a NUL character, if any."""
    if isinstance(value, str):
        return path if not _storable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = (None if _storable(str(key)) else path) or _nul_field(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_field(item, f"{path}.{index}")
            if found:
                return found
    return None


def _storable(text: str) -> bool:
    """Whether Postgres can store ``text``: no NUL, valid UTF-8 (no lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_without_nul(str(k)): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _principal(conn: Connection, actor: Actor) -> Principal:
    if actor.surface == "system":  # in-process jobs (scheduled sync); the API never sets this surface
        return Principal.local_admin(actor.user)
    return access.principal_from_conn(conn, actor.user)


def _summary(errors: list[FieldError]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first.field}: {first.message}{more}"


def _prepare(ctx: handlers.Context, intent: Any, principal: Principal) -> handlers.Prepared:
    """Validate against Lakebase and check permission; the caller's transaction is left open."""
    ctx.kind = intent.kind
    try:
        prepared = handlers.HANDLERS[intent.kind](ctx, intent)
    except (handlers.Invalid, state.Missing) as error:
        _check_refused(ctx, intent, principal)
        unknown = isinstance(error, handlers.Unknown) or "does not exist" in error.message
        raise _rejection(error, "not_found" if unknown else "validation", ctx.actor) from None
    except state.Conflict as error:
        _check_refused(ctx, intent, principal)
        raise _rejection(error, "conflict", ctx.actor) from None
    access.check(principal, intent.kind, prepared.groups or None)
    return prepared


def _check_refused(ctx: handlers.Context, intent: Any, principal: Principal) -> None:
    """Whether the caller may hear why ``intent`` was refused: it needs the intent's role on the
    groups the intent touches. A batch id that no batch has belongs to no group and tells of
    nothing that exists, so anyone who may run the kind on some group hears it is unknown (404)
    instead of a 403 asking for a global binding."""
    if handlers.names_unknown_batch(ctx.conn, intent):
        access.check_somewhere(principal, intent.kind)
        return
    access.check(principal, intent.kind, handlers.intent_groups(ctx.conn, intent) or None)


def _plan_hash(prepared: handlers.Prepared, plan: list[PlanLine]) -> str:
    # The state the plan was made from counts too: a delete looks the same whatever was deleted.
    return canonical_hash({"plan": plan, "before": [change.before for change in prepared.changes]})


def _plan(prepared: handlers.Prepared) -> list[PlanLine]:
    lines: list[PlanLine] = []
    for change in prepared.changes:
        lines.extend(diff(change.entity, change.key, change.before, change.after))
    if lines or not prepared.changes:
        lines.extend(prepared.extra_plan)
    return lines


def _run(
    db: Database,
    intent: Any,
    raw: dict[str, Any],
    actor: Actor,
    principal: Principal,
    command_id: UUID,
    started: float,
    dry_run: bool,
    idempotency_key: str | None,
    confirm_token: str | None,
    raw_text: str | None,
) -> CommandResult:
    needs_confirmation = not intent.read_only and (dry_run or intent.destructive)
    intent_hash = canonical_hash(raw)
    if needs_confirmation and (dry_run or confirm_token is None):
        # Handlers only read; one statement then stores the token and its audit row together.
        with db.connection(autocommit=True) as conn:
            ctx = handlers.Context(db, conn, actor, principal, command_id)
            prepared = _prepare(ctx, intent, principal)
            plan = _plan(prepared)
            status: CommandStatus = "planned" if dry_run else "needs_confirmation"
            message = (
                f"Dry run: {len(plan)} change(s) planned; send it again with confirm_token to apply."
                if dry_run
                else f"{intent.kind.replace('_', ' ').capitalize()} needs confirmation: review the plan "
                "and send it again with confirm_token."
            )
            token = _new_confirm_token()
            result = CommandResult(
                status=status, command_id=command_id, plan=plan, confirm_token=token, message=message
            )
            stored = _store_plan(
                conn,
                token,
                intent_hash,
                _plan_hash(prepared, plan),
                _audit_values(actor, command_id, raw, raw_text, result, started, idempotency_key),
            )
        if not stored:
            # A concurrent request with this idempotency key answered first, so this one is its
            # repeat: it answers that plan, with the plan's one live token.
            earlier = _earlier_answer(db, actor, idempotency_key or "")
            if earlier is not None:
                return earlier
        return result

    with db.connection() as conn:
        ctx = handlers.Context(db, conn, actor, principal, command_id)
        try:
            with conn.transaction():
                prepared = _prepare(ctx, intent, principal)
                plan = _plan(prepared)
                if confirm_token is not None and not intent.read_only:
                    _use_confirmation(
                        conn, confirm_token, actor, intent.kind, intent_hash, _plan_hash(prepared, plan)
                    )
                    if idempotency_key:
                        _release_plan_key(conn, actor, idempotency_key)
                nothing = (
                    not intent.read_only
                    and prepared.effect is None
                    and not any(line["op"] != "touch" for line in plan)
                )
                result = CommandResult(
                    status="applied",
                    command_id=command_id,
                    plan=plan,
                    result=prepared.result,
                    message="Nothing to change: the metadata already says this."
                    if nothing
                    else prepared.message,
                )
                if not nothing and prepared.effect is None:
                    _audit(conn, actor, command_id, raw, raw_text, result, started, idempotency_key)
                    for change in prepared.changes:
                        _write_change(conn, change, command_id, actor)
                elif prepared.effect is not None:
                    # Claim the idempotency key first, so a concurrent repeat never runs the effect twice.
                    _audit(conn, actor, command_id, raw, raw_text, result, started, idempotency_key)
                    result.result = prepared.effect(ctx)
                    conn.execute(
                        "UPDATE command_audit SET response = %s, duration_ms = %s WHERE id = %s",
                        [
                            Jsonb(_stored_response(result)),
                            (time.perf_counter() - started) * 1000,
                            command_id,
                        ],
                    )
                else:
                    _audit(conn, actor, command_id, raw, raw_text, result, started, idempotency_key)
        except state.Conflict as error:
            raise _rejection(error, "conflict", actor) from None
        except (state.Missing, handlers.Invalid) as error:
            raise _rejection(error, "validation", actor) from None
        except _Duplicate:
            earlier = _earlier_answer(db, actor, idempotency_key or "")
            if earlier is not None:
                return earlier
            raise
        except LakeForgeError as error:
            if isinstance(error, PermissionDenied):
                raise
            raise _rejection(error, "validation", actor) from None
    for callback in ctx.after_commit:
        callback()
    return result


def rehearse(
    db: Database,
    intents: list[dict[str, Any]],
    actor: Actor,
    *,
    principal: Principal | None = None,
) -> list[CommandResult]:
    """Plan ``intents`` in order, each as if the ones before it were applied, then roll all back.

    The same parsing, checks, permission and plans as ``execute``, so a whole file of intents can
    be checked before any of it is written (``lakeforge apply``). Nothing is kept: no entity, no
    revision, no audit row, no confirm token; effects (runs, syncs) are never started. A rejected
    intent is skipped and the next ones are planned without it.
    """
    results: list[CommandResult] = []
    with db.connection() as conn, conn.transaction(force_rollback=True):
        who = principal or _principal(conn, actor)
        for intent in intents:
            try:
                results.append(_rehearse_one(db, conn, intent, actor, who))
            except _Rejected as rejected:
                results.append(
                    CommandResult(
                        status="rejected",
                        message=rejected.message,
                        errors=rejected.errors,
                        reason=rejected.reason,
                    )
                )
    return results


def _rehearse_one(
    db: Database, conn: Connection, intent: dict[str, Any], actor: Actor, principal: Principal
) -> CommandResult:
    nul = _nul_field(intent, "intent")
    if nul:
        errors = [FieldError(field=nul, message="contains a NUL or invalid character", fix="Remove it.")]
        raise _Rejected(f"{nul}: contains a NUL or invalid character", errors, "validation")
    try:
        parsed = parse_intent(intent)
    except ValidationError as error:
        errors = field_errors(error)
        raise _Rejected(_summary(errors), errors, "validation") from None
    ctx = handlers.Context(db, conn, actor, principal, uuid4())
    try:
        # A savepoint per intent: a rejected one leaves the intents planned before it in place.
        with conn.transaction():
            prepared = _prepare(ctx, parsed, principal)
            plan = _plan(prepared)
            if any(line["op"] != "touch" for line in plan):
                for change in prepared.changes:
                    _write_change(conn, change, None, actor)
    except (state.Conflict, state.Missing, handlers.Invalid) as error:
        raise _rejection(
            error, "conflict" if isinstance(error, state.Conflict) else "validation", actor
        ) from None
    except LakeForgeError as error:
        if isinstance(error, PermissionDenied):
            raise
        raise _rejection(error, "validation", actor) from None
    changed = sum(1 for line in plan if line["op"] != "touch")
    return CommandResult(status="planned", plan=plan, message=f"{changed} change(s) planned.")


def _write_change(conn: Connection, change: handlers.Change, command_id: UUID | None, actor: Actor) -> None:
    if change.before is not None and change.entity in ("source", "group"):
        revision = int(change.before.get("revision") or 0) + 1
    else:
        revision = state.latest_revision(conn, change.entity, change.key) + 1
    after = None if change.after is None else {**change.after, "revision": revision}
    state.write(conn, change.entity, change.before, after, revision)
    state.record_revision(
        conn, change.entity, change.key, revision, change.before, after, command_id, actor.user
    )


def _commit_without_flush(conn: Connection) -> None:
    """Let this transaction commit without waiting for the WAL to reach the disk.

    For rejections, which change no metadata: a crash in the moment after one loses at most its
    audit row. Plans do the same inside ``_store_plan``; applied changes always commit durably.
    """
    conn.execute("SET LOCAL synchronous_commit TO off")


# -- confirm tokens ----------------------------------------------------------------------------
def _store_plan(conn: Connection, token: str, intent_hash: str, plan_hash: str, audit: list[Any]) -> bool:
    """Store a plan's audit row and its confirm token in one statement; False, storing neither, if
    another request with the audit row's idempotency key answered first.

    The statement also lets the transaction commit without waiting for the WAL flush
    (``set_config(..., true)`` is ``SET LOCAL``): a plan changes no metadata, so a crash in the
    moment after one loses at most that plan, which is planned again. The flush wait was most of a
    dry run's time on a busy disk, and every round trip saved is CPU saved on both sides.
    """
    if secrets.randbelow(_SWEEP_ONE_IN) == 0:
        _sweep_expired_tokens(conn)
    row = conn.execute(
        "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true) AS setting), "
        f"audit AS ({_AUDIT_INSERT}) "
        "INSERT INTO command_confirmation "
        "(token_hash, actor, kind, intent_hash, plan_hash, expires_at, command_id) "
        "SELECT %s, %s, %s, %s, %s, %s, audit.id FROM relaxed, audit "
        "RETURNING command_id",
        [
            *audit,
            access.hash_token(token),
            audit[_AUDIT_ACTOR],
            audit[_AUDIT_KIND],
            intent_hash,
            plan_hash,
            datetime.now(UTC) + CONFIRM_TTL,
        ],
    ).fetchone()
    return row is not None


# Tokens expired for a day are swept by about one plan in this many. Sweeping inside every plan's
# statement cost the server 1.9 ms of CPU per plan against 0.5 ms without it (measured), and a
# separate sweep on every plan is a round trip that finds nothing most times.
_SWEEP_ONE_IN = 50


def _sweep_expired_tokens(conn: Connection) -> None:
    conn.execute("DELETE FROM command_confirmation WHERE expires_at < now() - interval '1 day'")


def _use_confirmation(
    conn: Connection, token: str, actor: Actor, kind: str, intent_hash: str, plan_hash: str
) -> None:
    row = conn.execute(
        "UPDATE command_confirmation SET used_at = now() WHERE token_hash = %s AND used_at IS NULL "
        "RETURNING actor, kind, intent_hash, plan_hash, expires_at",
        [access.hash_token(token)],
    ).fetchone()

    def refuse(message: str, fix: str) -> _Rejected:
        return _Rejected(
            message, [FieldError(field="confirm_token", message=message, fix=fix)], "confirmation"
        )

    if row is None:
        raise refuse(
            "unknown or already used confirm token", "Send the command without a token to get a new plan."
        )
    if row["expires_at"] < datetime.now(UTC):
        raise refuse("the confirm token has expired", "Send the command without a token to get a new plan.")
    if row["actor"] != actor.user or row["kind"] != kind or row["intent_hash"] != intent_hash:
        raise refuse(
            "the confirm token was issued for another command",
            "Confirm exactly the command that was planned.",
        )
    if row["plan_hash"] != plan_hash:
        raise refuse(
            "the metadata changed since this plan was shown",
            "Send the command again without a token and review the new plan.",
        )


# -- audit and idempotency ---------------------------------------------------------------------
class _Duplicate(Exception):
    """Another request with the same idempotency key committed first."""


def _earlier_answer(
    db: Database, actor: Actor, key: str, intent: Any = None, confirming: bool = False
) -> CommandResult | None:
    """The stored answer for ``key``, or None when this request is to run.

    With ``intent``, a key first used for another command is refused (``_Rejected``): answering
    that command's outcome would tell the caller its own command was done. ``confirming`` (the
    request carries a confirm token) lets a plan's own key apply the plan: the answer to a
    confirmation is not a repeat of the plan.
    """
    with db.connection() as conn:
        row = conn.execute(
            "SELECT response, plan, kind, intent FROM command_audit "
            "WHERE actor = %s AND idempotency_key = %s",
            [actor.user, key],
        ).fetchone()
        if row is None or row["response"] is None:
            return None
        if intent is not None and not _same_intent(intent, row["intent"]):
            message = f"idempotency key {key!r} was used for another command ({row['kind']})"
            fix = "Send this command with a new idempotency key; repeat a key only with the same intent."
            errors = [FieldError(field="idempotency_key", message=message, fix=fix)]
            raise _Rejected(message, errors, "validation")
        earlier = CommandResult.model_validate({**row["response"], "plan": row["plan"]})
        if earlier.status in _WAITING and earlier.command_id is not None:
            if confirming:
                return None
            _reissue_token(conn, earlier)
    return earlier


def _same_intent(intent: Any, stored: Any) -> bool:
    # The audit row keeps the parsed, redacted intent: compare like with like.
    try:
        parsed = parse_intent(intent)
    except (ValidationError, TypeError, ValueError):
        return False
    return bool(redact(parsed.model_dump(mode="json")) == stored)


def _release_plan_key(conn: Connection, actor: Actor, key: str) -> None:
    """A confirmation sent with its plan's idempotency key takes the key over from the plan's
    audit row (in the applying transaction), so a repeat of the confirmation answers what was
    applied rather than the plan."""
    conn.execute(
        "UPDATE command_audit SET idempotency_key = NULL WHERE actor = %s AND idempotency_key = %s "
        "AND outcome IN ('planned', 'needs_confirmation')",
        [actor.user, key],
    )


_WAITING = ("planned", "needs_confirmation")


def _reissue_token(conn: Connection, earlier: CommandResult) -> None:
    """Give a repeated plan a usable token: the plan's live token is replaced by a new one.

    A client repeats a plan when the first answer did not reach it, so the token it never saw is
    the one to retire; replacing rather than adding keeps the rule that a plan applies once.
    """
    token = reissue_confirm_token(conn, earlier.command_id) if earlier.command_id is not None else None
    if token is not None:
        earlier.confirm_token = token
        return
    earlier.confirm_token = None
    earlier.message = (
        f"{earlier.message} This plan was confirmed already or its token has expired: send the "
        "command again with a new idempotency key for a new plan."
    ).strip()


def reissue_confirm_token(conn: Connection, command_id: UUID) -> str | None:
    """A fresh confirm token for the plan answered as ``command_id``, replacing its live one; None
    once the plan was confirmed or its token expired.

    For surfaces that hold a plan for a person between two requests (Slack's Confirm button):
    they keep the command id and ask for the token when it is used, so no token rests unhashed.
    The token is still bound to the plan's actor, intent and plan, and still single use.
    """
    token = _new_confirm_token()
    replaced = conn.execute(
        "UPDATE command_confirmation SET token_hash = %s "
        "WHERE command_id = %s AND used_at IS NULL AND expires_at > now() RETURNING kind",
        [access.hash_token(token), command_id],
    ).fetchone()
    return token if replaced is not None else None


def _new_confirm_token() -> str:
    return CONFIRM_PREFIX + secrets.token_urlsafe(24)


def _stored_response(result: CommandResult) -> dict[str, Any]:
    """The answer as the audit row keeps it, redacted: without the plan, which has its own column
    (a plan is most of an answer's size, and each copy is JSON encoded, parsed and compressed), and
    without the confirm token, which is kept only hashed (a repeat gets a new one)."""
    response: dict[str, Any] = redact(result.model_dump(mode="json", exclude={"plan", "confirm_token"}))
    return response


# ON CONFLICT instead of catching the error: no savepoint round trips, and the caller's
# transaction stays usable when another request with the same key answered first.
_AUDIT_INSERT = (
    "INSERT INTO command_audit (id, idempotency_key, actor, surface, channel, raw_text, kind, intent, "
    "plan, outcome, message, response, duration_ms) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT ON CONSTRAINT command_audit_idempotency_key DO NOTHING RETURNING id"
)
_AUDIT_ACTOR, _AUDIT_KIND = 2, 6  # positions in _audit_values


def _audit_values(
    actor: Actor,
    command_id: UUID,
    raw: Any,
    raw_text: str | None,
    result: CommandResult,
    started: float,
    idempotency_key: str | None,
) -> list[Any]:
    """The parameters of ``_AUDIT_INSERT``, every text and JSON value redacted."""
    intent_json = redact(raw) if isinstance(raw, dict) else {"value": redact(str(raw))}
    kind = str(intent_json.get("kind", "unknown"))[:100] if isinstance(intent_json, dict) else "unknown"
    key = idempotency_key if result.status != "rejected" else None
    plan = redact(result.plan) if result.plan is not None else None
    return [
        command_id,
        key,
        actor.user,
        actor.surface,
        actor.channel,
        redact_text(raw_text) if raw_text else None,
        kind,
        Jsonb(intent_json),
        Jsonb(plan) if plan is not None else None,
        result.status,
        redact_text(result.message),
        Jsonb(_stored_response(result)),
        (time.perf_counter() - started) * 1000,
    ]


def _audit(
    conn: Connection,
    actor: Actor,
    command_id: UUID,
    raw: Any,
    raw_text: str | None,
    result: CommandResult,
    started: float,
    idempotency_key: str | None,
) -> None:
    values = _audit_values(actor, command_id, raw, raw_text, result, started, idempotency_key)
    if conn.execute(_AUDIT_INSERT, values).fetchone() is None:
        raise _Duplicate()


def audit_applied(conn: Connection, actor: Actor, intent: dict[str, Any], message: str) -> UUID:
    """An ``applied`` audit row for a change that is no intent (API tokens), in ``conn``'s transaction.

    The same row, redaction and listing (``GET /audit``) as a command's, so every change an admin
    makes is found in one place; ``intent`` carries the kind and what changed, never a secret.
    """
    command_id = uuid4()
    answer = CommandResult(status="applied", command_id=command_id, message=message)
    _audit(conn, actor, command_id, intent, None, answer, time.perf_counter(), None)
    return command_id


def _audit_separately(
    db: Database,
    actor: Actor,
    command_id: UUID,
    raw: Any,
    raw_text: str | None,
    result: CommandResult,
    started: float,
    idempotency_key: str | None,
) -> None:
    try:
        with db.connection() as conn:
            _commit_without_flush(conn)
            _audit(conn, actor, command_id, raw, raw_text, result, started, idempotency_key)
    except _Duplicate:
        pass  # the first answer for this key is already stored
    except psycopg.DataError:
        # Input Postgres cannot store as JSON (e.g. NaN): keep its text, never fail the answer.
        with db.connection() as conn:
            _audit(conn, actor, command_id, repr(raw)[:20000], raw_text, result, started, None)


def _reject(
    db: Database,
    actor: Actor,
    command_id: UUID,
    raw: Any,
    raw_text: str | None,
    started: float,
    rejected: _Rejected,
) -> CommandResult:
    result = CommandResult(
        status="rejected",
        command_id=command_id,
        message=rejected.message,
        errors=rejected.errors,
        reason=rejected.reason,
    )
    _audit_separately(db, actor, command_id, raw, raw_text, result, started, None)
    return result
