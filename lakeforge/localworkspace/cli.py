"""``lakeforge workspace serve [--port N]``: run the local workspace alone, until Ctrl-C."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from lakeforge.terminal import make_console

workspace_app = typer.Typer(no_args_is_help=True, help="The local stand-in for a Databricks workspace.")
console = make_console()


@workspace_app.command("serve")
def serve(
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on (default: settings.workspace_port).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="DATABRICKS_TOKEN", show_default=False, help="Bearer token clients must send."
        ),
    ] = None,
) -> None:
    """Serve jobs, pipelines and workspace files over the Databricks REST API; runs and schedules run here."""
    from lakeforge.localworkspace.server import DEFAULT_TOKEN, LocalWorkspace
    from lakeforge.metadata.db import open_database
    from lakeforge.metadata.migrate import migrate
    from lakeforge.settings import get_settings

    settings = get_settings()
    with open_database(settings) as db:
        migrate(db)
        workspace = LocalWorkspace(
            settings, db, host, settings.workspace_port if port is None else port, token=token
        )
        url = workspace.start()
        shown = DEFAULT_TOKEN if workspace.token == DEFAULT_TOKEN else "<the token you gave>"
        console.print(f"Local workspace at [bold]{url}[/] (state in {db.description}).")
        console.print(f"Point Databricks clients at it: DATABRICKS_HOST={url} DATABRICKS_TOKEN={shown}")
        console.print("Press Ctrl-C to stop.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            console.print("Stopping the local workspace.")
        finally:
            workspace.stop()
