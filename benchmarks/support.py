"""What several benchmarks share: percentiles, free ports, and the API served as it is deployed.

from benchmarks.support import percentile, serve_api
with serve_api({"LAKEFORGE_DATABASE_URL": url, ...}, workers=4) as (base_url, server):
    ...
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_api(settings_env: dict[str, str], *, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The API in its own processes (``api.serve``), configured by ``LAKEFORGE_*`` variables only;
    yields its base URL and process once ``/health`` answers, and stops it afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEFORGE_")} | settings_env
    port = free_port()
    command = [sys.executable, "-m", "api.serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, server)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the API server exited during start-up")
        try:
            if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API server did not become healthy")
