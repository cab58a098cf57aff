"""Alert messages from the run log: one parent per batch, zone details, failures and recoveries.

Pure functions from a ``BatchView`` (read from ``lakeforge_log``) to Slack text and Block Kit,
or to a webhook's JSON body. No Slack, no database here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lakeforge.notify.scrub import scrub

ZONES = ("raw", "bronze", "silver", "gold")
ICONS = {
    "queued": ":white_circle:",
    "running": ":large_blue_circle:",
    "succeeded": ":large_green_circle:",
    "failed": ":red_circle:",
    "cancelled": ":black_circle:",
    "skipped": ":white_circle:",
}
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "skipped"})


@dataclass
class ZoneView:
    zone: str
    status: str
    rows_in: int | None = None
    rows_out: int | None = None
    error: str | None = None


@dataclass
class BatchView:
    batch_id: int
    group: str
    status: str
    source: str | None = None
    trigger: str = "manual"
    rerun_of: int | None = None
    error: str | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    zones: list[ZoneView] = field(default_factory=list)
    failed_tables: list[dict[str, Any]] = field(default_factory=list)
    failed_checks: list[dict[str, Any]] = field(default_factory=list)
    # Consecutive failed batches of the group just before this one.
    previous_failures: int = 0
    cancelled_by: str | None = None

    @property
    def outcome(self) -> str:
        """The status as said in chat: "cancelled by ana" rather than "cancelled"."""
        if self.status == "cancelled" and self.cancelled_by:
            return f"cancelled by {self.cancelled_by}"
        return self.status

    @property
    def title(self) -> str:
        what = f"{self.group}/{self.source}" if self.source else self.group
        return f"Batch #{self.batch_id} of {what}"

    @property
    def duration(self) -> str:
        took = elapsed(self.started_at, self.ended_at)
        return f" in {took}" if took else ""


def elapsed(started: datetime | None, ended: datetime | None) -> str:
    """How long a batch ran, said the same way in chat and in the terminal: "42 s", "3.5 min"."""
    if not started or not ended:
        return ""
    seconds = (ended - started).total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def zone_line(view: BatchView) -> str:
    seen = {z.zone: z for z in view.zones}
    return "  →  ".join(f"{ICONS.get(seen[z].status if z in seen else 'queued')} {z}" for z in ZONES)


def _rows(rows_in: int | None, rows_out: int | None) -> str:
    if rows_in is None and rows_out is None:
        return ""
    # A batch of Silver or Gold alone reads no Bronze: it has rows out and no rows in.
    if rows_in is None:
        return f" ({rows_out} rows out)"
    if rows_out is None:
        return f" ({rows_in} rows in)"
    return f" ({rows_in} rows in, {rows_out} out)"


def panel_link(panel_url: str | None, batch_id: int) -> str | None:
    return f"{panel_url.rstrip('/')}/runs/{batch_id}" if panel_url else None


def parent(view: BatchView, panel_url: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The one message per batch, updated in place as zones finish."""
    status = view.status
    took = view.duration if status in TERMINAL else ""
    head = f"{ICONS.get(status, '')} *{view.title}* — {view.outcome}{took}"
    detail = f"trigger: {view.trigger}" + (f", rerun of #{view.rerun_of}" if view.rerun_of else "")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        {"type": "section", "text": {"type": "mrkdwn", "text": zone_line(view)}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": detail + _rows(view.rows_in, view.rows_out)}],
        },
    ]
    link = panel_link(panel_url, view.batch_id)
    if link:
        blocks.append({"type": "actions", "elements": [_panel_button(link)]})
    return f"{view.title}: {view.outcome}", blocks


def zone_reply(view: BatchView, zone: ZoneView) -> tuple[str, list[dict[str, Any]]]:
    text = f"{ICONS.get(zone.status, '')} {zone.zone}: {zone.status}{_rows(zone.rows_in, zone.rows_out)}"
    if zone.error:
        text += f"\n```{scrub(zone.error)[:1500]}```"
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def failure_reply(
    view: BatchView, panel_url: str | None, channel_id: int
) -> tuple[str, list[dict[str, Any]]]:
    """A failure, worded differently the first time and when it keeps failing; with buttons."""
    if view.previous_failures == 0:
        head = f":rotating_light: *{view.title} failed.* It succeeded last time, so this is new."
    else:
        streak = view.previous_failures + 1
        head = f":repeat: *{view.title} failed again* — {streak} failed batches in a row for {view.group}."
    text = "\n".join([head, *failure_lines(view)])
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": "lakeforge_alert_rerun",
            "style": "primary",
            "text": {"type": "plain_text", "text": "Rerun"},
            "value": str(view.batch_id),
        },
    ]
    link = panel_link(panel_url, view.batch_id)
    if link:
        buttons.append(_panel_button(link))
    buttons.append(
        {
            "type": "button",
            "action_id": "lakeforge_alert_mute",
            "text": {"type": "plain_text", "text": "Mute 24 h"},
            "value": f"{view.group}|{channel_id}",
        }
    )
    return text, [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:2990]}},
        {"type": "actions", "block_id": f"alert_{view.batch_id}", "elements": buttons},
    ]


def failed_zone(view: BatchView) -> str | None:
    return next((z.zone for z in view.zones if z.status == "failed"), None)


def failure_lines(view: BatchView) -> list[str]:
    """Where a failed batch stopped, why, the tables and rules that failed, and what to do."""
    lines = []
    where = failed_zone(view)
    if where:
        lines.append(f"Failed in zone *{where}*.")
    if view.error:
        lines.append(f"```{scrub(view.error)[:1500]}```")
    for table in view.failed_tables[:5]:
        error = str(table.get("error") or "failed")
        # Most often the batch's error above is this table's: say which table, not the error again.
        said = "failed (the error above)" if view.error and error in view.error else scrub(error)[:300]
        lines.append(f"• table `{table['table_name']}`: {said}")
    lines.extend(check_line(check) for check in view.failed_checks[:5])
    lines.append(next_step(view, where))
    return lines


def check_line(check: dict[str, Any]) -> str:
    return (
        f"• rule `{check['rule_name']}` on `{check['table_name']}`: {check['rows_failed']} of "
        f"{check['rows_checked']} rows failed ({check['action']})"
    )


def next_step(view: BatchView, zone: str | None) -> str:
    """One line saying what to do about a failure, from where it failed."""
    rerun = f"then press *Rerun* (or `/lakeforge rerun {view.batch_id}`)"
    # Only a rule whose action is "fail" stops a batch; drop, quarantine and warn rules do not.
    check = next((c for c in view.failed_checks if c.get("action") == "fail"), None)
    if check is not None:
        rule, table = check["rule_name"], str(check["table_name"]).rsplit(".", 1)[-1]
        return (
            f"*What to do:* correct the rows that break rule `{rule}` at the source, or change what "
            f"the rule does (`/lakeforge set rule {rule} on {table} to warn`), {rerun}."
        )
    what = f"`/lakeforge show {view.source}`" if view.source else f"`/lakeforge status {view.group}`"
    if zone == "raw":
        return f"*What to do:* check that the source's location and files are reachable ({what}), {rerun}."
    if zone in ("bronze", "silver"):
        return f"*What to do:* check the source's schema and the rows named above ({what}), {rerun}."
    if zone == "gold":
        return f"*What to do:* fix the gold table's SQL or the tables it reads, {rerun}."
    return f"*What to do:* fix the cause above, {rerun}."


def cancelled_reply(view: BatchView) -> tuple[str, list[dict[str, Any]]]:
    """A batch someone stopped: who, where it stopped, and that what it finished stays."""
    stopped = next((z.zone for z in reversed(view.zones) if z.status == "cancelled"), None)
    where = f" in zone *{stopped}*" if stopped else ""
    text = (
        f"{ICONS['cancelled']} *{view.title} was {view.outcome}*{where}. Tables it finished stay "
        f"written; to run it again: `/lakeforge rerun {view.batch_id}`."
    )
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def recovery_reply(view: BatchView) -> tuple[str, list[dict[str, Any]]]:
    text = (
        f":white_check_mark: *{view.group} recovered*: {view.title} succeeded{view.duration} after "
        f"{view.previous_failures} failed batch{'es' if view.previous_failures != 1 else ''}."
    )
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def webhook_body(view: BatchView, panel_url: str | None) -> dict[str, Any]:
    """What a generic webhook receives when a batch ends (Slack-compatible ``text`` included)."""
    if view.status == "failed":
        text = failure_reply(view, panel_url, 0)[0]
    elif view.status == "succeeded" and view.previous_failures:
        text = recovery_reply(view)[0]
    elif view.status == "cancelled":
        text = cancelled_reply(view)[0]
    else:
        text = parent(view, panel_url)[0]
    return {
        "text": text,
        "batch_id": view.batch_id,
        "group": view.group,
        "source": view.source,
        "status": view.status,
        "previous_failures": view.previous_failures,
        "cancelled_by": view.cancelled_by,
        "error": scrub(view.error) if view.error else None,
        "url": panel_link(panel_url, view.batch_id),
    }


def _panel_button(link: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": "lakeforge_open_panel",
        "text": {"type": "plain_text", "text": "Open in panel"},
        "url": link,
    }
