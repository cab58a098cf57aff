"""A live LakeForge API per test: uvicorn on a free 127.0.0.1 port in a thread, over a fresh database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakeforge.metadata.db import Database
from lakeforge.settings import Settings
from tests.api.api_support import Api, launch


@pytest.fixture
def api(settings: Settings, db: Database) -> Iterator[Api]:
    with launch(settings, db) as live:
        yield live
