"""Creating the group pipeline the local workspace runs, as the sync creates it for a group."""

from __future__ import annotations

from databricks.sdk import WorkspaceClient
from databricks.sdk.service import pipelines


def sales_pipeline(w: WorkspaceClient, notebook: str = "/Shared/pipeline") -> str:
    """A pipeline for group ``sales`` (the local workspace runs the group's Silver and Gold from
    its configuration; the notebook is only named); returns its id."""
    return w.pipelines.create(
        name="lakeforge-sales",
        catalog="main",
        schema="sales",
        configuration={"lakeforge.group": "sales"},
        libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path=notebook))],
    ).pipeline_id
