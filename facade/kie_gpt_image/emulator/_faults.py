"""Fault injection: what goes wrong, on which endpoint, on which call.

A ``FaultPlan`` maps (endpoint, call number) to a ``Fault``. Call numbers count every request that
reached the endpoint, 1-based, including those that were themselves faulted, so "the 2nd recordInfo
call gets a 502 page" is ``FaultPlan().on("get-task-details", 2, Fault.http_error(502))``.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import httpx

__all__ = ["ENDPOINTS", "Fault", "FaultKind", "FaultPlan", "wire_body"]

ENDPOINTS: tuple[str, ...] = (
    "get-account-credits",
    "get-download-url",
    "get-task-details",
    "gpt-image-1-5-image-to-image",
    "upload-file-base64",
    "upload-file-stream",
    "upload-file-url",
    "files",
)
"""Endpoint names: the operationIds of the published spec, plus ``files`` for the emulator's file host."""

FaultKind = Literal[
    "drop_before",
    "drop_after",
    "delay",
    "http_error",
    "truncated_json",
    "non_json",
    "body_code",
    "unknown_state",
    "null_data",
    "http_status",
    "trickle",
    "oversized",
]

# Faults that stand in for something in front of the service (a gateway, a load balancer): the
# request never reaches the handler, so nothing is created, charged or counted as accepted.
_UNPROCESSED: frozenset[str] = frozenset({"drop_before", "http_error", "non_json", "body_code"})

_HTML_ERROR = (
    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Fault:
    """One injected failure. Build it with the class methods, e.g. ``Fault.body_code(429)``."""

    kind: FaultKind
    """What goes wrong."""
    status: int = 0
    """HTTP status (``http_error``, ``http_status``) or body code (``body_code``)."""
    seconds: float = 0.0
    """How long a ``delay`` holds the reply back."""
    retry_after: str | None = None
    """``Retry-After`` header value sent with ``body_code``."""
    state: str = "canceled"
    """The state ``unknown_state`` puts into a task record."""
    size: int = 0
    """Decoded size in bytes of an ``oversized`` reply."""

    @property
    def processes(self) -> bool:
        """Whether the emulator does the work (creates the task, stores the file) despite the fault."""
        return self.kind not in _UNPROCESSED

    @classmethod
    def drop_before(cls) -> Fault:
        """Close the connection before the request is processed (in-process: ``httpx.ConnectError``)."""
        return cls("drop_before")

    @classmethod
    def drop_after(cls) -> Fault:
        """Process the request, then close the connection without a reply (``httpx.RemoteProtocolError``)."""
        return cls("drop_after")

    @classmethod
    def delay(cls, seconds: float = 30.0) -> Fault:
        """Process the request, then hold the reply back ``seconds`` (in-process without a sleep:
        ``httpx.ReadTimeout``)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def http_error(cls, status: int = 502) -> Fault:
        """Answer with an HTML error page of HTTP ``status`` as a gateway would; nothing is processed."""
        return cls("http_error", status=status)

    @classmethod
    def truncated_json(cls) -> Fault:
        """Process the request, then cut its JSON reply in half."""
        return cls("truncated_json")

    @classmethod
    def non_json(cls) -> Fault:
        """Answer HTTP 200 with a plain-text body; nothing is processed."""
        return cls("non_json")

    @classmethod
    def body_code(cls, code: int, retry_after: str | None = None) -> Fault:
        """Answer with an error envelope of ``code`` (e.g. 429, 455, 500, 505); nothing is processed."""
        return cls("body_code", status=code, retry_after=retry_after)

    @classmethod
    def unknown_state(cls, state: str = "canceled") -> Fault:
        """Process the request, then put an undocumented task ``state`` into the reply's record."""
        return cls("unknown_state", state=state)

    @classmethod
    def null_data(cls) -> Fault:
        """Process the request, then replace the reply's ``data`` with ``null``."""
        return cls("null_data")

    @classmethod
    def http_status(cls, status: int = 520) -> Fault:
        """Process the request, then send its reply under a non-standard HTTP ``status``."""
        return cls("http_status", status=status)

    @classmethod
    def trickle(cls, interval: float = 0.05) -> Fault:
        """Process the request, then send its valid reply one byte every ``interval`` s (a slow or
        hostile host that keeps every read alive; over sockets and in-process alike)."""
        return cls("trickle", seconds=interval)

    @classmethod
    def oversized(cls, size: int = 64 * 1024 * 1024) -> Fault:
        """Process the request, then send its reply padded to ``size`` bytes and gzip-encoded: a few
        kB on the wire, ``size`` once decoded (JSON stays valid: trailing whitespace; an image keeps its
        signature: trailing bytes)."""
        return cls("oversized", size=size)

    def html_page(self) -> bytes:
        """The body of an ``http_error`` reply."""
        return _HTML_ERROR.format(status=self.status).encode()

    def reshape(self, body: bytes) -> bytes:
        """Apply a body-rewriting fault (``truncated_json``, ``unknown_state``, ``null_data``,
        ``oversized``) to ``body``."""
        if self.kind == "oversized":
            return _gzip_padded(body, self.size)
        if self.kind == "truncated_json":
            return body[: max(1, len(body) // 2)]
        if self.kind in ("unknown_state", "null_data"):
            try:
                envelope = json.loads(body)
            except ValueError:
                return body
            if not isinstance(envelope, dict):
                return body
            if self.kind == "null_data":
                envelope["data"] = None
            elif isinstance(envelope.get("data"), dict):
                envelope["data"]["state"] = self.state
            return json.dumps(envelope, separators=(",", ":")).encode()
        return body


def wire_body(response: httpx.Response) -> bytes:
    """The bytes a front end sends for ``response``: httpx keeps a reply's content decoded, so a reply
    labelled ``Content-Encoding: gzip`` (an ``oversized`` fault) is encoded again for the wire."""
    if response.headers.get("content-encoding", "").lower() == "gzip":
        return _gzip_padded(response.content, 0)
    return response.content


def _gzip_padded(body: bytes, size: int) -> bytes:
    encoder = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    parts = [encoder.compress(body)]
    pad = b" " * (1 << 20)
    left = max(size - len(body), 0)
    while left > 0:
        parts.append(encoder.compress(pad[:left]))
        left -= len(pad)
    parts.append(encoder.flush())
    return b"".join(parts)


class FaultPlan:
    """Which fault hits which call of which endpoint. Thread-safe; share one per emulator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_call: dict[tuple[str, int], Fault] = {}
        self._always: dict[str, Fault] = {}

    def on(self, endpoint: str, calls: int | Iterable[int] | None, fault: Fault) -> FaultPlan:
        """Inject ``fault`` into the given 1-based call number(s) of ``endpoint`` (``None``: every call).

        Returns the plan, so calls chain. Raises ``ValueError`` for an unknown endpoint name.
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {', '.join(ENDPOINTS)}")
        with self._lock:
            if calls is None:
                self._always[endpoint] = fault
            else:
                for call in [calls] if isinstance(calls, int) else calls:
                    self._by_call[(endpoint, call)] = fault
        return self

    def clear(self) -> None:
        """Remove every planned fault."""
        with self._lock:
            self._by_call.clear()
            self._always.clear()

    def lookup(self, endpoint: str, call: int) -> Fault | None:
        """The fault planned for call number ``call`` of ``endpoint``, if any."""
        with self._lock:
            return self._by_call.get((endpoint, call)) or self._always.get(endpoint)
