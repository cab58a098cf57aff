"""Read the metadata the compiler needs (one snapshot, one transaction) and options from settings.

>>> with db.connection() as conn:
...     snapshot = load_snapshot(conn)
>>> state = compile_state(snapshot, compile_options(settings))
"""

from __future__ import annotations

from collections import defaultdict

from lakeforge.metadata import models
from lakeforge.metadata.db import Connection
from lakeforge.metadata.repository import (
    COMPUTE_PROFILES,
    NOTIFICATION_CHANNELS,
    SCHEDULES,
    SOURCE_GROUPS,
    SOURCES,
    Repository,
)
from lakeforge.orchestration.compiler import CompileOptions, GroupSnapshot, MetadataSnapshot
from lakeforge.orchestration.compute import ComputeDefaults
from lakeforge.settings import Settings

SYNC_PROFILE = "single_node"
# Settings the sync notebook needs to reach Lakebase from a job; none of them is a secret.
_SYNC_PARAMETERS = ("lakebase_instance", "lakebase_endpoint", "lakebase_database", "lakebase_user")


def load_snapshot(conn: Connection) -> MetadataSnapshot:
    """Groups with their profile, schedule, channel and sources, read in one repeatable snapshot."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
    profiles = {p.id: p for p in Repository(conn, COMPUTE_PROFILES).list()}
    channels = {c.id: c for c in Repository(conn, NOTIFICATION_CHANNELS).list()}
    schedules = {s.source_group_id: s for s in Repository(conn, SCHEDULES).list()}
    sources: dict[int, list[models.Source]] = defaultdict(list)
    for source in Repository(conn, SOURCES).list(order_by="name"):
        sources[source.source_group_id].append(source)
    groups = [
        GroupSnapshot(
            group=group,
            profile=profiles[group.compute_profile_id],
            sources=sources.get(group.id or 0, []),
            schedule=schedules.get(group.id or 0),
            channel=channels.get(group.notification_channel_id) if group.notification_channel_id else None,
        )
        for group in Repository(conn, SOURCE_GROUPS).list(order_by="name")
    ]
    sync_profile = next((p for p in profiles.values() if p.name == SYNC_PROFILE), None)
    return MetadataSnapshot(
        groups=groups, sync_profile=sync_profile or models.ComputeProfile(name=SYNC_PROFILE)
    )


def compile_options(settings: Settings) -> CompileOptions:
    """Compiler options from settings. Against the local workspace node types do not matter."""
    node_type = settings.default_node_type_id
    if node_type is None and not settings.databricks_host:
        node_type = "local"
    parameters = {
        name: str(value) for name in _SYNC_PARAMETERS if (value := getattr(settings, name)) is not None
    }
    return CompileOptions(
        notebook_dir=settings.workspace_notebook_dir,
        defaults=ComputeDefaults(
            spark_version=settings.default_spark_version,
            node_type_id=node_type,
            wheel_path=settings.wheel_path,
        ),
        pipeline_development=settings.pipeline_development,
        notification_destination_id=settings.notification_destination_id,
        sync_schedule=settings.sync_schedule,
        sync_timezone=settings.sync_schedule_timezone,
        sync_parameters=parameters,
    )
