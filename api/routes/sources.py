"""``/sources``: what to ingest, with its zone configs, rules, runs and revision history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api import quarantine, queries
from api.deps import DbDep, PrincipalDep, SettingsDep
from api.models import QuarantineSample, SourceDetail, SourceSummary
from api.problems import PROBLEM_RESPONSES
from api.routes._common import (
    WRITE_RESPONSES,
    ConfirmToken,
    DryRun,
    IntentFields,
    intent_route,
    not_found,
    visible_names,
    write,
)
from lakeforge.commands import state
from lakeforge.runtime.quarantine import engine_for

router = APIRouter(tags=["sources"], responses=PROBLEM_RESPONSES)
SourceName = Path(max_length=200, description="Source name, e.g. orders.")


@router.get("/sources", response_model=list[SourceSummary])
def list_sources(
    db: DbDep,
    _: PrincipalDep,
    group: str | None = Query(default=None, max_length=200, description="Only this group's sources."),
) -> list[dict[str, Any]]:
    """Every source (or one group's), newest config revision."""
    with db.connection() as conn:
        return queries.list_sources(conn, group)


@router.get("/sources/{name}", response_model=SourceDetail)
def get_source(
    db: DbDep,
    principal: PrincipalDep,
    name: str = SourceName,
    runs: int = Query(default=10, ge=0, le=100, description="How many of the last runs to include."),
    revisions: int = Query(default=20, ge=0, le=200, description="How many config revisions to include."),
) -> dict[str, Any]:
    """One source: raw/bronze/silver/gold config, rules, schedule, last runs, revision history."""
    with db.connection() as conn:
        source = queries.get_source(conn, name, runs=runs, revisions=revisions)
        if source is None:
            candidates = visible_names(conn, principal, "show_source", state.source_names)
            fix = "GET /api/v1/sources lists the registered sources."
            raise not_found("source", name, "name", fix, candidates)
    return source


@router.get("/sources/{name}/quarantine")
def get_quarantine(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    name: str = SourceName,
    limit: int = Query(default=50, ge=1, le=500, description="Rows to return, newest batch first."),
) -> QuarantineSample:
    """A sample of the rows the source's quarantine rules set aside (``<silver table>_quarantine``),
    newest batch first, each with ``_failed_rules``: the names of every rule the row failed.
    A caller bound to some groups only reads their sources' quarantine (403 otherwise)."""
    with db.connection() as conn:
        found = quarantine.quarantine_table(conn, name, principal)
    return quarantine.sample(engine_for(settings), found, limit)


@router.post("/sources", responses=WRITE_RESPONSES, openapi_extra=intent_route("register_source"))
def register_source(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Register a source (intent ``register_source``)."""
    return write(request, principal, "register_source", fields, dry_run=dry_run, confirm_token=confirm_token)


@router.patch(
    "/sources/{name}", responses=WRITE_RESPONSES, openapi_extra=intent_route("update_source", "name")
)
def update_source(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    name: str = SourceName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Change a source (intent ``update_source``)."""
    return write(
        request, principal, "update_source", fields, dry_run=dry_run, confirm_token=confirm_token, name=name
    )


@router.delete("/sources/{name}", responses=WRITE_RESPONSES)
def remove_source(
    request: Request,
    principal: PrincipalDep,
    name: str = SourceName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Remove a source (intent ``remove_source``): answers a plan to confirm with ``confirm_token``."""
    return write(
        request, principal, "remove_source", {}, dry_run=dry_run, confirm_token=confirm_token, name=name
    )


@router.post(
    "/sources/{name}/restore",
    responses=WRITE_RESPONSES,
    openapi_extra=intent_route("restore_revision", "name", "entity"),
)
def restore_source(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    name: str = SourceName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Restore a source to ``{"revision": N}`` (intent ``restore_revision``); needs confirmation."""
    return write(
        request,
        principal,
        "restore_revision",
        fields,
        dry_run=dry_run,
        confirm_token=confirm_token,
        name=name,
        entity="source",
    )
