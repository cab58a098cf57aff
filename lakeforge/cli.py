"""The ``lakeforge`` command line. Each area of LakeForge adds its commands in its own module."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import psycopg
import typer
from rich.markup import escape

from lakeforge.errors import LakeForgeError
from lakeforge.settings import get_settings
from lakeforge.terminal import make_console

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help=(
        "LakeForge: metadata-driven ingestion.\n\n"
        "Start with `lakeforge apply -f examples/lakeforge.yaml --dry-run`, apply it without "
        "--dry-run, then `lakeforge run retail`; `lakeforge COMMAND --help` shows each command's examples."
    ),
)
db_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "The metadata store: the embedded Postgres starts by itself when a command needs it, "
        "and `db stop` stops it."
    ),
)
app.add_typer(db_app, name="db")
console = make_console()
err_console = make_console(stderr=True)


@db_app.command("migrate")
def db_migrate(
    as_json: Annotated[bool, typer.Option("--json", help="Print what was applied as JSON.")] = False,
) -> None:
    """Apply pending schema migrations (safe to run again, and from several processes)."""
    from lakeforge.metadata.db import open_database
    from lakeforge.metadata.migrate import migrate

    with open_database(get_settings()) as db:
        result = migrate(db)
    if as_json:
        print(json.dumps({"applied": result.applied, "already_applied": result.already_applied}))
    else:
        console.print(result.summary())


@db_app.command("status")
def db_status() -> None:
    """Where the metadata store is and which migrations are pending."""
    from lakeforge.metadata.db import open_database
    from lakeforge.metadata.migrate import pending

    with open_database(get_settings()) as db:
        waiting = pending(db)
        console.print(f"Metadata store: {db.description}")
    console.print(f"Pending migrations: {', '.join(waiting) if waiting else 'none'}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded Postgres (its data stays in the state folder)."""
    from lakeforge.metadata.embedded import EmbeddedPostgres

    if EmbeddedPostgres(get_settings().state_dir).stop():
        console.print("Embedded Postgres stopped.")
    else:
        console.print("Embedded Postgres was not running; nothing to stop.")


def _register_areas() -> None:
    """Each area of LakeForge owns its commands; they are gathered here."""
    from api.cli import up
    from bot.cli import register as register_chat
    from lakeforge.commands.cli import register as register_commands
    from lakeforge.demo.cli import register as register_demo
    from lakeforge.deploy.cli import register as register_deploy
    from lakeforge.localworkspace.cli import workspace_app
    from lakeforge.orchestration.cli import sync_app
    from lakeforge.runtime.cli import notebook_app

    app.command("up")(up)
    register_commands(app)  # token, apply, export, history, run, rerun, runs
    register_chat(app)  # chat, bot
    register_demo(app)
    register_deploy(app)
    app.add_typer(sync_app, name="sync")
    app.add_typer(notebook_app, name="notebook")
    app.add_typer(workspace_app, name="workspace")


_register_areas()


def main() -> None:
    """Entry point: LakeForge errors become one sentence and exit code 2, never a traceback."""
    try:
        # Without standalone mode click returns the exit code of `typer.Exit` instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except LakeForgeError as error:
        # Escaped: paths and names in brackets ([dev].yaml, dq_rules[x]) are text, not markup.
        err_console.print(f"[bold red]error:[/] {escape(error.sentence())}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except psycopg.errors.UndefinedTable:
        err_console.print(
            "[bold red]error:[/] the metadata store has no LakeForge schema yet. "
            "Run `lakeforge db migrate` (or `lakeforge up`, which migrates for you).",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as error:
        # Usage errors (an unknown option, a missing argument): the message and the usage line,
        # not a traceback. Typer bundles its own click, so click.ClickException never matches.
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"[bold red]error:[/] {escape(error.format_message())}", highlight=False)
        sys.exit(error.exit_code)
