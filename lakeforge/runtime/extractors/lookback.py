"""The watermark look-back of incremental database and REST sources.

A batch reads from the saved high watermark *inclusive*, minus ``format_options.watermark_lookback``:
a row committed after the previous batch's snapshot with a watermark at or a little below the
saved high value is read by the next batch instead of never. Rows read again are not landed twice:
each batch saves, with its watermark, a hash of every row in its own look-back window
(``boundary_rows`` in ``watermark_state.cursor``), and the next batch skips re-read rows whose hash
is among them. A row whose content changed lands again (it is a change).

``watermark_lookback`` is a number for a numeric column (``100``) or an interval for a date or
timestamp column (``"5 minutes"``; seconds, minutes, hours or days). Default: no look-back.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from lakeforge.errors import LakeForgeError

OPTION = "watermark_lookback"
FIELD = f"format_options.{OPTION}"
# Where a batch keeps the hashes of the rows in its look-back window.
BOUNDARY = "boundary_rows"
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)\s*(second|minute|hour|day)s?$")
_FIX = 'Use a number for a numeric column (e.g. 100) or an interval for a timestamp (e.g. "5 minutes").'


@dataclass(frozen=True)
class Lookback:
    """How far below the saved high value to read again: ``amount`` in the column's units, or in
    seconds when ``interval``."""

    amount: float = 0.0
    interval: bool = False

    @property
    def none(self) -> bool:
        return self.amount == 0

    def seconds(self) -> timedelta:
        return timedelta(seconds=self.amount)


def parse(value: Any) -> Lookback:
    """The option's value as a ``Lookback``; a ``LakeForgeError`` naming the option when invalid."""
    if value is None:
        return Lookback()
    if isinstance(value, int | float) and not isinstance(value, bool):
        amount = float(value)
        interval = False
    elif isinstance(value, str):
        text = value.strip().lower()
        match = _INTERVAL.match(text)
        try:
            amount, interval = (float(match[1]) * _UNITS[match[2]], True) if match else (float(text), False)
        except ValueError:
            raise LakeForgeError(
                f"{value!r} is neither a number nor an interval such as '5 minutes'",
                field=FIELD,
                fix=_FIX,
            ) from None
    else:
        raise LakeForgeError(f"{value!r} is not a number or an interval", field=FIELD, fix=_FIX)
    if not amount >= 0 or amount == float("inf"):
        raise LakeForgeError(f"{value!r} must be zero or more", field=FIELD, fix=_FIX)
    return Lookback(amount, interval)


def from_options(options: Mapping[str, Any]) -> Lookback:
    return parse(options.get(OPTION))


def check_column_type(lookback: Lookback, column: str, value_type: str) -> None:
    """Refuse a look-back that cannot apply to the watermark column's Postgres type."""
    if lookback.none:
        return
    temporal = value_type == "date" or value_type.startswith(("timestamp", "time "))
    numeric = value_type in ("smallint", "integer", "bigint", "real", "double precision") or (
        value_type.startswith("numeric")
    )
    if lookback.interval and not temporal:
        raise LakeForgeError(
            f"is an interval, but watermark column {column} is {value_type}",
            field=FIELD,
            fix="Give a number of the column's units (e.g. 100), or 0 for no look-back.",
        )
    if not lookback.interval and not numeric:
        raise LakeForgeError(
            f"is a number, but watermark column {column} is {value_type}",
            field=FIELD,
            fix='Give an interval for a date or timestamp column (e.g. "5 minutes").'
            if temporal
            else "A text watermark cannot look back: remove the option.",
        )


def lowered(value: str, lookback: Lookback) -> str:
    """A watermark value as text (a number or an ISO date or timestamp) minus the look-back, in
    the same shape (a date stays a date, rounded down to whole days; an offset is kept)."""
    if lookback.none:
        return value
    if not lookback.interval:
        try:
            number = float(value)
        except ValueError:
            raise LakeForgeError(
                f"is a number, but the watermark {value!r} is not", field=FIELD, fix=_FIX
            ) from None
        result = number - lookback.amount
        return str(int(result)) if result.is_integer() and "." not in value else repr(result)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day) - lookback.seconds()
            return start.date().isoformat()
        return (datetime.fromisoformat(value) - lookback.seconds()).isoformat()
    except ValueError:
        raise LakeForgeError(
            f"is an interval, but the watermark {value!r} is not a date or timestamp",
            field=FIELD,
            fix=_FIX,
        ) from None


def boundary_of(cursor: Mapping[str, Any] | None) -> set[str] | None:
    """The hashes the previous batch saved; None when its state predates them."""
    if not cursor or not isinstance(cursor.get(BOUNDARY), list):
        return None
    return {str(h) for h in cursor[BOUNDARY]}


def record_hash(record: Any) -> str:
    """A REST record's hash: its canonical JSON (sorted keys), so key order does not matter."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
