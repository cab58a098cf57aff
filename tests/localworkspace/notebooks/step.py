# Databricks notebook source
# A tiny notebook for the local workspace tests: appends "<step> <group>" to the file named by `out`,
# sleeps `sleep` seconds, and fails while fewer than `fail_times` attempts have been made.
dbutils.widgets.text("out", "")
dbutils.widgets.text("step", "")
dbutils.widgets.text("group", "")
dbutils.widgets.text("sleep", "0")
dbutils.widgets.text("fail_times", "0")

# COMMAND ----------

import time
from pathlib import Path

out = Path(dbutils.widgets.get("out"))
step = dbutils.widgets.get("step")
attempts = out.with_suffix(f".{step}.attempts")
made = int(attempts.read_text()) if attempts.exists() else 0
attempts.write_text(str(made + 1))
time.sleep(float(dbutils.widgets.get("sleep")))
if made < int(dbutils.widgets.get("fail_times")):
    raise RuntimeError(f"step {step} failed on purpose (attempt {made})")
with out.open("a") as handle:
    handle.write(f"{step} {dbutils.widgets.get('group')}\n")
