"""Retry and polling decisions as pure functions of (attempt, outcome, elapsed). No I/O, no clock:
the drivers sleep, and tests assert the exact sleep sequence."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ._errors import (
    APIError,
    DownloadError,
    KieError,
    MaintenanceError,
    RateLimitError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)

__all__ = ["PollPolicy", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to retry a failed request, and after how long.

    Reads and uploads are retried on transport errors, timeouts, unreadable replies, 429 (honouring
    ``Retry-After``, capped), 455 and 5xx. createTask is paid work: it is retried only when the
    failure proves it was not accepted (connection never made; 429/455 answered).
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

    def delay(
        self,
        attempt: int,
        error: KieError,
        *,
        paid: bool,
        never_sent: bool,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None`` to give up.

        Args:
            attempt: 0 for the first attempt's failure.
            error: the mapped failure of that attempt.
            paid: the request creates paid work (createTask).
            never_sent: the failure proves the request never reached the server.
            rand: a ``[0, 1)`` source for jitter (injectable for tests).
        """
        if attempt >= self.max_retries or not self.retryable(error, paid=paid, never_sent=never_sent):
            return None
        if isinstance(error, (APIError, DownloadError)) and error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        return rand() * min(self.max_delay, self.base_delay * (1 << attempt))

    @staticmethod
    def retryable(error: KieError, *, paid: bool, never_sent: bool) -> bool:
        """Whether a failure may be retried at all (ignoring the attempt count)."""
        not_accepted = isinstance(error, (RateLimitError, MaintenanceError))
        if isinstance(error, DownloadError):
            return error.retryable
        if paid:
            return never_sent or not_accepted
        # Unknown 5xx codes are mapped to ServerError; 501 (generation failed) and 505 (feature
        # disabled) are definitive answers and have their own classes.
        return not_accepted or isinstance(error, (TransportError, UnexpectedResponseError, ServerError))


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often to poll recordInfo, and for how long (reference §2's documented schedule).

    Every ``early_interval`` s for the first 30 s, every ``middle_interval`` s until 2 minutes, every
    ``late_interval`` s after that; give up after ``timeout`` s (kie.ai advises 10-15 minutes).
    """

    early_interval: float = 2.0
    """Documented: every 2-3 s for the first 30 s."""
    middle_interval: float = 5.0
    """Documented: every 5-10 s after that."""
    late_interval: float = 15.0
    """Documented: every 15-30 s after 2 minutes."""
    timeout: float = 900.0
    """Documented: stop after 10-15 minutes and investigate."""

    def __post_init__(self) -> None:
        if min(self.early_interval, self.middle_interval, self.late_interval) < 0 or self.timeout < 0:
            raise ValueError("PollPolicy values must not be negative")

    def next_delay(self, elapsed: float) -> float | None:
        """Seconds to sleep before the next poll, given seconds since waiting began; ``None`` when the
        timeout is reached. The last sleep is shortened so the final poll lands at the timeout."""
        remaining = self.timeout - elapsed
        if remaining <= 0:
            return None
        if elapsed < 30:
            interval = self.early_interval
        elif elapsed < 120:
            interval = self.middle_interval
        else:
            interval = self.late_interval
        return min(interval, remaining)
