"""Rows the data-quality rules quarantined: what ``<silver table>_quarantine`` holds.

One reader for every surface (``GET /sources/{name}/quarantine`` and the ``show_quarantine``
intent behind chat). The table is read through the embedded engine, so it is found exactly where
the data plane wrote it (``EmbeddedEngine.table_location``) and read the way the runs read Delta.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc

from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Connection
from lakeforge.runtime.engine import FAILED_RULES_COLUMN, Engine, Frame, TableRef, get_engine
from lakeforge.runtime.zones.common import q
from lakeforge.settings import Settings

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class QuarantineTable:
    """Where a source's quarantined rows live: None as ``table`` when it has no Silver zone."""

    source: str
    group: str
    table: TableRef | None


class NoQuarantineTable(LakeForgeError):
    """The source has no quarantine table yet (no Silver zone, or no row was ever quarantined)."""


@dataclass
class QuarantineRows:
    source: str
    table: str
    version: int | None
    total_rows: int
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]
    # How many quarantined rows failed each rule (a row failing two rules counts for both).
    by_rule: dict[str, int] = field(default_factory=dict)


def engine_for(settings: Settings) -> Engine:
    """An embedded engine for the settings' lakehouse, built once (it opens a DuckDB connection)."""
    key = str(settings.lakehouse_path)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = get_engine("embedded", settings)
            _engines[key] = engine
        return engine


def find_table(conn: Connection, source: str) -> QuarantineTable | None:
    """The source's group and quarantine table; None when no source has that name."""
    row = conn.execute(
        """SELECT g.name AS group_name, g.catalog, sc.target_table FROM lakeforge.source s
           JOIN lakeforge.source_group g ON g.id = s.source_group_id
           LEFT JOIN lakeforge.silver_config sc ON sc.source_id = s.id
           WHERE s.name = %s""",
        (source,),
    ).fetchone()
    if row is None:
        return None
    if not row["target_table"]:
        return QuarantineTable(source, row["group_name"], None)
    silver = TableRef.parse(row["target_table"], default_catalog=row["catalog"])
    return QuarantineTable(source, row["group_name"], silver.sibling("_quarantine"))


def read_rows(engine: Engine, found: QuarantineTable, limit: int) -> QuarantineRows:
    """The newest ``limit`` quarantined rows (highest ``_batch_id`` first), the total and the
    count per failed rule; ``NoQuarantineTable`` says why there is nothing to read."""
    table = found.table
    if table is None or not engine.table_exists(table):
        where = f" ({table})" if table else " (it has no Silver zone)"
        raise NoQuarantineTable(
            f"source {found.source!r} has no quarantine table yet{where}",
            field="name",
            fix=f"Give {found.source!r} a rule with action quarantine and run its group {found.group!r}; "
            "rows failing it land there.",
        )
    # Frames are lazy: only the newest rows and the rules column are collected, so a panel that
    # polls a large quarantine does not read the whole table each time.
    views = {"__lf_quarantine": engine.read_table(table)}
    schema = engine.schema(views["__lf_quarantine"])
    order = [f"{q(name)} DESC" for name in ("_batch_id", "_ingested_at") if name in schema.names]
    newest = engine.sql(
        f"SELECT * FROM __lf_quarantine{' ORDER BY ' + ', '.join(order) if order else ''} LIMIT {int(limit)}",
        views,
    )
    return QuarantineRows(
        source=found.source,
        table=table.name,
        version=engine.table_version(table),
        total_rows=engine.count(views["__lf_quarantine"]),
        columns=[(column.name, str(column.type)) for column in schema],
        rows=engine.to_arrow(newest).to_pylist(),
        by_rule=_by_rule(engine, views) if FAILED_RULES_COLUMN in schema.names else {},
    )


def _by_rule(engine: Engine, views: dict[str, Frame]) -> dict[str, int]:
    failed = engine.to_arrow(engine.sql(f"SELECT {q(FAILED_RULES_COLUMN)} FROM __lf_quarantine", views))
    rules = pc.list_flatten(failed.column(0))
    counts = pc.value_counts(rules).to_pylist() if len(rules) else []
    ordered = sorted(counts, key=lambda item: (-item["counts"], str(item["values"])))
    return {str(item["values"]): int(item["counts"]) for item in ordered}


# What a chat answer shows of a quarantined row: the batch, the rules it failed and a few of its
# columns, each value short and with credentials masked (rows are data anyone in a channel reads).
SHOWN_COLUMNS = 5
_MAX_VALUE = 60
_INTERNAL = frozenset({"_batch_id", "_ingested_at", FAILED_RULES_COLUMN, "_source_file", "_record_hash"})


def shown_columns(columns: list[tuple[str, str]]) -> list[str]:
    """The data columns a short answer shows: the first few, internal bookkeeping left out."""
    return [name for name, _ in columns if name not in _INTERNAL and not name.startswith("_")][:SHOWN_COLUMNS]


def shown_row(row: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """One row for a chat answer: its batch, failed rules and ``columns``, values as short text."""
    from lakeforge.commands.secrets import REDACTED, is_secret_name
    from lakeforge.notify.scrub import scrub

    shown: dict[str, Any] = {
        "_batch_id": row.get("_batch_id"),
        FAILED_RULES_COLUMN: [str(rule) for rule in row.get(FAILED_RULES_COLUMN) or []],
    }
    for name in columns:
        value = row.get(name)
        if value is None:
            shown[name] = None
        elif is_secret_name(name):
            shown[name] = REDACTED  # a password or token column is never shown, scrubbed or not
        else:
            text = scrub(str(value))
            shown[name] = text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"
    return shown
