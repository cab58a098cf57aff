"""Reader options said in words: CSV's "no header", "semicolon separated", "delimiter |", and a
JDBC source's table, user and password ("table public.accounts user etl password {{secrets/crm/pw}}").

A CSV read with the wrong header or delimiter loads wrong data without failing (the header row
becomes a data row, every line one column), so what the user says about them is kept.

>>> csv_options("register orders csv without header, delimiter ;")
{'header': False, 'delimiter': ';'}
>>> csv_options("pipe-delimited csv")
{'delimiter': '|'}
"""

from __future__ import annotations

import re
from typing import Any

_NAMED = {"comma": ",", "semicolon": ";", "pipe": "|", "tab": "\t", "tabs": "\t", "colon": ":"}
_NO_HEADER = re.compile(
    r"\b(?:no|without(?:\s+an?y?)?|missing)\s+headers?(?:\s+rows?)?\b|\bheaderless\b|\bheader\s*[:=]?\s*false\b"
)
# "with a header", "the files have a header row", "first line is the header", "headers included".
_HEADER = re.compile(
    r"\b(?:with|has|have|having|includes?|including)(?:\s+(?:a|the))?\s+headers?\b|\bheader\s*[:=]?\s*true\b"
    r"|\bfirst\s+(?:row|line)\s+(?:is|holds)\s+(?:the\s+|a\s+)?(?:column\s+)?(?:header|names)\b"
    r"|\bheaders?\s+(?:included|present)\b"
)
_DELIMITER = re.compile(
    r"\b(?:delimiter|separator|sep|delimited\s+by|separated\s+by)\s*(?:is\s+|of\s+|[:=]\s*)?"
    r"(?:[\"'`]([^\"'`])[\"'`]|(comma|semicolon|pipe|tabs?|colon)\b|([;,|:]))"
)
_SEPARATED = re.compile(r"\b(comma|semicolon|pipe|tab|colon)[\s-]+(?:separated|delimited)\b|\b(tsv)\b")


def csv_options(text: str) -> dict[str, Any]:
    """The header and delimiter options ``text`` states (lower or mixed case), nothing else."""
    lowered = text.lower()
    options: dict[str, Any] = {}
    if _NO_HEADER.search(lowered):
        options["header"] = False
    elif _HEADER.search(lowered):
        options["header"] = True
    said = _DELIMITER.search(lowered)
    separated = _SEPARATED.search(lowered)
    if said:
        literal, named, bare = said.groups()
        options["delimiter"] = literal or _NAMED.get(named or "", "") or bare
    elif separated:
        options["delimiter"] = "\t" if separated.group(2) else _NAMED[separated.group(1)]
    return options


# A secret reference as the command layer takes it: {{secrets/scope/key}}.
SECRET_REF = re.compile(r"\{\{\s*secrets/[\w.-]+/[\w.-]+\s*\}\}")
_JDBC_VALUE = r"(?:'(?P<q>[^']+)'|\"(?P<qq>[^\"]+)\"|`(?P<bq>[^`]+)`|(?P<bare>\{\{[^}]*\}\}|[^\s,;]+))"
_JDBC_OPTIONS = {
    # "table public.accounts", "dbtable=sales.orders", "from the table crm.accounts"
    "dbtable": re.compile(rf"\b(?:db\s*table|table)\s*(?:is\s+|[:=]\s*)?{_JDBC_VALUE}", re.I),
    "query": re.compile(rf"\bquery\s*(?:is\s+|[:=]\s*)?{_JDBC_VALUE}", re.I),
    "user": re.compile(rf"\b(?:user(?:name)?|login)\s*(?:is\s+|[:=]\s*)?{_JDBC_VALUE}", re.I),
    "password": re.compile(rf"\b(?:password|passwd|pwd)\s*(?:is\s+|[:=]\s*)?{_JDBC_VALUE}", re.I),
}
# A word after "table" that is not the table's name ("table of accounts" is not read).
_NOT_A_TABLE = frozenset({"of", "in", "from", "for", "to", "and", "with", "name", "named", "called"})


def jdbc_options(text: str) -> dict[str, Any]:
    """The JDBC reader options ``text`` states: dbtable (schema.table) or query, user, password.

    >>> jdbc_options("table public.accounts user etl password {{secrets/crm/pw}}")
    {'dbtable': 'public.accounts', 'user': 'etl', 'password': '{{secrets/crm/pw}}'}

    The password is kept as typed: the command layer refuses one that is not a secret reference.
    """
    options: dict[str, Any] = {}
    for option, pattern in _JDBC_OPTIONS.items():
        found = pattern.search(text)
        if not found:
            continue
        value = next(v for v in (found.group(g) for g in ("q", "qq", "bq", "bare")) if v is not None)
        said_dbtable = found.group(0).lower().startswith("db")
        if option == "dbtable" and (value.lower() in _NOT_A_TABLE or ("." not in value and not said_dbtable)):
            continue  # "table of accounts": after the bare word "table" only schema.table is read
        options[option] = value.rstrip(".")
    return options
