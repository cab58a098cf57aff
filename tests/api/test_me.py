"""``GET /me`` over real HTTP: the caller, its bindings and the intents its roles allow."""

from __future__ import annotations

from lakeforge.commands.access import create_token, kinds_for_role
from tests.api.api_support import Api, assert_problem, seed


def test_me_names_the_user_roles_and_allowed_kinds_per_role(api: Api) -> None:
    for role in ("viewer", "operator", "editor", "admin"):
        body = api.client(role).get("/me").json()
        assert body["user"] == f"{role}_user"
        assert body["roles"] == [{"role": role, "group": None}]
        assert sorted(body["allowed_kinds"]) == sorted(kinds_for_role(role))
        assert body["is_admin"] is (role == "admin")
    assert "sync_jobs" not in api.client("editor").get("/me").json()["allowed_kinds"]
    assert "sync_jobs" in api.client("admin").get("/me").json()["allowed_kinds"]


def test_me_shows_a_group_binding_and_refuses_a_missing_token(api: Api) -> None:
    seed(api)
    token = create_token(api.db, "ana", "editor", group="retail")
    body = api.client(None).get("/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["user"] == "ana"
    assert body["roles"] == [{"role": "editor", "group": "retail"}]
    assert "update_source" in body["allowed_kinds"] and "sync_jobs" not in body["allowed_kinds"]
    assert body["is_admin"] is False
    assert_problem(api.client(None).get("/me"), 401, "Authorization")
