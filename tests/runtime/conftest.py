"""Source systems for runtime tests: a real Postgres database and a real paged HTTP API."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import psycopg
import pytest

from tests.runtime.paged_api import PagedApi


@pytest.fixture
def source_db(pg_admin_url: str, monkeypatch) -> Iterator[dict]:
    """A separate real Postgres database acting as the source system, its password a secret ref."""
    name = f"src_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    info = psycopg.conninfo.conninfo_to_dict(pg_admin_url)
    url = psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    monkeypatch.setenv("LF_SECRET_SRC__PASSWORD", info.get("password") or "")
    connection = {
        "host": info.get("host"),
        "port": info.get("port") or 5432,
        "database": name,
        "user": info.get("user") or "postgres",
        "password": "{{secrets/src/password}}",
    }
    yield {"url": url, "connection": connection}
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORMAT)".replace("FORMAT", "FORCE"))


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PagedApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    PagedApi.records = [{"id": i, "updated": f"2026-01-{i:02d}"} for i in range(1, 6)]
    PagedApi.fail_page = None
    PagedApi.seen = []
    PagedApi.inclusive = False
    yield f"http://127.0.0.1:{server.server_address[1]}/orders"
    server.shutdown()
    server.server_close()
