"""``lakeforge demo [--check] [--reset]``: run the main job on embedded defaults and show it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lakeforge.commands.batch_report import count, rules_table
from lakeforge.demo.runner import DemoOutcome, run_demo
from lakeforge.metadata.db import Database, open_database
from lakeforge.settings import PROJECT_ROOT, Settings, get_settings
from lakeforge.terminal import make_console

console = make_console()


def _print_outcome(outcome: DemoOutcome) -> None:
    zones = Table(
        title=f"Batch {outcome.batch_id}: {outcome.status} in {outcome.seconds:.1f} s", title_justify="left"
    )
    for column in ("zone", "status", "rows in", "rows out", "bytes"):
        zones.add_column(column, justify="left" if column in ("zone", "status") else "right")
    for zone in outcome.zones:
        zones.add_row(zone.zone, zone.status, count(zone.rows_in), count(zone.rows_out), count(zone.bytes))
    console.print(zones)
    tables = Table(title="Delta tables", title_justify="left")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name, rows in outcome.tables.items():
        tables.add_row(name, str(rows))
    console.print(tables)
    console.print(rules_table(outcome.rules))


def _start_api(settings: Settings, db: Database) -> Any:
    import uvicorn

    from api.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, db), host=settings.api_host, port=settings.api_port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="lakeforge-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    return server


def _start_panel(settings: Settings) -> subprocess.Popen[bytes] | None:
    web = PROJECT_ROOT / "web"
    next_bin = web / "node_modules" / ".bin" / "next"
    if not (web / ".next").exists() or not next_bin.exists():
        console.print("[yellow]The panel is not built; run `make demo` (or `make web`) to build it.[/]")
        return None
    api = f"http://{settings.api_host}:{settings.api_port}"
    # The panel's own variables; LAKEFORGE_* stay out so its settings check never sees them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEFORGE_")}
    env.update({"PANEL_API_URL": api, "PANEL_BROWSER_API_URL": api, "NEXT_TELEMETRY_DISABLED": "1"})
    return subprocess.Popen(  # noqa: S603 - fixed command
        [str(next_bin), "start", "-p", str(settings.web_port), "-H", "127.0.0.1"],
        cwd=web,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


def _serve_until_interrupted(settings: Settings, db: Database) -> None:
    from lakeforge.notify.notifier import Notifier

    api = _start_api(settings, db)
    notifier = Notifier(settings, db).start()
    panel = _start_panel(settings)
    token_file = settings.state_dir / "admin-token"
    console.print()
    console.print(f"API      http://{settings.api_host}:{settings.api_port}/api/v1  (docs: /api/v1/docs)")
    if panel:
        console.print(f"Panel    http://127.0.0.1:{settings.web_port}  (chat console: /chat)")
    console.print(f"Workspace http://127.0.0.1:{settings.workspace_port}  (Databricks REST API stand-in)")
    console.print(f"Sign in with the admin token in {token_file}. Press Ctrl-C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if panel:
            os.killpg(panel.pid, signal.SIGTERM)
            panel.wait(10)
        notifier.stop()
        api.should_exit = True


def demo(
    check: Annotated[
        bool,
        typer.Option("--check", help="Run non-interactively; exit 0 only if Gold has the expected counts."),
    ] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the local state first and start over.")
    ] = False,
) -> None:
    """Run the main job on embedded defaults: sample data through Raw, Bronze, Silver and Gold."""
    from api.cli import prepare_metadata
    from lakeforge.localworkspace.server import LocalWorkspace
    from lakeforge.metadata.embedded import EmbeddedPostgres

    settings = get_settings()
    if reset:
        EmbeddedPostgres(settings.state_dir).stop()
        _wipe_state(settings.state_dir)
    created = prepare_metadata(settings)
    if created:
        console.print(f"Admin token written to {created}.")
    with open_database(settings) as db:
        workspace = LocalWorkspace(settings, db, port=settings.workspace_port if not check else 0)
        workspace.start()
        try:
            with console.status("Syncing jobs and running the retail batch…"):
                outcome, _ = run_demo(settings, db, workspace.client())
            _print_outcome(outcome)
            if outcome.problems:
                for problem in outcome.problems:
                    console.print(f"[red]✗[/] {problem}")
                if check:
                    raise typer.Exit(1)
            else:
                console.print(
                    f"[green]✓[/] Increment {min(outcome.increment, 2)} reached Gold "
                    "with the expected counts."
                )
            if not check:
                _serve_until_interrupted(settings, db)
        finally:
            workspace.stop()


def _wipe_state(state_dir: Path) -> None:
    for child in state_dir.iterdir() if state_dir.exists() else []:
        if child.name in ("jars", "stamps"):
            continue  # installed dependencies, not demo state
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
