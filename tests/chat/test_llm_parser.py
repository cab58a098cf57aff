"""The LLM path: prompt from prompts/, structured output over the intent union, fake chat model."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from lakeforge.errors import LakeForgeError
from lakeforge.nlu import check_shape
from lakeforge.nlu.llm import load_prompt, parse_with_model
from tests.chat.phrasings import KNOWN


class ToolCallingFakeModel(GenericFakeChatModel):
    """A fake chat model whose answers are tool calls; it records the prompts it was given."""

    seen: ClassVar[list[Any]] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFakeModel:  # type: ignore[override]
        return self

    def _generate(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(messages)
        return super()._generate(messages, *args, **kwargs)


def _answer(args: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "IntentProposal", "args": args, "id": "call_1"}])


def test_structured_output_becomes_a_validated_intent() -> None:
    model = ToolCallingFakeModel(
        messages=iter(
            [
                _answer(
                    {
                        "intent": {"kind": "set_schedule", "group": "sales", "quartz_cron": "0 0 2 * * ?"},
                        "clarify": None,
                        "confidence": 0.93,
                    }
                )
            ]
        )
    )
    result = check_shape(parse_with_model("run sales nightly at two", model, known=KNOWN))
    assert result.parser == "llm"
    assert result.intent == {"kind": "set_schedule", "group": "sales", "quartz_cron": "0 0 2 * * ?"}
    assert result.confidence == pytest.approx(0.93)
    prompt = model.seen[-1]
    assert prompt[0].type == "system" and "Quartz" in prompt[0].content
    assert "orders" in prompt[0].content  # known names are in the prompt
    assert prompt[-1].content == "run sales nightly at two"


def test_model_question_is_passed_on_not_guessed() -> None:
    model = ToolCallingFakeModel(messages=iter([_answer({"intent": None, "clarify": "Which batch?"})]))
    result = parse_with_model("rerun it", model, known=KNOWN)
    assert result.intent is None and result.clarify == "Which batch?"


def test_an_invalid_intent_from_the_model_is_refused() -> None:
    model = ToolCallingFakeModel(messages=iter([_answer({"intent": {"kind": "drop_database", "name": "x"}})]))
    with pytest.raises(LakeForgeError, match="no usable answer"):
        parse_with_model("drop everything", model, known=KNOWN)


def test_prompt_examples_are_literal_messages() -> None:
    messages = load_prompt().invoke({"text": "hello", "known": "orders"}).to_messages()
    kinds = [m.type for m in messages]
    assert kinds[0] == "system" and kinds[-1] == "human"
    assert any(m.type == "ai" and '"register_source"' in m.content for m in messages)
