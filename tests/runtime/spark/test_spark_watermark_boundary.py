"""The watermark boundary on the spark engine: extraction is the same, Bronze and Silver are Spark's."""

from __future__ import annotations

from tests.runtime.boundary import late_boundary_row_lands_once


def test_jdbc_late_boundary_row_lands_once_on_spark(settings, db, source_db) -> None:
    assert settings.engine == "spark"
    late_boundary_row_lands_once(settings, db, source_db)
