"""A chat message prepared for reading: the bot's mention removed, values protected, words
corrected towards the vocabulary and the names the store knows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakeforge.nlu import vocabulary as vocab
from lakeforge.nlu.lookup import Known
from lakeforge.nlu.text import SLUG, Text, closest, correct, split, words_of

MENTION = re.compile(r"^\s*(?:/?lakeforge\b|@lakeforge\b|<@[A-Z0-9]+>)\s*", re.IGNORECASE)


# Words that open another value: a name looked for after a marker is not searched past them.
_STARTS_SLOT = frozenset({"incremental", "full", "watermark", "format", "location", "path", "mode"})


@dataclass
class Message:
    """One message prepared for reading: protected values, corrected words, known names."""

    text: Text
    words: list[str]
    known: Known
    typos: int
    # The chat channel the message came from ("here", "this channel").
    channel: str | None = None
    # The groups the caller may see (None: every group): "the last batch" is the newest of these.
    groups: frozenset[str] | None = None

    def as_typed(self, word: str | None) -> str | None:
        """The word as typed, before typo correction: a new source's name is not a typo of an old one."""
        for corrected, typed in zip(self.words, self.text.words, strict=True):
            if corrected == word:
                return typed
        return word

    @property
    def wordset(self) -> set[str]:
        return set(self.words)

    def has(self, words: frozenset[str] | set[str]) -> bool:
        return not self.wordset.isdisjoint(words)

    def families(self) -> list[str]:
        return [f for f in (vocab.family(w) for w in self.words) if f is not None]

    def families_before(self, offset: int) -> list[str]:
        """The verb families of the words before ``offset`` in ``text.rest``."""
        count = len(words_of(self.text.rest[:offset]))
        return [f for f in (vocab.family(w) for w in self.words[:count]) if f is not None]

    def after(self, markers: frozenset[str] | set[str], *, skip: frozenset[str] = vocab.FILLER) -> str | None:
        """The first name-like word after any of ``markers`` ("group sales" -> sales)."""
        for index, word in enumerate(self.words):
            if word in markers:
                for follower in self.words[index + 1 : index + 4]:
                    if follower in _STARTS_SLOT:
                        break  # "finance group, incremental on updated_at": another value begins
                    if follower in skip and follower not in self.known.names:
                        continue
                    if self.is_name(follower):
                        return follower
                    break
        return None

    def before(self, markers: frozenset[str] | set[str]) -> str | None:
        """The name-like word right before a marker ("the sales group" -> sales)."""
        for index, word in enumerate(self.words[1:], start=1):
            if word in markers and self.is_name(self.words[index - 1]):
                return self.words[index - 1]
        return None

    def marked(self, markers: frozenset[str] | set[str]) -> str | None:
        """The name a marker points at, after it or before it ("group sales", "the sales group").

        A name the store knows wins over an unknown word on the other side: in "the sales group?
        files land in ..." the group is sales, not "land".
        """
        found = [self.after(markers), self.before(markers)]
        return next((w for w in found if w in self.known.names), None) or next((w for w in found if w), None)

    def is_name(self, word: str) -> bool:
        if word in self.known.names:
            return True
        return bool(SLUG.match(word)) and word not in vocab.NOT_A_NAME and not word.isdigit()

    def names(self) -> list[str]:
        return [w for w in self.words if self.is_name(w)]


def prepare(raw: str, known: Known) -> Message:
    text = split(MENTION.sub("", raw))
    words: list[str] = []
    typos = 0
    names = known.names
    for word in text.words:
        if word in names:
            words.append(word)
            continue
        # Ordinary words are not typos ("called" must not become "cancelled").
        fixed = word if word in vocab.FILLER else correct(word, vocab.KEYWORDS)
        if fixed == word and names and len(word) >= 4 and not any(c.isdigit() for c in word):
            # A typo in a known name ("ordres") reads as the name. A typo does not add or drop an
            # underscore part or a digit, so customer_id is not customers and orders2 not orders.
            parts = word.count("_")
            fixed = closest(word, {n for n in names if n.count("_") == parts}) or word
        typos += fixed != word
        words.append(fixed)
    return Message(text=text, words=words, known=known, typos=typos)
