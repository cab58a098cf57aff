"""The LakeForge REST API: ``create_app(settings)`` builds the FastAPI app, everything under ``/api/v1``.

>>> app = create_app(load_settings())
>>> uvicorn.run(app, host="127.0.0.1", port=8765)

The app opens its pooled ``Database`` at startup (or uses the one passed in) and closes
what it opened at shutdown. The Slack handler mounts at ``/slack/events`` when the
``bot`` package provides ``bot.app.mount(app, settings)``.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from api.deps import TokenCache, check_parameters
from api.dispatch import IDEMPOTENCY_KEY_MAX_LENGTH
from api.limits import BodyLimitMiddleware
from api.metrics import API_PREFIX, ApiMetrics, MetricsMiddleware
from api.problems import install_problem_handlers
from api.routes import catalog, commands, groups, me, runs, sources, sync, system
from lakeforge.metadata.db import Database, open_database
from lakeforge.runtime.jobruns import JobRunEnds
from lakeforge.runtime.runlog import fail_stale_batches
from lakeforge.settings import Settings, get_settings

log = logging.getLogger(__name__)

GIL_SWITCH_SECONDS = 0.0005


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    """The API for ``settings``; pass ``db`` to share a pool the caller owns (and closes)."""
    from lakeforge.commands import launch

    # Runs and syncs the API starts use these settings (workspace, engine), not the environment's:
    # `lakeforge up --port ...` and embedders pass settings the environment does not hold.
    launch.configure(settings)
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = db is None
        # Endpoints run on threads that mostly wait for Postgres. With Python's default 5 ms switch
        # interval a thread whose query has returned can wait that long for the GIL at every round
        # trip; 0.5 ms doubled /health throughput and cut command latency by a third (measured with
        # benchmarks/command_latency.py on two cores). The API process owns its interpreter.
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        # Everything imported and built so far lives as long as the process: move it out of the
        # collector's reach, so full collections stay short and stop adding to tail latency.
        gc.freeze()
        app.state.db = db if db is not None else open_database(settings)
        # Batches this API queued or ran before a restart have no process left: end them now, so
        # show_run and the run alert say so instead of `queued` or `running` for ever.
        for batch_id in fail_stale_batches(app.state.db, JobRunEnds.of(settings)):
            log.warning("batch %s had no process left when the API started; ended it", batch_id)
        try:
            yield
        finally:
            if owned:
                app.state.db.close()

    app = FastAPI(
        title="LakeForge API",
        version="1",
        summary="Metadata-driven ingestion for the Databricks Lakehouse: one command layer, every surface.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
        # operationId is the endpoint's name (list_runs, register_source): a generated client's
        # methods read as the API does, not list_runs_api_v1_runs_get.
        generate_unique_id_function=_operation_id,
        # No OpenTelemetry from the framework: nothing leaves the machine unless LakeForge says so,
        # and the per-request instrumentation is not free.
        telemetry={
            "tracing": False,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
        },
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.token_cache = TokenCache(settings.api_token_cache_seconds)
    app.state.query_names = {}  # filled by check_parameters, one entry per route
    if db is not None:
        app.state.db = db

    install_problem_handlers(app)
    for router in (
        commands.build_router(),
        sources.router,
        groups.router,
        catalog.router,
        runs.router,
        sync.router,
        system.router,
        me.router,
    ):
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(check_parameters)])

    app.add_middleware(BodyLimitMiddleware)  # inside CORS: the panel can read its 413
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.api_cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "X-LakeForge-Surface",
            "X-LakeForge-Channel",
        ],
        max_age=600,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _publish_intent_schema(app)
    _mount_slack(app, settings)
    return app


def _publish_intent_schema(app: FastAPI) -> None:
    """OpenAPI: ``CommandRequest.intent`` is the ``Intent`` union, with every intent's schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from lakeforge.commands.intents import IntentAdapter

        spec = generate()
        union = IntentAdapter.json_schema(ref_template="#/components/schemas/{model}")
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in union.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas["Intent"] = {"title": "Intent", **union}
        schemas["CommandRequest"]["properties"]["intent"] = {
            "$ref": "#/components/schemas/Intent",
            "description": "The intent: an object whose 'kind' names it.",
        }
        _document_idempotency_header(spec)
        _type_resource_bodies(spec, union["discriminator"]["mapping"])
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _document_idempotency_header(spec: dict[str, Any]) -> None:
    """Resource writes read ``Idempotency-Key`` from the request (``routes._common.write``), not
    as a declared parameter: publish it on each of them, as ``POST /commands`` declares it."""
    from api.routes._common import IDEMPOTENCY_HELP

    header = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": IDEMPOTENCY_HELP,
        "schema": {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
    }
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            confirmable = operation.get("responses", {}).get("202", {})
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            if confirmable and "Idempotency-Key" not in names:
                operation.setdefault("parameters", []).append(header)


def _type_resource_bodies(spec: dict[str, Any], models: dict[str, str]) -> None:
    """A resource write's body is its intent's fields without ``kind`` and without the fields its
    path fills (``routes._common.intent_route``): publish exactly that as the body's schema,
    ``<Intent>Fields``, in place of "any object"."""
    schemas = spec["components"]["schemas"]
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            kind = operation.get("x-lakeforge-intent")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if kind is None or body is None:
                continue
            model = models[kind].rsplit("/", 1)[-1]
            from_path = set(operation.get("x-lakeforge-from-path", ())) | {"kind"}
            intent = schemas[model]
            fixed = sorted(from_path - {"kind"})
            fields = {
                **intent,
                "title": f"{model}Fields",
                "description": f"The fields of the {model} intent, less kind"
                + (f" and {', '.join(fixed)}, which the route sets." if fixed else "."),
                "properties": {k: v for k, v in intent.get("properties", {}).items() if k not in from_path},
                "required": [k for k in intent.get("required", []) if k not in from_path],
            }
            schemas[f"{model}Fields"] = fields
            body["schema"] = {"$ref": f"#/components/schemas/{model}Fields"}


def _operation_id(route: APIRoute) -> str:
    return route.name


def _mount_slack(app: FastAPI, settings: Settings) -> None:
    try:
        from bot.app import mount
    except ImportError:
        return
    mount(app, settings)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several workers): settings from the environment."""
    return create_app(get_settings())
