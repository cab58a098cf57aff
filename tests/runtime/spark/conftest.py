"""Spark tests share the one warm session (``spark_session`` in ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakeforge.settings import Settings, load_settings


@pytest.fixture
def settings(spark_session: Any, database_url: str, tmp_path: Path) -> Settings:
    """Like the suite's ``settings``, on the spark engine (and with the session already warm)."""
    return load_settings(database_url=database_url, state_dir=tmp_path / "state", engine="spark")


@pytest.fixture
def engine(settings: Settings) -> Any:
    from lakeforge.runtime.spark import SparkEngine

    return SparkEngine(settings)
