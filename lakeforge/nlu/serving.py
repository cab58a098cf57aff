"""A LangChain chat model over a Databricks model-serving endpoint, with no extra dependency.

Chat endpoints (Foundation Model APIs, external models, provisioned throughput) answer the
OpenAI-style chat body at ``POST /serving-endpoints/{name}/invocations``; the request goes
through ``databricks-sdk``'s authenticated client, so host and credentials come from the usual
Databricks chain (``LAKEFORGE_DATABRICKS_HOST`` / ``DATABRICKS_HOST``, a token, a config profile,
OAuth inside a job). ``bind_tools`` makes ``with_structured_output`` work, which is what the
free-text parser uses.

>>> model = ServingChatModel(endpoint="databricks-meta-llama-3-3-70b-instruct", client=WorkspaceClient())
>>> model.with_structured_output(Proposal).invoke("pause sales")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from databricks.sdk import WorkspaceClient
from databricks.sdk.core import ApiClient
from databricks.sdk.errors import (
    BadRequest,
    DatabricksError,
    DeadlineExceeded,
    InternalError,
    NotFound,
    PermissionDenied,
    TemporarilyUnavailable,
    TooManyRequests,
    Unauthenticated,
)
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, convert_to_openai_messages
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import InvalidToolCall, ToolCall
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr
from requests import RequestException

from lakeforge.errors import ConfigurationError
from lakeforge.settings import Settings

log = logging.getLogger(__name__)

FIELD = "LAKEFORGE_NLU_CHAT_MODEL"
_RULES_FALLBACK = "or set LAKEFORGE_NLU_PARSER=rules (or auto, so the rules answer meanwhile)."


class ServingEndpointError(ConfigurationError):
    """The serving endpoint could not answer: unknown, forbidden, throttled, failing or unreachable.

    The free-text parser passes it on as is (it is about the setting, not about the user's text).
    """


class ServingChatModel(BaseChatModel):
    """Chat completions from a Databricks serving endpoint, tool calls included."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    endpoint: str = Field(description="Serving endpoint name (the part after databricks:).")
    client: WorkspaceClient = Field(exclude=True, repr=False)
    temperature: float | None = 0.0
    max_tokens: int | None = 1024
    # The SDK retries 429/503 for up to five minutes by default: far too long for a chat reply.
    retry_timeout_seconds: int = Field(default=30, ge=1)
    _api: ApiClient | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "databricks-serving-endpoint"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "temperature": self.temperature, "max_tokens": self.max_tokens}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` (Pydantic models, functions, LangChain tools) as OpenAI function tools."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = _tool_choice(tool_choice, formatted)
        return super().bind(tools=formatted, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        body: dict[str, Any] = {"messages": convert_to_openai_messages(messages)}
        options = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": stop,
            "tools": kwargs.get("tools"),
            "tool_choice": kwargs.get("tool_choice"),
        }
        body.update({key: value for key, value in options.items() if value is not None})
        return chat_result(self._invoke(body), self.endpoint)

    def _api_client(self) -> ApiClient:
        if self._api is None:
            # Same host and credentials as the given client, with a retry budget fit for chat.
            config = self.client.config.copy()
            config.retry_timeout_seconds = self.retry_timeout_seconds
            self._api = ApiClient(config)
        return self._api

    def _invoke(self, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/serving-endpoints/{quote(self.endpoint, safe='')}/invocations"
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        try:
            answer = self._api_client().do("POST", path, body=body, headers=headers)
        except Exception as error:  # SDK, network and retry-budget errors all become one sentence
            raise endpoint_error(self.endpoint, error) from error
        log.debug("serving endpoint %s answered", self.endpoint)  # never the body or headers
        if not isinstance(answer, dict):
            raise ServingEndpointError(
                f"serving endpoint {self.endpoint!r} answered something other than a JSON object",
                field=FIELD,
                fix="Point it at a chat endpoint (task llm/v1/chat), " + _RULES_FALLBACK,
            )
        return answer


def _tool_choice(choice: str | dict[str, Any] | bool, tools: list[dict[str, Any]]) -> str | dict[str, Any]:
    """LangChain's tool_choice spellings in the chat API's terms."""
    names = [tool["function"]["name"] for tool in tools]
    if isinstance(choice, dict):
        return choice
    if choice is True or choice == "any":
        # One tool: name it, which every chat endpoint honours; several: any of them.
        return _named(names[0]) if len(names) == 1 else "required"
    if choice in ("auto", "none", "required"):
        return str(choice)
    if choice in names:
        return _named(str(choice))
    raise ValueError(f"tool_choice {choice!r} names none of the bound tools {names}")


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def chat_result(answer: dict[str, Any], endpoint: str) -> ChatResult:
    """``choices[0].message`` as an ``AIMessage``: text, parsed tool calls, and the usage."""
    choices = answer.get("choices") or []
    if not choices or not isinstance(choices[0].get("message"), dict):
        raise ServingEndpointError(
            f"serving endpoint {endpoint!r} answered without choices[0].message",
            field=FIELD,
            fix="Point it at a chat endpoint (task llm/v1/chat), " + _RULES_FALLBACK,
        )
    message = choices[0]["message"]
    raw_calls = message.get("tool_calls") or []
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for raw in raw_calls:
        try:
            parsed = parse_tool_call(raw, return_id=True)
        except OutputParserException as error:  # arguments that are not JSON
            invalid.append(make_invalid_tool_call(raw, str(error)))
            continue
        if parsed is not None:
            calls.append(parsed)  # type: ignore[arg-type]  # parse_tool_call's dict is a ToolCall
    metadata = {
        "endpoint": endpoint,
        "model_name": answer.get("model"),
        "finish_reason": choices[0].get("finish_reason"),
    }
    ai = AIMessage(
        content=_text(message.get("content")),
        # The raw calls stay in additional_kwargs: tool parsers read them when none parsed, and
        # then report the malformed arguments instead of silently finding no call.
        additional_kwargs={"tool_calls": raw_calls} if raw_calls else {},
        tool_calls=calls,
        invalid_tool_calls=invalid,
        response_metadata={key: value for key, value in metadata.items() if value is not None},
        usage_metadata=_usage(answer.get("usage")),
        id=answer.get("id"),
    )
    return ChatResult(generations=[ChatGeneration(message=ai)])


def _text(content: Any) -> str:
    """Message content: a string, or a list of content parts of which the text ones count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return str(content)


def _usage(usage: Any) -> UsageMetadata | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return UsageMetadata(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=int(usage.get("total_tokens") or prompt + completion),
    )


def endpoint_error(endpoint: str, error: BaseException) -> ServingEndpointError:
    """One sentence naming the setting, the endpoint and what to do; no tokens, no request body."""
    cause = error.__cause__ if isinstance(error, (TimeoutError, RuntimeError)) and error.__cause__ else error
    detail = str(cause)[:200]
    name = repr(endpoint)
    if isinstance(cause, NotFound):
        message, fix = (
            f"names serving endpoint {name}, which the workspace does not have",
            (
                "Check the name under Serving in the workspace (databricks:<endpoint-name>), "
                + _RULES_FALLBACK
            ),
        )
    elif isinstance(cause, Unauthenticated):
        message, fix = (
            f"could not authenticate to query serving endpoint {name}",
            ("Check DATABRICKS_TOKEN or the config profile, " + _RULES_FALLBACK),
        )
    elif isinstance(cause, PermissionDenied):
        message, fix = (
            f"may not query serving endpoint {name} ({detail})",
            ("Grant CAN QUERY on the endpoint to this identity, " + _RULES_FALLBACK),
        )
    elif isinstance(cause, TooManyRequests):
        message, fix = (
            f"serving endpoint {name} is rate limited (HTTP 429) and stayed so",
            ("Retry in a minute or raise the endpoint's rate limit, " + _RULES_FALLBACK),
        )
    elif isinstance(cause, (InternalError, TemporarilyUnavailable, DeadlineExceeded)):
        message, fix = (
            f"serving endpoint {name} failed on its side ({detail})",
            ("Check the endpoint's state and logs under Serving, " + _RULES_FALLBACK),
        )
    elif isinstance(cause, BadRequest):
        message, fix = (
            f"serving endpoint {name} refused the request ({detail})",
            ("Use a chat endpoint whose model supports tool calling, " + _RULES_FALLBACK),
        )
    elif isinstance(cause, DatabricksError):
        message, fix = f"serving endpoint {name} failed ({detail})", "Check the endpoint, " + _RULES_FALLBACK
    elif isinstance(cause, RequestException | TimeoutError):
        message, fix = (
            f"could not reach the workspace to query serving endpoint {name}",
            ("Check LAKEFORGE_DATABRICKS_HOST / DATABRICKS_HOST and the network, " + _RULES_FALLBACK),
        )
    else:
        message, fix = (
            f"querying serving endpoint {name} failed ({type(cause).__name__}: {detail})",
            ("Check the endpoint and the workspace settings, " + _RULES_FALLBACK),
        )
    return ServingEndpointError(message, field=FIELD, fix=fix)


_models: dict[tuple[str | None, ...], ServingChatModel] = {}
_models_lock = threading.Lock()


def serving_model(settings: Settings, endpoint: str) -> ServingChatModel:
    """The model for ``databricks:<endpoint>``, kept per endpoint and workspace (the client is reused)."""
    key = (
        endpoint,
        settings.databricks_host,
        os.environ.get("DATABRICKS_HOST"),
        os.environ.get("DATABRICKS_CONFIG_PROFILE"),
    )
    with _models_lock:
        if key not in _models:
            _models[key] = ServingChatModel(endpoint=endpoint, client=_workspace(settings))
        return _models[key]


def _workspace(settings: Settings) -> WorkspaceClient:
    """A client for the configured Databricks workspace; the local stand-in serves no models."""
    from lakeforge.orchestration.client import workspace_client

    try:
        if settings.databricks_host or os.environ.get("DATABRICKS_HOST"):
            return workspace_client(settings)
        if os.environ.get("DATABRICKS_RUNTIME_VERSION") or os.environ.get("DATABRICKS_CONFIG_PROFILE"):
            return WorkspaceClient()  # inside Databricks, or a named profile: the SDK's own chain
    except ConfigurationError:
        raise
    except Exception as error:  # the SDK's config errors mask secrets; keep only their first line
        raise ConfigurationError(
            f"could not set up the Databricks client ({str(error).splitlines()[0][:200]})",
            field=FIELD,
            fix="Check LAKEFORGE_DATABRICKS_HOST and the credentials (DATABRICKS_TOKEN or a profile), "
            + _RULES_FALLBACK,
        ) from error
    raise ConfigurationError(
        "names a Databricks serving endpoint, but no Databricks workspace is configured",
        field=FIELD,
        fix="Set LAKEFORGE_DATABRICKS_HOST (credentials from DATABRICKS_TOKEN or a config profile), "
        + _RULES_FALLBACK,
    )
