"""A fault switch, so tests can see how clients behave when the workspace misbehaves.

Kinds of fault:

* ``throttle``: answer 429 ``REQUEST_LIMIT_EXCEEDED`` with ``Retry-After`` (nothing is done);
* ``unavailable``: answer 503 ``TEMPORARILY_UNAVAILABLE`` with ``Retry-After`` (nothing is done);
* ``lost_response``: carry the request out (a create creates), then answer 503 as if the reply had
  been lost on the way back: the SDK retries, so a POST can land twice;
* ``drop_connection``: carry the request out, then cut the connection mid-reply (the client sees
  a broken connection and does not know whether the request succeeded).

>>> workspace.faults.queue("lost_response", path="/api/2.2/jobs/create")     # next create only
>>> workspace.faults.set_random(0.2, kinds=("throttle", "lost_response"), seed=7)
>>> workspace.faults.clear()
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["throttle", "unavailable", "lost_response", "drop_connection"]
FAULT_KINDS: tuple[FaultKind, ...] = ("throttle", "unavailable", "lost_response", "drop_connection")


@dataclass
class Fault:
    kind: FaultKind
    retry_after: int


@dataclass
class _Rule:
    kind: FaultKind
    path: re.Pattern[str] | None
    method: str | None
    remaining: int
    retry_after: int

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or bool(self.path.search(path))


@dataclass
class FaultSwitch:
    """Upcoming faults (a queue of rules) plus an optional random fault rate; thread safe."""

    only_api: bool = True
    _rules: list[_Rule] = field(default_factory=list)
    _probability: float = 0.0
    _kinds: tuple[FaultKind, ...] = ("throttle", "unavailable")
    _path: re.Pattern[str] | None = None
    _method: str | None = None
    _retry_after: int = 0
    _random: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    injected: Counter[str] = field(default_factory=Counter)

    def queue(
        self,
        kind: FaultKind,
        *,
        count: int = 1,
        path: str | None = None,
        method: str | None = None,
        retry_after: int = 0,
    ) -> None:
        """Answer the next ``count`` matching requests with ``kind``; ``path`` is a regex (searched)."""
        _check_kind(kind)
        with self._lock:
            self._rules.append(
                _Rule(
                    kind,
                    re.compile(path) if path else None,
                    method.upper() if method else None,
                    count,
                    retry_after,
                )
            )

    def set_random(
        self,
        probability: float,
        *,
        kinds: tuple[FaultKind, ...] = ("throttle", "unavailable"),
        path: str | None = None,
        method: str | None = None,
        retry_after: int = 0,
        seed: int | None = None,
    ) -> None:
        """Fail each matching request with ``probability``, choosing a kind from ``kinds`` at random."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        for kind in kinds:
            _check_kind(kind)
        with self._lock:
            self._probability = probability
            self._kinds = kinds
            self._path = re.compile(path) if path else None
            self._method = method.upper() if method else None
            self._retry_after = retry_after
            if seed is not None:
                self._random.seed(seed)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._probability = 0.0

    def decide(self, method: str, path: str) -> Fault | None:
        """The fault to inject for this request, if any (consumes a queued rule)."""
        if self.only_api and not path.startswith("/api/"):
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                    self.injected[rule.kind] += 1
                    return Fault(rule.kind, rule.retry_after)
            if self._probability <= 0.0:
                return None
            if self._method is not None and self._method != method.upper():
                return None
            if self._path is not None and not self._path.search(path):
                return None
            if self._random.random() >= self._probability:
                return None
            kind = self._random.choice(self._kinds)
            self.injected[kind] += 1
            return Fault(kind, self._retry_after)


def _check_kind(kind: str) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
