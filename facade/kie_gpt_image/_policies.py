"""Retry and polling timing as pure functions. No I/O, no clock: the drivers sleep, and tests assert the
exact sleep sequence. *Whether* to retry is decided in ``_attempt``; these only say *when*."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PollPolicy", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times, and after how long, a failed request is retried.

    Which failures are retried at all (never a createTask that may have been processed) is the table in
    ``kie_gpt_image._attempt``; this policy holds only the timing.
    """

    max_retries: int = 2
    """Retries after the first attempt."""
    base_delay: float = 0.5
    """Backoff base in seconds: attempt n waits up to ``base_delay * 2**n`` (full jitter)."""
    max_delay: float = 8.0
    """Cap of one backoff sleep, in seconds."""
    max_retry_after: float = 60.0
    """Cap of a server-given ``Retry-After``, in seconds."""

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy values must not be negative")

    def backoff(
        self, attempt: int, retry_after: float | None = None, rand: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait before retry number ``attempt + 1``.

        Args:
            attempt: 0 for the first attempt's failure.
            retry_after: the server's ``Retry-After`` in seconds, honoured up to ``max_retry_after``.
            rand: a ``[0, 1)`` source for jitter (injectable for tests).
        """
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return rand() * min(self.max_delay, self.base_delay * (1 << min(attempt, 62)))


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often to poll recordInfo, and for how long by default (reference §2's documented schedule).

    Every ``early_interval`` s for the first 30 s, every ``middle_interval`` s until 2 minutes, every
    ``late_interval`` s after that. A wait ends after ``timeout`` s unless ``wait(timeout=...)`` says
    otherwise (kie.ai advises 10-15 minutes).
    """

    early_interval: float = 2.0
    """Documented: every 2-3 s for the first 30 s."""
    middle_interval: float = 5.0
    """Documented: every 5-10 s after that."""
    late_interval: float = 15.0
    """Documented: every 15-30 s after 2 minutes."""
    timeout: float = 900.0
    """The default wait deadline. Documented: stop after 10-15 minutes and investigate."""

    def __post_init__(self) -> None:
        if min(self.early_interval, self.middle_interval, self.late_interval) < 0 or self.timeout < 0:
            raise ValueError("PollPolicy values must not be negative")

    def interval(self, elapsed: float) -> float:
        """Seconds to sleep before the next poll, given seconds since waiting began."""
        if elapsed < 30:
            return self.early_interval
        if elapsed < 120:
            return self.middle_interval
        return self.late_interval
