"""Block Kit for the bot: plan previews with Confirm / Cancel, results, help, and the two modals.

Pure functions from values to Slack JSON, so they are tested without Slack.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lakeforge.commands.envelope import CommandResult
from lakeforge.nlu.answers import answer_text

Block = dict[str, Any]
DESTRUCTIVE_KINDS = frozenset({"remove_source", "remove_dq_rule", "remove_gold", "restore_revision"})
_MAX_LINES = 25

# The slash grammar, one entry per verb: the intent it becomes and an example.
GRAMMAR: list[tuple[str, str, str]] = [
    (
        "register source",
        "register_source",
        "/lakeforge register source orders csv from /Volumes/main/raw/orders group sales",
    ),
    ("update source", "update_source", "/lakeforge update orders location /Volumes/main/raw/orders_v2"),
    ("remove source", "remove_source", "/lakeforge remove source orders"),
    ("add rule", "add_dq_rule", "/lakeforge add rule on orders: amount > 0 drop"),
    ("change rule", "update_dq_rule", "/lakeforge set rule amount_gt_0 on orders to fail"),
    ("remove rule", "remove_dq_rule", "/lakeforge remove rule amount_gt_0 from orders"),
    ("schedule", "set_schedule", "/lakeforge schedule sales every day at 2am"),
    ("pause", "pause_schedule", "/lakeforge pause sales"),
    ("resume", "resume_schedule", "/lakeforge resume sales"),
    ("run", "run_now", "/lakeforge run orders"),
    ("rerun", "rerun_batch", "/lakeforge rerun the last failed batch of orders"),
    ("cancel", "cancel_run", "/lakeforge cancel the running sales batch"),
    ("sync", "sync_jobs", "/lakeforge sync"),
    ("status", "list_runs", "/lakeforge status sales"),
    ("runs", "list_runs", "/lakeforge runs failed in sales"),
    ("show", "show_source", "/lakeforge show orders"),
    ("show group", "show_group", "/lakeforge when does sales run?"),
    ("history", "show_history", "/lakeforge history orders"),
    ("restore", "restore_revision", "/lakeforge restore orders to revision 3"),
    ("subscribe", "subscribe_channel", "/lakeforge subscribe sales here"),
    ("help", "help", "/lakeforge help"),
]


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2990]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:2990]}]}


def describe_intent(intent: dict[str, Any]) -> str:
    """One line naming the command and its values: `pause_schedule` group=sales."""
    values = " ".join(f"{key}={_short(value)}" for key, value in intent.items() if key != "kind")
    return f"`{intent.get('kind')}` {values}".strip()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _lines(lines: list[str]) -> str:
    shown = lines[:_MAX_LINES]
    more = f"\n…and {len(lines) - _MAX_LINES} more" if len(lines) > _MAX_LINES else ""
    return "\n".join(f"• {line}" for line in shown) + more


def _is_job_line(line: dict[str, Any]) -> bool:
    return line.get("op") == "touch" or line.get("entity") in ("job", "pipeline", "databricks_job", "job_run")


def preview(
    intent: dict[str, Any], result: CommandResult, pending_id: str, raw_text: str | None
) -> list[Block]:
    """The plan of a change with Confirm / Cancel (danger style when it deletes or restores)."""
    plan = result.plan or []
    metadata = [str(line.get("text") or line) for line in plan if not _is_job_line(line)]
    jobs = [str(line.get("text") or line) for line in plan if _is_job_line(line)]
    destructive = intent.get("kind") in DESTRUCTIVE_KINDS
    confirm: Block = {
        "type": "button",
        "action_id": "lakeforge_confirm",
        "text": {"type": "plain_text", "text": "Confirm"},
        "value": pending_id,
        "style": "danger" if destructive else "primary",
    }
    if destructive:
        confirm["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {
                "type": "mrkdwn",
                "text": "This removes or replaces metadata. It can be restored from history.",
            },
            "confirm": {"type": "plain_text", "text": "Yes, apply"},
            "deny": {"type": "plain_text", "text": "Back"},
            "style": "danger",
        }
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Plan: " + intent["kind"].replace("_", " ")},
        },
        section(describe_intent(intent)),
        section("*Metadata changes*\n" + (_lines(metadata) if metadata else "_none_")),
        section("*Jobs touched*\n" + (_lines(jobs) if jobs else "_none_")),
    ]
    if raw_text:
        blocks.append(context(f"You typed: {raw_text[:200]}"))
    blocks.append(
        {
            "type": "actions",
            "block_id": "lakeforge_plan",
            "elements": [
                confirm,
                {
                    "type": "button",
                    "action_id": "lakeforge_cancel",
                    "text": {"type": "plain_text", "text": "Cancel"},
                    "value": pending_id,
                },
            ],
        }
    )
    return blocks


def outcome(result: CommandResult) -> list[Block]:
    """What happened: the executor's message, its field errors, and a compact view of any result."""
    icon = {"applied": ":white_check_mark:", "rejected": ":x:"}.get(result.status, ":information_source:")
    blocks = [section(f"{icon} {result.message or result.status}")]
    said = len(result.errors) == 1 and result.errors[0].message in result.message
    if result.errors and not said:  # one error is the message already: not said twice
        blocks.append(
            section(
                _lines(
                    [f"`{e.field}`: {e.message}" + (f" — {e.fix}" if e.fix else "") for e in result.errors]
                )
            )
        )
    if result.result:
        blocks.extend(render_result(result.result))
    return blocks


def render_result(result: dict[str, Any]) -> list[Block]:
    if isinstance(result.get("intents"), list):
        return []  # help is answered by help_blocks
    text = answer_text(result)
    if text is not None:
        return [section(text)]
    text = json.dumps(result, default=str, indent=1)
    return [section("```" + (text if len(text) < 2800 else text[:2800] + "\n…") + "```")]


def help_blocks(allowed: set[str], mapped: bool) -> list[Block]:
    """The grammar the caller may use (their role decides), one example each."""
    lines = [f"*{verb}* — `{example}`" for verb, kind, example in GRAMMAR if kind in allowed]
    blocks = [
        section(
            "*What you can ask LakeForge* (free text works too: _rerun last night's failed orders batch_)"
        ),
        section("\n".join(lines)),
    ]
    if not mapped:
        blocks.append(
            context(
                "Your Slack user is not mapped to a LakeForge user, so you can only read. "
                "Ask an admin to set app_user.slack_user_id for you."
            )
        )
    return blocks


def text_blocks(text: str) -> list[Block]:
    return [section(text)]


# A LakeForge command inside a fix ("Ask an admin: lakeforge token create --user vic ..."): shown
# as code, so it reads as something to type and copies whole.
_COMMAND_IN_FIX = re.compile(r"(?<![`\w])(lakeforge\s+[a-z][^`]*?)(?=\.?\s*$|\.\s)")


def refused_text(message: str, fix: str | None) -> str:
    """A permission refusal: what the caller may not do and why, then how to be allowed."""
    text = f":lock: {message.rstrip('.')}."
    if fix:
        text += " " + _COMMAND_IN_FIX.sub(r"`\1`", fix)
    return text


def known_names_line(what: str, names: list[str]) -> str:
    """The names that exist, for a reply to a name that does not (`sources` lists them all)."""
    shown = ", ".join(f"`{name}`" for name in names[:12]) + (" …" if len(names) > 12 else "")
    listing = "`/lakeforge sources`" if what == "source" else "`/lakeforge show group NAME`"
    return f"The {what}s you can see: {shown or '_none yet_'} ({listing} shows more)."


# -- modals -----------------------------------------------------------------------------------


def _input(
    block_id: str, label: str, initial: Any = None, *, optional: bool = False, hint: str = ""
) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": "value"}
    if initial:
        element["initial_value"] = str(initial)
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def _select(block_id: str, label: str, options: list[str], initial: str | None) -> Block:
    element: Block = {
        "type": "static_select",
        "action_id": "value",
        "options": [{"text": {"type": "plain_text", "text": o}, "value": o} for o in options],
    }
    if initial in options:
        element["initial_option"] = {"text": {"type": "plain_text", "text": initial}, "value": initial}
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }


def _noted(note: str | None) -> list[Block]:
    """The question that opened a form, above its fields: what is missing or wrong."""
    return [context(note)] if note else []


def register_source_modal(partial: dict[str, Any], metadata: str, note: str | None = None) -> Block:
    """Register a source, prefilled with what was typed."""
    return {
        "type": "modal",
        "callback_id": "lakeforge_register_source",
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Register a source"},
        "submit": {"type": "plain_text", "text": "Preview plan"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            *_noted(note),
            _input("name", "Name", partial.get("name"), hint="lower-case, e.g. orders"),
            _input("group", "Group", partial.get("group"), hint="one Databricks job per group"),
            _select(
                "format", "Format", ["csv", "json", "parquet", "delta", "jdbc", "rest"], partial.get("format")
            ),
            _input("location", "Location", partial.get("location"), hint="/Volumes/..., s3://..., jdbc:..."),
            _select("load_mode", "Load mode", ["full", "incremental"], partial.get("load_mode", "full")),
            _input("watermark_column", "Watermark column", partial.get("watermark_column"), optional=True),
        ],
    }


def add_rule_modal(partial: dict[str, Any], metadata: str, note: str | None = None) -> Block:
    """Add a data-quality rule, prefilled with what was typed."""
    return {
        "type": "modal",
        "callback_id": "lakeforge_add_rule",
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Add a quality rule"},
        "submit": {"type": "plain_text", "text": "Preview plan"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            *_noted(note),
            _input("source", "Source", partial.get("source")),
            _input("name", "Rule name", partial.get("name"), hint="lower-case, e.g. amount_positive"),
            _input("expression", "Condition (Spark SQL)", partial.get("expression"), hint="e.g. amount > 0"),
            _select(
                "action",
                "When a row fails",
                ["warn", "drop", "fail", "quarantine"],
                partial.get("action", "warn"),
            ),
        ],
    }


def modal_values(view: dict[str, Any]) -> dict[str, Any]:
    """The submitted values of a modal, by block id (empty optional inputs left out)."""
    values: dict[str, Any] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        element = actions.get("value", {})
        value = element.get("value")
        if element.get("selected_option"):
            value = element["selected_option"]["value"]
        if value not in (None, ""):
            values[block_id] = value.strip() if isinstance(value, str) else value
    return values
