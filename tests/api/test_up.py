"""``lakeforge up``: migrate, first admin token (0600, once), then serve the API."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.cli import ensure_admin_token
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings
from tests.api.api_support import free_port


def test_first_admin_token_is_written_once_and_private(settings: Settings, db: Database) -> None:
    path = ensure_admin_token(settings, db)
    assert path == settings.state_dir / "admin-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert token.startswith("lf_")
    assert ensure_admin_token(settings, db) is None
    assert path.read_text().strip() == token
    with db.connection() as conn:
        stored = conn.execute("SELECT token_hash FROM lakeforge.api_token").fetchall()
    assert len(stored) == 1 and token not in stored[0]["token_hash"]
    with db.connection() as conn:
        audit = conn.execute(
            "SELECT actor, surface, kind, intent::text AS intent FROM lakeforge.command_audit"
        ).fetchall()
    assert [(a["actor"], a["surface"], a["kind"]) for a in audit] == [("admin", "system", "create_token")]
    assert token not in audit[0]["intent"] and token[:8] in audit[0]["intent"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_lakeforge_up_serves_the_api(database_url: str, tmp_path: Path, workers: str) -> None:
    port, workspace_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEFORGE_", "DATABRICKS_"))}
    env |= {
        "LAKEFORGE_DATABASE_URL": database_url,
        "LAKEFORGE_STATE_DIR": str(tmp_path / "state"),
        "LAKEFORGE_WORKSPACE_PORT": str(workspace_port),
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "lakeforge"), "up", "--port", str(port), "--workers", workers],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "lakeforge up did not serve /health"
            time.sleep(0.2)
        token = (tmp_path / "state" / "admin-token").read_text().strip()
        response = httpx.get(f"{base}/sources", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and response.json() == []
        # With no Databricks host configured, the local workspace comes up next to the API.
        config = httpx.get(f"http://127.0.0.1:{workspace_port}/.well-known/databricks-config", timeout=5)
        assert config.status_code == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output  # SIGTERM is a clean stop, with one worker or several
    assert "admin-token" in output and token not in output
    # A log keeps each URL on its line whole, as a terminal shows it (Rich cut pipes at 80 columns).
    assert f"LakeForge API: {base}  (OpenAPI: {base}/openapi.json, docs: {base}/docs)" in output
