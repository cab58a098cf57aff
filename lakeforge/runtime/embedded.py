"""The embedded engine: Arrow frames, DuckDB for reading and SQL, delta-rs for Delta commits.

A frame is a :class:`Query` (DuckDB SQL not run yet, plus the Arrow data its names refer to) or
a ``pyarrow.Table``. DuckDB runs in process with extension auto-install and auto-load off (no
downloads) and runs the zones' Spark SQL after sqlglot transpiles it; delta-rs writes real Delta
tables that Spark and Databricks read.

Frames stay queries until something needs their rows, as Spark's do: a query over a query inlines
it, so Bronze reads the raw files and computes its audit columns in one DuckDB pass, and a write
streams the result into delta-rs batch by batch instead of holding the whole batch in memory.
``count`` and ``to_arrow`` run a query once and keep its table for later use.
"""

from __future__ import annotations

import csv
import functools
import itertools
import re
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError
from sqlglot import exp

from lakeforge.runtime.engine import (
    RECORD_HASH_COLUMN,
    SOURCE_FILE_COLUMN,
    SQL_FAILED_FIX,
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

# Rows per Arrow batch when a query streams into a Delta write (DuckDB's row groups are 122,880 rows).
STREAM_BATCH_ROWS = 122_880
_names = itertools.count(1)
# Parquet settings for Delta writes. A row hash is unique per row, so a dictionary for it is built
# only to be thrown away: writing it plain saves about a tenth of Bronze's encoding time.
WRITER_PROPERTIES = WriterProperties(
    compression="SNAPPY", column_properties={RECORD_HASH_COLUMN: ColumnProperties(dictionary_enabled=False)}
)

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


def _delta_schema(schema: pa.Schema) -> pa.Schema:
    """The schema with Arrow types Delta cannot store (unsigned ints, naive timestamps, views) cast
    to ones it can. Naive timestamps become UTC timestamps so the column is a Delta ``timestamp``
    like Spark writes."""
    fields = []
    for f in schema:
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
        fields.append(pa.field(f.name, new, f.nullable))
    return pa.schema(fields)


def _delta_compatible(table: pa.Table) -> pa.Table:
    """The table cast to :func:`_delta_schema`."""
    target = _delta_schema(table.schema)
    return table if target == table.schema else table.cast(target)


@dataclass(eq=False)
class Query:
    """An embedded-engine frame not run yet: DuckDB SQL and the Arrow data its names refer to.

    ``views`` holds everything the SQL reads (Arrow tables, Delta datasets), under names unique to
    this engine, so queries nest without clashes. ``reads_files`` says the SQL reads raw files, so
    a DuckDB error while it runs is reported as unreadable input.
    """

    sql: str
    views: dict[str, Any]
    schema: pa.Schema
    reads_files: bool = False
    table: pa.Table | None = field(default=None, repr=False)


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


# DuckDB type names that JSON inference gives strings which look like them. A type name in a
# DuckDB type string is followed by ``,``, ``)``, ``[`` or the end; a struct field name by a space.
_STRING_LIKE = re.compile(
    r"\b(TIMESTAMP WITH TIME ZONE|TIMESTAMP_NS|TIMESTAMP_MS|TIMESTAMP_S|TIMESTAMP"
    r"|TIME WITH TIME ZONE|TIME|DATE|UUID)(?=[,)\[]|$)"
)


_INTEGRAL = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
}
# Spark casts a string to an integer only when it is one ('2.5' and '1e3' are NULL) and a
# fraction by truncating it (2.7 is 2); DuckDB rounds both ('2.5' and 2.7 are 3) and reads '1e3'
# as 1000. So strings that are not whole numbers become NULL, and numbers are truncated (through
# a DECIMAL wide enough for any BIGINT, so no digit is lost on the way). A timestamp is its
# seconds since the epoch, rounded down as Spark does (DuckDB has no such cast and gives NULL).
# ``typeof`` is the value's static type, so each query keeps one branch; the timestamp branch goes
# through text because DuckDB refuses to bind a cast from most types to a timestamp.
_EPOCH_MICROS = "epoch_us(TRY_CAST(CAST(__lf_x AS VARCHAR) AS TIMESTAMPTZ))"
_WHOLE_NUMBER_GUARD = (
    "CASE WHEN typeof(__lf_x) LIKE 'TIMESTAMP%'"
    f" THEN CAST(floor({_EPOCH_MICROS} / 1000000) AS DECIMAL(38, 9))"
    " ELSE trunc(TRY_CAST(CASE WHEN typeof(__lf_x) = 'VARCHAR'"
    " AND NOT regexp_full_match(CAST(__lf_x AS VARCHAR), '\\s*[+-]?[0-9]+\\s*') THEN NULL ELSE __lf_x END"
    " AS DECIMAL(38, 9))) END"
)
_TEXT = {exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR, exp.DataType.Type.NVARCHAR}
# Spark writes a timestamp as text in the session's zone (UTC) without an offset; DuckDB appends
# "+00" to its TIMESTAMPTZ. Text of timestamps lands in hashes, keys and gold, so it must agree.
_TIMESTAMP_TEXT_GUARD = (
    "CASE WHEN typeof(__lf_x) = 'TIMESTAMP WITH TIME ZONE'"
    " THEN CAST(TRY_CAST(CAST(__lf_x AS VARCHAR) AS TIMESTAMP) AS VARCHAR) ELSE CAST(__lf_x AS VARCHAR) END"
)


@functools.lru_cache(maxsize=8)
def _guard_template(guard_sql: str) -> exp.Expr:
    # Parsed once: a Bronze select casts every column to text for its hash, each through a guard.
    return sqlglot.parse_one(guard_sql, read="duckdb")


def _guarded(guard_sql: str, **values: exp.Expr) -> exp.Expr:
    """``guard_sql`` with each ``__lf_<name>`` column replaced by a copy of ``values[name]``."""
    guard = _guard_template(guard_sql).copy()
    for placeholder in list(guard.find_all(exp.Column)):
        name = placeholder.name.removeprefix("__lf_")
        if placeholder.name.startswith("__lf_") and name in values:
            placeholder.replace(values[name].copy())
    return guard


# Spark's unix_timestamp(x[, format]) is a timestamp's or date's epoch seconds, truncated (a cast
# rounds down: -0.5 s is 0 here and -1 there), or a string parsed with the format (NULL when it
# does not parse); DuckDB's translation only parses strings and fails to bind on a timestamp.
# ``__lf_text`` is the parse of the value as text.
_UNIX_TIMESTAMP_GUARD = (
    "CASE WHEN typeof(__lf_x) LIKE 'TIMESTAMP%' OR typeof(__lf_x) = 'DATE'"
    f" THEN CAST(trunc({_EPOCH_MICROS} / 1000000) AS BIGINT)"
    " ELSE CAST(floor(epoch(__lf_text)) AS BIGINT) END"
)


def _spark_casts(tree: exp.Expr) -> None:
    """Give casts to text and to integers, and unix_timestamp, Spark's results (see the guards).

    Only the query's own nodes are rewritten, the innermost first, so a guard's own casts stay
    plain and a nested cast is guarded once, inside the guard of the one around it.
    """
    for node in reversed(list(tree.find_all(exp.Cast, exp.StrToUnix))):
        if isinstance(node, exp.StrToUnix):
            value = node.this or exp.CurrentTimestamp()
            # sqlglot writes Spark's pattern in DuckDB's notation; safe: NULL when it does not parse.
            text = exp.StrToTime(
                this=exp.cast(value.copy(), "VARCHAR"), format=node.args.get("format"), safe=True
            )
            node.replace(_guarded(_UNIX_TIMESTAMP_GUARD, x=value, text=text))
        elif isinstance(node, exp.Cast) and node.to.this in _TEXT:
            node.set("this", _guarded(_TIMESTAMP_TEXT_GUARD, x=node.this))
        elif isinstance(node, exp.Cast) and node.to.this in _INTEGRAL:
            node.set("this", _guarded(_WHOLE_NUMBER_GUARD, x=node.this))


def _csv_header(path: str, delimiter: str, quote: str) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle, delimiter=delimiter, quotechar=quote), [])


def _reason(error: Exception) -> str:
    """DuckDB's message without its generic advice: what failed, the line and the file."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    keep = [lines[0]] if lines else []
    keep += [line for line in lines[1:] if line.startswith(("Original Line", "Expected", "file ="))]
    return "; ".join(keep)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
        rename = f"* RENAME (filename AS {SOURCE_FILE_COLUMN})"
        if fmt == "csv":
            query = self._read_csv(paths, options)
        elif fmt == "json":
            source, names = self._read_json(paths)
            # Spark orders the columns it infers from JSON by name; so does this reader.
            columns = ", ".join([*(_ident(n) for n in sorted(names)), f"filename AS {SOURCE_FILE_COLUMN}"])
            query = f"SELECT {columns} FROM {source}"
        elif fmt == "parquet":
            query = (
                f"SELECT {rename} FROM read_parquet({self._list(paths)}, filename=true, "
                "union_by_name=true, hive_partitioning=false)"
            )
        else:
            raise EngineError(
                f"cannot read files of format {fmt!r}", field="format", fix="Use csv, json or parquet."
            )
        # Binding reads what the query needs to know its columns (Parquet footers, JSON samples),
        # so missing or corrupt files fail here; CSV rows are only read when the frame is used.
        frame = self._query(query, {}, reads_files=True)
        if schema is not None:
            return _conform(self._table(frame), schema)
        return frame

    def _list(self, paths: Sequence[str]) -> str:
        return "[" + ", ".join(_sql_string(p) for p in paths) + "]"

    def _read_json(self, paths: Sequence[str]) -> tuple[str, list[str]]:
        """``read_json`` typed as Spark reads JSON: numbers, booleans and nesting are inferred, but
        a string stays a string. DuckDB would make dates, times, timestamps and UUIDs of strings
        that look like them (Spark keeps them strings, and Delta has no TIME type)."""
        base = (
            f"read_json({self._list(paths)}, format='newline_delimited', filename=true,"
            " union_by_name=true, hive_partitioning=false"
        )
        with self._lock:
            try:
                described = self._con.sql(f"DESCRIBE SELECT * FROM {base})").fetchall()
            except duckdb.Error as error:
                raise self._error(error, True) from None
        columns = [(name, type_) for name, type_, *_ in described if name != "filename"]
        names = [name for name, _ in columns]
        if not any(_STRING_LIKE.search(type_) for _, type_ in columns):
            return base + ")", names
        spec = ", ".join(
            f"{_sql_string(n)}: {_sql_string(_STRING_LIKE.sub('VARCHAR', t))}" for n, t in columns
        )
        return f"{base}, columns={{{spec}}})", names

    def _read_csv(self, paths: Sequence[str], options: Mapping[str, Any]) -> str:
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
            # As Spark reads CSV: with a null_value, that value (quoted or not) and an unquoted empty
            # field are NULL and a quoted empty field ("") is an empty string; without one, both
            # empties are NULL. DuckDB keeps quoted values apart only with allow_quoted_nulls off,
            # so a quoted null_value is made NULL after reading.
            extra, select = "", f"* RENAME (filename AS {SOURCE_FILE_COLUMN})"
            if null_value is not None:
                extra = f", nullstr=[{_sql_string(str(null_value))}, ''], allow_quoted_nulls=false"
                select = ", ".join(
                    [
                        *(
                            f"nullif({_ident(c)}, {_sql_string(str(null_value))}) AS {_ident(c)}"
                            for c in names
                        ),
                        f"filename AS {SOURCE_FILE_COLUMN}",
                    ]
                )
            parts.append(
                f"SELECT {select} FROM read_csv({self._list(files)}, "
                f"header={str(header).lower()}, auto_detect=false, columns={spec}, "
                f"delim={_sql_string(delimiter)}, quote={_sql_string(quote)}, escape={_sql_string(escape)}, "
                f"strict_mode=true, filename=true, hive_partitioning=false{extra})"
            )
        # Files with different headers are unioned by name (missing columns are null).
        return " UNION ALL BY NAME ".join(parts)

    def _error(self, error: Exception, reads_files: bool) -> EngineError:
        """A DuckDB error as LakeForge reports it: unreadable input, or SQL that failed. Errors
        from a streamed result arrive as Arrow ``OSError``s carrying DuckDB's message."""
        bad_input = isinstance(error, (duckdb.InvalidInputException, duckdb.IOException)) or str(
            error
        ).startswith(("Invalid Input Error", "IO Error"))
        if reads_files and bad_input:
            return EngineError(
                f"cannot read the input ({_reason(error)})",
                field="location",
                fix="Check the file is complete and matches the source's format options.",
            )
        return EngineError(
            f"SQL failed on the embedded engine ({str(error).splitlines()[0]})",
            field="sql",
            fix=SQL_FAILED_FIX,
        )

    def _query(self, duck: str, views: dict[str, Any], *, reads_files: bool) -> Query:
        """A :class:`Query`, bound now (so unknown columns or unreadable files fail here)."""
        with self._lock:
            try:
                for name, data in views.items():
                    self._con.register(name, data)
                schema = self._con.sql(duck).limit(0).to_arrow_table().schema
            except duckdb.Error as error:
                raise self._error(error, reads_files) from None
            finally:
                for name in views:
                    self._con.unregister(name)
        return Query(duck, views, schema, reads_files)

    def _table(self, frame: Frame) -> pa.Table:
        """The frame's rows as one Arrow table (a query runs once; its table is kept)."""
        if not isinstance(frame, Query):
            return frame
        if frame.table is None:
            with self._lock:
                try:
                    for name, data in frame.views.items():
                        self._con.register(name, data)
                    frame.table = self._con.sql(frame.sql).to_arrow_table()
                except duckdb.Error as error:
                    raise self._error(error, frame.reads_files) from None
                finally:
                    for name in frame.views:
                        self._con.unregister(name)
        return frame.table

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
        # Every name DuckDB sees is unique to this query, so queries can nest inside each other.
        renames = {name.lower(): f"__lf_v{next(_names)}_{name.lower()}" for name in (views or {})}
        registered: dict[str, Any] = {}
        inlined: list[str] = []
        reads_files = False
        for name, frame in (views or {}).items():
            unique = renames[name.lower()]
            if isinstance(frame, Query) and frame.table is None:
                # A query not run yet is inlined: DuckDB runs both as one pipeline.
                inlined.append(f"{unique} AS ({frame.sql})")
                registered.update(frame.views)
                reads_files |= frame.reads_files
            else:
                registered[unique] = frame.table if isinstance(frame, Query) else frame
        _spark_casts(tree)
        for node in list(tree.find_all(exp.Table)):
            if node.args.get("catalog") and node.args.get("db"):
                # Three-part names refer to Delta tables: scan them through Arrow datasets.
                ref = TableRef(node.catalog.lower(), node.db.lower(), node.name.lower())
                delta = self._delta(ref)
                if delta is None:
                    raise EngineError(f"table {ref} does not exist", field="sql", fix="Check the table name.")
                unique = f"__lf_t{next(_names)}_{ref.table}"
                registered[unique] = _scannable(delta)
                alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(ref.table))
            elif not node.args.get("db") and node.name.lower() in renames:
                unique = renames[node.name.lower()]
                alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
            else:
                continue
            replacement = exp.to_table(unique)
            replacement.set("alias", alias)
            node.replace(replacement)
        try:
            duck = tree.sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)
        except sqlglot.errors.SqlglotError as error:
            raise EngineError(
                f"cannot run this Spark SQL on the embedded engine ({str(error).splitlines()[0]})",
                field="sql",
                fix="Use Spark SQL functions both engines support, or run the group on the spark engine.",
            ) from None
        if inlined:
            ctes = ", ".join(inlined)
            has_with = isinstance(tree, exp.Query) and tree.args.get("with") is not None
            duck = f"WITH {ctes} SELECT * FROM ({duck}) AS __lf_q" if has_with else f"WITH {ctes} {duck}"
        return self._query(duck, registered, reads_files=reads_files)

    def schema(self, frame: Frame) -> pa.Schema:
        return frame.schema

    def count(self, frame: Frame) -> int:
        return int(self._table(frame).num_rows)

    def to_arrow(self, frame: Frame) -> pa.Table:
        return self._table(frame)

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
        location = self.table_location(table)
        exists = self.table_exists(table)
        schema_mode: Any = None
        if merge_schema and exists:
            schema_mode = "merge"
        elif mode == "overwrite" and replace_where is None and exists:
            schema_mode = "overwrite"
        stream = _Stream()
        streaming = isinstance(frame, Query) and frame.table is None
        reads_files = isinstance(frame, Query) and frame.reads_files
        # The lock keeps the connection (and the views the query reads) for this write until
        # delta-rs has consumed the stream; delta-rs commits once, after the last batch.
        with self._lock:
            if streaming:
                for name, view in frame.views.items():
                    self._con.register(name, view)
            try:
                data: Any
                if streaming:
                    data = stream.of(self._con, frame)
                else:
                    data = _delta_compatible(self._table(frame))
                    stream.rows = data.num_rows
                write_deltalake(
                    location,
                    data,
                    mode=mode,  # type: ignore[arg-type]
                    predicate=replace_where if exists else None,
                    schema_mode=schema_mode,
                    partition_by=list(partition_by) if partition_by and not exists else None,
                    writer_properties=WRITER_PROPERTIES,
                )
            except Exception as error:
                if not exists:
                    _remove_uncommitted(Path(location))
                if stream.error is not None:
                    raise self._error(stream.error, reads_files) from None
                if isinstance(error, duckdb.Error):
                    raise self._error(error, reads_files) from None
                if isinstance(error, (DeltaError, ValueError, pa.ArrowInvalid)):
                    raise EngineError(
                        f"cannot write {table} ({str(error).splitlines()[0]})",
                        field="schema",
                        fix="Align the data with the table schema or change the schema policy.",
                    ) from None
                raise
            finally:
                if streaming:
                    for name in frame.views:
                        self._con.unregister(name)
        return WriteResult(
            table=table, version=self.table_version(table), rows_written=stream.rows, rows_in=stream.rows
        )

    def upsert(
        self,
        table: TableRef,
        frame: Frame,
        keys: Sequence[str],
        *,
        update_when: str | None = None,
        delete_unmatched: str | None = None,
    ) -> WriteResult:
        delta = self._delta(table)
        if delta is None:
            return self.write(table, frame, mode="append")
        data = _delta_compatible(self._table(frame))
        predicate = " AND ".join(f"(t.`{k}` IS NOT DISTINCT FROM s.`{k}`)" for k in keys)
        try:
            merger = (
                delta.merge(data, predicate, source_alias="s", target_alias="t", merge_schema=True)
                .when_matched_update_all(predicate=update_when)
                .when_not_matched_insert_all()
            )
            if delete_unmatched is not None:
                merger = merger.when_not_matched_by_source_delete(delete_unmatched)
            metrics = merger.execute()
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
            rows_deleted=int(metrics.get("num_target_rows_deleted", 0)),
            rows_in=int(metrics.get("num_source_rows", data.num_rows)),
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


class _Stream:
    """A query's result as Arrow batches for delta-rs: cast to Delta types and counted on the way,
    with the DuckDB error kept when one stops the stream (delta-rs reports it only as a stream
    failure)."""

    def __init__(self) -> None:
        self.rows = 0
        self.error: Exception | None = None

    def of(self, con: duckdb.DuckDBPyConnection, query: Query) -> pa.RecordBatchReader:
        reader = con.sql(query.sql).to_arrow_reader(STREAM_BATCH_ROWS)
        target = _delta_schema(reader.schema)
        return pa.RecordBatchReader.from_batches(target, self._batches(reader, target))

    def _batches(self, reader: pa.RecordBatchReader, target: pa.Schema) -> Iterator[pa.RecordBatch]:
        cast = target != reader.schema
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (duckdb.Error, OSError, pa.ArrowException) as error:
                self.error = error
                raise
            self.rows += batch.num_rows
            yield batch.cast(target) if cast else batch


def _remove_uncommitted(location: Path) -> None:
    """Remove the folder of a table whose first write failed before committing (nothing in its
    log), so a failed batch never leaves a half-made table behind."""
    log = location / "_delta_log"
    if location.is_dir() and not any(log.glob("*.json")):
        shutil.rmtree(location, ignore_errors=True)


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
