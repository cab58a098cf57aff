"""``/me``: who the bearer token belongs to and what it may do (the panel hides what it may not)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PrincipalDep
from api.models import Me, RoleBinding
from api.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["me"], responses=PROBLEM_RESPONSES)


@router.get("/me")
def me(principal: PrincipalDep) -> Me:
    """The caller: user name, role bindings (global or per group) and the intents it may run."""
    return Me(
        user=principal.user,
        roles=[RoleBinding(role=role, group=group) for role, group in principal.bindings],
        allowed_kinds=principal.allowed_kinds(),
        global_kinds=principal.global_kinds(),
        group_kinds=principal.group_kinds(),
        is_admin=principal.role_for(None) == "admin",
    )
