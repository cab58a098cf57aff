"""``lakeforge demo``: the whole story on one machine.

1. start the metadata store (embedded Postgres), migrate it, make sure an admin token exists;
2. land the next increment of the sample retail system (``sample.py``);
3. apply the demo metadata (``retail.yaml``) through the command layer;
4. start the local workspace and sync jobs and pipelines into it with the reconciler;
5. run the group's job there: Raw → Bronze → Silver → Gold on the embedded engine;
6. print rows per zone and rules passed/failed, and (``--check``) compare them with what the
   sample is known to contain;
7. unless checking, keep the API, the panel, the notifier and the local workspace up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lakeforge.commands.envelope import Actor
from lakeforge.demo.sample import Manifest, write_increment
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings

GROUP = "retail"
DEMO_ACTOR = Actor(user="admin", surface="cli", channel="lakeforge demo")


class DemoFailed(LakeForgeError):
    """The demo batch did not reach Gold with the expected counts."""


@dataclass
class ZoneSummary:
    zone: str
    status: str
    rows_in: int | None
    rows_out: int | None
    bytes: int | None = None


@dataclass
class DemoOutcome:
    batch_id: int
    status: str
    increment: int
    seconds: float
    zones: list[ZoneSummary] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def landing_dir(settings: Settings) -> Path:
    return settings.state_dir / "demo" / "landing"


def demo_document(settings: Settings) -> dict[str, Any]:
    """The demo metadata with the landing folder filled in."""
    text = (resources.files("lakeforge.demo") / "retail.yaml").read_text()
    return yaml.safe_load(text.replace("{landing}", str(landing_dir(settings))))


def land_next_increment(settings: Settings) -> Manifest:
    """Write increment 1, or 2 after it; after 2 the sample is complete and nothing new lands."""
    landing = landing_dir(settings)
    landed = len(list((landing / "orders").glob("orders_*.csv"))) if landing.exists() else 0
    if landed == 0:
        return write_increment(landing, 1)
    manifest = write_increment(landing, 2) if landed == 1 else _expected_after_second(landing)
    return manifest


def _expected_after_second(landing: Path) -> Manifest:
    # Both increments have landed: nothing new arrives, the totals must stay those of increment 2.
    manifest = write_increment(landing, 2, write=False)
    manifest.increment = 3
    return manifest


def apply_metadata(db: Database, settings: Settings) -> None:
    from lakeforge.commands.access import Principal
    from lakeforge.commands.declarative import apply_document, parse_document

    document = parse_document(demo_document(settings), "retail.yaml")
    report = apply_document(db, document, DEMO_ACTOR, Principal.local_admin(DEMO_ACTOR.user))
    rejected = [step for step in report.steps if step.status == "rejected"]
    if rejected:
        step = rejected[0]
        detail = "; ".join(f"{e.field}: {e.message}" for e in step.errors) or step.message
        raise DemoFailed(f"the demo metadata was refused at {step.entity} {step.name}: {detail}")


def sync_and_run(db: Database, settings: Settings, client: Any, timeout: float = 600) -> tuple[int, str]:
    """Sync the workspace, run the group's job there, and return (batch id, batch status)."""
    from datetime import timedelta

    from lakeforge.orchestration import reconciler
    from lakeforge.orchestration.compiler import group_key

    result = reconciler.apply(db, client, settings=settings, upload=True)
    if result.errors:
        first = result.errors[0]
        raise DemoFailed(f"sync failed for {first.get('resource')} {first.get('name')}: {first.get('error')}")
    with db.connection() as conn:
        row = conn.execute(
            "SELECT databricks_id FROM lakeforge.managed_resource "
            "WHERE resource_type = 'job' AND lakeforge_key = %s",
            [group_key(GROUP)],
        ).fetchone()
    if not row or not row["databricks_id"]:
        raise DemoFailed(f"the sync did not create the job for group {GROUP}")
    run = client.jobs.run_now(job_id=int(row["databricks_id"])).result(timeout=timedelta(seconds=timeout))
    with db.connection() as conn:
        batch = conn.execute(
            "SELECT batch_id, status FROM lakeforge_log.batch_run WHERE databricks_run_id = %s "
            "ORDER BY batch_id DESC LIMIT 1",
            [str(run.run_id)],
        ).fetchone()
    if not batch:
        state = run.state.state_message if run.state else ""
        raise DemoFailed(f"job run {run.run_id} left no batch in the run log ({state})")
    return int(batch["batch_id"]), str(batch["status"])


def summarize(db: Database, settings: Settings, batch_id: int) -> DemoOutcome:
    from deltalake import DeltaTable

    with db.connection() as conn:
        batch = conn.execute(
            "SELECT status FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        ).fetchone()
        zones = conn.execute(
            "SELECT zone, status, rows_in, rows_out, bytes FROM lakeforge_log.zone_run "
            "WHERE batch_id = %s ORDER BY id",
            [batch_id],
        ).fetchall()
        rules = conn.execute(
            "SELECT table_name, rule_name, action, rows_checked, rows_passed, rows_failed, status "
            "FROM lakeforge_log.dq_run WHERE batch_id = %s ORDER BY table_name, rule_name",
            [batch_id],
        ).fetchall()
    outcome = DemoOutcome(
        batch_id=batch_id, status=batch["status"] if batch else "missing", increment=0, seconds=0
    )
    outcome.zones = [
        ZoneSummary(z["zone"], z["status"], z["rows_in"], z["rows_out"], z["bytes"]) for z in zones
    ]
    outcome.rules = [dict(r) for r in rules]
    root = settings.lakehouse_path / "main"
    for layer in ("bronze", "silver", "gold"):
        folder = root / f"{GROUP}_{layer}"
        if not folder.exists():
            continue
        for table in sorted(p for p in folder.iterdir() if (p / "_delta_log").exists()):
            outcome.tables[f"{GROUP}_{layer}.{table.name}"] = (
                DeltaTable(str(table)).to_pyarrow_dataset().count_rows()
            )
    return outcome


def check(outcome: DemoOutcome, manifest: Manifest) -> list[str]:
    """Differences between what the batch produced and what the sample is known to contain."""
    problems = []
    if outcome.status != "succeeded":
        problems.append(f"batch {outcome.batch_id} ended {outcome.status}, expected succeeded")
    if "gold" not in {z.zone for z in outcome.zones if z.status == "succeeded"}:
        problems.append("the batch did not reach Gold")
    for feed, counts in manifest.expected.items():
        expected = {
            f"{GROUP}_bronze.{feed}": counts.bronze_total,
            f"{GROUP}_silver.{feed}": counts.silver,
        }
        if counts.quarantined:
            expected[f"{GROUP}_silver.{feed}_quarantine"] = counts.quarantined
        for table, rows in expected.items():
            actual = outcome.tables.get(table)
            if actual != rows:
                problems.append(f"{table}: {actual} rows, expected {rows}")
    gold = outcome.tables.get(f"{GROUP}_gold.revenue_by_country")
    if gold != manifest.gold_rows:
        problems.append(f"{GROUP}_gold.revenue_by_country: {gold} rows, expected {manifest.gold_rows}")
    return problems


def run_demo(settings: Settings, db: Database, client: Any) -> tuple[DemoOutcome, Manifest]:
    """Land data, apply metadata, sync, run one batch; the caller provides the workspace client."""
    started = time.perf_counter()
    manifest = land_next_increment(settings)
    apply_metadata(db, settings)
    batch_id, _ = sync_and_run(db, settings, client)
    outcome = summarize(db, settings, batch_id)
    outcome.increment = manifest.increment
    outcome.seconds = time.perf_counter() - started
    outcome.problems = check(outcome, manifest)
    return outcome, manifest
