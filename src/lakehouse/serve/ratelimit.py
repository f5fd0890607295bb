"""A per-key request rate limit: a token bucket of `per_minute` requests, refilled continuously."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """At most `per_minute` requests per key in any minute on average, with bursts up to `per_minute`
    (0 turns the limit off). In-process: each server process counts its own requests."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        if per_minute < 0:
            raise ValueError(f"rate limit {per_minute} must be 0 (off) or a positive number of requests per minute")
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, time)
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, float]:
        """Take one request from `key`'s bucket: (allowed, seconds until the next one would be)."""
        if self.per_minute == 0:
            return True, 0.0
        now = self._clock()
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, then = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - then) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return True, 0.0
            self._buckets[key] = (tokens, now)
            return False, (1.0 - tokens) / rate
