"""A real paged JSON API over HTTP for REST source tests (served by the ``api`` fixture)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import ClassVar
from urllib.parse import parse_qs, urlparse


class PagedApi(BaseHTTPRequestHandler):
    """Two records a page, ``next`` a page number; ``since`` filters on ``updated`` (exclusive
    unless ``inclusive``)."""

    records: ClassVar[list[dict]] = []
    fail_page: ClassVar[int | None] = None
    seen: ClassVar[list[dict]] = []
    inclusive: ClassVar[bool] = False

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        type(self).seen.append(query)
        since = query.get("since")
        data = [
            r
            for r in self.records
            if since is None or r["updated"] > since or (self.inclusive and r["updated"] == since)
        ]
        page = int(query.get("cursor", "0"))
        if self.fail_page is not None and page == self.fail_page:
            self.send_response(503)
            self.end_headers()
            return
        chunk = data[page * 2 : page * 2 + 2]
        body = {"data": chunk, "next": str(page + 1) if page * 2 + 2 < len(data) else None}
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass
