"""The embedded rule-based parser: free text to a proposed intent, no model and no network.

It reads the verb family (with synonyms and typo correction), the nouns around it and the
values it can recognise (paths, quoted expressions, channels, batch ids, schedules). A
required value it cannot find becomes a clarifying question; it never fills one in by guessing.

>>> parse_rules("pause the sales group").intent
{'kind': 'pause_schedule', 'group': 'sales'}

Here the message is classified into an intent kind; ``readers`` then reads that kind's slots
(with the value readers in ``slots``) from a message prepared by ``message``.
"""

from __future__ import annotations

import re

from lakeforge.metadata.db import Database
from lakeforge.nlu import guards, periods
from lakeforge.nlu import slots as slot
from lakeforge.nlu import vocabulary as vocab
from lakeforge.nlu.lookup import Known
from lakeforge.nlu.message import Message, prepare
from lakeforge.nlu.readers import READERS
from lakeforge.nlu.result import ParseResult
from lakeforge.nlu.schedule_text import to_quartz
from lakeforge.nlu.text import normalize


def classify(msg: Message) -> tuple[str | None, float]:
    """The intent kind a message asks for and how sure the wording makes it (0..1)."""
    fams = msg.families()
    first = fams[0] if fams else None
    text = msg.text.rest
    has_batch = bool(slot.BATCH_ID.search(text)) or msg.has(vocab.BATCH_NOUNS)
    is_rule = msg.has(vocab.RULE_NOUNS)
    schedule = to_quartz(msg.text.raw)
    cadence = schedule.understood
    channel = bool(msg.text.channels) or "channel" in msg.words

    if not msg.words and not msg.text.locations:
        return "help", 0.6 if not msg.text.raw.strip() else 0.9
    if first == "help" or re.match(
        r"^\s*(?:what can (?:you do|i ask|i do|i say)|how do i|what commands)", text
    ):
        return "help", 0.95
    if guards.asks_to_cancel(text):
        return "cancel_run", 0.9
    reads = first in (None, "show", "list", "status")
    quarantined = _QUARANTINED.search(text)
    # A verb after "quarantined" ("... rows in invoices from today's load") names no action:
    # what decides is the verb before it.
    asked_before = quarantined is not None and msg.families_before(quarantined.start())[:1] in (
        [],
        ["show"],
        ["list"],
        ["status"],
    )
    if (
        (reads or asked_before)
        and quarantined
        and not msg.has(vocab.RULE_NOUNS)
        and slot.bad_rows(msg) is None
    ):
        # "show me quarantined rows for orders": the rows set aside, not a rule that sets them aside.
        return "show_quarantine", 0.8
    if reads and msg.has(_INVENTORY) and not _names_source(msg) and not msg.has(_ABOUT_RUNS):
        # "which sources do we have?", "list sources", "what sources are in retail?"
        return "list_sources", 0.8
    changes = any(f not in ("show", "list", "status", "history") for f in fams)
    if channel and msg.has(frozenset({"send", "post"})) and re.match(r"^\s*when\b", text):
        # "when orders fail, send alerts to #x" starts like a question but asks for a subscription.
        return "subscribe_channel", 0.85
    about_schedule = _UPCOMING.search(text) or _SCHEDULE_STATE.search(text)
    if about_schedule and (msg.known.names & msg.wordset or not msg.known.names):
        # "when does sales run?", "next run of orders", "is sales paused?": the schedule.
        return "show_group", 0.8
    if guards.is_question(text) and (changes or re.match(r"^\s*why\b", text)):
        # A question about state is answered with a read, never by making the change it names:
        # "why did batch 42 fail?" is that batch's run, with its error and tables.
        if re.match(r"^\s*who\b", text):
            return "show_history", 0.6
        return ("show_run" if slot.BATCH_ID.search(text) else "list_runs"), 0.6
    if "restore" in fams or re.search(r"\broll(?:ed)?\s+back\b|\bback to (?:revision|version|rev|v)\b", text):
        return "restore_revision", 0.9
    about_source = any(w in msg.known.sources for w in msg.words)
    if about_source and first not in ("register", "show", "list", "run") and slot.silver_slots(msg):
        # "orders is keyed on order_id", "make orders scd 2", "orders: keep history": how the
        # source lands in silver (before "history", which otherwise asks for its revisions).
        # Asked ("is orders keyed on id?"), it is answered by showing the source.
        return ("show_source", 0.7) if guards.is_question(text) else ("update_source", 0.8)
    if "history" in fams or re.search(
        r"\bwho changed\b|\b(?:recent |show |list )?changes (?:to|of|on)\b", text
    ):
        return "show_history", 0.9
    if "subscribe" in fams or (channel and msg.has(frozenset({"send", "post"}))):
        return "subscribe_channel", 0.9 if channel else 0.7
    again = "again" in msg.words or bool(re.search(r"\bone more time\b|\bonce more\b", text))
    if "rerun" in fams or (again and ("run" in fams or slot.BATCH_ID.search(text))):
        return "rerun_batch", 0.95
    # An action applied to rows ("quarantine rows where ...") or a condition with an operator
    # and no clearer verb reads as a new rule.
    expression = slot.rule_expression(msg) if not is_rule else None
    acts_on_rows = slot.bad_rows(msg) is not None
    names_source = any(w in msg.known.sources for w in msg.words)
    # A verb-like word that is the condition's column ("status should never be 'void'") is no verb.
    subject = expression.split()[0].lower() if expression else None
    verb = next((w for w in msg.words if vocab.family(w)), None)
    looks_like_rule = expression and (first in (None, "update") or verb == subject) and "changes" not in fams
    # Rows acted on by a condition are a rule even before the source is known (it is asked
    # for): "drop rows where ..." must never read as removing a source.
    if not is_rule and (acts_on_rows or (looks_like_rule and (names_source or msg.has(vocab.SOURCE_NOUNS)))):
        return "add_dq_rule", 0.7
    # A rule named by its noun or by a name the store knows: adding, changing or removing it.
    if is_rule or slot.known_rule(msg):
        verbs = [f for f in fams if f in ("remove", "register", "update", "show", "list", "pause", "resume")]
        if verbs and verbs[0] == "remove":
            return "remove_dq_rule", 0.9
        if verbs and verbs[0] in ("show", "list"):
            return "show_source", 0.7
        edits = bool(verbs) and verbs[0] in ("update", "pause", "resume")
        if edits or re.search(r"\bturn(?:ed)?\s+(?:\w+\s+){0,3}(?:on|off)\b", text):
            return "update_dq_rule", 0.85
        if is_rule and not verbs and not slot.rule_expression(msg):
            # "rules for orders", "orders rules?": no verb and no condition asks to see them.
            return "show_source", 0.7
        if is_rule:
            return "add_dq_rule", 0.9 if verbs else 0.75
    if re.search(
        r"\bturn(?:ed)?\s+(?:\w+\s+)?(?:back\s+)?on\b|\bswitch(?:ed)?\s+(?:\w+\s+)?(?:back\s+)?on\b", text
    ):
        return "resume_schedule", 0.75
    if re.search(r"\bturn(?:ed)?\s+(?:\w+\s+)?off\b|\bon hold\b", text):
        return "pause_schedule", 0.75
    moved = re.search(r"\binstead\b|\bnow (?:lives|is|sits) (?:at|in|under)\b|\bmoved?\s+to\b", text)
    if moved and names_source and msg.text.locations and first != "register":
        # "orders now lives at /Volumes/..." or "read orders from ... instead": a new location.
        return "update_source", 0.8
    load_words = msg.has(frozenset({"incremental", "full"}))
    if load_words and names_source and not msg.text.locations and first != "register":
        return "update_source", 0.7
    if msg.has(vocab.FORMATS) and names_source and not msg.text.locations and first in (None, "update"):
        # "orders is json now", "customers should be delta from now on": the source's format.
        return "update_source", 0.7
    # "ingest clicks now": clicks exists already, so this asks for a run, not a new source.
    plain_register = first == "register" and not is_rule and not msg.text.locations
    if plain_register and not msg.has(vocab.GROUP_NOUNS) and names_source and "run" not in fams:
        return "run_now", 0.7
    # "disable orders" turns one source off; pausing its group would stop its siblings too.
    switches = msg.has(frozenset({"disable", "enable", "reenable"}))
    names_group = any(w in msg.known.groups for w in msg.words) or msg.has(
        vocab.GROUP_NOUNS | vocab.SCHEDULE_NOUNS
    )
    if switches and (names_source or msg.has(vocab.SOURCE_NOUNS)) and not names_group:
        return "update_source", 0.8
    if first == "pause" or ("pause" in fams and "run" not in fams[:1]):
        return "pause_schedule", 0.9
    if first == "resume" or "resume" in fams:
        return "resume_schedule", 0.9
    new_group = first == "register" and msg.has(vocab.GROUP_NOUNS) and not msg.has(vocab.SOURCE_NOUNS)
    if new_group and not msg.text.locations and not (msg.known.names & msg.wordset):
        # "create group marketing with schedule every day at 2am": the schedule is the new group's.
        return "create_group", 0.85
    describes_new_source = bool(msg.text.locations) and slot.file_format(msg) is not None and not names_source
    if describes_new_source and first in (None, "register", "run"):
        # "load the invoices csv files from /Volumes/... every day at 6am" describes a new source
        # and its schedule; read as a schedule or a run, the source itself would be lost.
        return "register_source", 0.8
    if cadence or msg.has(vocab.SCHEDULE_NOUNS):
        if first in ("show", "list", "status"):
            # "show runs since monday" names a period of runs, not a schedule.
            runs = msg.has(frozenset({"run", "runs"}) | vocab.BATCH_NOUNS) and periods.since(text) is not None
            return ("list_runs" if runs else _shown(msg)), 0.6
        return "set_schedule", 0.9 if cadence else 0.75
    if "sync" in fams:
        return "sync_jobs", 0.95
    if first == "remove" or ("remove" in fams and first not in ("show", "list")):
        return "remove_source", 0.9
    if "run" in fams and has_batch and slot.BATCH_ID.search(text) and first not in ("show", "status", "list"):
        return "rerun_batch", 0.8
    if first == "register" or ("register" in fams and msg.text.locations):
        if msg.has(vocab.GROUP_NOUNS) and not msg.has(vocab.SOURCE_NOUNS) and not msg.text.locations:
            return "create_group", 0.85
        return "register_source", 0.9
    if first == "update" or ("update" in fams and msg.text.locations):
        return "update_source", 0.85
    if slot.BATCH_ID.search(text) and (not fams or first in ("show", "status", "list")):
        return "show_run", 0.9
    if (
        "list" in fams
        or first == "status"
        or (msg.has(frozenset(vocab.STATUSES)) and first in (None, "show", "list", "status"))
    ):
        return "list_runs", 0.85
    if first in ("show", "status") and ("run" in fams or msg.has(vocab.BATCH_NOUNS)):
        # "show the last run of orders": run is the thing to show, not the thing to do.
        return "list_runs", 0.75
    if "run" in fams:
        return "run_now", 0.9
    if first == "show":
        return _shown(msg), 0.85
    if msg.text.locations and slot.file_format(msg):
        return "register_source", 0.6
    return None, 0.0


_QUARANTINED = re.compile(
    r"\bquarantined\b|\b(?:in|of|from)\s+(?:the\s+)?(?:\w+\s+)?quarantine\b|^\s*quarantine\s*$"
)
_INVENTORY = frozenset({"sources", "datasets", "feeds", "tables"})
_ABOUT_RUNS = vocab.BATCH_NOUNS | frozenset({"run", "runs", "ran", "failed", "failures", "running", "status"})


def _names_source(msg: Message) -> bool:
    return any(w in msg.known.sources for w in msg.words)


_UPCOMING = re.compile(
    r"^\s*(?:when|what\s+time)\s+(?:does|do|will|is|are)\b(?!.*\b(?:fail|failed|break)\b)"
    r"|\bnext\s+(?:[a-z_]\w*\s+)?(?:run|runs|load|batch)\b"  # "the next web run"
)

_SCHEDULE_STATE = re.compile(r"^\s*(?:is|are)\b.*\b(?:paused|scheduled|on\s+hold|running\s+on\s+schedule)\b")


def _shown(msg: Message) -> str:
    """What "show X" shows: a group when X names one (and no source), else a source."""
    names_group = any(w in msg.known.groups for w in msg.words) or msg.has(vocab.GROUP_NOUNS)
    names_source = any(w in msg.known.sources for w in msg.words) or msg.has(vocab.SOURCE_NOUNS)
    return "show_group" if names_group and not names_source else "show_source"


def _what_to_do_with(msg: Message) -> str | None:
    """For a message naming a source or group but no command ("orders?"): what can be done with it."""
    name = next((w for w in msg.words if w in msg.known.names), None)
    if name is None:
        return None
    if name in msg.known.sources:
        offers = f"`show {name}`, `status {name}`, `run {name}`, `history {name}`"
        what = f"the source {name} (group {msg.known.sources[name]})"
    else:
        offers = f"`show group {name}`, `status {name}`, `run {name}`, `pause {name}`"
        what = f"the group {name}"
    return f"I see {what}, but not what to do with it. For example: {offers}. `help` lists every command."


# Slots the chat reads but the intent itself does not carry.
_CHAT_ONLY = {"help": {"topic"}}


def parse_rules(
    text: str,
    *,
    db: Database | None = None,
    known: Known | None = None,
    channel: str | None = None,
    groups: frozenset[str] | None = None,
) -> ParseResult:
    """Read ``text`` into a proposed intent, or a question when a required value is missing.

    ``groups`` are the groups the caller may see (None: all): run-log lookups stay inside them.
    """
    msg = prepare(normalize(text), known or Known())
    msg.channel = channel
    msg.groups = groups
    refused = guards.refusal(msg.text.rest)
    if refused:
        return ParseResult(clarify=refused, confidence=0.8, parser="rules")
    kind, confidence = classify(msg)
    if kind == "run_now" and guards.LATER.search(msg.text.rest):
        target, _ = slot.run_target(msg)
        name = next(iter(target.values()), "NAME")
        return ParseResult(
            clarify=(
                f"I can run {name} now (`run {name} now`) or on a schedule (`schedule "
                f"{msg.known.sources.get(name, name)} every day at 2am`), but not once at a later time."
            ),
            confidence=confidence,
            parser="rules",
            intent_kind=kind,
            partial=target,
        )
    if kind is None:
        return ParseResult(
            clarify=_what_to_do_with(msg)
            or "I did not understand that. Try `help` for what I can do, with an example of each.",
            confidence=0.0,
            parser="rules",
        )
    slots, question = READERS[kind](msg, db)
    slots = {key: value for key, value in slots.items() if value is not None}
    confidence = max(0.05, confidence - 0.05 * msg.typos)
    if question:
        return ParseResult(
            clarify=question, confidence=confidence, parser="rules", intent_kind=kind, partial=slots
        )
    intent = {"kind": kind, **{k: v for k, v in slots.items() if k not in _CHAT_ONLY.get(kind, set())}}
    return ParseResult(intent=intent, confidence=confidence, parser="rules", intent_kind=kind, partial=slots)
