"""``lakeforge chat``: the free-text pipeline in a terminal (parse → plan → confirm → apply).

Same parser and same executor as Slack; the actor's surface is ``cli``. Reads run at once,
changes show their plan and wait for ``y``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

from lakeforge.commands import launch
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor, CommandResult
from lakeforge.commands.executor import execute
from lakeforge.commands.intents import INTENTS_BY_KIND
from lakeforge.errors import LakeForgeError
from lakeforge.fixes import TERMINAL_CHANNEL
from lakeforge.metadata.db import Database
from lakeforge.nlu import CHAT_ONLY_KINDS, parse_text
from lakeforge.nlu.answers import answer_text, terminal_markup
from lakeforge.settings import Settings
from lakeforge.terminal import make_console

PROMPT = "lakeforge> "


class Repl:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        user: str = "local",
        principal: Principal | None = None,
        ask: Callable[[str], str] = input,
        console: Console | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        # Runs and reads of the lakehouse (quarantined rows) use these settings, as under the API.
        launch.configure(settings)
        # The terminal channel: fixes that name a command say the words to type here.
        self.actor = Actor(user=user, surface="cli", channel=TERMINAL_CHANNEL)
        self.principal = principal or Principal.local_admin(user)
        self.ask = ask
        self.console = console or make_console()

    def run(self) -> None:
        self.console.print(
            "LakeForge chat. Type what you want (e.g. [bold]pause sales[/]), `help`, or `quit`."
        )
        while True:
            try:
                text = self.ask(PROMPT).strip()
            except (EOFError, KeyboardInterrupt):
                return
            if text in ("quit", "exit", "q"):
                return
            if text:
                self.one(text)

    def one(self, text: str, *, assume_yes: bool = False) -> CommandResult | None:
        """Handle one line; returns the final result (None when only a question was asked)."""
        try:
            parsed = parse_text(
                text, db=self.db, settings=self.settings, groups=self.principal.readable_groups()
            )
        except LakeForgeError as error:
            self.console.print(f"[red]{error.sentence()}[/]")
            return None
        if parsed.intent is None:
            self.console.print(f"[yellow]?[/] {parsed.clarify}")
            return None
        intent = parsed.intent
        self.console.print(f"[dim]{parsed.parser} ({parsed.confidence:.2f}):[/] {json.dumps(intent)}")
        if intent["kind"] in CHAT_ONLY_KINDS:
            self._history(intent.get("name", ""))
            return None
        read_only = getattr(INTENTS_BY_KIND.get(intent["kind"]), "read_only", False)
        result = self._execute(intent, dry_run=not read_only, raw_text=text)
        if result is None or result.status != "planned":
            return self._show(result)
        for line in result.plan or []:
            self.console.print(f"  • {line.get('text', line)}")
        answer = "y" if assume_yes else self.ask("Apply? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            self.console.print("Cancelled.")
            return result
        return self._show(self._execute(intent, confirm_token=result.confirm_token, raw_text=text))

    def _execute(self, intent: dict[str, Any], **options: Any) -> CommandResult | None:
        try:
            return execute(self.db, intent, self.actor, principal=self.principal, **options)
        except LakeForgeError as error:
            self.console.print(f"[red]{error.sentence()}[/]")
            return None

    def _show(self, result: CommandResult | None) -> CommandResult | None:
        if result is None:
            return None
        colour = {"applied": "green", "rejected": "red"}.get(result.status, "cyan")
        self.console.print(f"[{colour}]{result.status}[/]: {result.message}")
        for error in result.errors:
            self.console.print(f"  [red]{error.field}[/]: {error.message} {error.fix or ''}")
        if result.result:
            self._print_result(result.result)
        return result

    def _print_result(self, result: dict[str, Any]) -> None:
        """In words where chat has words for it (the same as Slack's), else as JSON."""
        text = answer_text(result)
        if text is not None:
            self.console.print(terminal_markup(text))
        elif isinstance(result.get("intents"), list):
            for item in result["intents"]:
                self.console.print(f"  [bold]{item['kind']}[/]: {escape(item['summary'])}")
        else:
            self.console.print_json(json.dumps(result, default=str))

    def _history(self, name: str) -> None:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT entity_type, revision, actor, created_at FROM lakeforge.metadata_revision"
                " WHERE entity_key = %s ORDER BY id DESC LIMIT 20",
                (name,),
            ).fetchall()
        for row in rows:
            self.console.print(
                f"{row['entity_type']} {name} rev {row['revision']} by {row['actor']} at {row['created_at']}"
            )
        if not rows:
            self.console.print(f"No recorded changes of {name}.")
