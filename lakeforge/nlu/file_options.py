"""CSV reading options said in words: "no header", "semicolon separated", "delimiter |".

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
    r"\b(?:no|without(?:\s+a)?|missing)\s+header(?:\s+row)?\b|\bheaderless\b|\bheader\s*[:=]?\s*false\b"
)
_HEADER = re.compile(
    r"\bwith(?:\s+a)?\s+header(?:\s+row)?\b|\bheader\s*[:=]?\s*true\b|\bhas\s+(?:a\s+)?header\b"
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
