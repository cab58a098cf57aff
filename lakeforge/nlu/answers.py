"""A command's result in words, for the chat surfaces.

Slack shows these texts as mrkdwn sections; ``lakeforge chat`` prints the same texts with
:func:`terminal_markup`. A result without a summary here is shown as its JSON.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape

from lakeforge.notify import render
from lakeforge.notify.render import BatchView, ZoneView

_MAX_TABLES = 12


def answer_text(result: dict[str, Any]) -> str | None:
    """The result of a read or a cancel as a few lines of mrkdwn, or None when it has no summary."""
    if isinstance(result.get("runs"), list):
        return _runs_text(result["runs"])
    if isinstance(result.get("batch"), dict) and isinstance(result.get("zones"), list):
        return _run_text(result)
    if isinstance(result.get("group"), dict) and isinstance(result.get("sources"), list):
        return _group_text(result)
    if isinstance(result.get("source"), dict) and "recent_runs" in result:
        return _source_text(result)
    if isinstance(result.get("sources"), list):
        return _sources_text(result["sources"], result.get("group_name"))
    if isinstance(result.get("quarantine"), dict):
        return _quarantine_text(result["quarantine"])
    if result.get("status") in ("cancelled", "cancelling") and "batch_id" in result:
        return _cancel_text(result)
    return None


# Slack's status icons (see notify.render.ICONS) as coloured dots a terminal can show.
_TERMINAL_ICONS = {
    ":white_circle:": "[dim]○[/]",
    ":large_blue_circle:": "[blue]●[/]",
    ":large_green_circle:": "[green]●[/]",
    ":red_circle:": "[red]●[/]",
    ":black_circle:": "[dim]●[/]",
}


def terminal_markup(text: str) -> str:
    """mrkdwn as Rich markup: *bold*, `code`, ```blocks```, _italics_ and the status icons."""
    text = escape(text)
    for code, dot in _TERMINAL_ICONS.items():
        text = text.replace(code, dot)
    text = re.sub(r"```(.+?)```", r"\1", text, flags=re.S)
    text = re.sub(r"`([^`\n]+)`", r"[cyan]\1[/]", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"[bold]\1[/]", text)
    return re.sub(r"(?<![\w])_([^_\n]+)_(?![\w])", r"[italic]\1[/]", text)


def _runs_text(runs: list[dict[str, Any]]) -> str:
    rows = [_run_item(run, with_group=True) for run in runs]
    return "\n".join(rows) if rows else "_no runs yet_"


def _run_item(run: dict[str, Any], *, with_group: bool) -> str:
    """One batch in a list: ``#7 sales/orders — *failed* 2026-11-26 02:00 UTC`` (the group left out
    where the list is already one group's or source's)."""
    what = f"#{run.get('batch_id')}" + (f" {run.get('group_name')}" if with_group else "")
    what += f"/{run['source_name']}" if run.get("source_name") else ""
    return f"{what}{' —' if with_group else ''} *{run.get('status')}* {_when_run(run)}"


def _when_run(run: dict[str, Any]) -> str:
    """When a batch started (or was queued), to the minute: the run log's times are UTC."""
    moment = _moment(run.get("started_at") or run.get("created_at"))
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _view(result: dict[str, Any]) -> BatchView:
    batch = result["batch"]
    tables = result.get("tables") or []
    checks = result.get("dqs") or []
    return BatchView(
        batch_id=batch["batch_id"],
        group=batch["group_name"],
        status=batch["status"],
        source=batch.get("source_name"),
        trigger=batch.get("trigger") or "manual",
        rerun_of=batch.get("rerun_of"),
        error=batch.get("error"),
        rows_in=batch.get("rows_in"),
        rows_out=batch.get("rows_out"),
        created_at=_moment(batch.get("created_at")),
        started_at=_moment(batch.get("started_at")),
        ended_at=_moment(batch.get("ended_at")),
        zones=[
            ZoneView(z["zone"], z["status"], z.get("rows_in"), z.get("rows_out"), z.get("error"))
            for z in result["zones"]
        ],
        failed_tables=[t for t in tables if t.get("status") == "failed"],
        failed_checks=[c for c in checks if c.get("status") == "failed"],
        cancelled_by=batch.get("cancelled_by"),
    )


def _run_text(result: dict[str, Any]) -> str:
    """A batch: how it ended, its zones, the rows each table took and left, and what went wrong."""
    view = _view(result)
    took = view.duration if view.status in render.TERMINAL else ""
    lines = [
        f"{render.ICONS.get(view.status, '')} *{view.title}* — {view.outcome}{took}",
        render.zone_line(view),
        f"trigger: {view.trigger}" + (f", rerun of #{view.rerun_of}" if view.rerun_of else ""),
    ]
    tables = result.get("tables") or []
    zone_of = {zone.get("id"): zone["zone"] for zone in result["zones"]}
    for table in tables[:_MAX_TABLES]:
        zone = zone_of.get(table.get("zone_run_id"))
        lines.append(f"• {zone + ' ' if zone else ''}`{table['table_name']}`: {_table_rows(table)}")
    if len(tables) > _MAX_TABLES:
        lines.append(f"_… and {len(tables) - _MAX_TABLES} more tables_")
    if view.status == "failed":
        lines.extend(render.failure_lines(view))
    else:
        # Rules that drop, quarantine or warn do not fail a batch: still worth a line each.
        lines.extend(render.check_line(check) for check in view.failed_checks[:5])
    return "\n".join(lines)


def _table_rows(table: dict[str, Any]) -> str:
    if table.get("status") != "succeeded":
        return f"*{table.get('status')}*"
    if table.get("rows_in") is None and table.get("rows_out") is None:
        return "landed"
    text = f"{table.get('rows_in') or 0:,} rows in, {table.get('rows_out') or 0:,} out"
    return text + (f", {table['rows_rejected']:,} rejected" if table.get("rows_rejected") else "")


def _cancel_text(result: dict[str, Any]) -> str:
    what = f"#{result['batch_id']} {result.get('group')}" + (
        f"/{result['source']}" if result.get("source") else ""
    )
    if result["status"] == "cancelled":
        text = f"{what} — *cancelled*"
    else:
        text = f"{what} — *cancelling*: it stops after the table it is writing; finished tables stay"
    if result.get("job_run_id"):
        text += f"\nJob run {result['job_run_id']} cancelled in the workspace."
    return text


def _when(schedule: dict[str, Any] | None) -> str:
    if not schedule:
        return "no schedule: it runs when someone asks (`run GROUP`)"
    if schedule.get("paused"):
        return f"{schedule['description']} ({schedule['timezone']}), *paused*: `resume` it to run again"
    upcoming = ", ".join(t.replace("T", " ")[:16] for t in schedule.get("next_fire_times", []))
    return f"{schedule['description']} ({schedule['timezone']}); next: {upcoming}"


def _runs_line(runs: list[dict[str, Any]]) -> str:
    shown = [_run_item(run, with_group=False) for run in runs]
    return "*Recent runs:* " + ("; ".join(shown) if shown else "_none yet_")


def _source_text(result: dict[str, Any]) -> str:
    """A source: where it reads from and how, its rules, its group's schedule, its last runs."""
    source = result["source"]
    mode = source["load_mode"] + (
        f" on {source['watermark_column']}" if source.get("watermark_column") else ""
    )
    silver = source.get("silver") or {}
    keys = ", ".join(silver.get("primary_keys") or []) or "none"
    rules = ", ".join(
        f"{rule['name']} (`{rule['expression']}` → {rule['action']}"
        + ("" if rule.get("enabled", True) else ", off")
        + ")"
        for rule in source.get("dq_rules") or []
    )
    lines = [
        f"*Reads:* {source['format']} from `{source['location']}`, {mode}"
        + ("" if source.get("enabled", True) else " — *disabled*"),
        f"*Silver:* `{silver.get('target_table')}`, keys {keys}, SCD type {silver.get('scd_type', 1)}",
        f"*Rules:* {rules or '_none_'}",
        f"*Group {source['group']}:* {_when(result.get('schedule'))}",
        _runs_line(result.get("recent_runs") or []),
    ]
    return "\n".join(lines)


def _group_text(result: dict[str, Any]) -> str:
    """A group as a reader wants it: when it runs next, what it loads, how its last runs went."""
    when = _when(result.get("schedule"))
    sources = ", ".join(
        f"{s['name']} ({s['format']}, {s['load_mode']}{'' if s['enabled'] else ', disabled'})"
        for s in result["sources"]
    )
    gold = ", ".join(g["name"] for g in result["group"].get("gold") or [])
    lines = [f"*Schedule:* {when}", f"*Sources:* {sources or '_none yet_'}"]
    if gold:
        lines.append(f"*Gold:* {gold}")
    lines.append(_runs_line(result.get("recent_runs") or []))
    return "\n".join(lines)


def _sources_text(sources: list[dict[str, Any]], group: str | None) -> str:
    """One line per source: ``orders`` (sales): csv, incremental — disabled."""
    if not sources:
        return f"_no sources in {group} yet_" if group else "_no sources you can see yet_"
    lines = [
        f"`{s['name']}` ({s['group']}): {s['format']}, {s['load_mode']}"
        + ("" if s.get("enabled", True) else " — *disabled*")
        for s in sources
    ]
    return "\n".join([f"*{len(sources)} source(s)*" + (f" in {group}" if group else "") + ":", *lines])


def _quarantine_text(view: dict[str, Any]) -> str:
    """How many rows a source's quarantine holds, per failed rule, and the newest few of them."""
    if not view.get("table"):
        return f"Nothing quarantined for {view['source']} yet. {view.get('note', '')}".strip()
    lines = [f"*{view['total_rows']:,} quarantined row(s)* of {view['source']} in `{view['table']}`"]
    if view.get("by_rule"):
        lines.append(
            "*By rule:* " + ", ".join(f"{rule} {count:,}" for rule, count in view["by_rule"].items())
        )
    rows = view.get("rows") or []
    if rows:
        lines.append(f"*Newest {len(rows)}:*")
    for row in rows:
        values = ", ".join(f"{name}={_short(row.get(name))}" for name in view.get("columns") or [])
        rules = ", ".join(row.get("_failed_rules") or [])
        lines.append(f"• #{row.get('_batch_id')} {values} — failed {rules or '?'}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return "null" if value is None else str(value)
