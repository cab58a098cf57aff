"""``/commands/parse`` proposes without executing; ``/sync`` plans against the local workspace."""

from __future__ import annotations

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


def test_sync_plan_against_the_local_workspace(settings: Settings, db: Database) -> None:
    from lakeforge.localworkspace.server import LocalWorkspace

    port = free_port()
    local = settings.model_copy(update={"workspace_port": port})
    workspace = LocalWorkspace(local, db, port=port)
    workspace.start()
    try:
        with launch(local, db) as api:
            seed(api)
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
    finally:
        workspace.stop()


def test_sync_plan_says_when_the_workspace_is_down(settings: Settings, db: Database) -> None:
    with launch(settings.model_copy(update={"workspace_port": free_port()}), db) as api:
        body = assert_problem(api.client("viewer").get("/sync/plan"), 503, "LAKEFORGE_WORKSPACE_PORT")
        assert body["errors"][0]["fix"]


def test_sync_apply_says_when_the_workspace_is_down(settings: Settings, db: Database) -> None:
    port = free_port()
    with launch(settings.model_copy(update={"workspace_port": port}), db) as api:
        seed(api)
        # A workspace that is down is a 503 to retry later, not a 422 blaming the request.
        body = assert_problem(api.client().post("/sync/apply"), 503, "LAKEFORGE_WORKSPACE_PORT")
        assert body["errors"][0]["fix"]
        # The app's own settings say where the workspace is, not the environment's defaults.
        assert f"127.0.0.1:{port}" in body["detail"], body["detail"]
        # Planning the sync needs no workspace.
        planned = api.client().post("/sync/apply", params={"dry_run": "true"})
        assert planned.json()["status"] == "planned", planned.text


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
        assert body["errors"][0]["fix"] and not body["errors"][0]["field"].startswith("intent")
        assert snapshot(api.db) == before
        with api.db.connection() as conn:
            outcome = conn.execute(
                "SELECT outcome FROM command_audit WHERE id = %s", (body["command_id"],)
            ).fetchone()
        assert outcome["outcome"] == "rejected"
