"""What free-text parsing returns: a proposed intent or a question, never an executed command."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ParseResult(BaseModel):
    """A proposed intent (validated and confirmed later by the command layer) or a clarifying question.

    >>> ParseResult(intent={"kind": "sync_jobs"}, confidence=0.9, parser="rules").intent
    {'kind': 'sync_jobs'}
    """

    intent: dict[str, Any] | None = None
    clarify: str | None = Field(
        default=None, description="The question to ask when a required slot is missing."
    )
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    parser: Literal["rules", "llm"] = "rules"
    # The intent kind understood so far, also when a slot is missing (drives modals and help).
    intent_kind: str | None = None
    partial: dict[str, Any] = Field(default_factory=dict, description="Slots understood so far.")
