"""Fixtures: a local workspace on a free port over a fresh migrated database, and a real SDK client."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient

from lakeforge.localworkspace.executor import TaskRunners
from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings

NOTEBOOKS = Path(__file__).parent / "notebooks"


class _Widgets:
    def __init__(self, params: dict[str, str]) -> None:
        self.params = params

    def text(self, name: str, default: str = "", label: str | None = None) -> None:
        self.params.setdefault(name, default)

    def get(self, name: str) -> str:
        return self.params[name]


class _DbUtils:
    def __init__(self, params: dict[str, str]) -> None:
        self.widgets = _Widgets(params)


def small_notebook_runner(path: str, params: dict[str, str], engine: str | None = None) -> Any:
    """Stands in for lakeforge.runtime.notebook.run_notebook until the data plane provides it."""
    namespace: dict[str, Any] = {"dbutils": _DbUtils(dict(params)), "__name__": "__notebook__"}
    exec(compile(Path(path).read_text(), path, "exec"), namespace)
    return namespace.get("result")


def notebook_runner() -> Any:
    if importlib.util.find_spec("lakeforge.runtime.notebook") is not None:
        from lakeforge.runtime.notebook import run_notebook

        return run_notebook
    return small_notebook_runner


@pytest.fixture
def runners() -> TaskRunners:
    return TaskRunners(notebook=notebook_runner())


@pytest.fixture
def workspace(settings: Settings, db: Database, runners: TaskRunners) -> Iterator[LocalWorkspace]:
    server = LocalWorkspace(settings, db, port=0, runners=runners)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def w(workspace: LocalWorkspace) -> WorkspaceClient:
    return workspace.client()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_workspace(database_url: str, state_dir: Path, port: int, **popen: Any) -> subprocess.Popen[Any]:
    """``lakeforge workspace serve`` in its own process, token ``t0ken``; the caller stops it."""
    env = {
        **os.environ,
        "LAKEFORGE_DATABASE_URL": database_url,
        "LAKEFORGE_STATE_DIR": str(state_dir),
        "DATABRICKS_TOKEN": "t0ken",
    }
    command = [str(Path(sys.executable).parent / "lakeforge"), "workspace", "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, **popen)
