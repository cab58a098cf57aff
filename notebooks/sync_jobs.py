# Databricks notebook source
# MAGIC %md
# MAGIC # LakeForge: sync jobs
# MAGIC Compiles the metadata in Lakebase into Databricks jobs and pipelines and reconciles the
# MAGIC workspace with it (`lakeforge.orchestration.reconciler.apply`). The `lakeforge-sync-jobs`
# MAGIC job runs this notebook on its own Quartz schedule, so metadata changes reach the workspace
# MAGIC without anyone clicking. A second run with unchanged metadata writes nothing.
# MAGIC
# MAGIC Settings come from the widgets below, else from `LAKEFORGE_*` environment variables.
# MAGIC No widget holds a secret: Lakebase is reached with the job's own OAuth identity.

# COMMAND ----------

dbutils.widgets.text("lakebase_instance", "")
dbutils.widgets.text("lakebase_endpoint", "")
dbutils.widgets.text("lakebase_database", "")
dbutils.widgets.text("lakebase_user", "")
dbutils.widgets.text("workspace_notebook_dir", "")

# COMMAND ----------

import json

from lakeforge.metadata.db import open_database
from lakeforge.orchestration import reconciler
from lakeforge.orchestration.client import workspace_client
from lakeforge.settings import load_settings

names = ["lakebase_instance", "lakebase_endpoint", "lakebase_database", "lakebase_user", "workspace_notebook_dir"]
overrides = {name: value for name in names if (value := dbutils.widgets.get(name).strip())}
settings = load_settings(**overrides)

# COMMAND ----------

with open_database(settings) as db:
    result = reconciler.apply(db, workspace_client(settings), settings=settings)
summary = result.to_json()
print(json.dumps(summary, indent=2, default=str))

# COMMAND ----------

# A sync with errors fails the run, so the job's failure notifications fire.
if summary["errors"]:
    raise RuntimeError(f"{len(summary['errors'])} resource(s) could not be synced: {summary['errors']}")
dbutils.notebook.exit(json.dumps({k: summary[k] for k in ("created", "updated", "deleted", "api_writes")}))
