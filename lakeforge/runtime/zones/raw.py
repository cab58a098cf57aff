"""Raw: the source's data as is, immutable, one folder per batch, with name/size/checksum logged.

``<landing root>/<source>/batch_id=<N>/`` holds the landed files and, written last, a manifest
(``_lakeforge_manifest.json``). A batch whose manifest exists is complete; a rerun reuses it
rather than asking the source again, so every zone replays exactly the data batch N saw.
When a batch's Raw landed once and its folder is gone, only an extractor that can land exactly
the same data again (``replays_exactly``, e.g. files from the ledger) may fill it; for the others
(a database or an API answers with today's rows) the table fails and nothing is read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lakeforge.metadata.db import Connection
from lakeforge.metadata.repository import WATERMARKS, Repository
from lakeforge.runtime.config import SourceSpec
from lakeforge.runtime.extractors.base import (
    MANIFEST,
    ExtractContext,
    Extractor,
    ExtractResult,
    clear_dir,
)
from lakeforge.runtime.registry import extractor_for
from lakeforge.runtime.zones.common import RunContext, TableOutcome, ZoneError
from lakeforge.settings import Settings


def landing_root(settings: Settings, spec: SourceSpec) -> Path:
    if spec.raw is not None and spec.raw.landing_path:
        return Path(spec.raw.landing_path)
    table = spec.bronze_table()
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        # A Unity Catalog volume named raw next to the bronze table.
        return Path("/Volumes") / table.catalog / table.schema / "raw" / spec.name
    return Path(settings.lakehouse_path) / "_volumes" / table.catalog / table.schema / "raw" / spec.name


def batch_dir(settings: Settings, spec: SourceSpec, batch_id: int) -> Path:
    return landing_root(settings, spec) / f"batch_id={batch_id}"


def landed_before(conn: Connection, source: str, data_batch: int) -> bool:
    """True when Raw of ``source`` succeeded once for data batch ``data_batch`` (in the batch itself
    or in one of its reruns): its rows reached Raw and the source's incremental state moved on."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM lakeforge_log.table_run t"
        " JOIN lakeforge_log.batch_run b ON b.batch_id = t.batch_id"
        " WHERE (b.batch_id = %s OR b.rerun_of = %s) AND t.table_name = %s AND t.status = 'succeeded')"
        " AS landed",
        [data_batch, data_batch, f"raw:{source}"],
    ).fetchone()
    return bool(row and row["landed"])


def replays_exactly(extractor: Extractor) -> bool:
    return bool(getattr(extractor, "replays_exactly", False))


def cannot_replay(source: str, extractor: str, data_batch: int) -> str:
    return (
        f"the Raw files of batch {data_batch} for source {source} are gone, and a {extractor} source "
        f"cannot be read again as it was: extracting now would load today's rows as batch {data_batch}"
    )


CANNOT_REPLAY_FIX = (
    "Use run_now for a new batch (batch {batch}'s rows stay in Bronze and Silver), or restore the "
    "Raw folder batch_id={batch} and rerun."
)


def read_manifest(ctx: RunContext, spec: SourceSpec, batch_id: int) -> ExtractResult:
    path = batch_dir(ctx.settings, spec, batch_id) / MANIFEST
    if not path.is_file():
        raise ZoneError(
            f"Raw has no complete batch {batch_id} for source {spec.name}",
            field="batch_id",
            # A run starting at Bronze has landed nothing: say how to get Raw, on every surface.
            fix="Bronze reads the Raw files its batch landed: run the zones from raw (in a job, its"
            " source_to_raw task first), or rerun a batch whose Raw landed from Bronze"
            " (`lakeforge rerun N --zones bronze,silver,gold`).",
        )
    return ExtractResult.from_json(path.read_text())


def run_raw(ctx: RunContext, spec: SourceSpec, table_id: int) -> TableOutcome:
    batch = ctx.data_batch_id
    folder = batch_dir(ctx.settings, spec, batch)
    if (folder / MANIFEST).is_file():
        result = ExtractResult.from_json((folder / MANIFEST).read_text())
        with ctx.log.step(table_id, "reuse_raw", path=str(folder)) as step:
            step["rows_out"] = sum(f.rows or 0 for f in result.files) or None
            step["files"] = [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in result.files]
        return TableOutcome(bytes=result.bytes, details={"reused": True, "files": len(result.files)})

    extractor = extractor_for(spec.source.extractor, spec.source.format)
    with ctx.db.connection() as conn:
        replay = landed_before(conn, spec.name, batch)
        if replay and not replays_exactly(extractor):
            raise ZoneError(
                cannot_replay(spec.name, extractor.name, batch),
                field="batch_id",
                fix=CANNOT_REPLAY_FIX.format(batch=batch),
            )
        watermark = Repository(conn, WATERMARKS).find(source_id=spec.id)
        ledger = conn.execute(
            "SELECT path, size_bytes, mtime, sha256 FROM lakeforge_log.file_ledger WHERE source_name = %s"
            " AND batch_id <> %s",
            [spec.name, batch],
        ).fetchall()
        ingested = {(r["path"], int(r["size_bytes"]), float(r["mtime"])) for r in ledger}
        digests = {(r["path"], int(r["size_bytes"]), r["sha256"]) for r in ledger if r["sha256"]}
        retaken = {
            r["path"]
            for r in conn.execute(
                "SELECT path FROM lakeforge_log.file_ledger WHERE source_name = %s AND batch_id = %s",
                [spec.name, batch],
            ).fetchall()
        }
    clear_dir(folder)
    context = ExtractContext(
        spec=spec,
        batch_id=batch,
        raw_dir=folder,
        secrets=ctx.secrets,
        watermark=watermark,
        ingested_files=ingested,
        rerun_files=retaken,
        ingested_digests=digests,
        replay=replay,
    )
    with ctx.log.step(table_id, "extract", extractor=extractor.name, path=str(folder)) as step:
        result = extractor.extract(context)
        rows = [f.rows for f in result.files if f.rows is not None]
        step["rows_out"] = sum(rows) if rows else None
        step["files"] = [
            {"name": f.name, "size": f.size, "sha256": f.sha256, "source": f.source_path}
            for f in result.files
        ]
        step["bytes"] = result.bytes
        step.update({k: v for k, v in result.details.items() if k != "files"})
    # The manifest is written last: its presence means the batch landed completely.
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(result.to_json())
    tmp.replace(folder / MANIFEST)
    _commit_state(ctx, spec, result)
    return TableOutcome(
        rows_out=sum(rows) if rows else None, bytes=result.bytes, details={"files": len(result.files)}
    )


def _commit_state(ctx: RunContext, spec: SourceSpec, result: ExtractResult) -> None:
    """Save the file ledger and watermark in one transaction, only now that Raw is complete."""
    batch = ctx.data_batch_id
    with ctx.db.connection() as conn, conn.transaction():
        conn.execute(
            "DELETE FROM lakeforge_log.file_ledger WHERE source_name = %s AND batch_id = %s",
            [spec.name, batch],
        )
        for f in result.files:
            if f.source_path is None or f.source_mtime is None:
                continue
            conn.execute(
                "INSERT INTO lakeforge_log.file_ledger (source_id, source_name, batch_id, path, size_bytes,"
                " mtime, sha256, raw_path) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (source_name, path, size_bytes, mtime) DO UPDATE SET"
                " batch_id = EXCLUDED.batch_id, sha256 = EXCLUDED.sha256, raw_path = EXCLUDED.raw_path",
                [spec.id, spec.name, batch, f.source_path, f.size, f.source_mtime, f.sha256, f.path],
            )
        if result.watermark is not None:
            wm = result.watermark
            conn.execute(
                "INSERT INTO lakeforge.watermark_state (source_id, watermark_column, high_value, value_type,"
                " cursor, batch_id, updated_at) VALUES (%s, %s, %s, %s, %s, %s, now())"
                " ON CONFLICT (source_id) DO UPDATE SET"
                " watermark_column = EXCLUDED.watermark_column, high_value = EXCLUDED.high_value,"
                " value_type = EXCLUDED.value_type, cursor = EXCLUDED.cursor, batch_id = EXCLUDED.batch_id,"
                " updated_at = now()",
                [
                    spec.id,
                    spec.source.watermark_column,
                    wm.high_value,
                    wm.value_type,
                    json.dumps(wm.cursor) if wm.cursor is not None else None,
                    batch,
                ],
            )
