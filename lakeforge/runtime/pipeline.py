"""The group's Bronze → Silver → Gold pipeline, run by the chosen engine outside Lakeflow/DLT.

On Databricks the group's declarative pipeline does this with the platform's expectations; the
local workspace calls :func:`run_pipeline_update` for a pipeline task, with the same metadata.
"""

from __future__ import annotations

import threading

from lakeforge.metadata import models
from lakeforge.metadata.db import Database
from lakeforge.runtime.config import load_group
from lakeforge.runtime.engine import get_engine
from lakeforge.runtime.runner import resolve_engine_name, run_batch
from lakeforge.runtime.tasks import latest_batch_with
from lakeforge.settings import Settings


def run_pipeline_update(
    settings: Settings,
    db: Database,
    group: str,
    batch_id: int | None = None,
    full_refresh: bool = False,
    engine: str | None = None,
    cancel: threading.Event | None = None,
) -> models.BatchRun:
    """Run Silver and Gold for ``batch_id`` (default: the newest batch whose Bronze succeeded).

    ``full_refresh`` empties the Silver tables (and their quarantines) and replays every batch
    found in Bronze, oldest first, before Gold is rebuilt.
    """
    if full_refresh:
        spec = load_group(db, group)
        data_engine = get_engine(resolve_engine_name(engine, spec.group.engine, settings), settings)
        batches: set[int] = set()
        for source in spec.sources:
            silver = source.silver_table()
            if silver is not None:
                data_engine.delete(silver, "true")
                data_engine.delete(silver.sibling("_quarantine"), "true")
            bronze = source.bronze_table()
            if data_engine.table_exists(bronze):
                found = data_engine.to_arrow(data_engine.sql(f"SELECT DISTINCT _batch_id FROM {bronze.name}"))
                batches.update(int(v) for v in found.column(0).to_pylist())
        last = None
        for batch in sorted(batches):
            last = run_batch(
                settings, db, group, zones=["silver"], batch_id=batch, engine=engine, cancel=cancel
            )
        target = batch_id or (last.batch_id if last else None)
        return run_batch(settings, db, group, zones=["gold"], batch_id=target, engine=engine, cancel=cancel)
    if batch_id is None:
        batch_id = latest_batch_with(db, group, "bronze", None)
    return run_batch(
        settings, db, group, zones=["silver", "gold"], batch_id=batch_id, engine=engine, cancel=cancel
    )
