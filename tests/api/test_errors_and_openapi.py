"""Every error is problem+json; the OpenAPI spec publishes the intent union."""

from __future__ import annotations

import httpx

from tests.api.api_support import Api, assert_problem, seed, snapshot


def test_openapi_publishes_the_intent_union(api: Api) -> None:
    spec = httpx.get(f"{api.url}/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    schemas = spec["components"]["schemas"]
    assert schemas["CommandRequest"]["properties"]["intent"]["$ref"] == "#/components/schemas/Intent"
    intent = schemas["Intent"]
    variants = intent.get("oneOf") or intent.get("anyOf")
    kinds = {ref["$ref"].rsplit("/", 1)[-1] for ref in variants}
    assert {"RegisterSource", "UpdateSource", "RemoveSource", "SetSchedule", "RunNow", "Help"} <= kinds
    assert intent["discriminator"]["propertyName"] == "kind"
    assert schemas["RegisterSource"]["additionalProperties"] is False
    assert "LakeForgeToken" in spec["components"]["securitySchemes"]
    assert "/api/v1/runs/{batch_id}" in spec["paths"]


def test_unknown_route_and_method_are_problems(api: Api) -> None:
    assert_problem(api.client().get("/nothing-here"), 404)
    assert_problem(api.client().delete("/health"), 405)


def test_query_validation_names_the_parameter(api: Api) -> None:
    assert_problem(api.client().get("/runs", params={"limit": 0}), 422, "limit")
    assert_problem(api.client().get("/runs", params={"since": "yesterday-ish"}), 422, "since")
    assert_problem(api.client().get("/runs/not-a-number"), 422, "batch_id")


def test_resource_write_errors_name_body_fields(api: Api) -> None:
    seed(api)
    response = api.client().patch("/sources/orders", json={"location": "", "flavour": "x"})
    body = assert_problem(response, 422)
    fields = {error["field"] for error in body["errors"]}
    assert fields & {"location", "flavour"}, body
    response = api.client().put("/groups/retail/schedule", json={"quartz_cron": "0 2 * * *"})
    body = assert_problem(response, 422, "quartz_cron")
    assert "0 0 2" in body["errors"][0]["message"] + (body["errors"][0]["fix"] or ""), body
    response = api.client().post(
        "/dq-rules", json={"source": "orders", "name": "x", "expression": "1=1; DROP TABLE t"}
    )
    assert_problem(response, 422, "expression")


def test_rejected_command_carries_the_command_id(api: Api) -> None:
    seed(api)
    body = assert_problem(
        api.command({"kind": "pause_schedule", "group": "ghost"}), (404, 422), "intent.group"
    )
    assert body["outcome"] == "rejected"


def test_confirmation_flow_on_resource_routes(api: Api) -> None:
    seed(api)
    first = api.client().delete("/sources/orders")
    assert first.status_code == 202, first.text
    token = first.json()["confirm_token"]
    assert api.client().get("/sources/orders").status_code == 200
    wrong = api.client().delete("/sources/orders", params={"confirm_token": "nope"})
    assert_problem(wrong, (403, 409, 422), "confirm_token")
    done = api.client().delete("/sources/orders", params={"confirm_token": token})
    assert done.status_code == 200 and done.json()["status"] == "applied", done.text
    assert_problem(api.client().get("/sources/orders"), 404)


def test_unknown_query_parameters_are_refused_with_the_spelling(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    # A typo of dry_run must not apply the change it was meant to plan.
    typo = assert_problem(api.client().post("/groups/retail/pause", params={"dryrun": "true"}), 422, "dryrun")
    assert "dry_run" in typo["errors"][0]["fix"], typo
    assert snapshot(api.db) == before
    # A misspelt filter is not an unfiltered list.
    body = assert_problem(api.client().get("/runs", params={"stauts": "failed"}), 422, "stauts")
    assert "Did you mean 'status'?" in body["errors"][0]["fix"], body
    assert_problem(api.client().get("/me", params={"verbose": "1"}), 422, "verbose")
    # Declared parameters, including ones of dependencies, still pass.
    assert api.client().get("/runs", params={"status": "failed", "limit": 5}).status_code == 200
    assert api.client().get("/schedules/preview", params={"quartz_cron": "0 0 2 * * ?"}).status_code == 200


def test_every_write_route_plans_on_dry_run_and_applies_its_token(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    planned = api.client("operator").post("/groups/retail/pause", params={"dry_run": "true"})
    assert planned.status_code == 200 and planned.json()["status"] == "planned", planned.text
    assert snapshot(api.db) == before  # a dry run of pause changes nothing
    token = planned.json()["confirm_token"]
    done = api.client("operator").post("/groups/retail/pause", params={"confirm_token": token})
    assert done.json()["status"] == "applied", done.text
    assert api.client().get("/groups/retail").json()["paused"] is True

    # The token binds the plan: once the source changed, the planned PATCH is refused, not applied.
    patch = {"location": "/Volumes/main/landing/retail/orders_v2/"}
    plan = api.client().patch("/sources/orders", params={"dry_run": "true"}, json=patch)
    assert plan.json()["status"] == "planned", plan.text
    api.command({"kind": "update_source", "name": "orders", "load_mode": "full", "description": "moved"})
    changed = snapshot(api.db)
    stale = api.client().patch(
        "/sources/orders", params={"confirm_token": plan.json()["confirm_token"]}, json=patch
    )
    assert_problem(stale, 409, "confirm_token")
    assert snapshot(api.db) == changed
    # Destructive routes take dry_run too: a plan with a token, nothing removed.
    removal = api.client().delete("/sources/orders", params={"dry_run": "true"})
    assert removal.json()["status"] == "planned" and removal.json()["confirm_token"], removal.text
    assert snapshot(api.db) == changed


def test_body_mistakes_name_the_body_and_the_fix(api: Api) -> None:
    client = api.client()
    broken = client.post(
        "/commands", content=b'{"intent": {"kind": "help"},}', headers={"content-type": "application/json"}
    )
    body = assert_problem(broken, 422, "body")
    assert body["errors"][0]["message"].startswith("invalid JSON at character 28: "), body
    # curl -d without a Content-Type sends a form: say so, not "should be a valid dictionary".
    for route, method in (("/commands", "POST"), ("/sources/orders", "PATCH")):
        form = client.request(
            method,
            route,
            content=b'{"intent": {"kind": "help"}}',
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        body = assert_problem(form, 415, "Content-Type")
        assert "application/json" in body["errors"][0]["fix"], body
    empty = assert_problem(client.post("/commands", headers={"content-type": "application/json"}), 422)
    assert empty["errors"][0] == {
        "field": "body",
        "message": "the request has no body",
        "fix": "Send a JSON object with the header 'Content-Type: application/json'.",
    }
    listed = assert_problem(client.post("/commands", json=[1]), 422, "body")
    assert listed["errors"][0]["fix"] == "Send a JSON object.", listed
    # Fixes say what to send, never pydantic's internal type names.
    since = assert_problem(client.get("/runs", params={"since": "yesterday"}), 422, "since")
    assert "ISO 8601" in since["errors"][0]["fix"], since
    limit = assert_problem(client.get("/runs", params={"limit": 501}), 422, "limit")
    assert limit["errors"][0]["fix"] == "Use a value of at most 500.", limit
    keys = assert_problem(
        api.command({"kind": "update_source", "name": "orders", "silver": {"primary_keys": "id"}}),
        422,
        "intent.silver.primary_keys",
    )
    assert keys["errors"][0]["fix"] == 'Send a JSON array, e.g. ["order_id"].', keys
    no_kind = assert_problem(api.command({"group": "retail"}), 422, "intent.kind")
    assert "register_source" in no_kind["errors"][0]["fix"], no_kind


def test_resource_route_detail_names_the_body_field(api: Api) -> None:
    seed(api)
    response = api.client().put("/groups/retail/schedule", json={"quartz_cron": "0 2 * * *"})
    body = assert_problem(response, 422, "quartz_cron")
    assert body["errors"][0]["field"] == "quartz_cron"
    assert body["detail"].startswith("quartz_cron: cron '0 2 * * *' has 5 fields"), body


def test_a_refused_command_answers_its_audit_row(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    for send in (
        lambda: api.command({"kind": "pause_schedule", "group": "retail"}, role="viewer"),
        lambda: api.client("viewer").post("/groups/retail/pause"),
    ):
        body = assert_problem(send(), 403)
        assert body["outcome"] == "rejected" and body["reason"] == "permission", body
        audit = api.client().get("/audit", params={"actor": "viewer_user", "limit": 1}).json()["items"]
        assert audit[0]["command_id"] == body["command_id"] and audit[0]["outcome"] == "rejected"
    assert snapshot(api.db) == before


def test_metrics_label_only_known_intent_kinds(api: Api) -> None:
    for made_up in ("pause", "x" * 50, "drop_everything"):
        assert_problem(api.command({"kind": made_up}), 422, "intent")
    assert_problem(api.command({"group": "retail"}), 422)
    text = httpx.get(f"{api.url}/api/v1/metrics").text
    lines = [line for line in text.splitlines() if line.startswith("lakeforge_api_commands_total{")]
    assert lines == ['lakeforge_api_commands_total{kind="unknown",status="rejected"} 4.0'], lines


def test_a_long_idempotency_key_on_a_resource_route_is_refused_by_name(api: Api) -> None:
    import secrets

    seed(api)
    before = snapshot(api.db)
    key = secrets.token_urlsafe(6000)  # incompressible: too big for the key's unique index
    for response in (
        api.client().post("/groups/retail/pause", headers={"Idempotency-Key": key}),
        api.client().post("/commands", json={"intent": {"kind": "help"}}, headers={"Idempotency-Key": key}),
    ):
        body = assert_problem(response, 422, "Idempotency-Key")
        assert body["errors"][0]["fix"], body
    assert snapshot(api.db) == before
    ok = api.client().post("/groups/retail/pause", headers={"Idempotency-Key": "k" * 200})
    assert ok.json()["status"] == "applied", ok.text


def test_an_inline_credential_is_refused_with_the_fix_and_never_echoed(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    secret = "hunter2-do-not-echo"
    system = {
        "kind": "upsert_system",
        "name": "crm",
        "system_kind": "database",
        "connection": {"password": secret},
    }
    sources = api.client()
    for response, field in (
        (
            sources.patch("/sources/orders", json={"format_options": {"api_key": secret}}),
            "format_options.api_key",
        ),
        (sources.patch("/sources/orders", json={"location": f"https://ana:{secret}@host/x"}), "location"),
        (api.command(system), "intent.connection.password"),
    ):
        body = assert_problem(response, 422, field)
        assert "{{secrets/scope/key}}" in body["errors"][0]["fix"], body
        assert secret not in response.text
    assert snapshot(api.db) == before
    audit = api.client().get("/audit", params={"outcome": "rejected"}).text
    assert secret not in audit


def test_an_unknown_rule_gold_table_or_revision_is_not_found(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    client = api.client()
    for response in (
        client.patch("/dq-rules/orders/nope", json={"action": "warn"}),
        client.delete("/dq-rules/orders/nope"),
        client.post("/sources/orders/restore", json={"revision": 99}),
        api.command({"kind": "remove_gold", "group": "retail", "name": "nope"}),
    ):
        body = assert_problem(response, 404)
        assert body["reason"] == "not_found" and body["errors"][0]["fix"], body
    assert snapshot(api.db) == before


def test_run_and_rerun_routes_take_the_intent_fields_in_the_body(api: Api) -> None:
    seed(api)
    # Running one source's raw zone must not queue the whole group: the body is the intent's fields.
    planned = api.client("operator").post(
        "/groups/retail/run", params={"dry_run": "true"}, json={"source": "orders", "zones": ["raw"]}
    )
    assert planned.status_code == 200, planned.text
    run = planned.json()["plan"][0]["after"]
    assert run["source"] == "orders" and run["zones"] == ["raw"], planned.text
    before = snapshot(api.db)
    assert_problem(api.client("operator").post("/groups/retail/run", json={"zone": ["raw"]}), 422, "zone")
    assert_problem(
        api.client("operator").post("/groups/retail/pause", json={"until": "monday"}), 422, "until"
    )
    assert snapshot(api.db) == before
    # Without a body the routes work as before.
    assert api.client("operator").post("/groups/retail/pause").json()["status"] == "applied"
