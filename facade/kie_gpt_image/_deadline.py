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
through ``DeadlineTransport`` (an httpcore network backend), so a trickling header or body cannot outlive it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

__all__ = [
    "DEFAULT_MIN_DOWNLOAD_RATE",
    "Budget",
    "DeadlineExceeded",
    "DeadlineTransport",
    "Deadlines",
    "active",
    "clamp_timeout",
]

DEFAULT_MIN_DOWNLOAD_RATE = 100_000
"""Bytes per second a result host must sustain by default (about 0.8 Mbit/s): a 50 MB result gets
about 8.7 minutes on top of a request's budget."""


class DeadlineExceeded(TimeoutError):
    """Raised inside a driver when an attempt outlives its deadline (mapped to our errors by ``_attempt``)."""


@dataclass(slots=True)
class Budget:
    """The instant (``time.monotonic``) by which the running attempt must end; movable once the
    size of a download is known."""

    at: float

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` once the instant has passed."""
        if self.left() <= 0:
            raise DeadlineExceeded("the attempt's total deadline passed")


_ACTIVE: ContextVar[Budget | None] = ContextVar("kie_gpt_image_deadline", default=None)


@contextmanager
def active(budget: Budget) -> Iterator[Budget]:
    """Make ``budget`` the one the sockets of this thread (or task) are clamped to."""
    token = _ACTIVE.set(budget)
    try:
        yield budget
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


def clamp_timeout(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    """``timeout`` with no phase longer than ``seconds`` (at least a millisecond)."""
    cap = max(seconds, 0.001)

    def one(value: float | None) -> float:
        return cap if value is None else min(value, cap)

    return httpx.Timeout(
        connect=one(timeout.connect), read=one(timeout.read), write=one(timeout.write), pool=one(timeout.pool)
    )


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    budget = _ACTIVE.get()
    if budget is None:
        return timeout
    left = budget.left()
    if left <= 0:
        raise error("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(
            self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport, with every socket read and write clamped to the active ``Budget``.

    httpx does not take a network backend, so the pool it builds (httpx/_transports/default.py,
    ``HTTPTransport.__init__``) is rebuilt with the same settings and ours; httpcore's
    ``ConnectionPool(network_backend=...)`` is public API.
    """

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_Backend(),
        )
