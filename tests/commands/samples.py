"""One valid example of every mutating intent, against the ``retail`` fixture (group retail, source "
"orders)."""

from __future__ import annotations

from typing import Any

MUTATING_SAMPLES: dict[str, dict[str, Any]] = {
    "register_source": {
        "kind": "register_source",
        "name": "returns",
        "group": "retail",
        "format": "json",
        "location": "/data/retail/returns/",
    },
    "update_source": {"kind": "update_source", "name": "orders", "description": "Orders from the shop"},
    "remove_source": {"kind": "remove_source", "name": "orders"},
    "create_group": {"kind": "create_group", "name": "finance"},
    "update_group": {"kind": "update_group", "name": "retail", "max_retries": 2},
    "set_schedule": {"kind": "set_schedule", "group": "retail", "quartz_cron": "0 0 3 * * ?"},
    "pause_schedule": {"kind": "pause_schedule", "group": "retail"},
    "resume_schedule": {"kind": "resume_schedule", "group": "retail"},
    "add_dq_rule": {
        "kind": "add_dq_rule",
        "source": "orders",
        "name": "has_id",
        "expression": "order_id IS NOT NULL",
    },
    "update_dq_rule": {
        "kind": "update_dq_rule",
        "source": "orders",
        "name": "amount_positive",
        "action": "warn",
    },
    "remove_dq_rule": {"kind": "remove_dq_rule", "source": "orders", "name": "amount_positive"},
    "run_now": {"kind": "run_now", "group": "retail"},
    "rerun_batch": None,  # needs a finished batch: filled in by the test
    # mode plan: an apply is planned against the workspace, which these cases do not start.
    "sync_jobs": {"kind": "sync_jobs", "mode": "plan"},
    "subscribe_channel": {"kind": "subscribe_channel", "group": "retail", "slack_channel_id": "C0123ABCD"},
    "restore_revision": {"kind": "restore_revision", "entity": "source", "name": "orders", "revision": 1},
    "upsert_system": {"kind": "upsert_system", "name": "shop"},
    "upsert_compute_profile": {"kind": "upsert_compute_profile", "name": "tiny"},
    "upsert_gold": {
        "kind": "upsert_gold",
        "group": "retail",
        "name": "revenue",
        "sql": "SELECT sum(amount) AS revenue FROM main.retail_silver.orders",
    },
    "remove_gold": None,  # needs a gold definition: filled in by the test
}
