"""The Spark session the spark engine runs on: Databricks' own, or a local one with Delta Lake.

On Databricks the notebook or pipeline already has a session and LakeForge uses it as is.
Elsewhere :func:`get_or_create_session` starts one local session per process, tuned for a
small machine (``local[2]``, no UI, few shuffle partitions) with Delta Lake's jars taken from
the folder ``make`` fills once with Maven (``.state/jars``), so starting Spark downloads nothing.

Table names: the local session keeps no metastore of its own. The spark engine maps a Unity
Catalog name ``catalog.schema.table`` to the Delta folder ``lakehouse_path/catalog/schema/table``
(the embedded engine's layout), so the catalog persists in the lakehouse itself and one warm
session can serve several lakehouses (as the test suite does).

>>> spark = get_or_create_session(settings)
>>> spark.range(3).count()
3
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from lakeforge.errors import LakeForgeError
from lakeforge.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Where `make` (target .state/stamps/jars) copies Delta's jars with Maven.
DEFAULT_JARS_DIR = PROJECT_ROOT / ".state" / "jars"

_lock = threading.Lock()


class SparkUnavailable(LakeForgeError):
    """Local Spark cannot start (pyspark missing, or Delta's jars not fetched yet)."""


def is_databricks(spark: SparkSession | None = None) -> bool:
    """True on a Databricks cluster or serverless compute (where Auto Loader and UC exist)."""
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return True
    if spark is None:
        return False
    try:
        return spark.conf.get("spark.databricks.clusterUsageTags.clusterId", None) is not None
    except Exception:  # a Connect session may refuse unknown keys
        return False


def active_session() -> SparkSession | None:
    """The session already running in this process (always the case on Databricks), if any."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def delta_jars(settings: Settings) -> list[Path]:
    """Delta Lake's jars: from ``STATE_DIR/jars`` when present, else the project's ``.state/jars``."""
    for folder in (settings.state_dir / "jars", DEFAULT_JARS_DIR):
        jars = sorted(folder.glob("*.jar"))
        if any(j.name.startswith("delta-spark_") for j in jars):
            return jars
    raise SparkUnavailable(
        f"Delta Lake's jars are not in {DEFAULT_JARS_DIR}",
        field="engine",
        fix="Run `make jars` once (it fetches them with Maven), or use the embedded engine.",
    )


def get_or_create_session(settings: Settings) -> SparkSession:
    """The active session, or a new local one with Delta Lake (one per process, reused)."""
    existing = active_session()
    if existing is not None:
        return existing
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(
            "pyspark is not installed",
            field="engine",
            fix="Install the spark extra (`uv sync --extra spark`) or use the embedded engine.",
        ) from None
    with _lock:
        existing = SparkSession.getActiveSession()
        if existing is not None:
            return existing
        # The driver binds to loopback: no firewall prompts, no surprise network exposure.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        scratch = settings.state_dir / "spark"
        scratch.mkdir(parents=True, exist_ok=True)
        jars = ",".join(str(j) for j in delta_jars(settings))
        builder = (
            SparkSession.builder.master("local[2]")
            .appName("lakeforge")
            .config("spark.jars", jars)
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.sql.session.timeZone", "UTC")
            # Lenient casts and arithmetic (NULL, not an error), as the embedded engine runs them.
            .config("spark.sql.ansi.enabled", "false")
            # Parse every CSV field even when a query needs none (a count): otherwise a malformed
            # row passes FAILFAST unseen, where the embedded engine rejects it.
            .config("spark.sql.csv.parser.columnPruning.enabled", "false")
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
            .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
            .config("spark.local.dir", str(scratch / "tmp"))
            # Delta reads its log with 50 partitions by default: far too many for two cores.
            .config("spark.databricks.delta.snapshotPartitions", "2")
            # Delta tables the embedded engine (delta-rs) also reads: no deletion vectors.
            .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.driver.memory", "2g")
        )
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark
