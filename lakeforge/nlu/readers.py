"""One reader per intent kind: the slots it needs from a message, or the question to ask."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lakeforge.metadata.db import Database
from lakeforge.nlu import guards, periods
from lakeforge.nlu import slots as slot
from lakeforge.nlu import vocabulary as vocab
from lakeforge.nlu.file_options import SECRET_REF, csv_options, jdbc_options
from lakeforge.nlu.lookup import open_batches
from lakeforge.nlu.message import MENTION, Message
from lakeforge.nlu.schedule_text import to_quartz
from lakeforge.nlu.text import SLUG

Reader = Callable[[Message, Database | None], tuple[dict[str, Any], str | None]]


def _register_source(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    name = msg.after(frozenset({"called", "named"})) or msg.after(vocab.SOURCE_NOUNS)
    name = name or msg.before(vocab.SOURCE_NOUNS)
    group = msg.marked(vocab.GROUP_NOUNS)
    if group is None:
        group = next((w for w in msg.words if w in msg.known.groups), None)
    if name is None:
        name = next((w for w in msg.names() if w != group), None)
    slots: dict[str, Any] = {
        "name": msg.as_typed(name),
        "group": group,
        "format": slot.file_format(msg),
        "location": msg.text.locations[0] if msg.text.locations else None,
    }
    slots.update(slot.load_mode_slots(msg))
    slots.update(slot.silver_slots(msg))
    plain = msg.text.raw
    for location in msg.text.locations:
        plain = plain.replace(location, " ")  # "/Volumes/raw/pipe/..." says nothing about delimiters
    options = csv_options(plain) if slots["format"] in ("csv", None) else {}
    if slots["format"] == "jdbc":
        options = jdbc_options(plain)
    what = slots["name"] or "the source"
    password = options.get("password")
    if password is not None and not SECRET_REF.fullmatch(password):
        # Never carried on (into a form, a plan or the audit): asked for as a reference instead.
        del options["password"]
        slots["format_options"] = options or None
        return slots, (
            f"The password of {what} must be a secret reference, not the password itself: store it in "
            "a Databricks secret scope and say `password {{secrets/SCOPE/KEY}}`."
        )
    if options:
        slots["format_options"] = options
    if what in msg.known.sources and slots["location"]:
        # "ingest clicks json from s3://..." when clicks exists: there cannot be a second clicks.
        return slots, _exists_with_location(what, slots["location"]) + " A new source needs a new name."
    schedule = to_quartz(msg.text.raw)
    if schedule.understood:
        # Said with the source ("... every day at 6am"): it becomes its group's schedule.
        if schedule.quartz is None:
            missing = f" ({schedule.missing})" if schedule.missing else ""
            return slots, schedule.question or f"When should {what} load{missing}? e.g. `every day at 2am`."
        slots["schedule"] = {"quartz_cron": schedule.quartz}
        if schedule.timezone:
            slots["schedule"]["timezone"] = schedule.timezone
    question = slot.first_missing(
        slots,
        {
            "name": "What should the new source be called? (lower-case, e.g. `orders`)",
            "location": f"Where does {what} read from? Give a path or URL, "
            f"e.g. `/Volumes/main/landing/{what}/`.",
            "format": f"Which format is {what}: csv, json, parquet, delta, jdbc or rest?",
            "group": f"Which group should {what} belong to? (the group becomes one Databricks job)",
        },
    )
    names_table = bool(options.get("dbtable") or options.get("query"))
    if question is None and slots["format"] == "jdbc" and not names_table:
        return slots, f'Which table should {what} read? Say `table schema.table` (or `query "SELECT ..."`).'
    return slots, question


def _exists_with_location(name: str, where: str) -> str:
    return (
        f"{name} already exists, and a run reads from its own location. To read it from {where} "
        f"from now on, say `update {name} location {where}`; to load it now, say `run {name}`."
    )


def _update_source(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    slots: dict[str, Any] = {"name": slot.source_name(msg)}
    changes: dict[str, Any] = {}
    if msg.text.locations:
        changes["location"] = msg.text.locations[0]
    fmt = next((w for w in msg.words if w in vocab.FORMATS), None)
    if fmt:
        changes["format"] = fmt
    changes.update(slot.load_mode_slots(msg))
    changes.update(slot.silver_slots(msg))
    if re.search(r"\bmove\b", msg.text.rest):
        # "move orders to group web" / "move orders to the web group"
        group = msg.marked(vocab.GROUP_NOUNS)
        if group and group not in msg.known.groups and msg.known.groups:
            known = ", ".join(sorted(msg.known.groups))
            return slots, f"There is no group {group}. Move {slots['name'] or 'it'} to one of: {known}."
        if group:
            changes["group"] = group
    if msg.has(frozenset({"disable", "disabled"})):
        changes["enabled"] = False
    elif msg.has(frozenset({"enable", "enabled", "reenable"})):
        changes["enabled"] = True
    if not slots["name"]:
        return slots, "Which source should change?"
    if not changes:
        return slots, (
            f"What should change on {slots['name']}? e.g. its location, format, load mode, primary keys "
            "or SCD type."
        )
    return {**slots, **changes}, None


def _remove_source(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    name = slot.source_name(msg)
    group = name in msg.known.groups and name not in msg.known.sources
    if group or (msg.has(vocab.GROUP_NOUNS) and not msg.has(vocab.SOURCE_NOUNS)):
        # There is no command to remove a group: never read it as a source of the same name.
        what = name or "a group"
        return {"name": name}, (
            f"I can remove sources, not groups: remove the sources of {what} one by one "
            "(`remove source NAME`), or `pause` the group to stop its runs."
        )
    slots = {"name": name}
    return slots, slot.first_missing(
        slots, {"name": "Which source should I remove? e.g. `remove source orders`."}
    )


def _show_source(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    slots = {"name": slot.source_name(msg)}
    name = slots["name"]
    if name in msg.known.groups and name not in msg.known.sources:
        # show_source shows sources only: say what a group offers instead of "no source sales".
        return slots, (
            f"{name} is a group: `show group {name}` shows it with its schedule and sources, "
            f"`status {name}` lists its runs."
        )
    return slots, slot.first_missing(slots, {"name": "Which source should I show?"})


def _show_group(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    name = next((w for w in msg.words if w in msg.known.groups), None)
    if name is None:
        # "when does orders run?": a source runs when its group does.
        source = next((w for w in msg.words if w in msg.known.sources), None)
        name = msg.known.sources.get(source) if source else None
    if name is None and not msg.known.names:  # no store to ask: read the name from the words
        name = msg.marked(vocab.GROUP_NOUNS)
    slots = {"name": name}
    return slots, slot.first_missing(slots, {"name": "Which group should I show? e.g. `show group sales`."})


def _several(msg: Message, verb: str) -> str | None:
    """A question when the message names more than one group (or source) to act on."""
    groups = {msg.known.sources.get(w, w) for w in msg.words if w in msg.known.names}
    if len(groups) > 1:
        listed = " and ".join(sorted(groups))
        return (
            f"One group per command: {listed} are several. Say `{verb} {sorted(groups)[0]}`, then the next."
        )
    return None


def _grouped(question: str, verb: str) -> Reader:
    def read(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
        slots = {"group": slot.group_name(msg)}
        if not slots["group"]:
            return slots, slot.unknown_group(msg, f"{verb} GROUP") or question
        return slots, _several(msg, verb)

    return read


def _add_rule(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    source = next((w for w in msg.words if w in msg.known.sources), None)
    source = source or msg.after(frozenset({"on", "to", "for", "of"}) | vocab.SOURCE_NOUNS)
    bad_rows = slot.bad_rows(msg)
    expression = slot.negate(bad_rows) if bad_rows else slot.rule_expression(msg)
    derived = f"not {bad_rows}" if bad_rows and expression and expression.startswith("NOT ") else expression
    slots: dict[str, Any] = {"source": source, "name": slot.rule_name(msg, source), "expression": expression}
    if derived and slots["name"] in (None, "on", "to"):
        slots["name"] = slot.derive_rule_name(derived)
    slots["action"] = slot.rule_action(msg) or "warn"
    return slots, slot.first_missing(
        slots,
        {
            "source": "Which source should the rule check? e.g. `add rule on orders: amount > 0`",
            "expression": "What must hold for each row? Give a Spark SQL condition, e.g. `amount > 0`.",
        },
    )


def _existing_rule(msg: Message) -> tuple[str | None, str | None]:
    """The source and name of a rule that exists already (to change or remove it)."""
    source = next((w for w in msg.words if w in msg.known.sources), None)
    owned = slot.known_rule(msg)
    if source is None and owned:
        source = owned[0]
    source = source or msg.after(frozenset({"on", "from", "of", "for"}) | vocab.SOURCE_NOUNS)
    name = slot.rule_name(msg, source)
    if name is None:
        # "drop the id_present check": the name before the noun.
        before = msg.before(vocab.RULE_NOUNS)
        name = before if before != source else None
    return source, name


# Values being replaced are not the new value: "fail instead of warn", "from warn to drop".
_REPLACED = re.compile(r"\b(?:instead\s+of|rather\s+than|from)\s+\w+", re.IGNORECASE)
_NEW_CONDITION = re.compile(r"(?:\bto\b|\bexpression\b|:)\s*(?P<expr>[^:]+?)\s*\.?$", re.IGNORECASE)


def _update_rule(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    source, name = _existing_rule(msg)
    slots: dict[str, Any] = {"source": source, "name": name}
    kept = re.findall(r"[a-z]+", _REPLACED.sub(" ", msg.text.rest))
    action = next((vocab.ACTIONS[w] for w in reversed(kept) if w in vocab.ACTIONS and w != "stop"), None)
    if action:
        slots["action"] = action
    quoted = [value.strip() for value in msg.text.quoted if not SLUG.match(value)]
    condition = _NEW_CONDITION.search(MENTION.sub("", msg.text.raw))
    if quoted:
        slots["expression"] = quoted[0]
    elif condition and re.search(r"[<>=!]|\b(?:is|in|between|like|rlike)\b", condition.group("expr")):
        slots["expression"] = condition.group("expr")
    families = msg.families()
    if "pause" in families or re.search(r"\bturn(?:ed)?\s+(?:\w+\s+){0,3}off\b", msg.text.rest):
        slots["enabled"] = False
    elif "resume" in families or re.search(r"\bturn(?:ed)?\s+(?:\w+\s+){0,3}on\b", msg.text.rest):
        slots["enabled"] = True
    what = f"rule {name}" + (f" on {source}" if source else "")
    question = slot.first_missing(
        slots,
        {
            "name": "Which rule should change? Give its name, e.g. `set rule amount_gt_0 on orders to fail`.",
            "source": f"Which source is rule {name} on?",
        },
    )
    if question is None and not set(slots) - {"source", "name"}:
        question = (
            f"What should change on {what}? Its action (`to fail`, `to drop`, `to quarantine`, `to warn`), "
            "its condition (`to amount >= 0`), or `disable` / `enable` it."
        )
    return slots, question


def _remove_rule(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    source, name = _existing_rule(msg)
    slots = {"source": source, "name": name}
    return slots, slot.first_missing(
        slots,
        {"name": "Which rule should I remove? Give its name.", "source": "Which source is the rule on?"},
    )


def _schedule(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    parsed = to_quartz(msg.text.raw)
    slots: dict[str, Any] = {"group": slot.group_name(msg), "quartz_cron": parsed.quartz}
    if parsed.timezone:
        slots["timezone"] = parsed.timezone
    if not slots["group"]:
        return slots, slot.unknown_group(
            msg, "schedule GROUP every day at 2am"
        ) or "Which group should the schedule apply to?"
    if parsed.question:
        return slots, parsed.question
    if parsed.quartz is None:
        missing = f" ({parsed.missing})" if parsed.missing else ""
        return (
            slots,
            f"When should {slots['group']} run{missing}? e.g. `every day at 2am` or `0 0 2 * * ?`.",
        )
    return slots, None


_ZONES = ["raw", "bronze", "silver", "gold"]
_ZONE = r"(raw|bronze|silver|gold)"


def _zones(msg: Message) -> list[str] | None:
    """The zones a run is limited to ("silver only", "from bronze", "bronze and silver"), or None."""
    text = msg.text.rest
    onwards = re.search(
        rf"\b(?:from|starting (?:at|from|with)|restart(?:ing)? (?:at|from))\s+(?:the\s+)?{_ZONE}\b", text
    )
    onwards = onwards or re.search(
        rf"\b{_ZONE}\s+(?:zone\s+)?(?:on(?:wards?)?|and (?:after|later|beyond))\b", text
    )
    until = re.search(rf"\b(?:up\s+to|until|till|through|thru)\s+(?:the\s+)?{_ZONE}\b", text)
    span = re.search(rf"\b{_ZONE}\s+(?:to|through|thru|-)\s+{_ZONE}\b", text)
    if span:
        first, last = _ZONES.index(span.group(1)), _ZONES.index(span.group(2))
        return _ZONES[first : last + 1]
    if onwards:
        return _ZONES[_ZONES.index(onwards.group(1)) :]
    if until:
        return _ZONES[: _ZONES.index(until.group(1)) + 1]
    named = [z for z in _ZONES if z in msg.words]
    return named or None


def _run(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    slots, question = slot.run_target(msg)
    if question is None and re.search(
        r"\bfull(?:\s+(?:refresh|reload|load|run))?\b|\bfrom scratch\b", msg.text.rest
    ):
        # A run has no full-refresh switch: it loads what each source's load mode says.
        name = slots.get("source") or "SOURCE"
        target = slots.get("source") or slots.get("group")
        return slots, (
            "A run from chat has no full-refresh option: it loads what each source's load mode says. "
            f"Say `run {target}` for a normal run; a full reload needs the load mode set to full "
            f"(`make {name} full`)."
        )
    named = slots.get("source")
    if question is None and named and msg.text.locations:
        # "load orders csv from /Volumes/.../orders_v2/": a run reads the source's own location,
        # so running would silently ignore the path the user gave. Ask which one they mean.
        return slots, _exists_with_location(named, msg.text.locations[0])
    zones = _zones(msg)
    if zones:
        slots["zones"] = zones
    if "spark" in msg.words:
        slots["engine"] = "spark"
    elif "embedded" in msg.words:
        slots["engine"] = "embedded"
    sources = {w for w in msg.words if w in msg.known.sources}
    groups = {w for w in msg.words if w in msg.known.groups} | {msg.known.sources[w] for w in sources}
    # A source and its own group ("run orders in sales") is one target; anything more is several.
    if len(sources) > 1 or len(groups) > 1:
        named = sorted(sources | {w for w in msg.words if w in msg.known.groups})
        return (
            slots,
            f"One run per command: {' and '.join(named)} are several. Say `run {named[0]}`, then the next.",
        )
    return slots, question


def _rerun(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    batch_id, question = slot.batch_ref(msg, db)
    slots: dict[str, Any] = {"batch_id": batch_id}
    zones = _zones(msg)
    if zones:
        slots["zones"] = zones
    return slots, question


# Words around a cancel that name no source or group ("kill the running batch").
_CANCEL_FILLER = vocab.CANCEL_VERBS | frozenset(
    {"running", "current", "ongoing", "active", "run", "runs", "batch", "job", "this", "that", "please"}
)


def _cancel(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    found = slot.BATCH_ID.search(msg.text.rest) or re.search(r"\b(\d{1,12})\b", msg.text.rest)
    if found:
        return {"batch_id": int(found.group(1))}, None
    known = next((w for w in msg.words if w in msg.known.names), None)
    name = known or next((w for w in msg.names() if w not in _CANCEL_FILLER), None)
    of = f" of {name}" if name else ""
    if db is None:
        return {}, f"Which batch{of} should I cancel? Give its id, e.g. `cancel batch 42`."
    batches = open_batches(db, name)
    if not batches:
        return (
            {},
            f"No batch{of} is queued or running, so there is nothing to cancel. `runs` lists the latest.",
        )
    if len(batches) > 1:
        listed = ", ".join(
            f"{b['batch_id']} ({b['group_name']}{'/' + str(b['source_name']) if b['source_name'] else ''},"
            f" {b['status']})"
            for b in batches[:5]
        )
        return {}, f"{len(batches)} batches{of} are in progress: {listed}. Which one? Say `cancel batch ID`."
    return {"batch_id": int(str(batches[0]["batch_id"]))}, None


def _subscribe(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    channel = slot.channel_id(msg)
    slots: dict[str, Any] = {"group": slot.group_name(msg)}
    if channel is None and msg.has(frozenset({"here", "this"})) and msg.channel:
        channel = msg.channel
    if channel and channel.startswith("#"):
        return slots, (
            f"Mention the channel so Slack sends its id (type `#` and pick {channel} from the list), "
            "or run the command in that channel and say `here`."
        )
    slots["slack_channel_id"] = channel
    return slots, slot.first_missing(
        slots,
        {
            "group": "Which group's run alerts should go to the channel?",
            "slack_channel_id": "Which channel should receive the alerts? Mention it, e.g. `#data-alerts`.",
        },
    )


# Words after which a list of runs names whose runs: "status sales", "runs of orders".
_RUNS_OF = frozenset({"status", "runs", "of", "for"})


def _list_runs(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    slots: dict[str, Any] = {}
    for word in msg.words:
        if word in msg.known.sources:
            slots["source"] = word
            break
        if word in msg.known.groups:
            slots["group"] = word
            break
    else:
        named = msg.after(_RUNS_OF)
        if msg.known.names and named and named not in msg.known.names:
            # "status shipments": an unknown name would otherwise list every run, as if it matched.
            return (
                slots,
                f"I know no source or group called {named}. `sources` lists the sources and their groups.",
            )
        if not msg.known.names:
            group = msg.marked(vocab.GROUP_NOUNS)
            name = group or msg.after(frozenset({"of", "for"})) or next(iter(msg.names()), None)
            if name:
                slots["group" if group else "source"] = name
    status = next((vocab.STATUSES[w] for w in msg.words if w in vocab.STATUSES), None)
    if status is None and "fail" in msg.words and guards.is_question(msg.text.rest):
        status = "failed"  # "why did orders fail?"
    if status:
        slots["status"] = status
    count = re.search(
        r"\b(?:last|latest|recent|top)\s+(\d{1,3})\b(?!\s*(?:h|hrs?|hours?|days?|weeks?|min\w*|months?)\b)"
        r"|\b(\d{1,3})\s+(?:runs|batches)\b",
        msg.text.rest,
    )
    start = periods.since(msg.text.rest)
    if start is not None:
        slots["since"] = start.isoformat()
    if count:
        slots["limit"] = int(count.group(1) or count.group(2))
    elif re.search(r"\b(?:last|latest|most recent|previous)\s+(?:run|batch)\b", msg.text.rest):
        slots["limit"] = 1
    inventory = msg.has(frozenset({"sources", "groups", "datasets", "feeds", "tables", "pipelines"}))
    if inventory and not slots and not msg.has(frozenset({"runs", "batches", "status", "run", "batch"})):
        # "list sources" is not a list of runs; say where the inventory is instead.
        return slots, (
            "I list runs, not sources or groups. `show SOURCE` shows one source; the web panel and "
            "`lakeforge export` list them all."
        )
    return slots, None


def _list_sources(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    group = next((w for w in msg.words if w in msg.known.groups), None)
    if group is None:
        named = msg.after(vocab.GROUP_NOUNS | frozenset({"in", "of", "for"})) or msg.before(vocab.GROUP_NOUNS)
        if named and msg.known.names:
            # A group the store does not know: say which exist rather than list nothing.
            known = ", ".join(sorted(msg.known.groups)) or "none yet"
            return {"group": named}, f"There is no group {named}. Groups: {known}."
        group = named
    return ({"group": group} if group else {}), None


# "the newest 10 quarantined rows", "20 rows": how many rows to show.
_ROW_COUNT = re.compile(
    r"\b(\d{1,3})\s+(?:\w+\s+)?(?:rows|records)\b|\b(?:last|newest|latest|top|first)\s+(\d{1,3})\b"
)


def _show_quarantine(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    source = next((w for w in msg.words if w in msg.known.sources), None)
    if source is None and not msg.known.names:
        source = msg.after(frozenset({"for", "of", "in", "from"}) | vocab.SOURCE_NOUNS)
    slots: dict[str, Any] = {"source": source}
    count = _ROW_COUNT.search(msg.text.rest)
    if count:
        slots["limit"] = min(int(count.group(1) or count.group(2)), 100)
    return slots, slot.first_missing(
        slots, {"source": "Whose quarantined rows? Name a source, e.g. `quarantined rows of orders`."}
    )


def _show_run(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    batch_id, question = slot.batch_ref(msg, db)
    return {"batch_id": batch_id}, question


def _history(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    slots = {"name": slot.source_name(msg)}
    return slots, slot.first_missing(slots, {"name": "Whose history? Name a source, e.g. `history orders`."})


def _restore(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    name = slot.source_name(msg)
    entity = "group" if name in msg.known.groups and name not in msg.known.sources else "source"
    if msg.has(vocab.GROUP_NOUNS) and not msg.has(vocab.SOURCE_NOUNS):
        name, entity = slot.group_name(msg), "group"
    slots: dict[str, Any] = {"entity": entity, "name": name, "revision": slot.revision_number(msg)}
    return slots, slot.first_missing(
        slots,
        {
            "name": "What should I restore? Name a source, e.g. `restore orders to revision 3`.",
            "revision": f"Which revision of {slots['name']}? `history {slots['name']}` lists them.",
        },
    )


def _help(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    topics = vocab.RULE_NOUNS | vocab.SCHEDULE_NOUNS | vocab.SOURCE_NOUNS | vocab.GROUP_NOUNS
    topic = next((w for w in msg.words[1:] if vocab.family(w) or w in topics), None)
    return ({"topic": topic} if topic else {}), None


def _sync(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    preview = msg.has(frozenset({"plan", "preview", "dry", "diff"}))
    return ({"mode": "plan"} if preview else {}), None


def _create_group(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    slots: dict[str, Any] = {
        "name": msg.after(vocab.GROUP_NOUNS | frozenset({"called", "named"})) or msg.before(vocab.GROUP_NOUNS)
    }
    parsed = to_quartz(msg.text.raw)
    if parsed.understood:
        if parsed.question or parsed.quartz is None:
            missing = f" ({parsed.missing})" if parsed.missing else ""
            return (
                slots,
                parsed.question or f"When should the new group run{missing}? e.g. `every day at 2am`.",
            )
        schedule: dict[str, Any] = {"quartz_cron": parsed.quartz}
        if parsed.timezone:
            schedule["timezone"] = parsed.timezone
        slots["schedule"] = schedule
    return slots, slot.first_missing(slots, {"name": "What should the group be called?"})


READERS: dict[str, Reader] = {
    "register_source": _register_source,
    "update_source": _update_source,
    "remove_source": _remove_source,
    "create_group": _create_group,
    "add_dq_rule": _add_rule,
    "update_dq_rule": _update_rule,
    "remove_dq_rule": _remove_rule,
    "set_schedule": _schedule,
    "pause_schedule": _grouped("Which group's schedule should I pause?", "pause"),
    "resume_schedule": _grouped("Which group's schedule should I resume?", "resume"),
    "run_now": _run,
    "rerun_batch": _rerun,
    "cancel_run": _cancel,
    "sync_jobs": _sync,
    "subscribe_channel": _subscribe,
    "show_source": _show_source,
    "show_group": _show_group,
    "list_runs": _list_runs,
    "list_sources": _list_sources,
    "show_quarantine": _show_quarantine,
    "show_run": _show_run,
    "show_history": _history,
    "restore_revision": _restore,
    "help": _help,
}
