"""Real Lakebase: Postgres whose password is a one-hour OAuth token minted by the Databricks SDK.

Every new pooled connection asks for a fresh token, and the pool recycles connections
before the hour is up (``pool_max_lifetime_seconds``), so a long-running API never
presents an expired password.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from lakeforge.errors import ConfigurationError
from lakeforge.metadata.db import Connection, open_pool
from lakeforge.settings import Settings

TokenMinter = Callable[[], str]


def token_connection_class(mint_token: TokenMinter) -> type[Connection]:
    """A psycopg connection class that puts a freshly minted token in as the password."""

    class TokenConnection(psycopg.Connection):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
            kwargs["password"] = mint_token()
            return super().connect(conninfo, **kwargs)

    return TokenConnection  # type: ignore[return-value]


def _sdk_minter(settings: Settings) -> tuple[TokenMinter, str, str]:
    """Build a token minter plus (host, user) from the Databricks SDK's ambient auth."""
    from databricks.sdk import WorkspaceClient

    client = WorkspaceClient()
    user = settings.lakebase_user or client.current_user.me().user_name or ""
    if settings.lakebase_instance:
        instance = client.database.get_database_instance(name=settings.lakebase_instance)
        host = instance.read_write_dns or ""
        names = [settings.lakebase_instance]

        def mint() -> str:
            credential = client.database.generate_database_credential(
                request_id=str(uuid.uuid4()), instance_names=names
            )
            return credential.token or ""

    else:
        endpoint_name = settings.lakebase_endpoint or ""
        endpoint = client.postgres.get_endpoint(name=endpoint_name)
        hosts = getattr(getattr(endpoint, "status", None), "hosts", None)
        host = getattr(hosts, "host", "") or ""

        def mint() -> str:
            credential = client.postgres.generate_database_credential(endpoint=endpoint_name)
            return credential.token or ""

    if not host:
        raise ConfigurationError(
            "the Lakebase instance has no host yet (is it still starting?)",
            field="LAKEFORGE_LAKEBASE_INSTANCE"
            if settings.lakebase_instance
            else "LAKEFORGE_LAKEBASE_ENDPOINT",
            fix="Wait until it is AVAILABLE in the workspace, then retry.",
        )
    return mint, host, user


def lakebase_pool(
    settings: Settings,
    *,
    host: str,
    user: str,
    mint_token: TokenMinter,
    port: int = 5432,
    sslmode: str = "require",
) -> ConnectionPool[Connection]:
    conninfo = psycopg.conninfo.make_conninfo(
        host=host, port=port, dbname=settings.lakebase_database, user=user, sslmode=sslmode
    )
    return open_pool(conninfo, settings, connection_class=token_connection_class(mint_token))


def open_lakebase_pool(settings: Settings) -> tuple[ConnectionPool[Connection], str]:
    mint, host, user = _sdk_minter(settings)
    pool = lakebase_pool(settings, host=host, user=user, mint_token=mint)
    return pool, f"Lakebase {host}/{settings.lakebase_database} as {user}"
