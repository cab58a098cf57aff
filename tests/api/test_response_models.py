"""The read routes (the panel's and a script's) publish typed response models in the OpenAPI document."""

from __future__ import annotations

from tests.api.api_support import Api

TYPED = {
    "/api/v1/sources": "SourceSummary",
    "/api/v1/sources/{name}": "SourceDetail",
    "/api/v1/sources/{name}/quarantine": "QuarantineSample",
    "/api/v1/groups": "GroupRow",
    "/api/v1/schedules": "ScheduleRow",
    "/api/v1/schedules/preview": "SchedulePreview",
    "/api/v1/dq-rules": "DqRuleRow",
    "/api/v1/runs": "RunsPage",
    "/api/v1/runs/{batch_id}": "BatchDetail",
    "/api/v1/audit": "AuditPage",
    "/api/v1/me": "Me",
    "/api/v1/compute-profiles": "ComputeProfileRow",
    "/api/v1/channels": "ChannelRow",
    "/api/v1/health": "Health",
}


def test_panel_read_routes_have_response_models(api: Api) -> None:
    spec = api.client(None).get("/openapi.json").json()
    for path, model in TYPED.items():
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
        assert ref == f"#/components/schemas/{model}", (path, schema)
        assert spec["components"]["schemas"][model]["properties"], model
