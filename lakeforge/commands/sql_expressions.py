"""Checks on the Spark SQL that users type into rules, transforms and gold definitions.

A DQ rule or a silver select expression is data, but it ends up inside a query: it must be
one expression over columns, using only functions that both engines (Spark on Databricks,
DuckDB in the embedded engine) run the same way. Anything else is refused at save time with
the reason, never at 3 a.m. in a job.

>>> check_expression("amount > 0 AND status IN ('paid', 'shipped')")
>>> check_expression("reflect('java.lang.Runtime', 'exec', 'x')")
Traceback (most recent call last):
LakeForgeError: expression: function reflect is not allowed ...
"""

from __future__ import annotations

import functools
import threading
from typing import Literal

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.tokens import TokenType

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.engine import NUMBER_TYPES, date_to_number_refusal

ExpressionKind = Literal["predicate", "scalar"]

# sqlglot's typed function nodes that behave alike in Spark and DuckDB (after transpiling).
# Anything else, including every function sqlglot does not know, is refused.
ROW_FUNCTIONS: frozenset[str] = frozenset(
    {
        "And",
        "Or",
        "Not",
        "Abs",
        "Round",
        "Floor",
        "Ceil",
        "Sqrt",
        "Pow",
        "Ln",
        "Log",
        "Sign",
        "Greatest",
        "Least",
        "Coalesce",
        "Nullif",
        "If",
        "Case",
        "Cast",
        "TryCast",
        "Upper",
        "Lower",
        "Trim",
        "Length",
        "Substring",
        "Concat",
        "ConcatWs",
        "Left",
        "Right",
        "RegexpReplace",
        "RegexpExtract",
        "RegexpLike",
        "StrPosition",
        "Pad",
        "Reverse",
        "Translate",
        "StartsWith",
        "EndsWith",
        "Contains",
        "MD5",
        "SHA2",
        "Initcap",
        "TsOrDsToDate",
        "TimeToStr",
        "TimeStrToTime",
        "StrToTime",
        "StrToDate",
        "CurrentDate",
        "CurrentTimestamp",
        "TsOrDsAdd",
        "DateAdd",
        "DateSub",
        "DateDiff",
        "Year",
        "Month",
        "Day",
        "DayOfMonth",
        "DayOfWeek",
        "Hour",
        "Minute",
        "Second",
        "TimestampTrunc",
        "DateTrunc",
        "MonthsBetween",
        "StrToUnix",
        "UnixToStr",
        "UnixToTime",
        "LastDay",
        "AddMonths",
        "Quarter",
        "WeekOfYear",
        "ArrayContains",
        "ArraySize",
    }
)
AGGREGATE_FUNCTIONS: frozenset[str] = frozenset(
    {"Count", "Sum", "Avg", "Min", "Max", "CountIf", "ApproxDistinct", "Stddev", "Variance", "AnyValue"}
)
# Spark functions that run arbitrary code or reach outside the row: named in the error.
FORBIDDEN_NAMES = frozenset(
    {"reflect", "java_method", "xpath", "assert_true", "raise_error", "input_file_name", "current_user"}
)
# Node types that would turn an expression into something more than an expression.
_REFUSED_NODES: tuple[type, ...] = (
    exp.Query,
    exp.Subquery,
    exp.Table,
    exp.Window,
    exp.Lambda,
    exp.Placeholder,
    exp.Parameter,
    exp.Star,
    exp.Command,
    exp.DDL,
    exp.DML,
)


def _refuse(message: str, fix: str, field: str = "expression") -> LakeForgeError:
    return LakeForgeError(message, field=field, fix=fix)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


_EXPRESSION_EXAMPLE = (
    "Write one Spark SQL expression over the columns, e.g. amount > 0 AND status IN ('paid', 'shipped')."
)
_QUERY_EXAMPLE = (
    "Write one Spark SQL query, e.g. "
    "SELECT country, sum(amount) AS revenue FROM main.sales_silver.orders GROUP BY country."
)


def _parse_one(text: str, field: str, example: str = _EXPRESSION_EXAMPLE) -> exp.Expression:
    if not text or not text.strip():
        raise _refuse("is empty", example, field)
    try:
        tokens = sqlglot.tokenize(text, read="spark")
    except Exception as error:
        raise _refuse(f"cannot be read as Spark SQL ({error})", "Check quotes and brackets.", field) from None
    if any(token.token_type == TokenType.SEMICOLON for token in tokens):
        raise _refuse(
            "contains ';': only one expression is allowed, never a statement",
            "Remove the ';' and anything after it.",
            field,
        )
    try:
        statements = [s for s in sqlglot.parse(text, read="spark") if s is not None]
    except ParseError as error:
        raise _refuse(f"is not valid Spark SQL: {_syntax_problem(error)}", example, field) from None
    except Exception as error:  # e.g. nesting too deep to parse
        first = type(error).__name__
        raise _refuse(f"is not valid Spark SQL ({first})", example, field) from None
    if len(statements) != 1:
        raise _refuse("must be exactly one expression", "Write a single expression.", field)
    return statements[0]  # type: ignore[return-value]


def _syntax_problem(error: ParseError) -> str:
    """Where the parser stopped, in the user's words: sqlglot's own descriptions name its classes."""
    if not error.errors:
        return str(error).splitlines()[0]
    first = error.errors[0]
    token = str(first.get("highlight") or "").strip()
    before = str(first.get("start_context") or "").strip()
    description = str(first.get("description") or "")
    if description.startswith("Required keyword"):
        return f"`{token}` is missing what should follow it"
    if description.startswith("Expecting ") and not description.startswith("Expecting one of"):
        near = " ".join(part for part in (before, token) if part)
        return f"expected `{description.removeprefix('Expecting ').strip()}` after `{near}`"
    where = f" after `{before}`" if before else ""
    return f"unexpected `{token}`{where}" if token else description


# Uniqueness and counts look across rows; a data-quality rule is true or false for one row.
_ACROSS_ROWS_FIX = (
    "Uniqueness is kept by the source's silver primary_keys (rows are deduplicated on them); "
    "counts and totals belong in a gold table."
)


def _check_nodes(tree: exp.Expression, *, allowed: frozenset[str], field: str) -> None:
    if isinstance(tree, exp.Command | exp.DDL | exp.DML | exp.Query):
        raise _refuse(
            f"is a {tree.key.upper()} statement; only an expression over the row's columns is allowed",
            "Write a condition such as amount > 0.",
            field,
        )
    for node in tree.walk():
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in FORBIDDEN_NAMES:
                raise _refuse(
                    f"function {name} is not allowed (it can run code outside the data)",
                    "Use column arithmetic, comparisons and the documented functions only.",
                    field,
                )
            if type(node).__name__ in AGGREGATE_FUNCTIONS and type(node).__name__ not in allowed:
                raise _refuse(
                    f"function {name} works across rows, and this expression is checked one row at a time",
                    _ACROSS_ROWS_FIX,
                    field,
                )
            if isinstance(node, exp.Anonymous) or type(node).__name__ not in allowed:
                raise _refuse(
                    f"function {name} is not on the allowed list",
                    "See docs/commands.md for the functions both engines support.",
                    field,
                )
        elif isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null | exp.Boolean):
            # "id is unique" parses as a comparison with a column named unique.
            word = node.expression.sql(dialect="spark")
            unique = word.lower() in ("unique", "distinct")
            raise _refuse(
                f"IS {word} is not a condition: IS takes NULL, TRUE or FALSE",
                _ACROSS_ROWS_FIX if unique else "Write IS NULL, IS NOT NULL, IS TRUE or IS FALSE.",
                field,
            )
        elif isinstance(node, _REFUSED_NODES):
            what = "a subquery" if isinstance(node, exp.Query | exp.Subquery | exp.Table) else node.key
            raise _refuse(
                f"contains {what}; only an expression over the row's columns is allowed",
                "Refer to columns of this table only, without SELECT, tables or windows.",
                field,
            )


def _check_date_casts(tree: exp.Expression, field: str) -> None:
    """Refuse a DATE cast to a number, which Spark refuses when it analyses the query.

    Dates the expression makes (``to_date(x)``, ``current_date()``, ``date_add(...)``) are typed
    here by sqlglot; a column's type is known only when the query runs, where the engine refuses it.
    """
    typed = annotate_types(tree.copy(), dialect="spark")
    for cast in typed.find_all(exp.Cast):
        made = cast.this.type
        if made is not None and made.this == exp.DataType.Type.DATE and cast.to.this in NUMBER_TYPES:
            message, fix = date_to_number_refusal(cast)
            raise _refuse(message, fix, field)


_local = threading.local()


def _duckdb() -> duckdb.DuckDBPyConnection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        _local.conn = conn
    return conn


def _check_duckdb(tree: exp.Expression, field: str) -> str:
    """Transpile to DuckDB and let DuckDB bind it over untyped NULL columns."""
    try:
        duck = tree.sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except Exception as error:
        raise _refuse(
            f"cannot be translated for the embedded engine ({error})",
            "Use a simpler spelling both Spark and DuckDB support.",
            field,
        ) from None
    names = sorted({column.name for column in tree.find_all(exp.Column)}) or ["_lakeforge_dummy"]
    columns = ", ".join(f"NULL AS {exp.to_identifier(n, quoted=True).sql('duckdb')}" for n in names)
    probe = f"SELECT {duck} FROM (SELECT {columns}) AS t LIMIT 0"
    try:
        _duckdb().execute(probe).fetchall()
    except Exception as error:  # duckdb.Error, or anything else the probe trips on
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise _refuse(
            f"runs in Spark but not in the embedded engine ({reason})",
            "Use a function both engines support (see docs/commands.md).",
            field,
        ) from None
    return duck


def check_expression(
    text: str,
    *,
    kind: ExpressionKind = "predicate",
    columns: set[str] | None = None,
    field: str = "expression",
) -> str:
    """Accept one Spark SQL expression over columns or raise ``LakeForgeError``; returns the DuckDB SQL.

    ``kind="scalar"`` also accepts a trailing alias (``cast(x as int) AS x``) for select lists.
    When ``columns`` is given, every column the expression reads must be one of them.
    """
    # Pure and called on every command that carries SQL: accepted answers are cached.
    return _check_expression_cached(text, kind, frozenset(columns) if columns is not None else None, field)


@functools.lru_cache(maxsize=4096)
def _check_expression_cached(
    text: str, kind: ExpressionKind, columns: frozenset[str] | None, field: str
) -> str:
    tree = _parse_one(text, field)
    if isinstance(tree, exp.Alias):
        if kind != "scalar":
            raise _refuse("a predicate cannot have an alias", "Remove the 'AS name' part.", field)
        inner = tree.this
    else:
        inner = tree
    _check_nodes(inner, allowed=ROW_FUNCTIONS, field=field)
    _check_date_casts(inner, field)
    if (
        kind == "predicate"
        and isinstance(inner, exp.Literal | exp.Column)
        and not isinstance(inner, exp.Boolean)
    ):
        raise _refuse(
            "must be a condition that is true or false for each row",
            "Write a comparison such as amount > 0.",
            field,
        )
    if columns is not None:
        known = {c.lower() for c in columns}
        for column in inner.find_all(exp.Column):
            if column.name.lower() not in known:
                raise _refuse(
                    f"refers to unknown column {column.name!r}",
                    f"Use one of: {', '.join(sorted(known)) or '(no columns known)'}.",
                    field,
                )
    return _check_duckdb(tree, field)


@functools.lru_cache(maxsize=1024)
def check_query(text: str, *, field: str = "sql") -> str:
    """Accept one read-only Spark SQL query (a gold definition); returns its DuckDB spelling."""
    tree = _parse_one(text, field, _QUERY_EXAMPLE)
    if not isinstance(tree, exp.Query):
        raise _refuse("must be a single SELECT query", "Start with SELECT (or WITH ... SELECT).", field)
    for node in tree.walk():
        if isinstance(node, exp.Func):
            name = _function_name(node)
            allowed = ROW_FUNCTIONS | AGGREGATE_FUNCTIONS
            if (
                name in FORBIDDEN_NAMES
                or isinstance(node, exp.Anonymous)
                or type(node).__name__ not in allowed
            ):
                raise _refuse(
                    f"function {name} is not allowed",
                    "Use the documented functions and aggregates only (see docs/commands.md).",
                    field,
                )
        elif isinstance(node, exp.Command | exp.DDL | exp.DML | exp.Placeholder | exp.Parameter):
            raise _refuse(f"contains {node.key}; only a query is allowed", "Remove it.", field)
    _check_date_casts(tree, field)
    try:
        return tree.sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except Exception as error:
        raise _refuse(
            f"cannot be translated for the embedded engine ({error})", "Use a simpler spelling.", field
        ) from None
