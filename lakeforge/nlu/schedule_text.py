"""Everyday schedule phrases to Quartz cron ("every day at 2am" -> ``0 0 2 * * ?``).

Quartz fields: second minute hour day-of-month month day-of-week. Exactly one of the two day
fields is ``?``. A phrase that names a cadence but no time ("every day") is incomplete: the
caller asks when, it never picks a time itself.

>>> to_quartz("every day at 2am").quartz
'0 0 2 * * ?'
>>> to_quartz("weekdays at 7:30 pm").quartz
'0 30 19 ? * MON-FRI'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import available_timezones

_DAYS = {
    "monday": "MON",
    "mon": "MON",
    "tuesday": "TUE",
    "tue": "TUE",
    "tues": "TUE",
    "wednesday": "WED",
    "wed": "WED",
    "thursday": "THU",
    "thu": "THU",
    "thurs": "THU",
    "friday": "FRI",
    "fri": "FRI",
    "saturday": "SAT",
    "sat": "SAT",
    "sunday": "SUN",
    "sun": "SUN",
}
_DAY_WORDS = "|".join(sorted(_DAYS, key=len, reverse=True))
_TIME = re.compile(
    r"\b(?:at|@)?\s*(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)?(?![\d:/])"
    r"|\b(?P<word>midnight|noon|midday)\b",
    re.IGNORECASE,
)
_QUARTZ = re.compile(r"(?<!\S)((?:[0-9*?/,\-LW#A-Z]+\s+){5,6}[0-9*?/,\-LW#A-Z]+)(?!\S)")
_TIMEZONES = {name.lower(): name for name in available_timezones()}
_TZ = re.compile(r"\b([A-Za-z]+/[A-Za-z_]+(?:/[A-Za-z_]+)?|UTC|GMT)\b")
_DAY_PATTERNS = [(re.compile(rf"\b{word}s?\b"), code) for word, code in _DAYS.items()]
_ORDINAL = re.compile(r"\b(?:on\s+)?(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b")


@dataclass(frozen=True)
class ScheduleParse:
    quartz: str | None
    timezone: str | None = None
    # Set when a cadence was understood but something required (the time) is missing.
    missing: str | None = None


def _time_of_day(text: str) -> tuple[int, int] | None:
    for match in _TIME.finditer(text):
        if match.group("word"):
            return (0, 0) if match.group("word").lower() == "midnight" else (12, 0)
        hour, minute = int(match.group("h")), int(match.group("m") or 0)
        ampm = (match.group("ampm") or "").lower().replace(".", "")
        # A bare number is only a time when introduced by "at"/"@" or followed by am/pm or :MM.
        introduced = match.group(0).lstrip().startswith(("at", "@"))
        if not (ampm or match.group("m") or introduced):
            continue
        if ampm == "pm" and hour < 12:
            hour += 12
        if ampm == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60:
            return hour, minute
    words = {"morning": (6, 0), "evening": (18, 0), "night": (0, 0), "tonight": (0, 0)}
    for word, value in words.items():
        if re.search(rf"\b(?:every|each|in the)\s+{word}\b|\bnightly\b", text) and word != "tonight":
            return (0, 0) if "nightly" in text else value
    return None


def _timezone(text: str) -> str | None:
    for match in _TZ.finditer(text):
        name = _TIMEZONES.get(match.group(1).lower())
        if name:
            return name
    return None


def from_unix_cron(expr: str) -> str:
    """A 5-field Unix cron as Quartz: seconds prepended, one day field made ``?``."""
    minute, hour, dom, month, dow = expr.split()
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
    if dow not in ("?", "*"):
        # Unix numbers Sunday 0 (or 7), Quartz 1: name the days to avoid the off-by-one.
        names = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
        dow = re.sub(r"\d", lambda m: names[int(m.group(0))], dow)
    return f"0 {minute} {hour} {dom} {month} {dow}"


@lru_cache(maxsize=2048)
def to_quartz(text: str) -> ScheduleParse:
    """Read a schedule from free text; ``quartz`` is None when none is stated."""
    original = text
    text = text.lower()
    timezone = _timezone(original)
    explicit = _QUARTZ.search(original.replace("\u00a0", " "))
    if explicit and re.search(r"[*?]", explicit.group(1)):
        fields = explicit.group(1).split()
        return ScheduleParse(" ".join(fields), timezone)
    unix = re.search(r"(?<!\S)((?:[0-9*/,\-]+\s+){4}[0-9*/,\-]+)(?!\S)", original)
    if unix and "*" in unix.group(1):
        return ScheduleParse(from_unix_cron(unix.group(1)), timezone)

    every_n = re.search(r"\bevery\s+(\d+)\s*(min(?:ute)?s?|h(?:ou)?rs?|hours?)\b", text)
    if every_n:
        n = int(every_n.group(1))
        if every_n.group(2).startswith("m"):
            return ScheduleParse(f"0 0/{n} * * * ?", timezone)
        return ScheduleParse(f"0 0 0/{n} * * ?", timezone)
    if re.search(r"\b(?:every|each)\s+(?:minute)\b", text):
        return ScheduleParse("0 * * * * ?", timezone)
    if re.search(r"\bhourly\b|\b(?:every|each)\s+hour\b", text):
        past = re.search(r"\bat\s+(?:minute\s+)?:?(\d{1,2})\b(?!\s*(?:am|pm|:))", text)
        return ScheduleParse(f"0 {int(past.group(1)) if past else 0} * * * ?", timezone)

    when = _time_of_day(text)
    days = [code for pattern, code in _DAY_PATTERNS if pattern.search(text)]
    cadence: str | None = None
    if re.search(
        r"\bweekdays?\b|\bworking days?\b|\bbusiness days?\b|\bmon(?:day)?\s*-\s*fri(?:day)?\b", text
    ):
        cadence, dow = "week", "MON-FRI"
    elif re.search(r"\bweekends?\b", text):
        cadence, dow = "week", "SAT,SUN"
    elif days:
        cadence, dow = "week", ",".join(dict.fromkeys(days))
    elif re.search(r"\bweekly\b|\bevery\s+week\b", text):
        return ScheduleParse(None, timezone, missing="which day of the week and at what time")
    elif re.search(r"\bmonthly\b|\bevery\s+month\b|\bof (?:each|every) month\b", text):
        cadence = "month"
    elif re.search(
        r"\bdaily\b|\bevery\s*day\b|\beach day\b|\bnightly\b|\bevery (?:morning|evening|night)\b", text
    ) or (when is not None and re.search(r"\b(?:at|@)\b|\b(?:am|pm)\b", text)):
        cadence = "day"
    if cadence is None:
        return ScheduleParse(None, timezone)
    if when is None:
        return ScheduleParse(None, timezone, missing="at what time")
    hour, minute = when
    if cadence == "week":
        return ScheduleParse(f"0 {minute} {hour} ? * {dow}", timezone)
    if cadence == "month":
        ordinal = _ORDINAL.search(text)
        day = "L" if re.search(r"\blast day\b", text) else (ordinal.group(1) if ordinal else None)
        if day is None:
            return ScheduleParse(None, timezone, missing="which day of the month")
        return ScheduleParse(f"0 {minute} {hour} {day} * ?", timezone)
    return ScheduleParse(f"0 {minute} {hour} * * ?", timezone)
