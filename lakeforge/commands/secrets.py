"""Credentials are secret references (``{{secrets/scope/key}}``), never values.

Used twice: to refuse inline credentials in intents, and to redact anything that looks like a
credential before it reaches the audit log.
"""

from __future__ import annotations

import functools
import re
from typing import Any

SECRET_REF = re.compile(r"^\{\{secrets/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\}\}$")
# Option names whose values are credentials.
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|pwd|secret|token|api[_-]?key|private[_-]?key|credential|auth)", re.I
)
# Credentials inlined in a URL or connection string: user:pass@host, password=..., token=...
_URL_USERINFO = re.compile(r"^[a-z][a-z0-9+.:-]*://[^/@\s:]+:([^/@\s]+)@", re.I)
_INLINE_PARAM = re.compile(r"(pass(word|wd)?|pwd|secret|token|api[_-]?key)\s*=\s*([^;&\s]+)", re.I)
REDACTED = "***redacted***"


def is_secret_ref(value: object) -> bool:
    return isinstance(value, str) and bool(SECRET_REF.match(value))


def inline_secret_in_text(text: str) -> str | None:
    """The reason ``text`` (a location or URL) holds a credential, or None."""
    match = _URL_USERINFO.match(text)
    if match and not is_secret_ref(match.group(1)):
        return "contains a password in the URL (user:password@host)"
    for param in _INLINE_PARAM.finditer(text):
        if not is_secret_ref(param.group(3)):
            return f"contains an inline {param.group(1).lower()}"
    return None


def inline_secrets_in_options(options: dict[str, Any]) -> list[str]:
    """Names of options that hold a credential value instead of a secret reference."""
    bad = []
    for key, value in options.items():
        if (isinstance(value, str) and _SECRET_KEY.search(key) and not is_secret_ref(value)) or (
            isinstance(value, str) and inline_secret_in_text(value)
        ):
            bad.append(key)
        elif isinstance(value, dict):
            bad.extend(f"{key}.{inner}" for inner in inline_secrets_in_options(value))
    return bad


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with credential-looking strings replaced, for logs and audit rows."""
    if isinstance(value, dict):
        return {k: _redact_item(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_item(v, key) for v in value]
    if isinstance(value, str):
        return _redact_string(value, key)
    return value


def _redact_item(value: Any, key: str) -> Any:
    # Every command's intent, plan and answer pass through here: most items are scalars, which
    # are answered without another call into ``redact``.
    if value is None or value.__class__ in (bool, int, float):
        return value
    if value.__class__ is str:
        return _redact_string(value, key)
    return redact(value, key)


def _redact_string(value: str, key: str) -> str:
    if key and _is_secret_key(key) and not is_secret_ref(value):
        return REDACTED
    return redact_text(value)


def is_secret_name(key: str) -> bool:
    """Whether an option or column called ``key`` holds credentials (password, token, ...)."""
    return _is_secret_key(key)


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    # Audit rows repeat the same few hundred field names: match each name once.
    return bool(_SECRET_KEY.search(key))


def redact_text(text: str) -> str:
    # Both patterns need "=" or "@": most texts (names, paths, plans) have neither.
    if "=" not in text and "@" not in text:
        return text

    def param(match: re.Match[str]) -> str:
        if is_secret_ref(match.group(3)):
            return match.group(0)
        return f"{match.group(1)}={REDACTED}"

    text = _INLINE_PARAM.sub(param, text)
    match = _URL_USERINFO.match(text)
    if match and not is_secret_ref(match.group(1)):
        text = text[: match.start(1)] + REDACTED + text[match.end(1) :]
    return text
