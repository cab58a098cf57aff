"""The group's Bronze → Silver → Gold pipeline, run by the chosen engine outside Lakeflow/DLT.

On Databricks the group's declarative pipeline does this with the platform's expectations; the
local workspace calls :func:`run_pipeline_update` for a pipeline task, with the same metadata.
An update takes the same choices as a Databricks update: everything (the default), a full refresh
of everything, or a selection of the tables the group's pipeline declares (``plan_pipeline``),
each refreshed or fully refreshed.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from lakeforge.errors import LakeForgeError
from lakeforge.metadata import models
from lakeforge.metadata.db import Database
from lakeforge.metadata.repository import BATCH_RUNS, Repository
from lakeforge.runtime.config import GroupSpec, load_group
from lakeforge.runtime.engine import get_engine
from lakeforge.runtime.runner import resolve_engine_name, run_batch
from lakeforge.runtime.spark.pipeline import PipelinePlan, plan_pipeline
from lakeforge.runtime.tasks import latest_batch_with
from lakeforge.runtime.zones.catchup import bronze_batches
from lakeforge.settings import Settings


class RefreshSelectionError(LakeForgeError):
    """A refresh selection names something that is not a table of the group's pipeline.

    Databricks fails such an update with ``INVALID_REFRESH_SELECTION`` (``TABLE_NOT_FOUND``, or
    ``SELECTIVE_REFRESH_VIEW_NOT_SUPPORTED`` for a view); ``error_class`` carries that name.
    """

    def __init__(self, message: str, *, error_class: str, field: str, fix: str) -> None:
        super().__init__(message, field=field, fix=fix)
        self.error_class = error_class


@dataclass(frozen=True)
class UpdateScope:
    """What one update runs, by source: the Silver (and quarantine) of ``full_refresh`` sources is
    emptied and rebuilt from every Bronze batch, ``refresh`` sources take the update's batch as
    usual, the group's other sources are left alone, and ``gold`` says whether Gold is rebuilt."""

    full_refresh: frozenset[str]
    refresh: frozenset[str]
    gold: bool


def update_scope(
    plan: PipelinePlan,
    *,
    full_refresh: bool = False,
    full_refresh_selection: Collection[str] = (),
    refresh_selection: Collection[str] = (),
) -> UpdateScope:
    """The scope of an update asked for as Databricks asks: ``full_refresh`` resets every table;
    with both selections empty the update is a full graph update; otherwise only the selected
    tables update. The engines write a source's Silver and quarantine together, so naming either
    selects the source; naming any Gold table rebuilds Gold (its tables are rebuilt together)."""
    sources = frozenset(flow.source for flow in plan.silver)
    if full_refresh:
        return UpdateScope(full_refresh=sources, refresh=frozenset(), gold=True)
    if not full_refresh_selection and not refresh_selection:
        return UpdateScope(full_refresh=frozenset(), refresh=sources, gold=True)
    full = _owners(plan, full_refresh_selection, "full_refresh_selection")
    plain = _owners(plan, refresh_selection, "refresh_selection")
    full_sources = frozenset(owner for owner in full if owner is not None)
    return UpdateScope(
        full_refresh=full_sources,
        refresh=frozenset(owner for owner in plain if owner is not None) - full_sources,
        gold=None in full or None in plain,
    )


def _owners(plan: PipelinePlan, names: Iterable[str], field: str) -> set[str | None]:
    """The source each selected table belongs to (None: Gold); refuses what the plan lacks."""
    tables = {_identifier(name): owner for name, owner in plan.table_sources().items()}
    views = {_identifier(name) for name in plan.views}
    owners: set[str | None] = set()
    for name in names:
        key = _identifier(name)
        if key in tables:
            owners.add(tables[key])
            continue
        fix = f"Name tables the pipeline declares: {', '.join(plan.table_sources())}."
        if key in views:
            raise RefreshSelectionError(
                f"{name} is a view of the pipeline of group {plan.group}; an update selects tables only",
                error_class="INVALID_REFRESH_SELECTION.SELECTIVE_REFRESH_VIEW_NOT_SUPPORTED",
                field=field,
                fix=fix,
            )
        raise RefreshSelectionError(
            f"table {name} is not part of the pipeline of group {plan.group}",
            error_class="INVALID_REFRESH_SELECTION.TABLE_NOT_FOUND",
            field=field,
            fix=fix,
        )
    return owners


def _identifier(name: str) -> str:
    """A table name compared as Unity Catalog compares it: case-insensitive, backticks aside."""
    return ".".join(part.strip().strip("`").lower() for part in name.split("."))


def run_pipeline_update(
    settings: Settings,
    db: Database,
    group: str,
    batch_id: int | None = None,
    full_refresh: bool = False,
    engine: str | None = None,
    cancel: threading.Event | None = None,
    full_refresh_selection: Collection[str] = (),
    refresh_selection: Collection[str] = (),
    ends_batch: bool = True,
) -> models.BatchRun:
    """Run Silver and Gold for ``batch_id`` (default: the newest batch whose Bronze succeeded; a
    job run's pipeline task passes the run's batch, see ``localworkspace.executor``).

    A fully refreshed source (every source with ``full_refresh``; those whose tables
    ``full_refresh_selection`` names) has its Silver table and quarantine emptied and every batch
    found in its Bronze replayed, oldest first; the other selected sources take ``batch_id``, and
    Gold is rebuilt last when selected (see :func:`update_scope`). A selection naming a table the
    pipeline does not declare raises :class:`RefreshSelectionError` before anything runs.
    ``ends_batch=False``: a later task of the job run ends the run's batch (``run_batch``).
    """
    spec = load_group(db, group)
    plan = plan_pipeline(spec)
    scope = update_scope(
        plan,
        full_refresh=full_refresh,
        full_refresh_selection=full_refresh_selection,
        refresh_selection=refresh_selection,
    )
    target = batch_id if batch_id is not None else latest_batch_with(db, group, "bronze", None)
    replayed = _replay(settings, db, spec, scope.full_refresh, target, engine, cancel, ends_batch)
    if replayed is not None and replayed.status == "cancelled":
        return replayed
    if target is None and replayed is not None:
        target = replayed.batch_id  # no batch got through Bronze in the run log: Gold joins the last replayed
    zones = [zone for zone, wanted in (("silver", bool(scope.refresh)), ("gold", scope.gold)) if wanted]
    if not zones and _queued(db, target):
        # A job run's batch (a rerun of Silver alone) whose selected sources' Bronze holds no
        # batch at all: there was nothing to replay, so nothing ran in it. Its Silver runs as the
        # engines' rerun runs it, reading that batch's (no) rows, so the batch ends like theirs
        # rather than staying queued.
        return run_batch(
            settings,
            db,
            group,
            sources=sorted(scope.full_refresh),
            zones=["silver"],
            batch_id=target,
            engine=engine,
            cancel=cancel,
            ends_batch=ends_batch,
        )
    if not zones:
        return replayed or _batch(db, target)
    everyone = {flow.source for flow in plan.silver}
    # Every source (None) unless the selection left some with Silver out: those are not run at all.
    sources = None if not scope.refresh or everyone <= scope.refresh else sorted(scope.refresh)
    return run_batch(
        settings,
        db,
        group,
        sources=sources,
        zones=zones,
        batch_id=target,
        engine=engine,
        cancel=cancel,
        ends_batch=ends_batch,
    )


def _replay(
    settings: Settings,
    db: Database,
    spec: GroupSpec,
    sources: frozenset[str],
    target: int | None,
    engine: str | None,
    cancel: threading.Event | None,
    ends_batch: bool,
) -> models.BatchRun | None:
    """Empty the Silver and quarantine tables of ``sources`` and apply every batch their Bronze
    holds, oldest first, each source only its own batches (a full load given a batch it never had
    would read it as an empty snapshot). The whole replay is recorded in run-log batch ``target``
    (the update's batch; without one, the newest batch replayed), as the ``pipeline_run_log``
    task records a Databricks update into the job run's batch: older batches are not reopened,
    and each replayed row keeps its own ``_batch_id``. Returns the batch, or None when no selected
    source's Bronze holds a batch."""
    if not sources:
        return None
    data_engine = get_engine(resolve_engine_name(engine, spec.group.engine, settings), settings)
    replayed: dict[str, list[int]] = {}
    for source in spec.sources:
        silver = source.silver_table()
        if source.name not in sources or silver is None:
            continue
        data_engine.delete(silver, "true")
        data_engine.delete(silver.sibling("_quarantine"), "true")
        found = bronze_batches(data_engine, source.bronze_table())
        if found:
            replayed[source.name] = found
    if not replayed:
        return None
    into = target if target is not None else max(max(found) for found in replayed.values())
    return run_batch(
        settings,
        db,
        spec.group.name,
        sources=sorted(replayed),
        zones=["silver"],
        batch_id=into,
        engine=engine,
        cancel=cancel,
        replay_silver=True,
        ends_batch=ends_batch,
    )


def _queued(db: Database, batch_id: int | None) -> bool:
    """Whether run-log batch ``batch_id`` is still waiting for something to start it."""
    if batch_id is None:
        return False
    with db.connection() as conn:
        found = Repository(conn, BATCH_RUNS).find(batch_id=batch_id)
    return found is not None and found.status == "queued"


def _batch(db: Database, batch_id: int | None) -> models.BatchRun:
    """The run-log row of an update whose selection left nothing to run (a full refresh of sources
    whose Bronze is still empty, and no Gold)."""
    with db.connection() as conn:
        found = Repository(conn, BATCH_RUNS).find(batch_id=batch_id) if batch_id is not None else None
    if found is None:
        raise LakeForgeError(
            "the selected sources have no batch in Bronze yet, so the update has nothing to refresh",
            field="full_refresh_selection",
            fix="Run a batch through Bronze first, or select the group's Gold tables too.",
        )
    return found
