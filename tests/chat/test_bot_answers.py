"""What the bot answers when it is unsure or refuses: a question naming what it needs, a refusal
naming the fix. Over real HTTP, with the Slack Web API stand-in (see ``conftest.env``)."""

from __future__ import annotations

import json

from tests.chat.conftest import Env
from tests.chat.support import said as _said


def _ask(env: Env, text: str, user: str = "U0ANA") -> str:
    before = len(env.responses(0))
    env.slash(text, user=user)
    return _said(env.responses(before + 1)[-1])


def _rules_of_orders(env: Env) -> int:
    with env.db.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM dq_rule").fetchone()["n"]


def test_a_refused_change_names_the_role_it_needs_and_the_command_that_grants_it(env: Env) -> None:
    said = _ask(env, "could you please pause sales", user="U0VIC")
    assert said.startswith(":lock: vic may not pause schedule: it needs the operator role on group sales.")
    # The command an admin runs is code to copy, and the field name of the API is not shown.
    assert "`lakeforge token create --user vic --role operator --group sales`" in said
    assert "kind:" not in said and "Confirm" not in said


def test_an_unknown_source_is_refused_once_with_the_sources_that_exist(env: Env) -> None:
    said = _ask(env, "add rule on shipments: amount > 0")
    assert said.count("source 'shipments' does not exist") == 1, said
    assert "The sources you can see: `orders`" in said and "`/lakeforge sources`" in said
    assert _rules_of_orders(env) == 0


def test_an_unknown_group_is_asked_about_with_the_groups_that_exist(env: Env) -> None:
    said = _ask(env, "pause shipments")
    assert "I know no group or source called shipments. The groups are `sales`: say `pause GROUP`." in said
    said = _ask(env, "schedule shipments every day at 2am")
    assert "The groups are `sales`: say `schedule GROUP every day at 2am`" in said
    # A status of an unknown name is a question, not "0 run(s)" as if it had matched.
    said = _ask(env, "status shipments")
    assert "I know no source or group called shipments" in said and "run(s)" not in said


def test_a_name_without_a_command_gets_what_can_be_done_with_it(env: Env) -> None:
    said = _ask(env, "orders?")
    assert "I see the source orders (group sales), but not what to do with it" in said
    assert "`run orders`" in said and "`status orders`" in said


def test_a_typed_jdbc_password_is_asked_for_as_a_secret_reference_and_never_kept(env: Env) -> None:
    ack = env.slash(
        "register jdbc source staff from jdbc:postgresql://hr:5432/hr table hr.staff "
        "user etl password hunter2 in sales"
    )
    said = _said(env.responses(1)[-1])
    assert "must be a secret reference" in said and "`password {{secrets/SCOPE/KEY}}`" in said
    # Asked in words, not with a form that has no field for it; the password is in no reply.
    assert env.slack.named("views.open") == []
    assert "hunter2" not in ack.text + json.dumps([call.payload for call in env.slack.calls])
    with env.db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM source WHERE name = 'staff'").fetchone()["n"] == 0


def test_a_question_the_form_cannot_answer_is_asked_in_words(env: Env) -> None:
    said = _ask(env, "register jdbc source staff from jdbc:postgresql://hr:5432/hr in sales")
    assert "Which table should staff read? Say `table schema.table`" in said
    assert env.slack.named("views.open") == []


def test_a_form_opened_for_a_missing_value_says_what_is_missing(env: Env) -> None:
    env.slash("register source shipments csv in group sales")
    view = env.slack.wait_for("views.open")[0]["view"]
    assert view["blocks"][0]["type"] == "context"
    assert "Where does shipments read from?" in view["blocks"][0]["elements"][0]["text"]
    assert [b["block_id"] for b in view["blocks"][1:3]] == ["name", "group"]
