"""``lakeforge deploy``: LakeForge into a Databricks workspace, idempotently.

1. build the LakeForge wheel (reproducible: the same sources give the same bytes);
2. upload the wheel, the notebooks and the App definition to workspace files, each only when
   its content changed;
3. migrate the metadata store (Lakebase when configured);
4. sync jobs and pipelines with the reconciler, which also creates or updates the
   ``lakeforge-sync-jobs`` job that keeps them in sync afterwards.

A second deploy with nothing changed makes no workspace writes.

>>> report = deploy(settings, db, client)
>>> report.workspace_writes
0
"""

from __future__ import annotations

import posixpath
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databricks.sdk import WorkspaceClient

from lakeforge.deploy.app_spec import render_app_yaml
from lakeforge.deploy.files import UploadReport, sync_file
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.settings import PROJECT_ROOT, Settings


class DeployError(LakeForgeError):
    """A deploy step failed; nothing after it ran."""


@dataclass
class DeployReport:
    root: str
    wheel_path: str
    uploads: UploadReport = field(default_factory=UploadReport)
    migrations_applied: list[str] = field(default_factory=list)
    sync: dict[str, Any] = field(default_factory=dict)

    @property
    def workspace_writes(self) -> int:
        return self.uploads.writes + int(self.sync.get("api_writes", 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "wheel_path": self.wheel_path,
            "uploaded": self.uploads.written,
            "unchanged": self.uploads.unchanged,
            "migrations_applied": self.migrations_applied,
            "sync": self.sync,
            "workspace_writes": self.workspace_writes,
        }


def build_wheel(out_dir: Path) -> Path:
    """Build LakeForge's wheel with uv (hatchling builds it reproducibly)."""
    result = subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-m", "uv", "build", "--wheel", "--out-dir", str(out_dir), str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(out_dir.glob("lakeforge-*.whl"))
    if result.returncode != 0 or not wheels:
        reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel produced"]
        raise DeployError(
            f"building the LakeForge wheel failed: {reason[0]}", fix="Run `uv build --wheel` to see why."
        )
    return wheels[-1]


def deploy_root(settings: Settings) -> str:
    """The workspace folder LakeForge deploys into: the parent of the notebook folder."""
    return posixpath.dirname(settings.workspace_notebook_dir.rstrip("/"))


def deploy(
    settings: Settings, db: Database, client: WorkspaceClient, *, wheel: Path | None = None
) -> DeployReport:
    from lakeforge.metadata.migrate import migrate
    from lakeforge.orchestration import reconciler

    root = deploy_root(settings)
    with tempfile.TemporaryDirectory() as scratch:
        built = wheel or build_wheel(Path(scratch))
        wheel_path = f"{root}/wheels/{built.name}"
        report = DeployReport(root=root, wheel_path=wheel_path)
        sync_file(client, wheel_path, built.read_bytes(), report.uploads)
    for notebook in sorted((PROJECT_ROOT / "notebooks").glob("*.py")):
        target = f"{settings.workspace_notebook_dir.rstrip('/')}/{notebook.stem}"
        sync_file(client, target, notebook.read_bytes(), report.uploads)
    sync_file(client, f"{root}/app/app.yaml", render_app_yaml(settings).encode(), report.uploads)

    report.migrations_applied = migrate(db).applied
    deployed = settings.model_copy(update={"wheel_path": wheel_path})
    result = reconciler.apply(db, client, settings=deployed)
    report.sync = result.to_json()
    if result.errors:
        first = result.errors[0]
        raise DeployError(
            f"sync failed for {first.get('resource')} {first.get('name')}: {first.get('error')}",
            fix="Fix the metadata or the workspace and run `lakeforge deploy` again; "
            "finished steps are kept.",
        )
    return report
