"""`lakeforge deploy` against the local workspace, over real HTTP with the real databricks-sdk."""

from __future__ import annotations

import base64

import pytest
import yaml
from databricks.sdk.service import workspace

from lakeforge.commands.access import Principal
from lakeforge.commands.declarative import apply_document, parse_document
from lakeforge.commands.envelope import Actor
from lakeforge.deploy.deploy import deploy
from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.settings import PROJECT_ROOT

GROUP_DOC = {
    "version": 1,
    "groups": [
        {
            "name": "retail",
            "schedule": {"quartz_cron": "0 0 2 * * ?", "timezone": "Europe/Paris"},
            "sources": [
                {
                    "name": "orders",
                    "format": "csv",
                    "location": "/Volumes/main/landing/orders/",
                    "silver": {"primary_keys": ["order_id"]},
                }
            ],
        }
    ],
}


@pytest.fixture
def workspace_client(settings, db):
    server = LocalWorkspace(settings, db, port=0)
    server.start()
    try:
        yield server.client()
    finally:
        server.stop()


def test_second_deploy_writes_nothing(settings, db, workspace_client):
    report = apply_document(
        db, parse_document(GROUP_DOC), Actor(user="admin", surface="cli"), Principal.local_admin("admin")
    )
    assert all(step.status == "applied" for step in report.steps)

    first = deploy(settings, db, workspace_client)
    assert first.workspace_writes > 0
    assert first.wheel_path.endswith(".whl")
    assert "lakeforge-sync-jobs" in " ".join(first.sync["created"]) or first.sync["created"]

    second = deploy(settings, db, workspace_client)
    assert second.workspace_writes == 0, second.as_dict()
    assert second.uploads.written == []
    assert second.migrations_applied == []


def test_sync_job_is_scheduled_and_notebooks_are_the_repositorys(settings, db, workspace_client):
    deploy(settings, db, workspace_client)
    jobs = {job.settings.name: job for job in workspace_client.jobs.list(expand_tasks=True)}
    sync_job = jobs["lakeforge-sync-jobs"]
    assert sync_job.settings.schedule.quartz_cron_expression == settings.sync_schedule
    assert sync_job.settings.tags["lakeforge_managed"] == "true"

    for notebook in sorted((PROJECT_ROOT / "notebooks").glob("*.py")):
        path = f"{settings.workspace_notebook_dir}/{notebook.stem}"
        exported = workspace_client.workspace.export(path, format=workspace.ExportFormat.SOURCE)
        assert base64.b64decode(exported.content).decode().strip() == notebook.read_text().strip()

    app_yaml = workspace_client.workspace.export(
        settings.workspace_notebook_dir.rsplit("/", 1)[0] + "/app/app.yaml",
        format=workspace.ExportFormat.AUTO,
    )
    definition = yaml.safe_load(base64.b64decode(app_yaml.content))
    names = {entry["name"]: entry for entry in definition["env"]}
    assert names["LAKEFORGE_SLACK_SIGNING_SECRET"] == {
        "name": "LAKEFORGE_SLACK_SIGNING_SECRET",
        "valueFrom": "slack-signing-secret",
    }
    assert all("value" not in entry or "SECRET" not in entry["name"] for entry in definition["env"])
