"""Spark SQL in rules and transforms: one expression over columns, runnable by both engines."""

from __future__ import annotations

import pytest

from lakeforge.commands.sql_expressions import check_expression, check_query
from lakeforge.errors import LakeForgeError


@pytest.mark.parametrize(
    ("text", "duckdb"),
    [
        ("amount > 0", "amount > 0"),
        ("status IN ('paid', 'shipped') AND amount >= 0", "status IN ('paid', 'shipped') AND amount >= 0"),
        ("nvl(discount, 0) <= amount", "COALESCE(discount, 0) <= amount"),
        ("email rlike '^[^@]+@[^@]+$'", "REGEXP_MATCHES(email, '^[^@]+@[^@]+$')"),
        ("date_format(order_ts, 'yyyy') >= '2020'", "STRFTIME(CAST(order_ts AS TIMESTAMP), '%Y') >= '2020'"),
        ("customer_id IS NOT NULL", "NOT customer_id IS NULL"),
    ],
)
def test_allowed_predicates_are_translated_for_duckdb(text, duckdb):
    assert check_expression(text) == duckdb


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("reflect('java.lang.Runtime', 'exec', 'x')", "function reflect is not allowed"),
        ("java_method('java.lang.System', 'exit', 1) = 1", "function java_method is not allowed"),
        ("1=1; DROP TABLE t", "contains ';'"),
        ("id IN (SELECT id FROM other)", "subquery"),
        ("DELETE FROM t", "statement"),
        ("SELECT 1", "statement"),
        ("my_udf(amount) > 0", "not on the allowed list"),
        ("sum(amount) > 0", "function sum works across rows"),
        ("count(id) = 1", "silver primary_keys"),
        ("id is unique", "IS unique is not a condition"),
        ("id is unique", "silver primary_keys"),
        ("amount is positive", "IS takes NULL, TRUE or FALSE"),
        ("amount", "true or false"),
        ("amount >", "not valid Spark SQL"),
        ("", "is empty"),
    ],
)
def test_refused_expressions_say_why(text, fragment):
    with pytest.raises(LakeForgeError, match=fragment) as caught:
        check_expression(text)
    assert caught.value.field == "expression"
    assert caught.value.fix


def test_unknown_columns_are_refused_when_columns_are_known():
    assert check_expression("amount > 0", columns={"amount", "id"})
    with pytest.raises(LakeForgeError, match="unknown column 'amout'"):
        check_expression("amout > 0", columns={"amount", "id"})


def test_scalar_expressions_may_carry_an_alias():
    assert check_expression("cast(amount as decimal(12,2)) AS amount", kind="scalar") == (
        "TRY_CAST(amount AS DECIMAL(12, 2)) AS amount"
    )
    with pytest.raises(LakeForgeError, match="alias"):
        check_expression("amount > 0 AS ok")


def test_an_expression_only_spark_can_run_is_refused_at_save_time():
    # sqlglot knows this function but DuckDB cannot bind it: refused with the engine's reason.
    with pytest.raises(LakeForgeError, match="embedded engine"):
        check_expression("array_contains(tags, 'x') AND abs('text') > 1")


def test_gold_queries_allow_aggregates_but_not_statements():
    assert "SUM(amount)" in check_query(
        "SELECT customer_id, sum(amount) AS total FROM s.orders GROUP BY customer_id"
    )
    with pytest.raises(LakeForgeError, match="single SELECT"):
        check_query("DROP TABLE s.orders")
    with pytest.raises(LakeForgeError, match="reflect"):
        check_query("SELECT reflect('a', 'b') FROM t")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amount is below 10000", "is not valid Spark SQL: unexpected `10000` after `amount is below`"),
        ("amount >= 0 AND", "is not valid Spark SQL: `AND` is missing what should follow it"),
        ("status in ('a', 'b'", "is not valid Spark SQL: expected `)` after `status in ('a', 'b'`"),
    ],
)
def test_a_syntax_error_points_at_where_it_stopped(text, message):
    # The parser's own descriptions name its classes ("<class 'sqlglot...GT'>"): never shown.
    with pytest.raises(LakeForgeError) as caught:
        check_expression(text)
    assert caught.value.message == message
    assert "amount > 0 AND status IN" in (caught.value.fix or "")
    with pytest.raises(LakeForgeError) as query:
        check_query("SELECT country FROM t WHERE")
    assert "`WHERE` is missing" in query.value.message and "GROUP BY" in (query.value.fix or "")


@pytest.mark.parametrize(
    "text",
    [
        "CAST(to_date(shipped) AS BIGINT) > 0",
        "CAST(current_date() AS INT) > 0",
        "CAST(date_add(to_date(shipped), 1) AS DOUBLE) > 0",
        "CAST(CAST(shipped AS DATE) AS DECIMAL(10, 0)) > 0",
    ],
)
def test_a_date_cast_to_a_number_is_refused_as_spark_refuses_it(text):
    # Spark refuses it when it analyses the query; the embedded engine's TRY_CAST would give NULL.
    with pytest.raises(LakeForgeError, match="casts a DATE to a number, which Spark refuses") as caught:
        check_expression(text)
    assert "unix_timestamp" in (caught.value.fix or "") and "datediff" in (caught.value.fix or "")
    with pytest.raises(LakeForgeError, match="casts a DATE to a number"):
        check_query(f"SELECT {text.removesuffix(' > 0')} AS n FROM s.orders")
    # Spelled as Spark suggests, it passes; a column's type is not known here (the engine checks it).
    assert check_expression("datediff(to_date(shipped), DATE'1970-01-01') > 0")
    assert check_expression("CAST(shipped AS BIGINT) > 0")
