"""Quartz cron expressions, as Databricks job schedules use them.

Quartz has 6 or 7 fields: ``second minute hour day-of-month month day-of-week [year]``,
with days of the week numbered 1=SUN … 7=SAT (croniter counts 0=SUN … 6=SAT, so numbers are
converted here; ``6#3`` is the third *Friday* in Quartz).

>>> validate("0 0 2 * * ?", "Europe/Paris")
>>> describe("0 30 6 ? * MON-FRI")
'At 06:30, Monday through Friday'
>>> next_fire_times("0 0 2 * * ?", "UTC", 2, after=datetime(2026, 1, 1, tzinfo=UTC))
[datetime(2026, 1, 1, 2, 0, tzinfo=...UTC), datetime(2026, 1, 2, 2, 0, tzinfo=...UTC)]

Daylight saving time: a wall-clock time that does not exist that day (spring forward) is
skipped, and a time that happens twice (fall back) fires once, at its first occurrence.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cron_descriptor import ExpressionDescriptor, Options
from croniter import croniter

from lakeforge import suggest
from lakeforge.errors import LakeForgeError

_DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_FIELD_NAMES = ["second", "minute", "hour", "day-of-month", "month", "day-of-week", "year"]


class CronError(LakeForgeError):
    """A schedule expression or time zone that Databricks would not accept."""


def _fail(expr: str, message: str, fix: str) -> CronError:
    return CronError(f"cron {expr!r} {message}", field="quartz_cron", fix=fix)


def _suggest_from_unix(fields: list[str]) -> str:
    """The Quartz spelling of a 5-field Unix cron: seconds first, one of the day fields as '?'."""
    minute, hour, dom, month, dow = fields
    if dow == "*" or dow == "?":
        dow_q, dom_q = "?", dom if dom != "?" else "*"
    else:
        dom_q = "?" if dom in ("*", "?") else dom
        dow_q = _unix_dow_to_quartz(dow)
        if dom_q != "?":
            dow_q = "?"  # Quartz allows only one of the two; keep the day of month
    return f"0 {minute} {hour} {dom_q} {month} {dow_q}"


def _unix_dow_to_quartz(field: str) -> str:
    def one(token: str) -> str:
        return str(int(token) % 7 + 1) if token.isdigit() else token

    parts = []
    for part in field.split(","):
        if "-" in part and "/" not in part:
            low, high = part.split("-", 1)
            parts.append(f"{one(low)}-{one(high)}")
        else:
            parts.append(one(part))
    return ",".join(parts)


def _quartz_day_to_croniter(token: str, expr: str) -> str:
    """One day-of-week value: a Quartz number (1-7) or name, to croniter's 0-6."""
    upper = token.upper()
    if upper in _DAY_NAMES:
        return str(_DAY_NAMES.index(upper))
    if upper.isdigit() and 1 <= int(upper) <= 7:
        return str(int(upper) - 1)
    raise _fail(
        expr,
        f"has a day-of-week value {token!r} outside 1-7 (1=SUN … 7=SAT) or SUN-SAT",
        "Use numbers 1-7 (Quartz counts Sunday as 1) or names like MON-FRI.",
    )


def _convert_day_of_week(field: str, expr: str) -> str:
    if field in ("?", "*"):
        return field
    converted = []
    for part in field.split(","):
        step = ""
        if "/" in part:
            part, step_value = part.split("/", 1)
            step = f"/{step_value}"
        if "#" in part:
            day, nth = part.split("#", 1)
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise _fail(expr, f"has {part!r}: the week number after # must be 1-5", "Write e.g. 6#3.")
            converted.append(f"{_quartz_day_to_croniter(day, expr)}#{nth}")
        elif part.upper().endswith("L") and len(part) > 1:
            converted.append(f"L{_quartz_day_to_croniter(part[:-1], expr)}")
        elif part.upper() == "L":
            converted.append("6")  # a bare L in day-of-week means Saturday in Quartz
        elif "-" in part:
            low, high = part.split("-", 1)
            converted.append(
                f"{_quartz_day_to_croniter(low, expr)}-{_quartz_day_to_croniter(high, expr)}{step}"
            )
            continue
        elif part == "*":
            converted.append("*")
        else:
            converted.append(_quartz_day_to_croniter(part, expr))
        converted[-1] += step
    return ",".join(converted)


# The largest increment Quartz takes in each field ("0/90" minutes is refused when the job is
# saved in Databricks), so such a schedule is refused when it is written, not at sync.
_MAX_INCREMENT = (59, 59, 23, 31, 12, 7)


def _check_increments(fields: list[str], expr: str) -> None:
    for name, field, largest in zip(_FIELD_NAMES, fields, _MAX_INCREMENT, strict=False):
        for part in field.split(","):
            step = part.partition("/")[2]
            if step.isdigit() and not 1 <= int(step) <= largest:
                raise _fail(
                    expr,
                    f"has the increment /{step} in the {name} field; Quartz allows 1-{largest} there",
                    "Use a smaller increment, or list the times (e.g. 0 0 0,6,12,18 * * ? for every"
                    " 6 hours); an interval that does not divide the field cannot be one expression.",
                )


def _to_croniter(expr: str) -> str:
    """Check the Quartz shape and return the same schedule in croniter's dialect."""
    if not isinstance(expr, str) or not expr.strip():
        raise CronError(
            "is empty", field="quartz_cron", fix="Write a Quartz expression such as '0 0 2 * * ?'."
        )
    fields = expr.split()
    if len(fields) == 5:
        raise _fail(
            expr,
            f"has 5 fields; Quartz needs 6 or 7: try {_suggest_from_unix(fields)!r}",
            "Quartz puts seconds first, and '?' in one of day-of-month or day-of-week.",
        )
    if len(fields) not in (6, 7):
        raise _fail(
            expr,
            f"has {len(fields)} fields; Quartz needs 6 or 7",
            "Use 'second minute hour day-of-month month day-of-week [year]', e.g. '0 0 2 * * ?'.",
        )
    _check_increments(fields, expr)
    dom, dow = fields[3], fields[5]
    if re.search(r"LW|L-\d", dom.upper()):
        raise _fail(expr, f"uses {dom!r}, which LakeForge cannot schedule", "Use L (last day) or e.g. 15W.")
    converted = [*fields]
    converted[5] = _convert_day_of_week(dow, expr)
    return " ".join(converted)


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fix = "Use an IANA name such as UTC, Europe/Paris or America/New_York."
        raise CronError(
            f"unknown time zone {timezone!r}",
            field="timezone",
            fix=suggest.did_you_mean(timezone, available_timezones(), fix),  # Europe/Pariss
        ) from None


def check_fires_again(expr: str, timezone: str = "UTC", after: datetime | None = None) -> None:
    """Raise ``CronError`` when ``expr`` (valid) has no fire time after ``after`` (default: now).

    Only a year field can do that (``0 0 2 * * ? 2020``): such a schedule would be accepted and
    never run. Apart from ``validate`` because it depends on the day it is asked, and schedules
    stored already must keep compiling; commands that set a schedule call both.
    """
    if len(expr.split()) == 7 and not next_fire_times(expr, timezone, 1, after=after):
        day = f"{(after or datetime.now(UTC)):%Y-%m-%d}"
        raise _fail(
            expr,
            f"never fires after {day}: its year field ({expr.split()[6]}) is past",
            "Use a year still to come, or leave the year field out to fire every year.",
        )


@functools.lru_cache(maxsize=1024)
def validate(expr: str, timezone: str = "UTC") -> None:
    """Raise ``CronError`` (naming the field and a fix) unless ``expr`` is a Quartz schedule that fires."""
    _zone(timezone)
    dialect = _to_croniter(expr)
    try:
        # Validation alone misses e.g. '31 2' (Feb 31st): ask for a fire time too.
        croniter(dialect, datetime(2000, 1, 1), second_at_beginning=True).get_next(datetime)
    except Exception as error:
        reason = str(error).split("\n")[0]
        raise _fail(
            expr,
            f"is not a valid Quartz expression ({reason})",
            "Check each field: 'second minute hour day-of-month month day-of-week [year]'.",
        ) from None
    fields = expr.split()
    if (fields[3] == "?") == (fields[5] == "?"):
        if fields[3] == "?" and fields[5] == "?":
            # Both days left open: every day of the month, any weekday.
            suggestion = [*fields[:3], "*", fields[4], "?", *fields[6:]]
        elif fields[5] == "*":
            suggestion = [*fields[:5], "?", *fields[6:]]
        else:
            suggestion = [*fields[:3], "?", *fields[4:]]
        raise _fail(
            expr,
            f"must have '?' in exactly one of day-of-month and day-of-week: try {' '.join(suggestion)!r}",
            "Quartz cannot combine a day of month with a day of week.",
        )


def describe(expr: str) -> str:
    """The schedule in plain English, e.g. 'At 02:00' or 'At 02:30, on the third Friday of the month'."""
    _to_croniter(expr)
    options = Options()
    options.day_of_week_start_index_zero = False  # Quartz: 1=SUN
    options.use_24hour_time_format = True
    try:
        return str(ExpressionDescriptor(expr, options).get_description())
    except Exception:  # an expression Quartz accepts but the describer does not know: show it as is
        return f"Quartz schedule {expr}"


def next_fire_times(expr: str, timezone: str, n: int, after: datetime | None = None) -> list[datetime]:
    """The next ``n`` fire times after ``after`` (default: now), aware datetimes in ``timezone``."""
    validate(expr, timezone)
    zone = _zone(timezone)
    start = (after or datetime.now(UTC)).astimezone(zone)
    # Iterate in wall-clock time, then place each time in the zone: that is what makes the
    # DST rules above hold (croniter alone fires twice in the repeated hour).
    walker = croniter(_to_croniter(expr), start.replace(tzinfo=None), second_at_beginning=True)
    times: list[datetime] = []
    guard = 0
    while len(times) < n and guard < n * 10 + 100:
        guard += 1
        try:
            wall = walker.get_next(datetime)
        except Exception:
            break
        local = wall.replace(tzinfo=zone, fold=0)
        round_trip = local.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != wall:
            continue  # does not exist today (spring forward)
        if local <= start:
            continue
        times.append(local)
    return times


def fires_between(expr: str, timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time in (start, end]; handy for schedulers catching up."""
    times: list[datetime] = []
    cursor = start
    while True:
        batch = next_fire_times(expr, timezone, 50, after=cursor)
        for moment in batch:
            if moment > end:
                return times
            times.append(moment)
        if len(batch) < 50:
            return times
        cursor = batch[-1] + timedelta(seconds=0)
