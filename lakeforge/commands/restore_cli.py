"""``lakeforge restore``: put an entity back as it was at a revision, through ``restore_revision``.

The same intent as chat, the panel and ``POST /commands``: the executor plans it, the plan is
shown, and it applies only when confirmed, with the confirm token of exactly that plan (a
restore replaces the current definition, so it is destructive). It writes a new revision and an
audit row like any change, so a restore is itself undone by restoring again.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lakeforge.commands.cli import _never_existed, _open, _print_plan, _require_entity, console, err_console
from lakeforge.commands.runs_cli import _execute, _refused


def restore(
    name: Annotated[str, typer.Argument(help="Source name (or NAME with --entity).")],
    revision: Annotated[
        int, typer.Option("--revision", min=1, help="The revision to go back to (`lakeforge history NAME`).")
    ],
    entity: Annotated[
        str, typer.Option("--entity", help="source, group, system, compute_profile, channel.")
    ] = "source",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking (for scripts).")] = False,
) -> None:
    """Restore a source (or --entity ...) as it was at a revision: shows the plan, asks, applies.

    Exit 0 restored (or nothing to restore), 1 not confirmed, 2 refused (an unknown name or
    revision, or a definition the current metadata no longer allows); nothing changes unless 0.

    Examples:

      lakeforge history orders                       # find the revision
      lakeforge restore orders --revision 2          # plan, confirm, apply
      lakeforge restore retail --entity group --revision 3 --yes
    """
    _require_entity(entity, code=2)
    intent = {"kind": "restore_revision", "entity": entity, "name": name, "revision": revision}
    with _open() as db:
        planned = _execute(db, intent)
        if planned.status == "rejected":
            if planned.reason == "not_found":
                with db.connection() as conn:
                    missing = _never_existed(conn, entity, name)
                if missing is not None:  # a typo: name the closest, not "has no revision"
                    planned.errors[0].message, planned.errors[0].fix = missing.message, missing.fix
                    planned.errors[0].field = "name"
            _refused(planned)
        lines = planned.plan or []
        if not any(line["op"] != "touch" for line in lines):
            what = entity.replace("_", " ").capitalize()
            console.print(f"{what} {name} is as at revision {revision}: nothing to restore.")
            return
        _print_plan(lines, f"Restore {entity} {name} to revision {revision}")
        if not yes and not _confirmed():
            err_console.print("Not confirmed; nothing was changed (--yes applies without asking).")
            raise typer.Exit(1)
        applied = _execute(db, intent, confirm_token=planned.confirm_token)
    if applied.status != "applied":
        _refused(applied)
    console.print(f"{applied.message} `lakeforge history {name}` shows it as a new revision.")


def _confirmed() -> bool:
    """The answer at the prompt; no answer at all (end of input, Ctrl-C) is a no."""
    try:
        return typer.confirm("Apply this restore?", default=False, err=True)
    except typer.Abort:
        err_console.print()  # end the prompt's line
        return False


def register(app: typer.Typer) -> None:
    app.command("restore")(restore)
