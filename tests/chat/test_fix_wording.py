"""In Slack, a refused command's fix says what to type: the words after /lakeforge, which the bot
reads back as the command the fix meant."""

from __future__ import annotations

import re

from tests.chat.conftest import Env
from tests.chat.support import said

_TYPED = re.compile(r"`/lakeforge ([^`]+)`")


def test_a_refused_cancel_says_what_to_type_and_those_words_are_the_rerun(env: Env) -> None:
    with env.db.connection() as conn:
        batch = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status) VALUES ('sales', 'succeeded')"
            " RETURNING batch_id"
        ).fetchone()["batch_id"]
    env.slash(f"cancel batch {batch}")
    refused = said(env.responses(1)[0])
    assert "already ended (succeeded)" in refused
    assert f"If you need its data, run it again: `/lakeforge rerun batch {batch}`." in refused
    assert "rerun_batch" not in refused  # no intent kind: Slack users type words
    [typed] = _TYPED.findall(refused)
    # Sent back as typed, the words are the rerun of that batch (acked, then planned).
    ack = env.slash(typed).json()["text"]
    assert "rerun_batch" in ack and f"batch_id={batch}" in ack


def test_an_unknown_batch_points_at_the_runs_words(env: Env) -> None:
    env.slash("show run 999999", user="U0VIC")
    refused = said(env.responses(1)[0])
    assert "batch 999999 does not exist" in refused
    assert "Find batch ids: `/lakeforge runs` lists them." in refused
    [typed] = _TYPED.findall(refused)
    ack = env.slash(typed, user="U0VIC").json()["text"]
    assert "list_runs" in ack
