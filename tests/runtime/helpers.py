"""Builders for runtime tests: metadata rows for a group and its sources, written with the repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from lakeforge.metadata import models
from lakeforge.metadata.db import Database
from lakeforge.metadata.repository import (
    BRONZE_CONFIGS,
    COMPUTE_PROFILES,
    DQ_RULES,
    GOLD_CONFIGS,
    SILVER_CONFIGS,
    SOURCE_GROUPS,
    SOURCE_SYSTEMS,
    SOURCES,
    Repository,
)
from lakeforge.settings import Settings


def make_group(db: Database, name: str = "sales", engine: str = "auto") -> models.SourceGroup:
    with db.connection() as conn:
        profile = Repository(conn, COMPUTE_PROFILES).get(name="single_node")
        found = Repository(conn, SOURCE_GROUPS).find(name=name)
        if found:
            return found
        return Repository(conn, SOURCE_GROUPS).insert(
            models.SourceGroup(name=name, compute_profile_id=profile.id, engine=engine)  # type: ignore[arg-type]
        )


def make_source(
    db: Database,
    name: str,
    *,
    group: str = "sales",
    format: str = "csv",
    location: str,
    load_mode: str = "full",
    watermark_column: str | None = None,
    schema_ddl: str | None = None,
    format_options: dict[str, Any] | None = None,
    connection: dict[str, Any] | None = None,
    schema_evolution: str = "evolve",
    silver: dict[str, Any] | None = None,
    rules: list[tuple[str, str, str]] | None = None,
    extractor: str | None = None,
) -> models.Source:
    grp = make_group(db, group)
    with db.connection() as conn:
        system_id = None
        if connection is not None:
            system = Repository(conn, SOURCE_SYSTEMS).insert(
                models.SourceSystem(name=f"{name}_system", kind="database", connection=connection)
            )
            system_id = system.id
        source = Repository(conn, SOURCES).insert(
            models.Source(
                name=name,
                source_group_id=grp.id,
                source_system_id=system_id,
                format=format,  # type: ignore[arg-type]
                location=location,
                load_mode=load_mode,
                watermark_column=watermark_column,  # type: ignore[arg-type]
                schema_ddl=schema_ddl,
                format_options=format_options or {},
                extractor=extractor,
            )
        )
        assert source.id is not None
        Repository(conn, BRONZE_CONFIGS).insert(
            models.BronzeConfig(
                source_id=source.id,
                target_table=f"main.{group}.{name}_bronze",
                schema_evolution=schema_evolution,
            )  # type: ignore[arg-type]
        )
        if silver is not None:
            Repository(conn, SILVER_CONFIGS).insert(
                models.SilverConfig(source_id=source.id, target_table=f"main.{group}.{name}", **silver)
            )
        for rule_name, expression, action in rules or []:
            Repository(conn, DQ_RULES).insert(
                models.DqRule(source_id=source.id, name=rule_name, expression=expression, action=action)  # type: ignore[arg-type]
            )
    return source


def make_gold(db: Database, name: str, sql: str, group: str = "sales") -> None:
    grp = make_group(db, group)
    with db.connection() as conn:
        Repository(conn, GOLD_CONFIGS).insert(
            models.GoldConfig(
                source_group_id=grp.id, name=name, target_table=f"main.{group}_gold.{name}", sql=sql
            )  # type: ignore[arg-type]
        )


def delta(settings: Settings, name: str) -> pa.Table:
    """A Delta table of the local lakehouse, read with delta-rs, rows sorted for comparison."""
    path = settings.lakehouse_path.joinpath(*name.split("."))
    return DeltaTable(str(path)).to_pyarrow_table()


def rows(settings: Settings, name: str, columns: list[str], order: list[str] | None = None) -> list[tuple]:
    table = delta(settings, name).select(columns)
    data = [tuple(r[c] for c in columns) for r in table.to_pylist()]
    return sorted(data, key=lambda r: tuple((v is None, str(v)) for v in r))


def write_csv(path, header: list[str], lines: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        ",".join(header)
        + "\n"
        + "".join(",".join("" if v is None else str(v) for v in line) + "\n" for line in lines)
    )
    path.write_text(text)


def make_orders(db: Database, folder: Path, name: str = "orders", group: str = "sales") -> models.Source:
    """A CSV source of two orders (``id``, ``amount``) in ``folder``, kept in Silver by ``id``."""
    write_csv(folder / "1.csv", ["id", "amount"], [[1, 5], [2, 7]])
    return make_source(
        db,
        name,
        group=group,
        location=str(folder),
        schema_ddl="id INT, amount INT",
        silver={"primary_keys": ["id"]},
    )
