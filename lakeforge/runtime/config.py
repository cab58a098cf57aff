"""What a run needs to know about a source, read once from the metadata store.

Runs work on these frozen values, so a metadata change during a run never mixes two revisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lakeforge.errors import LakeForgeError
from lakeforge.metadata import models
from lakeforge.metadata.db import Database
from lakeforge.metadata.repository import (
    BRONZE_CONFIGS,
    DQ_RULES,
    GOLD_CONFIGS,
    RAW_CONFIGS,
    SILVER_CONFIGS,
    SOURCE_GROUPS,
    SOURCE_SYSTEMS,
    SOURCES,
    Repository,
)
from lakeforge.runtime.engine import TableRef


@dataclass(frozen=True)
class SourceSpec:
    """One source and everything configured for it."""

    source: models.Source
    group: models.SourceGroup
    system: models.SourceSystem | None
    raw: models.RawConfig | None
    bronze: models.BronzeConfig | None
    silver: models.SilverConfig | None
    rules: list[models.DqRule] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def id(self) -> int:
        assert self.source.id is not None
        return self.source.id

    def bronze_table(self) -> TableRef:
        if self.bronze is not None:
            return TableRef.parse(self.bronze.target_table, default_catalog=self.group.catalog)
        return TableRef(self.group.catalog, self.group.name, f"{self.name}_bronze")

    def silver_table(self) -> TableRef | None:
        if self.silver is None:
            return None
        return TableRef.parse(self.silver.target_table, default_catalog=self.group.catalog)


@dataclass(frozen=True)
class GroupSpec:
    group: models.SourceGroup
    sources: list[SourceSpec]
    gold: list[models.GoldConfig]


def load_group(db: Database, group: str, sources: list[str] | None = None) -> GroupSpec:
    """The group's enabled sources (or the named ones) and its gold definitions."""
    with db.connection() as conn:
        found = Repository(conn, SOURCE_GROUPS).find(name=group)
        if found is None:
            raise LakeForgeError(
                f"no source group named {group!r}",
                field="group",
                fix="Check the name with `lakeforge runs` or create the group first.",
            )
        rows = Repository(conn, SOURCES).list(order_by="name", source_group_id=found.id)
        if sources is not None:
            unknown = sorted(set(sources) - {r.name for r in rows})
            if unknown:
                raise LakeForgeError(
                    f"source {unknown[0]!r} is not in group {group!r}",
                    field="source",
                    fix="Check the source name.",
                )
            rows = [r for r in rows if r.name in sources]
        else:
            rows = [r for r in rows if r.enabled]
        specs = []
        for row in rows:
            system = (
                Repository(conn, SOURCE_SYSTEMS).find(id=row.source_system_id)
                if row.source_system_id
                else None
            )
            rules = [
                r for r in Repository(conn, DQ_RULES).list(order_by="name", source_id=row.id) if r.enabled
            ]
            specs.append(
                SourceSpec(
                    source=row,
                    group=found,
                    system=system,
                    raw=Repository(conn, RAW_CONFIGS).find(source_id=row.id),
                    bronze=Repository(conn, BRONZE_CONFIGS).find(source_id=row.id),
                    silver=Repository(conn, SILVER_CONFIGS).find(source_id=row.id),
                    rules=rules,
                )
            )
        gold = Repository(conn, GOLD_CONFIGS).list(order_by="name", source_group_id=found.id)
    return GroupSpec(group=found, sources=specs, gold=gold)
