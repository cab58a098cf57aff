# Databricks notebook source
# MAGIC %md
# MAGIC # Source → Raw
# MAGIC Lands one batch of a LakeForge source in the Raw zone, as is, with file names, sizes and
# MAGIC checksums in the run log. Parameters: `group`, `source`, `batch_id` (optional), `engine`,
# MAGIC `job_run_id` (`{{job.run_id}}` in jobs, so all tasks of a run share one batch), `ends_batch`
# MAGIC (`false` in jobs: the run's last task, `pipeline_run_log`, ends the batch).

# COMMAND ----------

for name, default in [
    ("group", ""), ("source", ""), ("batch_id", ""), ("engine", "auto"), ("job_run_id", ""), ("ends_batch", "")
]:
    dbutils.widgets.text(name, default)

# COMMAND ----------

from lakeforge.runtime.tasks import run_zone_task

dbutils.notebook.exit(run_zone_task(dbutils, ["raw"]))
