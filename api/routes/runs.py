"""``/runs``: the run log, newest first, with keyset pagination that stays fast on large logs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api import queries
from api.deps import DbDep, PrincipalDep
from api.models import BatchDetail, RunsPage
from api.problems import PROBLEM_RESPONSES, ApiProblem
from api.routes._common import (
    WRITE_RESPONSES,
    ConfirmToken,
    DryRun,
    OptionalIntentFields,
    intent_route,
    unknown_cursor,
    write,
)
from lakeforge.metadata.models import RunStatus

router = APIRouter(tags=["runs"], responses=PROBLEM_RESPONSES)
BatchId = Path(ge=1, le=2**63 - 1, description="The batch id from /runs.")


@router.get("/runs", response_model=RunsPage)
def list_runs(
    db: DbDep,
    _: PrincipalDep,
    status: Annotated[RunStatus | None, Query(description="Only batches in this status.")] = None,
    group: str | None = Query(default=None, max_length=200, description="Only this group's batches."),
    source: str | None = Query(
        default=None, max_length=200, description="Batches of this source or its group."
    ),
    since: Annotated[
        datetime | None, Query(description="Only batches created at or after this time.")
    ] = None,
    limit: int = Query(default=50, ge=1, le=500, description="Batches per page (at most 500)."),
    cursor: str | None = Query(
        default=None, max_length=20, description="The next_cursor of the previous page (opaque)."
    ),
) -> dict[str, Any]:
    """Batches newest first. Follow ``next_cursor`` for the next page; it is null on the last page."""
    before = _decode_cursor(cursor)
    with db.connection() as conn:
        rows = queries.list_runs(
            conn, limit=limit + 1, before=before, status=status, group=group, source=source, since=since
        )
    more = len(rows) > limit
    items = rows[:limit]
    return {"items": items, "next_cursor": str(items[-1]["batch_id"]) if more else None}


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit() or int(cursor) > 2**63 - 1:
        raise unknown_cursor(cursor)
    return int(cursor)


@router.get("/runs/{batch_id}", response_model=BatchDetail)
def get_run(db: DbDep, _: PrincipalDep, batch_id: int = BatchId) -> dict[str, Any]:
    """One batch: zones → tables → steps, the DQ results and every error, where it happened."""
    with db.connection() as conn:
        run = queries.get_run(conn, batch_id)
    if run is None:
        raise ApiProblem(
            404,
            f"no batch {batch_id}",
            errors=[
                {"field": "batch_id", "message": "unknown batch", "fix": "GET /api/v1/runs lists batches."}
            ],
        )
    return run


@router.post(
    "/runs/{batch_id}/rerun", responses=WRITE_RESPONSES, openapi_extra=intent_route("rerun_batch", "batch_id")
)
def rerun_batch(
    request: Request,
    principal: PrincipalDep,
    fields: OptionalIntentFields = None,
    batch_id: int = BatchId,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Run a batch again (intent ``rerun_batch``); the body may name the ``zones`` to run."""
    return write(
        request,
        principal,
        "rerun_batch",
        fields,
        dry_run=dry_run,
        confirm_token=confirm_token,
        batch_id=batch_id,
    )


@router.post("/runs/{batch_id}/cancel", responses=WRITE_RESPONSES)
def cancel_run(
    request: Request,
    principal: PrincipalDep,
    batch_id: int = BatchId,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Stop a queued or running batch (intent ``cancel_run``): it ends ``cancelled`` after the table
    it is writing; a job run carrying it is cancelled in the workspace too."""
    return write(
        request,
        principal,
        "cancel_run",
        None,
        dry_run=dry_run,
        confirm_token=confirm_token,
        batch_id=batch_id,
    )
