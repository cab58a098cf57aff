# Databricks notebook source
# MAGIC %md
# MAGIC # Bronze → Silver → Gold
# MAGIC The group's pipeline outside Lakeflow/DLT: Silver transforms, data-quality rules and
# MAGIC SCD merges, then Gold tables, from the same metadata the declarative pipeline uses.
# MAGIC Parameters: `group`, `batch_id` (default: the newest batch Bronze completed), `engine`,
# MAGIC `job_run_id`.

# COMMAND ----------

for name, default in [("group", ""), ("batch_id", ""), ("engine", "auto"), ("job_run_id", "")]:
    dbutils.widgets.text(name, default)

# COMMAND ----------

from lakeforge.runtime.tasks import run_zone_task

dbutils.notebook.exit(run_zone_task(dbutils, ["silver", "gold"]))
