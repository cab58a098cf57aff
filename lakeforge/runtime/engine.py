"""The engine contract: the few primitives a data engine provides so zone logic is written once.

LakeForge runs the same zone code (``lakeforge.runtime.zones``) on two engines:

* ``embedded``: Arrow + DuckDB in process + delta-rs; a frame is a ``pyarrow.Table``.
* ``spark``: the active SparkSession (Databricks) or a local one; a frame is a Spark DataFrame.

Everything the zones decide (audit columns, schema policy, dedupe, SCD merges, data-quality
rules, gold) is expressed as **Spark SQL text** run through :meth:`Engine.sql` plus the Delta
primitives below. The embedded engine transpiles that SQL to DuckDB with sqlglot; the Spark
engine runs it as is. Keep engine-specific code to these primitives, so both engines share one
semantics and the conformance suite (``tests/runtime/test_conformance.py``) can hold them equal.

Conventions every engine keeps:

* Tables are named by Unity Catalog three-part names (:class:`TableRef`). On Databricks these are
  real UC tables; locally the embedded engine maps ``c.s.t`` to the Delta folder
  ``settings.lakehouse_path / c / s / t`` and the local Spark engine maps them to its catalog with
  the same storage folder, so both engines read and write the same Delta tables.
* Schemas cross the boundary as ``pyarrow.Schema`` (the common vocabulary); Spark converts.
* A frame is opaque to zone code: only pass it back to the same engine.
* SQL given to :meth:`Engine.sql` is Spark SQL. Inside it, the names in ``views`` refer to frames
  and three-part names refer to Delta tables.
* Writes are single Delta commits (all or nothing), so a killed process never leaves half a batch.

>>> engine = get_engine("embedded", settings)
>>> frame = engine.read_files(["/data/a.csv"], "csv", {"header": True})
>>> out = engine.sql("SELECT *, 1 AS one FROM input", {"input": frame})
>>> engine.write(TableRef.parse("main.sales.orders_bronze"), out, mode="append")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import pyarrow as pa
from sqlglot import exp

from lakeforge.errors import LakeForgeError

if TYPE_CHECKING:
    from lakeforge.settings import Settings

EngineName = Literal["embedded", "spark"]
FileFormat = Literal["csv", "json", "parquet"]
WriteMode = Literal["append", "overwrite"]
# Opaque to zone code: ``pyarrow.Table`` on the embedded engine, ``pyspark.sql.DataFrame`` on Spark.
Frame = Any

# Column the file readers add to every row: the path of the file it came from.
# What to check when SQL fails on either engine. Untyped CSV is the usual cause of a type error:
# every column is text, and comparing text with a number fails (at bind time on DuckDB, on the
# first non-integer value on Spark with ANSI mode).
SQL_FAILED_FIX = (
    "Check column names and types in the expression. A csv source without schema_ddl (or "
    "inferSchema) reads every column as STRING: give it a schema or cast, e.g. CAST(amount AS DOUBLE)."
)
SOURCE_FILE_COLUMN = "_source_file"
# Audit columns Bronze adds (and Silver keeps where they make sense).
BATCH_ID_COLUMN = "_batch_id"
INGESTED_AT_COLUMN = "_ingested_at"
RECORD_HASH_COLUMN = "_record_hash"
RESCUED_DATA_COLUMN = "_rescued_data"
# Quarantine tables carry the names of the rules a row failed.
FAILED_RULES_COLUMN = "_failed_rules"


class EngineError(LakeForgeError):
    """An engine could not do what was asked (unknown engine, unreadable input, SQL it cannot run)."""


# Spark's number types, as sqlglot names them.
INTEGER_TYPES = frozenset(
    {
        exp.DataType.Type.TINYINT,
        exp.DataType.Type.SMALLINT,
        exp.DataType.Type.INT,
        exp.DataType.Type.BIGINT,
    }
)
NUMBER_TYPES = INTEGER_TYPES | {exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE, exp.DataType.Type.DECIMAL}

# Spark refuses to cast a DATE to a number when it analyses the query (for TRY_CAST, which
# LakeForge runs every CAST as, and for CAST under ANSI mode); DuckDB's TRY_CAST gives NULL. The
# command layer and the embedded engine refuse it with this message; Spark with its own.
DATE_TO_NUMBER_REFUSED = "casts a DATE to a number, which Spark refuses"


def date_to_number_refusal(cast: exp.Cast) -> tuple[str, str]:
    """The message and fix for ``cast``, a cast of a DATE to a number, named as it is written."""
    # sqlglot reads Spark's CAST as a TRY_CAST; the user wrote CAST.
    written = exp.Cast(this=cast.this.copy(), to=cast.to.copy()).sql(dialect="spark")
    return (
        f"{written} {DATE_TO_NUMBER_REFUSED}",
        "Use unix_timestamp(<date>) for its seconds since the epoch, or "
        "datediff(<date>, DATE'1970-01-01') for its days.",
    )


@dataclass(frozen=True, order=True)
class TableRef:
    """A Unity Catalog three-part name, ``catalog.schema.table``.

    >>> TableRef.parse("main.sales.orders").table
    'orders'
    """

    catalog: str
    schema: str
    table: str

    @classmethod
    def parse(cls, name: str, *, default_catalog: str = "main", default_schema: str = "default") -> TableRef:
        parts = [part.strip("`") for part in name.strip().split(".")]
        if len(parts) == 1:
            parts = [default_catalog, default_schema, *parts]
        elif len(parts) == 2:
            parts = [default_catalog, *parts]
        if len(parts) != 3 or not all(parts):
            raise EngineError(
                f"{name!r} is not a table name",
                field="target_table",
                fix="Use a three-part name catalog.schema.table, e.g. main.sales.orders_bronze.",
            )
        return cls(parts[0].lower(), parts[1].lower(), parts[2].lower())

    @property
    def name(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"

    def sibling(self, suffix: str) -> TableRef:
        """The table next to this one with a suffix, e.g. ``orders`` → ``orders_quarantine``."""
        return TableRef(self.catalog, self.schema, f"{self.table}{suffix}")

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class WriteResult:
    """What one Delta commit did: the new table version and the row counts the engine reports.

    ``rows_in`` is how many rows the commit read from the frame (``None`` when the engine cannot
    tell): zone code logs it instead of counting the frame apart, which would compute it twice.
    """

    table: TableRef
    version: int | None
    rows_written: int
    rows_updated: int = 0
    rows_deleted: int = 0
    bytes_written: int | None = None
    rows_in: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    """The primitives a data engine offers the zone code. Implementations: ``EmbeddedEngine``
    (``lakeforge.runtime.embedded``) and ``SparkEngine`` (``lakeforge.runtime.spark``)."""

    name: EngineName

    # -- naming ---------------------------------------------------------------------------
    def table_location(self, table: TableRef) -> str:
        """Storage location of a Delta table (a local folder, or the UC-managed location)."""
        ...

    def table_exists(self, table: TableRef) -> bool: ...

    def table_schema(self, table: TableRef) -> pa.Schema | None:
        """The Delta table's schema as Arrow, or ``None`` when the table does not exist."""
        ...

    def table_version(self, table: TableRef) -> int | None:
        """Latest Delta version, or ``None`` when the table does not exist."""
        ...

    # -- reading --------------------------------------------------------------------------
    def read_files(
        self,
        paths: Sequence[str],
        fmt: FileFormat,
        options: Mapping[str, Any],
        *,
        schema: pa.Schema | None = None,
    ) -> Frame:
        """Read files into one frame, adding ``_source_file`` (the file's path) to every row.

        Semantics both engines keep:

        * ``csv``: options ``header`` (default true), ``delimiter`` (default ``,``), ``quote``,
          ``escape``, ``null_value``. Without ``schema`` every column is a string (as Spark
          reads CSV without ``inferSchema``). A row with the wrong number of fields raises
          :class:`EngineError` naming the file (``FAILFAST``), never silently drops data.
        * ``json``: newline-delimited JSON objects; types inferred; ``schema`` fixes them.
        * ``parquet``: as stored.
        * ``schema`` given: columns are read with those types; missing columns are null.
        * An empty ``paths`` list is an error: callers skip empty batches themselves.
        """
        ...

    def from_arrow(self, data: pa.Table) -> Frame:
        """A frame holding this Arrow data (used for extracted batches and small inputs)."""
        ...

    def read_table(self, table: TableRef) -> Frame:
        """The current snapshot of a Delta table."""
        ...

    # -- transforming ---------------------------------------------------------------------
    def sql(self, query: str, views: Mapping[str, Frame] | None = None) -> Frame:
        """Run one Spark SQL ``SELECT``. ``views`` names frames the query can use; three-part
        names refer to Delta tables. The embedded engine transpiles with sqlglot
        (``read="spark", write="duckdb"``) and raises :class:`EngineError` when it cannot."""
        ...

    def schema(self, frame: Frame) -> pa.Schema:
        """The frame's schema as Arrow."""
        ...

    def count(self, frame: Frame) -> int: ...

    def to_arrow(self, frame: Frame) -> pa.Table:
        """Collect a frame as Arrow (tests, conformance, small results only)."""
        ...

    # Frames are lazy on both engines: a frame's query runs when it is counted, collected or
    # written. Zone code therefore takes row counts from :class:`WriteResult` where it can.

    # -- writing (each call is one Delta commit) -------------------------------------------
    def write(
        self,
        table: TableRef,
        frame: Frame,
        *,
        mode: WriteMode,
        replace_where: str | None = None,
        merge_schema: bool = False,
        partition_by: Sequence[str] | None = None,
    ) -> WriteResult:
        """Write a frame to a Delta table, creating it when missing.

        * ``mode="append"``: add rows.
        * ``mode="overwrite"`` with ``replace_where`` (a Spark SQL predicate such as
          ``_batch_id = 7``): atomically replace exactly the rows matching it (Delta
          ``replaceWhere``); this is how a rerun of batch N replaces batch N's rows.
        * ``mode="overwrite"`` without it: replace the whole table (and its schema).
        * ``merge_schema``: add new columns to the table schema (``mergeSchema``); otherwise a
          schema mismatch raises :class:`EngineError`.
        """
        ...

    def upsert(
        self,
        table: TableRef,
        frame: Frame,
        keys: Sequence[str],
        *,
        update_when: str | None = None,
        delete_unmatched: str | None = None,
    ) -> WriteResult:
        """Delta MERGE on ``keys``: matched rows are updated with all columns, others inserted.
        The frame must have at most one row per key (zone code dedupes first). Creates the
        table when missing. ``update_when``, a Spark SQL predicate over the target (``t``) and the
        frame (``s``), updates only the matched rows where it holds; the others stay as they are.
        ``delete_unmatched``, a Spark SQL predicate over the target's columns, deletes in the same
        commit the target rows it matches that no frame row matches."""
        ...

    def delete(self, table: TableRef, predicate: str) -> WriteResult:
        """Delete rows matching a Spark SQL predicate (no-op when the table does not exist)."""
        ...


def check_files(paths: Sequence[str], *, remote: tuple[str, ...] = ()) -> None:
    """Refuse an empty file list or a local file that is missing; ``remote`` prefixes are not checked."""
    if not paths:
        raise EngineError("no files to read", field="location", fix="Check the source location.")
    for path in paths:
        if not path.startswith(remote) and not Path(path).is_file():
            raise EngineError(f"file {path} does not exist", field="location", fix="Check the path.")


def get_engine(name: str, settings: Settings) -> Engine:
    """The engine called ``name`` (``embedded`` or ``spark``); ``auto`` is resolved by the caller
    (:func:`lakeforge.runtime.runner.resolve_engine_name`)."""
    if name == "embedded":
        from lakeforge.runtime.embedded import EmbeddedEngine

        return EmbeddedEngine(settings)
    if name == "spark":
        # Contract for the Spark side: ``SparkEngine(settings, session=None)``, using the active
        # session when ``session`` is None (Databricks) or the shared local one.
        from lakeforge.runtime.spark import SparkEngine

        engine: Engine = SparkEngine(settings)
        return engine
    raise EngineError(f"unknown engine {name!r}", field="engine", fix="Use auto, embedded or spark.")
