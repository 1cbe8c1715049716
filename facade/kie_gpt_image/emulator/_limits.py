"""kie.ai's three account limits, as the emulator enforces them, and the counters a benchmark reads.

Reference §6 (kie.ai's "Getting started" and Market pages): about 20 new tasks per 10 seconds, about 100
tasks running at once, and about 10 recordInfo polls per second; excess requests are answered 429 and not
queued. The emulator accepts one API key, so its limits are that key's limits. Windows slide over the
emulator's clock (injectable, so a scaled or fake clock moves them too); a refused request does not count
against a window, since kie.ai did not accept it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["LimitCounters", "LimitState"]


@dataclass(frozen=True)
class LimitCounters:
    """What the emulator's limits did so far: 429s per limit, peak concurrency, peak poll rate."""

    create_rate_429s: int
    """createTask calls answered 429 because the new-task window was full (about 20 per 10 s)."""
    running_429s: int
    """createTask calls answered 429 because too many tasks were running (about 100)."""
    poll_429s: int
    """recordInfo calls answered 429 because the poll window was full (about 10 per second)."""
    running: int
    """Tasks created and not yet final, now."""
    peak_running: int
    """The most tasks running at once at any accepted createTask."""
    max_polls_per_second: int
    """The most recordInfo requests (accepted or refused) in any one second of the clock (second buckets
    ``[n, n+1)``)."""

    @property
    def total_429s(self) -> int:
        """All 429s the limits answered."""
        return self.create_rate_429s + self.running_429s + self.poll_429s


def _per(window: float) -> str:
    return "per second" if window == 1 else f"per {window:g} seconds"


class _Window:
    """A sliding window of accepted request times."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def full(self, now: float, limit: int, window: float) -> bool:
        while self._times and self._times[0] <= now - window:
            self._times.popleft()
        return len(self._times) >= limit

    def add(self, now: float) -> None:
        self._times.append(now)


class LimitState:
    """The windows and counters behind the three limits. Not thread-safe: the core calls it under its lock."""

    def __init__(self) -> None:
        self._creates = _Window()
        self._polls = _Window()
        self._create_rate_429s = 0
        self._running_429s = 0
        self._poll_429s = 0
        self._peak_running = 0
        self._poll_bucket = -math.inf
        self._polls_in_bucket = 0
        self._max_polls_per_second = 0

    def refuse_create(
        self, now: float, running: int, *, rate_limit: int, rate_window: float, max_running: int
    ) -> str | None:
        """Why a createTask at ``now`` with ``running`` tasks running must be answered 429, else ``None``."""
        if self._creates.full(now, rate_limit, rate_window):
            self._create_rate_429s += 1
            return f"Rate limit exceeded: at most {rate_limit} new tasks {_per(rate_window)}"
        if running >= max_running:
            self._running_429s += 1
            return f"Rate limit exceeded: at most {max_running} tasks running at once"
        return None

    def created(self, now: float, running: int) -> None:
        """Book an accepted createTask; ``running`` counts the new task if it is not already final."""
        self._creates.add(now)
        self._peak_running = max(self._peak_running, running)

    def refuse_poll(self, now: float, *, poll_limit: int, poll_window: float) -> str | None:
        """Count a recordInfo at ``now``; why it must be answered 429, else ``None`` (and it is booked)."""
        bucket = math.floor(now)
        if bucket != self._poll_bucket:
            self._poll_bucket, self._polls_in_bucket = bucket, 0
        self._polls_in_bucket += 1
        self._max_polls_per_second = max(self._max_polls_per_second, self._polls_in_bucket)
        if self._polls.full(now, poll_limit, poll_window):
            self._poll_429s += 1
            return f"Rate limit exceeded: at most {poll_limit} recordInfo requests {_per(poll_window)}"
        self._polls.add(now)
        return None

    def counters(self, running: int) -> LimitCounters:
        """A snapshot of the counters, with ``running`` tasks running now."""
        return LimitCounters(
            create_rate_429s=self._create_rate_429s,
            running_429s=self._running_429s,
            poll_429s=self._poll_429s,
            running=running,
            peak_running=self._peak_running,
            max_polls_per_second=self._max_polls_per_second,
        )
