"""Fixtures for the command layer: an executor bound to a real database and a recording launcher."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lakeforge.commands import launch
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor, CommandResult
from lakeforge.commands.executor import execute
from lakeforge.metadata.db import Database

ADMIN = Principal.local_admin("admin_user")
ACTOR = Actor(user="admin_user", surface="api")

Run = Callable[..., CommandResult]


@pytest.fixture
def run(db: Database) -> Run:
    """``run(intent, **kwargs)``: execute as a global admin; destructive intents are confirmed."""

    def _run(intent: dict[str, Any], *, confirm: bool = True, **kwargs: Any) -> CommandResult:
        result = execute(db, intent, ACTOR, principal=ADMIN, **kwargs)
        if confirm and result.status == "needs_confirmation":
            result = execute(db, intent, ACTOR, principal=ADMIN, confirm_token=result.confirm_token)
        return result

    return _run


@pytest.fixture
def launched() -> Iterator[list[launch.LaunchRequest]]:
    """A launcher that records requests instead of running them (the runner has its own tests)."""
    seen: list[launch.LaunchRequest] = []
    launch.set_launcher(lambda db, request: seen.append(request))
    yield seen
    launch.set_launcher(None)


def table_contents(db: Database) -> dict[str, list[Any]]:
    """Every config and control row (minus the audit trail), to prove a rejected command changed nothing."""
    tables = [
        "compute_profile",
        "notification_channel",
        "source_system",
        "source_group",
        "schedule",
        "source",
        "raw_config",
        "bronze_config",
        "silver_config",
        "gold_config",
        "dq_rule",
        "metadata_revision",
        "app_user",
        "role_binding",
        "api_token",
        "lakeforge_log.batch_run",
    ]
    out = {}
    with db.connection() as conn:
        for table in tables:
            out[table] = [
                tuple(row.values()) for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            ]
    return out


RETAIL_GROUP = {"kind": "create_group", "name": "retail", "schedule": {"quartz_cron": "0 0 2 * * ?"}}
ORDERS = {
    "kind": "register_source",
    "name": "orders",
    "group": "retail",
    "format": "csv",
    "location": "/data/retail/orders/",
    "format_options": {"header": True, "delimiter": ","},
    "silver": {"primary_keys": ["order_id"], "where": "amount IS NOT NULL"},
    "dq_rules": [{"name": "amount_positive", "expression": "amount > 0", "action": "drop"}],
}


@pytest.fixture
def retail(run: Run) -> None:
    """A group with a schedule and one source with one rule."""
    assert run(RETAIL_GROUP).status == "applied"
    assert run(ORDERS).status == "applied"
