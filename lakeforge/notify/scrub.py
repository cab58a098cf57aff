"""Error texts on their way to chat: credentials a driver echoed are replaced before anything is sent.

Run-log errors are whatever an extractor, a driver or Spark raised, and some of them repeat the
connection string or header they were given, with the secret already resolved. Slack channels
and webhooks are read by many people, so every error shown there passes through ``scrub``.

>>> scrub("cannot connect to postgresql://etl:Hunter2@db:5432/erp")
'cannot connect to postgresql://etl:***redacted***@db:5432/erp'
"""

from __future__ import annotations

import re

from lakeforge.commands.secrets import REDACTED, redact_text

# user:password@ inside a URL anywhere in the text (redact_text only looks at a text that is a URL).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/@\s:]+:)([^/@\s]+)@")
# Tokens recognisable by their shape: Databricks PATs, Slack tokens, bearer headers, AWS keys.
_TOKENS = (
    re.compile(r"\bdapi[0-9a-f]{32}(-\d+)?\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bxapp-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def scrub(text: str) -> str:
    """``text`` with credential-looking parts replaced by ``***redacted***``."""
    text = redact_text(text)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    for pattern in _TOKENS:
        text = pattern.sub(REDACTED, text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
