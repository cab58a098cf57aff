"""Column types of a batch against the Bronze table it goes into.

A Delta column keeps its type: writing a batch whose column has another type either fails inside
the engine with a message that names neither column nor fix (Spark), or is cast silently (delta-rs
turns 2.5 into 2 in a BIGINT column). Bronze therefore decides before writing, the same way on
both engines:

* the batch's type fits the table's without loss (INT into BIGINT, FLOAT into DOUBLE, an all-NULL
  column): the column is cast to the table's type;
* it does not (STRING or DOUBLE into BIGINT): under ``rescue`` the column is cast to the table's
  type and values that do not fit go to ``_rescued_data``; under ``evolve`` and ``freeze`` the table
  fails, naming the column, both types and the fix.
"""

from __future__ import annotations

import pyarrow as pa

from lakeforge.runtime.engine import TableRef
from lakeforge.runtime.zones.common import ZoneError

_INT_BITS = {pa.int8(): 8, pa.int16(): 16, pa.int32(): 32, pa.int64(): 64}
_INT_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19}
_SPARK_NAMES = {
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INT",
    pa.int64(): "BIGINT",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
    pa.string(): "STRING",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
    pa.binary(): "BINARY",
}


def normalize(data_type: pa.DataType) -> pa.DataType:
    """The type as Delta stores it: one string and binary type, timestamps in microseconds, UTC."""
    if pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type):
        return pa.string()
    if pa.types.is_large_binary(data_type) or pa.types.is_binary_view(data_type):
        return pa.binary()
    if pa.types.is_timestamp(data_type):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_unsigned_integer(data_type):
        return {8: pa.int16(), 16: pa.int32(), 32: pa.int64(), 64: pa.decimal128(20, 0)}[data_type.bit_width]
    return data_type


def spark_name(data_type: pa.DataType) -> str | None:
    """The Spark SQL name of a type (``STRUCT<a: BIGINT>`` for nested ones), ``None`` for types
    Spark SQL cannot name."""
    data_type = normalize(data_type)
    if pa.types.is_struct(data_type):
        fields = [(f.name, spark_name(f.type)) for f in data_type]
        if any(name is None for _, name in fields):
            return None
        return "STRUCT<" + ", ".join(f"`{n.replace('`', '``')}`: {t}" for n, t in fields) + ">"
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        item = spark_name(data_type.value_type)
        return f"ARRAY<{item}>" if item else None
    if pa.types.is_map(data_type):
        key, value = spark_name(data_type.key_type), spark_name(data_type.item_type)
        return f"MAP<{key}, {value}>" if key and value else None
    if pa.types.is_decimal(data_type):
        return f"DECIMAL({data_type.precision},{data_type.scale})"
    if pa.types.is_timestamp(data_type):
        return "TIMESTAMP"
    return _SPARK_NAMES.get(data_type)


def fits(batch: pa.DataType, table: pa.DataType) -> bool:
    """True when every value of ``batch`` type is exactly a value of ``table`` type."""
    batch, table = normalize(batch), normalize(table)
    if batch == table or pa.types.is_null(batch):
        return True
    if batch in _INT_BITS:
        bits = _INT_BITS[batch]
        if table in _INT_BITS:
            return bits <= _INT_BITS[table]
        if table == pa.float64():
            return bits <= 32
        if pa.types.is_decimal(table):
            return table.precision - table.scale >= _INT_DIGITS[bits]
        return False
    if batch == pa.float32():
        return table == pa.float64()
    if pa.types.is_decimal(batch) and pa.types.is_decimal(table):
        return table.scale >= batch.scale and table.precision - table.scale >= batch.precision - batch.scale
    return False


def _nested(data_type: pa.DataType) -> bool:
    return pa.types.is_nested(data_type)


def reconcile(
    table: TableRef,
    batch: pa.Schema,
    existing: pa.Schema,
    policy: str,
    declared: set[str],
) -> tuple[dict[str, str], set[str]]:
    """The Spark SQL type to cast each column to so the batch fits ``existing``, and the columns
    whose values that do not fit are rescued. Raises :class:`ZoneError` for a type change the
    policy does not allow. Nested columns are left to the engine's schema merge."""
    casts: dict[str, str] = {}
    rescued: set[str] = set()
    for column in batch:
        if column.name not in existing.names:
            continue
        want = existing.field(column.name).type
        if normalize(column.type) == normalize(want) or _nested(want) or _nested(column.type):
            continue
        target = spark_name(want)
        if target is None or (spark_name(column.type) is None and not pa.types.is_null(column.type)):
            continue
        casts[column.name] = target
        if fits(column.type, want):
            continue
        if policy == "rescue" and column.name not in declared:
            rescued.add(column.name)
            continue
        where = "schema_ddl declares it as" if column.name in declared else "this batch has"
        raise ZoneError(
            f"column {column.name} of {table} is {target} but {where} {spark_name(column.type)}:"
            " a Delta column cannot change its type in place",
            field="schema_ddl",
            fix=f"Declare {column.name} {target} in schema_ddl (values that do not fit become NULL),"
            " set schema_evolution to rescue to keep them in _rescued_data,"
            " or write the new type to a new Bronze table.",
        )
    return casts, rescued
