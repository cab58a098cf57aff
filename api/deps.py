"""What routes receive by injection: settings, the pooled ``Database``, the caller.

The dependencies are ``async``: FastAPI runs a plain ``def`` dependency on a worker thread, and
one thread hop per dependency per request is most of an API call's overhead. Only a token the
cache has not seen goes to a thread, for its database lookup.

>>> @router.get("/things")
... def things(db: DbDep, principal: PrincipalDep) -> list[Thing]: ...
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.metrics import ApiMetrics
from api.problems import ApiProblem
from lakeforge import suggest
from lakeforge.commands.access import Principal, authenticate_token
from lakeforge.commands.envelope import Actor
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="LakeForgeToken",
    description="A token from `lakeforge token create --user NAME --role ROLE` (or STATE_DIR/admin-token).",
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lakeforge"'}


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


class TokenCache:
    """Principals of recently seen tokens, keyed by the token's hash, for a few seconds.

    Keeps the token lookup off the hot path of busy clients; a revoked token stops working
    within ``ttl`` seconds. A ttl of 0 looks every token up every time.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry and entry[0] > time.monotonic():
            return entry[1]
        return None

    def put(self, key: str, principal: Any) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, principal)


def _cache_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(db: Database, cache: TokenCache, token: str) -> Principal:
    """The principal behind ``token``, or a 401 problem."""
    key = _cache_key(token)
    cached = cache.get(key)
    if isinstance(cached, Principal):
        return cached
    try:
        principal = authenticate_token(db, token)
    except LakeForgeError as error:
        raise ApiProblem(
            401,
            f"the bearer token was not accepted ({error.message})",
            errors=[{"field": "Authorization", "message": error.message, "fix": _TOKEN_FIX}],
            headers=_CHALLENGE,
        ) from None
    cache.put(key, principal)
    return principal


_TOKEN_FIX = "Send 'Authorization: Bearer <token>' with a token from `lakeforge token create`."  # noqa: S105


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiProblem(
            401,
            "this endpoint needs a bearer token",
            errors=[
                {
                    "field": "Authorization",
                    "message": _what_was_sent(request.headers.get("authorization", "")),
                    "fix": _TOKEN_FIX,
                }
            ],
            headers=_CHALLENGE,
        )
    cache: TokenCache = request.app.state.token_cache
    cached = cache.get(_cache_key(credentials.credentials))
    if isinstance(cached, Principal):
        return cached  # the common case answers on the event loop, with no thread hop
    return await run_in_threadpool(authenticate, request.app.state.db, cache, credentials.credentials)


def _what_was_sent(header: str) -> str:
    # "missing" would mislead a client that sent Basic auth or a token without its scheme.
    scheme, _, value = header.strip().partition(" ")
    if not scheme:
        return "missing bearer token"
    if scheme.lower() == "bearer":
        return "the bearer token is empty"
    if not value.strip():
        return "the Authorization header has no scheme: write 'Bearer' before the token"
    return f"the Authorization header uses the {scheme[:20]!r} scheme, not Bearer"


def actor_for(principal: Principal, request: Request) -> Actor:
    # The panel says which page it is on; other clients are plain API callers.
    surface = "web" if request.headers.get("x-lakeforge-surface") == "web" else "api"
    channel = request.headers.get("x-lakeforge-channel")
    return Actor(user=principal.user, surface=surface, channel=channel[:200] if channel else None)


async def check_parameters(request: Request) -> None:
    """Refuse query parameters the route does not take, and NUL bytes in the query and path.

    An unknown name is almost always a typo (``?dryrun=true``, ``?stauts=failed``); ignoring it
    would apply a change the caller meant to plan, or answer an unfiltered list. NUL bytes cannot
    be stored by Postgres, so they are bad input too. A request without a query string (the usual
    ``POST /commands``) costs one empty loop.
    """
    query = request.query_params.multi_items()
    if query:
        known = _route_query_names(request)
        for name, _ in query:
            if known is not None and name not in known:
                raise _unknown_query_parameter(name, known)
    for where, params in (("query", query), ("path", request.path_params.items())):
        for name, value in params:
            if "\x00" in str(value) or "\x00" in name:
                raise ApiProblem(
                    422,
                    f"{name}: contains a NUL byte",
                    errors=[
                        {
                            "field": name,
                            "message": f"{where} parameter contains a NUL byte",
                            "fix": "Remove control characters from the value.",
                        }
                    ],
                )


def _unknown_query_parameter(name: str, known: frozenset[str]) -> ApiProblem:
    shown = name.replace("\x00", "")[:100]
    close = suggest.closest(shown, known)
    if close:
        fix = f"{suggest.hint(close)} This route takes: {', '.join(sorted(known))}."
    elif known:
        fix = f"Remove it; this route takes: {', '.join(sorted(known))}."
    else:
        fix = "Remove it; this route takes no query parameters."
    return ApiProblem(
        422,
        f"{shown}: unknown query parameter",
        errors=[{"field": shown, "message": "unknown query parameter", "fix": fix}],
    )


def _route_query_names(request: Request) -> frozenset[str] | None:
    """The query parameters the matched route takes, worked out once per route and kept in
    ``app.state.query_names`` (keyed by ``id(route)``: routes are not hashable, and live as
    long as the app). None when the route is not a FastAPI route."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return None
    cache: dict[int, frozenset[str]] = request.app.state.query_names
    names = cache.get(id(route))
    if names is None:
        names = cache[id(route)] = frozenset(_query_aliases(route.dependant))
    return names


def _query_aliases(dependant: Dependant) -> Iterator[str]:
    for param in dependant.query_params:
        yield param.alias
    for sub in dependant.dependencies:
        yield from _query_aliases(sub)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
