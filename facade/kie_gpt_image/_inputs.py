"""Input validation: every bad argument becomes an ``InvalidInputError`` before anything is sent.

Allowed values and limits come from the generated code (``kie_api`` enums, attrs defaults and
``kie_api.spec_constants``) through ``_api``, so a regenerated spec flows through with no edit here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Union
from urllib.parse import urlsplit

from . import _api
from ._errors import InvalidInputError

__all__ = ["ImageInput", "ImageSource", "LocalImage", "check_callback_url", "check_images", "check_prompt"]

ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]
"""What ``images=`` accepts: a path, raw bytes, a binary file object, or an http(s) URL string."""

# Magic bytes (not file names) decide the type; a WebP file is RIFF....WEBP.
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", ".png"),
    (b"WEBP", 8, "image/webp", ".webp"),
)


def sniff_image_type(head: bytes) -> tuple[str, str] | None:
    """Return ``(mime type, extension)`` for a JPEG/PNG/WebP header, else ``None``."""
    for magic, offset, mime, ext in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic and (mime != "image/webp" or head[:4] == b"RIFF"):
            return mime, ext
    return None


@dataclass(frozen=True, slots=True)
class LocalImage:
    """A validated local image: where its bytes come from, its type and size."""

    field: str
    name: str
    mime_type: str
    size: int
    path: Path | None = None
    data: bytes | None = None
    stream: IO[bytes] | None = None
    stream_start: int = 0

    def open(self) -> IO[bytes]:
        """A fresh binary stream positioned at the start (called once per upload attempt)."""
        if self.path is not None:
            return self.path.open("rb")
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.stream is None:
            raise InvalidInputError(self.field, "image has no content")
        self.stream.seek(self.stream_start)
        return io.BufferedReader(_NoClose(self.stream))


class _NoClose(io.RawIOBase):
    """Wraps the caller's file object so that finishing an upload does not close it."""

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)


ImageSource = str | LocalImage
"""One validated entry of ``images``: a URL passed through, or a local image to upload."""


def check_url(field: str, value: str) -> str:
    """Return ``value`` if it is an absolute http(s) URL with a host, else raise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise InvalidInputError(field, f"not an http(s) URL: {value[:100]!r}")
    return value


def _is_url_like(value: str) -> bool:
    return "://" in value[:16]


def check_image(field: str, value: object) -> ImageSource:
    """Validate one ``images`` entry (type by magic bytes, size within the spec's limit)."""
    limit = _api.MAX_INPUT_IMAGE_BYTES
    if isinstance(value, str) and _is_url_like(value):
        return check_url(field, value)
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise InvalidInputError(field, f"not a regular file: {str(path)!r}")
            with path.open("rb") as handle:
                head = handle.read(16)
        except OSError as exc:
            raise InvalidInputError(field, f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
        mime = _check_content(field, head, size, limit)
        return LocalImage(field, path.name, mime, size, path=path)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        mime = _check_content(field, data[:16], len(data), limit)
        return LocalImage(field, f"image{_ext(mime)}", mime, len(data), data=data)
    if hasattr(value, "read"):
        return _check_stream(field, value, limit)  # type: ignore[arg-type]
    raise InvalidInputError(
        field, f"unsupported type {type(value).__name__}: give a path, bytes, a binary file or an http(s) URL"
    )


def _check_stream(field: str, stream: IO[bytes], limit: int) -> ImageSource:
    name = Path(str(getattr(stream, "name", "") or "image")).name or "image"
    seekable = False
    try:
        seekable = stream.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    try:
        if seekable:
            start = stream.tell()
            head = stream.read(16)
            end = stream.seek(0, io.SEEK_END)
            stream.seek(start)
            if not isinstance(head, bytes):
                raise InvalidInputError(field, "file object must be opened in binary mode ('rb')")
            mime = _check_content(field, head, end - start, limit)
            return LocalImage(field, name, mime, end - start, stream=stream, stream_start=start)
        # Not seekable: read it (up to one byte past the limit) so retries can resend it.
        data = stream.read(limit + 1)
    except OSError as exc:
        raise InvalidInputError(field, f"cannot read file object: {exc}") from None
    if not isinstance(data, bytes):
        raise InvalidInputError(field, "file object must be opened in binary mode ('rb')")
    mime = _check_content(field, data[:16], len(data), limit)
    return LocalImage(field, name, mime, len(data), data=data)


def _ext(mime: str) -> str:
    return next(ext for _, _, m, ext in _SIGNATURES if m == mime)


def _check_content(field: str, head: bytes, size: int, limit: int) -> str:
    if size == 0:
        raise InvalidInputError(field, "empty file")
    if size > limit:
        raise InvalidInputError(field, f"{size} bytes is over kie.ai's limit of {limit} bytes per image")
    sniffed = sniff_image_type(head)
    allowed = _api.INPUT_IMAGE_MIME_TYPES
    if sniffed is None or sniffed[0] not in allowed:
        raise InvalidInputError(
            field, f"not a supported image (accepted: {', '.join(allowed)}), by its content"
        )
    return sniffed[0]


def check_images(images: object) -> list[ImageSource]:
    """Validate ``images``: one entry or a sequence of 1 to the spec's maximum entries."""
    if isinstance(images, (str, bytes, bytearray, memoryview, os.PathLike)) or hasattr(images, "read"):
        entries: Sequence[object] = [images]
    elif isinstance(images, Sequence):
        entries = images
    else:
        try:
            entries = list(images)  # type: ignore[call-overload]
        except TypeError:
            raise InvalidInputError("images", "give a list of paths, bytes, binary files or URLs") from None
    maximum = _api.MAX_INPUT_IMAGES
    if not 1 <= len(entries) <= maximum:
        raise InvalidInputError("images", f"{len(entries)} given; kie.ai accepts 1 to {maximum} images")
    return [check_image(f"images[{i}]", entry) for i, entry in enumerate(entries)]


def check_prompt(prompt: object) -> str:
    """A non-empty string (kie.ai states no length limit)."""
    if not isinstance(prompt, str):
        raise InvalidInputError("prompt", f"must be a string, not {type(prompt).__name__}")
    if not prompt.strip():
        raise InvalidInputError("prompt", "must not be empty")
    return prompt


def check_choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    """``value`` (a string or str enum) if it is one of ``allowed``."""
    text = str(value.value) if hasattr(value, "value") else value
    if not isinstance(text, str) or text not in allowed:
        raise InvalidInputError(field, f"{value!r} is not one of {', '.join(allowed)}")
    return text


def check_aspect_ratio(value: object) -> str:
    """The spec's default when ``None``, else one of the spec's aspect ratios."""
    return check_choice(
        "aspect_ratio", _api.DEFAULT_ASPECT_RATIO if value is None else value, _api.ASPECT_RATIOS
    )


def check_quality(value: object) -> str:
    """The spec's default when ``None``, else one of the spec's qualities."""
    return check_choice("quality", _api.DEFAULT_QUALITY if value is None else value, _api.QUALITIES)


def check_callback_url(value: object, *, allow_http: bool) -> str:
    """An https URL (plain http only when ``allow_http`` is set, e.g. for loopback tests)."""
    if not isinstance(value, str):
        raise InvalidInputError("callback_url", f"must be a string, not {type(value).__name__}")
    url = check_url("callback_url", value)
    if url.startswith("http://") and not allow_http:
        raise InvalidInputError(
            "callback_url",
            "must be https (kie.ai posts task results to it); pass allow_http_callback=True to allow http",
        )
    return url
