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


def test_a_group_binding_never_lists_intents_that_need_a_global_one(api: Api) -> None:
    seed(api)
    token = create_token(api.db, "ana", "editor", group="retail")
    client = api.client(None)
    headers = {"Authorization": f"Bearer {token}"}
    allowed = client.get("/me", headers=headers).json()["allowed_kinds"]
    assert "create_group" not in allowed and "upsert_system" not in allowed, allowed
    assert {"register_source", "set_schedule", "upsert_gold"} <= set(allowed)
    # What /me lists is what the executor allows: the unlisted ones are refused.
    for intent in ({"kind": "create_group", "name": "finance"}, {"kind": "upsert_system", "name": "crm"}):
        response = client.post("/commands", json={"intent": intent}, headers=headers)
        assert_problem(response, 403)


def test_group_kinds_say_what_a_group_binding_allows_where(api: Api) -> None:
    """The panel hides a button per group from ``global_kinds`` and ``group_kinds``: they must agree
    with what the executor does on the bound group and on another one."""
    seed(api)
    assert api.command({"kind": "create_group", "name": "finance"}).status_code == 200
    token = create_token(api.db, "olga", "operator", group="retail")
    client = api.client(None)
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/me", headers=headers).json()
    assert "run_now" not in body["global_kinds"] and "list_runs" in body["global_kinds"]
    assert list(body["group_kinds"]) == ["retail"]
    retail = set(body["group_kinds"]["retail"])
    assert {"run_now", "rerun_batch", "pause_schedule"} <= retail
    assert "update_source" not in retail and "create_group" not in retail
    # The executor agrees: a dry run of run_now is planned on retail and refused on finance.
    for group, status in (("retail", 200), ("finance", 403)):
        intent = {"kind": "run_now", "group": group}
        response = client.post("/commands", json={"intent": intent, "dry_run": True}, headers=headers)
        assert response.status_code == status, response.text
