"""``lakeforge sync plan|apply``: show or carry out what the metadata asks of the workspace."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from lakeforge.terminal import make_console

sync_app = typer.Typer(no_args_is_help=True, help="Keep Databricks jobs and pipelines equal to the metadata.")
console = make_console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
DeepOption = Annotated[bool, typer.Option("--deep", help="Also read every pipeline to find hand edits.")]
HostOption = Annotated[str | None, typer.Option("--host", help="Workspace URL (default: settings).")]


def _open(host: str | None) -> tuple[Any, Any, Any]:
    from lakeforge.metadata.db import open_database
    from lakeforge.orchestration.client import workspace_client
    from lakeforge.settings import get_settings

    settings = get_settings()
    return settings, open_database(settings), workspace_client(settings, host=host)


def _print_summary(summary: dict[str, Any], verbs: list[tuple[str, str]]) -> None:
    table = Table("what", "resources", show_header=False, box=None)
    for key, label in verbs:
        items = summary.get(key) or []
        if items:
            table.add_row(f"{label} ({len(items)})", ", ".join(str(i) for i in items))
    console.print(table)
    for error in summary.get("errors") or []:
        console.print(f"[bold red]error[/] {error['resource']}: {error['error']}", highlight=False)


@sync_app.command("plan")
def plan_command(as_json: JsonOption = False, deep: DeepOption = False, host: HostOption = None) -> None:
    """What a sync would create, update, pause or delete, with field-level diffs. Writes nothing."""
    from lakeforge.orchestration import reconciler

    settings, db, client = _open(host)
    with db:
        summary = reconciler.plan(db, client, settings=settings, deep=deep).to_json()
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
        return
    _print_summary(
        summary,
        [
            ("create", "create"),
            ("update", "update"),
            ("adopt", "adopt"),
            ("pause", "pause"),
            ("delete", "delete"),
            ("waiting", "waiting"),
            ("drift", "drift"),
        ],
    )
    for change in summary["changes"]:
        for item in change.get("diff", [])[:10]:
            console.print(
                f"  {change['resource']} {item['path']}: {item['live']!r} → {item['desired']!r}",
                highlight=False,
            )
    console.print(f"{len(summary['unchanged'])} unchanged, {summary['api_reads']} API reads.")
    if summary["errors"]:
        raise typer.Exit(1)


@sync_app.command("apply")
def apply_command(
    as_json: JsonOption = False,
    deep: DeepOption = False,
    host: HostOption = None,
    upload_notebooks: Annotated[
        bool, typer.Option("--upload-notebooks", help="Import notebooks/ into the workspace first.")
    ] = False,
) -> None:
    """Make the workspace equal to the metadata (idempotent: a second run writes nothing)."""
    from lakeforge.orchestration import reconciler

    settings, db, client = _open(host)
    with db:
        result = reconciler.apply(db, client, settings=settings, upload=upload_notebooks, deep=deep)
    summary = result.to_json()
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(
            summary,
            [
                ("created", "created"),
                ("updated", "updated"),
                ("adopted", "adopted"),
                ("paused", "paused"),
                ("deleted", "deleted"),
                ("waiting", "waiting"),
            ],
        )
        for drift in summary["drift"]:
            console.print(f"[yellow]drift repaired[/] {drift['resource']}", highlight=False)
        console.print(
            f"{len(summary['unchanged'])} unchanged, {summary['api_writes']} API writes, "
            f"{summary['seconds']:.2f} s."
        )
    if summary["errors"]:
        raise typer.Exit(1)
