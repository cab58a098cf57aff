"""Read models for the smaller resources: ``/dq-rules``, ``/compute-profiles``, ``/channels``, ``/audit``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api import queries
from api.deps import DbDep, PrincipalDep
from api.models import AuditPage, ChannelRow, ComputeProfileRow, DqRuleRow
from api.problems import PROBLEM_RESPONSES, ApiProblem
from api.routes._common import (
    WRITE_RESPONSES,
    ConfirmToken,
    DryRun,
    IntentFields,
    intent_route,
    unknown_cursor,
    write,
)

router = APIRouter(responses=PROBLEM_RESPONSES)
RuleSource = Path(max_length=200, description="The source the rule belongs to, e.g. orders.")
RuleName = Path(max_length=200, description="Rule name, unique within its source.")
Outcome = Literal["applied", "planned", "needs_confirmation", "rejected", "failed"]


@router.get("/dq-rules", tags=["dq-rules"], response_model=list[DqRuleRow])
def list_dq_rules(
    db: DbDep,
    _: PrincipalDep,
    source: str | None = Query(default=None, max_length=200, description="Only this source's rules."),
    trend: int = Query(default=10, ge=0, le=100, description="Recent outcomes per rule."),
) -> list[dict[str, Any]]:
    """Data-quality rules with their recent pass/fail trend (newest first)."""
    with db.connection() as conn:
        return queries.list_dq_rules(conn, source, trend)


@router.post(
    "/dq-rules", tags=["dq-rules"], responses=WRITE_RESPONSES, openapi_extra=intent_route("add_dq_rule")
)
def add_dq_rule(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Add a rule (intent ``add_dq_rule``)."""
    return write(request, principal, "add_dq_rule", fields, dry_run=dry_run, confirm_token=confirm_token)


@router.patch(
    "/dq-rules/{source}/{name}",
    tags=["dq-rules"],
    responses=WRITE_RESPONSES,
    openapi_extra=intent_route("update_dq_rule", "source", "name"),
)
def update_dq_rule(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    source: str = RuleSource,
    name: str = RuleName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Change a rule (intent ``update_dq_rule``)."""
    return write(
        request,
        principal,
        "update_dq_rule",
        fields,
        dry_run=dry_run,
        confirm_token=confirm_token,
        source=source,
        name=name,
    )


@router.delete("/dq-rules/{source}/{name}", tags=["dq-rules"], responses=WRITE_RESPONSES)
def remove_dq_rule(
    request: Request,
    principal: PrincipalDep,
    source: str = RuleSource,
    name: str = RuleName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Remove a rule (intent ``remove_dq_rule``): answers a plan to confirm with ``confirm_token``."""
    return write(
        request,
        principal,
        "remove_dq_rule",
        {},
        dry_run=dry_run,
        confirm_token=confirm_token,
        source=source,
        name=name,
    )


@router.get("/compute-profiles", tags=["compute-profiles"], response_model=list[ComputeProfileRow])
def list_compute_profiles(db: DbDep, _: PrincipalDep) -> list[dict[str, Any]]:
    """Compute profiles: the cluster or serverless settings a group's job runs on."""
    with db.connection() as conn:
        return queries.list_compute_profiles(conn)


@router.put(
    "/compute-profiles/{name}",
    tags=["compute-profiles"],
    responses=WRITE_RESPONSES,
    openapi_extra=intent_route("upsert_compute_profile", "name"),
)
def upsert_compute_profile(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    name: str = Path(max_length=200, description="Profile name, e.g. small."),
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Create or replace a compute profile (intent ``upsert_compute_profile``, admin only)."""
    return write(
        request,
        principal,
        "upsert_compute_profile",
        fields,
        dry_run=dry_run,
        confirm_token=confirm_token,
        name=name,
    )


@router.get("/channels", tags=["channels"], response_model=list[ChannelRow])
def list_channels(db: DbDep, _: PrincipalDep) -> list[dict[str, Any]]:
    """Notification channels and the groups posting to each."""
    with db.connection() as conn:
        return queries.list_channels(conn)


@router.post(
    "/channels", tags=["channels"], responses=WRITE_RESPONSES, openapi_extra=intent_route("subscribe_channel")
)
def subscribe_channel(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Point a group's notifications at a channel (intent ``subscribe_channel``)."""
    return write(
        request, principal, "subscribe_channel", fields, dry_run=dry_run, confirm_token=confirm_token
    )


@router.get("/audit", tags=["audit"], response_model=AuditPage)
def list_audit(
    db: DbDep,
    _: PrincipalDep,
    limit: int = Query(default=50, ge=1, le=500, description="Commands per page (at most 500)."),
    cursor: str | None = Query(
        default=None, max_length=64, description="The next_cursor of the previous page (opaque)."
    ),
    before: Annotated[
        datetime | None,
        Query(description="Older spelling of the cursor: commands strictly before this time (next_before)."),
    ] = None,
    actor: str | None = Query(default=None, max_length=200, description="Only this user's commands."),
    kind: str | None = Query(default=None, max_length=100, description="Only this intent kind."),
    outcome: Annotated[Outcome | None, Query(description="Only commands with this outcome.")] = None,
) -> dict[str, Any]:
    """Every command, newest first: who, from where, what, the plan and the outcome. Follow
    ``next_cursor`` (as on ``/runs``); ``before``/``next_before`` remain for older clients."""
    before = _audit_position(cursor, before)
    filters: dict[str, Any] = {"actor": actor, "kind": kind, "outcome": outcome}
    with db.connection() as conn:
        rows = queries.list_audit(conn, limit=limit + 1, before=before, **filters)
        if len(rows) <= limit:
            return {"items": rows, "next_cursor": None, "next_before": None}
        # The cursor is a time and the next page takes rows strictly older, so a page must not end
        # between commands of one instant: those move to the next page whole.
        boundary = rows[limit]["created_at"]
        page = [row for row in rows[:limit] if row["created_at"] != boundary]
        if not page:
            # The whole page shares the instant of the row after it: answer every command of it.
            page = queries.list_audit(conn, limit=_SAME_INSTANT_MAX, at=boundary, **filters)
    last: datetime = page[-1]["created_at"]
    return {"items": page, "next_cursor": last.isoformat(), "next_before": last}


def _audit_position(cursor: str | None, before: datetime | None) -> datetime | None:
    """Where the page starts: ``cursor`` (what ``next_cursor`` gave) or the older ``before``."""
    if not cursor:
        return before
    if before is not None:
        raise ApiProblem(
            422,
            "cursor and before both given",
            errors=[
                {
                    "field": "before",
                    "message": "cursor and before name the same position",
                    "fix": "Pass only cursor (the next_cursor of the last page).",
                }
            ],
        )
    try:
        position = datetime.fromisoformat(cursor)
    except ValueError:
        position = None
    if position is None or position.tzinfo is None:
        raise unknown_cursor(cursor)
    return position


_SAME_INSTANT_MAX = 10_000
