"""What every zone step shares: the run context, outcomes and Spark SQL helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlglot
from sqlglot import exp

from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.runtime.cancel import CancelWatch
from lakeforge.runtime.engine import Engine
from lakeforge.runtime.runlog import RunLog
from lakeforge.runtime.secrets import SecretResolver
from lakeforge.settings import Settings

AUDIT_COLUMNS = ("_batch_id", "_ingested_at", "_source_file", "_record_hash", "_rescued_data")
SCD2_COLUMNS = ("valid_from", "valid_to", "is_current")


@dataclass
class RunContext:
    """One batch's run: where to write, what to log, and which data batch id rows carry."""

    settings: Settings
    db: Database
    engine: Engine
    log: RunLog
    # Rows carry the data batch id: the batch itself, or the batch a rerun replaces.
    data_batch_id: int
    is_rerun: bool
    secrets: SecretResolver
    # When the data batch was created: Bronze's ``_ingested_at``, the same on every rerun of it.
    ingested_at: datetime | None = None
    # Silver applies every batch Bronze holds, oldest first (a full refresh's replay, catchup.py).
    replay: bool = False
    # Asked between the batches a catch-up or replay applies, as the runner asks between tables.
    watch: CancelWatch | None = None


@dataclass
class TableOutcome:
    status: str = "succeeded"
    rows_in: int | None = None
    rows_out: int | None = None
    rows_rejected: int | None = None
    bytes: int | None = None
    delta_version: int | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class ZoneError(LakeForgeError):
    """A table failed in a zone for a reason the run log should show as is."""


def q(name: str) -> str:
    """A Spark SQL identifier (backticks), safe for any column name."""
    return "`" + name.replace("`", "``") + "`"


def lit(value: str) -> str:
    """A Spark SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def batch_time(ingested_at: datetime | None) -> str:
    """Spark SQL for a data batch's time (Bronze's ``_ingested_at``): the same instant on every rerun
    of the batch, so a rerun writes the values it replaces."""
    if ingested_at is None:
        return "current_timestamp()"
    return f"CAST({lit(ingested_at.astimezone(UTC).isoformat())} AS TIMESTAMP)"


def sanitize(name: str) -> str:
    """Column names Delta and both engines accept without quoting: lower snake case."""
    clean = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_") or "col"
    return f"c_{clean}" if clean[0].isdigit() else clean


def sanitized_names(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        base = name if name.startswith("_") and name in AUDIT_COLUMNS else sanitize(name)
        candidate, n = base, 1
        while candidate in out:
            n += 1
            candidate = f"{base}_{n}"
        out.append(candidate)
    return out


def parse_ddl(ddl: str | None) -> list[tuple[str, str]]:
    """``"id INT, name STRING"`` → ``[("id", "INT"), ("name", "STRING")]`` (Spark type names)."""
    if not ddl or not ddl.strip():
        return []
    try:
        tree = sqlglot.parse_one(f"CREATE TABLE t ({ddl})", read="spark")
    except sqlglot.errors.ParseError as error:
        raise ZoneError(
            f"is not a Spark DDL column list ({str(error).splitlines()[0]})",
            field="schema_ddl",
            fix="Write it like: id BIGINT, name STRING, amount DECIMAL(12,2)",
        ) from None
    columns = []
    for col in tree.find_all(exp.ColumnDef):
        kind = col.args.get("kind")
        columns.append((sanitize(col.name), kind.sql(dialect="spark") if kind else "STRING"))
    return columns
