"""Connections to the metadata store: one pooled ``Database`` whichever server is behind it.

>>> db = open_database(get_settings())
>>> with db.connection() as conn:
...     conn.execute("SELECT 1").fetchone()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool

from lakeforge import jsoncodec
from lakeforge.errors import DatabaseUnavailableError
from lakeforge.settings import Settings

Connection = psycopg.Connection[dict[str, Any]]


class Database:
    """A connection pool plus the URL (without secrets) it was opened from."""

    def __init__(self, pool: ConnectionPool[Connection], description: str) -> None:
        self.pool = pool
        self.description = description

    @contextmanager
    def connection(self, *, autocommit: bool = False) -> Iterator[Connection]:
        """A pooled connection; the block runs in one transaction, committed on success.

        With ``autocommit`` every statement commits on its own and no BEGIN or COMMIT is sent:
        for work that reads, then writes at most one statement, two round trips fewer.
        """
        with self.pool.connection() as conn:
            if not autocommit:
                yield conn
                return
            conn.autocommit = True
            try:
                yield conn
            finally:
                if not conn.closed:
                    conn.autocommit = False  # the pool hands out transactional connections

    def dedicated_connection(self) -> Connection:
        """An autocommit connection outside the pool, made like the pool's (Lakebase: a fresh
        token), for work that holds a connection for long: LISTEN, session advisory locks."""
        pool = self.pool
        conninfo = pool.conninfo() if callable(pool.conninfo) else pool.conninfo
        kwargs = pool.kwargs() if callable(pool.kwargs) else (pool.kwargs or {})
        return pool.connection_class.connect(conninfo, autocommit=True, **kwargs)

    @contextmanager
    def held_connection(self) -> Iterator[Connection]:
        """A transactional connection outside the pool, set up like the pool's, closed after the
        block: for a batch's runner, which holds one for the batch's whole life (also while it
        waits its turn), so that batches waiting in a group's queue never use up the pool the
        running batch writes its run log through."""
        conn = self.dedicated_connection()
        try:
            _configure(conn)
            conn.autocommit = False
            yield conn
            if not conn.closed:
                conn.commit()
        finally:
            conn.close()

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def redact(url: str) -> str:
    """The URL with any password removed, for messages and logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo("", **{k: v for k, v in info.items() if v is not None})


def _configure(conn: Connection) -> None:
    conn.execute("SET search_path TO lakeforge, lakeforge_log, public")
    conn.commit()
    # json/jsonb parameters and columns through orjson: audit rows, plans and configs are JSON.
    set_json_dumps(jsoncodec.dumps, conn)
    set_json_loads(jsoncodec.loads, conn)


def open_pool(
    conninfo: str,
    settings: Settings,
    *,
    connection_class: type[Connection] | None = None,
    kwargs: dict[str, Any] | None = None,
) -> ConnectionPool[Connection]:
    pool: ConnectionPool[Connection] = ConnectionPool(
        conninfo,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        max_lifetime=settings.pool_max_lifetime_seconds,
        kwargs={"row_factory": dict_row, "connect_timeout": 10, **(kwargs or {})},
        connection_class=connection_class or psycopg.Connection,
        configure=_configure,
        open=False,
        name="lakeforge",
    )
    pool.open(wait=False)
    return pool


def check_reachable(pool: ConnectionPool[Connection], description: str, setting: str) -> None:
    """Fail with one clear sentence when the store cannot be reached."""
    try:
        with pool.connection(timeout=15) as conn:
            conn.execute("SELECT 1")
    except Exception as error:
        pool.close()
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseUnavailableError(
            f"cannot reach the metadata store at {description} ({reason})",
            field=setting,
            fix="Check the host, port and credentials, or unset it to use the embedded Postgres.",
        ) from None


def open_database(settings: Settings) -> Database:
    """Open the metadata store chosen by ``settings`` (Lakebase, a URL, or embedded Postgres)."""
    if settings.metadata_store == "lakebase":
        from lakeforge.metadata.lakebase import open_lakebase_pool

        pool, description = open_lakebase_pool(settings)
        setting = (
            "LAKEFORGE_LAKEBASE_INSTANCE" if settings.lakebase_instance else "LAKEFORGE_LAKEBASE_ENDPOINT"
        )
    elif settings.metadata_store == "url":
        assert settings.database_url is not None
        try:
            description = redact(settings.database_url)
            # Probe once first, so a wrong URL fails fast with the server's own reason.
            psycopg.connect(settings.database_url, connect_timeout=5).close()
            pool = open_pool(settings.database_url, settings)
        except psycopg.OperationalError as error:
            reason = str(error).strip().splitlines()[0]
            raise DatabaseUnavailableError(
                f"cannot reach the metadata store at {redact(settings.database_url)} ({reason})",
                field="LAKEFORGE_DATABASE_URL",
                fix="Check the host, port and credentials, or unset it to use the embedded Postgres.",
            ) from None
        except psycopg.ProgrammingError as error:
            raise DatabaseUnavailableError(
                f"is not a valid Postgres URL ({error})",
                field="LAKEFORGE_DATABASE_URL",
                fix="Use the form postgresql://USER:PASSWORD@HOST:PORT/DATABASE.",
            ) from None
        setting = "LAKEFORGE_DATABASE_URL"
    else:
        from lakeforge.metadata.embedded import EmbeddedPostgres

        url = EmbeddedPostgres(settings.state_dir).start()
        description = f"embedded Postgres ({redact(url)})"
        pool = open_pool(url, settings)
        setting = "LAKEFORGE_STATE_DIR"
    check_reachable(pool, description, setting)
    return Database(pool, description)
