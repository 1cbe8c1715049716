"""Upload progress: a counting wrapper around an input's stream, so a callback hears how many bytes
httpx has read from it while it sends the upload (the CLI's ``uploading person.png: 3.1/9.8 MB``)."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from ._inputs import ImageSource, LocalImage

__all__ = ["UploadProgress", "UploadProgressCallback", "watch"]


@dataclass(frozen=True, slots=True)
class UploadProgress:
    """How far the upload of one input has got."""

    file_name: str
    """The input's file name, as sent."""
    sent: int
    """Bytes read into the request so far (restarts from 0 when an upload attempt is retried)."""
    total: int
    """The input's size in bytes."""


UploadProgressCallback = Callable[[UploadProgress], object]
"""Called with an ``UploadProgress`` each time httpx reads a chunk of an input (about every 64 kB), from
the code sending the request: keep it quick, and plain (not ``async``) with ``AsyncClient`` too."""


class _Counting(io.RawIOBase):
    """Reads from ``inner`` and reports the position reached; seeking and length probes pass through,
    so httpx computes the same ``Content-Length`` as without the wrapper."""

    def __init__(self, inner: IO[bytes], name: str, total: int, callback: UploadProgressCallback) -> None:
        super().__init__()
        self._inner = inner
        self._name = name
        self._total = total
        self._callback = callback
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        if chunk:
            self._position += len(chunk)
            self._callback(UploadProgress(self._name, min(self._position, self._total), self._total))
        return len(chunk)

    def seekable(self) -> bool:
        return self._inner.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._position = self._inner.seek(offset, whence)
        return self._position

    def tell(self) -> int:
        return self._inner.tell()

    def fileno(self) -> int:
        return self._inner.fileno()

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


@dataclass(frozen=True, slots=True)
class _Watched(LocalImage):
    callback: UploadProgressCallback | None = None

    def open(self) -> IO[bytes]:
        stream = LocalImage.open(self)
        if self.callback is None:
            return stream
        return _Counting(stream, self.name, self.size, self.callback)  # type: ignore[return-value]


def watch(source: ImageSource, callback: UploadProgressCallback | None) -> ImageSource:
    """``source`` whose upload streams report to ``callback`` (URLs, and everything without a callback,
    pass through unchanged)."""
    if callback is None or isinstance(source, str):
        return source
    fields = {f.name: getattr(source, f.name) for f in dataclasses.fields(source)}
    return _Watched(**fields, callback=callback)
