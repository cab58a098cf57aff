"""The reconciler's narrow, throttled, counted door to the workspace (databricks-sdk underneath).

Every request waits for a token from a token bucket (``sync_requests_per_second``), so a sync of
hundreds of groups never floods the workspace, and every request is counted: ``writes`` is the
``api_writes`` figure a no-op sync must keep at zero.

>>> gateway = Gateway(workspace_client(settings), requests_per_second=20)
>>> jobs = gateway.list_jobs()
>>> gateway.reads, gateway.writes
(1, 0)
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, ResourceDoesNotExist
from databricks.sdk.service import jobs, pipelines, workspace

from lakeforge.orchestration.compiler import MANAGED_TAG, NAME_PREFIX
from lakeforge.runtime.jobruns import JobRunEnds

PAGE_SIZE = 100


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``take`` blocks until one is free."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self.waited = 0.0

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self.rate
            self._tokens = 0
            self._stamp = now + wait
        self.waited += wait
        time.sleep(wait)


@dataclass
class LiveJob:
    job_id: str
    name: str
    settings: dict[str, Any]

    @property
    def tags(self) -> dict[str, str]:
        tags: dict[str, str] = self.settings.get("tags") or {}
        return tags


@dataclass
class LivePipeline:
    pipeline_id: str
    name: str
    # Only filled after a ``get`` (the list endpoint carries no spec).
    spec: dict[str, Any] | None = None

    @property
    def tags(self) -> dict[str, str]:
        tags: dict[str, str] = (self.spec or {}).get("tags") or {}
        return tags


def _kwargs(model: type[Any], spec: dict[str, Any]) -> dict[str, Any]:
    """SDK keyword arguments (typed dataclasses) from a REST JSON spec."""
    value = model.from_dict(spec)
    return {
        f.name: getattr(value, f.name)
        for f in dataclasses.fields(value)
        if getattr(value, f.name) is not None
    }


@dataclass
class Gateway:
    client: WorkspaceClient
    requests_per_second: float = 20.0
    reads: int = 0
    writes: int = 0
    _bucket: TokenBucket = field(init=False)

    def __post_init__(self) -> None:
        self._bucket = TokenBucket(self.requests_per_second)

    def _read(self) -> None:
        self._bucket.take()
        self.reads += 1

    def _write(self) -> None:
        self._bucket.take()
        self.writes += 1

    # -- jobs -------------------------------------------------------------------------------
    def list_jobs(self, name: str | None = None) -> list[LiveJob]:
        """Every job LakeForge tagged as managed (untagged ones are never returned)."""
        found: list[LiveJob] = []
        query: dict[str, Any] = {"expand_tasks": "true", "limit": PAGE_SIZE}
        if name:
            query["name"] = name
        while True:
            self._read()
            # The raw JSON through the SDK's API client (auth, retries, Retry-After): the settings
            # are compared as JSON anyway, and typed round trips cost more than the HTTP call.
            page = self.client.api_client.do("GET", "/api/2.2/jobs/list", query=query)
            assert isinstance(page, dict)
            for base in page.get("jobs", []):
                found.extend(self._managed(base))
            token = page.get("next_page_token")
            if not token or not page.get("has_more", True):
                return found
            query["page_token"] = token

    def _managed(self, base: dict[str, Any]) -> list[LiveJob]:
        settings: dict[str, Any] = base.get("settings") or {}
        if (settings.get("tags") or {}).get(MANAGED_TAG) != "true":
            return []
        if base.get("has_more"):
            # More than 100 tasks: the list shows the first 100 only; the SDK's get pages the rest.
            self._read()
            full = self.client.jobs.get(int(base["job_id"]))
            settings = full.settings.as_dict() if full.settings else settings
        return [LiveJob(str(base["job_id"]), settings.get("name", ""), settings)]

    def get_job(self, job_id: str) -> LiveJob | None:
        self._read()
        try:
            job = self.client.jobs.get(int(job_id))
        except (ResourceDoesNotExist, NotFound):
            return None
        settings = job.settings.as_dict() if job.settings else {}
        return LiveJob(job_id, settings.get("name", ""), settings)

    def job_run_ends(self) -> JobRunEnds:
        """How job runs ended (``runtime.jobruns``), read through this gateway's throttle and count."""
        return JobRunEnds(lambda: self.client, before_request=self._read)

    def create_job(self, spec: dict[str, Any]) -> str:
        self._write()
        created = self.client.jobs.create(**_kwargs(jobs.JobSettings, spec))
        return str(created.job_id)

    def reset_job(self, job_id: str, spec: dict[str, Any]) -> None:
        self._write()
        self.client.jobs.reset(int(job_id), jobs.JobSettings.from_dict(spec))

    def pause_job(self, job_id: str, schedule: dict[str, Any]) -> None:
        self._write()
        paused = jobs.CronSchedule.from_dict({**schedule, "pause_status": "PAUSED"})
        self.client.jobs.update(int(job_id), new_settings=jobs.JobSettings(schedule=paused))

    def delete_job(self, job_id: str) -> None:
        self._write()
        with contextlib.suppress(ResourceDoesNotExist, NotFound):  # already gone: the goal is met
            self.client.jobs.delete(int(job_id))

    # -- pipelines ----------------------------------------------------------------------------
    def list_pipelines(self) -> list[LivePipeline]:
        """Pipelines whose name could be LakeForge's (ownership is decided by tags on ``get``)."""
        found: list[LivePipeline] = []
        self._read()
        for index, info in enumerate(
            self.client.pipelines.list_pipelines(max_results=PAGE_SIZE, filter=f"name LIKE '{NAME_PREFIX}%'")
        ):
            if index and index % PAGE_SIZE == 0:
                self._read()
            if info.pipeline_id and (info.name or "").startswith(NAME_PREFIX):
                found.append(LivePipeline(info.pipeline_id, info.name or ""))
        return found

    def get_pipeline(self, pipeline_id: str) -> LivePipeline | None:
        self._read()
        try:
            got = self.client.pipelines.get(pipeline_id)
        except (ResourceDoesNotExist, NotFound):
            return None
        spec = got.spec.as_dict() if got.spec else {}
        return LivePipeline(pipeline_id, got.name or spec.get("name", ""), spec)

    def create_pipeline(self, spec: dict[str, Any]) -> str:
        self._write()
        # Names need not be unique: an unowned pipeline with our name is left alone, not renamed.
        created = self.client.pipelines.create(
            allow_duplicate_names=True, **_kwargs(pipelines.PipelineSpec, spec)
        )
        return str(created.pipeline_id)

    def update_pipeline(self, pipeline_id: str, spec: dict[str, Any]) -> None:
        self._write()
        kwargs = _kwargs(pipelines.PipelineSpec, spec)
        kwargs.pop("id", None)
        self.client.pipelines.update(pipeline_id, allow_duplicate_names=True, **kwargs)

    def delete_pipeline(self, pipeline_id: str) -> None:
        """Delete the pipeline but never its tables (``cascade=False``)."""
        self._write()
        with contextlib.suppress(ResourceDoesNotExist, NotFound):
            self.client.pipelines.delete(pipeline_id, cascade=False)

    # -- workspace files ---------------------------------------------------------------------
    def path_exists(self, path: str) -> bool:
        self._read()
        try:
            self.client.workspace.get_status(path)
        except (ResourceDoesNotExist, NotFound):
            return False
        return True

    def import_notebook(self, path: str, source: str) -> None:
        self._write()
        self.client.workspace.import_(
            path,
            content=base64.b64encode(source.encode()).decode(),
            format=workspace.ImportFormat.SOURCE,
            language=workspace.Language.PYTHON,
            overwrite=True,
        )

    def mkdirs(self, path: str) -> None:
        self._write()
        self.client.workspace.mkdirs(path)


def upload_notebooks(client: WorkspaceClient, path: str, source_dir: Path | None = None) -> list[str]:
    """Import the repository's ``notebooks/*.py`` (Databricks source format) under ``path``."""
    from lakeforge.settings import PROJECT_ROOT

    folder = source_dir or PROJECT_ROOT / "notebooks"
    gateway = Gateway(client, requests_per_second=50)
    gateway.mkdirs(path)
    imported = []
    for notebook in sorted(folder.glob("*.py")):
        target = f"{path.rstrip('/')}/{notebook.stem}"
        gateway.import_notebook(target, notebook.read_text())
        imported.append(target)
    return imported
