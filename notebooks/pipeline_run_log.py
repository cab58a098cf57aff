# Databricks notebook source
# MAGIC %md
# MAGIC # Pipeline results → run log
# MAGIC Runs after the group's declarative pipeline task. On Databricks the pipeline checks the
# MAGIC quality rules as its own expectations; this task reads the pipeline's event log and writes
# MAGIC one `dq_run` row per rule and table, and the Silver/Gold tables' row counts, into the job's
# MAGIC batch. Elsewhere the engine already wrote them. It is the job run's last task (it runs
# MAGIC whatever the others did), so it ends the run's batch.
# MAGIC Parameters: `group`, `job_run_id`, `pipeline_id`, `batch_id` (optional),
# MAGIC `event_log_table` (the table the pipeline publishes its event log to, read on Databricks),
# MAGIC `event_log` (optional: an event-log table to read anywhere).

# COMMAND ----------

for name in ("group", "job_run_id", "pipeline_id", "batch_id", "event_log", "event_log_table"):
    dbutils.widgets.text(name, "")

# COMMAND ----------

from lakeforge.runtime.spark.eventlog import run_pipeline_log_task

dbutils.notebook.exit(run_pipeline_log_task(dbutils))
