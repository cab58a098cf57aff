"""Rows the data-quality rules quarantined: the newest of ``<silver table>_quarantine``.

The table is read through the embedded engine, so the API finds it exactly where the data plane
wrote it (``EmbeddedEngine.table_location``) and reads Delta files the way the runs do.
"""

from __future__ import annotations

import base64
import math
import threading
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa

from api.models import QuarantineColumn, QuarantineSample
from api.problems import ApiProblem
from lakeforge.metadata.db import Connection
from lakeforge.runtime.engine import FAILED_RULES_COLUMN, Engine, TableRef, get_engine
from lakeforge.settings import Settings

_lock = threading.Lock()


def engine_for(state: Any, settings: Settings) -> Engine:
    """The app's embedded engine, built on first use (it opens a DuckDB connection: once is enough)."""
    with _lock:
        engine: Engine | None = getattr(state, "embedded_engine", None)
        if engine is None:
            engine = get_engine("embedded", settings)
            state.embedded_engine = engine
        return engine


def quarantine_table(conn: Connection, source: str) -> tuple[str, TableRef | None]:
    """The source's group and quarantine table (None without a Silver zone). Raises 404 if unknown."""
    row = conn.execute(
        """SELECT g.name AS group_name, g.catalog, sc.target_table FROM lakeforge.source s
           JOIN lakeforge.source_group g ON g.id = s.source_group_id
           LEFT JOIN lakeforge.silver_config sc ON sc.source_id = s.id
           WHERE s.name = %s""",
        (source,),
    ).fetchone()
    if row is None:
        raise ApiProblem(
            404,
            f"no source named {source!r}",
            errors=[
                {
                    "field": "name",
                    "message": "unknown source",
                    "fix": "GET /api/v1/sources lists the registered sources.",
                }
            ],
        )
    if not row["target_table"]:
        return row["group_name"], None
    silver = TableRef.parse(row["target_table"], default_catalog=row["catalog"])
    return row["group_name"], silver.sibling("_quarantine")


def sample(engine: Engine, source: str, group: str, table: TableRef | None, limit: int) -> QuarantineSample:
    """The newest ``limit`` quarantined rows (highest ``_batch_id`` first), or a 404 that says why."""
    if table is None or not engine.table_exists(table):
        where = f" ({table})" if table else " (it has no Silver zone)"
        raise ApiProblem(
            404,
            f"source {source!r} has no quarantine table yet{where}",
            errors=[
                {
                    "field": "name",
                    "message": "no quarantined rows yet: the quarantine table is created by the first "
                    "Silver run in which a rule with action 'quarantine' fails",
                    "fix": f"Give {source!r} a rule with action quarantine (POST /api/v1/dq-rules) and "
                    f"run its group (POST /api/v1/groups/{group}/run); rows failing it land there.",
                }
            ],
        )
    data: pa.Table = engine.to_arrow(engine.read_table(table))
    keys = [(name, "descending") for name in ("_batch_id", "_ingested_at") if name in data.column_names]
    newest = (data.sort_by(keys) if keys else data).slice(0, limit)
    return QuarantineSample(
        source=source,
        table=table.name,
        version=engine.table_version(table),
        total_rows=data.num_rows,
        failed_rules_column=FAILED_RULES_COLUMN,
        columns=[QuarantineColumn(name=field.name, type=str(field.type)) for field in data.schema],
        rows=[{key: _plain(value) for key, value in row.items()} for row in newest.to_pylist()],
    )


def _plain(value: Any) -> Any:
    """A JSON-safe value: NaN/inf become null, bytes base64, decimals keep their digits."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value
