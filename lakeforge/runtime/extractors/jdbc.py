"""SQL databases (PostgreSQL): a table or query, full or incremental by a watermark column.

The batch is read in one ``REPEATABLE READ`` snapshot: first the new high watermark, then the
rows up to it with ``COPY ... TO STDOUT (FORMAT csv)`` straight into a Raw file, so no Python
row loop touches the data. The watermark is saved only when Raw succeeds.

An incremental batch reads from the saved watermark inclusive, minus the look-back
(``lookback``): a row committed after the previous snapshot at the boundary value is not missed,
and rows the previous batch landed are skipped by their hash (``md5`` of the row's text).
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.extractors import lookback
from lakeforge.runtime.extractors.base import (
    ExtractContext,
    ExtractResult,
    LandedFile,
    WatermarkUpdate,
    file_sha256,
)

NULL_MARK = "\\N"
_TYPE = re.compile(r"^[a-z][a-z0-9 _]*(\(\d+(,\s*\d+)?\))?$")


def _conninfo(conn: dict[str, Any]) -> str:
    if conn.get("url"):
        return str(conn["url"]).replace("jdbc:postgresql://", "postgresql://")
    keys = {
        "host": "host",
        "port": "port",
        "database": "dbname",
        "dbname": "dbname",
        "user": "user",
        "password": "password",
        "sslmode": "sslmode",
    }
    return psycopg.conninfo.make_conninfo(**{keys[k]: str(v) for k, v in conn.items() if k in keys})


def _where_to_read(ctx: ExtractContext) -> tuple[str, sql.Composable, str]:
    """(libpq conninfo, the relation to read, how the user named it) for this source.

    Two shapes: the one the command layer registers (``location`` is the JDBC URL, the table or
    query is ``format_options.dbtable`` or ``query``, with ``user`` and ``password`` options, as
    Spark's JDBC reader takes them), and a source system's ``connection`` with ``location``
    naming the table or query.
    """
    location = ctx.source.location
    if not location.startswith("jdbc:"):
        return _conninfo(ctx.connection()), _relation(location), location
    if not location.startswith("jdbc:postgresql://"):
        raise LakeForgeError(
            f"LakeForge's jdbc extractor reads PostgreSQL only, not {location.split('//')[0]}",
            field="location",
            fix="Point it at a jdbc:postgresql:// URL, or register an extractor for this database "
            "(docs/extractors.md).",
        )
    options = ctx.options
    table = options.get("dbtable") or options.get("query")
    if not table:
        raise LakeForgeError(
            "a jdbc source needs the table or query to read",
            field="format_options.dbtable",
            fix="Set format_options.dbtable to schema.table (or format_options.query to a SELECT).",
        )
    credentials = ctx.secrets.resolve({k: str(options[k]) for k in ("user", "password") if k in options})
    url = location.removeprefix("jdbc:")
    return psycopg.conninfo.make_conninfo(url, **credentials), _relation(str(table)), str(table)


def _relation(location: str) -> sql.Composable:
    # Aliased, so ``lf_source::text`` is a row's text (its boundary hash) in either shape.
    if location.strip().lower().startswith(("select ", "with ")):
        return sql.SQL("({}) AS lf_source").format(sql.SQL(location))
    return sql.SQL("{} AS lf_source").format(
        sql.Identifier(*[part.strip('"') for part in location.split(".")])
    )


_ROW_HASH = sql.SQL("md5(lf_source::text)")


def _value(value_type: str) -> sql.Composable:
    return sql.SQL("CAST(%s AS {})").format(sql.SQL(value_type))


def _minus(value_type: str, back: lookback.Lookback) -> tuple[sql.Composable, list[Any]]:
    """SQL for a watermark value (one parameter) minus the look-back, and the extra parameters."""
    if back.none:
        return _value(value_type), []
    if back.interval:
        return sql.SQL("({} - make_interval(secs => %s))").format(_value(value_type)), [back.amount]
    return sql.SQL("({} - CAST(%s AS numeric))").format(_value(value_type)), [str(back.amount)]


def _watermark_filter(
    column: str, value_type: str, low: str, back: lookback.Lookback, seen: set[str] | None
) -> tuple[list[sql.Composable], list[Any]]:
    """Conditions (and parameters) for the rows above the saved watermark ``low``."""
    col = sql.Identifier(column)
    if seen is None:
        # State saved before boundary hashes were kept: the old exclusive bound, this batch only
        # (an inclusive one would land the boundary rows a second time).
        return [sql.SQL("{} > {}").format(col, _value(value_type))], [low]
    start, extra = _minus(value_type, back)
    return (
        [
            sql.SQL("{} >= {}").format(col, start),
            sql.SQL("NOT ({} <= {} AND {} = ANY(%s))").format(col, _value(value_type), _ROW_HASH),
        ],
        [low, *extra, low, sorted(seen)],
    )


def _incremental(
    ctx: ExtractContext, conn: psycopg.Connection[Any], relation: sql.Composable, column: str
) -> tuple[WatermarkUpdate, list[Any], list[sql.Composable], dict[str, Any]]:
    """The new watermark (with this batch's boundary hashes), the read's conditions and
    parameters, and what to report; all read in the caller's snapshot."""
    col = sql.Identifier(column)
    row = conn.execute(
        sql.SQL("SELECT max({c})::text, pg_typeof(max({c}))::text FROM {r}").format(c=col, r=relation)
    ).fetchone()
    high, value_type = (row[0], row[1]) if row else (None, None)
    saved = ctx.watermark
    low = saved.high_value if saved else None
    if value_type and not _TYPE.match(value_type):
        raise LakeForgeError(
            f"watermark column has unsupported type {value_type}",
            field="watermark_column",
            fix="Use a numeric, date or timestamp column.",
        )
    back = lookback.from_options(ctx.options)
    if value_type:
        lookback.check_column_type(back, column, value_type)
    seen = lookback.boundary_of(saved.cursor if saved else None)
    conds: list[sql.Composable] = []
    params: list[Any] = []
    details: dict[str, Any] = {}
    if low is not None and value_type:
        conds, params = _watermark_filter(column, value_type, low, back, seen)
        if seen:
            start, extra = _minus(value_type, back)
            skipped = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} >= {} AND {} <= {} AND {} = ANY(%s)").format(
                    relation, col, start, col, _value(value_type), _ROW_HASH
                ),
                [low, *extra, low, sorted(seen)],
            ).fetchone()
            details["rows_landed_before"] = int(skipped[0]) if skipped else 0
    if high is not None and value_type:
        conds.append(sql.SQL("{} <= {}").format(col, _value(value_type)))
        params.append(high)
    boundary: list[str] = sorted(seen or ())
    if high is not None and value_type:
        # The rows the next batch reads again: landed now or before, so it may skip them.
        start, extra = _minus(value_type, back)
        boundary = sorted(
            r[0]
            for r in conn.execute(
                sql.SQL("SELECT {} FROM {} WHERE {} >= {} AND {} <= {}").format(
                    _ROW_HASH, relation, col, start, col, _value(value_type)
                ),
                [high, *extra, high],
            ).fetchall()
        )
    update = WatermarkUpdate(
        high_value=high if high is not None else low,
        value_type=value_type,
        cursor={lookback.BOUNDARY: boundary},
    )
    return update, params, conds, details


class JdbcExtractor:
    name = "jdbc"

    def extract(self, ctx: ExtractContext) -> ExtractResult:
        source = ctx.source
        conninfo, relation, named = _where_to_read(ctx)
        column = source.watermark_column
        incremental = source.load_mode == "incremental" and column is not None
        target = ctx.raw_dir / "part-0000.csv"
        details: dict[str, Any] = {}
        rows = 0
        try:
            with psycopg.connect(conninfo, connect_timeout=10) as conn:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                where: sql.Composable = sql.SQL("TRUE")
                params: list[Any] = []
                update = None
                if incremental:
                    assert column is not None
                    update, params, conds, details = _incremental(ctx, conn, relation, column)
                    if conds:
                        where = sql.SQL(" AND ").join(conds)
                # Every value quoted and NULL as an unquoted \N: an empty string stays an empty
                # string in Bronze (as plain CSV both are an empty field, read back as NULL).
                query = sql.SQL(
                    "COPY (SELECT * FROM {} WHERE {}) TO STDOUT WITH (FORMAT csv, HEADER true,"
                    " NULL {}, FORCE_QUOTE *)"
                ).format(relation, where, sql.Literal(NULL_MARK))
                with conn.cursor() as cur:
                    with open(target, "wb") as out, cur.copy(query, params) as copy:
                        for chunk in copy:
                            out.write(chunk)
                    rows = max(cur.rowcount, 0)
                    if incremental:
                        # Rows whose watermark is NULL are above no watermark: no batch reads them.
                        unread = conn.execute(
                            sql.SQL("SELECT count(*) FROM {} WHERE {} IS NULL").format(
                                relation, sql.Identifier(str(column))
                            )
                        ).fetchone()
                        details["rows_without_watermark"] = int(unread[0]) if unread else 0
        except psycopg.errors.UndefinedTable:
            raise LakeForgeError(
                f"table {named} does not exist in the source database",
                field="location",
                fix="Check the schema and table name (schema.table).",
            ) from None
        except psycopg.errors.UndefinedColumn as error:
            raise LakeForgeError(
                f"column not found ({error.diag.message_primary})",
                field="watermark_column",
                fix="Check the watermark column name.",
            ) from None
        except psycopg.OperationalError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "connection failed"
            raise LakeForgeError(
                f"cannot connect to the source database ({reason})",
                field="connection",
                fix="Check host, port, database and the credentials' secret references.",
            ) from None
        landed = LandedFile(
            name=target.name,
            path=str(target),
            size=target.stat().st_size,
            sha256=file_sha256(target),
            rows=rows,
        )
        return ExtractResult(
            raw_format="csv",
            files=[landed],
            # multiline: a quoted value may hold a line break.
            read_options={"header": True, "null_value": NULL_MARK, "multiline": True},
            watermark=update,
            details={"rows": rows, **details},
        )
