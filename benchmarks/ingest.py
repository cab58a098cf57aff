"""Ingest throughput: TPC-H lineitem CSV through Source → Raw → Bronze → Silver, five ways, one run.

Contenders (all on this machine, one after another, same input file):

* ``duckdb``: a plain DuckDB script doing the same reads and writes as Parquet (the practical limit):
  copy the file to Raw, CSV → Bronze with the audit columns, Bronze → Silver with casts and dedupe.
* ``embedded``: LakeForge's embedded engine (``run_batch``) with real metadata in Postgres.
* ``dlt``: dlt (dlthub) loading the same file into Delta through its Arrow path (Bronze only: dlt has
  no Silver zone).
* ``pyspark``: a minimal hand-written PySpark + Delta script doing Raw → Bronze → Silver.
* ``spark``: LakeForge's spark engine (``run_batch``), on the same warm session as ``pyspark``.

Spark's session start is measured once and printed apart: both Spark contenders share the session,
which first runs the hand-written job on a 200,000-row slice so neither contender pays for a cold JVM.
Goals printed as ratios: embedded Bronze rows/s ≥ 1.5 × dlt's; embedded end to end ≤ 2 × plain
DuckDB; LakeForge spark ≤ 1.15 × the hand-written PySpark.

    uv run --group bench python benchmarks/ingest.py               # scale 1: 6.0 M rows, 766 MB
    uv run --group bench python benchmarks/ingest.py --scale 0.1   # a quick run
    uv run --group bench python benchmarks/ingest.py --only duckdb,embedded
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "benchmarks" / ".data"
CONTENDERS = ("duckdb", "embedded", "dlt", "pyspark", "spark")

COLUMNS = [
    "l_orderkey", "l_partkey", "l_suppkey", "l_linenumber", "l_quantity", "l_extendedprice", "l_discount",
    "l_tax", "l_returnflag", "l_linestatus", "l_shipdate", "l_commitdate", "l_receiptdate",
    "l_shipinstruct", "l_shipmode", "l_comment",
]  # fmt: skip
TYPES = {
    "l_orderkey": "BIGINT", "l_partkey": "BIGINT", "l_suppkey": "BIGINT", "l_linenumber": "INT",
    "l_quantity": "DECIMAL(15,2)", "l_extendedprice": "DECIMAL(15,2)", "l_discount": "DECIMAL(15,2)",
    "l_tax": "DECIMAL(15,2)", "l_shipdate": "DATE", "l_commitdate": "DATE", "l_receiptdate": "DATE",
}  # fmt: skip
KEYS = ["l_orderkey", "l_linenumber"]
SILVER_SELECT = [f"CAST({c} AS {TYPES[c]}) AS {c}" if c in TYPES else c for c in COLUMNS]
HASH_INPUT = ", ".join(f"coalesce(CAST({c} AS STRING), chr(30))" for c in COLUMNS)


@dataclass
class Result:
    name: str
    rows: int
    zones: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.zones.values())

    def rate(self, zone: str | None = None) -> float:
        seconds = self.total if zone is None else self.zones.get(zone, 0.0)
        return self.rows / seconds if seconds else 0.0


def lineitem_csv(scale: float) -> Path:
    """The TPC-H lineitem CSV at this scale, generated once with tpchgen-cli and cached."""
    folder = DATA / f"sf{scale:g}"
    path = folder / "lineitem.csv"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tool = shutil.which("tpchgen-cli") or str(Path(sys.executable).parent / "tpchgen-cli")
        subprocess.run(
            [tool, "csv", "-s", f"{scale:g}", "--tables", "lineitem", "-o", str(folder)], check=True
        )
    return path


def count_rows(path: Path) -> int:
    import duckdb

    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    return int(
        con.sql(f"SELECT count(*) FROM read_csv('{path}', header=true, all_varchar=true)").fetchall()[0][0]
    )


def timed(zones: dict[str, float], zone: str, work: Callable[[], object]) -> None:
    started = time.perf_counter()
    work()
    zones[zone] = time.perf_counter() - started


# -- plain DuckDB ---------------------------------------------------------------------------------
def run_duckdb(source: Path, work: Path, rows: int) -> Result:
    import duckdb

    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    raw = work / "raw" / "batch_id=1" / source.name
    raw.parent.mkdir(parents=True)
    bronze, silver = work / "bronze.parquet", work / "silver.parquet"
    hashed = HASH_INPUT.replace("STRING", "VARCHAR")
    result = Result("duckdb", rows)
    timed(result.zones, "raw", lambda: shutil.copyfile(source, raw))
    timed(
        result.zones,
        "bronze",
        lambda: con.execute(
            f"COPY (SELECT *, 1::BIGINT AS _batch_id, now() AS _ingested_at, '{source.name}' AS _source_file,"
            f" md5(concat_ws(chr(31), {hashed})) AS _record_hash"
            f" FROM read_csv('{raw}', header=true, all_varchar=true)) TO '{bronze}' (FORMAT parquet)"
        ),
    )
    select = ", ".join(SILVER_SELECT).replace("STRING", "VARCHAR")
    timed(
        result.zones,
        "silver",
        lambda: con.execute(
            f"COPY (SELECT {select}, _batch_id, _ingested_at FROM read_parquet('{bronze}')"
            f" QUALIFY row_number() OVER (PARTITION BY {', '.join(KEYS)} ORDER BY _ingested_at DESC) = 1)"
            f" TO '{silver}' (FORMAT parquet)"
        ),
    )
    return result


# -- LakeForge (either engine) --------------------------------------------------------------------
def run_lakeforge(engine: str, source: Path, work: Path, rows: int, database_url: str) -> Result:
    from lakeforge.metadata import models
    from lakeforge.metadata.db import open_database
    from lakeforge.metadata.repository import (
        BRONZE_CONFIGS,
        COMPUTE_PROFILES,
        SILVER_CONFIGS,
        SOURCE_GROUPS,
        SOURCES,
        Repository,
    )  # fmt: skip
    from lakeforge.runtime.runner import run_batch
    from lakeforge.settings import load_settings

    settings = load_settings(database_url=database_url, state_dir=work / "state", engine=engine)
    group = f"bench_{engine}"
    with open_database(settings) as db:
        with db.connection() as conn:
            profile = Repository(conn, COMPUTE_PROFILES).get(name="single_node")
            grp = Repository(conn, SOURCE_GROUPS).insert(
                models.SourceGroup(name=group, compute_profile_id=profile.id, engine=engine)  # type: ignore[arg-type]
            )
            src = Repository(conn, SOURCES).insert(
                models.Source(
                    name=f"lineitem_{engine}",
                    source_group_id=grp.id,
                    format="csv",  # type: ignore[arg-type]
                    location=str(source),
                )
            )
            Repository(conn, BRONZE_CONFIGS).insert(
                models.BronzeConfig(source_id=src.id, target_table=f"main.{group}.lineitem_bronze")  # type: ignore[arg-type]
            )
            Repository(conn, SILVER_CONFIGS).insert(
                models.SilverConfig(
                    source_id=src.id,
                    target_table=f"main.{group}.lineitem",  # type: ignore[arg-type]
                    primary_keys=KEYS,
                    select_expressions=SILVER_SELECT,
                )
            )
        run = run_batch(settings, db, group, zones=["raw", "bronze", "silver"], engine=engine)
        if run.status != "succeeded":
            raise SystemExit(f"LakeForge {engine} failed: {run.error}")
        with db.connection() as conn:
            zones = conn.execute(
                "SELECT zone, extract(epoch FROM ended_at - started_at) AS seconds"
                " FROM lakeforge_log.zone_run WHERE batch_id = %s ORDER BY id",
                [run.batch_id],
            ).fetchall()
    return Result(engine, rows, {z["zone"]: float(z["seconds"]) for z in zones})


# -- dlt ------------------------------------------------------------------------------------------
def run_dlt(source: Path, work: Path, rows: int) -> Result:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def batches():  # type: ignore[no-untyped-def]
        options = pacsv.ConvertOptions(column_types={c: pa.string() for c in COLUMNS})
        with pacsv.open_csv(source, convert_options=options) as reader:
            for batch in reader:
                yield pa.Table.from_batches([batch])

    resource = dlt.resource(batches, name="lineitem", write_disposition="append")
    pipeline = dlt.pipeline(
        pipeline_name="bench_ingest",
        pipelines_dir=str(work / "dlt_pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=str(work / "lake")),
        dataset_name="bronze",
    )
    result = Result("dlt", rows)
    timed(result.zones, "bronze", lambda: pipeline.run(resource(), table_format="delta"))
    return result


# -- Spark (hand-written and LakeForge) -----------------------------------------------------------
def start_spark(work: Path) -> tuple[object, float]:
    from lakeforge.runtime.spark.session import get_or_create_session
    from lakeforge.settings import load_settings

    started = time.perf_counter()
    spark = get_or_create_session(load_settings(state_dir=work / "spark-session"))
    return spark, time.perf_counter() - started


def run_pyspark(spark, source: Path, work: Path, rows: int) -> Result:  # type: ignore[no-untyped-def]
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    raw = work / "raw" / "batch_id=1" / source.name
    raw.parent.mkdir(parents=True)
    bronze, silver = str(work / "bronze"), str(work / "silver")
    result = Result("pyspark", rows)

    def to_bronze() -> None:
        frame = spark.read.option("header", "true").csv(str(raw))
        audit = [
            F.lit(1).cast("bigint").alias("_batch_id"),
            F.current_timestamp().alias("_ingested_at"),
            F.lit(source.name).alias("_source_file"),
            F.md5(F.concat_ws("\x1f", *(F.coalesce(F.col(c), F.lit("\x1e")) for c in COLUMNS))).alias(
                "_record_hash"
            ),
        ]
        frame.select("*", *audit).write.format("delta").mode("append").save(bronze)

    def to_silver() -> None:
        frame = (
            spark.read.format("delta").load(bronze).selectExpr(*SILVER_SELECT, "_batch_id", "_ingested_at")
        )
        latest = Window.partitionBy(*KEYS).orderBy(F.col("_ingested_at").desc())
        deduped = frame.withColumn("_rn", F.row_number().over(latest)).where("_rn = 1").drop("_rn")
        deduped.write.format("delta").mode("append").save(silver)

    timed(result.zones, "raw", lambda: shutil.copyfile(source, raw))
    timed(result.zones, "bronze", to_bronze)
    timed(result.zones, "silver", to_silver)
    return result


def warm_up_spark(spark, source: Path, work: Path) -> float:  # type: ignore[no-untyped-def]
    """Run the hand-written job once on the first 200,000 rows, so that neither Spark contender
    pays for a cold JVM (class loading, JIT) that the other, running second, would not."""
    started = time.perf_counter()
    folder = work / "spark-warm-up"
    folder.mkdir()
    sample = folder / source.name
    with source.open() as full, sample.open("w") as head:
        for _, line in zip(range(200_001), full, strict=False):
            head.write(line)
    run_pyspark(spark, sample, folder, 200_000)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor (1 = 6.0 M rows)")
    parser.add_argument(
        "--only", default=",".join(CONTENDERS), help="comma-separated subset of " + ", ".join(CONTENDERS)
    )
    args = parser.parse_args()
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(chosen) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown contender {unknown[0]!r}: choose from {', '.join(CONTENDERS)}")

    source = lineitem_csv(args.scale)
    rows = count_rows(source)
    print(f"lineitem scale {args.scale:g}: {rows:,} rows, {source.stat().st_size / 1e6:,.0f} MB ({source})")
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="lakeforge-bench-") as tmp:
        work = Path(tmp)
        server = None
        database_url = None
        if {"embedded", "spark"} & set(chosen):
            from lakeforge.metadata.db import open_database
            from lakeforge.metadata.embedded import EmbeddedPostgres
            from lakeforge.metadata.migrate import migrate
            from lakeforge.settings import load_settings

            server = EmbeddedPostgres(work / "pg")
            database_url = server.start()
            with open_database(load_settings(database_url=database_url, state_dir=work / "meta")) as db:
                migrate(db)
        try:
            for name in chosen:
                folder = work / name
                folder.mkdir()
                print(f"running {name} ...", flush=True)
                if name == "duckdb":
                    results[name] = run_duckdb(source, folder, rows)
                elif name == "embedded":
                    results[name] = run_lakeforge("embedded", source, folder, rows, str(database_url))
                elif name == "dlt":
                    try:
                        results[name] = run_dlt(source, folder, rows)
                    except ImportError:
                        print("  dlt is not installed: uv run --group bench python benchmarks/ingest.py")
                elif name == "pyspark":
                    spark, startup = start_spark(work)
                    print(
                        f"  spark session start: {startup:.1f} s (shared by pyspark and spark, not counted)"
                    )
                    print(f"  warm-up on a slice: {warm_up_spark(spark, source, work):.1f} s (not counted)")
                    results[name] = run_pyspark(spark, source, folder, rows)
                elif name == "spark":
                    spark, startup = start_spark(work)
                    if startup > 1:
                        print(f"  spark session start: {startup:.1f} s (not counted)")
                    results[name] = run_lakeforge("spark", source, folder, rows, str(database_url))
        finally:
            if server is not None:
                server.destroy()
    report(results)


def report(results: dict[str, Result]) -> None:
    print()
    head = f"{'contender':<10} {'raw s':>8} {'bronze s':>9} {'silver s':>9} {'total s':>8}"
    print(f"{head} {'bronze rows/s':>14} {'end-to-end rows/s':>18}")
    for r in results.values():
        cells = [f"{r.zones[z]:8.2f}" if z in r.zones else f"{'-':>8}" for z in ("raw", "bronze", "silver")]
        print(f"{r.name:<10} {cells[0]} {cells[1]:>9} {cells[2]:>9} {r.total:8.2f} {r.rate('bronze'):14,.0f} "
              f"{r.rate():18,.0f}")  # fmt: skip
    print()

    def goal(label: str, value: float, target: str, ok: bool) -> None:
        print(f"{label:<58} {value:6.2f}  (goal {target}: {'met' if ok else 'NOT met'})")

    if "embedded" in results and "dlt" in results:
        ratio = results["embedded"].rate("bronze") / results["dlt"].rate("bronze")
        goal("embedded Bronze rows/s ÷ dlt Bronze rows/s", ratio, "≥ 1.5", ratio >= 1.5)
    if "embedded" in results and "duckdb" in results:
        ratio = results["embedded"].total / results["duckdb"].total
        goal("embedded end-to-end time ÷ plain DuckDB time", ratio, "≤ 2", ratio <= 2)
    if "spark" in results and "pyspark" in results:
        ratio = results["spark"].total / results["pyspark"].total
        goal("LakeForge spark time ÷ hand-written PySpark time", ratio, "≤ 1.15", ratio <= 1.15)


if __name__ == "__main__":
    main()
