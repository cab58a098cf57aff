"""Idempotent uploads to workspace files: an object is written only when its content differs.

A second deploy therefore makes no writes at all, which is what lets ``lakeforge deploy``
run from CI on every merge.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, ResourceDoesNotExist
from databricks.sdk.service import workspace

NOTEBOOK_HEADER = "# Databricks notebook source"


@dataclass
class UploadReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.written)


def _current(client: WorkspaceClient, path: str, notebook: bool) -> bytes | None:
    try:
        exported = client.workspace.export(
            path, format=workspace.ExportFormat.SOURCE if notebook else workspace.ExportFormat.AUTO
        )
    except (NotFound, ResourceDoesNotExist):
        return None
    return base64.b64decode(exported.content or "")


def _same_notebook(current: bytes, wanted: bytes) -> bool:
    # Exported notebooks may differ only by trailing white space.
    return current.decode(errors="replace").strip() == wanted.decode(errors="replace").strip()


def sync_file(client: WorkspaceClient, path: str, content: bytes, report: UploadReport) -> None:
    """Make the workspace object at ``path`` hold ``content``; notebooks are recognised by their header."""
    notebook = content.lstrip().startswith(NOTEBOOK_HEADER.encode())
    current = _current(client, path, notebook)
    if current is not None and (_same_notebook(current, content) if notebook else current == content):
        report.unchanged.append(path)
        return
    parent = path.rsplit("/", 1)[0]
    client.workspace.mkdirs(parent)
    if notebook:
        client.workspace.import_(
            path,
            content=base64.b64encode(content).decode(),
            format=workspace.ImportFormat.SOURCE,
            language=workspace.Language.PYTHON,
            overwrite=True,
        )
    else:
        client.workspace.import_(
            path,
            content=base64.b64encode(content).decode(),
            format=workspace.ImportFormat.RAW,
            overwrite=True,
        )
    report.written.append(path)
