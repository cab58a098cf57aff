"""Event-log rows in the shape Databricks documents for a pipeline's event log (``event_log()``):
``origin`` a struct, ``sequence`` and ``details`` JSON text, one row per event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

PIPELINE_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
# Events are stamped a little ahead of the moment a log is built: the reader keeps events from
# shortly before its batch was created, and a batch may be created after the log.
LEAD = timedelta(minutes=5)


class EventLog:
    """Builds the events of several updates, each stamped one second after the previous one."""

    def __init__(self, start: datetime | None = None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.clock = start or datetime.now(UTC).replace(microsecond=0) + LEAD
        self.seq = 0

    def _add(
        self,
        event_type: str,
        update: str,
        details: dict[str, Any],
        *,
        flow: str | None = None,
        message: str = "",
        level: str = "INFO",
        error: str | None = None,
    ) -> None:
        self.clock += timedelta(seconds=1)
        self.seq += 1
        self.rows.append(
            {
                "id": f"evt-{self.seq:04d}",
                "sequence": json.dumps({"data_plane_id": {"instance": "dp-1", "seq_no": self.seq}}),
                "origin": {
                    "cloud": "AWS",
                    "region": "eu-west-1",
                    "pipeline_id": PIPELINE_ID,
                    "pipeline_name": "lakeforge-sales",
                    "update_id": update,
                    "flow_id": f"flow-{flow}" if flow else None,
                    "flow_name": flow,
                    "dataset_name": flow,
                },
                "timestamp": self.clock,
                "message": message or f"{event_type} {flow or update}",
                "level": level,
                "maturity_level": "STABLE",
                "error": json.dumps({"exceptions": [{"message": error}]}) if error else None,
                "details": json.dumps(details),
                "event_type": event_type,
            }
        )

    def create_update(self, update: str) -> None:
        self._add("create_update", update, {"create_update": {"cause": "JOB_TASK", "full_refresh": False}})

    def update_state(self, update: str, state: str) -> None:
        self._add("update_progress", update, {"update_progress": {"state": state}})

    def flow(
        self,
        update: str,
        flow: str,
        status: str,
        *,
        rows_out: int | None = None,
        dropped: int | None = None,
        expectations: list[tuple[str, str, int, int]] | None = None,
        error: str | None = None,
    ) -> None:
        progress: dict[str, Any] = {"status": status}
        if rows_out is not None:
            progress["metrics"] = {"num_output_rows": rows_out, "backlog_bytes": 0}
        if expectations is not None or dropped is not None:
            progress["data_quality"] = {
                "dropped_records": dropped or 0,
                "expectations": [
                    {"name": n, "dataset": d, "passed_records": p, "failed_records": f}
                    for d, n, p, f in expectations or []
                ],
            }
        level = "METRICS" if "metrics" in progress else ("ERROR" if status == "FAILED" else "INFO")
        self._add("flow_progress", update, {"flow_progress": progress}, flow=flow, level=level, error=error)


def sales_updates() -> EventLog:
    """An older update u1, then u2: orders retried once (a FAILED attempt, then COMPLETED)."""
    log = EventLog()
    log.create_update("u1")
    log.update_state("u1", "RUNNING")
    log.flow(
        "u1",
        "main.sales.orders",
        "COMPLETED",
        rows_out=3,
        dropped=0,
        expectations=[("orders_silver_input", "positive", 3, 0)],
    )
    log.update_state("u1", "COMPLETED")

    log.create_update("u2")
    log.update_state("u2", "RUNNING")
    for flow in ("main.sales.orders", "main.sales.orders_quarantine", "main.sales.customers"):
        log.flow("u2", flow, "QUEUED")
        log.flow("u2", flow, "STARTING")
    # First attempt at orders: some progress, then a transient failure.
    log.flow(
        "u2",
        "main.sales.orders",
        "RUNNING",
        rows_out=4,
        dropped=1,
        expectations=[("orders_silver_input", "positive", 4, 1), ("orders_silver_input", "has_id", 5, 0)],
    )
    log.flow("u2", "main.sales.orders", "FAILED", error="[STREAM_FAILED] executor lost")
    # The retry reprocesses everything: these are the figures that count.
    log.flow("u2", "main.sales.orders", "STARTING")
    log.flow("u2", "main.sales.orders", "RUNNING")
    log.flow(
        "u2",
        "main.sales.orders",
        "COMPLETED",
        rows_out=7,
        dropped=3,
        expectations=[
            ("orders_silver_input", "positive", 8, 2),
            ("orders_silver_input", "has_id", 9, 1),
            ("orders_silver_input", "not_test", 8, 2),
        ],
    )
    log.flow("u2", "main.sales.orders_quarantine", "COMPLETED", rows_out=3)
    log.flow(
        "u2",
        "main.sales.customers",
        "COMPLETED",
        rows_out=5,
        dropped=0,
        expectations=[("customers_silver_input", "has_email", 5, 0)],
    )
    log.flow("u2", "main.sales_gold.totals", "COMPLETED", rows_out=1)
    log.update_state("u2", "COMPLETED")
    return log


def failed_update(log: EventLog | None = None) -> EventLog:
    """u3 stops on customers' expect_or_fail rule; orders completed before it."""
    log = log or EventLog()
    log.create_update("u3")
    log.update_state("u3", "RUNNING")
    log.flow(
        "u3",
        "main.sales.orders",
        "COMPLETED",
        rows_out=2,
        dropped=0,
        expectations=[
            ("orders_silver_input", "positive", 2, 0),
            ("orders_silver_input", "has_id", 2, 0),
            ("orders_silver_input", "not_test", 2, 0),
        ],
    )
    log.flow(
        "u3",
        "main.sales.customers",
        "RUNNING",
        rows_out=0,
        dropped=0,
        expectations=[("customers_silver_input", "has_email", 3, 2)],
    )
    log.flow(
        "u3",
        "main.sales.customers",
        "FAILED",
        dropped=0,
        expectations=[("customers_silver_input", "has_email", 3, 2)],
        error="[EXPECTATION_VIOLATION.VERBOSITY_ALL] Flow 'customers' failed to meet the expectation:"
        " violated expectations: 'has_email'",
    )
    log.update_state("u3", "FAILED")
    return log
