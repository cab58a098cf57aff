"""Errors that teach: every LakeForge error names what is wrong and how to fix it."""

from __future__ import annotations


class LakeForgeError(Exception):
    """Base error. ``field`` names the offending input, ``fix`` says what to do next."""

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None) -> None:
        self.message = message
        self.field = field
        self.fix = fix
        super().__init__(self.sentence())

    def sentence(self) -> str:
        """The error as one readable sentence (what, where, and the fix)."""
        text = f"{self.field}: {self.message}" if self.field else self.message
        if self.fix:
            text = f"{text.rstrip('.')}. {self.fix}"
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
