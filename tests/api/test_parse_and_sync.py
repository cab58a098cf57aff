"""``/commands/parse`` proposes without executing; ``/sync`` plans against the local workspace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakeforge.metadata.db import Database
from lakeforge.settings import Settings
from tests.api.api_support import Api, assert_problem, free_port, launch, seed, snapshot


def test_parse_proposes_and_never_executes(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    response = api.client("viewer").post("/commands/parse", json={"text": "pause retail"})
    assert response.status_code == 200, response.text
    proposal = response.json()
    assert proposal["intent"] == {"kind": "pause_schedule", "group": "retail"}
    assert snapshot(api.db) == before
    applied = api.command(proposal["intent"], role="operator")
    assert applied.json()["status"] == "applied"

    vague = api.client("viewer").post("/commands/parse", json={"text": "register a source"}).json()
    assert vague["intent"] is None and vague["clarify"]
    assert_problem(api.client("viewer").post("/commands/parse", json={"text": ""}), 422, "text")


@pytest.fixture
def workspace_api(settings: Settings, db: Database) -> Iterator[tuple[Api, Settings]]:
    """The API (seeded) and its settings, whose workspace port a real local workspace listens on."""
    from lakeforge.localworkspace.server import LocalWorkspace

    port = free_port()
    local = settings.model_copy(update={"workspace_port": port})
    workspace = LocalWorkspace(local, db, port=port)
    workspace.start()
    try:
        with launch(local, db) as api:
            seed(api)
            yield api, local
    finally:
        workspace.stop()


def test_sync_plan_against_the_local_workspace(workspace_api: tuple[Api, Settings]) -> None:
    api, _ = workspace_api
    response = api.client("viewer").get("/sync/plan")
    assert response.status_code == 200, response.text
    plan = response.json()
    # A real plan from the reconciler: the group's job and pipeline (notebooks not uploaded yet).
    assert {"job:group.retail", "pipeline:group.retail"} <= {c["resource"] for c in plan["changes"]}
    assert plan["api_writes"] == 0
    refused = assert_problem(api.client("editor").post("/sync/apply"), 403, "kind")
    # Refused by the executor, as through POST /commands: audited, with the role it needs.
    assert refused["reason"] == "permission" and refused["command_id"]
    assert "admin" in refused["detail"]


def test_a_sync_confirmation_applies_only_the_plan_that_was_shown(
    workspace_api: tuple[Api, Settings],
) -> None:
    from lakeforge.orchestration import reconciler
    from lakeforge.orchestration.client import workspace_client

    api, local = workspace_api
    reconciler.upload_notebooks(workspace_client(local), local.workspace_notebook_dir)
    admin = api.client()
    shown = admin.post("/sync/apply", params={"dry_run": "true"}).json()
    assert shown["status"] == "planned", shown
    heads = {(line["op"], line["entity"], line["key"]) for line in shown["plan"] if line["field"] is None}
    assert {("create", "job", "group.retail"), ("create", "pipeline", "group.retail")} <= heads, shown
    # The read-only plan carries the same lines, so the panel shows what Apply would confirm.
    assert admin.get("/sync/plan").json()["lines"] == shown["plan"]
    # The metadata moves after the plan was shown: the job it planned is not the one to make.
    assert api.command({"kind": "update_group", "name": "retail", "max_retries": 3}).status_code == 200
    stale = admin.post("/sync/apply", params={"confirm_token": shown["confirm_token"]})
    assert "changed since this plan was shown" in assert_problem(stale, 409)["detail"]
    after = admin.get("/sync/plan").json()
    assert "job:group.retail" in after["create"], "nothing may have been applied"
    # A fresh plan, confirmed, is applied; the next plan has nothing left to do.
    fresh = admin.post("/sync/apply", params={"dry_run": "true"}).json()
    applied = admin.post("/sync/apply", params={"confirm_token": fresh["confirm_token"]})
    assert applied.status_code == 200 and applied.json()["status"] == "applied", applied.text
    assert "job:group.retail" in applied.json()["result"]["sync"]["created"]
    again = admin.post("/sync/apply", params={"dry_run": "true"}).json()
    assert [line["op"] for line in again["plan"]] == ["touch"], again["plan"]


def test_sync_plan_says_when_the_workspace_is_down(settings: Settings, db: Database) -> None:
    with launch(settings.model_copy(update={"workspace_port": free_port()}), db) as api:
        response = api.client("viewer").get("/sync/plan")
        body = assert_problem(response, 503, "LAKEFORGE_WORKSPACE_PORT")
        assert body["errors"][0]["fix"]
        # A script told when to try again backs off instead of hammering a workspace that is down.
        assert int(response.headers["retry-after"]) > 0


def test_sync_apply_says_when_the_workspace_is_down(settings: Settings, db: Database) -> None:
    port = free_port()
    with launch(settings.model_copy(update={"workspace_port": port}), db) as api:
        seed(api)
        # A workspace that is down is a 503 to retry later, not a 422 blaming the request.
        body = assert_problem(api.client().post("/sync/apply"), 503, "LAKEFORGE_WORKSPACE_PORT")
        assert body["errors"][0]["fix"]
        # The app's own settings say where the workspace is, not the environment's defaults.
        assert f"127.0.0.1:{port}" in body["detail"], body["detail"]
        # The plan of an apply is the workspace's: without the workspace there is none to confirm.
        planned = api.client().post("/sync/apply", params={"dry_run": "true"})
        assert_problem(planned, 503, "LAKEFORGE_WORKSPACE_PORT")


def test_a_command_whose_workspace_is_down_is_a_503_naming_the_setting(
    settings: Settings, db: Database
) -> None:
    with launch(settings.model_copy(update={"workspace_port": free_port()}), db) as api:
        seed(api)
        before = snapshot(api.db)
        response = api.command({"kind": "sync_jobs", "mode": "apply"})
        # The request was right and can be sent again once the workspace is back: not a 422.
        body = assert_problem(response, 503, "LAKEFORGE_WORKSPACE_PORT")
        assert body["reason"] == "unavailable" and body["command_id"]
        assert int(response.headers["retry-after"]) > 0
        assert body["errors"][0]["fix"] and not body["errors"][0]["field"].startswith("intent")
        assert snapshot(api.db) == before
        with api.db.connection() as conn:
            outcome = conn.execute(
                "SELECT outcome FROM command_audit WHERE id = %s", (body["command_id"],)
            ).fetchone()
        assert outcome["outcome"] == "rejected"
