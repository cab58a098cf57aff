"""``/health`` and ``/metrics``: open to monitoring, no token needed, no metadata revealed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import DbDep, MetricsDep
from api.metrics import CONTENT_TYPE
from api.models import Health
from api.problems import RETRY_AFTER_SECONDS

router = APIRouter(tags=["system"])


@router.get(
    "/health",
    response_model=Health,
    responses={
        503: {"model": Health, "description": "The metadata store does not answer; retry after Retry-After."}
    },
)
def health(db: DbDep) -> JSONResponse:
    """``ok`` when the API answers and the metadata store does too: use it as the readiness check
    (a 503 means this process cannot serve commands until the store is back)."""
    body: dict[str, Any] = {"status": "ok", "database": "ok"}
    try:
        with db.connection(autocommit=True) as conn:  # one round trip, no BEGIN/COMMIT
            conn.execute("SELECT 1")
    except Exception as error:
        body = {"status": "degraded", "database": type(error).__name__}
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return JSONResponse(body)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
def metrics(registry: MetricsDep) -> Response:
    """Prometheus text format: request counts and latency per route, commands by outcome."""
    return Response(registry.render(), media_type=CONTENT_TYPE)
