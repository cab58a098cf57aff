"""Shared fixtures: one real Postgres server for the whole run, a fresh migrated database per test.

Each test gets its own database cloned from a migrated template (``CREATE DATABASE ...
TEMPLATE``), which costs a few milliseconds and keeps tests independent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lakeforge.metadata.db import Database, open_database
from lakeforge.metadata.embedded import EmbeddedPostgres
from lakeforge.metadata.migrate import migrate
from lakeforge.settings import Settings, load_settings

TEMPLATE = "lakeforge_test_template"

# Tests never talk to a real Databricks workspace or read the developer's settings.
for _key in list(os.environ):
    if _key.startswith(("DATABRICKS_", "LAKEFORGE_")):
        del os.environ[_key]


def _with_database(url: str, name: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=name)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A real Postgres server (the embedded one) for the whole test run; deleted at the end."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pgstate"))
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def pg_admin_url(pg_server: EmbeddedPostgres) -> str:
    url = pg_server.url()
    assert url is not None
    return _with_database(url, "postgres")


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    settings = load_settings(
        database_url=_with_database(pg_admin_url, TEMPLATE),
        state_dir=tmp_path_factory.mktemp("template-state"),
    )
    with open_database(settings) as db:
        migrate(db)
    return TEMPLATE


@pytest.fixture
def database_url(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """URL of a fresh, migrated database for this test only."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template_database}")
    yield _with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: its own database and its own state folder (lakehouse, files)."""
    return load_settings(database_url=database_url, state_dir=tmp_path / "state", engine="embedded")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    with open_database(settings) as database:
        yield database


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """ONE warm local Spark session with Delta Lake, shared by every Spark test (starting one is slow).

    Tests that use it are marked ``spark`` automatically (``-m "not spark"`` skips them).
    """
    pytest.importorskip("pyspark")
    from lakeforge.runtime.spark.session import get_or_create_session

    spark = get_or_create_session(load_settings(state_dir=tmp_path_factory.mktemp("spark-state")))
    yield spark
    spark.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "spark_session" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
