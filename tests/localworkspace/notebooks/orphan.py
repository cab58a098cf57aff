# Databricks notebook source
# A job task whose process dies as Databricks ends a task's process when its run is cancelled,
# times out or loses its cluster: it opens its run's batch as the runtime does (the Raw zone and
# one table running, the batch's lock held on a connection of its own), then stops without ending
# them. Widgets: `job_run_id`; `hold`, seconds to wait for the run's cancel before dying;
# `lose_lock` ("yes": drop the lock at once and keep running, as a process whose Lakebase
# connection broke); `fail_with`, an error to die with.
for name, default in [("job_run_id", ""), ("hold", "60"), ("lose_lock", ""), ("fail_with", "")]:
    dbutils.widgets.text(name, default)

# COMMAND ----------

import threading

from lakeforge.metadata.db import open_database
from lakeforge.runtime.runlog import RunLog, create_batch

stop = dbutils.lakeforge_cancel or threading.Event()
with open_database(dbutils.lakeforge_settings) as db, db.dedicated_connection() as holder:
    batch_id = create_batch(
        holder,
        {
            "group_name": "sales",
            "trigger": "schedule",
            "status": "running",
            "databricks_run_id": dbutils.widgets.get("job_run_id"),
        },
    )
    log = RunLog(db, batch_id, "sales")
    log.table_start(log.zone_start("raw"), "raw", "raw:orders", "orders")
    if dbutils.widgets.get("lose_lock"):
        holder.close()
    stop.wait(float(dbutils.widgets.get("hold")))
# The connection closed with the block: the lock went with it, and nothing wrote the batch's end.
if dbutils.widgets.get("fail_with"):
    raise RuntimeError(dbutils.widgets.get("fail_with"))
if stop.is_set():
    raise RuntimeError("killed: the run was cancelled")
