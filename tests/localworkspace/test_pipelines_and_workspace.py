"""Pipelines 2.0 and workspace 2.0 endpoints through the real SDK."""

from __future__ import annotations

import base64
import io

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, ResourceAlreadyExists, ResourceConflict
from databricks.sdk.service import pipelines, workspace


def test_pipeline_create_get_list_edit_delete(w: WorkspaceClient) -> None:
    created = w.pipelines.create(
        name="lakeforge-sales",
        catalog="main",
        schema="sales",
        development=True,
        configuration={"lakeforge.group": "sales"},
        libraries=[
            pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path="/Shared/lakeforge/silver"))
        ],
        tags={"lakeforge_managed": "true"},
    )
    got = w.pipelines.get(created.pipeline_id)
    assert got.name == "lakeforge-sales" and got.spec.catalog == "main" and got.spec.development is True
    assert got.spec.configuration == {"lakeforge.group": "sales"}
    assert got.state == pipelines.PipelineState.IDLE
    assert got.spec.id == created.pipeline_id

    with pytest.raises(ResourceConflict):
        w.pipelines.create(name="lakeforge-sales")

    for i in range(30):
        w.pipelines.create(name=f"other-{i:02d}")
    everything = list(w.pipelines.list_pipelines(max_results=7))
    assert len(everything) == 31 and len({p.pipeline_id for p in everything}) == 31
    assert [p.name for p in w.pipelines.list_pipelines(filter="name LIKE 'lakeforge-%'")] == [
        "lakeforge-sales"
    ]

    w.pipelines.update(created.pipeline_id, name="lakeforge-sales", catalog="main", schema="sales_v2")
    assert w.pipelines.get(created.pipeline_id).spec.schema == "sales_v2"
    assert w.pipelines.get(created.pipeline_id).spec.development is False  # edit replaces the whole spec

    w.pipelines.delete(created.pipeline_id)
    with pytest.raises(NotFound):
        w.pipelines.get(created.pipeline_id)


def test_workspace_import_status_list_export_delete(w: WorkspaceClient) -> None:
    source = b"# Databricks notebook source\nprint('hi')\n"
    with pytest.raises(NotFound):
        w.workspace.import_(
            "/Shared/x/nb", content=base64.b64encode(source).decode(), language=workspace.Language.PYTHON
        )
    w.workspace.mkdirs("/Shared/x")
    w.workspace.import_(
        "/Shared/x/nb",
        content=base64.b64encode(source).decode(),
        format=workspace.ImportFormat.SOURCE,
        language=workspace.Language.PYTHON,
    )
    with pytest.raises(ResourceAlreadyExists):
        w.workspace.import_(
            "/Shared/x/nb", content=base64.b64encode(source).decode(), language=workspace.Language.PYTHON
        )
    # upload() sends multipart form data; AUTO strips the .py of a notebook
    w.workspace.upload("/Shared/x/auto.py", io.BytesIO(source), format=workspace.ImportFormat.AUTO)
    w.workspace.upload("/Shared/x/data.csv", io.BytesIO(b"a,b\n1,2\n"), format=workspace.ImportFormat.AUTO)

    status = w.workspace.get_status("/Shared/x/nb")
    assert (
        status.object_type == workspace.ObjectType.NOTEBOOK and status.language == workspace.Language.PYTHON
    )
    listing = {o.path: o.object_type for o in w.workspace.list("/Shared/x")}
    assert listing == {
        "/Shared/x/auto": workspace.ObjectType.NOTEBOOK,
        "/Shared/x/data.csv": workspace.ObjectType.FILE,
        "/Shared/x/nb": workspace.ObjectType.NOTEBOOK,
    }
    assert base64.b64decode(w.workspace.export("/Shared/x/nb").content) == source
    assert w.workspace.download("/Shared/x/data.csv").read() == b"a,b\n1,2\n"

    with pytest.raises(Exception, match="not empty"):
        w.workspace.delete("/Shared/x")
    w.workspace.delete("/Shared/x", recursive=True)
    with pytest.raises(NotFound):
        w.workspace.get_status("/Shared/x/nb")
