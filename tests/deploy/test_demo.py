"""`lakeforge demo --check` from a clean state: the sample reaches Gold with the expected counts."""

from __future__ import annotations

import os
import subprocess
import sys


def _demo(state_dir, database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEFORGE_", "DATABRICKS_"))}
    env.update(
        {"LAKEFORGE_STATE_DIR": str(state_dir), "LAKEFORGE_DATABASE_URL": database_url, "COLUMNS": "160"}
    )
    return subprocess.run(
        [sys.executable, "-m", "lakeforge", "demo", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_demo_check_passes_for_each_increment_and_after(database_url, tmp_path):
    first = _demo(tmp_path / "state", database_url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Increment 1 reached Gold with the expected counts" in first.stdout
    assert "retail_gold.revenue_by_country" in first.stdout
    # Piped output is laid out wide enough that no header or name is cut short, and zones that
    # do not measure rows or bytes say so with a dash rather than a 0.
    assert "…" not in first.stdout
    assert all(header in first.stdout for header in ("checked", "failed", "result", "quarantine"))
    raw_zone = next(line for line in first.stdout.splitlines() if "│ raw " in line)
    assert raw_zone.count("—") == 2

    second = _demo(tmp_path / "state", database_url)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Increment 2 reached Gold with the expected counts" in second.stdout

    # Nothing new lands on a third run: the totals stay those of increment 2.
    third = _demo(tmp_path / "state", database_url)
    assert third.returncode == 0, third.stdout + third.stderr


def test_demo_check_fails_when_gold_is_wrong(database_url, tmp_path):
    """The check can fail: break the gold SQL's join so the counts cannot match."""
    first = _demo(tmp_path / "state", database_url)
    assert first.returncode == 0, first.stdout + first.stderr
    landing = tmp_path / "state" / "demo" / "landing" / "orders"
    # A third file with orders of unknown customers adds silver rows the sample does not expect.
    (landing / "orders_0009.csv").write_text(
        "order_id,customer_id,order_date,status,amount,currency,updated_at\n"
        "5001,1,2026-11-25,paid,10.00,EUR,2026-11-25 10:00:00\n"
    )
    second = _demo(tmp_path / "state", database_url)
    assert second.returncode == 1
    assert "retail_silver.orders" in second.stdout and "expected" in second.stdout
