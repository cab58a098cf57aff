"""Command-line surface of the command layer: declarative apply/export, history.

Registered in ``lakeforge/cli.py``. Whoever runs these commands reaches the metadata store
directly, so they act as a local admin; every change still goes through the executor
(plan, audit row, revision) under the caller's OS user name.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lakeforge import suggest
from lakeforge.commands import state
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.errors import LakeForgeError
from lakeforge.settings import get_settings
from lakeforge.terminal import make_console

console = make_console()
# Refusals go to stderr: `lakeforge apply -f x.yaml > plan.txt` keeps them on screen, the file clean.
err_console = make_console(stderr=True)


def _local_user() -> str:
    name = re.sub(r"[^a-z0-9_]", "_", getpass.getuser().lower()) or "local"
    return name if name[0].isalpha() else f"u_{name}"


def _open() -> Any:
    from lakeforge.commands import launch
    from lakeforge.metadata.db import open_database

    settings = get_settings()
    launch.configure(settings)
    db = open_database(settings)
    _require_migrated(db)
    return db


def _require_migrated(db: Any) -> None:
    """Refuse to work on a store that lacks migrations this LakeForge needs: its code would fail
    half-way (a runner thread, a column that is not there) instead of saying what to do."""
    from lakeforge.metadata.migrate import pending

    waiting = pending(db)
    if waiting:
        db.close()
        raise LakeForgeError(
            f"lacks {len(waiting)} migration(s) this LakeForge needs "
            f"({', '.join(waiting[:3])}{', …' if len(waiting) > 3 else ''})",
            field="metadata store",
            fix="Run `lakeforge db migrate` (or `lakeforge up`, which migrates for you).",
        )


def _shown(value: Any) -> str:
    """A plan value in full: the CLI is where a reviewer reads the exact change, so nothing is cut."""
    if value is None:
        return "(none)"
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


def _print_plan(lines: list[dict[str, Any]], title: str) -> None:
    table = Table(title=escape(title), show_lines=False, title_justify="left")
    table.add_column("op")
    table.add_column("what")
    table.add_column("change", overflow="fold")
    colours = {
        "create": "green",
        "update": "yellow",
        "delete": "red",
        "touch": "cyan",
        "run": "magenta",
        "cancel": "red",
    }
    for line in lines:
        what = f"{line['entity']} {line['key']}" + (f".{line['field']}" if line.get("field") else "")
        if not line.get("field"):
            change = line["text"]
        elif line["op"] == "update":
            change = f"{_shown(line['before'])} → {_shown(line['after'])}"
        else:
            change = _shown(line["after"] if line["op"] == "create" else line["before"])
        # Text, not markup: rule and gold names appear in brackets (dq_rules[has_customer]).
        table.add_row(Text(line["op"], style=colours.get(line["op"], "white")), Text(what), Text(change))
    console.print(table)


def apply(
    file: Annotated[Path, typer.Option("-f", "--file", help="The lakeforge.yaml to apply.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan, change nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (for scripts).")] = False,
) -> None:
    """Upsert systems, groups, sources, rules, schedules and profiles declared in a YAML file.

    Everything is checked before anything is written; apply never deletes. Exit 2, nothing
    changed, when anything is wrong (the problems go to stderr with their line).

    Examples:

      lakeforge apply -f lakeforge.yaml --dry-run   # the plan and every check
      lakeforge apply -f lakeforge.yaml             # apply it
    """
    from lakeforge.commands.declarative import apply_document, read_file
    from lakeforge.commands.yaml_file import InvalidFile

    user = _local_user()
    try:
        # The file is read and checked before the metadata store is opened: a syntax or key
        # error needs no database (handy in a pre-commit hook or CI lint step).
        doc, lines = read_file(file)
    except InvalidFile as invalid:
        # The file itself is wrong (syntax, keys, types, duplicate names): list every problem at once.
        if as_json:
            errors = [e.model_dump() for e in invalid.errors]
            # The same keys as a report, so a script reads every outcome alike.
            answer = {"dry_run": dry_run, "ok": False, "changes": 0, "undeclared_sources": []}
            print(json.dumps({**answer, "errors": errors, "steps": []}))
        else:
            for error in invalid.errors:
                _print_error(error)
            err_console.print(
                f"{len(invalid.errors)} problem(s) in {escape(str(file))}; nothing was changed.",
                highlight=False,
            )
        raise typer.Exit(2) from None
    with _open() as db:
        report = apply_document(
            db,
            doc,
            Actor(user=user, surface="yaml"),
            Principal.local_admin(user),
            dry_run=dry_run,
            source=str(file),
            lines=lines,
        )
    if as_json:
        print(
            json.dumps(
                {
                    "dry_run": report.dry_run,
                    "ok": report.ok,
                    "changes": report.changes,
                    "undeclared_sources": report.undeclared_sources,
                    "errors": [],  # problems of the file itself; each step carries its own
                    "steps": [
                        {
                            "entity": s.entity,
                            "name": s.name,
                            "status": s.status,
                            "message": s.message,
                            "plan": s.plan,
                            "errors": [e.model_dump() for e in s.errors],
                        }
                        for s in report.steps
                    ],
                },
                default=str,
            )
        )
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(2)


def _print_error(error: Any) -> None:
    text = f"{error.field}: {error.message.rstrip('.')}." + (f" {error.fix}" if error.fix else "")
    err_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False)


def _print_report(report: Any) -> None:
    rejected = [step for step in report.steps if step.status == "rejected"]
    for step in report.steps:
        if step.status == "rejected":
            err_console.print(
                f"[bold red]rejected[/] {escape(f'{step.entity} {step.name}')}", highlight=False
            )
            for error in step.errors:
                _print_error(error)
        elif step.changed and (report.dry_run or step.status == "applied"):
            _print_plan(step.plan, f"{step.entity} {step.name}")
    if report.undeclared_sources:
        names = ", ".join(report.undeclared_sources)
        console.print(
            f"Not in the file, left as they are: source {escape(names)} "
            "(apply never deletes; remove one with remove_source in chat, the panel or POST /commands).",
            highlight=False,
        )
    total = len(report.steps)
    if not total:
        # Most often a file cut short (an export that failed half-way) rather than one meant empty.
        console.print("The file declares no compute profile, system or group: nothing to apply.")
        return
    if not rejected:
        verb = "would change" if report.dry_run else "changed"
        console.print(f"{report.changes} of {total} entities {verb}.")
    elif report.dry_run or not any(step.status == "applied" for step in report.steps):
        err_console.print(f"{len(rejected)} of {total} entities rejected; nothing was changed.")
    else:
        err_console.print(
            f"{report.changes} of {total} entities changed before {rejected[0].entity} "
            f"{escape(rejected[0].name)} was rejected (changed meanwhile?); the rest were not applied."
        )


def export(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle", help="Write a Databricks Asset Bundle of the jobs and pipelines here instead."
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group", help="Only this group, with the compute profile and systems it uses (YAML only)."
        ),
    ] = None,
) -> None:
    """Write the metadata as lakeforge.yaml (apply it back and nothing changes), or as a bundle.

    Examples:

      lakeforge export -o lakeforge.yaml               # everything, to review in git
      lakeforge export --group retail -o retail.yaml   # one group; the file applies on its own
      lakeforge export --bundle bundle/                # a Databricks Asset Bundle of the jobs
    """
    from lakeforge.commands.declarative import export_yaml

    if bundle is not None and group is not None:
        message = "--bundle writes every group's job; --group limits a YAML export"
        _fail(LakeForgeError(message, field="--group", fix="Give one or the other."), code=2)
    if bundle is not None:
        from lakeforge.deploy.bundle import bundle_documents, desired_state, write_bundle

        with _open() as db:
            documents = bundle_documents(desired_state(db, get_settings()))
        with _writing(bundle, "--bundle", "Give a folder (new, or from an earlier export) you may write to."):
            written = write_bundle(bundle, documents)
        console.print(
            f"Wrote {len(written)} files to {escape(str(bundle))} "
            "(validate with `databricks bundle validate`).",
            highlight=False,
        )
        return
    with _open() as db:
        text = export_yaml(db, group)
    if output is None:
        print(text, end="")
    else:
        with _writing(output, "-o", "Give a file in a folder that exists and that you may write to."):
            output.write_text(text, encoding="utf-8")
        console.print(f"Wrote {escape(str(output))}.", highlight=False)  # [dev].yaml is a name, not markup


@contextmanager
def _writing(path: Path, option: str, fix: str) -> Iterator[None]:
    """A file or folder the command cannot write is one sentence naming it, not a traceback."""
    try:
        yield
    except OSError as error:
        raise LakeForgeError(
            f"cannot write {path} ({error.strerror})",
            field=option,
            fix=fix,
        ) from None


def history(
    source: Annotated[str, typer.Argument(help="Source name (or NAME with --entity).")],
    entity: Annotated[
        str, typer.Option("--entity", help="source, group, system, compute_profile, channel.")
    ] = "source",
    as_json: Annotated[bool, typer.Option("--json", help="Print the revisions as JSON.")] = False,
) -> None:
    """Every revision of a source: who changed what, and when (put one back with `lakeforge restore`).

    Examples:

      lakeforge history orders
      lakeforge history retail --entity group --json
      lakeforge restore orders --revision 2     # orders as it was at revision 2
    """
    from lakeforge.commands.plans import diff

    _require_entity(entity)
    with _open() as db, db.connection() as conn:
        rows = conn.execute(
            "SELECT r.revision, r.actor, r.created_at, r.before, r.after, a.surface, a.kind "
            "FROM metadata_revision r LEFT JOIN command_audit a ON a.id = r.command_id "
            "WHERE r.entity_type = %s AND r.entity_key = %s ORDER BY r.revision",
            [entity, source],
        ).fetchall()
        missing = None if rows else _never_existed(conn, entity, source)
    if missing is not None:
        _fail(missing)
    if as_json:
        print(json.dumps([dict(row) for row in rows], default=str))
        return
    if not rows:
        console.print(f"No history for {entity} {source}.")
        raise typer.Exit(1)
    table = Table(title=escape(f"History of {entity} {source}"), title_justify="left")
    for column in ("rev", "when (UTC)", "who", "how", "changes"):
        table.add_column(column, overflow="fold")
    for row in rows:
        strip = [
            {k: v for k, v in (s or {}).items() if k != "revision"} or None
            for s in (row["before"], row["after"])
        ]
        lines = diff(entity, source, strip[0], strip[1])
        text = "; ".join(line["text"].split(": ", 1)[-1] for line in lines[:6]) + (
            " …" if len(lines) > 6 else ""
        )
        table.add_row(
            str(row["revision"]),
            # In UTC like `lakeforge runs`, whatever time zone the metadata store's session has.
            row["created_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            Text(row["actor"]),
            f"{row['surface'] or ''} {row['kind'] or ''}".strip(),
            Text(text),  # not markup: dq_rules[has_customer] must keep its rule name
        )
    console.print(table)


# What --entity takes.
_HISTORY_ENTITIES = ("source", "group", "system", "compute_profile", "channel")


def _require_entity(entity: str, code: int = 1) -> None:
    """Exit with ``code`` naming the closest kind unless ``entity`` is one --entity takes."""
    if entity not in _HISTORY_ENTITIES:
        _fail(
            LakeForgeError(
                f"unknown entity {entity!r}",
                field="--entity",
                fix=suggest.did_you_mean(
                    entity, _HISTORY_ENTITIES, f"Use one of {', '.join(_HISTORY_ENTITIES)}."
                ),
            ),
            code,
        )


def _current_names(conn: Any, entity: str) -> list[str]:
    """Every name of ``entity`` that exists (the CLI is a local admin: it sees every group)."""
    if entity == "source":
        return state.source_names(conn, None)
    if entity == "group":
        return state.group_names(conn, None)
    return state.shared_names(conn, _SHARED_TABLE[entity])


_SHARED_TABLE = {
    "system": "source_system",
    "compute_profile": "compute_profile",
    "channel": "notification_channel",
}


def _never_existed(conn: Any, entity: str, name: str) -> LakeForgeError | None:
    """For a name without history: the error naming it, unless it exists (an entity written before
    revisions were kept). A removed entity keeps its history, so it never gets here."""
    current = _current_names(conn, entity)
    if name in current:
        return None
    with_history = conn.execute(
        "SELECT DISTINCT entity_key FROM metadata_revision WHERE entity_type = %s", [entity]
    ).fetchall()
    candidates = {*current, *(row["entity_key"] for row in with_history)}
    what = entity.replace("_", " ")
    return LakeForgeError(
        f"{what} {name!r} does not exist and never did",
        fix=suggest.did_you_mean(name, candidates, "Check the name; `lakeforge export` shows what exists."),
    )


def _fail(error: LakeForgeError, code: int = 1) -> NoReturn:
    """Print ``error`` as the other commands print theirs and exit with ``code`` (1 by default)."""
    err_console.print(f"[bold red]error:[/] {escape(error.sentence())}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``lakeforge`` app."""
    from lakeforge.commands import restore_cli, runs_cli, tokens_cli

    tokens_cli.register(app)
    app.command("apply")(apply)
    app.command("export")(export)
    app.command("history")(history)
    restore_cli.register(app)
    runs_cli.register(app)
