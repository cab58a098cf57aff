"""Free text to a proposed LakeForge intent: ``parse_text`` never executes anything.

>>> parse_text("rerun batch 42").intent
{'kind': 'rerun_batch', 'batch_id': 42}
"""

from __future__ import annotations

from lakeforge.metadata.db import Database
from lakeforge.nlu.lookup import Known, load_known
from lakeforge.nlu.result import ParseResult
from lakeforge.nlu.rules import parse_rules
from lakeforge.nlu.text import normalize
from lakeforge.settings import Settings

__all__ = ["CHAT_ONLY_KINDS", "ParseResult", "parse_rules", "parse_text"]

# Read-only answers the chat gives itself (from the metadata store); not command-layer intents.
CHAT_ONLY_KINDS = frozenset({"show_history"})


def parse_text(
    text: str,
    *,
    db: Database | None = None,
    settings: Settings | None = None,
    known: Known | None = None,
    channel: str | None = None,
    groups: frozenset[str] | None = None,
) -> ParseResult:
    """Read ``text`` with the parser chosen in settings (rules by default, no model, no network).

    With ``auto`` the LLM answers first and the rules take over when it fails; either way the
    proposal is checked against the command layer's intent schema, and a value that does not fit
    becomes a question. ``channel`` is the chat channel the text came from ("alerts here");
    ``groups`` the groups the caller may see (``Principal.readable_groups``), for run-log lookups.
    """
    text = normalize(text)
    known = known if known is not None else load_known(db)
    choice = settings.nlu_parser if settings is not None else "rules"
    result: ParseResult | None = None
    if choice in ("llm", "auto") and settings is not None:
        from lakeforge.errors import LakeForgeError
        from lakeforge.nlu.llm import chat_model_from_settings, parse_with_model

        try:
            result = parse_with_model(text, chat_model_from_settings(settings), known=known)
        except LakeForgeError:
            if choice == "llm":
                raise
    if result is None:
        result = parse_rules(text, db=db, known=known, channel=channel, groups=groups)
    return check_shape(result)


def check_shape(result: ParseResult) -> ParseResult:
    """Validate the proposal against the intent union; a value that does not fit becomes a question."""
    if result.intent is None or result.intent.get("kind") in CHAT_ONLY_KINDS:
        return result
    try:
        from lakeforge.commands.intents import field_errors, parse_intent
    except ImportError:  # the command layer validates later anyway
        return result
    from pydantic import ValidationError

    try:
        intent = parse_intent(result.intent)
    except ValidationError as error:
        first = field_errors(error)[0]
        question = f"{first.field.removeprefix('intent.')}: {first.message}."
        if first.fix:
            question += f" {first.fix}"
        return result.model_copy(update={"intent": None, "clarify": question, "partial": dict(result.intent)})
    kind = result.intent["kind"]
    return result.model_copy(
        update={"intent": intent.model_dump(mode="json", exclude_defaults=True) | {"kind": kind}}
    )
