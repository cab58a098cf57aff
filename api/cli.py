"""``lakeforge up``: serve the API on embedded defaults.

Other parts start next to the API by calling these functions from their own commands:

>>> settings = get_settings()
>>> token_file = prepare_metadata(settings)   # start/migrate the store, first admin token
>>> serve_api(settings, settings.api_host, settings.api_port)   # blocks until Ctrl-C
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from lakeforge.commands import launch
from lakeforge.metadata.db import Database, open_database
from lakeforge.settings import Settings, get_settings
from lakeforge.terminal import make_console

console = make_console()  # a log or a pipe keeps URLs on one line
ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
ADMIN_USER = "admin"


def ensure_admin_token(settings: Settings, db: Database) -> Path | None:
    """Create the first admin token when no admin can log in yet; write it once to STATE_DIR/admin-token.

    Returns the file when a token was created now, else None. The token itself never reaches
    a log; the file is readable by its owner only (0600).
    """
    from lakeforge.commands.access import create_token
    from lakeforge.commands.envelope import Actor

    path = settings.state_dir / ADMIN_TOKEN_FILE
    with db.connection() as conn:
        has_admin_token = conn.execute(
            """SELECT 1 FROM lakeforge.api_token t
               JOIN lakeforge.role_binding b ON b.user_id = t.user_id
               WHERE b.role = 'admin' AND b.source_group_id IS NULL AND t.revoked_at IS NULL
                 AND (t.expires_at IS NULL OR t.expires_at > now())
               LIMIT 1"""
        ).fetchone()
    if has_admin_token:
        return None
    # Audited as any token: LakeForge itself ("system") made it, at start-up.
    token = create_token(
        db, ADMIN_USER, "admin", name="first admin", actor=Actor(user=ADMIN_USER, surface="system")
    )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return path


def prepare_metadata(settings: Settings) -> Path | None:
    """Start (embedded) Postgres, apply migrations, make sure an admin can log in."""
    from lakeforge.metadata.migrate import migrate

    with open_database(settings) as db:
        migrate(db)
        return ensure_admin_token(settings, db)


def _export_settings(settings: Settings) -> None:
    # Worker processes read their settings from the environment: pass on what differs.
    for name, value in settings.model_dump(exclude_defaults=True).items():
        text = (
            value
            if isinstance(value, str)
            else (str(value) if isinstance(value, Path) else json.dumps(value))
        )
        os.environ[f"LAKEFORGE_{name.upper()}"] = text


def serve_api(settings: Settings, host: str, port: int, workers: int | None = None) -> None:
    """Serve the API with uvicorn until interrupted (several worker processes when asked)."""
    import uvicorn

    workers = workers or settings.api_workers
    if workers > 1:
        from api.serve import run_workers

        _export_settings(settings)  # the workers read their settings from the environment
        run_workers(host, port, workers)
        return
    from api.app import create_app

    with _sigterm_ends_cleanly():
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@contextmanager
def _sigterm_ends_cleanly() -> Iterator[None]:
    """uvicorn stops gracefully on SIGTERM, then raises the signal again for its default effect,
    which would end the process before the caller's cleanup (notifier, local workspace) runs.
    Within this block that second SIGTERM is an ordinary exit, as with several workers."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main one only
        yield
        return

    def exit_cleanly(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, exit_cleanly)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def up(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default: settings api_host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default: DATABRICKS_APP_PORT in a Databricks App, else 8765).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="uvicorn worker processes.")] = None,
    workspace: Annotated[
        bool,
        typer.Option(
            "--workspace/--no-workspace",
            help="Start the local workspace when no Databricks host is configured (default: yes).",
        ),
    ] = True,
) -> None:
    """Serve the LakeForge API on embedded defaults (Postgres started and migrated for you).

    With no Databricks host configured, the local workspace starts next to it; the notifier
    that posts run results to channels always does.
    """
    from lakeforge.notify import Notifier

    settings = get_settings()
    created = prepare_metadata(settings)
    host = host or settings.api_host
    app_port = os.environ.get("DATABRICKS_APP_PORT")
    port = port or (int(app_port) if app_port else settings.api_port)
    if created:
        console.print(f"Admin token written to {created} (readable by you only). Use it as a bearer token.")
    with open_database(settings) as db:
        local = (
            _start_local_workspace(settings, db)
            if workspace and not launch.databricks_configured(settings)
            else None
        )
        notifier = Notifier(settings, db).start()
        base = f"http://{host}:{port}/api/v1"
        console.print(f"LakeForge API: {base}  (OpenAPI: {base}/openapi.json, docs: {base}/docs)")
        try:
            serve_api(settings, host, port, workers)
        finally:
            notifier.stop()
            if local is not None:
                local.stop()


def _start_local_workspace(settings: Settings, db: Database) -> Any:
    from lakeforge.localworkspace.server import LocalWorkspace

    local = LocalWorkspace(settings, db, port=settings.workspace_port)
    console.print(f"Local workspace (Databricks REST API stand-in): {local.start()}")
    return local
