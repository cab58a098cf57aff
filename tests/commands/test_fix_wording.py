"""Fixes that name a command: every reference in the code base is worded for each surface, and
its chat words, read back by the rule-based parser, are that same command."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from lakeforge.commands.intents import parse_intent
from lakeforge.fixes import WORDINGS, Fix, IntentRef, chat_intent, ref
from lakeforge.nlu import parse_text
from lakeforge.nlu.rules import parse_rules
from lakeforge.settings import PROJECT_ROOT
from tests.chat.phrasings import KNOWN

# A value for each argument a reference carries, named as the chat tests' known metadata names them.
_SAMPLES: dict[tuple[str, str], Any] = {
    ("create_group", "name"): "marketing",
    ("update_dq_rule", "name"): "amount_positive",
    ("restore_revision", "entity"): "source",
    ("restore_revision", "name"): "ghost",  # a removed source: the parser does not know it
}
_BY_ARG: dict[str, Any] = {"name": "orders", "source": "orders", "group": "sales", "batch_id": 42}


def _references_in_code() -> list[tuple[str, tuple[str, ...]]]:
    """Every ``ref("kind", arg=...)`` written in lakeforge, api and bot: (kind, argument names)."""
    found: set[tuple[str, tuple[str, ...]]] = set()
    for folder in ("lakeforge", "api", "bot"):
        for path in sorted((Path(PROJECT_ROOT) / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "ref"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    found.add((str(node.args[0].value), tuple(sorted(k.arg or "" for k in node.keywords))))
    return sorted(found)


REFERENCES = _references_in_code()


def _sample(kind: str, names: tuple[str, ...]) -> IntentRef:
    return ref(kind, **{name: _SAMPLES.get((kind, name)) or _BY_ARG[name] for name in names})


def test_the_fixes_of_the_command_layer_name_their_commands_by_reference() -> None:
    kinds = {kind for kind, _ in REFERENCES}
    assert kinds >= {"create_group", "list_sources", "update_source", "update_dq_rule", "add_dq_rule"}
    assert kinds >= {"set_schedule", "restore_revision", "list_runs", "rerun_batch", "show_source"}


@pytest.mark.parametrize(("kind", "names"), REFERENCES, ids=[f"{k}({','.join(n)})" for k, n in REFERENCES])
def test_each_reference_has_chat_words_the_parser_reads_back_as_it(kind: str, names: tuple[str, ...]) -> None:
    reference = _sample(kind, names)
    words = chat_intent(reference)
    assert words is not None, f"{kind} has no chat words"
    phrase, expected = words
    for parsed in (parse_rules(phrase, known=KNOWN).intent, parse_text(phrase, known=KNOWN).intent):
        assert parsed is not None, f"{phrase!r} is not understood"
        assert parsed["kind"] == kind, (phrase, parsed)
        # A whole, valid intent; the reference's values, and the examples the words add, as they went.
        shaped = parse_intent(parsed).model_dump(mode="json")
        assert {key: shaped.get(key) for key in expected} == expected, (phrase, shaped)
    # What Slack shows is those very words after the slash command.
    assert f"`/lakeforge {phrase}`" in Fix(reference).render("slack")


@pytest.mark.parametrize(("kind", "names"), REFERENCES, ids=[f"{k}({','.join(n)})" for k, n in REFERENCES])
def test_each_surface_words_the_reference_in_its_own_terms(kind: str, names: tuple[str, ...]) -> None:
    reference = _sample(kind, names)
    wording = WORDINGS[kind]
    rest = Fix(reference).render("api")
    assert rest.startswith(kind) and "/api/v1/" in rest  # REST keeps the kind and names the endpoint
    cli = Fix(reference).render("cli")
    assert cli.startswith("`lakeforge ") if wording.cli else "in `lakeforge chat`" in cli
    panel = Fix(reference).render("web")
    assert kind not in panel  # a page or the chat console's words, never the intent kind
    assert str(Fix(reference)).startswith(kind)  # no surface known: the kind and its values


def test_default_wording_stays_a_plain_sentence_and_did_you_mean_keeps_the_reference() -> None:
    from lakeforge import suggest

    fix = suggest.did_you_mean(
        "retial", ["retail"], Fix("Create it first: ", ref("create_group", name="retial"), ".")
    )
    assert isinstance(fix, Fix)
    assert str(fix) == "Did you mean 'retail'? Create it first: create_group name=retial."
    assert fix.render("slack") == "Did you mean 'retail'? Create it first: `/lakeforge create group retial`."
    assert fix.render("cli", "terminal") == "Did you mean 'retail'? Create it first: `create group retial`."
    assert fix.render("web") == "Did you mean 'retail'? Create it first: Create group on the Groups page."


def test_a_reference_no_surface_has_words_for_falls_back_to_the_intent_and_its_route() -> None:
    # No wording for the kind, or a value the words need left out: never a half-filled phrase.
    unworded = Fix("Use ", ref("update_group", name="retail"), ".")
    assert unworded.render("slack") == "Use update_group name=retail (POST /api/v1/commands)."
    assert unworded.render("web") == unworded.render("cli") == unworded.render("slack")
    bare = Fix(ref("rerun_batch"))
    assert bare.render("cli") == bare.render("slack") == "rerun_batch (POST /api/v1/commands)"
