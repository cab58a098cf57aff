"""Quartz schedules: validation, English descriptions and fire times with known dates (DST-aware)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from lakeforge.orchestration import quartz
from lakeforge.orchestration.quartz import CronError

PARIS = ZoneInfo("Europe/Paris")


def test_five_field_unix_cron_is_refused_with_the_quartz_spelling():
    with pytest.raises(CronError) as caught:
        quartz.validate("0 2 * * *", "UTC")
    assert caught.value.field == "quartz_cron"
    assert "cron '0 2 * * *' has 5 fields; Quartz needs 6 or 7: try '0 0 2 * * ?'" in str(caught.value)


def test_five_field_cron_with_weekdays_suggests_quartz_day_numbers():
    # Unix 1-5 is MON-FRI; in Quartz that is 2-6.
    with pytest.raises(CronError, match=r"try '0 30 6 \? \* 2-6'"):
        quartz.validate("30 6 * * 1-5", "UTC")


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("0 0 2 * * *", "exactly one of day-of-month and day-of-week"),
        ("0 0 2 ? * 9", "outside 1-7"),
        ("0 0 2 31 2 ?", "not a valid Quartz expression"),
        ("0 0 2 LW * ?", "cannot schedule"),
        ("0 0/90 * * * ?", "increment /90 in the minute field; Quartz allows 1-59"),
        ("0 0 0/25 * * ?", "increment /25 in the hour field"),
        ("0/0 * * * * ?", "increment /0 in the second field"),
        ("0 0 2", "has 3 fields"),
        ("", "is empty"),
    ],
)
def test_bad_expressions_are_refused_with_a_reason(expr, fragment):
    with pytest.raises(CronError, match=fragment):
        quartz.validate(expr, "UTC")


def test_unknown_time_zone_names_the_timezone_field():
    with pytest.raises(CronError) as caught:
        quartz.validate("0 0 2 * * ?", "Mars/Olympus")
    assert caught.value.field == "timezone"


def test_describe_counts_days_the_quartz_way():
    assert quartz.describe("0 0 2 * * ?") == "At 02:00"
    assert quartz.describe("0 30 2 ? * 6#3") == "At 02:30, on the third Friday of the month"
    assert quartz.describe("0 30 6 ? * MON-FRI") == "At 06:30, Monday through Friday"


def test_nth_weekday_is_converted_from_quartz_numbering():
    # Quartz 6#3 = third Friday. November 2026: Fridays are 6, 13, 20, 27.
    times = quartz.next_fire_times(
        "0 30 2 ? * 6#3", "Europe/Paris", 2, after=datetime(2026, 11, 1, tzinfo=UTC)
    )
    assert times == [datetime(2026, 11, 20, 2, 30, tzinfo=PARIS), datetime(2026, 12, 18, 2, 30, tzinfo=PARIS)]


def test_last_weekday_of_month_and_numeric_ranges():
    # 6L: last Friday. 2-6: Monday to Friday.
    last_fridays = quartz.next_fire_times("0 0 9 ? * 6L", "UTC", 2, after=datetime(2026, 11, 1, tzinfo=UTC))
    assert [t.date().isoformat() for t in last_fridays] == ["2026-11-27", "2026-12-25"]
    weekdays = quartz.next_fire_times("0 0 9 ? * 2-6", "UTC", 3, after=datetime(2026, 11, 27, 12, tzinfo=UTC))
    assert [t.date().isoformat() for t in weekdays] == ["2026-11-30", "2026-12-01", "2026-12-02"]
    sundays = quartz.next_fire_times("0 0 9 ? * 1", "UTC", 1, after=datetime(2026, 11, 26, tzinfo=UTC))
    assert sundays[0].date().isoformat() == "2026-11-29"


def test_day_of_month_specials_and_year_field():
    assert (
        quartz.next_fire_times("0 0 2 L * ?", "UTC", 1, after=datetime(2026, 2, 1, tzinfo=UTC))[0].day == 28
    )
    # 15W in November 2026: the 15th is a Sunday, so Monday the 16th.
    assert (
        quartz.next_fire_times("0 0 9 15W * ?", "UTC", 1, after=datetime(2026, 11, 1, tzinfo=UTC))[0].day
        == 16
    )
    assert quartz.next_fire_times("0 0 2 * * ? 2020", "UTC", 3) == []


def test_spring_forward_skips_the_missing_hour():
    # 2026-03-29 has no 02:30 in Paris: that day is skipped, then daily again.
    times = quartz.next_fire_times(
        "0 30 2 * * ?", "Europe/Paris", 3, after=datetime(2026, 3, 27, 12, tzinfo=UTC)
    )
    assert [t.isoformat() for t in times] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_fall_back_fires_once_in_the_repeated_hour():
    times = quartz.next_fire_times(
        "0 30 2 * * ?", "Europe/Paris", 3, after=datetime(2026, 10, 24, 12, tzinfo=UTC)
    )
    assert [t.isoformat() for t in times] == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]


def test_every_fifteen_minutes_in_a_time_zone():
    times = quartz.next_fire_times(
        "0 0/15 * * * ?", "America/New_York", 3, after=datetime(2026, 11, 26, 14, 7, tzinfo=UTC)
    )
    assert [t.astimezone(UTC).strftime("%H:%M") for t in times] == ["14:15", "14:30", "14:45"]


def test_a_schedule_whose_years_are_past_is_refused_when_it_is_set():
    after = datetime(2026, 11, 27, tzinfo=UTC)
    with pytest.raises(CronError) as caught:
        quartz.check_fires_again("0 0 2 * * ? 2020-2025", "UTC", after=after)
    assert caught.value.field == "quartz_cron"
    assert "never fires after 2026-11-27: its year field (2020-2025) is past" in caught.value.message
    quartz.validate("0 0 2 * * ? 2020-2025", "UTC")  # still a valid expression: stored ones compile
    quartz.check_fires_again("0 0 2 * * ? 2026-2030", "UTC", after=after)
    quartz.check_fires_again("0 0 2 * * ?", "UTC", after=after)

    from pydantic import ValidationError

    from lakeforge.commands.intents import field_errors, parse_intent

    with pytest.raises(ValidationError) as refused:  # 2020 is past whenever this runs
        parse_intent({"kind": "set_schedule", "group": "retail", "quartz_cron": "0 0 2 * * ? 2020"})
    [error] = field_errors(refused.value)
    assert error.field == "intent.quartz_cron" and "year field (2020) is past" in error.message


def test_a_misspelled_time_zone_gets_the_closest_one():
    with pytest.raises(CronError) as caught:
        quartz.validate("0 0 2 * * ?", "Europe/Pariss")
    assert caught.value.field == "timezone"
    assert (caught.value.fix or "").startswith("Did you mean 'Europe/Paris'? Use an IANA name")
