"""Messages that mention a command verb without asking for that command.

"don't run sales", "is sales paused?", "cancel the sales run" contain "run" or "pause", but
proposing run_now or pause_schedule for them would be the opposite of what was meant. These
checks run before the verb decides the intent (a cancel is ``cancel_run``: ``asks_to_cancel``).
They read the lower-cased text with quoted values blanked out (``Text.rest``), so a condition or
path never triggers them.

>>> refusal("dont run sales tonight") is not None
True
>>> is_question("is sales paused?")
True
>>> is_question("have finance run at 6:45am every weekday")
False
"""

from __future__ import annotations

import re

from lakeforge.nlu import vocabulary as vocab

# Verbs that change something; a negated one is never carried out.
_CHANGES = (
    vocab.VERBS["run"]
    | vocab.VERBS["rerun"]
    | vocab.VERBS["pause"]
    | vocab.VERBS["resume"]
    | vocab.VERBS["remove"]
    | vocab.VERBS["register"]
    | vocab.VERBS["update"]
    | vocab.VERBS["sync"]
    | vocab.VERBS["restore"]
    | vocab.CANCEL_VERBS
    | frozenset({"schedule"})
)
_NEGATED = re.compile(
    r"\b(?:dont|do\s+not|never|no\s+need\s+to|not\s+to|(?:must|should)\s+not|mustnt|shouldnt)\s+(\w+)(?:\s+(\w+))?"
)


def _changes(word: str | None) -> bool:
    """A change verb, also as said of its object: "paused", "removed", "running"."""
    if word is None:
        return False
    stems = {word, word.removesuffix("d"), word.removesuffix("ed"), word.removesuffix("ing")}
    return not stems.isdisjoint(_CHANGES)


_SKIP = re.compile(r"^\s*(?:please\s+)?skip\b.*\bruns?\b")
# "cancel batch 42", "kill the sales run", "stop the running batch": a batch in progress.
_CANCEL = re.compile(
    r"^\s*(?:please\s+)?(?:cancel|abort|kill|terminate|stop)\s+(?:the\s+|this\s+|that\s+)?"
    r"(?:(?:current|running|ongoing|active)\s+)?(?:\w+\s+)?(?:run|batch|job\s+run)\b"
    r"|^\s*(?:please\s+)?(?:cancel|abort|kill|terminate)\s+(?:batch\s+)?#?\d+\b"
)
# Silencing alerts: no command does it, and "turn off ... for sales" must not pause sales.
_SILENCE = re.compile(
    r"\bunsubscribe\b|\b(?:mute|silence|stop|disable|turn\s+off|switch\s+off|no\s+more)\b"
    r"(?:\s+\w+){0,3}?\s+(?:alerts?|notifications?|messages?|pings?)\b"
)
# Asking about a state ("is sales paused?") rather than asking to change it. "can/could/will
# you ..." and "have finance run ..." are requests, so they are not listed.
_QUESTION = re.compile(r"^\s*(?:is|are|was|were|did|does|when|who|why)\b")
# A pause with an end ("until monday", "for 2 days"): no command resumes by itself, and pausing
# without the end would leave the group paused for good.
_PAUSE_UNTIL = re.compile(
    r"\b(?:pause|hold|suspend|stop)\b.*?\b(?:until|till|til)\b(?!\s+(?:further\s+notice|i\s+say|resumed))"
    r"|\b(?:pause|hold|suspend)\b.*?\bfor\s+(?:\d+|a|an|one|two|three|the)\s+"
    r"(?:minutes?|hours?|days?|weeks?|weekend|night)\b"
)
# A single run later: a run starts now, and a schedule repeats.
LATER = re.compile(
    r"\b(?:tonight|tomorrow|later|this\s+(?:afternoon|evening|weekend)|next\s+(?:week|"
    + "|".join(sorted(vocab.DAY_WORDS))
    + r"))\b"
)


def refusal(text: str) -> str | None:
    """The answer for a message that must not become a command, or None."""
    negated = _NEGATED.search(text)
    # The verb follows the negation directly or after one word ("don't ever run", "never auto-pause").
    if negated and (_changes(negated.group(1)) or _changes(negated.group(2))):
        return (
            "I act on what to do, not on what not to do. Say the change you want, e.g. "
            "`pause sales` to stop its schedule or `resume sales` to start it again."
        )
    if _SKIP.search(text):
        return "To skip scheduled runs, `pause` the group now and `resume` it afterwards, e.g. `pause sales`."
    if _PAUSE_UNTIL.search(text):
        return (
            "I can pause a group now, but not until a time: nothing would resume it by itself. Say "
            "`pause GROUP` now and `resume GROUP` when it should run again."
        )
    if _SILENCE.search(text):
        return (
            "I cannot stop or mute alerts from a command: use the Mute 24 h button on an alert message, or "
            "send the group's alerts to another channel (`subscribe GROUP to #channel`)."
        )
    return None


def asks_to_cancel(text: str) -> bool:
    """The message asks to stop a batch in progress ("cancel batch 42", "stop the sales run"),
    not a schedule ("stop sales" pauses it)."""
    return bool(_CANCEL.search(text))


def is_question(text: str) -> bool:
    """The message asks about a state ("is sales paused?", "when does sales run?")."""
    return bool(_QUESTION.search(text))
