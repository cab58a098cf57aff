"""``lakeforge run``, ``rerun``, ``cancel`` and ``runs``: batches from the terminal, through the
command layer.

``run`` and ``rerun`` queue the batch exactly as Slack or the panel would (plan, audit) and then
follow it until it ends; the exit code says how it ended (0 succeeded, 1 failed). With
``--no-wait`` they return once the batch is under way: a batch no Databricks job carries then runs
in a background process that outlives the command (``lakeforge.commands.detached``). ``cancel``
follows the batch until it has stopped (0 cancelled, 1 it ended otherwise first).
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lakeforge import suggest
from lakeforge.commands import launch, state
from lakeforge.commands.access import Principal
from lakeforge.commands.batch_report import batch_tables
from lakeforge.commands.cli import _fail, _local_user, _never_existed, _open, err_console
from lakeforge.commands.detached import DetachedLauncher, run_handed_over
from lakeforge.commands.envelope import Actor, CommandResult, FieldError
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.metadata.models import RunStatus
from lakeforge.notify.render import elapsed
from lakeforge.terminal import make_console

console = make_console()
FINAL = ("succeeded", "failed", "cancelled", "skipped")


def _execute(db: Database, intent: dict[str, Any], confirm_token: str | None = None) -> CommandResult:
    from lakeforge.commands.executor import execute

    user = _local_user()
    actor, principal = Actor(user=user, surface="cli"), Principal.local_admin(user)
    return execute(db, intent, actor, principal=principal, confirm_token=confirm_token)


def _batch(db: Database, batch_id: int) -> dict[str, Any]:
    with db.connection() as conn:
        batch = conn.execute(
            "SELECT batch_id, status, error FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        ).fetchone()
    assert batch is not None
    return dict(batch)


def _follow(db: Database, batch_id: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with console.status(f"Batch {batch_id} running…") as status:
        while True:
            batch = _batch(db, batch_id)
            with db.connection() as conn:
                zones = conn.execute(
                    "SELECT zone, status FROM lakeforge_log.zone_run WHERE batch_id = %s ORDER BY id",
                    [batch_id],
                ).fetchall()
            if batch["status"] == "queued" and batch["error"]:
                # Waiting for its group's earlier batches: say which (escaped: text, not markup).
                status.update(escape(f"Batch {batch_id} queued: {batch['error']}"))
            else:
                status.update(f"Batch {batch_id}: " + " → ".join(f"{z['zone']} {z['status']}" for z in zones))
            if batch["status"] in FINAL or time.monotonic() > deadline:
                return batch
            time.sleep(0.5)


def _queue_and_follow(
    intent: dict[str, Any], wait: bool, timeout: float, *, expected: str = "succeeded"
) -> None:
    """Execute ``intent`` (a batch command), then follow its batch; exit 1 unless it ends ``expected``.
    Without ``wait`` a batch this process would run goes to a background process instead."""
    background = DetachedLauncher()
    with _open() as db:
        if not wait:
            launch.set_launcher(background)  # the batch must outlive this command
        try:
            result = _execute(db, intent)
        finally:
            launch.set_launcher(None)
        if result.status != "applied":
            _refused(result)
        batch_id = int((result.result or {})["batch_id"])
        console.print(f"{result.message} Batch id {batch_id}.")
        if wait:
            batch = _follow(db, batch_id, timeout)
            if batch["status"] in FINAL:
                for table in batch_tables(db, batch_id):
                    console.print(table)
        else:
            batch = _batch(db, batch_id)
            if batch["status"] != "failed":  # a batch that could not even start is reported below
                _print_background(batch_id, background.started.get(batch_id))
                return
    _print_outcome(batch, expected)
    if batch["status"] != expected:
        raise typer.Exit(1)


def _print_outcome(batch: dict[str, Any], expected: str = "succeeded") -> None:
    """ "Batch 42 succeeded." or "Batch 42 failed. <error>": the last line of every batch report."""
    colour = "green" if batch["status"] == expected else "red" if batch["status"] in FINAL else "yellow"
    said = escape(f"{batch['error'] or ''}")  # an error may hold brackets: text, not markup
    console.print(f"Batch {batch['batch_id']} [{colour}]{batch['status']}[/]. {said}".rstrip())


# Intent fields that are options of these commands: an error names the option the user typed.
_OPTIONS = ("zones", "group", "source", "status", "since", "limit", "revision", "entity")


def _refused(result: CommandResult) -> typer.Exit:
    """Print each error of a refused command once (field: what is wrong. How to fix it.), exit 2."""
    for error in result.errors or [FieldError(field="", message=result.message or result.status)]:
        field = error.field.removeprefix("intent.")
        field = f"--{field}" if field.split(".")[0] in _OPTIONS else field
        said = (f"{field}: " if field else "") + error.message.rstrip(".") + "."
        said += f" {error.fix}" if error.fix else ""
        err_console.print(f"[bold red]error:[/] {escape(said)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _print_background(batch_id: int, log: Path | None) -> None:
    where = f"; its output goes to {escape(str(log))}" if log else ""
    console.print(
        f"Batch {batch_id} runs in the background{where}. "
        f"`lakeforge runs {batch_id}` shows how it went; `lakeforge cancel {batch_id}` stops it.",
        highlight=False,
        soft_wrap=True,
    )


ZonesOption = Annotated[
    str | None,
    typer.Option(
        "--zones",
        help="Only these zones, comma-separated and in order, e.g. silver,gold. A run that starts"
        " after Bronze brings Silver up to date with every Bronze batch it has not applied yet;"
        " a rerun reads its own batch's Bronze rows.",
        show_default=False,
    ),
]


def _with_zones(intent: dict[str, Any], zones: str | None) -> dict[str, Any]:
    # The intent checks the names and their order, so every surface refuses the same way.
    if zones is None:
        return intent
    return {**intent, "zones": [zone.strip() for zone in zones.split(",") if zone.strip()]}


def run(
    target: Annotated[str, typer.Argument(help="A group, or a source (only that source runs).")],
    zones: ZonesOption = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the batch until it ends.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to follow before giving up.")] = 3600,
) -> None:
    """Run a group (or one source) now, through Raw, Bronze, Silver and Gold (or --zones).

    Prints every table written and every rule's result when the batch ends; exit 1 if it failed.

    Examples:

      lakeforge run retail                  # the whole group, followed to the end
      lakeforge run orders --no-wait        # one source, in the background
      lakeforge run retail --zones silver,gold  # Silver catches up with Bronze
    """
    with _open() as db, db.connection() as conn:
        groups, sources = state.group_names(conn, None), state.source_names(conn, None)
    is_group = target in groups
    if not is_group and target not in sources:
        # Checked here, not by the intent: the target may be either, so the closest of both is named.
        fix = "Check the name; `lakeforge export` shows every group and source."
        error = LakeForgeError(
            f"{target!r} is neither a group nor a source",
            fix=suggest.did_you_mean(target, groups + sources, fix),
        )
        _fail(error, code=2)
    intent = {"kind": "run_now", "group": target} if is_group else {"kind": "run_now", "source": target}
    _queue_and_follow(_with_zones(intent, zones), wait, timeout)


def rerun(
    batch_id: Annotated[
        int, typer.Argument(help="The batch to run again (its rows are replaced, not added).")
    ],
    zones: ZonesOption = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the batch until it ends.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to follow before giving up.")] = 3600,
) -> None:
    """Run a finished batch again; every zone ends with exactly that batch's rows once.

    Examples:

      lakeforge rerun 42
      lakeforge rerun 42 --zones silver,gold   # from Silver, on its Bronze rows
    """
    _queue_and_follow(_with_zones({"kind": "rerun_batch", "batch_id": batch_id}, zones), wait, timeout)


def cancel(
    batch_id: Annotated[int, typer.Argument(help="The queued or running batch to stop.")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the batch until it stops.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to follow before giving up.")] = 3600,
) -> None:
    """Cancel a batch: it stops after the table it is writing and ends cancelled (its job run too)."""
    _queue_and_follow({"kind": "cancel_run", "batch_id": batch_id}, wait, timeout, expected="cancelled")


def run_detached(
    request: Annotated[str, typer.Argument(help="The launch request, as JSON.")],
    ready_fd: Annotated[int, typer.Option("--ready-fd", help="Pipe to say the batch is claimed.")],
) -> None:
    """Run a batch handed over by `run --no-wait` or `rerun --no-wait` (started by them, not by hand)."""
    handed = launch.LaunchRequest(**json.loads(request))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    console.print(f"{started} batch {handed.batch_id} of {handed.group}: running in process {os.getpid()}.")
    with _open() as db:
        run_handed_over(db, handed, ready_fd)
        batch = _batch(db, handed.batch_id)
    ended = datetime.now(UTC).isoformat(timespec="seconds")
    console.print(f"{ended} batch {handed.batch_id} {batch['status']}. {batch['error'] or ''}".rstrip())
    if batch["status"] != "succeeded":
        raise typer.Exit(1)


def runs(
    batch_id: Annotated[
        int | None,
        typer.Argument(
            help="Show this batch in full: every table it wrote and every rule's result.",
            show_default=False,
        ),
    ] = None,
    group: Annotated[str | None, typer.Option(help="Only this group.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    status: Annotated[RunStatus | None, typer.Option(help="Only batches in this state.")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="An ISO 8601 time, or a period: today, yesterday, 'this week', 45m, 6h, 2d, 1w."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many batches, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full rows as JSON.")] = False,
) -> None:
    """Recent batches, newest first. A source's batches include the runs of its whole group.

    Examples:

      lakeforge runs --group retail --status failed --since today
      lakeforge runs --source orders --since 6h --json
      lakeforge runs 42        # batch 42: its tables and rules, as run prints them
    """
    if batch_id is not None:
        if any(value is not None for value in (group, source, status, since)):
            message = "a batch id shows that batch; --group, --source, --status and --since filter a list"
            _fail(LakeForgeError(message, field="batch_id", fix="Give one or the other."), code=2)
        _show_batch(batch_id, as_json)
        return
    intent = {
        "kind": "list_runs",
        "group": group,
        "source": source,
        "status": status,
        "since": _since(since) if since else None,
        "limit": limit,
    }
    with _open() as db:
        result = _execute(db, {k: v for k, v in intent.items() if v is not None})
        rows = (result.result or {}).get("runs", [])
        if result.status == "applied" and not rows:
            # No batch of a name that never existed is a typo, not an empty history: say so. A removed
            # group or source keeps its revisions, so its old batches are still asked for in peace.
            with db.connection() as conn:
                for entity, name in (("group", group), ("source", source)):
                    missing = _never_existed(conn, entity, name) if name else None
                    if missing is not None:
                        _fail(LakeForgeError(missing.message, field=f"--{entity}", fix=missing.fix), code=2)
    if result.status != "applied":
        _refused(result)
    if as_json:
        print(json.dumps(rows, default=str))
        return
    table = Table(title=f"{len(rows)} batch(es)", title_justify="left")
    # One line per batch, as a listing is read: the error is cut to the width left (--json has it
    # whole), and the other columns never wrap, so a narrow terminal does not stack a row in a tower.
    for column in ("batch", "group", "source", "trigger", "status", "started (UTC)", "took", "rows in → out"):
        right = column in ("batch", "took", "rows in → out")
        table.add_column(column, justify="right" if right else "left", no_wrap=True)
    table.add_column("error")
    for row in rows:
        started, ended = _moment(row.get("started_at")), _moment(row.get("ended_at"))
        trigger = row["trigger"] + (f" of #{row['rerun_of']}" if row.get("rerun_of") else "")
        table.add_row(
            str(row["batch_id"]),
            row["group_name"],
            row.get("source_name") or "(all)",  # a group batch runs every source of the group
            trigger,
            row["status"],
            started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if started else "",
            elapsed(started, ended),
            _rows_in_out(row.get("rows_in"), row.get("rows_out")),
            Text(" ".join((row.get("error") or "").split()), no_wrap=True, overflow="ellipsis"),
        )
    console.print(table)


def _show_batch(batch_id: int, as_json: bool) -> None:
    """One batch as `run` reports it when it ends (a batch run with --no-wait or on a schedule)."""
    with _open() as db:
        result = _execute(db, {"kind": "show_run", "batch_id": batch_id})
        if result.status != "applied":
            _refused(result)
        if as_json:
            print(json.dumps(result.result, default=str))
            return
        for table in batch_tables(db, batch_id):
            console.print(table)
    _print_outcome((result.result or {})["batch"])


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _rows_in_out(rows_in: int | None, rows_out: int | None) -> str:
    if rows_in is None and rows_out is None:
        return ""
    # None is a zone the batch did not run (a batch of Silver alone reads no Bronze), not unknown.
    return f"{'—' if rows_in is None else f'{rows_in:,}'} → {'—' if rows_out is None else f'{rows_out:,}'}"


_COMPACT_PERIOD = re.compile(r"(\d{1,4})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _since(value: str) -> str:
    """``--since`` as the ISO time the intent takes: an ISO time (UTC when it names no zone) or a
    period the chat understands too ("today", "6h" = the last six hours)."""
    from lakeforge.nlu.periods import since  # the chat's package is slow to import: only when asked

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        compact = _COMPACT_PERIOD.fullmatch(value.strip().lower())
        # "2d" is said to the chat's parser as "last 2 days", which knows the words, not the letters.
        period = f"last {compact[1]} {_UNITS[compact[2]]}" if compact else value
        start = since(period.lower())
        if start is None:
            message = f"{value!r} is neither an ISO 8601 time nor a period"
            fix = "Use e.g. 2026-11-26T06:00:00Z, today, yesterday, 'this week', 45m, 6h, 2d or 1w."
            _fail(LakeForgeError(message, field="--since", fix=fix), code=2)
        return start.isoformat()
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("rerun")(rerun)
    app.command("cancel")(cancel)
    app.command("run-detached", hidden=True)(run_detached)
    app.command("runs")(runs)
