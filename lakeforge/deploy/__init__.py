"""Putting LakeForge into a Databricks workspace: ``lakeforge deploy`` and ``export --bundle``."""
