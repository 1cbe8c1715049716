"""Reading a reply: its body gathered under the size cap and the attempt's deadline, and no cookies kept."""

from __future__ import annotations

import http.cookiejar
from typing import Any

import httpx

from ._deadline import AttemptDeadline
from ._decoding import BoundedDecoder
from ._errors import ReplyTooLargeError

__all__ = ["Collector", "NoCookies", "replayed"]


def replayed(response: httpx.Response, content: bytes) -> httpx.Response:
    """The reply with its body (read and decoded under the size cap and the deadline) in place, for the
    parsers and ``with_raw_response``.

    httpx's ``Response.read()`` stores the body in ``_content`` after iterating it; the body was iterated
    here instead (to count it against the cap as it arrives), so it is stored the same way. Building a
    second ``httpx.Response`` cost about a fifth of a status read (issue 14, scripts/bench_overhead.py).
    httpx is pinned below 0.29 (pyproject.toml).
    """
    response._content = content
    return response


class Collector:
    """Gathers a reply body from its raw bytes (``Response.iter_raw``), decoding its ``Content-Encoding``
    a piece at a time (``_decoding.BoundedDecoder``) and refusing it past the cap (counted after
    decoding, before more than a piece beyond it is ever inflated) or past its deadline.

    A reply without ``Content-Encoding`` (kie.ai's JSON, the common case) skips the decoder: its raw
    bytes are the body."""

    __slots__ = ("_cap", "_deadline", "_decoder", "_operation", "_parts", "_size", "_status_code")

    def __init__(
        self,
        cap: int,
        operation: str,
        deadline: AttemptDeadline,
        status_code: int,
        content_encoding: str | None = None,
    ) -> None:
        self._status_code = status_code
        self._cap = cap
        self._operation = operation
        self._deadline = deadline
        self._size = 0
        self._parts: list[bytes] = []
        self._decoder = BoundedDecoder(content_encoding, cap, self._too_large) if content_encoding else None

    def _too_large(self) -> ReplyTooLargeError:
        return ReplyTooLargeError(operation=self._operation, cap=self._cap, status_code=self._status_code)

    def add(self, chunk: bytes) -> None:
        """Take one raw chunk; raise ``ReplyTooLargeError`` past the cap, ``DeadlineExceeded`` past the
        deadline."""
        if self._decoder is None:
            self._size += len(chunk)
            if self._size > self._cap:
                raise self._too_large()
            self._parts.append(chunk)
        else:
            self._parts.extend(self._decoder.decode(chunk))
        self._deadline.check()

    def content(self) -> bytes:
        """The whole (decoded) body, once the raw body has ended."""
        if self._decoder is not None:
            self._parts.extend(self._decoder.flush())
        parts = self._parts
        return parts[0] if len(parts) == 1 else b"".join(parts)


class NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing. kie.ai authenticates by bearer token and sets no cookie we need;
    httpx runs every reply through the standard jar, which cost about 12 us of a status read (issue 14,
    measured on a MockTransport), and result hosts have no business planting cookies either."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        """Keep no cookie from a reply."""

    def add_cookie_header(self, request: Any) -> None:
        """Send no cookie."""
