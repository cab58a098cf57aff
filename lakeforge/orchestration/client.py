"""The ``WorkspaceClient`` LakeForge talks to: a real workspace, or the local stand-in.

>>> client = workspace_client(settings)   # LAKEFORGE_DATABRICKS_HOST, else the SDK's own config
"""

from __future__ import annotations

import os

from databricks.sdk import WorkspaceClient

from lakeforge.settings import Settings

# The local workspace accepts any bearer token; this one only keeps the SDK's auth chain quiet.
LOCAL_TOKEN = "lakeforge-local"  # noqa: S105 - not a secret


def local_workspace_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.workspace_port}"


def workspace_client(
    settings: Settings, *, host: str | None = None, token: str | None = None
) -> WorkspaceClient:
    """A client for ``host`` if given, the configured Databricks host, the SDK's environment
    (``DATABRICKS_HOST`` / a config profile, e.g. inside a Databricks job), or the local workspace."""
    if host:
        token = token or os.environ.get("DATABRICKS_TOKEN") or LOCAL_TOKEN
        return WorkspaceClient(host=host, token=token, auth_type="pat")
    if settings.databricks_host:
        # Credentials come from the SDK's usual chain (env, config profile, OAuth), never settings.
        return WorkspaceClient(host=settings.databricks_host)
    if os.environ.get("DATABRICKS_HOST") or os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return WorkspaceClient()
    # The local workspace's token: whatever `lakeforge workspace serve` was given via DATABRICKS_TOKEN.
    local_token = os.environ.get("DATABRICKS_TOKEN") or LOCAL_TOKEN
    return WorkspaceClient(host=local_workspace_url(settings), token=local_token, auth_type="pat")
