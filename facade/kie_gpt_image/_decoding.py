"""Bounded decoding of compressed bodies (API replies and result downloads).

httpx inflates each network chunk whole before its caller sees it (``Response.iter_bytes``), so a small
gzip body that inflates to hundreds of megabytes is in memory before any size cap can refuse it. Here the
raw bytes (``Response.iter_raw``) are inflated in pieces of at most ``PIECE`` bytes and never more than one
byte past the remaining cap (``zlib.decompressobj().decompress(data, max_length)`` keeps the rest of its
input in ``unconsumed_tail``, https://docs.python.org/3/library/zlib.html#zlib.Decompress.decompress), so
a bomb is refused having cost at most a piece beyond the cap.

The client offers only what it can bound: ``ACCEPT_ENCODING`` (gzip and deflate; httpx would offer br and
zstd too whenever brotli or zstandard happens to be installed). A body in an encoding it did not offer is
passed on as it came (httpx does the same without the decoder library), counted raw against the cap.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import httpx

__all__ = ["ACCEPT_ENCODING", "PIECE", "BoundedDecoder"]

ACCEPT_ENCODING = "gzip, deflate"
"""The ``Accept-Encoding`` the client sends: the encodings ``BoundedDecoder`` inflates within a cap."""

PIECE = 64 * 1024
"""The most bytes one decoding step produces (and so the most held beyond the cap)."""


class _Inflate:
    """One zlib stream (gzip, or deflate with or without its zlib header), inflated a piece at a time."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding == "gzip"
        self._raw_fallback = not self._gzip  # deflate: zlib-wrapped, or raw as some servers send it
        self._started = False
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: Callable[[], int]) -> Iterator[bytes]:
        """Inflate ``data``; each piece at most ``room()`` bytes (asked before each step)."""
        while data:
            try:
                piece = self._inflater.decompress(data, max(1, room()))
            except zlib.error as exc:
                if self._raw_fallback and not self._started:
                    # As httpx's DeflateDecoder: a "deflate" body without the zlib header is raw deflate.
                    self._raw_fallback = False
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise httpx.DecodingError(str(exc)) from exc
            self._started = True
            data = self._inflater.unconsumed_tail
            if piece:
                yield piece
            elif data and self._inflater.eof:
                break  # bytes after the end of the stream: ignored, as httpx does

    def flush(self) -> bytes:
        """What remains once the input has ended (all input was already inflated in ``feed``)."""
        try:
            return self._inflater.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc


class BoundedDecoder:
    """Decodes a body by its ``Content-Encoding`` as its raw bytes arrive, refusing it past ``cap`` decoded
    bytes with ``too_large()`` before more than ``PIECE`` bytes beyond the cap were ever produced.

    Use::

        decoder = BoundedDecoder(response.headers.get("content-encoding"), cap, too_large)
        for raw in response.iter_raw():
            for piece in decoder.decode(raw):
                keep(piece)
        for piece in decoder.flush():
            keep(piece)
    """

    def __init__(self, content_encoding: str | None, cap: int, too_large: Callable[[], Exception]) -> None:
        """Args:
        content_encoding: the reply's ``Content-Encoding`` (``None``: not encoded). Several are decoded
            last-applied first; ``identity`` and encodings the client never offered pass as they are.
        cap: the most decoded bytes accepted.
        too_large: the error raised once the body exceeds ``cap``.
        """
        self.cap = cap
        self.size = 0
        """Decoded bytes produced so far."""
        self._too_large = too_large
        names = [n.strip().lower() for n in (content_encoding or "").split(",")]
        self._stages = [_Inflate(n) for n in reversed(names) if n in ("gzip", "deflate")]

    def _room(self) -> int:
        # One byte past the cap is enough to know the body is over it.
        return min(PIECE, self.cap - self.size + 1)

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.cap:
            raise self._too_large()
        return piece

    def decode(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next raw chunk (each at most ``PIECE`` bytes)."""
        if not self._stages:
            yield self._count(raw)
            return
        yield from self._through(raw, 0)

    def _through(self, data: bytes, stage: int) -> Iterator[bytes]:
        last = stage == len(self._stages) - 1
        # Only the final stage counts against the cap; an inner one is bounded per piece.
        room = self._room if last else lambda: PIECE
        for piece in self._stages[stage].feed(data, room):
            if last:
                yield self._count(piece)
            else:
                yield from self._through(piece, stage + 1)

    def flush(self) -> Iterator[bytes]:
        """The last decoded pieces once the raw body has ended."""
        for index in range(len(self._stages)):
            rest = self._stages[index].flush()
            if not rest:
                continue
            if index == len(self._stages) - 1:
                yield self._count(rest)
            else:
                yield from self._through(rest, index + 1)
