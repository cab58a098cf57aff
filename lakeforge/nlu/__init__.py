"""Free text to a proposed LakeForge intent: ``parse_text`` never executes anything.

>>> parse_text("rerun batch 42").intent
{'kind': 'rerun_batch', 'batch_id': 42}
"""

from __future__ import annotations

from lakeforge.metadata.db import Database
from lakeforge.nlu.lookup import Known, load_known
from lakeforge.nlu.result import ParseResult
from lakeforge.nlu.rules import parse_rules
from lakeforge.settings import Settings

__all__ = ["ParseResult", "parse_rules", "parse_text"]


def parse_text(
    text: str, *, db: Database | None = None, settings: Settings | None = None, known: Known | None = None
) -> ParseResult:
    """Read ``text`` with the parser chosen in settings (rules by default, no model, no network).

    With ``auto`` the LLM answers first and the rules take over when it fails; either way the
    result is a proposal the command layer validates and the user confirms.
    """
    known = known if known is not None else load_known(db)
    choice = settings.nlu_parser if settings is not None else "rules"
    if choice in ("llm", "auto") and settings is not None:
        from lakeforge.errors import LakeForgeError
        from lakeforge.nlu.llm import chat_model_from_settings, parse_with_model

        try:
            return parse_with_model(text, chat_model_from_settings(settings), known=known)
        except LakeForgeError:
            if choice == "llm":
                raise
    return parse_rules(text, db=db, known=known)
