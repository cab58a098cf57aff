"""The local workspace: Databricks' jobs, pipelines and workspace REST API on one machine.

``LocalWorkspace`` (in ``server``) serves the subset LakeForge uses so the real
``databricks-sdk`` works against it unchanged; see docs/local-workspace.md.
"""
