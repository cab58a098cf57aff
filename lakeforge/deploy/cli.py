"""``lakeforge deploy``: the command line side of ``lakeforge.deploy.deploy``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lakeforge.terminal import make_console

console = make_console()


def deploy_command(
    host: Annotated[
        str | None,
        typer.Option(
            help="Workspace URL; default: LAKEFORGE_DATABRICKS_HOST, then the SDK's profile or env."
        ),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="Databricks CLI profile (~/.databrickscfg).")] = None,
    wheel: Annotated[Path | None, typer.Option(help="Deploy this wheel instead of building one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Deploy LakeForge into a Databricks workspace: wheel, notebooks, App definition, migrations, jobs."""
    from databricks.sdk import WorkspaceClient

    from lakeforge.deploy.deploy import deploy
    from lakeforge.metadata.db import open_database
    from lakeforge.orchestration.client import workspace_client
    from lakeforge.settings import get_settings

    settings = get_settings()
    client = WorkspaceClient(profile=profile) if profile else workspace_client(settings, host=host)
    with open_database(settings) as db:
        report = deploy(settings, db, client, wheel=wheel)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
        return
    console.print(f"Deployed to {client.config.host}{report.root}")
    console.print(
        f"  uploads: {len(report.uploads.written)} written, {len(report.uploads.unchanged)} unchanged"
    )
    console.print(f"  migrations applied: {', '.join(report.migrations_applied) or 'none'}")
    sync = report.sync
    console.print(
        f"  jobs and pipelines: {len(sync.get('created', []))} created, "
        f"{len(sync.get('updated', []))} updated, "
        f"{len(sync.get('unchanged', []))} unchanged ({sync.get('api_writes', 0)} API writes)"
    )
    console.print(f"  wheel: {report.wheel_path}   App definition: {report.root}/app/app.yaml")


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_command)
