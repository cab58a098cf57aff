"""Prometheus metrics for one app: request counts and latency per route, commands by status.

Each app owns its registry, so two apps in one process (tests) never share counters.
With several uvicorn workers each worker reports its own figures.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/v1"  # every route's base path; route labels are relative to it
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The text format has no created timestamps: the client would publish each one as an extra
# ``*_created`` gauge per series, doubling what Prometheus stores for nothing it uses (a counter
# reset is already seen as the value going down). The API process owns its interpreter.
disable_created_metrics()


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "lakeforge_api_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lakeforge_api_request_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.commands = Counter(
            "lakeforge_api_commands",
            "Commands received through the API, by intent kind and outcome.",
            ["kind", "status"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = _route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    # The template relative to /api/v1 (/runs/{batch_id}), never the raw path: label values stay few.
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not path and scope.get("endpoint") is not None:
        # Plain Starlette routes (the OpenAPI document, /docs) set only the endpoint: find its route.
        app_routes = getattr(scope.get("app"), "routes", ())
        path = next((r.path for r in app_routes if getattr(r, "endpoint", None) is scope["endpoint"]), None)
        path = path.removeprefix(API_PREFIX) if path else None
    return str(path) if path else "unmatched"
