# Databricks notebook source
# MAGIC %md
# MAGIC # Raw → Bronze
# MAGIC Appends one batch from Raw to the source's Bronze Delta table with audit columns
# MAGIC (`_batch_id`, `_ingested_at`, `_source_file`, `_record_hash`) under its schema policy.
# MAGIC A rerun of the batch replaces exactly its rows. Parameters: `group`, `source`,
# MAGIC `batch_id` (default: the newest batch Raw completed), `engine`, `job_run_id`, `ends_batch`
# MAGIC (`false` in jobs: the run's last task, `pipeline_run_log`, ends the batch).

# COMMAND ----------

for name, default in [
    ("group", ""), ("source", ""), ("batch_id", ""), ("engine", "auto"), ("job_run_id", ""), ("ends_batch", "")
]:
    dbutils.widgets.text(name, default)

# COMMAND ----------

from lakeforge.runtime.tasks import run_zone_task

dbutils.notebook.exit(run_zone_task(dbutils, ["bronze"]))
