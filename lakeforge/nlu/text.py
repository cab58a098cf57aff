"""Text helpers for the rule-based parser: protected spans, words, and typo-tolerant matching."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from lakeforge.suggest import closest as _close_spelling

# Values that must survive normalisation untouched: quoted text, paths and URLs, channel mentions.
# Single quotes are not quoting: they are SQL string literals and apostrophes.
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|`([^`]+)`")
_LOCATION = re.compile(
    r"(?<![\w])((?:[a-z][a-z0-9+.-]*://|dbfs:/|jdbc:)\S+|/(?:Volumes|dbfs|mnt|Workspace|data|tmp|home)/\S+)",
    re.IGNORECASE,
)
_SLACK_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
_HASH_CHANNEL = re.compile(r"(?<![\w#])#([a-z][a-z0-9_-]*)\b", re.IGNORECASE)
# A quoted bare identifier (`orders`, "sales") is a name, typed the way Slack users mark code.
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# "what's", "last night's": the possessive or contraction carries no meaning for the parser and
# must not leave a stray "s" that reads as a name; "don't" becomes "dont".
_POSSESSIVE = re.compile(r"(?<=[a-z0-9_])['’]s\b")
# "when's", "what's", "how's": "is" contracted onto a question word is a verb, not a possessive,
# and "when is the next run" must still read as a question about the schedule.
_IS_CONTRACTED = re.compile(r"\b(what|when|where|who|how|that|there|here)['’]s\b")
_APOSTROPHE = re.compile(r"(?<=[a-z])['’](?=[a-z])")
_WORD = re.compile(r"[a-z0-9_]+(?:[.:/-][a-z0-9_]+)*|[<>=!]=?", re.IGNORECASE)


# Slack escapes &, < and > in message and command text; its own markup (mentions, links) keeps
# literal angle brackets, so unescaping after reading that markup is unambiguous.
_SLACK_LINK = re.compile(r"<((?:https?|mailto|s3|s3a|abfss|gs|dbfs):[^|>\s]+)(?:\|[^>]*)?>", re.IGNORECASE)
_FENCE = re.compile(r"```")
# "<@U0ABC|bob>", "<!here>": who is addressed or notified is not part of the command.
_SLACK_PEOPLE = re.compile(r"<(?:@[UW][A-Z0-9]+|![a-z]+(?:\^[A-Z0-9]+)?)(?:\|[^>]*)?>")


def normalize(raw: str) -> str:
    """Chat text as the user meant it: Slack escapes undone, links unwrapped, smart quotes plain.

    >>> normalize("add rule on orders: amount &gt; 0 and status = ‘open’")
    "add rule on orders: amount > 0 and status = 'open'"
    """
    text = _SLACK_PEOPLE.sub(" ", _SLACK_LINK.sub(r"\1", raw))
    text = _FENCE.sub(" ", text)
    # Phones and Slack turn ' into ‘ ’: in SQL only the plain quote is a string delimiter.
    text = text.replace("\u2018", "'").replace("\u2019", "'")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass
class Text:
    """A message split into protected values and lower-case words for matching."""

    raw: str
    quoted: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    # The text with quoted values and locations blanked out, lower-cased.
    rest: str = ""


def split(raw: str) -> Text:
    """Pull out values the parser must keep verbatim, then lower-case and tokenise the rest."""
    text = Text(raw=raw)
    rest = raw

    def take_quoted(match: re.Match[str]) -> str:
        value = next(group for group in match.groups() if group is not None)
        if _IDENTIFIER.fullmatch(value.strip()):
            return f" {value.strip()} "
        text.quoted.append(value)
        return " "

    def take_channel(match: re.Match[str]) -> str:
        text.channels.append(match.group(1))
        return " "

    def take_location(match: re.Match[str]) -> str:
        text.locations.append(match.group(1).rstrip(".,;)"))
        return " "

    rest = _SLACK_CHANNEL.sub(take_channel, rest)
    rest = _QUOTED.sub(take_quoted, rest)
    rest = _LOCATION.sub(take_location, rest)
    for value in list(text.quoted):
        if _LOCATION.fullmatch(value):
            text.quoted.remove(value)
            text.locations.append(value)

    def take_hash_channel(match: re.Match[str]) -> str:
        text.channels.append("#" + match.group(1).lower())
        return " "

    rest = _HASH_CHANNEL.sub(take_hash_channel, rest)
    rest = _IS_CONTRACTED.sub(r"\1 is", rest.lower())
    rest = _APOSTROPHE.sub("", _POSSESSIVE.sub("", rest))
    # "re-run", "un-pause", "de-register": one word, as people also type them.
    text.rest = re.sub(r"\b(re|un|de)-(?=[a-z])", r"\1", rest)
    text.words = words_of(text.rest)
    return text


def words_of(rest: str) -> list[str]:
    """The words of lower-cased text, as the parser matches them."""
    return [w.strip(".") for w in _WORD.findall(rest)]


_FUZZY_MIN_LEN = 4


@lru_cache(maxsize=8192)
def correct(word: str, keywords: frozenset[str]) -> str:
    """The keyword a typo most likely meant, or the word itself ("shedule" -> "schedule")."""
    if word in keywords or len(word) < _FUZZY_MIN_LEN or not word.isalpha():
        return word
    letters = sorted(word)
    # Swapped letters ("resmue", "hlep") first; then close spellings that start the same way, since
    # first letters are rarely mistyped and matching them avoids "should" being read as "hold".
    for keyword in keywords:
        if keyword[0] == word[0] and len(keyword) == len(word) and sorted(keyword) == letters:
            return keyword
    candidates = [k for k in keywords if k[0] == word[0]]
    return _close_spelling(word, candidates, cutoff=0.8) or word


def closest(word: str, choices: frozenset[str] | set[str], cutoff: float = 0.8) -> str | None:
    """The known name closest to ``word`` (exact first), or None."""
    if word in choices:
        return word
    if len(word) < 4:
        return None
    return _closest(word, frozenset(choices), cutoff)


@lru_cache(maxsize=8192)
def _closest(word: str, choices: frozenset[str], cutoff: float) -> str | None:
    return _close_spelling(word, choices, cutoff)


SLUG = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def slugify(value: str) -> str:
    """A LakeForge name from free text: lower case, words joined by underscores."""
    slug = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
    if slug and not slug[0].isalpha():
        slug = "r_" + slug
    return slug[:63]
