"""Everyday schedule phrases to Quartz cron ("every day at 2am" -> ``0 0 2 * * ?``).

Quartz fields: second minute hour day-of-month month day-of-week. Exactly one of the two day
fields is ``?``. A phrase that names a cadence but no time ("every day") is incomplete: the
caller asks when, it never picks a time itself. A phrase that Quartz cannot state exactly
("every 90 minutes", "at 6:15 and 18:30") is asked about too, never rounded to something else.

>>> to_quartz("every day at 2am").quartz
'0 0 2 * * ?'
>>> to_quartz("weekdays at 7:30 pm").quartz
'0 30 19 ? * MON-FRI'
>>> to_quartz("first day of the month at 1am").quartz
'0 0 1 1 * ?'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from lakeforge.nlu.timezones import read_timezone

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
_WEEK = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
_DAY_WORDS = "|".join(sorted(_DAYS, key=len, reverse=True))
_TIME = re.compile(
    r"\b(?:at|@)?\s*(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)?(?![\d:/])"
    r"|\b(?P<word>midnight|noon|midday)\b",
    re.IGNORECASE,
)
_QUARTZ = re.compile(r"(?<!\S)((?:[0-9*?/,\-LW#A-Z]+\s+){5,6}[0-9*?/,\-LW#A-Z]+)(?!\S)")
_DAY_PATTERNS = [(re.compile(rf"\b{word}s?\b"), code) for word, code in _DAYS.items()]
_NTH = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
}
_NTH_WORDS = "|".join(_NTH)
# "the 15th", "1st and 15th", "first day of the month": days of the month.
_DAY_OF_MONTH = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)\b(?!\s+(?:{_DAY_WORDS})s?\b)|\b({_NTH_WORDS})\s+day\b", re.IGNORECASE
)
_OF_MONTH = r"(?:of|in)\s+(?:the|each|every|a)\s+month\b"
_MONTHLY = re.compile(r"\bmonthly\b|\b(?:every|each|a|per)\s+month\b|\bof\s+(?:the|each|every)\s+month\b")
_ONE_OFF = re.compile(
    rf"\b(?:tomorrow|tonight|today|this\s+(?:morning|afternoon|evening|weekend)|next\s+(?:week|{_DAY_WORDS}))\b"
)
_REPEATS = re.compile(
    rf"\b(?:every|each|daily|nightly|hourly|weekly|monthly|weekdays|weekends|(?:{_DAY_WORDS})s)\b"
)

_EXCEPT = re.compile(
    rf"\b(?:except|but not|excluding|not on)\s+(?:on\s+)?"
    rf"((?:(?:{_DAY_WORDS})s?\b[\s,]*(?:and\s+|or\s+)?)+)"
)
_WEEKDAYS = re.compile(
    r"\bweekdays?\b|\bworking days?\b|\bbusiness days?\b|\bmon(?:day)?\s*-\s*fri(?:day)?\b"
)
_DAILY = re.compile(r"\bdaily\b|\bevery\s*day\b|\beach day\b|\bnightly\b|\bevery (?:morning|evening|night)\b")
_DAY_TIME_DAY_TIME = re.compile(rf"\b(?:{_DAY_WORDS})s?\b.*\d.*\b(?:{_DAY_WORDS})s?\b.*\d")


@dataclass(frozen=True)
class ScheduleParse:
    quartz: str | None
    timezone: str | None = None
    # Set when a cadence was understood but something required (the time) is missing.
    missing: str | None = None
    # Set when the phrase is a schedule that cannot be read as stated: the whole question.
    question: str | None = None

    @property
    def understood(self) -> bool:
        """A schedule was asked for (complete or not)."""
        return self.quartz is not None or self.missing is not None or self.question is not None


def _clock(match: re.Match[str], *, bare: bool) -> tuple[int, int] | None:
    """One matched clock time as (hour, minute); a bare number only counts when ``bare``."""
    if match.group("word"):
        return (0, 0) if match.group("word").lower() == "midnight" else (12, 0)
    hour, minute = int(match.group("h")), int(match.group("m") or 0)
    ampm = (match.group("ampm") or "").lower().replace(".", "")
    # A bare number is only a time when introduced by "at"/"@" or followed by am/pm or :MM.
    introduced = match.group(0).lstrip().startswith(("at", "@"))
    if not (ampm or match.group("m") or introduced or bare):
        return None
    if ampm == "pm" and hour < 12:
        hour += 12
    if ampm == "am" and hour == 12:
        hour = 0
    return (hour, minute) if hour < 24 and minute < 60 else None


def _stated_times(text: str) -> Iterator[tuple[int, int]]:
    """Clock times said as such (6am, 18:30, noon): not a bare number after "at" ("at 15 past")."""
    for match in _TIME.finditer(text):
        if match.group("word") or match.group("ampm") or match.group("m"):
            time = _clock(match, bare=True)
            if time:
                yield time


def _times_of_day(text: str) -> list[tuple[int, int]]:
    """Every time of day the text states, in order ("at 6am and 6pm" -> two)."""
    times = [t for t in (_clock(m, bare=False) for m in _TIME.finditer(text)) if t is not None]
    if times:
        return list(dict.fromkeys(times))
    words = {"morning": (6, 0), "evening": (18, 0), "night": (0, 0)}
    if re.search(r"\bnightly\b", text):
        return [(0, 0)]
    for word, value in words.items():
        if re.search(rf"\b(?:every|each|in the)\s+{word}\b", text):
            return [value]
    return []


def _day_codes(text: str) -> list[str]:
    return [code for pattern, code in _DAY_PATTERNS if pattern.search(text)]


def _week_days(text: str) -> list[str] | None:
    """Days of the week named (week order), minus those after "except"; None when none are."""
    excepted: list[str] = []
    exception = _EXCEPT.search(text)
    if exception:
        excepted = _day_codes(exception.group(1))
        text = text[: exception.start()] + text[exception.end() :]
    if _WEEKDAYS.search(text):
        days = _WEEK[:5]
    elif re.search(r"\bweekends?\b", text):
        days = ["SAT", "SUN"]
    elif _day_codes(text):
        days = _day_codes(text)
    elif excepted:
        days = list(_WEEK)  # "every day except sunday"
    else:
        return None
    return [d for d in days if d not in excepted] if excepted else days


def _dow_field(days: list[str]) -> str:
    return "MON-FRI" if days == _WEEK[:5] else ",".join(days)


def from_unix_cron(expr: str) -> str:
    """A 5-field Unix cron as Quartz: seconds prepended, one day field made ``?``."""
    minute, hour, dom, month, dow = expr.split()
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
    if dow not in ("?", "*"):
        # Unix numbers Sunday 0 (or 7), Quartz 1: name the days to avoid the off-by-one.
        # A number after "/" is a step ("1-5/2"), not a day.
        names = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
        dow = re.sub(r"(?<!/)\b[0-7]\b", lambda m: names[int(m.group(0))], dow).upper()
    return f"0 {minute} {hour} {dom} {month} {dow}"


def _interval(text: str) -> ScheduleParse | None:
    """'every 15 minutes', 'hourly', 'every 2 hours' (optionally between two times, on some days)."""
    every_n = re.search(r"\bevery\s+(\d+)\s*(m|mins?|minutes?|h|hrs?|hours?)\b", text)
    half = re.search(r"\bevery\s+half\s+(?:an\s+)?hour\b|\btwice\s+an\s+hour\b", text)
    quarter = re.search(r"\bevery\s+quarter(?:\s+of\s+an)?\s+hour\b", text)
    if every_n:
        n, unit = int(every_n.group(1)), every_n.group(2)[0]
        if unit == "m" and n >= 60 and n % 60 == 0:
            n, unit = n // 60, "h"
    elif half or quarter:
        n, unit = (30 if half else 15), "m"
    elif re.search(r"\b(?:every|each)\s+minute\b", text):
        n, unit = 1, "m"
    elif re.search(r"\bhourly\b|\b(?:every|each)\s+hour\b", text):
        n, unit = 1, "h"
    else:
        return None
    span = 60 if unit == "m" else 24
    if n < 1 or n >= span or span % n:
        what = "minutes" if unit == "m" else "hours"
        return ScheduleParse(
            None,
            question=(
                f"Quartz cannot repeat every {n} {what} evenly (it restarts each "
                f"{'hour' if unit == 'm' else 'day'}): choose a divisor of {span}, e.g. every "
                f"{'15 minutes' if unit == 'm' else '6 hours'}, or give a cron expression."
            ),
        )
    if re.search(r"\b(?:business|office|working|opening)\s+hours\b", text):
        return ScheduleParse(
            None, question="Which hours? e.g. `every 15 minutes between 8am and 6pm on weekdays`."
        )
    hours = "*"
    window = re.search(
        r"\b(?:between|from)\s+(.+?)\s+(?:and|to|until|till|-)\s+(\S+(?:\s*[ap]\.?m\.?)?)", text
    )
    if window:
        start = next((t for t in (_clock(m, bare=True) for m in _TIME.finditer(window.group(1))) if t), None)
        end = next((t for t in (_clock(m, bare=True) for m in _TIME.finditer(window.group(2))) if t), None)
        if start is None or end is None or start[1] or end[1] or end[0] <= start[0]:
            return ScheduleParse(
                None, question="Between which whole hours? e.g. `every 15 minutes between 8am and 6pm`."
            )
        # Every fire time lies inside the window: minutes stop before the last hour starts.
        last = end[0] - 1 if unit == "m" else end[0]
        hours = f"{start[0]}-{last}"
    # A clock time with an interval ("every 3 hours starting at 1am") sets where the cycle starts.
    start_at = None if window else next(_stated_times(text), None)
    if start_at and (unit == "m" or n == 1):
        shown = f"{start_at[0]:02d}:{start_at[1]:02d}"
        return ScheduleParse(
            None,
            question=f"From {shown} until when? e.g. `every 15 minutes between 8am and 6pm`.",
        )
    days = _week_days(text)
    day_fields = f"? * {_dow_field(days)}" if days else "* * ?"
    if start_at:
        return ScheduleParse(f"0 {start_at[1]} {start_at[0] % n}/{n} {day_fields}")
    if unit == "m":
        minutes = "*" if n == 1 else f"0/{n}"
        return ScheduleParse(f"0 {minutes} {hours} {day_fields}")
    past = re.search(r"\bat\s+(?:minute\s+)?:?(\d{1,2})\b(?!\s*(?:am|pm|:))", text) if n == 1 else None
    minute = int(past.group(1)) if past and int(past.group(1)) < 60 else 0
    if n == 1:
        return ScheduleParse(f"0 {minute} {hours} {day_fields}")
    step = f"{hours}/{n}" if hours != "*" else f"0/{n}"
    return ScheduleParse(f"0 0 {step} {day_fields}")


def _month_days(text: str) -> str | None:
    """The day-of-month field: "1,15", "L" (last day), or None."""
    if re.search(
        rf"\blast\s+day\s+{_OF_MONTH}|\bend\s+of\s+(?:the|each|every)\s+month\b|\bmonth[- ]end\b", text
    ):
        return "L"
    # A bare ordinal ("the 3rd run") is a day only when said as one: "on the 15th" or with a month.
    if not (
        _MONTHLY.search(text)
        or re.search(rf"\bon\s+the\s+(?:\d{{1,2}}(?:st|nd|rd|th)|(?:{_NTH_WORDS})\s+day)\b", text)
    ):
        return None
    days: list[str] = []
    for match in _DAY_OF_MONTH.finditer(text):
        day = int(match.group(1)) if match.group(1) else _NTH[match.group(2).lower()]
        if 1 <= day <= 31:
            days.append(str(day))
    return ",".join(dict.fromkeys(days)) or None


def _nth_weekday(text: str) -> str | None:
    """ "first monday of the month" -> MON#1, "last friday of the month" -> FRIL."""
    match = re.search(
        rf"\b({_NTH_WORDS}|last)\s+({_DAY_WORDS})\b(?=.*\b(?:month|monthly)\b)", text, re.IGNORECASE
    )
    if not match:
        return None
    code = _DAYS[match.group(2)]
    return f"{code}L" if match.group(1) == "last" else f"{code}#{_NTH[match.group(1)]}"


def _calendar(text: str) -> ScheduleParse | None:
    """Schedules at a time of day: daily, on days of the week, on days of the month."""
    times = _times_of_day(text)
    every_days = re.search(r"\bevery\s+(?:other|2nd|second|(\d+)(?:nd|rd|th)?)\s+days?\b", text)
    if every_days and every_days.group(1) != "1":
        return ScheduleParse(
            None,
            question=(
                "Quartz cannot run every few days across month ends. Say which days, e.g. "
                "`on the 1st and 15th at 3am`, or give a cron such as `0 0 3 1/2 * ?` (odd days "
                "of the month, so the 31st and the 1st run back to back)."
            ),
        )
    if re.search(rf"\blast\s+(?:week|business|working)\s*day\s+{_OF_MONTH}", text):
        # Quartz says this as LW, which LakeForge does not schedule.
        return ScheduleParse(
            None,
            question=(
                "LakeForge cannot schedule on the last working day of the month. Say "
                "`last day of the month` or name a day, e.g. `on the 28th at 8pm`."
            ),
        )
    nth = _nth_weekday(text)
    # "last business day of the month" names a day of the month, not the business days.
    month_end = re.search(rf"\blast\s+(?:(?:week|business|working)\s*)?day\s+{_OF_MONTH}", text)
    days = None if (nth or month_end) else _week_days(text)
    month_days = None if (nth or days) else _month_days(text)
    if nth or days:
        cadence = "week"
    elif month_days or _MONTHLY.search(text):
        cadence = "month"
    elif re.search(r"\bweekly\b|\bevery\s+week\b", text):
        return ScheduleParse(None, missing="which day of the week and at what time")
    elif _DAILY.search(text) or (times and re.search(r"\b(?:at|@)\b|\b(?:am|pm)\b", text)) or len(times) > 1:
        cadence = "day"
    else:
        return None
    if _ONE_OFF.search(text) and not _REPEATS.search(text):
        return ScheduleParse(
            None,
            question=(
                "A schedule repeats, and that happens once. Say how often (e.g. `every day at 3am`), "
                "or run it now with `run NAME`."
            ),
        )
    if not times:
        return ScheduleParse(None, missing="at what time")
    # Several times share one hour field: they need the same minute, and "monday at 6am and
    # friday at 5pm" cannot be told apart from every time on every named day.
    paired = len(_day_codes(text)) > 1 and _DAY_TIME_DAY_TIME.search(text)
    if len(times) > 1 and (len({minute for _, minute in times}) > 1 or paired):
        shown = " and ".join(f"{h:02d}:{m:02d}" for h, m in times)
        return ScheduleParse(
            None,
            question=(
                f"One schedule cannot fire at {shown} as asked. Give times on the same minute for "
                "the same days (e.g. `every day at 6am and 6pm`), or one schedule per time."
            ),
        )
    minute = times[0][1]
    hour = ",".join(str(h) for h, _ in times)
    if cadence == "week":
        return ScheduleParse(f"0 {minute} {hour} ? * {nth or _dow_field(days or [])}")
    if cadence == "month":
        if month_days is None:
            return ScheduleParse(None, missing="which day of the month")
        return ScheduleParse(f"0 {minute} {hour} {month_days} * ?")
    return ScheduleParse(f"0 {minute} {hour} * * ?")


@lru_cache(maxsize=2048)
def to_quartz(text: str) -> ScheduleParse:
    """Read a schedule from free text; ``quartz`` is None when none is stated."""
    original = text
    text = text.lower()
    explicit = _QUARTZ.search(original.replace("\u00a0", " "))
    if explicit and re.search(r"[*?]", explicit.group(1)):
        parsed = ScheduleParse(" ".join(explicit.group(1).split()))
    else:
        unix = re.search(r"(?<!\S)((?:[0-9*/,\-]+\s+){4}[0-9*/,\-]+)(?!\S)", original)
        if unix and "*" in unix.group(1) and "*" not in unix.group(1).split()[2::2]:
            # Unix cron fires when the day of month OR the day of week matches; Quartz has no OR.
            parsed = ScheduleParse(
                None,
                question=(
                    "That cron names both a day of the month and a day of the week, which Quartz "
                    "cannot combine. Keep one, e.g. `0 2 1 * *` or `0 2 * * 1`."
                ),
            )
        elif unix and "*" in unix.group(1):
            parsed = ScheduleParse(from_unix_cron(unix.group(1)))
        else:
            parsed = _interval(text) or _calendar(text) or ScheduleParse(None)
    if not parsed.understood:
        return parsed
    zone = read_timezone(original)
    if zone.question and parsed.question is None:
        return ScheduleParse(None, question=zone.question)
    return ScheduleParse(parsed.quartz, zone.zone, parsed.missing, parsed.question)
