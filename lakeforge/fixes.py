"""Fixes that name a command, worded for the surface the reader is on.

An error's fix often says which command to send next ("Create it with create_group first.").
Intent kinds are what REST callers send; a Slack user types chat words, a terminal user runs a
``lakeforge`` command, a panel user clicks on a page. So such a fix is built from text and
``IntentRef`` parts, and each part is worded when the answer is rendered for its surface:

>>> fix = Fix("If you need its data, run it again: ", ref("rerun_batch", batch_id=42), ".")
>>> fix.render("slack")
'If you need its data, run it again: `/lakeforge rerun batch 42`.'
>>> fix.render("cli")
'If you need its data, run it again: `lakeforge rerun 42`.'
>>> fix.render("api")
'If you need its data, run it again: rerun_batch batch_id=42 (POST /api/v1/runs/42/rerun).'
>>> str(fix)
'If you need its data, run it again: rerun_batch batch_id=42.'

Chat words are ones the rule-based parser reads back as the same intent (tests check each). Where
the reference leaves a value open (``update_source`` needs what to change), the chat words carry an
example value and the rendering says "e.g.".
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any, Literal

# Who reads the fix. Surfaces map onto these (a terminal chat reads chat words, not commands).
Audience = Literal["plain", "rest", "slack", "chat", "cli", "panel"]
_AUDIENCES: dict[str, Audience] = {
    "api": "rest",
    "slack": "slack",
    "cli": "cli",
    "yaml": "cli",
    "web": "panel",
}
# The chat console of ``lakeforge chat`` acts with surface cli on this channel.
TERMINAL_CHANNEL = "terminal"


@dataclass(frozen=True)
class IntentRef:
    """A command a fix points at: its intent kind and the values the error already knows."""

    kind: str
    args: tuple[tuple[str, Any], ...] = ()

    @property
    def intent(self) -> dict[str, Any]:
        return {"kind": self.kind, **dict(self.args)}


def ref(kind: str, **args: Any) -> IntentRef:
    return IntentRef(kind, tuple(args.items()))


@dataclass(frozen=True)
class Wording:
    """How each surface says one intent. Templates take the reference's values as ``{name}``;
    ``examples`` fill the values a chat phrase needs and a reference may leave open."""

    chat: str | None = None  # words the chat parser reads as this intent
    cli: str | None = None  # a `lakeforge` command
    rest: str | None = None  # "METHOD /api/v1/path"
    panel: str | None = None  # the page and the action on it
    examples: dict[str, Any] = field(default_factory=dict)


API = "/api/v1"
WORDINGS: dict[str, Wording] = {
    "create_group": Wording(
        chat="create group {name}", rest=f"POST {API}/groups", panel="Create group on the Groups page"
    ),
    "list_sources": Wording(chat="list sources", rest=f"GET {API}/sources", panel="the Sources page"),
    "show_source": Wording(
        chat="show {name}", rest=f"GET {API}/sources/{{name}}", panel="the page of source {name}"
    ),
    "update_source": Wording(
        chat="update {name} location {location}",
        rest=f"PATCH {API}/sources/{{name}}",
        panel="Edit on the page of source {name}",
        examples={"location": "/Volumes/main/raw/new_folder"},
    ),
    "add_dq_rule": Wording(
        chat="add rule on {source}: {expression} {action}",
        rest=f"POST {API}/dq-rules",
        panel="Quality rules on the page of source {source}",
        examples={"expression": "amount > 0", "action": "drop"},
    ),
    "update_dq_rule": Wording(
        chat="set rule {name} on {source} to {action}",
        rest=f"PATCH {API}/dq-rules/{{source}}/{{name}}",
        panel="Edit rule {name} on the page of source {source}",
        examples={"action": "fail"},
    ),
    "set_schedule": Wording(
        chat="schedule {group} every day at 2am",
        rest=f"PUT {API}/groups/{{group}}/schedule",
        panel="Save schedule for {group} on the Groups page",
        examples={"quartz_cron": "0 0 2 * * ?"},
    ),
    "restore_revision": Wording(
        chat="restore {name} to revision {revision}",
        rest=f"POST {API}/sources/{{name}}/restore",
        examples={"revision": 3},
    ),
    "list_runs": Wording(chat="runs", cli="lakeforge runs", rest=f"GET {API}/runs", panel="the Runs page"),
    "rerun_batch": Wording(
        chat="rerun batch {batch_id}",
        cli="lakeforge rerun {batch_id}",
        rest=f"POST {API}/runs/{{batch_id}}/rerun",
        panel="Rerun on the page of batch {batch_id} (Runs)",
    ),
    "run_now": Wording(
        chat="run {source}",
        cli="lakeforge run {source}",
        panel="Run now on the page of source {source}",
    ),
}


def _fill(template: str | None, values: dict[str, Any]) -> str | None:
    """``template`` with ``values``, or None when it has none or needs a value not given."""
    if template is None:
        return None
    slots = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format_map(values) if slots <= set(values) else None


class _Phrase:
    """One reference as each audience words it."""

    def __init__(self, reference: IntentRef) -> None:
        self.ref = reference
        self.wording = WORDINGS.get(reference.kind, Wording())
        self.values = dict(reference.args)

    def plain(self) -> str:
        values = " ".join(f"{key}={value}" for key, value in self.ref.args)
        return f"{self.ref.kind} {values}".strip()

    def rest(self) -> str:
        return f"{self.plain()} ({_fill(self.wording.rest, self.values) or f'POST {API}/commands'})"

    def chat_words(self) -> tuple[str, dict[str, Any]] | None:
        """The chat words and the values they carry: the reference's, then examples for the rest."""
        values = {**self.wording.examples, **self.values}
        words = _fill(self.wording.chat, values)
        return (words, values) if words is not None else None

    def chat(self, prefix: str) -> str | None:
        """The chat words in code quotes, "e.g." when example values fill what is left open."""
        found = self.chat_words()
        if found is None:
            return None
        example = any(key not in self.values for key in self.wording.examples)
        return f"{'e.g. ' if example else ''}`{prefix}{found[0]}`"

    def cli(self) -> str:
        command = _fill(self.wording.cli, self.values)
        if command is not None:
            return f"`{command}`"
        chat = self.chat("")
        return f"{chat} in `lakeforge chat`" if chat else self.rest()

    def panel(self) -> str:
        page = _fill(self.wording.panel, self.values)
        if page is not None:
            return page
        chat = self.chat("")
        return f"{chat} in the Chat console" if chat else self.rest()

    def render(self, audience: Audience) -> str:
        if audience == "rest":
            return self.rest()
        if audience == "slack":
            return self.chat("/lakeforge ") or self.rest()
        if audience == "chat":
            return self.chat("") or self.rest()
        if audience == "cli":
            return self.cli()
        if audience == "panel":
            return self.panel()
        return self.plain()


def chat_intent(reference: IntentRef) -> tuple[str, dict[str, Any]] | None:
    """The chat words for ``reference`` and the intent they stand for (examples included)."""
    found = _Phrase(reference).chat_words()
    return (found[0], {"kind": reference.kind, **found[1]}) if found else None


def audience(surface: str | None, channel: str | None = None) -> Audience:
    """Who reads a fix given to ``surface`` (the Actor's), e.g. api → rest, web → panel."""
    if surface == "cli" and channel == TERMINAL_CHANNEL:
        return "chat"
    return _AUDIENCES.get(surface or "", "plain")


class Fix:
    """A fix made of text and command references; ``str()`` is the wording for any reader."""

    def __init__(self, *parts: str | IntentRef) -> None:
        self.parts = parts

    @property
    def refs(self) -> list[IntentRef]:
        return [part for part in self.parts if isinstance(part, IntentRef)]

    def render(self, surface: str | None = None, channel: str | None = None) -> str:
        reader = audience(surface, channel)
        return "".join(part if isinstance(part, str) else _Phrase(part).render(reader) for part in self.parts)

    def led_by(self, text: str) -> Fix:
        return Fix(text, *self.parts)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Fix{self.parts!r}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fix) and other.parts == self.parts

    def __hash__(self) -> int:
        return hash(self.parts)


def render(fix: str | Fix | None, surface: str | None = None, channel: str | None = None) -> str | None:
    """``fix`` for a reader on ``surface``: plain text stays as it is."""
    return fix.render(surface, channel) if isinstance(fix, Fix) else fix
