"""One typed place for every LakeForge setting (environment prefix ``LAKEFORGE_``).

Where the metadata store lives is decided here, in this order:

1. ``LAKEFORGE_LAKEBASE_INSTANCE`` or ``LAKEFORGE_LAKEBASE_ENDPOINT``: real Lakebase,
   a fresh OAuth token per pooled connection.
2. ``LAKEFORGE_DATABASE_URL``: any Postgres server.
3. Neither: an embedded Postgres under ``LAKEFORGE_STATE_DIR``.

>>> settings = Settings(state_dir=Path("/tmp/lf"))
>>> settings.metadata_store
'embedded'
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lakeforge import suggest
from lakeforge.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

EngineName = Literal["auto", "embedded", "spark"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAKEFORGE_", extra="forbid", frozen=True)

    state_dir: Path = Field(
        default=PROJECT_ROOT / ".state",
        description="Folder for LakeForge's local state: embedded Postgres, lakehouse, logs.",
    )
    database_url: str | None = Field(default=None, description="Postgres URL of the metadata store.")
    lakebase_instance: str | None = Field(default=None, description="Provisioned Lakebase instance name.")
    lakebase_endpoint: str | None = Field(
        default=None,
        description="Autoscaling Lakebase endpoint, projects/P/branches/B/endpoints/E.",
    )
    lakebase_database: str = Field(default="databricks_postgres")
    lakebase_user: str | None = Field(
        default=None, description="Postgres role for Lakebase; defaults to the SDK's current user."
    )
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    # Lakebase tokens live one hour: recycle connections well before that.
    pool_max_lifetime_seconds: float = Field(default=45 * 60, gt=0, le=55 * 60)

    databricks_host: str | None = Field(
        default=None, description="Workspace URL; unset means the local workspace stands in."
    )
    engine: EngineName = Field(default="auto", description="Data engine: auto, embedded or spark.")
    lakehouse_dir: Path | None = Field(
        default=None,
        description="Where the embedded engine keeps Delta tables (default STATE_DIR/lakehouse).",
    )
    default_catalog: str = Field(default="main")

    api_host: str = Field(default="127.0.0.1")
    api_port: int = Field(default=8765, ge=1, le=65535)
    workspace_port: int = Field(default=8766, ge=1, le=65535)
    web_port: int = Field(default=3000, ge=1, le=65535)
    api_cors_origins: tuple[str, ...] = Field(
        default=("http://localhost:3000", "http://127.0.0.1:3000"),
        description="Origins allowed to call the API from a browser (the web panel).",
    )
    api_token_cache_seconds: float = Field(
        default=5.0, ge=0, le=300, description="How long the API trusts a checked token before looking again."
    )
    api_workers: int = Field(
        default=1, ge=1, le=64, description="uvicorn worker processes for `lakeforge up`."
    )

    # Orchestration: where notebooks live in the workspace and how the reconciler behaves.
    workspace_notebook_dir: str = Field(
        default="/Workspace/Shared/lakeforge/notebooks",
        description="Workspace folder holding source_to_raw, raw_to_bronze, pipeline_dlt and sync_jobs.",
    )
    wheel_path: str | None = Field(
        default=None, description="LakeForge wheel attached to job clusters, e.g. /Volumes/main/lf/whl/x.whl."
    )
    default_spark_version: str = Field(default="16.4.x-scala2.12")
    default_node_type_id: str | None = Field(
        default=None, description="Node type for profiles without one and without a policy."
    )
    notification_destination_id: str | None = Field(
        default=None,
        description="Databricks notification destination for failed runs of groups with a channel.",
    )
    pipeline_development: bool = Field(default=False, description="Create pipelines in development mode.")
    sync_schedule: str = Field(
        default="0 0/15 * * * ?", description="Quartz schedule of lakeforge-sync-jobs."
    )
    sync_schedule_timezone: str = Field(default="UTC")
    sync_delete_grace_seconds: float = Field(
        default=24 * 3600, ge=0, description="How long a removed group's job stays paused before deletion."
    )
    sync_requests_per_second: float = Field(default=20.0, gt=0, description="Reconciler API rate limit.")
    sync_lock_timeout_seconds: float = Field(default=30.0, ge=0)
    # Chat: Slack app credentials (secrets: never logged), free-text parser and run alerts.
    slack_bot_token: SecretStr | None = Field(default=None, description="Slack bot token (xoxb-...).")
    slack_signing_secret: SecretStr | None = Field(default=None, description="Slack signing secret.")
    slack_app_token: SecretStr | None = Field(default=None, description="Slack app token for Socket Mode.")
    slack_api_url: str | None = Field(default=None, description="Slack Web API base URL (ends with /).")
    panel_url: str | None = Field(default=None, description="Web panel URL used in chat links.")
    nlu_parser: Literal["rules", "llm", "auto"] = Field(
        default="rules",
        description="Free-text parser: rules (embedded), llm, or auto (llm, rules on failure).",
    )
    nlu_chat_model: str | None = Field(
        default=None, description="Chat model for the llm parser, e.g. databricks:<serving-endpoint>."
    )

    @field_validator("lakebase_endpoint")
    @classmethod
    def _endpoint_is_a_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("projects/"):
            raise ValueError("expected projects/<project>/branches/<branch>/endpoints/<endpoint>")
        return value

    @property
    def metadata_store(self) -> Literal["lakebase", "url", "embedded"]:
        if self.lakebase_instance or self.lakebase_endpoint:
            return "lakebase"
        if self.database_url:
            return "url"
        return "embedded"

    @property
    def lakehouse_path(self) -> Path:
        return self.lakehouse_dir or self.state_dir / "lakehouse"


def _explain(error: ValidationError) -> ConfigurationError:
    first = error.errors()[0]
    name = "LAKEFORGE_" + "_".join(str(part) for part in first["loc"]).upper()
    if first["type"] == "extra_forbidden":
        return ConfigurationError("is not a LakeForge setting", field=name, fix=_unknown_fix(name))
    allowed = first.get("ctx", {}).get("expected")
    fix = f"Use one of {allowed}." if allowed else "Fix the value and try again."
    return ConfigurationError(f"{first['msg']} (got {first.get('input')!r})", field=name, fix=fix)


def _unknown_fix(name: str) -> str | None:
    """The fix for a setting that does not exist, led by the setting spelled closest to it."""
    known = [f"LAKEFORGE_{field.upper()}" for field in Settings.model_fields]
    return suggest.did_you_mean(
        name, known, "Remove it or check its spelling; docs/settings.md lists every setting."
    )


def _unknown_environment_settings() -> list[str]:
    known = {f"LAKEFORGE_{name.upper()}" for name in Settings.model_fields}
    return sorted(key for key in os.environ if key.startswith("LAKEFORGE_") and key not in known)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning validation failures into one clear sentence."""
    unknown = _unknown_environment_settings()
    if unknown:
        raise ConfigurationError("is not a LakeForge setting", field=unknown[0], fix=_unknown_fix(unknown[0]))
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise _explain(error) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
