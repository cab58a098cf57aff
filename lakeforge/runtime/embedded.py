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
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError
from duckdb.sqltypes import DuckDBPyType
from sqlglot import exp

from lakeforge.runtime.engine import (
    DATE_TO_NUMBER_REFUSED,
    INTEGER_TYPES,
    NUMBER_TYPES,
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
    date_to_number_refusal,
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


# Spark writes a DOUBLE or FLOAT as text as Java's Double.toString does: decimal notation for
# 1e-3 <= |x| < 1e7, always with a fraction (100.0, 0.001), computerized scientific notation
# otherwise (1.0E20, 1.234E-5, -1.0E7), and NaN, Infinity, -Infinity. DuckDB's text ``t`` has
# the same digits (the shortest that read back as the value) in another layout (1e+20, 1.234e-05,
# 10000000.0, nan, inf), so this moves its decimal point and rewrites its exponent; the value
# ``v`` picks the layout. Values in the decimal range, most of them, pass through untouched.
_DOUBLE_TEXT_MACRO = r"""
CREATE MACRO lakeforge_double_text(v, t) AS CASE
    WHEN v = 0 OR (abs(v) >= 1e-3 AND abs(v) < 1e7) THEN t
    WHEN isnan(v) THEN 'NaN'
    WHEN isinf(v) THEN CASE WHEN v > 0 THEN 'Infinity' ELSE '-Infinity' END
    -- 1e+20 is 1.0E20, 1.234e-05 is 1.234E-5
    WHEN contains(t, 'e') THEN regexp_replace(regexp_replace(t, '^(-?[0-9])e', '\1.0e'), 'e\+?(-?)0*', 'E\1')
    -- 12345678.9 is 1.23456789E7: the exponent is the count of digits before the point, less one
    WHEN abs(v) >= 1e7 THEN regexp_replace(rtrim(regexp_replace(t, '^(-?[0-9])([0-9]*)\.', '\1.\2'), '0'),
        '\.$', '.0') || 'E' || (strpos(ltrim(t, '-'), '.') - 2)
    -- 0.000999 is 9.99E-4: the exponent is minus one less the count of zeros after the point
    ELSE regexp_replace(regexp_replace(t, '^(-?)0\.0*([1-9])', '\1\2.'), '\.$', '.0')
        || 'E' || (-1 - length(regexp_extract(t, '\.(0*)', 1)))
END
"""


def connect_duckdb() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads anything, speaks UTC and writes numbers as Spark."""
    con = duckdb.connect(config=DUCKDB_CONFIG)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(_DOUBLE_TEXT_MACRO)
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


# Types DuckDB's JSON inference gives strings that look like them; Spark keeps them strings.
_STRING_LIKE = {
    "date",
    "time",
    "time with time zone",
    "timestamp",
    "timestamp with time zone",
    "timestamp_s",
    "timestamp_ms",
    "timestamp_ns",
    "uuid",
}


@functools.lru_cache(maxsize=256)
def _spark_json_type(duckdb_type: str) -> str | None:
    """A type DuckDB inferred for a JSON column, as Spark infers it, or None when they agree.

    Spark keeps strings that look like dates, times, timestamps or UUIDs strings (Delta has no
    TIME type either), and orders the fields of every object by name, at any depth (objects in
    lists too); DuckDB types such strings and keeps the file's field order. DuckDB's own type
    objects take the type apart and write it back, so every type it can infer survives.
    """
    spark = str(_as_spark_infers(duckdb.sqltype(duckdb_type)))
    return None if spark == duckdb_type else spark


def _as_spark_infers(inferred: DuckDBPyType) -> DuckDBPyType:
    if inferred.id in _STRING_LIKE:
        return duckdb.sqltype("VARCHAR")
    if inferred.id not in ("struct", "list", "map"):
        return inferred
    # A struct's fields, a list's element, a map's key and value.
    children = [(name, child) for name, child in inferred.children if isinstance(child, DuckDBPyType)]
    if inferred.id == "struct":
        fields = sorted(children, key=lambda field: field[0])
        return duckdb.struct_type({name: _as_spark_infers(child) for name, child in fields})
    if inferred.id == "list":
        return duckdb.list_type(_as_spark_infers(children[0][1]))
    return duckdb.map_type(_as_spark_infers(children[0][1]), _as_spark_infers(children[1][1]))


# Spark casts a string to an integer only when it is one ('2.5' and '1e3' are NULL) and a
# fraction by truncating it (2.7 is 2); DuckDB rounds both ('2.5' and 2.7 are 3) and reads '1e3'
# as 1000. So strings that are not whole numbers become NULL, and numbers are truncated (through
# a DECIMAL wide enough for any BIGINT, so no digit is lost on the way). A timestamp is its
# seconds since the epoch, rounded down as Spark does (DuckDB has no such cast and gives NULL).
# ``typeof`` is the value's static type, so each query keeps one branch; the timestamp branch goes
# through text because DuckDB refuses to bind a cast from most types to a timestamp. A DATE is
# refused as Spark refuses it (``__lf_refusal`` says why): a date column is refused before the
# query runs (:func:`_spark_casts`), this catches dates computed in the query.
_EPOCH_MICROS = "epoch_us(TRY_CAST(CAST(__lf_x AS VARCHAR) AS TIMESTAMPTZ))"
_WHOLE_NUMBER_GUARD = (
    "CASE WHEN typeof(__lf_x) = 'DATE' THEN error(__lf_refusal)"
    " WHEN typeof(__lf_x) LIKE 'TIMESTAMP%'"
    f" THEN CAST(floor({_EPOCH_MICROS} / 1000000) AS DECIMAL(38, 9))"
    " ELSE trunc(TRY_CAST(CASE WHEN typeof(__lf_x) = 'VARCHAR'"
    " AND NOT regexp_full_match(CAST(__lf_x AS VARCHAR), '\\s*[+-]?[0-9]+\\s*') THEN NULL ELSE __lf_x END"
    " AS DECIMAL(38, 9))) END"
)
_TEXT = {exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR, exp.DataType.Type.NVARCHAR}
# A timestamp cast to DOUBLE or FLOAT is its seconds since the epoch with the fraction, as Spark
# gives it (DuckDB has no such cast and gives NULL); other values cast as DuckDB casts them.
_FLOATING = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}
_EPOCH_SECONDS = f"{_EPOCH_MICROS} / 1000000.0"
_FLOATING_GUARD = (
    f"CASE WHEN typeof(__lf_x) LIKE 'TIMESTAMP%' THEN {_EPOCH_SECONDS} ELSE TRY_CAST(__lf_x AS DOUBLE) END"
)


# Spark writes a timestamp as text in the session's zone (UTC) without an offset, where DuckDB
# appends "+00" to its TIMESTAMPTZ; and a DOUBLE or FLOAT as Java writes it (the macro
# lakeforge_double_text). Text of values lands in hashes, keys and gold, so it must agree.
def _timestamp_text(value: str) -> str:
    return f"CAST(TRY_CAST(CAST({value} AS VARCHAR) AS TIMESTAMP) AS VARCHAR)"


def _double_text(value: str) -> str:
    return f"lakeforge_double_text(TRY_CAST({value} AS DOUBLE), CAST({value} AS VARCHAR))"


# For a value of a type known only when DuckDB binds the query.
_TEXT_GUARD = (
    f"CASE WHEN typeof(__lf_x) = 'TIMESTAMP WITH TIME ZONE' THEN {_timestamp_text('__lf_x')}"
    f" WHEN typeof(__lf_x) IN ('DOUBLE', 'FLOAT') THEN {_double_text('__lf_x')}"
    " ELSE CAST(__lf_x AS VARCHAR) END"
)


def _text_sql(value: str, type_: pa.DataType, depth: int = 0) -> str:
    """DuckDB SQL writing ``value``, of the Arrow type ``type_``, as Spark casts it to text.

    Spark writes a struct's values without names (``{1, x, null}``), a list as ``[1, 2]`` and a
    map as ``{k -> v}``, with ``null`` for a NULL inside and each value as its own cast to text;
    DuckDB writes ``{'a': 1, ...}`` and ``NULL``. Lambda parameters are named by depth, so nested
    lists do not shadow each other.
    """
    item = f"__lf_e{depth}"
    if pa.types.is_struct(type_):
        fields = ", ".join(
            f"coalesce({_text_sql(f'struct_extract_at({value}, {i})', f.type, depth)}, 'null')"
            for i, f in enumerate(type_, 1)
        )
        return f"CASE WHEN {value} IS NOT NULL THEN '{{' || concat_ws(', ', {fields}) || '}}' END"
    if pa.types.is_map(type_):
        key = _text_sql(f"{item}.key", type_.key_type, depth + 1)
        entry = _text_sql(f"{item}.value", type_.item_type, depth + 1)
        return _joined(f"map_entries({value})", item, f"{key} || ' -> ' || coalesce({entry}, 'null')", "{}")
    if _is_list(type_):
        element = _text_sql(item, type_.value_type, depth + 1)
        return _joined(value, item, f"coalesce({element}, 'null')", "[]")
    if pa.types.is_floating(type_):
        return _double_text(value)
    if pa.types.is_timestamp(type_) and type_.tz is not None:
        return _timestamp_text(value)
    return f"CAST({value} AS VARCHAR)"


def _joined(items: str, item: str, text: str, brackets: str) -> str:
    """The DuckDB list ``items`` written as each ``item``'s ``text``, comma-separated in brackets."""
    each = f"list_transform({items}, lambda {item}: {text})"
    return f"'{brackets[0]}' || array_to_string({each}, ', ') || '{brackets[1]}'"


def _is_list(type_: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_)
    )


# DuckDB sums integers into a 128-bit HUGEINT (an Arrow decimal(38, 0)); Spark's sum of an
# integer type is a BIGINT. A result column of that type is cast back, so Gold and transforms
# declare the schema Spark gives. A sum past BIGINT's range fails the query (DuckDB refuses the
# cast) rather than wrap around as Spark does with ANSI off: a wrong total is worse than an error.
_WIDE = {"HUGEINT", "UHUGEINT"}


def _as_bigint(duck: str, columns: list[str]) -> str:
    """``duck`` with each of ``columns`` (result columns) cast to BIGINT, the rest as they are."""
    casts = ", ".join(f"CAST({_quoted(c)} AS BIGINT) AS {_quoted(c)}" for c in columns)
    return f"SELECT * REPLACE ({casts}) FROM ({duck}) AS __lf_sum"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@functools.lru_cache(maxsize=64)
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


def _spark_casts(tree: exp.Expr, schemas: Mapping[str, pa.Schema]) -> None:
    """Give casts to text and to integers, and unix_timestamp, Spark's results (see the guards).

    A cast of a column whose type is known (:func:`_column_type`) is written for that type: no
    guard where DuckDB already agrees, and Spark's refusal of a DATE cast to a number before the
    query runs. Only the query's own nodes are rewritten, the innermost first, so a guard's own
    casts stay plain and a nested cast is guarded once, inside the guard of the one around it.
    """
    nodes = list(tree.find_all(exp.Cast, exp.StrToUnix))
    # Named as written, before the casts inside them are guarded.
    refusals = {
        id(n): ". ".join(date_to_number_refusal(n))
        for n in nodes
        if isinstance(n, exp.Cast) and n.to.this in INTEGER_TYPES
    }
    for node in reversed(nodes):
        if isinstance(node, exp.Cast):
            _spark_cast(node, schemas, refusals.get(id(node), ""))
        else:
            value = node.this or exp.CurrentTimestamp()
            # sqlglot writes Spark's pattern in DuckDB's notation; safe: NULL when it does not parse.
            text = exp.StrToTime(
                this=exp.cast(value.copy(), "VARCHAR"), format=node.args.get("format"), safe=True
            )
            node.replace(_guarded(_UNIX_TIMESTAMP_GUARD, x=value, text=text))


def _spark_cast(cast: exp.Cast, schemas: Mapping[str, pa.Schema], refusal: str) -> None:
    """One cast given Spark's result: for its column's type when that is known, else guarded."""
    known = _column_type(cast.this, schemas) if isinstance(cast.this, exp.Column) else None
    if known is not None and pa.types.is_date(known) and cast.to.this in NUMBER_TYPES:
        message, fix = date_to_number_refusal(cast)
        raise EngineError(message, field="sql", fix=fix)
    if cast.to.this in _TEXT and known is not None:
        text_sql = _text_sql("__lf_x", known)
        if text_sql != "CAST(__lf_x AS VARCHAR)":  # where DuckDB's own text is Spark's, no guard
            cast.replace(_guarded(text_sql, x=cast.this))
    elif cast.to.this in _TEXT:
        cast.set("this", _guarded(_TEXT_GUARD, x=cast.this))
    elif cast.to.this in INTEGER_TYPES:
        cast.set("this", _guarded(_WHOLE_NUMBER_GUARD, x=cast.this, refusal=exp.Literal.string(refusal)))
    elif cast.to.this in _FLOATING and known is None:
        cast.set("this", _guarded(_FLOATING_GUARD, x=cast.this))
    elif cast.to.this in _FLOATING and pa.types.is_timestamp(known):
        cast.set("this", _guarded(_EPOCH_SECONDS, x=cast.this))


def _column_type(column: exp.Column, schemas: Mapping[str, pa.Schema]) -> pa.DataType | None:
    """The Arrow type of a column (or a struct field of one, ``s.field``) its SELECT reads straight
    from a frame or Delta table (``schemas``: by the names they are registered under), or None
    when that is not certain: a subquery or CTE among the sources, a lambda's parameter, an
    ambiguous name."""
    select = column.parent_select
    if select is None or _lambda_parameter(column):
        return None
    sources: dict[str, pa.Schema] = {}
    for source in [select.args.get("from_"), *(select.args.get("joins") or [])]:
        table = source.this if source is not None else None
        if not isinstance(table, exp.Table) or table.name not in schemas:
            return None
        sources[table.alias_or_name.lower()] = schemas[table.name]
    path = [part.name.lower() for part in column.parts]
    # As Spark resolves names: a leading table alias first, else a column of any source.
    if len(path) > 1 and path[0] in sources:
        found = [_field_type(sources[path[0]], path[1:])]
    else:
        found = [_field_type(schema, path) for schema in sources.values()]
    known = [type_ for type_ in found if type_ is not None]
    return known[0] if len(known) == 1 else None


def _field_type(fields: Iterable[pa.Field], path: list[str]) -> pa.DataType | None:
    """The type at ``path`` (names, lower case) down a schema's or struct's fields."""
    matches = [f.type for f in fields if f.name.lower() == path[0]]
    if len(matches) != 1:
        return None
    if len(path) == 1:
        return matches[0]
    return _field_type(matches[0], path[1:]) if pa.types.is_struct(matches[0]) else None


def _lambda_parameter(column: exp.Column) -> bool:
    parent = column.parent
    while parent is not None and not isinstance(parent, exp.Select):
        if isinstance(parent, exp.Lambda) and column.name in {p.name for p in parent.expressions}:
            return True
        parent = parent.parent
    return False


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
        """``read_json`` typed as Spark reads JSON: numbers, booleans and nesting are inferred, a
        string stays a string, and an object's fields are ordered by name (see
        :func:`_spark_json_type`)."""
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
        spark_types = [_spark_json_type(type_) for _, type_ in columns]
        if not any(spark_types):
            return base + ")", names
        spec = ", ".join(
            f"{_sql_string(n)}: {_sql_string(spark or t)}"
            for (n, t), spark in zip(columns, spark_types, strict=True)
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
        if DATE_TO_NUMBER_REFUSED in str(error):
            # The integer guard's refusal (raised as invalid input), which already says the fix.
            return EngineError(str(error).splitlines()[0].removeprefix("Invalid Input Error: "), field="sql")
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
                relation = self._con.sql(duck)
                types = zip(relation.columns, relation.types, strict=True)
                wide = [name for name, type_ in types if str(type_) in _WIDE]
                if wide:
                    duck = _as_bigint(duck, wide)
                    relation = self._con.sql(duck)
                schema = relation.limit(0).to_arrow_table().schema
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
        views_by_name = {name.lower(): frame for name, frame in (views or {}).items()}
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
        schemas: dict[str, pa.Schema] = {}
        for node in list(tree.find_all(exp.Table)):
            if node.args.get("catalog") and node.args.get("db"):
                # Three-part names refer to Delta tables: scan them through Arrow datasets.
                ref = TableRef(node.catalog.lower(), node.db.lower(), node.name.lower())
                delta = self._delta(ref)
                if delta is None:
                    raise EngineError(f"table {ref} does not exist", field="sql", fix="Check the table name.")
                unique = f"__lf_t{next(_names)}_{ref.table}"
                registered[unique] = _scannable(delta)
                schemas[unique] = pa.schema(delta.schema().to_arrow())
                alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(ref.table))
            elif not node.args.get("db") and node.name.lower() in renames:
                unique = renames[node.name.lower()]
                alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
                schemas[unique] = views_by_name[node.name.lower()].schema
            else:
                continue
            replacement = exp.to_table(unique)
            replacement.set("alias", alias)
            node.replace(replacement)
        _spark_casts(tree, schemas)
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
