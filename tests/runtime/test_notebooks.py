"""The notebooks run locally through the dbutils shim, task by task, and survive a SIGKILL mid-write."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.notebook import run_notebook
from lakeforge.runtime.runlog import fail_stale_batches
from lakeforge.settings import PROJECT_ROOT
from tests.runtime.helpers import delta, make_gold, make_source, rows, write_csv

NOTEBOOKS = PROJECT_ROOT / "notebooks"


def test_source_to_raw_then_raw_to_bronze_then_pipeline_share_one_batch(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "o"
    write_csv(land / "1.csv", ["id", "amount"], [[1, 5], [2, 7]])
    make_source(
        db, "orders", location=str(land), schema_ddl="id INT, amount INT", silver={"primary_keys": ["id"]}
    )
    make_gold(db, "total", "SELECT sum(amount) AS total FROM main.sales.orders")

    raw = json.loads(
        run_notebook(
            NOTEBOOKS / "source_to_raw.py", {"group": "sales", "source": "orders"}, settings=settings
        )
    )
    bronze = json.loads(
        run_notebook(
            NOTEBOOKS / "raw_to_bronze.py",
            {"group": "sales", "source": "orders"},
            engine="embedded",
            settings=settings,
        )
    )
    gold = json.loads(run_notebook(NOTEBOOKS / "bronze_to_gold.py", {"group": "sales"}, settings=settings))

    assert raw["batch_id"] == bronze["batch_id"] == gold["batch_id"]
    assert gold["status"] == "succeeded"
    assert rows(settings, "main.sales_gold.total", ["total"]) == [(12,)]


def test_a_failed_batch_fails_the_notebook_with_one_sentence(settings, db, tmp_path: Path) -> None:
    make_source(db, "orders", location=str(tmp_path / "missing"))
    with pytest.raises(LakeForgeError, match=r"batch \d+ failed: .*does not exist"):
        run_notebook(
            NOTEBOOKS / "source_to_raw.py", {"group": "sales", "source": "orders"}, settings=settings
        )


def test_not_a_notebook_is_refused(settings, tmp_path: Path) -> None:
    plain = tmp_path / "x.py"
    plain.write_text("print('hi')\n")
    with pytest.raises(LakeForgeError, match="Databricks source notebook"):
        run_notebook(plain, {}, settings=settings)


def _bronze_fingerprint(settings, name: str) -> tuple[int, str]:
    hashes = sorted(delta(settings, name).column("_record_hash").to_pylist())
    return len(hashes), hashlib.sha256("".join(hashes).encode()).hexdigest()


def test_sigkill_mid_write_leaves_a_failed_batch_that_reruns_cleanly(
    settings, db, database_url, tmp_path
) -> None:
    land = tmp_path / "big"
    land.mkdir()
    source_rows = 1_000_000
    with duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    ) as con:
        con.execute(
            f"COPY (SELECT i AS id, 'name-' || i AS name, i % 97 AS bucket FROM range({source_rows}) t(i))"
            f" TO '{land / 'big.csv'}' (HEADER)"
        )
    make_source(db, "big", location=str(land))
    raw = json.loads(
        run_notebook(NOTEBOOKS / "source_to_raw.py", {"group": "sales", "source": "big"}, settings=settings)
    )
    batch = raw["batch_id"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEFORGE_")}
    env.update(
        LAKEFORGE_DATABASE_URL=database_url,
        LAKEFORGE_STATE_DIR=str(settings.state_dir),
        LAKEFORGE_ENGINE="embedded",
    )
    command = [
        str(Path(sys.executable).parent / "lakeforge"),
        "notebook",
        "run",
        str(NOTEBOOKS / "raw_to_bronze.py"),
        "--param",
        "group=sales",
        "--param",
        "source=big",
        "--param",
        f"batch_id={batch}",
    ]
    process = subprocess.Popen(
        [*command], env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 180
    killed_in = None
    while time.monotonic() < deadline and process.poll() is None:
        with db.connection() as conn:
            step = conn.execute(
                "SELECT step FROM lakeforge_log.step_run WHERE batch_id = %s AND status = 'running'"
                " ORDER BY id DESC LIMIT 1",
                [batch],
            ).fetchone()
        if step and step["step"] in ("conform", "write"):
            killed_in = step["step"]
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=30)
    assert killed_in is not None, (
        f"the notebook finished or stalled first: {process.stderr.read().decode()[-2000:]}"
    )

    assert fail_stale_batches(db) == [batch]
    with db.connection() as conn:
        status = conn.execute(
            "SELECT status, error FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch]
        ).fetchone()
        zone = conn.execute(
            "SELECT status FROM lakeforge_log.zone_run WHERE batch_id = %s AND zone = 'bronze'", [batch]
        ).fetchone()
    assert status["status"] == "failed" and "stopped before it finished" in status["error"]
    assert zone["status"] == "failed"

    rerun = json.loads(
        run_notebook(
            NOTEBOOKS / "raw_to_bronze.py",
            {"group": "sales", "source": "big", "batch_id": str(batch)},
            settings=settings,
        )
    )

    assert rerun["status"] == "succeeded"
    count, digest = _bronze_fingerprint(settings, "main.sales.big_bronze")
    assert count == source_rows
    expected = duckdb.sql(
        "SELECT string_agg(h, '' ORDER BY h) FROM"
        " (SELECT md5(concat_ws(chr(31), id::VARCHAR, name, bucket::VARCHAR))"
        f" AS h FROM read_csv('{land / 'big.csv'}', all_varchar=true))"
    ).fetchall()[0][0]
    assert digest == hashlib.sha256(expected.encode()).hexdigest()
