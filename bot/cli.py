"""``lakeforge chat`` (terminal REPL) and ``lakeforge bot`` (run alerts, Slack over Socket Mode or HTTP)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lakeforge.terminal import make_console

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from lakeforge.metadata.db import Database
    from lakeforge.settings import Settings

console = make_console()  # a log or a pipe keeps URLs on one line


def chat(
    text: Annotated[str | None, typer.Option("--text", "-t", help="Handle one line and exit.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply planned changes without asking.")] = False,
    user: Annotated[str, typer.Option(help="Act as this LakeForge user (audited).")] = "local",
) -> None:
    """Talk to LakeForge in plain words: each change shows its plan and waits for your yes."""
    from lakeforge.metadata.db import open_database
    from lakeforge.nlu.repl import Repl
    from lakeforge.settings import get_settings

    settings = get_settings()
    with open_database(settings) as db:
        repl = Repl(settings, db, user=user)
        if text is not None:
            result = repl.one(text, assume_yes=yes)
            raise typer.Exit(0 if result is None or result.status != "rejected" else 1)
        repl.run()


def bot(
    socket: Annotated[
        bool, typer.Option("--socket", help="Connect to Slack over Socket Mode (no public URL).")
    ] = False,
    port: Annotated[int | None, typer.Option(help="Serve /slack/events on this port (HTTP mode).")] = None,
    alerts: Annotated[bool, typer.Option("--alerts/--no-alerts", help="Post run alerts to channels.")] = True,
) -> None:
    """Run the Slack bot: run alerts, plus slash commands over Socket Mode or HTTP."""
    import threading

    from lakeforge.metadata.db import open_database
    from lakeforge.notify import Notifier
    from lakeforge.settings import get_settings

    settings = get_settings()
    with open_database(settings) as db:
        notifier = Notifier(settings, db).start() if alerts else None
        if notifier:
            console.print("Run alerts: following lakeforge_runs.")
        try:
            if socket:
                handler = socket_mode_handler(settings, db)
                console.print("Slack: connected over Socket Mode. Ctrl-C to stop.")
                handler.start()
            elif port is not None:
                import uvicorn
                from fastapi import FastAPI

                from bot.app import mount

                web = FastAPI(title="LakeForge Slack events")
                web.state.db = db
                mount(web, settings)
                console.print(f"Slack: POST http://{settings.api_host}:{port}/slack/events")
                uvicorn.run(web, host=settings.api_host, port=port, log_level="warning")
            else:
                console.print("Slash commands are served by `lakeforge up` at /slack/events. Ctrl-C to stop.")
                threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            if notifier:
                notifier.stop()


def socket_mode_handler(settings: Settings, db: Database) -> SocketModeHandler:
    """The bolt app over Socket Mode (no public URL needed); ``.connect()`` or ``.start()`` it."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import build_bolt_app
    from lakeforge.errors import ConfigurationError

    if settings.slack_app_token is None:
        raise ConfigurationError(
            "is not set, so Socket Mode cannot connect",
            field="LAKEFORGE_SLACK_APP_TOKEN",
            fix="Create an app-level token with connections:write (xapp-...) in the Slack app settings.",
        )
    return SocketModeHandler(
        build_bolt_app(settings, lambda: db), settings.slack_app_token.get_secret_value()
    )


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
    app.command("bot")(bot)
