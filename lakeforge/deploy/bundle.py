"""``lakeforge export --bundle DIR``: the reconciler's desired state as a Databricks Asset Bundle.

For teams that review deployments in git: ``databricks.yml`` plus one resource file per
group, describing exactly the jobs and pipelines ``lakeforge sync plan`` would create.
Pipelines are referred to as ``${resources.pipelines.<name>.id}`` so the bundle deploys on
its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from lakeforge.metadata.db import Database
from lakeforge.orchestration.compiler import DesiredResource, DesiredState, resolve
from lakeforge.settings import Settings


def resource_name(resource: DesiredResource) -> str:
    """A bundle resource key: the Databricks name with only letters, digits and underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", resource.name)


def desired_state(db: Database, settings: Settings) -> DesiredState:
    from lakeforge.orchestration.compiler import compile_state
    from lakeforge.orchestration.loader import compile_options, load_snapshot

    with db.connection() as conn:
        snapshot = load_snapshot(conn)
    return compile_state(snapshot, compile_options(settings))


def bundle_documents(state: DesiredState, *, bundle_name: str = "lakeforge") -> dict[str, dict[str, Any]]:
    """File name → YAML document for ``databricks.yml`` and ``resources/*.yml``."""
    pipelines = {r.key: r for r in state.resources if r.resource_type == "pipeline"}
    references = {key: f"${{resources.pipelines.{resource_name(r)}.id}}" for key, r in pipelines.items()}
    documents: dict[str, dict[str, Any]] = {
        "databricks.yml": {
            "bundle": {"name": bundle_name},
            "include": ["resources/*.yml"],
            "targets": {"default": {"default": True, "mode": "production"}},
        }
    }
    for resource in sorted(state.resources, key=lambda r: (r.resource_type, r.key)):
        spec = resolve(resource.spec, references)
        kind = "jobs" if resource.resource_type == "job" else "pipelines"
        file = f"resources/{resource_name(resource)}.{resource.resource_type}.yml"
        documents[file] = {"resources": {kind: {resource_name(resource): spec}}}
    return documents


def write_bundle(directory: Path, documents: dict[str, dict[str, Any]]) -> list[Path]:
    """Write the bundle, replacing LakeForge's resource files from an earlier export."""
    directory.mkdir(parents=True, exist_ok=True)
    resources = directory / "resources"
    resources.mkdir(exist_ok=True)
    for old in resources.glob("lakeforge*.yml"):
        old.unlink()
    written = []
    for name, document in documents.items():
        path = directory / name
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        written.append(path)
    return written
