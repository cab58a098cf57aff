"""Acks first: lazy work waits while acks are in flight, but never longer than its bound."""

from __future__ import annotations

import threading
import time

from bot.acks import AckFirst


def test_slow_work_starts_when_the_last_ack_is_answered() -> None:
    gate = AckFirst(max_wait=5.0)
    started: list[float] = []
    with gate.acking():
        worker = threading.Thread(
            target=lambda: started.append(time.monotonic()) if gate.wait_for_acks() else None
        )
        worker.start()
        time.sleep(0.2)
        assert started == []  # still acking
        released = time.monotonic()
    worker.join(2)
    assert started and started[0] >= released


def test_a_stream_of_acks_delays_slow_work_only_up_to_the_bound() -> None:
    gate = AckFirst(max_wait=0.2)
    with gate.acking():
        began = time.monotonic()
        assert gate.wait_for_acks() is False
        assert 0.15 <= time.monotonic() - began < 2.0
    assert gate.wait_for_acks() is True  # nothing in flight: no wait
