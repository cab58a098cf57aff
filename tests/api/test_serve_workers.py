"""``api.serve``: several workers, each connection handed to the least busy, restarted when one dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from api.serve import listen
from lakeforge.errors import ConfigurationError
from tests.api.api_support import free_port

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    """The live worker processes of the server ``pid`` (not multiprocessing's resource tracker)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        if int(fields[1]) == pid and fields[0] != "Z" and "spawn_main" in _cmdline(child):
            found.add(child)
    return found


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(params=[2])
def served(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    workers = request.param
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEFORGE_", "DATABRICKS_"))}
    env |= {"LAKEFORGE_DATABASE_URL": database_url, "LAKEFORGE_STATE_DIR": str(tmp_path / "state")}
    command = [sys.executable, "-m", "api.serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(
            lambda: process.poll() is None and _healthy(base) and len(_children(process.pid)) == workers,
            "serve",
        )
        yield process, base
    finally:
        workers = _children(process.pid)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in workers:  # never leave a worker behind, whatever the test did
            if "spawn_main" in _cmdline(pid):
                os.kill(pid, signal.SIGKILL)


def test_workers_serve_come_back_when_killed_and_stop_together(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base = served
    workers = _children(process.pid)
    assert len(workers) == 2
    # Fresh connections each time, each handed to a worker.
    assert all(httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200 for _ in range(20))

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    _wait(lambda: len(_children(process.pid) - {victim}) == 2, "a killed worker is replaced")
    assert victim not in _children(process.pid)
    _wait(lambda: _healthy(base), "serving after the restart")

    serving = _children(process.pid)
    process.terminate()
    assert process.wait(timeout=30) == 0
    assert not [pid for pid in serving if "spawn_main" in _cmdline(pid)]  # no worker outlives it


@pytest.mark.parametrize("served", [3], indirect=True)
def test_keep_alive_connections_are_spread_evenly_over_the_workers(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base = served
    port = int(base.rsplit(":", 1)[1])
    clients = [httpx.Client(base_url=base, timeout=5) for _ in range(9)]
    try:
        for client in clients:  # one after another: each connection goes to the least busy worker
            assert client.get("/api/v1/health").status_code == 200
        held = {pid: _connections_to(port, pid) for pid in _children(process.pid)}
        assert sorted(held.values()) == [3, 3, 3], held
        for client in clients[:3]:
            client.close()
        _wait(lambda: sum(_connections_to(port, pid) for pid in held) == 6, "closed connections let go")
        # The next connections go where the closed ones were, not round the ring.
        fresh = [httpx.Client(base_url=base, timeout=5) for _ in range(3)]
        clients += fresh
        for client in fresh:
            assert client.get("/api/v1/health").status_code == 200
        assert sorted(_connections_to(port, pid) for pid in held) == [3, 3, 3]
    finally:
        for client in clients:
            client.close()


def test_workers_stop_when_the_parent_is_killed(served: tuple[subprocess.Popen[bytes], str]) -> None:
    process, _ = served
    workers = _children(process.pid)
    process.kill()
    process.wait(timeout=10)
    _wait(lambda: not [pid for pid in workers if "spawn_main" in _cmdline(pid)], "orphaned workers exit", 30)


def _connections_to(port: int, pid: int) -> int:
    """Established TCP connections to ``port`` that process ``pid`` holds open."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_port_in_use_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError) as caught:
            listen("127.0.0.1", port)
    assert f"127.0.0.1:{port}" in caught.value.message and "--port" in (caught.value.fix or "")
