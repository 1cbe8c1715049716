"""When does a call end: every deadline of the library, and how the drivers enforce them.

- **A request** (one attempt at a kie.ai call) ends ``request_timeout`` seconds after it starts: connect,
  send and the whole reply together. httpx's own ``timeout`` bounds each read or write, not the request,
  so a host sending one byte every few seconds would otherwise hold a call for ever (issue 10). The default
  follows from ``timeout``: each phase's budget once (connect + write + read).
- **A wait** ends at its own deadline (``wait(timeout=...)``, else ``PollPolicy.timeout``): the polls in
  flight are bounded to the time left, so a wait ends within its deadline plus the scheduling slack.
- **A result download** ends ``download_timeout`` seconds after it starts; by default the budget is a
  request's plus the time the declared size (or the size cap) takes at ``DEFAULT_MIN_DOWNLOAD_RATE``, so a
  large result on a slow but honest link finishes while a stalled or trickling host fails.

The async driver enforces a deadline with an anyio cancel scope around the attempt. The sync driver
checks it between chunks and, on the sockets it owns, clamps every socket read and write to the time left
through ``_sockets.DeadlineTransport`` (an httpcore network backend, imported with the first client so
that importing the package does not import httpcore), so a trickling header or body cannot outlive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

__all__ = [
    "DEFAULT_MIN_DOWNLOAD_RATE",
    "AttemptDeadline",
    "DeadlineExceeded",
    "Deadlines",
    "active",
    "clamp_timeout",
    "clamp_to_deadline",
]

DEFAULT_MIN_DOWNLOAD_RATE = 100_000
"""Bytes per second a result host must sustain by default (about 0.8 Mbit/s): a 50 MB result gets
about 8.7 minutes on top of a request's budget."""


class DeadlineExceeded(TimeoutError):
    """Raised inside a driver when an attempt outlives its deadline (mapped to our errors by ``_attempt``)."""


@dataclass(slots=True)
class AttemptDeadline:
    """The instant (on ``clock``: the client's, ``time.monotonic`` by default) by which the running
    attempt must end; movable once the size of a download is known."""

    at: float
    clock: Callable[[], float] = time.monotonic

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - self.clock()

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` once the instant has passed."""
        if self.left() <= 0:
            raise DeadlineExceeded("the attempt's total deadline passed")


_ACTIVE: ContextVar[AttemptDeadline | None] = ContextVar("kie_gpt_image_deadline", default=None)


@contextmanager
def active(deadline: AttemptDeadline) -> Iterator[AttemptDeadline]:
    """Make ``deadline`` the one the sockets of this thread (or task) are clamped to."""
    token = _ACTIVE.set(deadline)
    try:
        yield deadline
    finally:
        _ACTIVE.reset(token)


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The configured deadlines of a client (seconds)."""

    request: float
    """Total deadline of one request attempt."""
    download: float | None
    """Total deadline of one download attempt; ``None``: derived from the size (see module docstring)."""
    min_download_rate: float = DEFAULT_MIN_DOWNLOAD_RATE
    """Bytes per second the derived download deadline allows for."""

    @staticmethod
    def request_default(timeout: httpx.Timeout) -> float:
        """Each phase's budget once: connect + write + read (a phase without a timeout counts 60 s)."""
        phases = (timeout.connect, timeout.write, timeout.read)
        return float(sum(60.0 if p is None else p for p in phases))

    def download_budget(self, size: int) -> float:
        """Seconds a download of ``size`` bytes may take in total."""
        if self.download is not None:
            return self.download
        return self.request + size / self.min_download_rate


def clamp_timeout(timeout: httpx.Timeout, seconds: float) -> dict[str, float]:
    """``timeout`` with no phase longer than ``seconds`` (at least a millisecond), as the request
    extension httpx builds from a ``Timeout`` (given as ``extensions={"timeout": ...}``, httpx builds no
    ``Timeout`` of its own: about 3 us a request, issue 14)."""
    cap = max(seconds, 0.001)

    def one(value: float | None) -> float:
        return cap if value is None else min(value, cap)

    return {
        "connect": one(timeout.connect),
        "read": one(timeout.read),
        "write": one(timeout.write),
        "pool": one(timeout.pool),
    }


def clamp_to_deadline(timeout: float | None, error: type[Exception]) -> float | None:
    """A socket operation's ``timeout`` cut to the active ``AttemptDeadline``'s time left; raise ``error``
    once it has passed (none active: ``timeout`` unchanged)."""
    deadline = _ACTIVE.get()
    if deadline is None:
        return timeout
    left = deadline.left()
    if left <= 0:
        raise error("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)
