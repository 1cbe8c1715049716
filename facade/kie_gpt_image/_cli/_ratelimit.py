"""Client-side rate limiting of task creation: a pure sliding-window decision object and a thin async gate.

kie.ai accepts 20 new generation requests per 10 seconds (reference §6) and answers the excess with 429
without queuing it. A batch that sends faster than that only buys a storm of 429s and backoffs, so the
batch runner asks this limiter before every createTask.

The window is counted the way the server counts it: at most ``limit`` creations whose *arrival* lies in
any window of ``window`` seconds. The client cannot see arrival times, but it knows bounds: a request
arrives after it was sent and before its reply came back. So a slot is held from the moment it is taken
(in flight: it counts, with no expiry) and, once the reply is in, it is stamped with the reply time, an
upper bound of the arrival. The next request that reuses the slot is sent ``window`` seconds after that
bound, so the server sees at least ``window`` seconds between the two, whatever the network did.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["RateGate", "SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """At most ``limit`` events per ``window`` seconds; no I/O, no clock of its own.

    Usage: ``delay(now)`` says how long to wait (``0.0``: go now; ``None``: every slot is in flight, wait
    for a ``release``); ``take(now)`` holds a slot; ``release(token, now)`` stamps it when the reply
    arrives.
    """

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.limit = limit
        """Events allowed per window."""
        self.window = window
        """The window, in seconds."""
        self._stamped: deque[float] = deque()  # reply times, oldest first
        self._in_flight: set[int] = set()
        self._next_token = 0

    def _expire(self, now: float) -> None:
        # The server forgets an event once ``now - window >= t``; so do we.
        while self._stamped and self._stamped[0] + self.window <= now:
            self._stamped.popleft()

    def occupied(self, now: float) -> int:
        """Slots counting against the limit at ``now`` (in flight plus stamped within the window)."""
        self._expire(now)
        return len(self._stamped) + len(self._in_flight)

    def delay(self, now: float) -> float | None:
        """Seconds until an event may be sent (``0.0`` now), or ``None`` if only a release can free a slot."""
        if self.occupied(now) < self.limit:
            return 0.0
        if not self._stamped:
            return None
        return max(self._stamped[0] + self.window - now, 0.0)

    def take(self, now: float) -> int:
        """Hold a slot (call only when ``delay(now) == 0``); returns the token for ``release``."""
        if self.occupied(now) >= self.limit:
            raise RuntimeError("no free slot: ask delay() first")
        token = self._next_token
        self._next_token += 1
        self._in_flight.add(token)
        return token

    def release(self, token: int, now: float) -> None:
        """The request of ``token`` is over (replied, failed or abandoned) at ``now``: stamp its slot."""
        if token in self._in_flight:
            self._in_flight.discard(token)
            # Reply times arrive almost in order; keep the deque sorted so expiry stays a popleft.
            if not self._stamped or self._stamped[-1] <= now:
                self._stamped.append(now)
            else:
                ordered = sorted([*self._stamped, now])
                self._stamped = deque(ordered)


class RateGate:
    """Drives a ``SlidingWindowLimiter`` with an async sleep and a clock (both injectable for tests).

    Usage::

        token = await gate.acquire()
        try:
            ...send...
        finally:
            gate.release(token)
    """

    def __init__(
        self,
        limiter: SlidingWindowLimiter,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.limiter = limiter
        self._clock = clock
        self._sleep = sleep
        self._released = asyncio.Event()

    async def acquire(self) -> int:
        """Wait until a slot is free, then hold it."""
        while True:
            now = self._clock()
            wait = self.limiter.delay(now)
            if wait == 0.0:
                return self.limiter.take(now)
            if wait is None:
                self._released.clear()
                await self._released.wait()
            else:
                await self._sleep(wait)

    def release(self, token: int) -> None:
        """Stamp the slot with the current time and wake anyone waiting for a release."""
        self.limiter.release(token, self._clock())
        self._released.set()
