"""``/sync``: what the reconciler would change in the Databricks workspace, and applying it.

``GET /sync/plan`` only reads. ``POST /sync/apply`` is the ``sync_jobs`` intent through the
executor (audited like every write) and needs the admin role.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.deps import DbDep, PrincipalDep, SettingsDep
from api.problems import PROBLEM_RESPONSES, ApiProblem
from api.routes._common import DryRun, write
from lakeforge.commands.access import PermissionDenied, Principal
from lakeforge.errors import LakeForgeError
from lakeforge.settings import Settings

router = APIRouter(tags=["sync"], responses=PROBLEM_RESPONSES)


def workspace_client(settings: Settings) -> Any:
    """The Databricks workspace LakeForge manages: the configured host, else the local workspace."""
    from databricks.sdk import WorkspaceClient

    if settings.databricks_host:
        return WorkspaceClient(host=settings.databricks_host)
    token = os.environ.get("DATABRICKS_TOKEN", "local")
    return WorkspaceClient(host=f"http://127.0.0.1:{settings.workspace_port}", token=token)


@router.get("/sync/plan")
def sync_plan(db: DbDep, settings: SettingsDep, _: PrincipalDep) -> Any:
    """The jobs and pipelines the reconciler would create, update or delete (nothing is changed)."""
    try:
        from lakeforge.orchestration import reconciler
    except ImportError:
        raise ApiProblem(
            404,
            "job sync is not installed in this LakeForge",
            errors=[
                {"field": "sync", "message": "no reconciler", "fix": "Install the orchestration package."}
            ],
        ) from None
    try:
        plan = reconciler.plan(db, workspace_client(settings))  # type: ignore[attr-defined]
    except LakeForgeError as error:
        raise ApiProblem.from_error(409, error) from None
    return JSONResponse(
        jsonable_encoder(plan.model_dump(mode="json") if hasattr(plan, "model_dump") else plan)
    )


@router.post("/sync/apply")
def sync_apply(request: Request, principal: PrincipalDep, dry_run: DryRun = False) -> JSONResponse:
    """Apply the sync plan (intent ``sync_jobs``); admin only."""
    if not _is_admin(principal):
        raise ApiProblem.from_error(
            403,
            PermissionDenied(
                "applying a sync needs the admin role",
                field="role",
                fix="Ask an admin, or use GET /sync/plan.",
            ),
        )
    return write(request, principal, "sync_jobs", {}, dry_run=dry_run)


def _is_admin(principal: Principal) -> bool:
    return principal.role_for(None) == "admin"
