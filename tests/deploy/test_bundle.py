"""`lakeforge export --bundle`: a Databricks Asset Bundle equal to the reconciler's desired state."""

from __future__ import annotations

import pytest
import yaml
from databricks.bundles.jobs import Job
from databricks.bundles.pipelines import Pipeline

from lakeforge.commands.access import Principal
from lakeforge.commands.declarative import apply_document, parse_document
from lakeforge.commands.envelope import Actor
from lakeforge.deploy.bundle import bundle_documents, desired_state, write_bundle
from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.orchestration import reconciler

METADATA = {
    "version": 1,
    "groups": [
        {
            "name": name,
            "schedule": {"quartz_cron": "0 30 1 * * ?", "timezone": "UTC", "paused": name == "finance"},
            "sources": [
                {"name": f"{name}_{n}", "format": "csv", "location": f"/Volumes/main/landing/{name}/{n}/"}
                for n in ("a", "b")
            ],
        }
        for name in ("retail", "finance")
    ],
}


@pytest.fixture
def bundle_dir(settings, db, tmp_path):
    report = apply_document(
        db, parse_document(METADATA), Actor(user="admin", surface="cli"), Principal.local_admin()
    )
    assert report.ok
    write_bundle(tmp_path / "bundle", bundle_documents(desired_state(db, settings)))
    return tmp_path / "bundle"


def _resources(bundle_dir):
    documents = [
        yaml.safe_load(path.read_text()) for path in sorted((bundle_dir / "resources").glob("*.yml"))
    ]
    jobs = {k: v for d in documents for k, v in d["resources"].get("jobs", {}).items()}
    pipelines = {k: v for d in documents for k, v in d["resources"].get("pipelines", {}).items()}
    return jobs, pipelines


def test_bundle_validates_against_the_bundle_schema(bundle_dir):
    root = yaml.safe_load((bundle_dir / "databricks.yml").read_text())
    assert root["include"] == ["resources/*.yml"]
    jobs, pipelines = _resources(bundle_dir)
    assert jobs and pipelines
    for spec in jobs.values():
        # from_dict refuses unknown fields and wrong shapes; the round trip loses nothing.
        assert Job.from_dict(spec).as_dict() == spec
    for spec in pipelines.values():
        assert Pipeline.from_dict(spec).as_dict() == spec


def test_bundle_describes_the_same_jobs_as_sync_plan(settings, db, bundle_dir):
    jobs, pipelines = _resources(bundle_dir)
    server = LocalWorkspace(settings, db, port=0)
    server.start()
    try:
        reconciler.upload_notebooks(server.client(), settings.workspace_notebook_dir)
        plan = reconciler.plan(db, server.client(), settings=settings)
    finally:
        server.stop()
    planned = {(c.resource_type, c.name) for c in plan.of("create")}
    exported = {("job", spec["name"]) for spec in jobs.values()} | {
        ("pipeline", spec["name"]) for spec in pipelines.values()
    }
    assert exported == planned
    retail = next(spec for spec in jobs.values() if spec["name"] == "lakeforge-retail")
    pipeline_task = next(t for t in retail["tasks"] if "pipeline_task" in t)
    assert pipeline_task["pipeline_task"]["pipeline_id"].startswith("${resources.pipelines.")
    finance = next(spec for spec in jobs.values() if spec["name"] == "lakeforge-finance")
    assert finance["schedule"]["pause_status"] == "PAUSED"
