"""The embedded rule-based parser: free text to a proposed intent, no model and no network.

It reads the verb family (with synonyms and typo correction), the nouns around it and the
values it can recognise (paths, quoted expressions, channels, batch ids, schedules). A
required value it cannot find becomes a clarifying question; it never fills one in by guessing.

>>> parse_rules("pause the sales group").intent
{'kind': 'pause_schedule', 'group': 'sales'}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lakeforge.metadata.db import Database
from lakeforge.nlu import guards, periods
from lakeforge.nlu import vocabulary as vocab
from lakeforge.nlu.file_options import csv_options
from lakeforge.nlu.lookup import Known, last_batch
from lakeforge.nlu.result import ParseResult
from lakeforge.nlu.schedule_text import to_quartz
from lakeforge.nlu.text import SLUG, Text, closest, correct, normalize, slugify, split

_LEADING = re.compile(r"^\s*(?:/?lakeforge\b|@lakeforge\b|<@[A-Z0-9]+>)\s*", re.IGNORECASE)
_BATCH_ID = re.compile(
    r"(?:#|\bbatch(?:\s+(?:id|number|no\.?))?\s*#?\s*|\b(?:re)?run\s+#?|\bid\s+)(\d{1,12})\b", re.IGNORECASE
)
_BARE_NUMBER = re.compile(r"^\s*\d{1,12}\s*$")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


# Words that open another value: a name looked for after a marker is not searched past them.
_STARTS_SLOT = frozenset({"incremental", "full", "watermark", "format", "location", "path", "mode"})


@dataclass
class Message:
    """One message prepared for reading: protected values, corrected words, known names."""

    text: Text
    words: list[str]
    known: Known
    typos: int
    # The chat channel the message came from ("here", "this channel").
    channel: str | None = None

    def as_typed(self, word: str | None) -> str | None:
        """The word as typed, before typo correction: a new source's name is not a typo of an old one."""
        for corrected, typed in zip(self.words, self.text.words, strict=True):
            if corrected == word:
                return typed
        return word

    @property
    def wordset(self) -> set[str]:
        return set(self.words)

    def has(self, words: frozenset[str] | set[str]) -> bool:
        return not self.wordset.isdisjoint(words)

    def families(self) -> list[str]:
        return [f for f in (vocab.family(w) for w in self.words) if f is not None]

    def after(self, markers: frozenset[str] | set[str], *, skip: frozenset[str] = vocab.FILLER) -> str | None:
        """The first name-like word after any of ``markers`` ("group sales" -> sales)."""
        for index, word in enumerate(self.words):
            if word in markers:
                for follower in self.words[index + 1 : index + 4]:
                    if follower in _STARTS_SLOT:
                        break  # "finance group, incremental on updated_at": another value begins
                    if follower in skip and follower not in self.known.names:
                        continue
                    if self.is_name(follower):
                        return follower
                    break
        return None

    def before(self, markers: frozenset[str] | set[str]) -> str | None:
        """The name-like word right before a marker ("the sales group" -> sales)."""
        for index, word in enumerate(self.words[1:], start=1):
            if word in markers and self.is_name(self.words[index - 1]):
                return self.words[index - 1]
        return None

    def is_name(self, word: str) -> bool:
        if word in self.known.names:
            return True
        return bool(SLUG.match(word)) and word not in vocab.NOT_A_NAME and not word.isdigit()

    def names(self) -> list[str]:
        return [w for w in self.words if self.is_name(w)]


def _prepare(raw: str, known: Known) -> Message:
    text = split(_LEADING.sub("", raw))
    words: list[str] = []
    typos = 0
    names = known.names
    for word in text.words:
        if word in names:
            words.append(word)
            continue
        # Ordinary words are not typos ("called" must not become "cancelled").
        fixed = word if word in vocab.FILLER else correct(word, vocab.KEYWORDS)
        if fixed == word and names and len(word) >= 4 and not any(c.isdigit() for c in word):
            # A typo in a known name ("ordres") reads as the name. A typo does not add or drop an
            # underscore part or a digit, so customer_id is not customers and orders2 not orders.
            parts = word.count("_")
            fixed = closest(word, {n for n in names if n.count("_") == parts}) or word
        typos += fixed != word
        words.append(fixed)
    return Message(text=text, words=words, known=known, typos=typos)


# -- slot readers -------------------------------------------------------------------------


def _source_name(msg: Message) -> str | None:
    known = [w for w in msg.words if w in msg.known.sources]
    if known:
        return known[0]
    return (
        msg.after(frozenset({"called", "named"}))
        or msg.after(vocab.SOURCE_NOUNS)
        or msg.before(vocab.SOURCE_NOUNS)
        or next(iter(msg.names()), None)
    )


def _group_name(msg: Message) -> str | None:
    known = [w for w in msg.words if w in msg.known.groups]
    if known:
        return known[0]
    explicit = msg.after(vocab.GROUP_NOUNS) or msg.before(vocab.GROUP_NOUNS)
    if explicit:
        return explicit
    # A source named where a group is expected: its group, when the store knows it.
    for word in msg.words:
        if word in msg.known.sources:
            return msg.known.sources[word]
    if msg.known.names:
        return None
    return next(iter(msg.names()), None)


def _target(msg: Message) -> tuple[dict[str, Any], str | None]:
    """What to run: a source or a group; a bare unknown name is asked about, not guessed."""
    for word in msg.words:
        if word in msg.known.sources:
            return {"source": word}, None
        if word in msg.known.groups:
            return {"group": word}, None
    explicit_source = msg.after(vocab.SOURCE_NOUNS) or msg.before(vocab.SOURCE_NOUNS)
    if explicit_source:
        return {"source": explicit_source}, None
    group = msg.after(vocab.GROUP_NOUNS) or msg.before(vocab.GROUP_NOUNS)
    if group:
        return {"group": group}, None
    name = next(iter(msg.names()), None)
    if name is None:
        return {}, "What should I run? Name a group or a source, e.g. `run orders`."
    if msg.known.names:
        return {}, f"I know no source or group called {name}. `runs` and `show SOURCE` list what exists."
    return {}, f"Is {name} a source or a group? Say `run source {name}` or `run group {name}`."


def _batch_id(msg: Message, db: Database | None) -> tuple[int | None, str | None]:
    """A batch id typed or referred to ("last failed batch of orders"); else the question to ask."""
    found = _BATCH_ID.search(msg.text.rest) or _BARE_NUMBER.match(msg.text.rest)
    if found:
        return int(found.group(1) if found.lastindex else found.group(0)), None
    numbers = [w for w in msg.words if w.isdigit()]
    if len(numbers) == 1:
        return int(numbers[0]), None
    refers = msg.has(
        frozenset(
            {"last", "latest", "previous", "recent", "yesterday", "tonight", "night", "failed", "failing"}
        )
    )
    if not refers and not msg.has(vocab.BATCH_NOUNS):
        return (
            None,
            "Which batch should I rerun? Give its id (e.g. `rerun 42`) or say `last failed batch of orders`.",
        )
    name = next((w for w in msg.words if w in msg.known.names), None) or next(iter(msg.names()), None)
    if name is None:
        return (
            None,
            "Which source or group's batch do you mean? e.g. `rerun the last failed batch of orders`.",
        )
    status = "failed" if msg.has(frozenset({"failed", "failures", "failing", "broken", "errors"})) else None
    if db is None:
        return None, f"I cannot look up the last batch of {name} without the run log: give the batch id."
    batch = last_batch(db, name, status=status)
    if batch is None:
        what = "failed batch" if status else "batch"
        return None, f"I found no {what} of {name} in the run log: give the batch id."
    return batch, None


def _format(msg: Message) -> str | None:
    for word in msg.words:
        if word in vocab.FORMATS:
            return word
        if word in vocab.FORMAT_ALIASES:
            return vocab.FORMAT_ALIASES[word]
    for location in msg.text.locations:
        for extension, fmt in _EXTENSIONS.items():
            if location.lower().rstrip("/").endswith(extension) or f"{extension}/" in location.lower():
                return fmt
        if location.lower().startswith("jdbc:"):
            return "jdbc"
    return None


def _load_mode(msg: Message) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    if msg.has(frozenset({"incremental", "incrementally", "incremently"})):
        slots["load_mode"] = "incremental"
        column = msg.after(frozenset({"watermark", "by", "using"}), skip=frozenset({"column", "the", "on"}))
        if column is None and "incremental" in msg.words:
            index = msg.words.index("incremental")
            follow = msg.words[index + 1 : index + 3]
            if len(follow) == 2 and follow[0] == "on" and msg.is_name(follow[1]):
                column = follow[1]
        if column:
            slots["watermark_column"] = column
    elif "full" in msg.words:
        slots["load_mode"] = "full"
    # "set the watermark of orders to updated_at": a new watermark column on its own.
    watermark = re.search(
        r"\bwatermark\b(?:\s+column)?(?:\s+(?:of|for)\s+\w+)?\s+(?:to|=|is)\s+([a-z_]\w*)", msg.text.rest
    )
    if watermark and "watermark_column" not in slots and msg.is_name(watermark.group(1)):
        slots["watermark_column"] = watermark.group(1)
    return slots


_EXPRESSION_AFTER = re.compile(
    r"(?:\b(?:that|where|expect(?:ing)?|ensure|ensuring|make sure|check(?:ing)?|requires?|with expression|"
    r"expression)\b|:)\s*(?P<expr>.+?)(?:\s*,?\s*\b(?:and |or |then |else )?(?:action\s*=?\s*)?"
    r"(?:(?:to |and )?(?:drop|warn|fail|quarantine)\b.*|on fail.*|otherwise.*))?\s*$",
    re.IGNORECASE,
)
# "drop rows where X", "quarantine orders rows where X": X describes the rows to act on, the
# opposite of a rule, which states what a good row meets. Read as "keep rows where not X".
_ROW_VERBS = frozenset(
    {"quarantine", "drop", "discard", "filter", "remove", "reject", "exclude", "skip", "flag", "warn", "fail"}
)
_ROWS_TAIL = re.compile(
    r"(?:\s+(?:out|about|on))?(?:\s+[\w'’]+){0,3}?\s+(?:where|whose|if|when)\b", re.IGNORECASE
)


def _rows_where(raw: str) -> tuple[str, int] | None:
    """("drop rows where", where the condition starts) when a row verb, typo or not, leads to one."""
    for word in re.finditer(r"[A-Za-z]+", raw):
        if correct(word.group(0).lower(), vocab.KEYWORDS) in _ROW_VERBS:
            tail = _ROWS_TAIL.match(raw, word.end())
            if tail:
                return raw[word.start() : tail.end()], tail.end()
    return None


# A column compared with something: what a condition after "drop rows where" must look like.
_CONDITION = re.compile(r"\w\s*(?:[<>=!]|\b(?:is|in|between|like|rlike|not\s+(?:in|between|like))\b)", re.I)
_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(\w+) (?:is|must be|should be) (?:positive|greater than zero|above zero)$"), r"\1 > 0"),
    (re.compile(r"^(\w+) (?:is|must be|should be) (?:non-negative|not negative)$"), r"\1 >= 0"),
    (
        re.compile(r"^(\w+) (?:is|must be|should be) (?:present|set|not missing|not empty)$"),
        r"\1 IS NOT NULL",
    ),
    (re.compile(r"^(\w+) (?:is not|isn't|must not be|should not be) (?:missing|empty)$"), r"\1 IS NOT NULL"),
]


def _bad_rows(msg: Message) -> str | None:
    """The condition naming the rows to act on ("drop rows where X" -> X), or None."""
    raw = _LEADING.sub("", msg.text.raw)
    found = _rows_where(raw)
    # "remove the source orders if it is empty" is about a source, not its rows.
    if not found or set(found[0].lower().split()) & (vocab.SOURCE_NOUNS | vocab.GROUP_NOUNS):
        return None
    rest = raw[found[1] :]
    if re.match(r"\s*(?:it|they|this|that|there)\b", rest, re.IGNORECASE):
        return None
    quoted = [value.strip() for value in msg.text.quoted if not SLUG.match(value)]
    condition = quoted[0] if quoted else _expression(msg, ": " + rest)
    return condition if condition and _CONDITION.search(condition) else None


def _expression(msg: Message, text: str | None = None) -> str | None:
    for value in msg.text.quoted:
        if text is None and not SLUG.match(value):
            return value.strip()
    raw = text if text is not None else _LEADING.sub("", msg.text.raw)
    match = _EXPRESSION_AFTER.search(raw)
    if not match and msg.has(vocab.RULE_NOUNS):
        # "add rule on orders amount must be positive": the condition follows the source.
        after = next((m for s in msg.known.sources if (m := re.search(rf"\b{s}\b\s+(?=\w)", raw))), None)
        match = _EXPRESSION_AFTER.search(": " + raw[after.end() :]) if after else None
    if not match:
        return None
    expr = match.group("expr").strip().rstrip(".")
    if re.search(r":\s", expr):
        # "make sure amounts are positive on orders: amount > 0": the condition follows the colon.
        expr = re.split(r":\s", expr)[-1].strip()
    for _ in range(3):
        for source in msg.known.sources:
            expr = re.sub(rf"^(?:on|for|to)\s+[`\"“]?{source}\b[`\"”]?\s*", "", expr)
        expr = re.sub(r"^(?:that|where|:)\s*", "", expr, flags=re.IGNORECASE)
    for source in msg.known.sources:
        # "orders amount > 0", "orders.amount > 0": the rule runs on the source's rows, where
        # columns are not qualified by its name.
        expr = re.sub(rf"^{source}\s+(?=[a-z_])|\b{source}\.(?=[a-z_])", "", expr)
    # "... where amount < 0 in orders": the source named after the condition is not part of it.
    expr = _TRAILING_SOURCE.sub("", expr)
    for source in msg.known.sources:
        expr = re.sub(rf"\s+(?:in|on|for|of|from)\s+(?:the\s+)?{source}$", "", expr)
    lowered = expr.lower()
    for pattern, replacement in _REWRITES:
        if pattern.match(lowered):
            return pattern.sub(replacement, lowered)
    # Plain words are not an expression; an operator or SQL keyword must appear.
    if not re.search(r"[<>=!]|\b(?:is|in|between|like|rlike|not|null|and|or)\b|\(", expr, re.IGNORECASE):
        return None
    return expr


_TRAILING_SOURCE = re.compile(
    r"\s+(?:in|on|for|of|from)\s+(?:the\s+)?[a-z_]\w*\s+(?:source|table|dataset|feed)$", re.IGNORECASE
)


def _negate(condition: str) -> str:
    """A rule keeping exactly the rows ``condition`` does not describe.

    A row passes a rule only when the rule is TRUE, so a row where ``condition`` is NULL (not
    described by it) must still pass: hence ``coalesce(..., false)`` rather than a bare NOT.
    """
    null = re.fullmatch(r"(\w+)\s+is\s+(not\s+)?null", condition.strip(), re.IGNORECASE)
    if null:
        return f"{null.group(1)} IS NULL" if null.group(2) else f"{null.group(1)} IS NOT NULL"
    return f"NOT coalesce({condition}, false)"


def _action(msg: Message) -> str | None:
    for word in reversed(msg.words):
        if word in vocab.ACTIONS and word != "stop":
            return vocab.ACTIONS[word]
    return None


def _rule_name(msg: Message, source: str | None) -> str | None:
    known = msg.known.rules.get(source or "", set())
    for word in msg.words:
        if word in known:
            return word
    name = msg.after(frozenset({"called", "named"})) or msg.after(vocab.RULE_NOUNS)
    if name == source:
        return None
    return name


def _derive_rule_name(expression: str) -> str:
    """A readable rule name from its expression ("amount > 0" -> amount_gt_0)."""
    words = {">=": " ge ", "<=": " le ", "!=": " ne ", "<>": " ne ", ">": " gt ", "<": " lt ", "=": " eq "}
    text = expression.lower()
    for op, word in words.items():
        text = text.replace(op, word)
    return slugify(text)[:40].rstrip("_") or "rule"


def _channel(msg: Message) -> str | None:
    return msg.text.channels[0] if msg.text.channels else None


def _revision(msg: Message) -> int | None:
    found = re.search(r"\b(?:revision|version|rev|v)\s*#?\s*(\d+)\b|\bto\s+#?(\d+)\b", msg.text.rest)
    if found:
        return int(found.group(1) or found.group(2))
    return None


# -- intents ------------------------------------------------------------------------------

Reader = Callable[[Message, Database | None], tuple[dict[str, Any], str | None]]


def _need(slots: dict[str, Any], questions: dict[str, str]) -> str | None:
    for slot, question in questions.items():
        if not slots.get(slot):
            return question
    return None


def _register_source(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    name = msg.after(frozenset({"called", "named"})) or msg.after(vocab.SOURCE_NOUNS)
    name = name or msg.before(vocab.SOURCE_NOUNS)
    group = msg.after(vocab.GROUP_NOUNS) or msg.before(vocab.GROUP_NOUNS)
    if group is None:
        group = next((w for w in msg.words if w in msg.known.groups), None)
    if name is None:
        name = next((w for w in msg.names() if w != group), None)
    slots: dict[str, Any] = {
        "name": msg.as_typed(name),
        "group": group,
        "format": _format(msg),
        "location": msg.text.locations[0] if msg.text.locations else None,
    }
    slots.update(_load_mode(msg))
    plain = msg.text.raw
    for location in msg.text.locations:
        plain = plain.replace(location, " ")  # "/Volumes/raw/pipe/..." says nothing about delimiters
    options = csv_options(plain) if slots["format"] in ("csv", None) else {}
    if options:
        slots["format_options"] = options
    what = slots["name"] or "the source"
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
    return slots, _need(
        slots,
        {
            "name": "What should the new source be called? (lower-case, e.g. `orders`)",
            "location": f"Where does {what} read from? Give a path or URL, "
            f"e.g. `/Volumes/main/landing/{what}/`.",
            "format": f"Which format is {what}: csv, json, parquet, delta, jdbc or rest?",
            "group": f"Which group should {what} belong to? (the group becomes one Databricks job)",
        },
    )


def _exists_with_location(name: str, where: str) -> str:
    return (
        f"{name} already exists, and a run reads from its own location. To read it from {where} "
        f"from now on, say `update {name} location {where}`; to load it now, say `run {name}`."
    )


def _update_source(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    slots: dict[str, Any] = {"name": _source_name(msg)}
    changes: dict[str, Any] = {}
    if msg.text.locations:
        changes["location"] = msg.text.locations[0]
    fmt = next((w for w in msg.words if w in vocab.FORMATS), None)
    if fmt:
        changes["format"] = fmt
    changes.update(_load_mode(msg))
    if re.search(r"\bmove\b", msg.text.rest):
        # "move orders to group web" / "move orders to the web group"
        group = msg.after(vocab.GROUP_NOUNS) or msg.before(vocab.GROUP_NOUNS)
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
        return slots, f"What should change on {slots['name']}? e.g. its location, format or load mode."
    return {**slots, **changes}, None


def _remove_source(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    name = _source_name(msg)
    group = name in msg.known.groups and name not in msg.known.sources
    if group or (msg.has(vocab.GROUP_NOUNS) and not msg.has(vocab.SOURCE_NOUNS)):
        # There is no command to remove a group: never read it as a source of the same name.
        what = name or "a group"
        return {"name": name}, (
            f"I can remove sources, not groups: remove the sources of {what} one by one "
            "(`remove source NAME`), or `pause` the group to stop its runs."
        )
    slots = {"name": name}
    return slots, _need(slots, {"name": "Which source should I remove? e.g. `remove source orders`."})


def _show_source(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    slots = {"name": _source_name(msg)}
    name = slots["name"]
    if name in msg.known.groups and name not in msg.known.sources:
        # show_source shows sources only: say what a group offers instead of "no source sales".
        return slots, (
            f"{name} is a group. `status {name}` lists its runs; `show SOURCE` shows one of its "
            "sources with its rules."
        )
    return slots, _need(slots, {"name": "Which source should I show?"})


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
        slots = {"group": _group_name(msg)}
        return slots, _several(msg, verb) or _need(slots, {"group": question})

    return read


def _add_rule(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    source = next((w for w in msg.words if w in msg.known.sources), None)
    source = source or msg.after(frozenset({"on", "to", "for", "of"}) | vocab.SOURCE_NOUNS)
    bad_rows = _bad_rows(msg)
    expression = _negate(bad_rows) if bad_rows else _expression(msg)
    derived = f"not {bad_rows}" if bad_rows and expression and expression.startswith("NOT ") else expression
    slots: dict[str, Any] = {"source": source, "name": _rule_name(msg, source), "expression": expression}
    if derived and slots["name"] in (None, "on", "to"):
        slots["name"] = _derive_rule_name(derived)
    slots["action"] = _action(msg) or "warn"
    return slots, _need(
        slots,
        {
            "source": "Which source should the rule check? e.g. `add rule on orders: amount > 0`",
            "expression": "What must hold for each row? Give a Spark SQL condition, e.g. `amount > 0`.",
        },
    )


def _known_rule(msg: Message) -> tuple[str, str] | None:
    """(source, rule) for a rule name the store knows, when exactly one source has it."""
    owners = [(source, w) for w in msg.words for source, names in msg.known.rules.items() if w in names]
    return owners[0] if len({source for source, _ in owners}) == 1 else None


def _existing_rule(msg: Message) -> tuple[str | None, str | None]:
    """The source and name of a rule that exists already (to change or remove it)."""
    source = next((w for w in msg.words if w in msg.known.sources), None)
    owned = _known_rule(msg)
    if source is None and owned:
        source = owned[0]
    source = source or msg.after(frozenset({"on", "from", "of", "for"}) | vocab.SOURCE_NOUNS)
    name = _rule_name(msg, source)
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
    condition = _NEW_CONDITION.search(_LEADING.sub("", msg.text.raw))
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
    question = _need(
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
    return slots, _need(
        slots,
        {"name": "Which rule should I remove? Give its name.", "source": "Which source is the rule on?"},
    )


def _schedule(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    parsed = to_quartz(msg.text.raw)
    slots: dict[str, Any] = {"group": _group_name(msg), "quartz_cron": parsed.quartz}
    if parsed.timezone:
        slots["timezone"] = parsed.timezone
    if not slots["group"]:
        return slots, "Which group should the schedule apply to?"
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
    slots, question = _target(msg)
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
    batch_id, question = _batch_id(msg, db)
    slots: dict[str, Any] = {"batch_id": batch_id}
    zones = _zones(msg)
    if zones:
        slots["zones"] = zones
    return slots, question


def _subscribe(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    channel = _channel(msg)
    slots: dict[str, Any] = {"group": _group_name(msg)}
    if channel is None and msg.has(frozenset({"here", "this"})) and msg.channel:
        channel = msg.channel
    if channel and channel.startswith("#"):
        return slots, (
            f"Mention the channel so Slack sends its id (type `#` and pick {channel} from the list), "
            "or run the command in that channel and say `here`."
        )
    slots["slack_channel_id"] = channel
    return slots, _need(
        slots,
        {
            "group": "Which group's run alerts should go to the channel?",
            "slack_channel_id": "Which channel should receive the alerts? Mention it, e.g. `#data-alerts`.",
        },
    )


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
        if not msg.known.names:
            group = msg.after(vocab.GROUP_NOUNS) or msg.before(vocab.GROUP_NOUNS)
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


def _show_run(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    batch_id, question = _batch_id(msg, db)
    return {"batch_id": batch_id}, question


def _history(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    slots = {"name": _source_name(msg)}
    return slots, _need(slots, {"name": "Whose history? Name a source, e.g. `history orders`."})


def _restore(msg: Message, db: Database | None) -> tuple[dict[str, Any], str | None]:
    name = _source_name(msg)
    entity = "group" if name in msg.known.groups and name not in msg.known.sources else "source"
    if msg.has(vocab.GROUP_NOUNS) and not msg.has(vocab.SOURCE_NOUNS):
        name, entity = _group_name(msg), "group"
    slots: dict[str, Any] = {"entity": entity, "name": name, "revision": _revision(msg)}
    return slots, _need(
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
    return slots, _need(slots, {"name": "What should the group be called?"})


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
    "sync_jobs": _sync,
    "subscribe_channel": _subscribe,
    "show_source": _show_source,
    "list_runs": _list_runs,
    "show_run": _show_run,
    "show_history": _history,
    "restore_revision": _restore,
    "help": _help,
}


def classify(msg: Message) -> tuple[str | None, float]:
    """The intent kind a message asks for and how sure the wording makes it (0..1)."""
    fams = msg.families()
    first = fams[0] if fams else None
    text = msg.text.rest
    has_batch = bool(_BATCH_ID.search(text)) or msg.has(vocab.BATCH_NOUNS)
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
    changes = any(f not in ("show", "list", "status", "history") for f in fams)
    if channel and msg.has(frozenset({"send", "post"})) and re.match(r"^\s*when\b", text):
        # "when orders fail, send alerts to #x" starts like a question but asks for a subscription.
        return "subscribe_channel", 0.85
    if guards.is_question(text) and (changes or re.match(r"^\s*why\b", text)):
        # A question about state is answered with a read, never by making the change it names.
        return ("show_history" if re.match(r"^\s*who\b", text) else "list_runs"), 0.6
    if "restore" in fams or re.search(r"\broll(?:ed)?\s+back\b|\bback to (?:revision|version|rev|v)\b", text):
        return "restore_revision", 0.9
    if "history" in fams or re.search(
        r"\bwho changed\b|\b(?:recent |show |list )?changes (?:to|of|on)\b", text
    ):
        return "show_history", 0.9
    if "subscribe" in fams or (channel and msg.has(frozenset({"send", "post"}))):
        return "subscribe_channel", 0.9 if channel else 0.7
    again = "again" in msg.words or bool(re.search(r"\bone more time\b|\bonce more\b", text))
    if "rerun" in fams or (again and ("run" in fams or _BATCH_ID.search(text))):
        return "rerun_batch", 0.95
    # An action applied to rows ("quarantine rows where ...") or a condition with an operator
    # and no clearer verb reads as a new rule.
    expression = _expression(msg) if not is_rule else None
    acts_on_rows = _bad_rows(msg) is not None
    names_source = any(w in msg.known.sources for w in msg.words)
    looks_like_rule = expression and first in (None, "update") and "changes" not in fams
    # Rows acted on by a condition are a rule even before the source is known (it is asked
    # for): "drop rows where ..." must never read as removing a source.
    if not is_rule and (acts_on_rows or (looks_like_rule and (names_source or msg.has(vocab.SOURCE_NOUNS)))):
        return "add_dq_rule", 0.7
    # A rule named by its noun or by a name the store knows: adding, changing or removing it.
    if is_rule or _known_rule(msg):
        verbs = [f for f in fams if f in ("remove", "register", "update", "show", "list", "pause", "resume")]
        if verbs and verbs[0] == "remove":
            return "remove_dq_rule", 0.9
        if verbs and verbs[0] in ("show", "list"):
            return "show_source", 0.7
        edits = bool(verbs) and verbs[0] in ("update", "pause", "resume")
        if edits or re.search(r"\bturn(?:ed)?\s+(?:\w+\s+){0,3}(?:on|off)\b", text):
            return "update_dq_rule", 0.85
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
    describes_new_source = bool(msg.text.locations) and _format(msg) is not None and not names_source
    if describes_new_source and first in (None, "register", "run"):
        # "load the invoices csv files from /Volumes/... every day at 6am" describes a new source
        # and its schedule; read as a schedule or a run, the source itself would be lost.
        return "register_source", 0.8
    if cadence or msg.has(vocab.SCHEDULE_NOUNS):
        if first in ("show", "list", "status"):
            # "show runs since monday" names a period of runs, not a schedule.
            runs = msg.has(frozenset({"run", "runs"}) | vocab.BATCH_NOUNS) and periods.since(text) is not None
            return ("list_runs" if runs else "show_source"), 0.6
        return "set_schedule", 0.9 if cadence else 0.75
    if "sync" in fams:
        return "sync_jobs", 0.95
    if first == "remove" or ("remove" in fams and first not in ("show", "list")):
        return "remove_source", 0.9
    if "run" in fams and has_batch and _BATCH_ID.search(text) and first not in ("show", "status", "list"):
        return "rerun_batch", 0.8
    if first == "register" or ("register" in fams and msg.text.locations):
        if msg.has(vocab.GROUP_NOUNS) and not msg.has(vocab.SOURCE_NOUNS) and not msg.text.locations:
            return "create_group", 0.85
        return "register_source", 0.9
    if first == "update" or ("update" in fams and msg.text.locations):
        return "update_source", 0.85
    if _BATCH_ID.search(text) and (not fams or first in ("show", "status", "list")):
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
        return "show_source", 0.85
    if msg.text.locations and _format(msg):
        return "register_source", 0.6
    return None, 0.0


# Slots the chat reads but the intent itself does not carry.
_CHAT_ONLY = {"help": {"topic"}}


def parse_rules(
    text: str, *, db: Database | None = None, known: Known | None = None, channel: str | None = None
) -> ParseResult:
    """Read ``text`` into a proposed intent, or a question when a required value is missing."""
    msg = _prepare(normalize(text), known or Known())
    msg.channel = channel
    refused = guards.refusal(msg.text.rest)
    if refused:
        return ParseResult(clarify=refused, confidence=0.8, parser="rules")
    kind, confidence = classify(msg)
    if kind == "run_now" and guards.LATER.search(msg.text.rest):
        target, _ = _target(msg)
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
            clarify="I did not understand that. Try `help` for what I can do, with an example of each.",
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
