"""Time zones as people type them: IANA names, city names ("Berlin time") and abbreviations.

A schedule fires in its time zone, so a zone that was named but not understood must become a
question: read as UTC, "6am Berlin time" would fire an hour or two early.

>>> read_timezone("every day at 6am Berlin time").zone
'Europe/Berlin'
>>> read_timezone("at 9am PST").zone
'America/Los_Angeles'
>>> read_timezone("at 6am IST").question is not None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from zoneinfo import available_timezones

_IANA = re.compile(r"\b([A-Za-z]+/[A-Za-z_]+(?:/[A-Za-z_]+)?|UTC|GMT)\b")
# Abbreviations that name one zone in practice. Summer and winter forms map to the same zone,
# whose daylight saving rules then apply (Databricks schedules follow them too).
_ABBREVIATIONS = {
    "cet": "CET",
    "cest": "CET",
    "eet": "EET",
    "eest": "EET",
    "bst": "Europe/London",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "est": "America/New_York",
    "edt": "America/New_York",
    "cdt": "America/Chicago",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "jst": "Asia/Tokyo",
    "sgt": "Asia/Singapore",
    "aest": "Australia/Sydney",
}
# Abbreviations used for more than one zone: asked about, with the usual candidates.
_AMBIGUOUS = {
    "ist": "Asia/Kolkata or Europe/Dublin",
    "cst": "America/Chicago or Asia/Shanghai",
}
# Regions said with "time" ("pacific time"); alone they are ordinary words or group names.
_REGIONS = {
    "pacific": "America/Los_Angeles",
    "mountain": "America/Denver",
    "eastern": "America/New_York",
}
_AREAS = ("Europe", "America", "Asia", "Africa", "Australia", "Pacific", "Atlantic", "Indian")
_CLOCK = r"(?:\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)|\d{1,2}:\d{2}|noon|midnight|midday)"

_CITY_PHRASE = re.compile(r"\b(?:in\s+)?([a-z]+(?:\s[a-z]+)?)\s+time\b|\bin\s+([a-z]+(?:\s[a-z]+)?)\b")

# "Berlin time", "in New York", "6am Paris": one or two words that may name a zone's city. Each
# form is searched on its own, so that one cannot hide another by overlapping it.
_CITY_PHRASES = [
    re.compile(r"\b([a-z]+(?:\s[a-z]+)?)\s+time\b"),
    re.compile(r"\bin\s+([a-z]+(?:\s[a-z]+)?)\b"),
    re.compile(rf"{_CLOCK}\s+([a-z]+(?:\s[a-z]+)?)"),
]


@dataclass(frozen=True)
class ZoneReading:
    zone: str | None = None
    # Set when a zone was named but cannot be told for sure.
    question: str | None = None


@cache
def _cities() -> dict[str, str]:
    """City part of each IANA zone ("new york" -> America/New_York)."""
    cities: dict[str, str] = {}
    for name in sorted(available_timezones()):
        if name.split("/")[0] in _AREAS and "/" in name:
            cities.setdefault(name.rsplit("/", 1)[1].replace("_", " ").lower(), name)
    return cities


@cache
def _iana() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def _ask(named: str, candidates: str = "Europe/Berlin or America/New_York") -> ZoneReading:
    return ZoneReading(
        question=(
            f"Which time zone is {named!r}? Name it as an IANA zone, e.g. {candidates} "
            "(without one the schedule runs in UTC)."
        )
    )


def read_timezone(text: str) -> ZoneReading:
    """The time zone a schedule phrase names, or a question when it names one unclearly."""
    for match in _IANA.finditer(text):
        name = _iana().get(match.group(1).lower())
        if name:
            return ZoneReading(zone=name)
    lowered = text.lower()
    for word in re.findall(r"[a-z]+", lowered):
        if word in _ABBREVIATIONS:
            return ZoneReading(zone=_ABBREVIATIONS[word])
        if word in _AMBIGUOUS:
            return _ask(word.upper() if len(word) <= 4 else word, _AMBIGUOUS[word])
    region = re.search(r"\b(pacific|mountain|eastern|central)\s+time\b", lowered)
    if region:
        if region.group(1) == "central":
            return _ask("central time", "America/Chicago or Europe/Berlin")
        return ZoneReading(zone=_REGIONS[region.group(1)])
    cities = _cities()
    for pattern in _CITY_PHRASES:
        for match in pattern.finditer(lowered):
            phrase = match.group(1)
            for candidate in (phrase, *phrase.split()):
                if candidate in cities:
                    return ZoneReading(zone=cities[candidate])
    # A word before "time" right after a clock time ("6am Munich time", "02:30 local time") names
    # a zone we do not know: ask rather than run at the UTC hour.
    unknown = re.search(rf"{_CLOCK}\s+([a-z]+)\s+time\b|\b(local)\s+time\b", lowered)
    if unknown:
        return _ask(unknown.group(1) or unknown.group(2))
    return ZoneReading()
