"""The spark engine: Spark DataFrames as frames, Delta Lake (delta-spark) for every commit.

On Databricks it runs on the notebook's or pipeline's session and names tables in Unity
Catalog. Locally it runs on :func:`~lakeforge.runtime.spark.session.get_or_create_session` and
maps ``catalog.schema.table`` to the Delta folder ``lakehouse_path/catalog/schema/table``, the
embedded engine's layout, so the two engines read and write the same tables.

Zone code hands this engine Spark SQL as is; only three-part table names are rewritten (to
``delta.`<folder>``` locally) before Spark sees the query.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from lakeforge.runtime.engine import (
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
from lakeforge.runtime.spark.session import get_or_create_session, is_databricks
from lakeforge.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Spark SQL functions that call arbitrary Java code: never run them from user-written SQL.
FORBIDDEN_FUNCTIONS = frozenset({"reflect", "java_method", "try_reflect"})
_view_ids = itertools.count(1)


def _first_line(error: BaseException) -> str:
    """The sentence that explains a Spark error: its root ``[ERROR_CLASS] message``, without the
    JVM stack trace (a Py4J error's own first line only names the Java method that failed)."""
    text = str(error).strip()
    causes = re.findall(r"\[[A-Z][A-Z0-9_.]+\] [^\n]*", text)
    if causes:
        return causes[-1].split(" SQLSTATE:")[0].strip()
    return text.splitlines()[0] if text else type(error).__name__


def _csv_header(path: str, delimiter: str, quote: str) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle, delimiter=delimiter, quotechar=quote), [])


class SparkEngine:
    """Spark + Delta Lake (see :class:`lakeforge.runtime.engine.Engine` for the contract).

    >>> engine = SparkEngine(settings)               # local session, or Databricks' own
    >>> engine.write(TableRef.parse("main.sales.orders"), frame, mode="append")
    """

    name: EngineName = "spark"

    def __init__(self, settings: Settings, session: SparkSession | None = None) -> None:
        self.settings = settings
        self.spark: SparkSession = session or get_or_create_session(settings)
        # Timestamps without an offset mean UTC on both engines. A session in another time zone
        # (a cluster's or notebook's setting) would shift every one of them by its offset.
        if self.spark.conf.get("spark.sql.session.timeZone", None) != "UTC":
            self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        # On Databricks, names are Unity Catalog tables; locally they are lakehouse folders.
        self.uses_catalog = is_databricks(self.spark)
        self.root = Path(settings.lakehouse_path)
        self._connect = _is_connect(self.spark)

    # -- naming ---------------------------------------------------------------------------
    def table_location(self, table: TableRef) -> str:
        if self.uses_catalog:
            rows = self.spark.sql(f"DESCRIBE DETAIL {self._ident(table)}").select("location").collect()
            return str(rows[0][0])
        return str(self.root / table.catalog / table.schema / table.table)

    def _ident(self, table: TableRef) -> str:
        """How Spark SQL names the table: the UC name, or ``delta.`<folder>``` locally."""
        if self.uses_catalog:
            return ".".join(f"`{part}`" for part in (table.catalog, table.schema, table.table))
        return "delta.`" + self.table_location(table).replace("`", "``") + "`"

    def _delta_table(self, table: TableRef) -> Any:
        from delta.tables import DeltaTable

        if not self.table_exists(table):
            return None
        if self.uses_catalog:
            return DeltaTable.forName(self.spark, table.name)
        return DeltaTable.forPath(self.spark, self.table_location(table))

    def table_exists(self, table: TableRef) -> bool:
        if self.uses_catalog:
            return bool(self.spark.catalog.tableExists(table.name))
        return (Path(self.table_location(table)) / "_delta_log").is_dir()

    def table_schema(self, table: TableRef) -> pa.Schema | None:
        if not self.table_exists(table):
            return None
        if not self.uses_catalog:
            # Read from the Delta log directly (as the embedded engine does): no Spark job.
            from deltalake import DeltaTable

            return pa.schema(DeltaTable(self.table_location(table)).schema().to_arrow())
        return self.schema(self.read_table(table))

    def table_version(self, table: TableRef) -> int | None:
        return self._last_commit(table)[0]

    # -- reading --------------------------------------------------------------------------
    def read_files(
        self,
        paths: Sequence[str],
        fmt: FileFormat,
        options: Mapping[str, Any],
        *,
        schema: pa.Schema | None = None,
    ) -> Frame:
        # Volumes and cloud URIs are checked by Spark itself when it reads them.
        check_files(paths, remote=("/Volumes/", "dbfs:", "s3:", "abfss:", "gs:"))
        try:
            if fmt == "csv":
                frame = self._read_csv(paths, options)
            elif fmt == "json":
                frame = self._with_source_file(
                    self.spark.read.option("mode", "FAILFAST").json(list(paths)), paths
                )
            elif fmt == "parquet":
                frame = self._with_source_file(self.spark.read.parquet(*paths), paths)
            else:
                raise EngineError(
                    f"cannot read files of format {fmt!r}", field="format", fix="Use csv, json or parquet."
                )
        except EngineError:
            raise
        except Exception as error:
            raise EngineError(
                f"cannot read the input ({_first_line(error)})",
                field="location",
                fix="Check the file is complete and matches the source's format options.",
            ) from None
        if schema is not None:
            frame = self._conform(frame, schema)
        return frame

    def _read_csv(self, paths: Sequence[str], options: Mapping[str, Any]) -> DataFrame:
        header = bool(options.get("header", True))
        delimiter = str(options.get("delimiter", options.get("sep", ",")))
        quote = str(options.get("quote", '"'))
        escape = str(options.get("escape", quote))
        null_value = options.get("null_value", options.get("nullValue"))
        # Spark names CSV columns after the first file's header: files with different headers
        # are read apart and unioned by name, as the embedded engine does.
        groups: dict[tuple[str, ...], list[str]] = {}
        for path in paths:
            key = tuple(_csv_header(path, delimiter, quote)) if header and Path(path).is_file() else ()
            groups.setdefault(key, []).append(path)
        frames = []
        for files in groups.values():
            reader = (
                self.spark.read.option("header", str(header).lower())
                .option("sep", delimiter)
                .option("quote", quote)
                .option("escape", escape)
                .option("mode", "FAILFAST")
                .option("inferSchema", "false")
                .option("enforceSchema", "false")
            )
            if null_value is not None:
                reader = reader.option("nullValue", str(null_value))
            if options.get("multiline"):
                # Quoted values may span lines (JDBC exports); DuckDB reads them without being told.
                reader = reader.option("multiLine", "true")
            frames.append(self._with_source_file(reader.csv(list(files)), files))
        result = frames[0]
        for other in frames[1:]:
            result = result.unionByName(other, allowMissingColumns=True)
        return result

    def _with_source_file(self, frame: DataFrame, paths: Sequence[str]) -> DataFrame:
        """Add ``_source_file`` holding the path exactly as given (Spark itself knows file URIs)."""
        from pyspark.sql import functions as F

        uri = F.col("_metadata.file_path")
        if len(paths) == 1:
            return frame.withColumn(SOURCE_FILE_COLUMN, F.lit(str(paths[0])))
        # Map Spark's file URI back to the path the caller gave, whatever its spelling.
        mapping = F.create_map(
            *itertools.chain.from_iterable((F.lit(_file_uri(p)), F.lit(str(p))) for p in paths)
        )
        plain = F.regexp_replace(uri, r"^file:(//)?", "")
        return frame.withColumn(
            SOURCE_FILE_COLUMN, F.coalesce(mapping[uri], mapping[F.concat(F.lit("file:"), plain)], plain)
        )

    def _conform(self, frame: DataFrame, schema: pa.Schema) -> DataFrame:
        """Columns of ``schema`` in its order and types (missing ones null), extra columns after."""
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_type

        columns = []
        for f in schema:
            spark_type = from_arrow_type(f.type, prefer_timestamp_ntz=False)
            source = F.col(f"`{f.name}`") if f.name in frame.columns else F.lit(None)
            columns.append(source.cast(spark_type).alias(f.name))
        rest = [F.col(f"`{n}`") for n in frame.columns if n not in schema.names]
        return frame.select(*columns, *rest)

    def from_arrow(self, data: pa.Table) -> Frame:
        from pyspark.sql.pandas.types import from_arrow_schema

        if data.num_rows == 0:
            return self.spark.createDataFrame([], from_arrow_schema(data.schema, prefer_timestamp_ntz=False))
        return self.spark.createDataFrame(data)

    def read_table(self, table: TableRef) -> Frame:
        if not self.table_exists(table):
            raise EngineError(
                f"table {table} does not exist", field="table", fix="Run the zone that creates it."
            )
        if self.uses_catalog:
            return self.spark.read.table(table.name)
        return self.spark.read.format("delta").load(self.table_location(table))

    # -- transforming ---------------------------------------------------------------------
    def sql(self, query: str, views: Mapping[str, Frame] | None = None) -> Frame:
        try:
            tree = sqlglot.parse_one(query, read="spark")
        except sqlglot.errors.ParseError as error:
            raise EngineError(
                f"is not valid Spark SQL ({_first_line(error)})", field="sql", fix="Fix the SQL."
            ) from None
        for func in tree.find_all(exp.Anonymous, exp.Func):
            name = (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()
            if name in FORBIDDEN_FUNCTIONS:
                raise EngineError(
                    f"the function {name} is not allowed", field="sql", fix="Remove it from the expression."
                )
        # sqlglot reads Spark's CAST as the lenient cast (a bad value becomes NULL), which is what
        # the embedded engine runs; spell it TRY_CAST so ANSI mode (Spark 4's default) agrees.
        for cast in tree.find_all(exp.TryCast):
            cast.set("safe", True)
        # Frames become temp views under unique names, so concurrent queries never collide.
        registered: dict[str, Frame] = {}
        renames = {name.lower(): f"__lf_v{next(_view_ids)}_{name}" for name in (views or {})}
        for node in list(tree.find_all(exp.Table)):
            if node.args.get("catalog") and node.args.get("db"):
                ref = TableRef(node.catalog.lower(), node.db.lower(), node.name.lower())
                if not self.table_exists(ref):
                    raise EngineError(f"table {ref} does not exist", field="sql", fix="Check the table name.")
                if self.uses_catalog:
                    continue
                alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(ref.table))
                replacement = exp.Table(
                    this=exp.to_identifier(self.table_location(ref), quoted=True),
                    db=exp.to_identifier("delta"),
                    alias=alias,
                )
                node.replace(replacement)
            elif not node.args.get("db") and node.name.lower() in renames:
                alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
                node.replace(exp.Table(this=exp.to_identifier(renames[node.name.lower()]), alias=alias))
        for name, frame in (views or {}).items():
            frame.createOrReplaceTempView(renames[name.lower()])
            registered[renames[name.lower()]] = frame
        try:
            result = self.spark.sql(tree.sql(dialect="spark"))
            result.schema  # noqa: B018 -- analyse now, so errors surface here and views can go
        except Exception as error:
            raise EngineError(
                f"SQL failed on the spark engine ({_first_line(error)})",
                field="sql",
                fix=SQL_FAILED_FIX,
            ) from None
        finally:
            # Classic Spark has resolved the views into the plan; Spark Connect resolves them on
            # every action, so there they stay (they are tiny: a name and a plan).
            if not self._connect:
                for view in registered:
                    self.spark.catalog.dropTempView(view)
        return result

    def schema(self, frame: Frame) -> pa.Schema:
        from pyspark.sql.pandas.types import to_arrow_schema

        return to_arrow_schema(frame.schema, timezone="UTC")

    def count(self, frame: Frame) -> int:
        try:
            return int(frame.count())
        except Exception as error:
            raise EngineError(
                f"cannot read the input ({_first_line(error)})",
                field="location",
                fix="Check the file is complete and matches the source's format options.",
            ) from None

    def to_arrow(self, frame: Frame) -> pa.Table:
        table: pa.Table = frame.toArrow()
        return table

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
        exists = self.table_exists(table)
        writer = frame.write.format("delta").mode(mode)
        if merge_schema and exists:
            writer = writer.option("mergeSchema", "true")
        if mode == "overwrite" and exists:
            if replace_where is not None:
                writer = writer.option("replaceWhere", replace_where)
            else:
                writer = writer.option("overwriteSchema", "true")
        if partition_by and not exists:
            writer = writer.partitionBy(*partition_by)
        try:
            if self.uses_catalog:
                writer.saveAsTable(table.name)
            else:
                Path(self.table_location(table)).parent.mkdir(parents=True, exist_ok=True)
                writer.save(self.table_location(table))
        except Exception as error:
            raise self._write_error(table, error) from None
        version, metrics = self._last_commit(table)
        # A replace-where rewrite also copies the untouched rows of the files it replaced.
        written = int(metrics.get("numOutputRows", 0)) - int(metrics.get("numCopiedRows", 0))
        return WriteResult(
            table=table,
            version=version,
            rows_written=written,
            rows_in=written,
            bytes_written=int(metrics["numOutputBytes"]) if "numOutputBytes" in metrics else None,
            details={"operation_metrics": metrics},
        )

    def _write_error(self, table: TableRef, error: Exception) -> EngineError:
        text = _first_line(error)
        if "FAILFAST" in text or "Malformed" in text or "MALFORMED" in text:
            return EngineError(
                f"cannot read the input for {table} ({text})",
                field="location",
                fix="Check the file is complete and matches the source's format options.",
            )
        return EngineError(
            f"cannot write {table} ({text})",
            field="schema",
            fix="Align the data with the table schema or change the schema policy.",
        )

    def _last_commit(self, table: TableRef) -> tuple[int | None, dict[str, str]]:
        """Version and operation metrics of the table's latest commit."""
        if not self.uses_catalog:
            # A local table's log is a folder of JSON commits: reading the newest one is
            # instant, where DeltaTable.history() runs a Spark job.
            return _latest_local_commit(Path(self.table_location(table)) / "_delta_log")
        delta = self._delta_table(table)
        if delta is None:
            return None, {}
        row = delta.history(1).select("version", "operationMetrics").collect()[0]
        return int(row[0]), dict(row[1] or {})

    def upsert(
        self,
        table: TableRef,
        frame: Frame,
        keys: Sequence[str],
        *,
        update_when: str | None = None,
        delete_unmatched: str | None = None,
    ) -> WriteResult:
        delta = self._delta_table(table)
        if delta is None:
            return self.write(table, frame, mode="append")
        condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        try:
            merge = (
                delta.alias("t")
                .merge(frame.alias("s"), condition)
                .withSchemaEvolution()
                .whenMatchedUpdateAll(update_when)
                .whenNotMatchedInsertAll()
            )
            if delete_unmatched is not None:
                merge = merge.whenNotMatchedBySourceDelete(delete_unmatched)
            merge.execute()
        except Exception as error:
            raise EngineError(
                f"cannot merge into {table} ({_first_line(error)})",
                field="primary_keys",
                fix="Check the primary keys and the column types of the incoming rows.",
            ) from None
        version, metrics = self._last_commit(table)
        return WriteResult(
            table=table,
            version=version,
            rows_written=int(metrics.get("numTargetRowsInserted", 0)),
            rows_updated=int(metrics.get("numTargetRowsUpdated", 0)),
            rows_deleted=int(metrics.get("numTargetRowsDeleted", 0)),
            rows_in=int(metrics["numSourceRows"]) if "numSourceRows" in metrics else None,
            details={"operation_metrics": metrics},
        )

    def delete(self, table: TableRef, predicate: str) -> WriteResult:
        delta = self._delta_table(table)
        if delta is None:
            return WriteResult(table=table, version=None, rows_written=0)
        try:
            delta.delete(predicate)
        except Exception as error:
            raise EngineError(
                f"cannot delete from {table} ({_first_line(error)})", field="sql", fix="Check the predicate."
            ) from None
        version, metrics = self._last_commit(table)
        return WriteResult(
            table=table, version=version, rows_written=0, rows_deleted=int(metrics.get("numDeletedRows", 0))
        )


def _latest_local_commit(log: Path) -> tuple[int | None, dict[str, str]]:
    # Commits are <20-digit version>.json; compacted logs (<v1>.<v2>.compacted.json) are not.
    commits = sorted(p for p in log.glob("[0-9]*.json") if p.name.count(".") == 1) if log.is_dir() else []
    if not commits:
        return None, {}
    metrics: dict[str, str] = {}
    with commits[-1].open(encoding="utf-8") as handle:
        for line in handle:
            action = json.loads(line)
            if "commitInfo" in action:
                metrics = {k: str(v) for k, v in (action["commitInfo"].get("operationMetrics") or {}).items()}
                break
    return int(commits[-1].name.split(".")[0]), metrics


def _file_uri(path: str) -> str:
    """The URI Spark reports for a local path (``file:///a%20b.csv``); other schemes as given."""
    if "://" in path or path.startswith("dbfs:"):
        return path
    return Path(path).absolute().as_uri()


def _is_connect(spark: SparkSession) -> bool:
    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError:
        return False
    return isinstance(spark, ConnectSession)
