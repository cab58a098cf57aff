"""``GET /sources/{name}/quarantine`` in the API's terms: the shared reader
(``lakeforge.runtime.quarantine``, which chat's ``show_quarantine`` uses too) as a
``QuarantineSample``, and its refusals as problems."""

from __future__ import annotations

import base64
import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from api.models import QuarantineColumn, QuarantineSample
from api.problems import ApiProblem
from api.routes._common import not_found, visible_names
from lakeforge.commands import state
from lakeforge.commands.access import Principal
from lakeforge.metadata.db import Connection
from lakeforge.runtime import quarantine
from lakeforge.runtime.engine import FAILED_RULES_COLUMN, Engine


def quarantine_table(conn: Connection, source: str, principal: Principal) -> quarantine.QuarantineTable:
    """The source's quarantine table; 404 if the source is unknown, 403 for a caller bound to
    other groups only (who learns nothing about a source of another group, nor that one is missing)."""
    found = quarantine.find_table(conn, source)
    if not principal.may_read(found.group if found else ""):
        group = found.group if found else None
        raise ApiProblem(
            403,
            f"{principal.user} may not read the quarantine of {source!r}: it needs a role on "
            + (f"group {group}" if group else "the source's group"),
            errors=[{"field": "name", "message": "not one of your groups' sources", "fix": None}],
        )
    if found is None:
        candidates = visible_names(conn, principal, "show_quarantine", state.source_names)
        raise not_found(
            "source", source, "name", "GET /api/v1/sources lists the registered sources.", candidates
        )
    return found


def sample(engine: Engine, found: quarantine.QuarantineTable, limit: int) -> QuarantineSample:
    """The newest ``limit`` quarantined rows (highest ``_batch_id`` first), or a 404 that says why."""
    try:
        rows = quarantine.read_rows(engine, found, limit)
    except quarantine.NoQuarantineTable as error:
        raise ApiProblem(
            404,
            error.message,
            errors=[
                {
                    "field": "name",
                    "message": "no quarantined rows yet: the quarantine table is created by the first "
                    "Silver run in which a rule with action 'quarantine' fails",
                    "fix": f"Give {found.source!r} a rule with action quarantine (POST /api/v1/dq-rules) and "
                    f"run its group (POST /api/v1/groups/{found.group}/run); rows failing it land there.",
                }
            ],
        ) from None
    return QuarantineSample(
        source=rows.source,
        table=rows.table,
        version=rows.version,
        total_rows=rows.total_rows,
        by_rule=rows.by_rule,
        failed_rules_column=FAILED_RULES_COLUMN,
        columns=[QuarantineColumn(name=name, type=type_) for name, type_ in rows.columns],
        rows=[{key: _plain(value) for key, value in row.items()} for row in rows.rows],
    )


def _plain(value: Any) -> Any:
    """A JSON-safe value: NaN/inf become null, bytes base64, decimals keep their digits."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value
