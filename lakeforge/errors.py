"""Errors that teach: every LakeForge error names what is wrong and how to fix it."""

from __future__ import annotations

from lakeforge.fixes import Fix, render


class LakeForgeError(Exception):
    """Base error. ``field`` names the offending input, ``fix`` says what to do next.

    A ``Fix`` that names commands is kept whole (``fix_for`` words it for a surface); ``fix``
    is always its plain text, so every reader of ``fix`` gets a string.
    """

    def __init__(self, message: str, *, field: str | None = None, fix: str | Fix | None = None) -> None:
        self.message = message
        self.field = field
        self.fix = render(fix)
        self.structured_fix = fix
        super().__init__(self.sentence())

    def fix_for(self, surface: str | None, channel: str | None = None) -> str | None:
        """The fix worded for a reader on ``surface`` (an Actor's surface and channel)."""
        return render(self.structured_fix, surface, channel)

    def sentence(self, surface: str | None = None, channel: str | None = None) -> str:
        """The error as one readable sentence (what, where, and the fix)."""
        text = f"{self.field}: {self.message}" if self.field else self.message
        fix = self.fix_for(surface, channel)
        if fix:
            text = f"{text.rstrip('.')}. {fix}"
        return text


class ConfigurationError(LakeForgeError):
    """A setting is missing, malformed or points at something unusable."""


class DatabaseUnavailableError(ConfigurationError):
    """The metadata store could not be reached with the configured settings."""


class UnavailableError(LakeForgeError):
    """Something LakeForge works with (a Databricks workspace, the local workspace) cannot be
    reached right now. Nothing was changed; the same request can be sent again once it is back.
    ``field`` names the setting that points at it."""


class MigrationError(LakeForgeError):
    """A migration cannot be applied (edited after apply, failed SQL, ...)."""
