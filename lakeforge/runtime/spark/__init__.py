"""The spark engine: Databricks' session, or local Spark with Delta Lake (see ``engine.py``)."""

from lakeforge.runtime.spark.engine import SparkEngine
from lakeforge.runtime.spark.session import get_or_create_session, is_databricks

__all__ = ["SparkEngine", "get_or_create_session", "is_databricks"]
