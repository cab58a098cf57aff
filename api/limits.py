"""A ceiling on request bodies: a 413 problem+json before a large upload is read into memory.

Every body the API takes is an intent or a short text (well under 100 KB for the largest
``register_source``), so 1 MiB leaves room without letting one request hold a worker's memory.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response, too_large

MAX_BODY_BYTES = 1024 * 1024


class _TooLarge(HTTPException):
    """Raised while the body streams in; the app's problem handler answers it (FastAPI passes an
    HTTPException through its body reading, where any other error would become a 400)."""


class BodyLimitMiddleware:
    """Pure ASGI: refuses by ``Content-Length`` up front, and counts a chunked body as it arrives."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, int(declared))
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(413, _message(None, self.max_bytes))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, None)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int | None) -> None:
        message = _message(size, self.max_bytes)
        response = problem_response(413, message, [too_large(message)], headers={"Connection": "close"})
        await response(scope, receive, send)


def _message(size: int | None, limit: int) -> str:
    sent = f"{size} bytes" if size is not None else f"over {limit} bytes"
    return f"the body is {sent}; the API takes at most {limit} bytes"
