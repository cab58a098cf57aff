"""Acks first: slow work waits, a bounded time, while Slack requests are being acknowledged.

The acks and the lazy listeners share one process, so whatever the lazy listeners compute
while a burst of slash commands arrives is time the acks wait for the interpreter. Each lazy
listener therefore starts only once no ack is in flight, or after ``max_wait`` seconds at the
latest, so a steady stream of acks delays the slow work but never stops it.

>>> gate = AckFirst()
>>> with gate.acking():       # around answering one Slack request
...     ...
>>> gate.wait_for_acks()      # at the start of each lazy listener
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class AckFirst:
    def __init__(self, max_wait: float = 0.5) -> None:
        self.max_wait = max_wait
        self._in_flight = 0
        self._idle = threading.Condition()

    @contextmanager
    def acking(self) -> Iterator[None]:
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.notify_all()

    def wait_for_acks(self) -> bool:
        """Block until no ack is in flight (True) or ``max_wait`` has passed (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=self.max_wait)
