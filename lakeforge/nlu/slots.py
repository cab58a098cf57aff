"""Slot readers: the values a message holds (names, formats, expressions, actions, channels,
batch ids), each read the same way whatever intent asks for it."""

from __future__ import annotations

import re
from typing import Any

from lakeforge.metadata.db import Database
from lakeforge.nlu import vocabulary as vocab
from lakeforge.nlu.lookup import last_batch
from lakeforge.nlu.message import MENTION, Message
from lakeforge.nlu.text import SLUG, correct, slugify

BATCH_ID = re.compile(
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


def source_name(msg: Message) -> str | None:
    known = [w for w in msg.words if w in msg.known.sources]
    if known:
        return known[0]
    return (
        msg.after(frozenset({"called", "named"}))
        or msg.after(vocab.SOURCE_NOUNS)
        or msg.before(vocab.SOURCE_NOUNS)
        or next(iter(msg.names()), None)
    )


def group_name(msg: Message) -> str | None:
    known = [w for w in msg.words if w in msg.known.groups]
    if known:
        return known[0]
    explicit = msg.marked(vocab.GROUP_NOUNS)
    if explicit:
        return explicit
    # A source named where a group is expected: its group, when the store knows it.
    for word in msg.words:
        if word in msg.known.sources:
            return msg.known.sources[word]
    if msg.known.names:
        return None
    return next(iter(msg.names()), None)


def run_target(msg: Message) -> tuple[dict[str, Any], str | None]:
    """What to run: a source or a group; a bare unknown name is asked about, not guessed."""
    for word in msg.words:
        if word in msg.known.sources:
            return {"source": word}, None
        if word in msg.known.groups:
            return {"group": word}, None
    explicit_source = msg.marked(vocab.SOURCE_NOUNS)
    if explicit_source:
        return {"source": explicit_source}, None
    group = msg.marked(vocab.GROUP_NOUNS)
    if group:
        return {"group": group}, None
    name = next(iter(msg.names()), None)
    if name is None:
        return {}, "What should I run? Name a group or a source, e.g. `run orders`."
    if msg.known.names:
        return {}, f"I know no source or group called {name}. `sources` lists the sources and their groups."
    return {}, f"Is {name} a source or a group? Say `run source {name}` or `run group {name}`."


def unknown_group(msg: Message, command: str) -> str | None:
    """The question for a group the message names but the store does not know ("pause shipments"),
    with the groups that exist; None when the store knows no names (nothing to compare with)."""
    if not msg.known.groups:
        return None
    groups = ", ".join(f"`{g}`" for g in sorted(msg.known.groups))
    typed = next((w for w in msg.names() if w not in msg.known.names), None)
    if typed is None:
        return f"Which group? The groups are {groups}: say `{command}`."
    return f"I know no group or source called {typed}. The groups are {groups}: say `{command}`."


def batch_ref(msg: Message, db: Database | None) -> tuple[int | None, str | None]:
    """A batch id typed or referred to ("last failed batch of orders"); else the question to ask."""
    found = BATCH_ID.search(msg.text.rest) or _BARE_NUMBER.match(msg.text.rest)
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
    # No source or group named: "the last (failed) batch" is the newest of the whole run log
    # (of the groups the caller may see).
    name = next((w for w in msg.words if w in msg.known.names), None) or next(iter(msg.names()), None)
    status = "failed" if msg.has(frozenset({"failed", "failures", "failing", "broken", "errors"})) else None
    of = f" of {name}" if name else ""
    if db is None:
        return None, f"I cannot look up the last batch{of} without the run log: give the batch id."
    batch = last_batch(db, name, status=status, groups=msg.groups)
    if batch is None:
        what = "failed batch" if status else "batch"
        return None, f"I found no {what}{of} in the run log: give the batch id (`runs` lists them)."
    return batch, None


def file_format(msg: Message) -> str | None:
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


def load_mode_slots(msg: Message) -> dict[str, Any]:
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


# "set the primary key of orders to order_id", "keyed on order_id, line_no", "merge on id".
_KEYS = re.compile(
    r"\b(?:primary[\s_-]+keys?|keys?|keyed\s+(?:on|by)|unique\s+(?:on|by)|merge\s+(?:on|by))\b"
    r"(?:\s+(?:of|for|on)\s+[a-z_]\w*)?\s*(?:to|=|:|is|are|on|by|as)?\s*(?:the\s+)?(?:columns?\s+)?"
    r"(?P<cols>[a-z_]\w*(?:\s*(?:,|\band\b)\s*[a-z_]\w*)*)",
    re.IGNORECASE,
)
_SCD = re.compile(r"\bscd[\s_-]*(?:type[\s_-]*)?(?P<type>[12])\b|\btype[\s_-]*(?P<type2>[12])\s+scd\b", re.I)
_HISTORY = re.compile(r"\b(?:keep|track)(?:s|ing)?\s+(?:the\s+|its\s+|full\s+)*history\b", re.I)
_SEQUENCE = re.compile(
    r"\b(?:sequence[sd]?|ordered)\s+by\s+(?:the\s+)?(?:column\s+)?(?P<col>[a-z_]\w*)", re.I
)
_SCHEMA = re.compile(
    r"\bschema(?:\s+(?:of|for)\s+[a-z_]\w*)?\s+(?:to|=|:|is|as)\s+(?P<ddl>[a-z_]\w*\s+[a-z].*)$", re.I
)
# Words that end a list of key columns: "keyed on id, sequenced by ts" names one key.
_AFTER_COLUMNS = frozenset(
    {
        "to",
        "is",
        "are",
        "on",
        "by",
        "as",
        "the",
        "and",
        "scd",
        "scd1",
        "scd2",
        "type",
        "with",
        "keep",
        "keeping",
        "track",
        "tracking",
        "sequence",
        "sequenced",
        "sequences",
        "ordered",
        "schema",
        "please",
    }
)


def silver_slots(msg: Message) -> dict[str, Any]:
    """Silver and schema changes a message states: primary keys, SCD type, sequence column, schema.

    Only what is said: ``update_source`` merges a section field by field, so "orders is keyed on
    id" changes the keys and leaves the SCD type as it was.
    """
    raw = MENTION.sub("", msg.text.raw)
    for location in msg.text.locations:
        raw = raw.replace(location, " ")  # ".../keys/..." in a path is no primary key
    silver: dict[str, Any] = {}
    keys = _KEYS.search(raw)
    if keys:
        columns = []
        for column in re.split(r"\s*(?:,|\band\b)\s*", keys.group("cols")):
            if column.lower() in _AFTER_COLUMNS:
                break
            if column and column not in msg.known.names:
                columns.append(column)
        if columns:
            silver["primary_keys"] = columns
    scd = _SCD.search(raw)
    if scd:
        silver["scd_type"] = int(scd.group("type") or scd.group("type2"))
    elif _HISTORY.search(raw):
        silver["scd_type"] = 2
    sequence = _SEQUENCE.search(raw)
    if sequence:
        silver["sequence_by"] = sequence.group("col")
    slots: dict[str, Any] = {"silver": silver} if silver else {}
    schema = _SCHEMA.search(raw)
    if schema:
        slots["schema_ddl"] = schema.group("ddl").strip().rstrip(".")
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


def rows_where(raw: str) -> tuple[str, int] | None:
    """("drop rows where", where the condition starts) when a row verb, typo or not, leads to one."""
    for word in re.finditer(r"[A-Za-z]+", raw):
        if correct(word.group(0).lower(), vocab.KEYWORDS) in _ROW_VERBS:
            tail = _ROWS_TAIL.match(raw, word.end())
            if tail:
                return raw[word.start() : tail.end()], tail.end()
    return None


# A column compared with something: what a condition after "drop rows where" must look like.
_CONDITION = re.compile(
    r"\w\s*(?:[<>=!]|\b(?:is|in|between|like|rlike|not\s+(?:in|between|like))\b)|\b(?:contains|startswith|endswith)\(",
    re.I,
)
_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(\w+) (?:is|must be|should be) (?:positive|greater than zero|above zero)$"), r"\1 > 0"),
    (re.compile(r"^(\w+) (?:is|must be|should be) (?:non-negative|not negative)$"), r"\1 >= 0"),
    (re.compile(r"^(\w+) (?:is|must be|should be) (?:present|set|not missing)$"), r"\1 IS NOT NULL"),
    (re.compile(r"^(\w+) (?:is not|isn't|must not be|should not be) missing$"), r"\1 IS NOT NULL"),
    (re.compile(r"^(\w+) must not be (?:null|none)$"), r"\1 IS NOT NULL"),
    (re.compile(r"^(\w+) (?:is|must be|should be) (?:required|mandatory)$"), r"\1 IS NOT NULL"),
    (re.compile(r"^(\w+) must not be negative$"), r"\1 >= 0"),
    (re.compile(r"^(\w+) must not be (?:zero or negative|negative or zero)$"), r"\1 > 0"),
]

# "can't be", "should never be", "mustn't exceed": a prohibition said any way, as "must not", so the
# rewrites and word comparisons read one form. "must always be positive" is "must be positive".
_PROHIBITION = re.compile(
    r"\b(?:can['’]?t|cannot|can\s+not|may\s+not|mustn['’]?t|shouldn['’]?t|won['’]?t"
    r"|(?:must|should|can|may|shall|will)\s+never|never|must\s+not|should\s+not)\b",
    re.IGNORECASE,
)
_ALWAYS = re.compile(r"\b(must|should|has\s+to|have\s+to|needs?\s+to)\s+always\b", re.IGNORECASE)
# Words that state a rule about a column: a sentence with one ("amount should never be negative")
# is read as a condition even without "rule" or "where".
_OBLIGATION = re.compile(
    r"\b(?:must|should|shall|has\s+to|have\s+to|needs?\s+to|can['’]?t|cannot|mustn['’]?t|shouldn['’]?t"
    r"|never|always)\b",
    re.IGNORECASE,
)


def _outside_literals(expr: str, change: Any) -> str:
    """``change`` applied to the parts of ``expr`` outside '...' literals (their text is kept)."""
    parts = re.split(r"('(?:[^'\\]|\\.)*')", expr)
    for index in range(0, len(parts), 2):  # even parts lie outside '...' literals
        parts[index] = change(parts[index])
    return "".join(parts)


def said_as_obligation(expr: str) -> str:
    """``expr`` with prohibitions written as "must not" ("can't be null" -> "must not be null")."""
    return _outside_literals(expr, lambda part: _ALWAYS.sub(r"\1", _PROHIBITION.sub("must not", part)))


# "amount is below 10000", "qty must be at least 1": comparisons said in words, as operators.
# Longer phrases first, so "less than or equal to" is not read as "less than".
_BE = r"(?:is|are|must\s+be|should\s+be|has\s+to\s+be|needs\s+to\s+be)"
_NOT_BE = r"(?:(?:is|are)\s+not|isn't|aren't|(?:must|should)\s+not\s+be)"
_COMPARISONS: list[tuple[re.Pattern[str], str]] = [
    # "must not be less than 0" is ">= 0": a negated comparison is its opposite.
    (re.compile(rf"\s+{_NOT_BE}\s+(?:(?:less|lower|smaller)\s+than|below|under)\s+", re.I), " >= "),
    (re.compile(rf"\s+{_NOT_BE}\s+(?:(?:greater|more|higher|larger)\s+than|above|over)\s+", re.I), " <= "),
    (re.compile(rf"\s+{_BE}\s+(?:greater|more|higher|larger)\s+than\s+or\s+equal\s+to\s+", re.I), " >= "),
    (re.compile(rf"\s+{_BE}\s+(?:less|lower|smaller)\s+than\s+or\s+equal\s+to\s+", re.I), " <= "),
    (re.compile(rf"\s+{_BE}\s+(?:at\s+least|no\s+less\s+than)\s+", re.I), " >= "),
    (
        re.compile(
            rf"\s+(?:{_BE}\s+(?:at\s+most|no\s+more\s+than)|(?:must|should|does)\s+not\s+exceed)\s+", re.I
        ),
        " <= ",
    ),
    (
        re.compile(
            rf"\s+(?:{_BE}\s+(?:greater|more|higher|larger)\s+than|{_BE}\s+(?:above|over)|exceeds?)\s+", re.I
        ),
        " > ",
    ),
    (re.compile(rf"\s+{_BE}\s+(?:less|lower|smaller)\s+than\s+|\s+{_BE}\s+(?:below|under)\s+", re.I), " < "),
    (
        re.compile(
            rf"\s+(?:{_BE}\s+not\s+equal\s+to|does\s+not\s+equal|(?:must|should)\s+not\s+equal)\s+", re.I
        ),
        " <> ",
    ),
    (re.compile(rf"\s+(?:{_BE}\s+equal\s+to|equals?|(?:must|should)\s+equal)\s+", re.I), " = "),
    (re.compile(rf"\s+{_BE}\s+between\s+", re.I), " BETWEEN "),
    # "status should never be 'void'", "qty must be 1": a value compared, quoted or a number (a
    # quoted value is the next part, so the text before it ends right after "be").
    (re.compile(r"\s+(?:must|should)\s+not\s+be\s+(?=$|'|-?\d)", re.I), " <> "),
    (re.compile(r"\s+(?:must|should)\s+be\s+(?=$|'|-?\d)", re.I), " = "),
]


def comparisons_in_words(expr: str) -> str:
    """``expr`` with comparisons said in words written as operators, outside quoted literals."""

    def operators(part: str) -> str:
        for pattern, operator in _COMPARISONS:
            part = pattern.sub(operator, part)
        return part

    return _outside_literals(string_predicates(expr), operators)


# "email must contain @", "sku starts with AB", "name is not blank", "status is one of a, b":
# predicates on text said in words, as functions the SQL allow-list has and both engines run
# alike (contains, startswith, endswith, RLIKE, trim). The value is quoted here, so a ' in it
# never ends the literal early; a number stays a number in a list.
_COLUMN = r"(?P<col>[A-Za-z_]\w*)"
_NEG = (
    r"(?P<neg>(?:does|do|must|should|shall|will|may|can)\s*(?:not|n't)\s+|doesn't\s+|don't\s+"
    r"|(?:is|are)\s+not\s+|never\s+)?"
)
_MODAL = r"(?:(?:must|should|shall|will|has\s+to|have\s+to|needs?\s+to)\s+)?"
_VALUE = r"(?P<val>'(?:[^'\\]|\\.)*'|[^\s,;()]+)"
_TEXT_FUNCTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\b{_COLUMN}\s+{_NEG}{_MODAL}(?:contains?|includes?)\s+{_VALUE}", re.I), "contains"),
    (re.compile(rf"\b{_COLUMN}\s+{_NEG}{_MODAL}(?:starts?|begins?)\s+with\s+{_VALUE}", re.I), "startswith"),
    (re.compile(rf"\b{_COLUMN}\s+{_NEG}{_MODAL}ends?\s+with\s+{_VALUE}", re.I), "endswith"),
    (
        re.compile(
            rf"\b{_COLUMN}\s+{_NEG}{_MODAL}(?:match(?:es)?|matching)\s+(?:the\s+)?"
            rf"(?:(?:regex|regexp|pattern|regular\s+expression)\s+)?{_VALUE}",
            re.I,
        ),
        "RLIKE",
    ),
]
_NOT_BLANK = re.compile(
    rf"\b{_COLUMN}\s+(?:{_BE}\s+not|{_BE}\s+non|isn't|aren't|(?:must|should|may|can)\s*(?:not|n't)\s+be)"
    r"[\s-]*(?:empty|blank)\b",
    re.I,
)
_IS_BLANK = re.compile(rf"\b{_COLUMN}\s+{_BE}\s+(?:empty|blank)\b", re.I)
_ITEM = r"(?:'(?:[^'\\]|\\.)*'|[^\s,;()']+(?:'[^\s,;()']+)*)"  # a bare word may hold an apostrophe
_ONE_OF = re.compile(
    rf"\b{_COLUMN}\s+(?P<neg>{_BE}\s+not\s+|isn't\s+)?(?:{_BE}\s+)?(?:one\s+of|among|either)\s+"
    rf"(?P<items>{_ITEM}(?:(?:\s*,\s*(?:or\s+)?|\s+or\s+){_ITEM})*(?:,?\s+and\s+{_ITEM}\s*$)?)",
    re.I,
)
_IN_BARE = re.compile(rf"\b{_COLUMN}\s+(?P<neg>not\s+)?in\s*\((?P<items>[^)']*)\)", re.I)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def sql_text(value: str) -> str:
    """``value`` as a Spark SQL string literal: backslashes and quotes escaped (Spark's escapes,
    which the embedded engine reads alike), so the value can never close the literal."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = re.sub(r"\\(.)", r"\1", value[1:-1])  # typed as a literal already: its text
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_item(value: str) -> str:
    value = value.strip()
    return value if _NUMBER.match(value) else sql_text(value)


def _text_function(function: str) -> Any:
    def write(match: re.Match[str]) -> str:
        column, value = match.group("col"), sql_text(match.group("val"))
        test = f"{column} RLIKE {value}" if function == "RLIKE" else f"{function}({column}, {value})"
        return f"NOT {test}" if match.group("neg") else test

    return write


def _not_blank(match: re.Match[str]) -> str:
    column = match.group("col")
    return f"{column} IS NOT NULL AND trim({column}) <> ''"


def _is_blank(match: re.Match[str]) -> str:
    column = match.group("col")
    return f"({column} IS NULL OR trim({column}) = '')"


def _listed(match: re.Match[str]) -> str:
    items = re.findall(_ITEM, match.group("items"))
    values = ", ".join(_sql_item(item) for item in items if item.lower() not in ("or", "and"))
    return f"{match.group('col')} {'NOT IN' if match.group('neg') else 'IN'} ({values})"


def string_predicates(expr: str) -> str:
    """``expr`` with text predicates said in words written as SQL (see ``_TEXT_FUNCTIONS``)."""
    for pattern, function in _TEXT_FUNCTIONS:
        expr = pattern.sub(_text_function(function), expr)
    expr = _IS_BLANK.sub(_is_blank, _NOT_BLANK.sub(_not_blank, expr))
    expr = _ONE_OF.sub(_listed, expr)
    bare = _IN_BARE.search(expr)
    if bare and any(not _NUMBER.match(i.strip()) for i in bare.group("items").split(",") if i.strip()):
        expr = _IN_BARE.sub(_listed, expr)  # "status in (open, closed)": the words are values
    return expr


def bad_rows(msg: Message) -> str | None:
    """The condition naming the rows to act on ("drop rows where X" -> X), or None."""
    raw = MENTION.sub("", msg.text.raw)
    found = rows_where(raw)
    # "remove the source orders if it is empty" is about a source, not its rows.
    if not found or set(found[0].lower().split()) & (vocab.SOURCE_NOUNS | vocab.GROUP_NOUNS):
        return None
    rest = raw[found[1] :]
    if re.match(r"\s*(?:it|they|this|that|there)\b", rest, re.IGNORECASE):
        return None
    quoted = [value.strip() for value in msg.text.quoted if not SLUG.match(value)]
    condition = quoted[0] if quoted else rule_expression(msg, ": " + rest)
    return condition if condition and _CONDITION.search(condition) else None


def rule_expression(msg: Message, text: str | None = None) -> str | None:
    for value in msg.text.quoted:
        if text is None and not SLUG.match(value):
            return value.strip()
    raw = text if text is not None else MENTION.sub("", msg.text.raw)
    match = _EXPRESSION_AFTER.search(raw)
    if not match and msg.has(vocab.RULE_NOUNS):
        # "add rule on orders amount must be positive": the condition follows the source.
        after = next((m for s in msg.known.sources if (m := re.search(rf"\b{s}\b\s+(?=\w)", raw))), None)
        match = _EXPRESSION_AFTER.search(": " + raw[after.end() :]) if after else None
    stated = False
    if not match and text is None and _OBLIGATION.search(raw):
        # "amount should never be negative on orders", "in orders, customer_id can't be null": a
        # statement about a column, the source named before or after it.
        match = _EXPRESSION_AFTER.search(": " + _without_source(msg, raw))
        stated = True
    if not match:
        return None
    said = match.group("expr").strip().rstrip(".?!")
    expr = said_as_obligation(said)
    # Read as a prohibition, the words must still compare a column ("orders can't load" does not).
    strict = stated or expr != said
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
    expr = comparisons_in_words(expr)
    # Plain words are not an expression; an operator or SQL keyword must appear.
    if not re.search(r"[<>=!]|\b(?:is|in|between|like|rlike|not|null|and|or)\b|\(", expr, re.IGNORECASE):
        return None
    if strict and not _CONDITION.search(expr):
        return None
    return expr


def _without_source(msg: Message, raw: str) -> str:
    """``raw`` without the known source it names ("on orders", "in the orders table", "orders:")."""
    for source in msg.known.sources:
        raw = re.sub(
            rf"(?:\b(?:on|in|for|of|from)\s+(?:the\s+)?)?\b{source}\b(?:\s+(?:source|table|dataset|feed))?"
            r"\s*[:,]?",
            " ",
            raw,
        )
    return re.sub(r"\s+", " ", raw).strip(" ,")


_TRAILING_SOURCE = re.compile(
    r"\s+(?:in|on|for|of|from)\s+(?:the\s+)?[a-z_]\w*\s+(?:source|table|dataset|feed)$", re.IGNORECASE
)


def negate(condition: str) -> str:
    """A rule keeping exactly the rows ``condition`` does not describe.

    A row passes a rule only when the rule is TRUE, so a row where ``condition`` is NULL (not
    described by it) must still pass: hence ``coalesce(..., false)`` rather than a bare NOT.
    """
    null = re.fullmatch(r"(\w+)\s+is\s+(not\s+)?null", condition.strip(), re.IGNORECASE)
    if null:
        return f"{null.group(1)} IS NULL" if null.group(2) else f"{null.group(1)} IS NOT NULL"
    return f"NOT coalesce({condition}, false)"


# "drop the rows that fail", "quarantine whatever fails": "fail" there says which rows, not an action.
_DESCRIBES_ROWS = frozenset({"that", "which", "whatever", "who", "rows", "they", "it", "ones"})


def rule_action(msg: Message) -> str | None:
    words = msg.words
    for index in range(len(words) - 1, -1, -1):
        word = words[index]
        if word in ("fail", "fails") and index and words[index - 1] in _DESCRIBES_ROWS:
            continue
        if word in vocab.ACTIONS and word != "stop":
            return vocab.ACTIONS[word]
    return None


def rule_name(msg: Message, source: str | None) -> str | None:
    known = msg.known.rules.get(source or "", set())
    for word in msg.words:
        if word in known:
            return word
    name = msg.after(frozenset({"called", "named"})) or msg.after(vocab.RULE_NOUNS)
    if name == source:
        return None
    return name


def derive_rule_name(expression: str) -> str:
    """A readable rule name from its expression ("amount > 0" -> amount_gt_0)."""
    words = {">=": " ge ", "<=": " le ", "!=": " ne ", "<>": " ne ", ">": " gt ", "<": " lt ", "=": " eq "}
    text = expression.lower()
    # Read as said: "email_contains", "email_not_blank", not the SQL's function-first order.
    text = re.sub(r"\b(contains|startswith|endswith)\((\w+),", r"\2 \1", text)
    text = re.sub(r"(\w+) is not null and trim\(\1\) <> ''", r"\1 not blank", text)
    text = re.sub(r"\((\w+) is null or trim\(\1\) = ''\)", r"\1 blank", text)
    for op, word in words.items():
        text = text.replace(op, word)
    return slugify(text)[:40].rstrip("_") or "rule"


def channel_id(msg: Message) -> str | None:
    return msg.text.channels[0] if msg.text.channels else None


def revision_number(msg: Message) -> int | None:
    found = re.search(r"\b(?:revision|version|rev|v)\s*#?\s*(\d+)\b|\bto\s+#?(\d+)\b", msg.text.rest)
    if found:
        return int(found.group(1) or found.group(2))
    return None


# -- intents ------------------------------------------------------------------------------


def first_missing(slots: dict[str, Any], questions: dict[str, str]) -> str | None:
    for slot, question in questions.items():
        if not slots.get(slot):
            return question
    return None


def known_rule(msg: Message) -> tuple[str, str] | None:
    """(source, rule) for a rule name the store knows, when exactly one source has it."""
    owners = [(source, w) for w in msg.words for source, names in msg.known.rules.items() if w in names]
    return owners[0] if len({source for source, _ in owners}) == 1 else None
