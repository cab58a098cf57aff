"""Typed data access: one ``Repository`` per table, rows in and out as Pydantic models.

SQL is composed with ``psycopg.sql`` identifiers and bound parameters only; no user
value is ever formatted into a statement.

>>> sources = Repository(conn, SOURCES)
>>> orders = sources.get(name="orders")
>>> sources.update(orders.id, location="/Volumes/main/raw/orders")
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from lakeforge.errors import LakeForgeError
from lakeforge.metadata import models
from lakeforge.metadata.db import Connection

M = TypeVar("M", bound=models.Row)


class ConstraintViolation(LakeForgeError):
    """The database refused a write; ``field`` names the column at fault."""


class NotFound(LakeForgeError):
    """No row matched."""


@dataclass(frozen=True)
class Table(Generic[M]):
    schema: str
    name: str
    model: type[M]
    key: str = "id"
    # Columns Postgres fills in; never written by LakeForge.
    generated: tuple[str, ...] = ("id", "created_at", "updated_at")

    @property
    def ident(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name))

    def writable(self) -> list[str]:
        return [name for name in self.model.model_fields if name not in self.generated]


def _adapt(value: Any) -> Any:
    if isinstance(value, dict):
        return Jsonb(value)
    return value


# Constraint name → (field, fix). Filled for the constraints whose defaults are not obvious.
_HINTS: dict[str, tuple[str, str]] = {
    "source_name_key": ("name", "Source names are unique across LakeForge: choose another name."),
    "source_group_name_key": ("name", "A group with this name exists: choose another name or update it."),
    "dq_rule_name_key": (
        "name",
        "This source already has a rule with this name: choose another or update it.",
    ),
    "dq_rule_action_check": ("action", "Use one of warn, drop, fail, quarantine."),
    "source_format_check": ("format", "Use one of csv, json, parquet, delta, jdbc, rest."),
    "source_load_mode_check": ("load_mode", "Use full or incremental."),
    "source_watermark_check": (
        "watermark_column",
        "Incremental loads of jdbc, rest and delta sources need a watermark column.",
    ),
    "bronze_config_schema_evolution_check": ("schema_evolution", "Use one of evolve, freeze, rescue."),
    "silver_config_scd2_needs_keys_check": ("primary_keys", "SCD type 2 needs at least one primary key."),
    "compute_profile_single_node_workers_check": ("num_workers", "A single-node profile has 0 workers."),
    "role_binding_role_check": ("role", "Use one of viewer, operator, editor, admin."),
    "slug_format": (
        "name",
        "Names are lower-case letters, digits and underscores, starting with a letter (e.g. sales_orders).",
    ),
    "secret_ref_format": ("secret", "Use a secret reference such as {{secrets/scope/key}}, never the value."),
}


def explain_integrity_error(error: psycopg.errors.IntegrityError, table: str) -> ConstraintViolation:
    """Turn a Postgres constraint error into one sentence that names the field and the fix."""
    diag = error.diag
    constraint = diag.constraint_name or ""
    field, fix = _HINTS.get(constraint, (diag.column_name or "", ""))
    if isinstance(error, psycopg.errors.UniqueViolation):
        detail = diag.message_detail or "the value is already taken"
        return ConstraintViolation(
            f"duplicate value in {table} ({detail})",
            field=field or constraint,
            fix=fix or "Choose another value.",
        )
    if isinstance(error, psycopg.errors.ForeignKeyViolation | psycopg.errors.RestrictViolation):
        referencing = diag.table_name or table
        column = constraint.removeprefix(f"{referencing}_").removesuffix("_fkey")
        if referencing != table:
            # A delete blocked by rows elsewhere that still point here.
            return ConstraintViolation(
                f"is still used by rows in {referencing}",
                field=table,
                fix=f"Remove or move what is in {referencing} first.",
            )
        detail = diag.message_detail or "the referenced row does not exist"
        return ConstraintViolation(
            f"refers to something that does not exist or is still in use ({detail})",
            field=field or column,
            fix=fix or "Create the referenced object first, or remove what still uses it.",
        )
    if isinstance(error, psycopg.errors.NotNullViolation):
        return ConstraintViolation("is required", field=diag.column_name or field, fix="Give it a value.")
    if isinstance(error, psycopg.errors.CheckViolation):
        return ConstraintViolation(
            f"value not allowed ({diag.message_primary})",
            field=field or constraint,
            fix=fix or "Fix the value.",
        )
    return ConstraintViolation(str(error), field=field or None)


class Repository(Generic[M]):
    """CRUD for one table on one connection (the caller owns the transaction)."""

    def __init__(self, conn: Connection, table: Table[M]) -> None:
        self.conn = conn
        self.table = table

    def _where(self, filters: dict[str, Any]) -> sql.Composable:
        if not filters:
            return sql.SQL("TRUE")
        return sql.SQL(" AND ").join(
            sql.SQL("{} IS NULL").format(sql.Identifier(k))
            if v is None
            else sql.SQL("{} = %s").format(sql.Identifier(k))
            for k, v in filters.items()
        )

    def _params(self, filters: dict[str, Any]) -> list[Any]:
        return [_adapt(v) for v in filters.values() if v is not None]

    def find(self, **filters: Any) -> M | None:
        query = sql.SQL("SELECT * FROM {} WHERE {} LIMIT 1").format(self.table.ident, self._where(filters))
        row = self.conn.execute(query, self._params(filters)).fetchone()
        return self.table.model.model_validate(row) if row else None

    def get(self, **filters: Any) -> M:
        found = self.find(**filters)
        if found is None:
            described = ", ".join(f"{k}={v!r}" for k, v in filters.items())
            raise NotFound(f"no {self.table.name.replace('_', ' ')} with {described}")
        return found

    def list(self, order_by: str | None = None, limit: int | None = None, **filters: Any) -> list[M]:
        query = sql.SQL("SELECT * FROM {} WHERE {} ORDER BY {}").format(
            self.table.ident, self._where(filters), sql.Identifier(order_by or self.table.key)
        )
        params = self._params(filters)
        if limit is not None:
            query = sql.SQL("{} LIMIT %s").format(query)
            params.append(limit)
        return [self.table.model.model_validate(row) for row in self.conn.execute(query, params)]

    def _write(self, query: sql.Composed, params: Iterable[Any]) -> M:
        try:
            with self.conn.transaction():
                row = self.conn.execute(query, list(params)).fetchone()
        except psycopg.errors.IntegrityError as error:
            raise explain_integrity_error(error, self.table.name) from None
        assert row is not None
        return self.table.model.model_validate(row)

    def insert(self, item: M) -> M:
        # Unset fields are left out so Postgres fills in its defaults.
        values = item.model_dump(include=set(self.table.writable()), exclude_unset=True)
        columns = list(values)
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
            self.table.ident,
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        return self._write(query, (_adapt(values[c]) for c in columns))

    def update(self, key: Any, **changes: Any) -> M:
        unknown = set(changes) - set(self.table.writable())
        if unknown:
            raise ConstraintViolation(f"cannot be changed on {self.table.name}", field=sorted(unknown)[0])
        assignments: list[sql.Composable] = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in changes]
        if "updated_at" in self.table.model.model_fields:
            assignments.append(sql.SQL("updated_at = now()"))
        query = sql.SQL("UPDATE {} SET {} WHERE {} = %s RETURNING *").format(
            self.table.ident, sql.SQL(", ").join(assignments), sql.Identifier(self.table.key)
        )
        try:
            return self._write(query, [*(_adapt(v) for v in changes.values()), key])
        except AssertionError:
            raise NotFound(f"no {self.table.name.replace('_', ' ')} with {self.table.key}={key!r}") from None

    def upsert(self, item: M, conflict: tuple[str, ...]) -> M:
        values = item.model_dump(include=set(self.table.writable()))
        columns = list(values)
        updates = [c for c in columns if c not in conflict]
        query = sql.SQL(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {} RETURNING *"
        ).format(
            self.table.ident,
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            sql.SQL(", ").join(map(sql.Identifier, conflict)),
            sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in updates),
        )
        return self._write(query, (_adapt(values[c]) for c in columns))

    def delete(self, key: Any) -> bool:
        query = sql.SQL("DELETE FROM {} WHERE {} = %s").format(
            self.table.ident, sql.Identifier(self.table.key)
        )
        try:
            with self.conn.transaction():
                return self.conn.execute(query, [key]).rowcount > 0
        except psycopg.errors.IntegrityError as error:
            raise explain_integrity_error(error, self.table.name) from None


_CFG, _LOG = "lakeforge", "lakeforge_log"
COMPUTE_PROFILES = Table(_CFG, "compute_profile", models.ComputeProfile)
NOTIFICATION_CHANNELS = Table(_CFG, "notification_channel", models.NotificationChannel)
SOURCE_SYSTEMS = Table(_CFG, "source_system", models.SourceSystem)
SOURCE_GROUPS = Table(_CFG, "source_group", models.SourceGroup)
SCHEDULES = Table(_CFG, "schedule", models.Schedule)
SOURCES = Table(_CFG, "source", models.Source)
RAW_CONFIGS = Table(_CFG, "raw_config", models.RawConfig, key="source_id", generated=())
BRONZE_CONFIGS = Table(_CFG, "bronze_config", models.BronzeConfig, key="source_id", generated=())
SILVER_CONFIGS = Table(_CFG, "silver_config", models.SilverConfig, key="source_id", generated=())
GOLD_CONFIGS = Table(_CFG, "gold_config", models.GoldConfig)
DQ_RULES = Table(_CFG, "dq_rule", models.DqRule)
WATERMARKS = Table(_CFG, "watermark_state", models.WatermarkState, key="source_id", generated=("updated_at",))
MANAGED_RESOURCES = Table(_CFG, "managed_resource", models.ManagedResource)
APP_USERS = Table(_CFG, "app_user", models.AppUser)
ROLE_BINDINGS = Table(_CFG, "role_binding", models.RoleBinding)
API_TOKENS = Table(_CFG, "api_token", models.ApiToken)
COMMAND_AUDITS = Table(_CFG, "command_audit", models.CommandAudit, generated=("created_at",))
METADATA_REVISIONS = Table(_CFG, "metadata_revision", models.MetadataRevision)
BATCH_RUNS = Table(_LOG, "batch_run", models.BatchRun, key="batch_id", generated=("batch_id", "created_at"))
ZONE_RUNS = Table(_LOG, "zone_run", models.ZoneRun)
TABLE_RUNS = Table(_LOG, "table_run", models.TableRun)
STEP_RUNS = Table(_LOG, "step_run", models.StepRun)
DQ_RUNS = Table(_LOG, "dq_run", models.DqRun)
