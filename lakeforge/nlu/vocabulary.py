"""The words the rule-based parser understands, grouped by what they mean.

Synonyms live here as data so that adding one ("decommission" = remove) is a one-word change.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Verb families: the first family found in a message (in word order) decides most intents.
VERBS: dict[str, frozenset[str]] = {
    "help": _words("help commands usage"),
    "register": _words("register onboard create add new introduce ingest"),
    "update": _words("update change modify edit alter set move point switch repoint make"),
    "remove": _words("remove delete drop deregister unregister decommission retire rm del kill rid"),
    "pause": _words("pause suspend stop disable halt hold freeze"),
    "resume": _words("resume unpause enable continue reactivate unfreeze restart reenable"),
    "run": _words("run trigger kick start launch execute load refresh fire process"),
    "rerun": _words("rerun retry replay redo reprocess"),
    "sync": _words("sync reconcile deploy push resync synchronize synchronise apply"),
    "show": _words("show describe details detail info display inspect view see tell what config"),
    "list": _words("list runs ran"),
    "status": _words("status state health how doing"),
    "history": _words("history revisions changelog audit"),
    "restore": _words("restore revert rollback undo"),
    "subscribe": _words("subscribe notify alert alerts route"),
}
# Stopping a batch in progress ("cancel batch 42", "kill the orders run"); read by the guards,
# not a verb family: "kill" also removes and "stop" also pauses when no run or batch is named.
CANCEL_VERBS = _words("cancel abort kill terminate stop")
SOURCE_NOUNS = _words("source sources dataset datasets feed feeds table tables")
GROUP_NOUNS = _words("group groups job jobs pipeline pipelines")
RULE_NOUNS = _words(
    "rule rules check checks expectation expectations quality dq constraint constraints validation"
)
SCHEDULE_NOUNS = _words("schedule schedules cron scheduling scheduled")
BATCH_NOUNS = _words("batch batches")
FORMATS = _words("csv json parquet delta jdbc rest")
FORMAT_ALIASES = {
    "tsv": "csv",
    "jsonl": "json",
    "ndjson": "json",
    "pq": "parquet",
    "api": "rest",
    "http": "rest",
}
ACTIONS = {
    "warn": "warn",
    "warning": "warn",
    "flag": "warn",
    "log": "warn",
    "drop": "drop",
    "discard": "drop",
    "filter": "drop",
    "skip": "drop",
    "fail": "fail",
    "abort": "fail",
    "stop": "fail",
    "block": "fail",
    "quarantine": "quarantine",
    "isolate": "quarantine",
    "reject": "drop",
    "exclude": "drop",
}
STATUSES = {
    "failed": "failed",
    "failures": "failed",
    "failing": "failed",
    "errors": "failed",
    "broken": "failed",
    "succeeded": "succeeded",
    "successful": "succeeded",
    "ok": "succeeded",
    "running": "running",
    "queued": "queued",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "skipped": "skipped",
}

# Words that are never a source, group or rule name.
FILLER = _words(
    """a an the to for of on in at from with and or but please pls now it its my our me can you could
    would will i we want need needs lets let us is are be been should that this these those all again
    called named into by using via every each new up off data latest last recent previous id number
    today tonight yesterday night nights morning evening hi hey bot lakeforge thanks thank just quick
    do does did done so then also any some one two there here which whose when where why about
    as under over same another other more most set make sure ensure must only not no null is not
    have has had having go going mode file files path location format rows row column columns value
    values channel channels slack message messages ran happened what's whats show me everything
    named name called into onto than too very time times minute minutes hour hours day days week
    weeks month months daily hourly weekly monthly weekdays weekends weekday weekend midnight noon
    am pm utc gmt o'clock oclock immediately asap right away straight kindly full incremental
    watermark action revision version versions v back dont doesnt didnt cant wont isnt arent who whom
    u ur plz thx cheers someone somebody anyone anybody folks guys team"""
)
DAY_WORDS = _words(
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thurs fri sat sun "
    "mondays tuesdays wednesdays thursdays fridays saturdays sundays"
)

ALL_VERBS: frozenset[str] = frozenset().union(*VERBS.values())
NOT_A_NAME: frozenset[str] = (
    ALL_VERBS
    | SOURCE_NOUNS
    | GROUP_NOUNS
    | RULE_NOUNS
    | SCHEDULE_NOUNS
    | BATCH_NOUNS
    | FORMATS
    | FILLER
    | DAY_WORDS
    | frozenset(ACTIONS)
    | frozenset(STATUSES)
    | frozenset(FORMAT_ALIASES)
)
# Typos are corrected towards these (long words only, see text.correct).
KEYWORDS: frozenset[str] = frozenset(
    w
    for w in (
        ALL_VERBS
        | SOURCE_NOUNS
        | GROUP_NOUNS
        | RULE_NOUNS
        | SCHEDULE_NOUNS
        | BATCH_NOUNS
        | FORMATS
        | frozenset(ACTIONS)
        | frozenset(STATUSES)
        | DAY_WORDS
        | _words(
            "incremental watermark every daily hourly weekly monthly weekdays weekends "
            "midnight channel revision version again location format"
        )
    )
    if len(w) >= 3
)


# First family wins for words listed twice, in the order of VERBS.
_FAMILY: dict[str, str] = {}
for _name, _members in VERBS.items():
    for _word in _members:
        _FAMILY.setdefault(_word, _name)


def family(word: str) -> str | None:
    """The verb family of a word, or None."""
    return _FAMILY.get(word)
