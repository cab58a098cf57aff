"""Versioned SQL migrations, applied in order, exactly once, under an advisory lock.

Files are named ``NNNN_description.sql`` in ``lakeforge/metadata/migrations``. Each
applied file is recorded with its SHA-256; a file edited after it was applied is
refused, because the database no longer matches what the file says.

>>> result = migrate(db)
>>> result.applied, result.already_applied
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from lakeforge.errors import MigrationError
from lakeforge.metadata.db import Database

# Any constant works; it only has to be the same for every LakeForge process.
MIGRATION_LOCK_ID = 0x1AEF0001
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass
class MigrationResult:
    applied: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.applied:
            done = len(self.already_applied)
            return f"Schema is up to date ({done} migrations already applied); nothing changed."
        return f"Applied {len(self.applied)} migration(s): {', '.join(self.applied)}."


def discover(folder: Path | None = None) -> list[Migration]:
    """The migrations shipped with LakeForge (or found in ``folder``), sorted by version."""
    if folder is None:
        root = resources.files("lakeforge.metadata") / "migrations"
        entries = [(entry.name, entry.read_text()) for entry in root.iterdir() if entry.name.endswith(".sql")]
    else:
        entries = [(path.name, path.read_text()) for path in folder.glob("*.sql")]
    migrations = []
    for name, sql in entries:
        match = _NAME.match(name)
        if not match:
            raise MigrationError(
                f"migration file {name!r} is not named NNNN_description.sql",
                fix="Rename it, e.g. 0042_add_column.sql.",
            )
        migrations.append(Migration(int(match.group(1)), name, sql))
    migrations.sort(key=lambda m: m.version)
    versions = [m.version for m in migrations]
    duplicates = {v for v in versions if versions.count(v) > 1}
    if duplicates:
        raise MigrationError(f"two migration files share version {min(duplicates):04d}", fix="Renumber one.")
    return migrations


def migrate(db: Database, migrations: list[Migration] | None = None) -> MigrationResult:
    """Apply every pending migration; safe to run from several processes at once."""
    migrations = discover() if migrations is None else migrations
    result = MigrationResult()
    with db.connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        # Migrations set their own search_path for the session; the pooled connection must go back
        # to the pool with the one every other query expects.
        search_path = conn.execute("SELECT current_setting('search_path') AS p").fetchone()["p"]  # type: ignore[index]
        try:
            conn.execute(
                """
                CREATE TABLE IF NOT EXISTS public.lakeforge_schema_migration (
                    version     integer PRIMARY KEY,
                    name        text        NOT NULL,
                    checksum    text        NOT NULL,
                    applied_at  timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            conn.commit()
            rows = conn.execute(
                "SELECT version, name, checksum FROM public.lakeforge_schema_migration"
            ).fetchall()
            applied = {row["version"]: row for row in rows}
            for migration in migrations:
                recorded = applied.get(migration.version)
                if recorded is not None:
                    if recorded["checksum"] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.name} was edited after it was applied "
                            f"(recorded as {recorded['name']})",
                            fix="Never edit an applied migration: revert the edit and add a new migration.",
                        )
                    result.already_applied.append(migration.name)
                    continue
                try:
                    with conn.transaction():
                        conn.execute(migration.sql)  # trusted file shipped with LakeForge
                        conn.execute(
                            "INSERT INTO public.lakeforge_schema_migration (version, name, checksum) "
                            "VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                except Exception as error:
                    raise MigrationError(
                        f"migration {migration.name} failed: {error}",
                        fix="Nothing from this migration was applied; "
                        "fix the SQL and run `lakeforge db migrate` again.",
                    ) from error
                conn.commit()
                result.applied.append(migration.name)
        finally:
            conn.rollback()
            conn.execute("SELECT set_config('search_path', %s, false)", (search_path,))
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
            conn.commit()
    return result


def pending(db: Database) -> list[str]:
    """Names of migrations not yet applied."""
    with db.connection() as conn:
        exists = conn.execute("SELECT to_regclass('public.lakeforge_schema_migration') AS t").fetchone()
        done = set()
        if exists and exists["t"]:
            done = {
                r["version"] for r in conn.execute("SELECT version FROM public.lakeforge_schema_migration")
            }
    return [m.name for m in discover() if m.version not in done]
