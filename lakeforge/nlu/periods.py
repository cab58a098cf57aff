"""Periods said in chat ("today", "in the last 6 hours", "since monday") as the instant they start.

Days start at 00:00 UTC: the bot does not know the user's time zone, and run times are shown in
UTC too. The instant is written into the intent, so the audit row says exactly what was asked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}  # by the unit's first letter
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_AMOUNT = re.compile(
    r"\b(?:in\s+the\s+)?(?:last|past|previous)\s+(\d{1,4})?\s*"
    r"(minutes?|mins?|hours?|hrs?|h|days?|weeks?)\b"
)
_SINCE_DAY = re.compile(r"\bsince\s+(?:last\s+)?(" + "|".join(_DAYS) + r")\b")


def since(text: str, now: datetime | None = None) -> datetime | None:
    """The start of the period ``text`` names, or None when it names none."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    amount = _AMOUNT.search(text)
    if amount:
        return now - timedelta(seconds=int(amount.group(1) or 1) * _SECONDS[amount.group(2)[0]])
    if re.search(r"\btoday\b|\bthis\s+morning\b|\bsince\s+midnight\b", text):
        return midnight
    if re.search(r"\byesterday\b|\blast\s+night\b|\bovernight\b", text):
        return midnight - timedelta(days=1)
    if re.search(r"\bthis\s+week\b", text):
        return midnight - timedelta(days=midnight.weekday())
    day = _SINCE_DAY.search(text)
    if day:
        back = (midnight.weekday() - _DAYS.index(day.group(1))) % 7 or 7
        return midnight - timedelta(days=back)
    return None
