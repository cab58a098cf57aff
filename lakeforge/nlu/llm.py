"""The LLM parser: a ``ChatPromptTemplate`` from ``prompts/`` and structured output over the intents.

The chat model is pluggable: ``settings.nlu_chat_model`` names it (``databricks:<endpoint>``
queries a Databricks model-serving endpoint through ``databricks-sdk``, see ``serving.py``),
and tests pass any LangChain chat model. The answer is a proposal only.

>>> parse_with_model("pause sales", model)  # doctest: +SKIP
ParseResult(intent={'kind': 'pause_schedule', 'group': 'sales'}, parser='llm', ...)
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, Field

from lakeforge.errors import ConfigurationError, LakeForgeError
from lakeforge.nlu.lookup import Known
from lakeforge.nlu.result import ParseResult
from lakeforge.nlu.serving import ServingEndpointError, serving_model
from lakeforge.settings import PROJECT_ROOT, Settings

PROMPT_FILE = PROJECT_ROOT / "prompts" / "intent_parser.yaml"


def _intent_type() -> Any:
    """The command layer's intent union when available; a plain object otherwise."""
    try:
        from lakeforge.commands.intents import Intent
    except ImportError:
        return dict[str, Any]
    return Intent


def proposal_schema() -> type[BaseModel]:
    """The tool schema the model fills: one intent, or a clarifying question."""

    class IntentProposal(BaseModel):
        """Propose one LakeForge command for the message, or ask one question when a value is missing."""

        intent: _intent_type() | None = Field(  # type: ignore[valid-type]
            default=None, description="The command, or null when a required value is missing."
        )
        clarify: str | None = Field(default=None, description="One short question when intent is null.")
        confidence: float = Field(default=0.8, ge=0, le=1, description="How sure the reading is.")

    return IntentProposal


@lru_cache(maxsize=4)
def load_prompt(path: Path = PROMPT_FILE) -> ChatPromptTemplate:
    """The prompt: system rules, few-shot examples as literal messages, then the user's text."""
    spec = yaml.safe_load(path.read_text())
    messages: list[Any] = [("system", spec["system"].replace("{{", "{{{{").replace("}}", "}}}}"))]
    # Literal messages: the JSON braces in examples are not template variables.
    for example in spec.get("examples", []):
        messages.append(HumanMessage(example["text"]))
        messages.append(AIMessage(json.dumps(example["answer"])))
    messages.append(("human", spec["human"]))
    return ChatPromptTemplate.from_messages(messages)


def chat_model_from_settings(settings: Settings) -> BaseChatModel:
    """The chat model named by ``LAKEFORGE_NLU_CHAT_MODEL``."""
    name = settings.nlu_chat_model
    if not name:
        raise ConfigurationError(
            "is not set, so the llm parser has no model",
            field="LAKEFORGE_NLU_CHAT_MODEL",
            fix="Set it to databricks:<serving-endpoint>, or set LAKEFORGE_NLU_PARSER=rules.",
        )
    provider, _, target = name.partition(":")
    if provider == "databricks" and target:
        return serving_model(settings, target)
    raise ConfigurationError(
        f"names an unknown model provider {provider!r}",
        field="LAKEFORGE_NLU_CHAT_MODEL",
        fix="Use databricks:<serving-endpoint>.",
    )


def parse_with_model(text: str, model: BaseChatModel, *, known: Known | None = None) -> ParseResult:
    """Ask ``model`` for a structured proposal; errors become a LakeForgeError naming the cause."""
    known = known or Known()
    names = ", ".join(sorted(known.names)) or "(none yet)"
    chain = load_prompt() | model.with_structured_output(proposal_schema())
    try:
        answer = chain.invoke({"text": text, "known": names})
    except ServingEndpointError:
        raise  # about the setting (unknown endpoint, throttled, ...), not about the text
    except Exception as error:  # the model or its output parser; report, never guess
        raise LakeForgeError(
            f"the language model gave no usable answer ({type(error).__name__}: {error})",
            field="text",
            fix="Rephrase, or use the slash grammar (`help` lists it).",
        ) from error
    if not isinstance(answer, BaseModel):
        raise LakeForgeError(
            "the language model gave no usable answer (it proposed no command)",
            field="text",
            fix="Rephrase, or use the slash grammar (`help` lists it).",
        )
    intent = answer.intent  # type: ignore[attr-defined]
    if isinstance(intent, BaseModel):
        intent = intent.model_dump(mode="json", exclude_none=True)
    clarify = answer.clarify  # type: ignore[attr-defined]
    confidence = float(answer.confidence)  # type: ignore[attr-defined]
    if intent is None and not clarify:
        clarify = "I could not tell which command you mean. Try `help`."
    return ParseResult(
        intent=intent if not clarify else None,
        clarify=clarify,
        confidence=confidence,
        parser="llm",
        intent_kind=intent.get("kind") if isinstance(intent, dict) else None,
    )
