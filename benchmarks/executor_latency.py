"""Latency of the command executor itself (no HTTP): a dry-run register_source and an applied
update_source, at 1 and 16 concurrent callers, next to a pooled ``SELECT 1`` measured in the same run.

    uv run python benchmarks/executor_latency.py [--requests 400]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import percentile
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata.db import Database, open_database
from lakeforge.metadata.embedded import EmbeddedPostgres
from lakeforge.metadata.migrate import migrate
from lakeforge.settings import load_settings

ACTOR, ADMIN = Actor(user="bench", surface="api"), Principal.local_admin("bench")
REGISTER = {
    "kind": "register_source", "name": "orders", "group": "bench", "format": "csv",
    "location": "/Volumes/main/landing/orders/", "format_options": {"header": True},
    "silver": {"primary_keys": ["order_id"], "where": "amount IS NOT NULL"},
    "dq_rules": [{"name": "amount_positive", "expression": "amount > 0", "action": "drop"}],
}  # fmt: skip


def measure(db: Database, call: Any, requests: int, clients: int) -> tuple[float, float]:
    def one(index: int) -> float:
        started = time.perf_counter()
        call(index)
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(max_workers=clients) as pool:
        times = list(pool.map(one, range(requests)))
    return percentile(times, 0.5), percentile(times, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        server = EmbeddedPostgres(Path(state))
        url = server.start()
        try:
            settings = load_settings(database_url=url, state_dir=Path(state), pool_max_size=16)
            with open_database(settings) as db:
                migrate(db)
                execute(db, {"kind": "create_group", "name": "bench"}, ACTOR, principal=ADMIN)
                execute(db, {**REGISTER, "name": "existing"}, ACTOR, principal=ADMIN)

                def select_one(_: int) -> None:
                    with db.connection() as conn:
                        conn.execute("SELECT 1").fetchall()

                def dry_run(_: int) -> None:
                    assert execute(db, REGISTER, ACTOR, principal=ADMIN, dry_run=True).status == "planned"

                def update(index: int) -> None:
                    intent = {"kind": "update_source", "name": "existing", "location": f"/data/v{index}/"}
                    assert execute(db, intent, ACTOR, principal=ADMIN).status in ("applied", "rejected")

                for _ in range(20):  # warm caches and the pool
                    dry_run(0)
                print(f"{'what':34} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'p50 / SELECT 1':>15}")
                for clients in (1, 16):
                    base50, base99 = measure(db, select_one, args.requests, clients)
                    print(
                        f"{'pooled SELECT 1 (baseline)':34} {clients:>7} {base50:8.2f} {base99:8.2f} "
                        f"{1:>15.1f}"
                    )
                    for name, call in (
                        ("dry-run register_source", dry_run),
                        ("applied update_source", update),
                    ):
                        p50, p99 = measure(db, call, args.requests, clients)
                        print(f"{name:34} {clients:>7} {p50:8.2f} {p99:8.2f} {p50 / base50:>15.1f}")
        finally:
            server.destroy()


if __name__ == "__main__":
    main()
