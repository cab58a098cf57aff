"""``/sync``: what the reconciler would change in the Databricks workspace, and applying it.

``GET /sync/plan`` only reads. ``POST /sync/apply`` is the ``sync_jobs`` intent through the
executor (audited like every write) and needs the admin role.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import DbDep, PrincipalDep, SettingsDep
from api.problems import PROBLEM_RESPONSES, UNAVAILABLE_RESPONSE, ApiProblem
from api.routes._common import WRITE_RESPONSES, ConfirmToken, DryRun, write
from lakeforge.errors import LakeForgeError, UnavailableError

router = APIRouter(tags=["sync"], responses={**PROBLEM_RESPONSES, **UNAVAILABLE_RESPONSE})


@router.get("/sync/plan")
def sync_plan(db: DbDep, settings: SettingsDep, _: PrincipalDep) -> dict[str, Any]:
    """The jobs and pipelines the reconciler would create, update or delete (nothing is changed).

    ``lines`` are the same changes as plan lines, as ``POST /sync/apply?dry_run=true`` shows them,
    so a screen can show the plan before anyone asks to apply it.
    """
    from lakeforge.commands.plans import workspace_lines
    from lakeforge.orchestration import reconciler
    from lakeforge.orchestration.client import workspace_client

    try:
        plan = reconciler.plan(db, workspace_client(settings), settings=settings)
    except UnavailableError as error:
        # A workspace that is down (the local one answers at once) is a 503 to retry later.
        raise ApiProblem.from_error(503, error) from None
    except LakeForgeError as error:
        raise ApiProblem.from_error(409, error) from None
    except Exception as error:
        raise ApiProblem(
            503,
            f"the Databricks workspace did not answer ({type(error).__name__})",
            errors=[
                {
                    "field": "LAKEFORGE_DATABRICKS_HOST",
                    "message": "workspace unreachable",
                    "fix": "Check the Databricks host, its credentials and the network, then try again.",
                }
            ],
        ) from None
    summary = dict(plan.to_json())
    return {**summary, "lines": workspace_lines(summary)}


@router.post("/sync/apply", responses=WRITE_RESPONSES)
def sync_apply(
    request: Request,
    principal: PrincipalDep,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Apply the sync plan (intent ``sync_jobs``); admin only. A refusal (403) and a workspace
    that is down (503, reason ``unavailable``) are answered and audited by the executor, as
    through ``POST /commands``."""
    return write(request, principal, "sync_jobs", {}, dry_run=dry_run, confirm_token=confirm_token)
