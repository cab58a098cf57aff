"""The local workspace: an HTTP server that the real ``databricks-sdk`` talks to as if it were Databricks.

>>> workspace = LocalWorkspace(settings, db, port=0)
>>> url = workspace.start()                      # e.g. http://127.0.0.1:40123
>>> w = workspace.client()                       # a databricks.sdk.WorkspaceClient for it
>>> w.jobs.create(name="nightly", tasks=[...])
>>> workspace.faults.queue("throttle", path="jobs/create")
>>> workspace.stop()

uvicorn serves a Starlette app in a background thread; runs execute in worker threads
(see ``executor``), schedules fire from one scheduler thread (see ``scheduler``), and all state
lives in the ``lakeforge_workspace`` schema, so a new ``LocalWorkspace`` on the same database
finds the jobs, pipelines, files and run history of the previous one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lakeforge.errors import ConfigurationError
from lakeforge.localworkspace import jobs_api, pipelines_api, workspace_api
from lakeforge.localworkspace.context import Context
from lakeforge.localworkspace.executor import Executor, TaskRunners
from lakeforge.localworkspace.faults import FaultSwitch
from lakeforge.localworkspace.http import ApiError, GatewayMiddleware, QuietDroppedConnections, error_response
from lakeforge.localworkspace.scheduler import Scheduler
from lakeforge.localworkspace.store import WorkspaceStore
from lakeforge.metadata.db import Database
from lakeforge.runtime.jobruns import JobRunEnds
from lakeforge.runtime.runlog import fail_stale_batches
from lakeforge.settings import Settings
from lakeforge.sockets import bind_tcp

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

log = logging.getLogger(__name__)

LOCAL_USER = "local-user@lakeforge.local"
# The token a local workspace accepts unless given one: DATABRICKS_TOKEN if set, else this
# well-known value (the server listens on 127.0.0.1; it guards against stray clients, not attackers).
DEFAULT_TOKEN = "lakeforge-local"  # noqa: S105 - not a secret
WORKSPACE_ID = "1000000000000001"


class LocalWorkspace:
    """Serve the Databricks REST subset LakeForge uses, backed by Postgres, on ``host:port`` (0: free)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        runners: TaskRunners | None = None,
        task_slots: int = 2,
    ) -> None:
        self.settings = settings
        self.db = db
        self.host = host
        self.port = port
        self.token = token or os.environ.get("DATABRICKS_TOKEN") or DEFAULT_TOKEN
        self.faults = FaultSwitch()
        self.store = WorkspaceStore(db)
        self.executor = Executor(settings, db, self.store, runners or TaskRunners(), task_slots=task_slots)
        self.scheduler = Scheduler(self.store, self.executor, user=LOCAL_USER)
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Start serving and scheduling; returns the base URL (``http://HOST:PORT``)."""
        self._check_schema()
        sock = bind_tcp(
            self.host,
            self.port,
            setting="LAKEFORGE_WORKSPACE_PORT",
            fix="Stop whatever uses that port or choose another one (0 picks a free port).",
        )
        self.port = sock.getsockname()[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self.executor.recover()
        config = uvicorn.Config(self.app(), log_level="warning", access_log=False, lifespan="off")
        uvicorn_log = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, QuietDroppedConnections) for f in uvicorn_log.filters):
            uvicorn_log.addFilter(QuietDroppedConnections())
        self._server = uvicorn.Server(config)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])), name="lakeforge-workspace", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigurationError(
                    f"the local workspace did not start on {self.base_url}",
                    fix="Run `lakeforge workspace serve` in a terminal to see why.",
                )
            time.sleep(0.01)
        self._end_orphaned_batches()
        self.scheduler.start()
        return self.base_url

    def _end_orphaned_batches(self) -> None:
        """End the batches of runs ``recover`` ended: they have no process left either. Their
        channel then hears of it and they can be rerun (a batch still marked running refuses a
        rerun); each ends as its run did, read from this server like any client would."""
        for batch_id in fail_stale_batches(self.db, JobRunEnds(self.client)):
            log.warning("batch %s was running when the workspace stopped; ended it", batch_id)

    def stop(self) -> None:
        """Stop scheduling, end active runs, and stop serving (idempotent)."""
        self.scheduler.stop()
        self.executor.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalWorkspace:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, **config: Any) -> WorkspaceClient:
        """A ``WorkspaceClient`` for this server (token auth; extra SDK config passes through)."""
        return workspace_client(self.base_url, self.token, **config)

    def app(self) -> Starlette:
        async def well_known(request: Request) -> JSONResponse:
            # What the SDK probes at start; a workspace (not account) host, with no OIDC of its own.
            return JSONResponse({"workspace_id": WORKSPACE_ID, "oidc_endpoint": f"{self.base_url}/oidc"})

        app = Starlette(
            routes=[
                Route("/.well-known/databricks-config", well_known, methods=["GET"]),
                *jobs_api.routes,
                *pipelines_api.routes,
                *workspace_api.routes,
            ],
            middleware=[Middleware(GatewayMiddleware, token=self.token, faults=self.faults)],
            exception_handlers={404: _no_endpoint, 405: _no_endpoint},
        )
        app.state.ctx = Context(
            store=self.store,
            executor=self.executor,
            base_url=self.base_url,
            user=LOCAL_USER,
            schedules_changed=self.scheduler.changed,
        )
        return app

    def _check_schema(self) -> None:
        with self.db.connection() as conn:
            found = conn.execute("SELECT to_regclass('lakeforge_workspace.job') AS t").fetchone()
        if not found or not found["t"]:
            raise ConfigurationError(
                "the metadata store has no lakeforge_workspace schema",
                fix="Run `lakeforge db migrate` first.",
            )


async def _no_endpoint(request: Request, exc: Exception) -> JSONResponse:
    return error_response(
        ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.method} {request.url.path}'")
    )


def workspace_client(base_url: str, token: str, **config: Any) -> WorkspaceClient:
    """A ``databricks.sdk.WorkspaceClient`` for a local workspace, ignoring ~/.databrickscfg profiles."""
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient(host=base_url, token=token, auth_type="pat", **config)
