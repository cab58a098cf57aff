"""What the parser may read from the metadata store: known names and run-log batch references.

Everything here is read-only; without a database the parser still works on syntax alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from lakeforge.metadata.db import Database
from lakeforge.runtime.batch_filter import batch_filter


@dataclass
class Known:
    """Names that exist, so "ordrs" can be read as "orders" and a bare name as source or group."""

    sources: dict[str, str] = field(default_factory=dict)  # source -> its group
    groups: set[str] = field(default_factory=set)
    rules: dict[str, set[str]] = field(default_factory=dict)  # source -> rule names

    @cached_property
    def names(self) -> frozenset[str]:
        return frozenset(self.sources) | frozenset(self.groups)


def load_known(db: Database | None) -> Known:
    if db is None:
        return Known()
    known = Known()
    with db.connection() as conn:
        for row in conn.execute(
            "SELECT s.name, g.name AS group_name FROM lakeforge.source s "
            "JOIN lakeforge.source_group g ON g.id = s.source_group_id"
        ):
            known.sources[row["name"]] = row["group_name"]
        known.groups = {row["name"] for row in conn.execute("SELECT name FROM lakeforge.source_group")}
        for row in conn.execute(
            "SELECT s.name AS source, r.name FROM lakeforge.dq_rule r"
            " JOIN lakeforge.source s ON s.id = r.source_id"
        ):
            known.rules.setdefault(row["source"], set()).add(row["name"])
    return known


def last_batch(
    db: Database, name: str | None, *, status: str | None, groups: frozenset[str] | None = None
) -> int | None:
    """The newest batch of a source or group, or of the whole run log when ``name`` is None
    (optionally with a status, and among ``groups`` only: those the caller may see)."""
    query = "SELECT b.batch_id FROM lakeforge_log.batch_run b WHERE TRUE"
    params: dict[str, object] = {}
    if name is not None:
        # The name is a group or a source; a source's batches include the runs of its whole group.
        by_source, params = batch_filter(source=name)
        query += f" AND (b.group_name = %(source)s OR ({by_source}))"
    if groups is not None:
        query += " AND b.group_name = ANY(%(groups)s)"
        params["groups"] = sorted(groups)
    if status:
        query += " AND b.status = %(status)s"
        params["status"] = status
    query += " ORDER BY b.batch_id DESC LIMIT 1"
    with db.connection() as conn:
        row = conn.execute(query, params).fetchone()
    return int(row["batch_id"]) if row else None


def open_batches(db: Database, name: str | None) -> list[dict[str, object]]:
    """Queued and running batches (of a source or group when ``name`` is given), newest first."""
    query = "SELECT b.batch_id, b.group_name, b.source_name, b.status FROM lakeforge_log.batch_run b"
    query += " WHERE b.status IN ('queued', 'running')"
    params: dict[str, object] = {}
    if name is not None:
        by_source, params = batch_filter(source=name)
        query += f" AND (b.group_name = %(source)s OR ({by_source}))"
    with db.connection() as conn:
        return list(conn.execute(query + " ORDER BY b.batch_id DESC LIMIT 20", params).fetchall())
