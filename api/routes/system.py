"""``/health`` and ``/metrics``: open to monitoring, no token needed, no metadata revealed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import DbDep, MetricsDep
from api.metrics import CONTENT_TYPE

router = APIRouter(tags=["system"])


@router.get("/health")
def health(db: DbDep) -> JSONResponse:
    """``ok`` when the API answers and the metadata store does too."""
    body: dict[str, Any] = {"status": "ok", "database": "ok"}
    try:
        with db.connection(autocommit=True) as conn:  # one round trip, no BEGIN/COMMIT
            conn.execute("SELECT 1")
    except Exception as error:
        body = {"status": "degraded", "database": type(error).__name__}
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
def metrics(registry: MetricsDep) -> Response:
    """Prometheus text format: request counts and latency per route, commands by outcome."""
    return Response(registry.render(), media_type=CONTENT_TYPE)
