"""The embedded engine: Arrow frames, DuckDB for reading and SQL, delta-rs for Delta commits.

A frame is a ``pyarrow.Table``. DuckDB runs in process with extension auto-install and
auto-load off (no downloads), reads files straight into Arrow and runs the zones' Spark SQL
after sqlglot transpiles it; delta-rs writes real Delta tables that Spark and Databricks read.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError
from sqlglot import exp

from lakeforge.runtime.engine import (
    SOURCE_FILE_COLUMN,
    EngineError,
    EngineName,
    FileFormat,
    Frame,
    TableRef,
    WriteMode,
    WriteResult,
    check_files,
)
from lakeforge.settings import Settings

DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def connect_duckdb() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads anything and speaks UTC."""
    con = duckdb.connect(config=DUCKDB_CONFIG)
    con.execute("SET TimeZone = 'UTC'")
    return con


def to_duckdb_sql(query: str) -> str:
    """Spark SQL → DuckDB SQL, or a clear error naming what could not be translated."""
    try:
        return sqlglot.transpile(
            query, read="spark", write="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE
        )[0]
    except sqlglot.errors.SqlglotError as error:
        raise EngineError(
            f"cannot run this Spark SQL on the embedded engine ({str(error).splitlines()[0]})",
            field="sql",
            fix="Use Spark SQL functions both engines support, or run the group on the spark engine.",
        ) from None


def _delta_compatible(table: pa.Table) -> pa.Table:
    """Cast Arrow types Delta cannot store (unsigned ints, naive timestamps, views) to ones it can.

    Naive timestamps become UTC timestamps so the column is a Delta ``timestamp`` like Spark writes.
    """
    fields = []
    changed = False
    for f in table.schema:
        t = f.type
        new: pa.DataType = t
        if (pa.types.is_timestamp(t) and t.tz is None) or (pa.types.is_timestamp(t) and t.unit != "us"):
            new = pa.timestamp("us", tz="UTC")
        elif pa.types.is_string_view(t) or pa.types.is_large_string(t):
            new = pa.string()
        elif pa.types.is_unsigned_integer(t):
            new = {8: pa.int16(), 16: pa.int32(), 32: pa.int64(), 64: pa.decimal128(20, 0)}[t.bit_width]
        elif pa.types.is_null(t):
            new = pa.string()
        changed |= new != t
        fields.append(pa.field(f.name, new, f.nullable))
    return table.cast(pa.schema(fields)) if changed else table


def _scannable(delta: DeltaTable) -> Any:
    """An Arrow dataset of the table that DuckDB can push filters into.

    delta-rs rewrites files with ``string_view`` columns (on delete and merge) while the table
    schema says ``string``; Arrow then has no kernel to compare the two when DuckDB pushes a
    filter down. Declaring strings as views makes every file readable with one type, and
    DuckDB still returns plain strings.
    """
    schema = delta.to_pyarrow_dataset().schema
    views = pa.schema(
        [
            pa.field(f.name, pa.string_view() if pa.types.is_string(f.type) else f.type, f.nullable)
            for f in schema
        ]
    )
    return delta.to_pyarrow_dataset(schema=views)


def _csv_header(path: str, delimiter: str, quote: str) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle, delimiter=delimiter, quotechar=quote), [])


def _reason(error: Exception) -> str:
    """DuckDB's message without its generic advice: what failed, the line and the file."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    keep = [lines[0]] if lines else []
    keep += [line for line in lines[1:] if line.startswith(("Original Line", "Expected", "file ="))]
    return "; ".join(keep)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class EmbeddedEngine:
    """Arrow + DuckDB + delta-rs (see :class:`lakeforge.runtime.engine.Engine` for the contract)."""

    name: EngineName = "embedded"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(settings.lakehouse_path)
        self._con = connect_duckdb()
        # One DuckDB connection is not safe to share between threads: serialize its use.
        self._lock = threading.RLock()
        self._view_counter = 0

    # -- naming ---------------------------------------------------------------------------
    def table_location(self, table: TableRef) -> str:
        return str(self.root / table.catalog / table.schema / table.table)

    def _delta(self, table: TableRef) -> DeltaTable | None:
        try:
            return DeltaTable(self.table_location(table))
        except TableNotFoundError:
            return None

    def table_exists(self, table: TableRef) -> bool:
        return self._delta(table) is not None

    def table_schema(self, table: TableRef) -> pa.Schema | None:
        delta = self._delta(table)
        return pa.schema(delta.schema().to_arrow()) if delta else None

    def table_version(self, table: TableRef) -> int | None:
        delta = self._delta(table)
        return delta.version() if delta else None

    # -- reading --------------------------------------------------------------------------
    def read_files(
        self,
        paths: Sequence[str],
        fmt: FileFormat,
        options: Mapping[str, Any],
        *,
        schema: pa.Schema | None = None,
    ) -> Frame:
        check_files(paths)
        if fmt == "csv":
            table = self._read_csv(paths, options)
        elif fmt == "json":
            table = self._query(
                f"SELECT * FROM read_json({self._list(paths)}, "
                "format='newline_delimited', filename=true, union_by_name=true, hive_partitioning=false)",
                rename_filename=True,
            )
        elif fmt == "parquet":
            table = self._query(
                f"SELECT * FROM read_parquet({self._list(paths)}, filename=true, union_by_name=true, "
                "hive_partitioning=false)",
                rename_filename=True,
            )
        else:
            raise EngineError(
                f"cannot read files of format {fmt!r}", field="format", fix="Use csv, json or parquet."
            )
        if schema is not None:
            table = _conform(table, schema)
        return table

    def _list(self, paths: Sequence[str]) -> str:
        return "[" + ", ".join(_sql_string(p) for p in paths) + "]"

    def _read_csv(self, paths: Sequence[str], options: Mapping[str, Any]) -> pa.Table:
        header = bool(options.get("header", True))
        delimiter = str(options.get("delimiter", options.get("sep", ",")))
        quote = str(options.get("quote", '"'))
        escape = str(options.get("escape", quote))
        null_value = options.get("null_value", options.get("nullValue"))
        # The header is read here rather than sniffed: DuckDB's sniffer may skip leading lines
        # to fit a malformed row, which would hide bad input instead of failing on it.
        groups: dict[tuple[str, ...], list[str]] = {}
        for path in paths:
            columns = _csv_header(path, delimiter, quote)
            if not header:
                columns = [f"_c{i}" for i in range(len(columns))]
            groups.setdefault(tuple(columns), []).append(path)
        parts = []
        for names, files in groups.items():
            spec = "{" + ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in names) + "}"
            extra = f", nullstr={_sql_string(str(null_value))}" if null_value is not None else ""
            parts.append(
                self._query(
                    f"SELECT * FROM read_csv({self._list(files)}, header={str(header).lower()}, "
                    f"auto_detect=false, columns={spec}, delim={_sql_string(delimiter)}, "
                    f"quote={_sql_string(quote)}, escape={_sql_string(escape)}, strict_mode=true, "
                    f"filename=true, hive_partitioning=false{extra})",
                    rename_filename=True,
                )
            )
        return pa.concat_tables(parts, promote_options="default") if len(parts) > 1 else parts[0]

    def _query(self, query: str, *, rename_filename: bool = False) -> pa.Table:
        with self._lock:
            try:
                table = self._con.sql(query).to_arrow_table()
            except duckdb.Error as error:
                raise EngineError(
                    f"cannot read the input ({_reason(error)})",
                    field="location",
                    fix="Check the file is complete and matches the source's format options.",
                ) from None
        if rename_filename and "filename" in table.column_names:
            names = [SOURCE_FILE_COLUMN if n == "filename" else n for n in table.column_names]
            table = table.rename_columns(names)
        return table

    def from_arrow(self, data: pa.Table) -> Frame:
        return data

    def read_table(self, table: TableRef) -> Frame:
        delta = self._delta(table)
        if delta is None:
            raise EngineError(
                f"table {table} does not exist", field="table", fix="Run the zone that creates it."
            )
        return delta.to_pyarrow_table()

    # -- transforming ---------------------------------------------------------------------
    def sql(self, query: str, views: Mapping[str, Frame] | None = None) -> Frame:
        try:
            tree = sqlglot.parse_one(query, read="spark")
        except sqlglot.errors.ParseError as error:
            raise EngineError(
                f"is not valid Spark SQL ({str(error).splitlines()[0]})", field="sql", fix="Fix the SQL."
            ) from None
        registered: dict[str, Any] = dict(views or {})
        # Three-part names refer to Delta tables: scan them through Arrow datasets.
        for node in list(tree.find_all(exp.Table)):
            if not node.args.get("catalog") or not node.args.get("db"):
                continue
            ref = TableRef(node.catalog.lower(), node.db.lower(), node.name.lower())
            delta = self._delta(ref)
            if delta is None:
                raise EngineError(f"table {ref} does not exist", field="sql", fix="Check the table name.")
            alias = f"__lf_{ref.catalog}__{ref.schema}__{ref.table}"
            registered[alias] = _scannable(delta)
            replacement = exp.to_table(alias)
            replacement.set(
                "alias", node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(ref.table))
            )
            node.replace(replacement)
        try:
            duck = tree.sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)
        except sqlglot.errors.SqlglotError as error:
            raise EngineError(
                f"cannot run this Spark SQL on the embedded engine ({str(error).splitlines()[0]})",
                field="sql",
                fix="Use Spark SQL functions both engines support, or run the group on the spark engine.",
            ) from None
        with self._lock:
            try:
                for name, data in registered.items():
                    self._con.register(name, data)
                return self._con.sql(duck).to_arrow_table()
            except duckdb.Error as error:
                raise EngineError(
                    f"SQL failed on the embedded engine ({str(error).splitlines()[0]})",
                    field="sql",
                    fix="Check column names and types in the expression.",
                ) from None
            finally:
                for name in registered:
                    self._con.unregister(name)

    def schema(self, frame: Frame) -> pa.Schema:
        return frame.schema

    def count(self, frame: Frame) -> int:
        return int(frame.num_rows)

    def to_arrow(self, frame: Frame) -> pa.Table:
        return frame

    # -- writing --------------------------------------------------------------------------
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
        data = _delta_compatible(frame)
        location = self.table_location(table)
        exists = self.table_exists(table)
        schema_mode: Any = None
        if merge_schema and exists:
            schema_mode = "merge"
        elif mode == "overwrite" and replace_where is None and exists:
            schema_mode = "overwrite"
        try:
            write_deltalake(
                location,
                data,
                mode=mode,  # type: ignore[arg-type]
                predicate=replace_where if exists else None,
                schema_mode=schema_mode,
                partition_by=list(partition_by) if partition_by and not exists else None,
            )
        except (DeltaError, ValueError, pa.ArrowInvalid) as error:
            raise EngineError(
                f"cannot write {table} ({str(error).splitlines()[0]})",
                field="schema",
                fix="Align the data with the table schema or change the schema policy.",
            ) from None
        return WriteResult(table=table, version=self.table_version(table), rows_written=data.num_rows)

    def upsert(self, table: TableRef, frame: Frame, keys: Sequence[str]) -> WriteResult:
        data = _delta_compatible(frame)
        delta = self._delta(table)
        if delta is None:
            return self.write(table, data, mode="append")
        predicate = " AND ".join(f"(t.`{k}` IS NOT DISTINCT FROM s.`{k}`)" for k in keys)
        try:
            metrics = (
                delta.merge(data, predicate, source_alias="s", target_alias="t", merge_schema=True)
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
        except (DeltaError, ValueError, pa.ArrowInvalid) as error:
            raise EngineError(
                f"cannot merge into {table} ({str(error).splitlines()[0]})",
                field="primary_keys",
                fix="Check the primary keys and the column types of the incoming rows.",
            ) from None
        return WriteResult(
            table=table,
            version=delta.version(),
            rows_written=int(metrics.get("num_target_rows_inserted", 0)),
            rows_updated=int(metrics.get("num_target_rows_updated", 0)),
            details={k: v for k, v in metrics.items() if isinstance(v, int)},
        )

    def delete(self, table: TableRef, predicate: str) -> WriteResult:
        delta = self._delta(table)
        if delta is None:
            return WriteResult(table=table, version=None, rows_written=0)
        metrics = delta.delete(predicate)
        return WriteResult(
            table=table,
            version=delta.version(),
            rows_written=0,
            rows_deleted=int(metrics.get("num_deleted_rows", 0)),
        )


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Columns of ``schema`` in its order and types (missing ones null), extra columns kept after."""
    columns = []
    for f in schema:
        if f.name in table.column_names:
            columns.append(pc.cast(table[f.name], f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    rest = [n for n in table.column_names if n not in schema.names]
    return pa.table(columns + [table[n] for n in rest], names=schema.names + rest)
