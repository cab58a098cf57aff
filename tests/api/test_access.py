"""Bearer tokens and the role matrix, over real HTTP: every mutating intent × every role."""

from __future__ import annotations

import httpx
import pytest

from lakeforge.metadata.db import Database
from lakeforge.settings import Settings
from tests.api.api_support import GROUP, ROLES, SOURCE, Api, assert_problem, launch, seed, snapshot

# What the issue specifies: operators run, rerun and pause; editors change config; admins do
# everything incl. compute profiles and sync apply.
MINIMUM_ROLE = {
    "run_now": "operator",
    "rerun_batch": "operator",
    "cancel_run": "operator",
    "pause_schedule": "operator",
    "resume_schedule": "operator",
    "register_source": "editor",
    "update_source": "editor",
    "remove_source": "editor",
    "create_group": "editor",
    "update_group": "editor",
    "set_schedule": "editor",
    "add_dq_rule": "editor",
    "update_dq_rule": "editor",
    "remove_dq_rule": "editor",
    "subscribe_channel": "editor",
    "restore_revision": "editor",
    "upsert_system": "editor",
    "upsert_gold": "editor",
    "remove_gold": "editor",
    "upsert_compute_profile": "admin",
    "sync_jobs": "admin",
}
# One valid intent per kind against the seeded metadata. Everything is sent as a dry run,
# so the database stays the same whatever the role.
MUTATING = {
    "run_now": {"kind": "run_now", "group": "retail"},
    "rerun_batch": {"kind": "rerun_batch", "batch_id": 1},
    "cancel_run": {"kind": "cancel_run", "batch_id": 2},
    "pause_schedule": {"kind": "pause_schedule", "group": "retail"},
    "resume_schedule": {"kind": "resume_schedule", "group": "retail"},
    "register_source": {**SOURCE, "name": "customers"},
    "update_source": {"kind": "update_source", "name": "orders", "enabled": False},
    "remove_source": {"kind": "remove_source", "name": "orders"},
    "create_group": {**GROUP, "name": "finance"},
    "update_group": {"kind": "update_group", "name": "retail", "max_retries": 3},
    "set_schedule": {"kind": "set_schedule", "group": "retail", "quartz_cron": "0 0 4 * * ?"},
    "add_dq_rule": {
        "kind": "add_dq_rule",
        "source": "orders",
        "name": "has_id",
        "expression": "order_id > 0",
    },
    "update_dq_rule": {
        "kind": "update_dq_rule",
        "source": "orders",
        "name": "amount_positive",
        "action": "fail",
    },
    "remove_dq_rule": {"kind": "remove_dq_rule", "source": "orders", "name": "amount_positive"},
    "subscribe_channel": {"kind": "subscribe_channel", "group": "retail", "slack_channel_id": "C0123ABCD"},
    "restore_revision": {"kind": "restore_revision", "entity": "source", "name": "orders", "revision": 1},
    "upsert_system": {"kind": "upsert_system", "name": "shop"},
    "upsert_gold": {"kind": "upsert_gold", "group": "retail", "name": "totals", "sql": "SELECT 1 AS one"},
    "remove_gold": {"kind": "remove_gold", "group": "retail", "name": "totals"},
    "upsert_compute_profile": {"kind": "upsert_compute_profile", "name": "small"},
    "sync_jobs": {"kind": "sync_jobs", "mode": "plan"},
}
RANK = {role: index for index, role in enumerate(ROLES)}


def test_matrix_covers_every_mutating_intent() -> None:
    from lakeforge.commands.intents import INTENTS_BY_KIND

    mutating = {kind for kind, cls in INTENTS_BY_KIND.items() if not cls.read_only}
    assert mutating == set(MUTATING) == set(MINIMUM_ROLE)


def _seed_with_batch(api: Api) -> None:
    seed(api)
    gold = api.command({"kind": "upsert_gold", "group": "retail", "name": "totals", "sql": "SELECT 1 AS one"})
    assert gold.json()["status"] == "applied", gold.text
    with api.db.connection() as conn:
        conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status) OVERRIDING SYSTEM VALUE "
            "VALUES ('retail', 'succeeded'), ('retail', 'running')"
        )


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(api: Api, role: str) -> None:
    _seed_with_batch(api)
    before = snapshot(api.db)
    for kind, intent in MUTATING.items():
        response = api.command(intent, role=role, dry_run=True)
        if RANK[role] >= RANK[MINIMUM_ROLE[kind]]:
            assert response.status_code in (200, 202), (role, kind, response.text)
            assert response.json()["status"] in ("planned", "needs_confirmation"), (role, kind, response.text)
        else:
            body = assert_problem(response, 403)
            assert body["errors"][0]["fix"], body
    assert snapshot(api.db) == before


def test_forbidden_apply_changes_nothing(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    response = api.command({"kind": "update_source", "name": "orders", "enabled": False}, role="operator")
    assert_problem(response, 403)
    assert snapshot(api.db) == before
    response = api.client("editor").post("/sync/apply")
    assert_problem(response, 403)


def test_resource_writes_use_the_same_checks(api: Api) -> None:
    seed(api)
    assert_problem(api.client("viewer").post("/groups/retail/pause"), 403)
    assert api.client("operator").post("/groups/retail/pause").json()["status"] == "applied"
    assert_problem(api.client("operator").patch("/sources/orders", json={"enabled": False}), 403)
    response = api.client("editor").patch("/sources/orders", json={"enabled": False})
    assert response.status_code == 200 and response.json()["status"] == "applied", response.text


def test_cancel_route_uses_the_same_checks(api: Api) -> None:
    _seed_with_batch(api)  # batch 1 succeeded, batch 2 running (its process is gone)
    assert_problem(api.client("viewer").post("/runs/2/cancel"), 403)
    assert_problem(api.client("operator").post("/runs/999/cancel"), 404, "batch_id")
    finished = assert_problem(api.client("operator").post("/runs/1/cancel"), 409, "batch_id")
    assert "already ended (succeeded)" in finished["detail"], finished
    response = api.client("operator").post("/runs/2/cancel")
    assert response.status_code == 200 and response.json()["status"] == "applied", response.text
    assert response.json()["result"]["status"] == "cancelled"
    shown = api.client("viewer").get("/runs/2").json()
    assert (shown["status"], shown["cancelled_by"]) == ("cancelled", "operator_user")


@pytest.mark.parametrize(
    ("role", "group", "status"),
    [
        *[pytest.param(role, None, 403 if role == "viewer" else 404, id=role) for role in ROLES],
        *[
            pytest.param(role, "retail", 403 if role == "viewer" else 404, id=f"{role}-of-retail")
            for role in ROLES
        ],
    ],
)
def test_an_unknown_batch_is_a_404_for_whoever_may_act_on_some_group(
    api: Api, role: str, group: str | None, status: int
) -> None:
    """A batch id that no batch has belongs to no group: an operator bound to one group hears it
    does not exist, as a global one does; a role that can never cancel or rerun is refused."""
    _seed_with_batch(api)  # batch 1 succeeded, batch 2 running (its process is gone)
    from lakeforge.commands.access import create_token

    token = create_token(api.db, f"{role}_of_{group}", role, group=group) if group else api.tokens[role]
    client = api.client(None)
    headers = {"Authorization": f"Bearer {token}"}
    before = snapshot(api.db)
    for path in ("/runs/999999/cancel", "/runs/999999/rerun"):
        body = assert_problem(client.post(path, headers=headers), status)
        if status == 404:
            assert "batch 999999 does not exist" in body["detail"], body
            error = next(e for e in body["errors"] if e["field"] == "batch_id")
            assert "GET /api/v1/runs" in error["fix"], body
        else:
            assert "operator" in body["detail"], body
    # Reading is everyone's: an unknown batch is a 404 whatever the role.
    assert_problem(client.get("/runs/999999", headers=headers), 404, "batch_id")
    shown = client.post(
        "/commands", json={"intent": {"kind": "show_run", "batch_id": 999999}}, headers=headers
    )
    assert_problem(shown, 404, "intent.batch_id")
    assert snapshot(api.db) == before


def test_a_group_bound_operator_still_gets_403_for_a_batch_of_another_group(api: Api) -> None:
    _seed_with_batch(api)  # batches 1 and 2 belong to retail
    from lakeforge.commands.access import create_token

    assert api.command({**GROUP, "name": "finance"}).status_code == 200
    token = create_token(api.db, "fred", "operator", group="finance")
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/runs/1/rerun", "/runs/1/cancel", "/runs/2/cancel"):
        body = assert_problem(api.client(None).post(path, headers=headers), 403)
        assert "on group retail" in body["detail"], body


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        pytest.param({}, "missing bearer token", id="missing"),
        pytest.param({"Authorization": "Bearer lf_not-a-real-token"}, "not accepted", id="unknown"),
        pytest.param({"Authorization": "Bearer"}, "bearer token is empty", id="empty"),
        pytest.param({"Authorization": "Basic YWRtaW46YWRtaW4="}, "'Basic' scheme", id="basic"),
        pytest.param({"Authorization": "lf_no_scheme"}, "has no scheme", id="no-scheme"),
    ],
)
def test_missing_or_bad_token_is_401(api: Api, headers: dict[str, str], says: str) -> None:
    for method, path, body in (
        ("POST", "/commands", {"intent": {"kind": "help"}}),
        ("GET", "/sources", None),
        ("GET", "/runs", None),
        ("POST", "/groups/retail/pause", None),
    ):
        response = httpx.request(method, f"{api.url}/api/v1{path}", json=body, headers=headers)
        problem = assert_problem(response, 401, "Authorization")
        assert "bearer" in response.headers["www-authenticate"].lower(), problem
        assert says in problem["errors"][0]["message"] + problem["detail"], problem


def test_revoked_token_stops_working(settings: Settings, db: Database) -> None:
    from lakeforge.commands.access import revoke_tokens

    with launch(settings.model_copy(update={"api_token_cache_seconds": 0}), db) as api:
        assert api.client("viewer").get("/sources").status_code == 200
        revoke_tokens(api.db, "viewer_user")
        assert_problem(api.client("viewer").get("/sources"), 401, "Authorization")
        assert api.client("editor").get("/sources").status_code == 200


def test_a_token_revoked_by_prefix_or_past_its_expiry_is_refused(settings: Settings, db: Database) -> None:
    from datetime import timedelta

    from lakeforge.commands.access import create_token, list_tokens, revoke_token

    with launch(settings.model_copy(update={"api_token_cache_seconds": 0}), db) as api:
        leaked = create_token(db, "ci", "operator", name="github", expires_in=timedelta(days=90))
        dated = create_token(db, "nightly", "viewer", expires_in=timedelta(hours=1))
        for token in (leaked, dated):
            response = httpx.get(f"{api.url}/api/v1/sources", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
        used = {row["prefix"]: row["last_used_at"] for row in list_tokens(db)}
        assert used[leaked[:8]] is not None and used[dated[:8]] is not None

        assert revoke_token(db, leaked[:8])["revoked_now"]
        with db.connection() as conn:  # an hour has passed, as far as the token knows
            conn.execute(
                "UPDATE api_token SET expires_at = now() - interval '1 second' WHERE token_prefix = %s",
                [dated[:8]],
            )
        for token in (leaked, dated):
            response = httpx.get(f"{api.url}/api/v1/sources", headers={"Authorization": f"Bearer {token}"})
            assert_problem(response, 401, "Authorization")
        statuses = {row["prefix"]: row["status"] for row in list_tokens(db, everything=True)}
        assert statuses.pop(leaked[:8]) == "revoked" and statuses.pop(dated[:8]) == "expired"
        assert set(statuses.values()) == {"active"} and len(statuses) == len(api.tokens)
        assert api.client("viewer").get("/sources").status_code == 200  # other tokens keep working


def test_health_and_metrics_need_no_token(api: Api) -> None:
    assert httpx.get(f"{api.url}/api/v1/health").json() == {"status": "ok", "database": "ok"}
    api.command({"kind": "help"})
    text = httpx.get(f"{api.url}/api/v1/metrics").text
    assert 'lakeforge_api_commands_total{kind="help",status="applied"} 1.0' in text
    assert 'lakeforge_api_requests_total{method="POST",route="/commands",status="200"}' in text
    assert "lakeforge_api_request_seconds_bucket" in text


def test_cors_allows_the_panel(api: Api) -> None:
    response = httpx.options(
        f"{api.url}/api/v1/sources",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    other = httpx.options(
        f"{api.url}/api/v1/sources",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in other.headers
