"""Keep the workspace equal to the metadata: ``plan`` says what would change, ``apply`` does it.

Three views are compared: the desired state (compiled from metadata), the ``managed_resource``
table (what LakeForge last wrote) and the live workspace (jobs and pipelines it tagged
``lakeforge_managed=true``). Rules:

* Only tagged objects are touched; an untagged job with the same name is invisible here.
* A tagged object LakeForge lost track of is adopted, never duplicated; surplus tagged copies of
  one key (a create the SDK retried after a lost reply) are deleted.
* A live job whose managed fields no longer hash to its ``lakeforge_spec_hash`` tag was edited
  by hand: it is reported as drift and reset to the desired spec.
* A removed group's job is paused first and deleted on a later sync once
  ``sync_delete_grace_seconds`` have passed; pipelines are deleted with ``cascade=False`` so
  tables are never dropped.
* One sync at a time (a Postgres advisory lock); state is written after every resource, so a
  sync that fails midway resumes cleanly; requests are throttled by a token bucket.

A no-op sync costs one paginated ``jobs list`` (with task details) and one ``pipelines list``.
Hand edits to pipelines are found by ``plan(..., deep=True)``, which reads each pipeline.

>>> result = apply(db, workspace_client(settings))
>>> result.to_json()["api_writes"]
0
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import (
    BadRequest,
    DatabricksError,
    PermissionDenied,
    ResourceConflict,
    Unauthenticated,
)

from lakeforge.errors import LakeForgeError, UnavailableError
from lakeforge.metadata.db import Database
from lakeforge.metadata.models import ManagedResource
from lakeforge.metadata.repository import MANAGED_RESOURCES, Repository
from lakeforge.orchestration.compiler import (
    HASH_TAG,
    KEY_TAG,
    MANAGED_TAG,
    NAME_PREFIX,
    SYNC_JOB_KEY,
    SYNC_JOB_NAME,
    DesiredResource,
    DesiredState,
    ResourceType,
    compile_state,
    resolve,
    spec_hash,
    with_hash,
)
from lakeforge.orchestration.diffing import diff, project, project_job, project_pipeline
from lakeforge.orchestration.gateway import Gateway, LiveJob, LivePipeline, upload_notebooks
from lakeforge.orchestration.launcher import settle_launched_batches
from lakeforge.orchestration.loader import compile_options, load_snapshot
from lakeforge.settings import Settings, get_settings

Action = Literal["create", "update", "adopt", "unchanged", "pause", "delete", "wait", "error"]
# "LFSYNC" as a number: the advisory lock every sync takes.
LOCK_ID = 0x4C4653594E43
# Errors where the workspace answered "no": retrying the same request cannot help.
_REJECTIONS = (BadRequest, PermissionDenied, Unauthenticated, ResourceConflict)


class SyncLockedError(LakeForgeError):
    """Another sync holds the lock."""


class WorkspaceError(UnavailableError):
    """The workspace could not be read; nothing was changed."""


@dataclass
class Change:
    action: Action
    resource_type: ResourceType
    key: str
    name: str
    databricks_id: str | None = None
    reason: str = ""
    diff: list[dict[str, Any]] = field(default_factory=list)
    drift: bool = False
    # adopt: the adopted object must also be rewritten to the desired spec.
    rewrite: bool = False
    desired: DesiredResource | None = None
    # Extra live copies of the same key, deleted as duplicates.
    duplicates: list[str] = field(default_factory=list)
    schedule: dict[str, Any] | None = None

    @property
    def resource(self) -> str:
        return f"{self.resource_type}:{self.key}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "resource": self.resource,
            "name": self.name,
            "databricks_id": self.databricks_id,
            "reason": self.reason,
        }
        if self.desired is not None:
            out["spec_hash"] = self.desired.spec_hash  # what would be written, in one value
        if self.diff:
            out["diff"] = self.diff
        if self.drift:
            out["drift"] = True
        if self.duplicates:
            out["duplicates"] = self.duplicates
        return out


@dataclass
class SyncPlan:
    changes: list[Change]
    api_reads: int = 0

    def of(self, *actions: Action) -> list[Change]:
        return [c for c in self.changes if c.action in actions]

    @property
    def writes_needed(self) -> bool:
        return any(c.action not in ("unchanged", "wait", "error") or c.duplicates for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        def names(*actions: Action) -> list[str]:
            return [c.resource for c in self.of(*actions)]

        return {
            "create": names("create"),
            "update": names("update") + [c.resource for c in self.of("adopt") if c.rewrite],
            "adopt": names("adopt"),
            "pause": names("pause"),
            "delete": names("delete")
            + [f"{c.resource_type}:{d}" for c in self.changes for d in c.duplicates],
            "unchanged": names("unchanged"),
            "waiting": names("wait"),
            "drift": [c.resource for c in self.changes if c.drift],
            "errors": [{"resource": c.resource, "error": c.reason} for c in self.of("error")],
            "changes": [c.to_json() for c in self.changes if c.action != "unchanged"],
            "api_reads": self.api_reads,
            "api_writes": 0,
        }

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """The JSON summary, under the name Pydantic-minded callers (the command layer) look for."""
        return self.to_json()


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    api_writes: int = 0
    api_reads: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "paused": self.paused,
            "adopted": self.adopted,
            "unchanged": self.unchanged,
            "waiting": self.waiting,
            "drift": self.drift,
            "errors": self.errors,
            "api_writes": self.api_writes,
            "api_reads": self.api_reads,
            "seconds": round(self.seconds, 3),
        }

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """The JSON summary, under the name Pydantic-minded callers (the command layer) look for."""
        return self.to_json()


# -- state ---------------------------------------------------------------------------------
def _load_state(db: Database) -> dict[tuple[str, str], ManagedResource]:
    with db.connection() as conn:
        return {(r.resource_type, r.lakeforge_key): r for r in Repository(conn, MANAGED_RESOURCES).list()}


def _save(db: Database, row: ManagedResource) -> ManagedResource:
    """One resource's state, in its own transaction, right after its workspace write."""
    with db.connection() as conn:
        return Repository(conn, MANAGED_RESOURCES).upsert(row, ("resource_type", "lakeforge_key"))


@contextlib.contextmanager
def sync_lock(db: Database, timeout: float) -> Iterator[None]:
    """Hold the sync advisory lock on a dedicated connection for the whole sync."""
    with db.connection() as conn:
        conn.autocommit = True
        deadline = time.monotonic() + timeout
        while not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", [LOCK_ID]).fetchone()["ok"]:  # type: ignore[index]
            if time.monotonic() >= deadline:
                conn.autocommit = False
                raise SyncLockedError(
                    "another sync is running",
                    fix="Wait for it to finish (syncs take seconds) and run the sync again.",
                )
            time.sleep(0.2)
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_ID])
            conn.autocommit = False


# -- planning ------------------------------------------------------------------------------
@dataclass
class _Context:
    settings: Settings
    gateway: Gateway
    desired: DesiredState
    state: dict[tuple[str, str], ManagedResource]
    live_jobs: list[LiveJob]
    live_pipelines: list[LivePipeline]
    now: datetime
    pipeline_ids: dict[str, str] = field(default_factory=dict)
    path_cache: dict[str, bool] = field(default_factory=dict)

    def path_exists(self, path: str) -> bool:
        if path not in self.path_cache:
            self.path_cache[path] = self.gateway.path_exists(path)
        return self.path_cache[path]


def _compare(
    live_spec: dict[str, Any], target: dict[str, Any], kind: ResourceType = "job"
) -> tuple[bool, bool, list[dict[str, Any]]]:
    """(changed, drifted, diff): drifted means the live spec no longer matches its own hash tag."""
    projected = project_job(live_spec, target) if kind == "job" else project_pipeline(live_spec, target)
    live_hash = spec_hash(projected)
    tag_hash = (live_spec.get("tags") or {}).get(HASH_TAG)
    changed = live_hash != spec_hash(target)
    drifted = tag_hash is not None and live_hash != tag_hash
    # The hash tag differs whenever anything does: listing it would only repeat the other lines.
    changes = [c for c in diff(projected, target) if c["path"] != f"tags.{HASH_TAG}"] if changed else []
    return changed, drifted, changes


def _plan_pipeline(ctx: _Context, d: DesiredResource, deep: bool) -> Change:
    row = ctx.state.get(("pipeline", d.key))
    target = with_hash(d.spec)
    by_id = {p.pipeline_id: p for p in ctx.live_pipelines}
    known = row.databricks_id if row and row.state != "deleted" else None
    if known and known in by_id:
        ctx.pipeline_ids[d.key] = known
        if deep:
            live = ctx.gateway.get_pipeline(known)
            if live is not None and live.spec is not None:
                changed, drifted, changes = _compare(live.spec, target, "pipeline")
                action: Action = "update" if changed else "unchanged"
                reason = "edited in the workspace" if drifted else "metadata changed" if changed else ""
                return Change(action, "pipeline", d.key, d.name, known, reason, changes, drifted, desired=d)
        if row and row.spec_hash == d.spec_hash:
            return Change("unchanged", "pipeline", d.key, d.name, known, desired=d)
        changes = diff(project(row.spec or {}, target), target) if row else []
        return Change("update", "pipeline", d.key, d.name, known, "metadata changed", changes, desired=d)
    # Lost track (or new): a tagged pipeline under the desired name is adopted, not duplicated.
    claimed = {r.databricks_id for r in ctx.state.values() if r.resource_type == "pipeline"}
    owned: list[LivePipeline] = []
    for candidate in ctx.live_pipelines:
        if candidate.name == d.name and candidate.pipeline_id not in claimed:
            full = ctx.gateway.get_pipeline(candidate.pipeline_id)
            if full is not None and full.tags.get(KEY_TAG) == d.key:
                owned.append(full)
    if not owned:
        reason = "missing in the workspace" if known else "new"
        return Change("create", "pipeline", d.key, d.name, None, reason, desired=d)
    keep, *extra = sorted(owned, key=lambda p: p.pipeline_id)
    ctx.pipeline_ids[d.key] = keep.pipeline_id
    changed, drifted, changes = _compare(keep.spec or {}, target, "pipeline")
    return Change(
        "adopt",
        "pipeline",
        d.key,
        d.name,
        keep.pipeline_id,
        "tagged pipeline found in the workspace",
        changes,
        drifted,
        rewrite=changed,
        desired=d,
        duplicates=[p.pipeline_id for p in extra],
    )


def _job_name(key: str) -> str:
    """The name LakeForge gives the job of ``key`` (``group.sales`` -> ``lakeforge-sales``)."""
    if key == SYNC_JOB_KEY:
        return SYNC_JOB_NAME
    return NAME_PREFIX + key.removeprefix("group.")


def _ours(copies: list[LiveJob], key: str, recorded: str | None) -> list[LiveJob]:
    """The tagged copies of ``key`` LakeForge may touch: the one it recorded, and any under its name.

    Cloning a job in the Databricks UI copies its tags, so a user's "Clone of lakeforge-sales"
    carries ``lakeforge_key=group.sales``. A create the SDK retried lands under LakeForge's own
    name, so a tagged job under any other name is a user's copy: never adopted, reset or deleted.
    """
    name = _job_name(key)
    return [c for c in copies if c.job_id == recorded or c.name == name]


def _plan_job(ctx: _Context, d: DesiredResource, copies: list[LiveJob]) -> Change:
    row = ctx.state.get(("job", d.key))
    known = row.databricks_id if row and row.state != "deleted" else None
    copies = _ours(copies, d.key, known)
    target = with_hash(resolve(d.spec, ctx.pipeline_ids))
    if not copies:
        if known and ctx.gateway.get_job(known) is not None:
            # Someone removed the tags: the job is no longer LakeForge's to change, and a second
            # job would run the same sources on the same schedule. One read, only in this case.
            return Change(
                "error",
                "job",
                d.key,
                d.name,
                known,
                f"job {known} lost its {MANAGED_TAG}=true tag in the workspace, so LakeForge leaves it"
                f" alone and does not create a second job running the same sources: set the tag"
                f" {MANAGED_TAG}=true on it again to have it managed, or delete it, then sync",
                desired=d,
            )
        reason = "missing in the workspace" if known else "new"
        return Change("create", "job", d.key, d.name, None, reason, desired=d)
    keep = next((c for c in copies if c.job_id == known), None) or min(copies, key=lambda c: int(c.job_id))
    extra = [c.job_id for c in copies if c is not keep]
    changed, drifted, changes = _compare(keep.settings, target)
    if keep.job_id != known:
        return Change(
            "adopt",
            "job",
            d.key,
            d.name,
            keep.job_id,
            "tagged job found in the workspace",
            changes,
            drifted,
            rewrite=changed,
            desired=d,
            duplicates=extra,
        )
    if not changed:
        return Change("unchanged", "job", d.key, d.name, keep.job_id, desired=d, duplicates=extra)
    reason = "edited in the workspace" if drifted else "metadata changed"
    if row is not None and row.state == "pending_delete":
        # Its group is back within the grace period: the pause was LakeForge's own, not a hand edit.
        drifted, reason = False, "back in metadata: unpaused and brought up to date"
    return Change(
        "update", "job", d.key, d.name, keep.job_id, reason, changes, drifted, desired=d, duplicates=extra
    )


def _plan_removed(
    ctx: _Context, resource_type: ResourceType, key: str, live_ids: list[str], name: str
) -> Change | None:
    """A key LakeForge manages but the metadata no longer has: pause, wait out the grace, delete."""
    row = ctx.state.get((resource_type, key))
    if row is None or row.state == "active":
        schedule = None
        if resource_type == "job":
            live = [j for j in ctx.live_jobs if j.job_id in live_ids]
            schedule = next((j.settings.get("schedule") for j in live if j.settings.get("schedule")), None)
        grace = timedelta(seconds=ctx.settings.sync_delete_grace_seconds)
        change = Change(
            "pause",
            resource_type,
            key,
            name,
            live_ids[0] if live_ids else (row.databricks_id if row else None),
            f"removed from metadata; deleted after {(ctx.now + grace).isoformat(timespec='seconds')}",
            duplicates=live_ids[1:],
        )
        change.schedule = schedule
        return change
    if row.state == "deleted":
        if not live_ids:
            return None
        return Change(
            "delete",
            resource_type,
            key,
            name,
            live_ids[0],
            "deleted before; still present",
            [],
            duplicates=live_ids[1:],
        )
    if row.delete_after is not None and ctx.now < row.delete_after:
        return Change(
            "wait",
            resource_type,
            key,
            name,
            row.databricks_id,
            f"paused; deleted after {row.delete_after.isoformat(timespec='seconds')}",
        )
    ids = live_ids or ([row.databricks_id] if row.databricks_id else [])
    return Change(
        "delete", resource_type, key, name, ids[0] if ids else None, "grace period over", duplicates=ids[1:]
    )


def _check_paths(ctx: _Context, change: Change) -> None:
    if change.desired is None or (change.action not in ("create", "update") and not change.rewrite):
        return
    for path in change.desired.paths:
        try:
            exists = ctx.path_exists(path)
        except Exception as error:  # a failed read fails this resource only; the next sync retries
            change.action, change.reason = "error", f"cannot check notebook path {path}: {_explain(error)}"
            return
        if not exists:
            kind = "pipeline library" if change.resource_type == "pipeline" else "notebook"
            change.action = "error"
            change.reason = (
                f"{kind} path {path} does not exist in the workspace: upload the notebooks "
                "(lakeforge sync apply --upload-notebooks) or set LAKEFORGE_WORKSPACE_NOTEBOOK_DIR"
            )
            return


def _build_plan(ctx: _Context, deep: bool) -> SyncPlan:
    changes: list[Change] = []
    desired = ctx.desired.by_key()
    blocked = ctx.desired.blocked
    for error in ctx.desired.errors:
        changes.append(
            Change("error", error.resource_type, error.key, error.name, reason=error.error.sentence())
        )
    failed_pipelines: set[str] = set()
    for d in (r for r in ctx.desired.resources if r.resource_type == "pipeline"):
        change = _plan_pipeline(ctx, d, deep)
        _check_paths(ctx, change)
        if change.action == "error":
            failed_pipelines.add(d.key)
        changes.append(change)
    # A managed job is filed under the key LakeForge recorded it for, else under its key tag
    # (a hand edit of the tags must not make LakeForge's own job look like someone else's).
    recorded = {
        row.databricks_id: key
        for (kind, key), row in ctx.state.items()
        if kind == "job" and row.databricks_id and row.state != "deleted"
    }
    jobs_by_key: dict[str, list[LiveJob]] = {}
    for job in ctx.live_jobs:
        jobs_by_key.setdefault(recorded.get(job.job_id) or job.tags.get(KEY_TAG, ""), []).append(job)
    for d in (r for r in ctx.desired.resources if r.resource_type == "job"):
        change = _plan_job(ctx, d, jobs_by_key.get(d.key, []))
        if failed_pipelines & set(d.depends_on) and change.action != "unchanged":
            change.action, change.reason = (
                "error",
                "its pipeline could not be written (see the pipeline's error)",
            )
        _check_paths(ctx, change)
        changes.append(change)
    # Removed keys: in state or tagged live, no longer desired, and not merely failing to compile.
    removed_jobs = {k for k in jobs_by_key if k} | {k for (t, k) in ctx.state if t == "job"}
    for key in sorted(removed_jobs):
        if ("job", key) in desired or ("job", key) in blocked:
            continue
        row = ctx.state.get(("job", key))
        copies = _ours(jobs_by_key.get(key, []), key, row.databricks_id if row else None)
        if not copies and row is None:
            continue  # only a user's tagged copy under another name: not LakeForge's to remove
        name = copies[0].name if copies else key
        removal = _plan_removed(ctx, "job", key, sorted((c.job_id for c in copies), key=int), name)
        if removal:
            changes.append(removal)
    live_pipeline_ids = {p.pipeline_id for p in ctx.live_pipelines}
    for (kind, key), row in sorted(ctx.state.items()):
        if kind != "pipeline" or (kind, key) in desired or (kind, key) in blocked:
            continue
        present = [row.databricks_id] if row.databricks_id in live_pipeline_ids else []
        removal = _plan_removed(ctx, "pipeline", key, [p for p in present if p], key)
        if removal:
            changes.append(removal)
    return SyncPlan(changes)


def _context(db: Database, gateway: Gateway, settings: Settings) -> _Context:
    with db.connection() as conn:
        snapshot = load_snapshot(conn)
    desired = compile_state(snapshot, compile_options(settings))
    state = _load_state(db)
    try:
        live_jobs, live_pipelines = gateway.list_jobs(), gateway.list_pipelines()
    except Exception as error:
        raise WorkspaceError(
            f"cannot read jobs and pipelines from {gateway.client.config.host} ({_explain(error)})",
            field="LAKEFORGE_DATABRICKS_HOST",
            fix="Check the workspace URL and credentials; nothing was changed.",
        ) from None
    return _Context(
        settings=settings,
        gateway=gateway,
        desired=desired,
        state=state,
        live_jobs=live_jobs,
        live_pipelines=live_pipelines,
        now=datetime.now(UTC),
    )


def _gateway(client: WorkspaceClient, settings: Settings) -> Gateway:
    return Gateway(client, requests_per_second=settings.sync_requests_per_second)


def plan(
    db: Database, client: WorkspaceClient, *, settings: Settings | None = None, deep: bool = False
) -> SyncPlan:
    """What a sync would do, with field-level diffs; writes nothing anywhere."""
    settings = settings or get_settings()
    gateway = _gateway(client, settings)
    result = _build_plan(_context(db, gateway, settings), deep)
    result.api_reads = gateway.reads
    return result


# -- applying ------------------------------------------------------------------------------
def _row(change: Change, **values: Any) -> ManagedResource:
    return ManagedResource(resource_type=change.resource_type, lakeforge_key=change.key, **values)


class _Applier:
    def __init__(self, db: Database, ctx: _Context, result: SyncResult) -> None:
        self.db, self.ctx, self.result = db, ctx, result
        self.gateway = ctx.gateway
        self.created: list[Change] = []

    def run(self, change: Change) -> None:
        try:
            self._run(change)
        except Exception as error:  # one resource failing never stops the others
            message = _explain(error)
            self.result.errors.append({"resource": change.resource, "name": change.name, "error": message})
            row = self.ctx.state.get((change.resource_type, change.key))
            if row is not None:
                _save(self.db, row.model_copy(update={"last_error": message}))

    def _active(self, change: Change, databricks_id: str, spec: dict[str, Any]) -> None:
        row = _row(
            change,
            databricks_id=databricks_id,
            spec_hash=spec_hash(spec),
            spec=spec,
            state="active",
            last_synced_at=self.ctx.now,
        )
        self.ctx.state[(change.resource_type, change.key)] = _save(self.db, row)

    def _target(self, change: Change) -> dict[str, Any]:
        assert change.desired is not None
        target = with_hash(resolve(change.desired.spec, self.ctx.pipeline_ids))
        if change.resource_type == "job" and "${pipeline:" in json.dumps(target):
            raise LakeForgeError(
                "its pipeline could not be written, so the job is left as it is",
                field=change.resource,
                fix="Fix the pipeline's error above and sync again.",
            )
        return target

    def _run(self, change: Change) -> None:
        result, gateway = self.result, self.gateway
        is_job = change.resource_type == "job"
        for extra in change.duplicates:
            gateway.delete_job(extra) if is_job else gateway.delete_pipeline(extra)
            result.deleted.append(f"{change.resource_type}:{extra}")
        if change.action == "unchanged":
            assert change.databricks_id is not None and change.desired is not None
            row = self.ctx.state.get((change.resource_type, change.key))
            target = self._target(change)
            if row is None or row.spec_hash != spec_hash(target) or row.state != "active":
                self._active(change, change.databricks_id, target)
            result.unchanged.append(change.resource)
        elif change.action == "create":
            target = self._target(change)
            new_id = self._create(change, target)
            if not is_job:
                self.ctx.pipeline_ids[change.key] = new_id
            self._active(change, new_id, target)
            self.created.append(change)
            result.created.append(change.resource)
        elif change.action in ("update", "adopt"):
            assert change.databricks_id is not None
            target = self._target(change)
            if change.action == "adopt":
                result.adopted.append(change.resource)
                if not is_job:
                    self.ctx.pipeline_ids[change.key] = change.databricks_id
            if change.action == "update" or change.rewrite:
                if is_job:
                    gateway.reset_job(change.databricks_id, target)
                else:
                    gateway.update_pipeline(change.databricks_id, target)
                result.updated.append(change.resource)
                if change.drift:
                    result.drift.append({"resource": change.resource, "diff": change.diff})
            self._active(change, change.databricks_id, target)
        elif change.action == "pause":
            schedule = change.schedule or {}
            if is_job and change.databricks_id and schedule and schedule.get("pause_status") != "PAUSED":
                gateway.pause_job(change.databricks_id, schedule)
            grace = timedelta(seconds=self.ctx.settings.sync_delete_grace_seconds)
            row = self.ctx.state.get((change.resource_type, change.key))
            values = {
                "databricks_id": change.databricks_id,
                "spec_hash": row.spec_hash if row else None,
                "spec": row.spec if row else None,
                "state": "pending_delete",
                "paused_at": self.ctx.now,
                "delete_after": self.ctx.now + grace,
                "last_synced_at": self.ctx.now,
            }
            self.ctx.state[(change.resource_type, change.key)] = _save(self.db, _row(change, **values))
            result.paused.append(change.resource)
        elif change.action == "delete":
            if change.databricks_id:
                gateway.delete_job(change.databricks_id) if is_job else gateway.delete_pipeline(
                    change.databricks_id
                )
            row = _row(
                change, databricks_id=change.databricks_id, state="deleted", last_synced_at=self.ctx.now
            )
            self.ctx.state[(change.resource_type, change.key)] = _save(self.db, row)
            result.deleted.append(change.resource)
        elif change.action == "wait":
            result.waiting.append(change.resource)
        elif change.action == "error":
            result.errors.append({"resource": change.resource, "name": change.name, "error": change.reason})

    def _create(self, change: Change, target: dict[str, Any]) -> str:
        """Create once; if the reply is lost, look for the tagged object before trying again."""
        is_job = change.resource_type == "job"
        create = self.gateway.create_job if is_job else self.gateway.create_pipeline
        try:
            return create(target)
        except _REJECTIONS:
            raise
        except Exception:
            found = self._find_owned(change)
            if found:
                return found
            return create(target)

    def _find_owned(self, change: Change) -> str | None:
        if change.resource_type == "job":
            copies = [
                j for j in self.gateway.list_jobs(name=change.name) if j.tags.get(KEY_TAG) == change.key
            ]
            return min((j.job_id for j in copies), key=int) if copies else None
        for candidate in self.gateway.list_pipelines():
            if candidate.name == change.name:
                full = self.gateway.get_pipeline(candidate.pipeline_id)
                if full is not None and full.tags.get(KEY_TAG) == change.key:
                    return full.pipeline_id
        return None

    def dedupe_created(self) -> None:
        """A create the SDK retried may have landed twice: keep the recorded copy, delete the rest."""
        if not self.created:
            return
        recorded = {
            (c.resource_type, c.key): self.ctx.state[(c.resource_type, c.key)].databricks_id
            for c in self.created
        }
        if any(c.resource_type == "job" for c in self.created):
            for job in self.gateway.list_jobs():
                key = ("job", job.tags.get(KEY_TAG, ""))
                # Same name only: a tagged job under another name is a user's clone, not a retry.
                if key in recorded and job.job_id != recorded[key] and job.name == _job_name(key[1]):
                    self.gateway.delete_job(job.job_id)
                    self.result.deleted.append(f"job:{job.job_id}")
        created_pipelines = {c.name: c for c in self.created if c.resource_type == "pipeline"}
        if created_pipelines:
            for candidate in self.gateway.list_pipelines():
                change = created_pipelines.get(candidate.name)
                if change is None or candidate.pipeline_id == recorded[("pipeline", change.key)]:
                    continue
                full = self.gateway.get_pipeline(candidate.pipeline_id)
                if full is not None and full.tags.get(KEY_TAG) == change.key:
                    self.gateway.delete_pipeline(candidate.pipeline_id)
                    self.result.deleted.append(f"pipeline:{candidate.pipeline_id}")


def _explain(error: Exception) -> str:
    if isinstance(error, LakeForgeError):
        return error.sentence()
    if isinstance(error, DatabricksError):
        code = getattr(error, "error_code", None) or type(error).__name__
        return f"the workspace rejected the request ({code}: {error})"
    return f"{type(error).__name__}: {error}"


def apply(
    db: Database,
    client: WorkspaceClient,
    *,
    settings: Settings | None = None,
    upload: bool = False,
    deep: bool = False,
) -> SyncResult:
    """Make the workspace equal to the metadata and report what changed (see the module doc)."""
    settings = settings or get_settings()
    started = time.perf_counter()
    gateway = _gateway(client, settings)
    result = SyncResult()
    with sync_lock(db, settings.sync_lock_timeout_seconds):
        if upload:
            upload_notebooks(client, settings.workspace_notebook_dir)
        ctx = _context(db, gateway, settings)
        sync_plan = _build_plan(ctx, deep)
        applier = _Applier(db, ctx, result)
        # Pipelines first: jobs refer to their ids.
        order = {"pipeline": 0, "job": 1}
        for change in sorted(sync_plan.changes, key=lambda c: order[c.resource_type]):
            applier.run(change)
        try:
            applier.dedupe_created()
        except Exception as error:
            result.errors.append({"resource": "dedupe", "name": "", "error": _explain(error)})
        try:
            settle_launched_batches(db, gateway)
        except Exception as error:  # the run log can wait for the next sync; the jobs are done
            result.errors.append({"resource": "batches", "name": "", "error": _explain(error)})
    result.api_writes, result.api_reads = gateway.writes, gateway.reads
    result.seconds = time.perf_counter() - started
    return result


__all__ = ["Change", "SyncPlan", "SyncResult", "apply", "plan", "upload_notebooks"]
