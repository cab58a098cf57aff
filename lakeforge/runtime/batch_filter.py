"""Which batches a question about a source, a group, a status or a period is about.

One definition for every reader of the run log (``POST /commands`` list_runs, ``GET /runs``,
the chat's "rerun the last failed orders batch"): a source's batches are the ones that ran that
source alone *and* the ones that ran its whole group (a scheduled job run names no source), but
never a sibling's single-source batches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def batch_filter(
    *,
    group: str | None = None,
    source: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    alias: str = "b",
) -> tuple[str, dict[str, Any]]:
    """A SQL condition on ``lakeforge_log.batch_run`` (as ``alias``) and its named parameters."""
    clauses = ["TRUE"]
    params: dict[str, Any] = {}
    if group is not None:
        clauses.append(f"{alias}.group_name = %(group)s")
        params["group"] = group
    if source is not None:
        clauses.append(
            f"""({alias}.source_name = %(source)s OR ({alias}.source_name IS NULL AND {alias}.group_name = (
                 SELECT g.name FROM lakeforge.source s JOIN lakeforge.source_group g
                 ON g.id = s.source_group_id WHERE s.name = %(source)s)))"""
        )
        params["source"] = source
    if status is not None:
        clauses.append(f"{alias}.status = %(status)s")
        params["status"] = status
    if since is not None:
        clauses.append(f"{alias}.created_at >= %(since)s")
        params["since"] = since
    return " AND ".join(clauses), params
