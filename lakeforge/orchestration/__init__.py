"""Orchestration: compute profiles, Quartz schedules, the compiler (metadata → desired jobs and
pipelines) and the reconciler that keeps a Databricks workspace equal to it."""
