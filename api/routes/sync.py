"""``/sync``: what the reconciler would change in the Databricks workspace, and applying it.

``GET /sync/plan`` only reads. ``POST /sync/apply`` is the ``sync_jobs`` intent through the
executor (audited like every write) and needs the admin role.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import DbDep, PrincipalDep, SettingsDep
from api.problems import PROBLEM_RESPONSES, ApiProblem
from api.routes._common import ConfirmToken, DryRun, write
from lakeforge.commands.access import PermissionDenied
from lakeforge.errors import LakeForgeError
from lakeforge.settings import Settings

router = APIRouter(tags=["sync"], responses=PROBLEM_RESPONSES)


@router.get("/sync/plan")
def sync_plan(db: DbDep, settings: SettingsDep, _: PrincipalDep) -> dict[str, Any]:
    """The jobs and pipelines the reconciler would create, update or delete (nothing is changed)."""
    from lakeforge.orchestration import reconciler
    from lakeforge.orchestration.client import workspace_client

    if _local_workspace_down(settings):
        # The SDK probes and retries refused connections for minutes; answer at once instead.
        raise _unreachable("the local workspace is not running")
    try:
        plan = reconciler.plan(db, workspace_client(settings), settings=settings)
    except LakeForgeError as error:
        raise ApiProblem.from_error(409, error) from None
    except Exception as error:
        raise _unreachable(f"the Databricks workspace did not answer ({type(error).__name__})") from None
    return dict(plan.to_json())


@router.post("/sync/apply")
def sync_apply(
    request: Request,
    settings: SettingsDep,
    principal: PrincipalDep,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Apply the sync plan (intent ``sync_jobs``); admin only."""
    if principal.role_for(None) != "admin":
        raise ApiProblem.from_error(
            403,
            PermissionDenied(
                "applying a sync needs the admin role",
                field="role",
                fix="Ask an admin, or use GET /sync/plan.",
            ),
        )
    if not dry_run and _local_workspace_down(settings):
        # A workspace that is down is a 503 to retry, as on GET /sync/plan, not a 422 about the input.
        raise _unreachable("the local workspace is not running")
    return write(request, principal, "sync_jobs", {}, dry_run=dry_run, confirm_token=confirm_token)


def _local_workspace_down(settings: Settings) -> bool:
    """No Databricks host is configured and the local workspace stand-in does not listen."""
    from lakeforge.orchestration.client import local_workspace_url

    local = not settings.databricks_host and not os.environ.get("DATABRICKS_HOST")
    return local and not _listening(local_workspace_url(settings))


def _unreachable(detail: str) -> ApiProblem:
    return ApiProblem(
        503,
        detail,
        errors=[
            {
                "field": "LAKEFORGE_DATABRICKS_HOST",
                "message": "workspace unreachable",
                "fix": "Start the local workspace (lakeforge up) or check the Databricks host and token.",
            }
        ],
    )


def _listening(url: str | None) -> bool:
    parsed = urlsplit(url or "")
    if not parsed.hostname:
        return False
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 443), timeout=1):
            return True
    except OSError:
        return False
