"""The rule-based parser against a corpus of varied phrasings, measured per intent and overall.

Held-out accuracy (``tests/chat/heldout.py``, ``tests/chat/heldout3.py``): HELD_OUT_3, written
as data engineers type in a team channel and never tuned against, was 26/35 (74.3%) when it was
written, before the parser changes made against ``TUNING`` (``tests/chat/tuning.py``), and 35/35
after them. Its expectations were not changed; the changes are general (contractions, chat
shorthand, JDBC options, rules stated as prohibitions, ...), but they were chosen by looking at
its misses, so 74.3% remains the honest figure for wording nobody has looked at. HELD_OUT_2 went
from 24/25 to 25/25 on the same changes; the tuned corpus stayed at 185/185. HELD_OUT_4
(``tests/chat/heldout4.py``), written after those changes and never tuned against, measured
22/27 (81.5%) the one time it was run before any further change.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from lakeforge.nlu import ParseResult, parse_text, periods
from lakeforge.nlu.rules import parse_rules
from tests.chat.phrasings import EXACT, KNOWN, PHRASINGS
from tests.chat.tuning import TUNING

OVERALL_THRESHOLD = 0.9
PER_INTENT_THRESHOLD = 0.75


def _correct(text: str, kind: str | None, slots: dict) -> bool:
    return _correct_result(parse_rules(text, known=KNOWN), kind, slots)


def _correct_result(result: ParseResult, kind: str | None, slots: dict) -> bool:
    if kind is None:
        # A case may name what the question must ask for ("Which rule"), not just that one is asked.
        asked = slots.get("clarify", "")
        return result.intent is None and bool(result.clarify) and asked in (result.clarify or "")
    if result.intent is None or result.intent["kind"] != kind:
        return False
    return all(result.intent.get(key) == value for key, value in slots.items())


def test_corpus_is_large_and_covers_every_intent() -> None:
    assert len(PHRASINGS) >= 150
    kinds = {kind for _, kind, _ in PHRASINGS if kind}
    assert kinds >= {
        "register_source",
        "update_source",
        "remove_source",
        "add_dq_rule",
        "remove_dq_rule",
        "set_schedule",
        "pause_schedule",
        "resume_schedule",
        "run_now",
        "rerun_batch",
        "sync_jobs",
        "subscribe_channel",
        "show_source",
        "list_runs",
        "show_run",
        "show_history",
        "restore_revision",
        "help",
    }


def test_accuracy_per_intent_and_overall() -> None:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []
    for text, kind, slots in PHRASINGS:
        bucket = kind or "clarify"
        ok = _correct(text, kind, slots)
        totals[bucket][0] += ok
        totals[bucket][1] += 1
        if not ok:
            result = parse_rules(text, known=KNOWN)
            misses.append(f"{text!r}: expected {kind} {slots}, got {result.intent or result.clarify}")
    right = sum(t[0] for t in totals.values())
    total = sum(t[1] for t in totals.values())
    print("\nrule parser accuracy per intent:")
    for bucket, (ok, n) in sorted(totals.items()):
        print(f"  {bucket:<18} {ok:>3}/{n:<3} {ok / n:6.1%}")
    print(f"  {'overall':<18} {right:>3}/{total:<3} {right / total:6.1%}")
    print("misses:\n  " + "\n  ".join(misses))
    assert right / total >= OVERALL_THRESHOLD
    for bucket, (ok, n) in totals.items():
        assert ok / n >= PER_INTENT_THRESHOLD, f"{bucket}: {ok}/{n}"


def test_missing_slot_asks_instead_of_guessing() -> None:
    result = parse_rules("register source shipments csv in group sales", known=KNOWN)
    assert result.intent is None
    assert "Where does shipments read from" in (result.clarify or "")
    assert result.intent_kind == "register_source"
    assert result.partial["name"] == "shipments"


def test_every_day_at_2am_is_quartz() -> None:
    result = parse_rules("schedule sales every day at 2am", known=KNOWN)
    assert result.intent == {"kind": "set_schedule", "group": "sales", "quartz_cron": "0 0 2 * * ?"}


def test_last_failed_batch_is_looked_up_in_the_run_log(db) -> None:
    with db.connection() as conn:
        group_id = conn.execute(
            "INSERT INTO lakeforge.source_group (name, compute_profile_id) VALUES ('sales', 1) RETURNING id"
        ).fetchone()["id"]
        conn.execute(
            "INSERT INTO lakeforge.source (name, source_group_id, format, location) "
            "VALUES ('orders', %s, 'csv', '/Volumes/main/raw/orders')",
            (group_id,),
        )
        ids = [
            conn.execute(
                "INSERT INTO lakeforge_log.batch_run (group_name, source_group_id, status) "
                "VALUES ('sales', %s, %s) RETURNING batch_id",
                (group_id, status),
            ).fetchone()["batch_id"]
            for status in ("failed", "failed", "succeeded")
        ]
    result = parse_text("rerun last night's failed orders batch", db=db)
    assert result.intent == {"kind": "rerun_batch", "batch_id": ids[1]}
    result = parse_text("rerun the last batch of ordrs", db=db)
    assert result.intent == {"kind": "rerun_batch", "batch_id": ids[2]}
    empty = parse_text("rerun the last failed batch of customers", db=db)
    assert empty.intent is None and empty.clarify


def test_cancel_finds_the_running_batch_and_asks_when_several_are(db) -> None:
    with db.connection() as conn:
        ids = {}
        for group, source in (("sales", "orders"), ("web", "clicks")):
            group_id = conn.execute(
                "INSERT INTO lakeforge.source_group (name, compute_profile_id) VALUES (%s, 1) RETURNING id",
                (group,),
            ).fetchone()["id"]
            conn.execute(
                "INSERT INTO lakeforge.source (name, source_group_id, format, location) "
                "VALUES (%s, %s, 'csv', '/Volumes/main/raw/x')",
                (source, group_id),
            )
            ids[group] = [
                conn.execute(
                    "INSERT INTO lakeforge_log.batch_run (group_name, source_group_id, status) "
                    "VALUES (%s, %s, %s) RETURNING batch_id",
                    (group, group_id, status),
                ).fetchone()["batch_id"]
                for status in ("succeeded", "running")
            ]

    for text in ("stop the sales run", "kill the running orders batch", "cancel the sales batch"):
        assert parse_text(text, db=db).intent == {"kind": "cancel_run", "batch_id": ids["sales"][1]}, text
    several = parse_text("stop the running batch", db=db)
    assert several.intent is None
    assert f"{ids['web'][1]} (web, running)" in several.clarify
    assert f"{ids['sales'][1]} (sales, running)" in several.clarify
    assert "cancel batch ID" in several.clarify
    with db.connection() as conn:
        conn.execute("UPDATE lakeforge_log.batch_run SET status = 'succeeded' WHERE group_name = 'web'")
    idle = parse_text("cancel the web run", db=db)
    assert idle.intent is None and "No batch of web is queued or running" in idle.clarify


def test_every_proposal_is_a_valid_command_layer_intent() -> None:
    from lakeforge.nlu import CHAT_ONLY_KINDS, check_shape

    for text, kind, _ in PHRASINGS:
        if kind is None or kind in CHAT_ONLY_KINDS:
            continue
        checked = check_shape(parse_rules(text, known=KNOWN))
        assert checked.intent is not None, f"{text!r}: {checked.clarify}"


def test_a_value_the_schema_refuses_becomes_a_question() -> None:
    result = parse_text("register source Shipments-2026 csv from /Volumes/x/y in group sales", known=KNOWN)
    assert result.intent is None
    assert result.clarify


HELD_OUT_THRESHOLD = 0.7


@pytest.mark.parametrize("name", ["HELD_OUT", "HELD_OUT_2", "HELD_OUT_3", "HELD_OUT_4"])
def test_accuracy_on_held_out_phrasings(name: str) -> None:
    from tests.chat import heldout, heldout3, heldout4

    module = {"HELD_OUT_3": heldout3, "HELD_OUT_4": heldout4}.get(name, heldout)
    cases = getattr(module, name)
    misses = []
    for text, kind, slots in cases:
        if not _correct(text, kind, slots):
            result = parse_rules(text, known=KNOWN)
            misses.append(f"{text!r}: expected {kind} {slots}, got {result.intent or result.clarify}")
    accuracy = 1 - len(misses) / len(cases)
    print(f"\n{name} accuracy: {len(cases) - len(misses)}/{len(cases)} {accuracy:.1%}")
    print("misses:\n  " + "\n  ".join(misses))
    assert accuracy >= HELD_OUT_THRESHOLD


@pytest.mark.parametrize(("text", "kind", "slots"), TUNING, ids=[case[0] for case in TUNING])
def test_tuning_phrasing_read_exactly(text: str, kind: str | None, slots: dict) -> None:
    """What the parser was improved against after HELD_OUT_3 was measured: each one read right."""
    from lakeforge.nlu import check_shape

    result = check_shape(parse_rules(text, known=KNOWN))
    assert _correct_result(result, kind, slots), result.intent or result.clarify


@pytest.mark.parametrize(("text", "kind", "slots"), EXACT, ids=[case[0] for case in EXACT])
def test_phrasing_read_exactly(text: str, kind: str | None, slots: dict) -> None:
    from lakeforge.nlu import check_shape

    result = check_shape(parse_rules(text, known=KNOWN))
    if kind is None:
        assert result.intent is None, result.intent
        assert slots["clarify"] in (result.clarify or ""), result.clarify
        return
    assert result.intent is not None, result.clarify
    assert result.intent["kind"] == kind
    assert {key: result.intent.get(key) for key in slots} == slots


THURSDAY = datetime(2026, 11, 26, 15, 30, 12, tzinfo=UTC)
PERIODS = {
    "what failed today": datetime(2026, 11, 26, tzinfo=UTC),
    "failed runs in the last 6 hours": THURSDAY - timedelta(hours=6),
    "runs in the past 24h": THURSDAY - timedelta(hours=24),
    "anything fail in the past hour": THURSDAY - timedelta(hours=1),
    "last 30 mins": THURSDAY - timedelta(minutes=30),
    "since yesterday": datetime(2026, 11, 25, tzinfo=UTC),
    "this week": datetime(2026, 11, 23, tzinfo=UTC),
    "since monday": datetime(2026, 11, 23, tzinfo=UTC),
    "since thursday": datetime(2026, 11, 19, tzinfo=UTC),  # today is Thursday: the one before
    "last 3 runs": None,
    "every day at 6am": None,
}


@pytest.mark.parametrize(("text", "start"), PERIODS.items(), ids=list(PERIODS))
def test_a_period_starts_at_the_instant_it_names(text: str, start: datetime | None) -> None:
    assert periods.since(text, now=THURSDAY) == start


def test_a_question_about_runs_in_a_period_lists_them_since_its_start() -> None:
    for text, kind in (("what failed today", "list_runs"), ("show runs of orders since monday", "list_runs")):
        result = parse_rules(text, known=KNOWN)
        assert result.intent is not None and result.intent["kind"] == kind, result.clarify
        since = datetime.fromisoformat(result.intent["since"])
        assert since.tzinfo is not None and since <= datetime.now(UTC)
        assert since.hour == since.minute == 0


def test_the_last_batch_without_a_name_is_the_newest_the_caller_may_see(db) -> None:
    with db.connection() as conn:
        empty = parse_text("rerun the last batch", db=db)
        assert empty.intent is None and "I found no batch in the run log" in empty.clarify
        ids = {}
        for group, statuses in (("sales", ("failed", "succeeded")), ("web", ("failed", "running"))):
            group_id = conn.execute(
                "INSERT INTO lakeforge.source_group (name, compute_profile_id) VALUES (%s, 1) RETURNING id",
                (group,),
            ).fetchone()["id"]
            ids[group] = [
                conn.execute(
                    "INSERT INTO lakeforge_log.batch_run (group_name, source_group_id, status) "
                    "VALUES (%s, %s, %s) RETURNING batch_id",
                    (group, group_id, status),
                ).fetchone()["batch_id"]
                for status in statuses
            ]
    assert parse_text("rerun the last batch", db=db).intent == {
        "kind": "rerun_batch",
        "batch_id": ids["web"][1],
    }
    failed = parse_text("rerun the last failed batch", db=db)
    assert failed.intent == {"kind": "rerun_batch", "batch_id": ids["web"][0]}
    # A caller bound to sales only: the newest batch it may see is sales'.
    mine = parse_text("retry the latest batch", db=db, groups=frozenset({"sales"}))
    assert mine.intent == {"kind": "rerun_batch", "batch_id": ids["sales"][1]}
    none = parse_text("rerun the last failed batch", db=db, groups=frozenset({"finance"}))
    assert none.intent is None and "I found no failed batch in the run log" in none.clarify
