# Databricks notebook source
# MAGIC %md
# MAGIC # The group's declarative pipeline: Bronze → Silver → Gold
# MAGIC Lakeflow Declarative Pipelines (DLT) source for one source group, built from LakeForge
# MAGIC metadata: Silver views with the group's quality rules as expectations, auto-CDC merges
# MAGIC (SCD type 1 or 2; a full load with primary keys from snapshots, one per Bronze batch), a
# MAGIC full load without primary keys as a materialized view of its newest Bronze batch,
# MAGIC quarantine tables (rows failing a quarantine rule or with a NULL key column, with every
# MAGIC rule they failed) and Gold materialized views.
# MAGIC Pipeline configuration: `lakeforge.group` (required) and any LakeForge setting as
# MAGIC `lakeforge.<setting>` (for example `lakeforge.lakebase_instance`).
# MAGIC Outside Databricks the same metadata runs with `lakeforge run GROUP` on either engine.

# COMMAND ----------

try:
    from pyspark import pipelines as dp
except ImportError:  # older runtimes name the module dlt
    import dlt as dp

from lakeforge.metadata.db import open_database
from lakeforge.runtime.config import load_group
from lakeforge.runtime.spark.pipeline import apply_plan, plan_pipeline
from lakeforge.settings import Settings, load_settings

# COMMAND ----------

group = spark.conf.get("lakeforge.group")
overrides = {}
for name in Settings.model_fields:
    value = spark.conf.get(f"lakeforge.{name}", None)
    if value is not None:
        overrides[name] = value

with open_database(load_settings(**overrides)) as db:
    plan = plan_pipeline(load_group(db, group))

apply_plan(plan, dp, spark)
