"""Can a batch be rerun from Raw? Checked before a rerun is queued, so a refusal changes nothing.

A rerun of batch N replays N's Raw files. When they are gone, a source that cannot land exactly
the same data again (a database or an API answers with today's rows) would load new rows under
N's id, so the rerun is refused here, and the Raw zone refuses it too (``zones.raw``) for the
cases this check cannot see: on Databricks the Raw volume is not this process's to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lakeforge.commands import launch
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Connection, Database


def raw_replay_refusal(
    db: Database, conn: Connection, batch: dict[str, Any], zones: Sequence[str] | None
) -> tuple[str, str] | None:
    """(why, fix) when rerunning ``batch`` (a ``batch_run`` row) from Raw would extract new data."""
    if zones is not None and "raw" not in zones:
        return None  # Bronze reads Raw's manifest and fails on its own when it is gone
    settings = launch.current_settings()
    if launch.databricks_configured(settings):
        return None  # batches run in the workspace; its Raw zone guards the rerun
    from lakeforge.runtime.config import load_group
    from lakeforge.runtime.extractors.base import MANIFEST
    from lakeforge.runtime.registry import extractor_for
    from lakeforge.runtime.zones import raw

    data_batch = int(batch["rerun_of"] or batch["batch_id"])
    sources = [batch["source_name"]] if batch["source_name"] else None
    try:
        specs = load_group(db, batch["group_name"], sources).sources
    except LakeForgeError:
        return None  # a source removed since: the runner reports it in the run log
    lost = []
    for spec in specs:
        extractor = extractor_for(spec.source.extractor, spec.source.format)
        if raw.replays_exactly(extractor) or not raw.landed_before(conn, spec.name, data_batch):
            continue
        if not (raw.batch_dir(settings, spec, data_batch) / MANIFEST).is_file():
            lost.append((spec.name, extractor.name))
    if not lost:
        return None
    name, kind = lost[0]
    return raw.cannot_replay(name, kind, data_batch), raw.CANNOT_REPLAY_FIX.format(batch=data_batch)
