"""What a script author relies on without reading the code: errors that say what was asked and
how to fix it, a size limit that answers before the body is read, a cursor spelt one way on
every list, metrics in Prometheus' conventions, an OpenAPI document a client can be built from."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from api.limits import MAX_BODY_BYTES
from tests.api.api_support import Api, assert_problem, seed, snapshot


def test_an_unknown_route_names_the_path_and_where_routes_are_listed(api: Api) -> None:
    body = assert_problem(api.client().get("/source"), 404, "path")
    assert body["errors"][0]["message"] == "no route GET /api/v1/source", body
    assert "/api/v1/openapi.json" in body["errors"][0]["fix"]
    assert body["type"].endswith("/not-found")


def test_a_wrong_method_names_the_method_and_the_ones_allowed(api: Api) -> None:
    response = api.client().put("/health")
    body = assert_problem(response, 405, "method")
    assert response.headers["allow"] == "GET"
    assert body["errors"][0]["message"] == "PUT is not allowed on /api/v1/health", body
    assert body["errors"][0]["fix"] == "Use GET."
    assert body["type"].endswith("/method-not-allowed")


def test_an_oversize_body_is_refused_by_its_length_and_changes_nothing(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    location = "/Volumes/main/landing/retail/" + "x" * MAX_BODY_BYTES
    response = api.client().post("/sources", json={"name": "big", "group": "retail", "location": location})
    body = assert_problem(response, 413, "body")
    assert str(MAX_BODY_BYTES) in body["errors"][0]["message"] and body["errors"][0]["fix"]
    assert body["type"].endswith("/too-large")
    assert snapshot(api.db) == before


def test_an_oversize_body_without_a_length_is_refused_as_it_streams(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"text": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    response = api.client().post(
        "/commands/parse", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "body")
    assert snapshot(api.db) == before


def test_a_body_under_the_limit_is_read(api: Api) -> None:
    # The limit is on bytes, not on an ordinary request: a long text reaches its own field check.
    response = api.client().post("/commands/parse", json={"text": "p" * (MAX_BODY_BYTES // 2)})
    assert_problem(response, 422, "text")


def test_audit_cursor_is_spelt_as_on_runs_and_checked(api: Api) -> None:
    seed(api)
    first = api.client().get("/audit", params={"limit": 1}).json()
    assert first["next_cursor"] and first["next_before"]
    by_cursor = api.client().get("/audit", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    by_time = api.client().get("/audit", params={"limit": 1, "before": first["next_before"]}).json()
    assert by_cursor == by_time and by_cursor["items"][0]["kind"] == "create_group", by_cursor
    assert by_cursor["next_cursor"] is None and by_cursor["next_before"] is None
    assert_problem(api.client().get("/audit", params={"cursor": "yesterday"}), 422, "cursor")
    both = {"cursor": first["next_cursor"], "before": first["next_before"]}
    assert_problem(api.client().get("/audit", params=both), 422, "before")


def test_metrics_follow_prometheus_conventions(api: Api) -> None:
    seed(api)
    api.client().get("/sources")
    api.client().get("/openapi.json")
    api.client().get("/nothing-here")
    response = httpx.get(f"{api.url}/api/v1/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    families = {line.split()[2]: line.split()[3] for line in lines if line.startswith("# TYPE ")}
    helped = {line.split()[2] for line in lines if line.startswith("# HELP ")}
    assert families == {
        "lakeforge_api_requests_total": "counter",
        "lakeforge_api_request_seconds": "histogram",
        "lakeforge_api_commands_total": "counter",
    }, families
    assert helped == set(families)
    # No *_created gauges doubling every series.
    assert not [line for line in lines if "_created" in line]
    samples = [line for line in lines if line and not line.startswith("#")]
    sources = 'lakeforge_api_requests_total{method="GET",route="/sources"'
    assert any(line.startswith(sources) for line in samples)
    # A served route is counted under its template; only a path no route matches is "unmatched".
    assert any(
        line.startswith('lakeforge_api_requests_total{method="GET",route="/openapi.json",status="200"}')
        for line in samples
    ), samples
    unmatched = [line for line in samples if 'route="unmatched"' in line and "_total" in line]
    assert unmatched and all('status="404"' in line for line in unmatched), unmatched
    assert all(line.split("{")[0].startswith(tuple(families)) for line in samples), samples


def test_openapi_describes_every_operation_parameter_and_write_answer(api: Api) -> None:
    spec = httpx.get(f"{api.url}/api/v1/openapi.json").json()
    gaps: list[str] = []
    writes = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            if not operation.get("description"):
                gaps.append(f"{name}: no description")
            for parameter in operation.get("parameters", []):
                if not parameter.get("description"):
                    gaps.append(f"{name}: parameter {parameter['name']} undescribed")
            answers = operation["responses"]
            ok = answers.get("200", {}).get("content", {})
            if not any(media.get("schema") for media in ok.values()):
                gaps.append(f"{name}: 200 has no schema")
            if method != "get" and path != "/api/v1/commands/parse":
                writes += 1
                for status in ("200", "202"):
                    schema = answers.get(status, {}).get("content", {}).get("application/json", {})
                    if schema.get("schema", {}).get("$ref") != "#/components/schemas/CommandResponse":
                        gaps.append(f"{name}: {status} is not a CommandResponse")
                if "409" not in answers:
                    gaps.append(f"{name}: 409 not documented")
                gaps.extend(_untyped_body(name, operation, spec["components"]["schemas"]))
    assert writes > 15
    assert not gaps, "\n".join(gaps)
    # operationIds are what a generator names its methods: the endpoint's name, each once.
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) and "list_runs" in ids and "register_source" in ids, ids
    assert not [name for name in ids if "api_v1" in name], ids
    # The shapes every script handles are described field by field, with an example.
    schemas = spec["components"]["schemas"]
    for model in ("CommandResponse", "Problem", "ProblemFieldError", "BatchRow", "RunsPage", "AuditPage"):
        bare = [name for name, field in schemas[model]["properties"].items() if not field.get("description")]
        # status of a BatchRow is the RunStatus enum, described by its values
        assert bare in ([], ["status"]), (model, bare)
    for model in ("CommandRequest", "CommandResponse", "Problem", "ParseRequest"):
        assert schemas[model].get("examples"), model
    # A resource write's body is its intent's fields, less kind and what the path names.
    update = spec["components"]["schemas"]["UpdateSourceFields"]
    assert "kind" not in update["properties"] and "name" not in update["properties"]
    assert "location" in update["properties"] and update["additionalProperties"] is False
    health = spec["paths"]["/api/v1/health"]["get"]["responses"]
    assert health["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Health"
    assert "503" in health


def _untyped_body(name: str, operation: dict, schemas: dict) -> list[str]:
    """A write that takes a body must publish it as a typed object, not "any object"."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is None:
        return []
    ref = body["schema"].get("$ref", "")
    model = schemas.get(ref.rsplit("/", 1)[-1], {})
    if not model.get("properties") and not ref.endswith("Fields"):
        return [f"{name}: body is not typed ({body['schema']})"]
    return []


def test_a_typed_resource_body_is_what_the_route_takes(api: Api) -> None:
    # The published UpdateSourceFields is accepted as it stands: no kind, no name, path wins.
    seed(api)
    spec = httpx.get(f"{api.url}/api/v1/openapi.json").json()
    allowed = set(spec["components"]["schemas"]["UpdateSourceFields"]["properties"])
    body = {"location": "/Volumes/main/landing/retail/orders_v2/"}
    assert set(body) <= allowed
    response = api.client().patch("/sources/orders", json=body)
    assert response.status_code == 200 and response.json()["status"] == "applied", response.text
    assert api.client().get("/sources/orders").json()["location"] == body["location"]
