"""A REST API that holds its answer until the test opens the gate: a batch that is deterministically
busy inside one table's extract, for tests that act on a running batch (cancel)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Gate:
    url: str
    arrived: threading.Event = field(default_factory=threading.Event)  # a request is being held
    opened: threading.Event = field(default_factory=threading.Event)  # let it through


@contextmanager
def gated_api() -> Iterator[Gate]:
    """``with gated_api() as gate``: a GET to ``gate.url`` answers one page of two records once
    ``gate.opened`` is set; ``gate.arrived`` tells the test the extract is under way."""
    holder: list[Gate] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            gate = holder[0]
            gate.arrived.set()
            gate.opened.wait(120)  # a bound for a broken test, not a synchronisation
            payload = json.dumps({"data": [{"id": 1}, {"id": 2}], "next": None}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Gate(url=f"http://127.0.0.1:{server.server_address[1]}/feed"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        holder[0].opened.set()
        server.shutdown()
        server.server_close()
