"""Seams between the command layer and the parts that do the work: the batch runner and the job syncer.

The defaults import ``lakeforge.runtime.runner`` and ``lakeforge.orchestration.reconciler``
lazily, so the command layer works (and is tested) on its own. Tests and embedders may install
their own launcher with ``set_launcher`` (e.g. one that records or runs synchronously).

>>> set_launcher(lambda db, request: print(request.batch_id))
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lakeforge.metadata.db import Database
from lakeforge.runtime import runlog
from lakeforge.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchRequest:
    """A queued ``lakeforge_log.batch_run`` row to execute."""

    batch_id: int
    group: str
    sources: list[str] | None
    zones: list[str] | None
    engine: str | None
    trigger: str
    rerun_of: int | None
    requested_by: str


Launcher = Callable[[Database, LaunchRequest], None]
Syncer = Callable[[Database, str], Any]

_settings: Settings | None = None
_launcher: Launcher | None = None
_syncer: Syncer | None = None


def configure(settings: Settings) -> None:
    """Settings the default launcher and syncer use (the API and CLI call this at start)."""
    global _settings
    _settings = settings


def current_settings() -> Settings:
    if _settings is not None:
        return _settings
    from lakeforge.settings import get_settings

    return get_settings()


def set_launcher(launcher: Launcher | None) -> None:
    """Install a launcher (None restores the default: the runtime's ``run_batch`` in a thread)."""
    global _launcher
    _launcher = launcher


def set_syncer(syncer: Syncer | None) -> None:
    """Install a syncer ``fn(db, mode) -> result`` with mode 'plan' or 'apply' (None: the reconciler)."""
    global _syncer
    _syncer = syncer


def databricks_configured(settings: Settings) -> bool:
    import os

    return bool(settings.databricks_host or os.environ.get("DATABRICKS_HOST"))


def default_launcher(db: Database, request: LaunchRequest) -> None:
    """Run the batch: as a run of the group's job on Databricks, else in a background thread here.

    With a Databricks workspace configured, a batch run in this process would run beside the
    job's own runs, on the wrong compute; ``lakeforge.orchestration.launcher`` starts the job.
    Releases the batch's claim (see ``claim``) once the job run is recorded or the run has ended.
    """
    in_thread = False
    try:
        if not start_job(db, request):
            threading.Thread(
                target=run_claimed,
                args=(db, request),
                name=f"lakeforge-batch-{request.batch_id}",
                daemon=True,
            ).start()
            in_thread = True
    finally:
        if not in_thread:
            runlog.release_claim(db, request.batch_id)


def start_job(db: Database, request: LaunchRequest) -> bool:
    """Start the batch as a run of the group's job when a Databricks workspace is configured and
    the job can carry it; False when the batch must run in a LakeForge process instead."""
    settings = current_settings()
    if not databricks_configured(settings):
        return False
    from lakeforge.orchestration.client import workspace_client
    from lakeforge.orchestration.launcher import JobLauncher

    if not JobLauncher.handles(db, request):
        return False
    JobLauncher(settings, lambda: workspace_client(settings))(db, request)
    return True


def run_claimed(db: Database, request: LaunchRequest) -> None:
    """Run a batch this process claimed, to its end, then drop the claim; never raises. The one
    way a LakeForge process runs a queued batch: in a thread of the API or the CLI, or in the
    background process of ``lakeforge run --no-wait`` (``lakeforge.commands.detached``)."""
    from lakeforge.runtime.runner import run_batch

    try:
        run_batch(
            current_settings(),
            db,
            request.group,
            sources=request.sources,
            zones=request.zones,
            engine=request.engine,
            trigger=request.trigger,
            rerun_of=request.rerun_of,
            batch_id=request.batch_id,
            requested_by=request.requested_by,
        )
    except Exception as error:  # the runner records its own failure in the run log...
        log.exception("batch %s failed", request.batch_id)
        # ...once it has started the batch; before that, nobody would, and followers would wait.
        reason = f"the batch could not start ({type(error).__name__}: {error})"
        runlog.fail_unstarted(db, request.batch_id, reason)
    finally:
        runlog.release_claim(db, request.batch_id)


def claim(db: Database, batch_id: int) -> None:
    """Promise to start the queued ``batch_id`` (call before its row commits): should this process
    die before a runner holds the batch, ``runlog.fail_stale_batches`` marks it failed instead of
    leaving it queued for ever."""
    runlog.claim_queued(db, batch_id)


def launch(db: Database, request: LaunchRequest) -> None:
    """Start a claimed batch; the claim ends when the batch is under way (or handed to a launcher
    installed with ``set_launcher``, which owns it from then on)."""
    if _launcher is None:
        default_launcher(db, request)
        return
    try:
        _launcher(db, request)
    finally:
        runlog.release_claim(db, request.batch_id)


def cancel_job_run(run_id: str) -> None:
    """Cancel the workspace's job run ``run_id`` (Databricks, or the local workspace, whichever
    ran it); returns at once, the run ends on its own. A run the workspace no longer knows is
    left alone: nothing is running there to stop."""
    from databricks.sdk.errors import ResourceDoesNotExist

    from lakeforge.orchestration.client import workspace_client

    try:
        workspace_client(current_settings()).jobs.cancel_run(int(run_id))
    except ResourceDoesNotExist:
        log.info("job run %s no longer exists; nothing to cancel there", run_id)


def default_syncer(db: Database, mode: str) -> Any:
    """Reconcile with the configured workspace through ``lakeforge.orchestration.reconciler``."""
    from lakeforge.orchestration import reconciler
    from lakeforge.orchestration.client import workspace_client

    settings = current_settings()
    # The configured Databricks host, the SDK's own environment, or the local workspace.
    client = workspace_client(settings)
    if mode == "plan":
        return reconciler.plan(db, client, settings=settings)
    return reconciler.apply(db, client, settings=settings)


def sync(db: Database, mode: str) -> Any:
    return (_syncer or default_syncer)(db, mode)


def to_jsonable(value: Any) -> Any:
    """Results of the runner or reconciler as JSON-able data, whatever their type."""
    import dataclasses

    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return str(value)
