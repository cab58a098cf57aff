"""Delta tables: a full snapshot, or the change data feed since the last good batch.

``location`` is a path or a three-part name (resolved under the local lakehouse folder).
Incremental loads read the change data feed (``delta.enableChangeDataFeed``) from the version
after the saved watermark, keeping inserts and post-update images.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.extractors.base import ExtractContext, ExtractResult, WatermarkUpdate


def _location(ctx: ExtractContext) -> str:
    location = ctx.source.location
    if "/" not in location and location.count(".") == 2:
        from lakeforge.settings import get_settings

        root = Path(ctx.source.format_options.get("lakehouse_path") or get_settings().lakehouse_path)
        return str(root.joinpath(*location.lower().split(".")))
    return location


def _plain_strings(table: pa.Table) -> pa.Table:
    """delta-rs hands out string views, which many Arrow kernels cannot filter yet."""
    fields = [
        pa.field(f.name, pa.string() if pa.types.is_string_view(f.type) else f.type, f.nullable)
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


class DeltaExtractor:
    name = "delta"

    def extract(self, ctx: ExtractContext) -> ExtractResult:
        location = _location(ctx)
        try:
            table = DeltaTable(location)
        except TableNotFoundError:
            raise LakeForgeError(
                f"no Delta table at {ctx.source.location}",
                field="location",
                fix="Check the path or three-part name.",
            ) from None
        version = table.version()
        if ctx.source.load_mode == "incremental":
            start = int(ctx.watermark.high_value) + 1 if ctx.watermark and ctx.watermark.high_value else 0
            if start > version:
                return ExtractResult(
                    raw_format="parquet", watermark=WatermarkUpdate(str(version), "delta_version")
                )
            try:
                reader = table.load_cdf(starting_version=start, ending_version=version)
                changes = _plain_strings(pa.RecordBatchReader.from_stream(reader).read_all())
            except DeltaError as error:
                raise LakeForgeError(
                    f"cannot read the change data feed ({error})",
                    field="load_mode",
                    fix="Enable delta.enableChangeDataFeed on the table, or use load_mode full.",
                ) from None
            keep = pc.is_in(changes["_change_type"], value_set=pa.array(["insert", "update_postimage"]))
            data = changes.filter(keep)
            batches = data.to_batches()
            landed = [ctx.land_batches("part-0000.parquet", batches, data.schema)]
        else:
            dataset = table.to_pyarrow_dataset()
            landed = [ctx.land_batches("part-0000.parquet", dataset.to_batches(), dataset.schema)]
        return ExtractResult(
            raw_format="parquet",
            files=landed,
            watermark=WatermarkUpdate(str(version), "delta_version"),
            details={"version": version},
        )
