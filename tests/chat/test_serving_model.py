"""The Databricks serving-endpoint chat model over real HTTP, against a local stand-in endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from lakeforge.errors import LakeForgeError
from lakeforge.nlu.llm import chat_model_from_settings, parse_with_model, proposal_schema
from lakeforge.nlu.serving import ServingChatModel, ServingEndpointError
from lakeforge.settings import load_settings
from tests.chat.phrasings import KNOWN

TOKEN = "dapi-serving-test-token"
ENDPOINT = "intent-llm"


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ServingStandin:
    """Plays a workspace with one chat endpoint: records invocations, answers with queued replies."""

    def __init__(self) -> None:
        self.calls: list[Recorded] = []
        self.replies: list[Reply] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, reply: Reply) -> None:
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if self.path == "/.well-known/databricks-config":
                    self._send(Reply(200, {"workspace_id": "1", "oidc_endpoint": f"{standin.url}/oidc"}))
                else:
                    self._send(Reply(404, {"error_code": "NOT_FOUND", "message": "no such path"}))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                standin.calls.append(Recorded(self.path, dict(self.headers.items()), body))
                if self.path != f"/serving-endpoints/{ENDPOINT}/invocations":
                    name = self.path.split("/")[2] if self.path.count("/") >= 3 else "?"
                    self._send(
                        Reply(
                            404,
                            {
                                "error_code": "RESOURCE_DOES_NOT_EXIST",
                                "message": f"Endpoint with name '{name}' does not exist.",
                            },
                        )
                    )
                    return
                self._send(standin.replies.pop(0) if standin.replies else Reply(200, completion([])))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> ServingStandin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def completion(tool_calls: list[dict[str, Any]], content: str | None = None) -> dict[str, Any]:
    """An OpenAI-format chat completion, as chat serving endpoints answer."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "standin-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "tool_calls": tool_calls or None},
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920},
    }


def tool_call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": "call_7", "type": "function", "function": {"name": name, "arguments": arguments}}


@pytest.fixture
def standin() -> Iterator[ServingStandin]:
    server = ServingStandin().start()
    yield server
    server.stop()


def model_for(standin: ServingStandin, endpoint: str = ENDPOINT, **options: Any) -> ServingChatModel:
    client = WorkspaceClient(host=standin.url, token=TOKEN, auth_type="pat")
    return ServingChatModel(endpoint=endpoint, client=client, **options)


def test_parse_with_model_returns_the_endpoints_proposal(standin: ServingStandin) -> None:
    proposal = {"intent": {"kind": "pause_schedule", "group": "sales"}, "clarify": None, "confidence": 0.9}
    standin.replies.append(Reply(200, completion([tool_call("IntentProposal", json.dumps(proposal))])))

    result = parse_with_model("pause sales", model_for(standin), known=KNOWN)

    assert result.parser == "llm"
    assert result.intent == {"kind": "pause_schedule", "group": "sales"}
    assert result.confidence == pytest.approx(0.9)
    (call,) = standin.calls
    assert call.path == f"/serving-endpoints/{ENDPOINT}/invocations"
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    messages = call.body["messages"]
    assert messages[0]["role"] == "system" and "Quartz" in messages[0]["content"]
    assert "orders" in messages[0]["content"]  # known names reach the prompt
    # Few-shot examples travel as user/assistant pairs, the text last.
    assert any(m["role"] == "assistant" and '"register_source"' in m["content"] for m in messages)
    assert sum(m["role"] == "user" for m in messages) >= 2
    assert messages[-1] == {"role": "user", "content": "pause sales"}
    (tool,) = call.body["tools"]
    assert tool["type"] == "function" and tool["function"]["name"] == "IntentProposal"
    assert set(tool["function"]["parameters"]["properties"]) >= {"intent", "clarify", "confidence"}
    assert call.body["tool_choice"] == {"type": "function", "function": {"name": "IntentProposal"}}
    assert call.body["temperature"] == 0.0 and call.body["max_tokens"] == 1024


def test_messages_with_tool_calls_and_tool_results_are_sent_in_chat_format(standin: ServingStandin) -> None:
    standin.replies.append(Reply(200, completion([], content=[{"type": "text", "text": "done"}])))  # type: ignore[arg-type]
    history = [
        SystemMessage("rules"),
        HumanMessage("pause sales"),
        AIMessage("", tool_calls=[{"name": "pause", "args": {"group": "sales"}, "id": "c1"}]),
        ToolMessage("paused", tool_call_id="c1"),
    ]

    answer = model_for(standin).invoke(history)

    assert answer.content == "done" and answer.tool_calls == []
    assert answer.usage_metadata is not None and answer.usage_metadata["total_tokens"] == 920
    sent = standin.calls[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    (call,) = sent[2]["tool_calls"]
    assert call["function"]["name"] == "pause" and json.loads(call["function"]["arguments"]) == {
        "group": "sales"
    }
    assert sent[3] == {"role": "tool", "tool_call_id": "c1", "content": "paused"}
    assert "tools" not in standin.calls[-1].body


def test_structured_output_parses_json_string_arguments(standin: ServingStandin) -> None:
    arguments = json.dumps({"intent": None, "clarify": "Which batch?", "confidence": 0.4})
    standin.replies.append(Reply(200, completion([tool_call("IntentProposal", arguments)])))

    answer = model_for(standin).with_structured_output(proposal_schema()).invoke("rerun it")

    assert answer.clarify == "Which batch?" and answer.intent is None  # type: ignore[union-attr]


def test_unknown_endpoint_names_the_setting_and_the_endpoint(standin: ServingStandin) -> None:
    with pytest.raises(ServingEndpointError) as caught:
        parse_with_model("pause sales", model_for(standin, endpoint="no-such-llm"), known=KNOWN)
    text = str(caught.value)
    assert text.startswith("LAKEFORGE_NLU_CHAT_MODEL:")
    assert "'no-such-llm'" in text and "does not have" in text
    assert TOKEN not in text


@pytest.mark.parametrize(
    ("status", "error_code", "expected"),
    [
        (403, "PERMISSION_DENIED", "may not query serving endpoint 'intent-llm'"),
        (500, "INTERNAL_ERROR", "failed on its side"),
        (429, "REQUEST_LIMIT_EXCEEDED", "rate limited"),
    ],
)
def test_http_errors_become_clear_sentences(
    standin: ServingStandin, status: int, error_code: str, expected: str
) -> None:
    # Enough throttled answers to outlast the (shortened) retry budget.
    reply = Reply(status, {"error_code": error_code, "message": "nope"}, {"Retry-After": "1"})
    standin.replies.extend([reply] * 5)
    with pytest.raises(ServingEndpointError, match=expected) as caught:
        parse_with_model("pause sales", model_for(standin, retry_timeout_seconds=1), known=KNOWN)
    assert "LAKEFORGE_NLU_CHAT_MODEL" in str(caught.value) and TOKEN not in str(caught.value)


def test_malformed_tool_arguments_are_no_usable_answer(standin: ServingStandin) -> None:
    standin.replies.append(Reply(200, completion([tool_call("IntentProposal", '{"intent": {"kind": ')])))
    with pytest.raises(LakeForgeError, match="no usable answer") as caught:
        parse_with_model("pause sales", model_for(standin), known=KNOWN)
    assert not isinstance(caught.value, ServingEndpointError)
    assert "not valid JSON" in str(caught.value)  # the cause is named, not "no tool call"

    standin.replies.append(Reply(200, completion([tool_call("IntentProposal", "{oops")])))
    raw = model_for(standin).invoke("pause sales")
    assert raw.tool_calls == [] and raw.invalid_tool_calls[0]["args"] == "{oops"


def test_an_answer_without_a_tool_call_is_no_usable_answer(standin: ServingStandin) -> None:
    standin.replies.append(Reply(200, completion([], content="Sure, I paused it.")))
    with pytest.raises(LakeForgeError, match="no usable answer"):
        parse_with_model("pause sales", model_for(standin), known=KNOWN)


def test_settings_name_the_endpoint_on_the_configured_workspace(
    standin: ServingStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    configured = load_settings(
        state_dir=tmp_path, databricks_host=standin.url, nlu_chat_model=f"databricks:{ENDPOINT}"
    )
    model = chat_model_from_settings(configured)
    assert isinstance(model, ServingChatModel) and model.endpoint == ENDPOINT
    assert chat_model_from_settings(configured) is model  # one client per endpoint and workspace
    proposal = {"intent": {"kind": "resume_schedule", "group": "sales"}, "confidence": 0.8}
    standin.replies.append(Reply(200, completion([tool_call("IntentProposal", json.dumps(proposal))])))
    assert parse_with_model("resume sales", model, known=KNOWN).intent == {
        "kind": "resume_schedule",
        "group": "sales",
    }
    assert standin.calls[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_no_workspace_configured_is_a_clear_error(tmp_path: Path) -> None:
    configured = load_settings(state_dir=tmp_path, nlu_chat_model=f"databricks:{ENDPOINT}")
    with pytest.raises(LakeForgeError, match="no Databricks workspace is configured"):
        chat_model_from_settings(configured)
