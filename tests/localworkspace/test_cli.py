"""`lakeforge workspace serve --port N` serves the API until interrupted."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import requests
from databricks.sdk import WorkspaceClient

from tests.localworkspace.conftest import free_port, serve_workspace


def test_workspace_serve_command(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    process = serve_workspace(
        database_url, tmp_path, port, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                requests.get(f"http://127.0.0.1:{port}/.well-known/databricks-config", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        w = WorkspaceClient(host=f"http://127.0.0.1:{port}", token="t0ken", auth_type="pat")
        job_id = w.jobs.create(name="from-cli").job_id
        assert w.jobs.get(job_id).settings.name == "from-cli"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}" in output
    assert "t0ken" not in output  # a given token is never printed
