"""The ``WorkspaceClient`` LakeForge talks to: a real workspace, or the local stand-in.

>>> client = workspace_client(settings)   # LAKEFORGE_DATABRICKS_HOST, else the SDK's own config
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlparse

from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config

from lakeforge.errors import UnavailableError
from lakeforge.settings import Settings

# The local workspace accepts DATABRICKS_TOKEN when set, else this well-known value.
LOCAL_TOKEN = "lakeforge-local"  # noqa: S105 - not a secret
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def local_workspace_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.workspace_port}"


def _check_listening(url: str) -> None:
    """Fail fast on a local workspace that is not running (the SDK would retry for minutes)."""
    parts = urlparse(url)
    if parts.hostname not in _LOCAL_HOSTS:
        return
    try:
        socket.create_connection((parts.hostname, parts.port or 80), timeout=2).close()
    except OSError:
        raise UnavailableError(
            f"no local workspace is listening on {url}",
            field="LAKEFORGE_WORKSPACE_PORT",
            fix="Start it (`lakeforge up` or `lakeforge workspace serve`) or set LAKEFORGE_DATABRICKS_HOST.",
        ) from None


def workspace_client(
    settings: Settings, *, host: str | None = None, token: str | None = None, **config: Any
) -> WorkspaceClient:
    """A client for ``host`` if given, the configured Databricks host, the SDK's environment
    (``DATABRICKS_HOST`` / a config profile, e.g. inside a Databricks job), or the local workspace.
    ``config`` passes further SDK settings, such as ``retry_timeout_seconds``."""
    if host:
        _check_listening(host)
        token = token or os.environ.get("DATABRICKS_TOKEN") or LOCAL_TOKEN
        return _client(host=host, token=token, auth_type="pat", **config)
    if settings.databricks_host:
        # Credentials come from the SDK's usual chain (env, config profile, OAuth), never settings.
        return _client(host=settings.databricks_host, **config)
    if os.environ.get("DATABRICKS_HOST") or os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return _client(**config)
    url = local_workspace_url(settings)
    _check_listening(url)
    local_token = os.environ.get("DATABRICKS_TOKEN") or LOCAL_TOKEN
    return _client(host=url, token=local_token, auth_type="pat", **config)


def _client(**config: Any) -> WorkspaceClient:
    # Through a Config: WorkspaceClient's own keywords leave out settings such as timeouts.
    return WorkspaceClient(config=Config(**config))
