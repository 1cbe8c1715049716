"""Local files as inputs: a path (``~`` expanded), raw bytes, a binary file object, a ``(file_name,
bytes | binary file)`` tuple (as httpx's and openai-python's ``files=`` take), a PIL image, an object with
an async ``read`` and a sync ``.file`` (Starlette/FastAPI ``UploadFile``), or an http(s) URL. A local file
is checked by content (type and completeness, see ``_images``/``_media``) and size here, so a truncated or
mistyped file is refused before any upload or paid createTask. The checks of a task's fields and options
are in ``_inputs``.
"""

from __future__ import annotations

import inspect
import io
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, Union
from urllib.parse import urlsplit

from . import _api
from ._errors import InvalidInputError
from ._images import incomplete_reason
from ._media import DEFAULT_TYPES, HEAD_BYTES, accepts, sniff_media_type, suffix_for
from ._urls import is_loopback_host as is_loopback_host  # the one rule (``_urls``), for _cli

if TYPE_CHECKING:  # Pillow is optional: named for type checkers only, never imported at run time
    import PIL.Image


__all__ = [
    "DEFAULT_IMAGE_LIMITS",
    "AsyncUpload",
    "ImageInput",
    "ImageLimits",
    "ImageSource",
    "LocalImage",
    "check_image",
    "check_images",
    "check_text",
    "check_url",
    "is_named_pair",
    "is_pil_image",
    "is_url_like",
    "safe_file_name",
]


class AsyncUpload(Protocol):
    """What Starlette's and FastAPI's ``UploadFile`` offer: a sync binary ``file`` behind an async
    ``read`` (only ``file`` and ``filename`` are used)."""

    filename: str | None
    file: IO[bytes]

    async def read(self, size: int = -1) -> bytes:
        """Unused: the sync ``file`` is read instead, so both clients can read it."""
        ...


ImageInput = Union[
    str,
    "os.PathLike[str]",
    bytes,
    bytearray,
    memoryview,
    IO[bytes],
    tuple[str, bytes | bytearray | memoryview | IO[bytes]],
    AsyncUpload,
    "PIL.Image.Image",
]
"""What ``images=`` accepts: a path, raw bytes, a binary file object, a ``(file_name, bytes | file)``
tuple, a PIL image, a Starlette/FastAPI ``UploadFile``, or an http(s) URL string."""


@dataclass(frozen=True, slots=True)
class LocalImage:
    """A validated local image: where its bytes come from, its type and size."""

    field: str
    """The argument it came from, e.g. ``images[1]``."""
    name: str
    """A file name safe to send (valid UTF-8, no control characters), e.g. for the multipart upload."""
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
        return io.BufferedReader(_NoClose(self.stream, self.stream_start))


class _NoClose(io.RawIOBase):
    """Wraps the caller's file object so that finishing an upload does not close it, and leaves it where
    it was given (so the same object, e.g. an ``UploadFile``, can be given again)."""

    def __init__(self, inner: IO[bytes], start: int) -> None:
        super().__init__()
        self._inner = inner
        self._start = start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def close(self) -> None:
        if not self.closed and not getattr(self._inner, "closed", False):
            self._inner.seek(self._start)
        super().close()


ImageSource = str | LocalImage
"""One validated entry of ``images``: a URL passed through, or a local image to upload."""


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """What a model's media field accepts: how many files, and of which size and types (an image field
    unless ``kind`` says ``video`` or ``audio``)."""

    max_items: int
    max_bytes: int | None
    """Bytes per file at most (None: the document states no limit, and kie.ai's upload decides)."""
    mime_types: tuple[str, ...]
    kind: str = "image"

    @classmethod
    def of(cls, spec: _api.ModelSpec) -> ImageLimits:
        """The limits ``spec``'s document states; the seed's file size and types where it states none
        (gpt-image-2's documents state neither: ``_api.image_limits``)."""
        return cls(*_api.image_limits(spec))

    @classmethod
    def of_field(cls, field: _api.FieldSpec) -> ImageLimits:
        """The limits of one media field: its document's file size and types; for an image field
        stating none, the seed's (as ``of``); for video and audio, the usual containers and no size."""
        kind = _api.field_media(field) or "image"
        if kind == "image":
            size: int | None = field.max_file_bytes or _api.MAX_INPUT_IMAGE_BYTES
            types = field.mime_types or _api.INPUT_IMAGE_MIME_TYPES
        else:
            size, types = field.max_file_bytes, field.mime_types or DEFAULT_TYPES[kind]
        maximum = field.max_items if field.max_items is not None else _api.MAX_INPUT_IMAGES
        return cls(maximum, size, types, kind)


DEFAULT_IMAGE_LIMITS = ImageLimits(
    _api.MAX_INPUT_IMAGES, _api.MAX_INPUT_IMAGE_BYTES, _api.INPUT_IMAGE_MIME_TYPES
)
"""The default model's limits (gpt-image/1.5-image-to-image), also used by ``upload``."""


def check_text(field: str, value: str) -> str:
    """``value`` if it can be sent as UTF-8 (no lone surrogate, e.g. from a badly decoded file or a
    command-line argument that was not UTF-8), else raise ``InvalidInputError`` naming ``field``."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        # A surrogate from U+DC80 to U+DCFF is how Python's surrogateescape carries one undecodable byte.
        byte = f" (the byte 0x{ord(bad) - 0xDC00:02x})" if 0xDC80 <= ord(bad) <= 0xDCFF else ""
        raise InvalidInputError(
            field,
            f"is not valid text: an unpaired surrogate {bad!r}{byte} at position {exc.start}; "
            "was it read or decoded with the wrong encoding? kie.ai takes UTF-8",
        ) from None
    return value


def check_url(field: str, value: str) -> str:
    """Return ``value`` if it is an absolute http(s) URL with a host, else raise."""
    check_text(field, value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise InvalidInputError(field, f"not an http(s) URL: {value[:100]!r}")
    return value


def is_url_like(value: str) -> bool:
    """Whether ``value`` names a URL (a scheme before ``://``) rather than a local path."""
    return "://" in value[:16]


# "example.com/cat.png", "www.x.org/a.jpg": a host name (dotted, ending in a letters-only top-level
# domain) then a path, or anything starting with "www.".
_HOST_LIKE = re.compile(r"^(www\.[^/\s]+|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(:\d+)?/)")


def safe_file_name(name: str, fallback: str = "image") -> str:
    """``name`` without what a multipart header or kie.ai cannot take: a surrogate (the undecodable bytes
    of a file name that is not UTF-8, e.g. ``b"caf\\xe9.png"`` on disk) or a control character becomes
    ``_``; an empty name becomes ``fallback``."""
    cleaned = "".join("_" if 0xD800 <= ord(c) <= 0xDFFF or ord(c) < 32 or ord(c) == 127 else c for c in name)
    return cleaned.strip() or fallback


def check_image(field: str, value: object, limits: ImageLimits | None = None) -> ImageSource:
    """Validate one ``images`` entry (see the module docstring for what it may be).

    Raises:
        InvalidInputError: naming ``field``, for anything that cannot be sent as a JPEG/PNG/WebP image
            within kie.ai's size limit (``limits``: a model's, default the seed's).
    """
    limits = limits or DEFAULT_IMAGE_LIMITS
    if isinstance(value, str) and is_url_like(value):
        return check_url(field, value)
    if isinstance(value, (str, os.PathLike)):
        return _check_path(field, value, limits)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _check_data(field, bytes(value), None, limits)
    if isinstance(value, tuple):
        return _check_named(field, value, limits)
    if is_pil_image(value):
        return _check_pil(field, value, limits)
    read = getattr(value, "read", None)
    if callable(read):
        if inspect.iscoroutinefunction(read):
            return _check_async_upload(field, value, limits)
        return _check_stream(field, value, None, limits)  # type: ignore[arg-type]
    raise InvalidInputError(
        field,
        f"unsupported type {type(value).__name__}: give a path, bytes, a binary file, a (file_name, bytes) "
        "tuple, a PIL image or an http(s) URL",
    )


def _check_path(field: str, value: str | os.PathLike[str], limits: ImageLimits) -> LocalImage:
    raw = os.fspath(value)
    text = os.fsdecode(raw)
    if "\0" in text:
        raise InvalidInputError(field, f"the path {text[:100]!r} contains a NUL byte")
    path = Path(text)
    if text.startswith("~"):
        try:
            path = path.expanduser()
        except RuntimeError:  # no home directory to expand to
            raise InvalidInputError(field, f"cannot expand '~' in {text!r}: no home directory") from None
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InvalidInputError(field, f"not a regular file: {str(path)!r}")
        with path.open("rb") as handle:
            mime = _inspect(field, handle, 0, size, limits)
    except OSError as exc:
        hint = ""
        if isinstance(exc, FileNotFoundError) and _HOST_LIKE.match(text):
            hint = f"; if it is a web address, write it with its scheme: 'https://{text}'"
        raise InvalidInputError(field, f"cannot read {str(path)!r}: {exc.strerror or exc}{hint}") from None
    return LocalImage(field, safe_file_name(path.name), mime, size, path=path)


def _check_data(field: str, data: bytes, name: str | None, limits: ImageLimits) -> LocalImage:
    mime = _inspect(field, io.BytesIO(data), 0, len(data), limits)
    return LocalImage(field, name or f"{limits.kind}{_ext(mime)}", mime, len(data), data=data)


def _is_binary_content(value: object) -> bool:
    return isinstance(value, (bytes, bytearray, memoryview)) or callable(getattr(value, "read", None))


def is_named_pair(value: object) -> bool:
    """A ``(file_name, content)`` tuple meant as one image, not a tuple of two images: the name is not a
    URL or an existing file (a tuple ``(path, bytes)`` of two images keeps its meaning)."""
    if not (isinstance(value, tuple) and len(value) in (2, 3) and isinstance(value[0], str)):
        return False
    name, content = value[0], value[1]
    if not _is_binary_content(content) or is_url_like(name):
        return False
    try:
        return "\0" in name or not Path(name).expanduser().exists()
    except (OSError, RuntimeError):
        return True


def _check_named(field: str, value: tuple[object, ...], limits: ImageLimits) -> LocalImage:
    if not (len(value) in (2, 3) and isinstance(value[0], str) and _is_binary_content(value[1])):
        raise InvalidInputError(
            field, "a tuple must be (file_name, bytes or binary file), optionally with a content type"
        )
    given, content = value[0], value[1]
    name = safe_file_name(Path(given.replace("\\", "/")).name, "")
    if not name:
        raise InvalidInputError(field, "the file name in the (file_name, content) tuple is empty")
    try:
        if isinstance(content, (bytes, bytearray, memoryview)):
            image = _check_data(field, bytes(content), name, limits)
        else:
            image = _check_stream(field, content, name, limits)  # type: ignore[arg-type]
    except InvalidInputError as exc:
        raise InvalidInputError(field, f"{name!r}: {exc.problem}") from None
    if len(value) == 3 and value[2] is not None and value[2] != image.mime_type:
        raise InvalidInputError(
            field, f"{name!r}: the content type given is {value[2]!r}, but its content is {image.mime_type}"
        )
    return image


def _check_stream(field: str, stream: IO[bytes], name: str | None, limits: ImageLimits) -> LocalImage:
    if name is None:
        name = safe_file_name(Path(os.fsdecode(getattr(stream, "name", "") or "image")).name)
    if getattr(stream, "closed", False) is True:
        raise InvalidInputError(field, "the file object is closed; give it while it is open")
    if isinstance(stream, io.TextIOBase):  # type: ignore[unreachable]  # IO[bytes] is what it should be
        raise InvalidInputError(field, "file object must be opened in binary mode ('rb'), not text mode")
    limit = limits.max_bytes
    try:
        try:
            seekable = bool(stream.seekable())
        except (AttributeError, OSError):
            seekable = False
        if seekable:
            start = stream.tell()
            end = stream.seek(0, io.SEEK_END)
            stream.seek(start)
            if end <= start and start > 0:
                raise InvalidInputError(
                    field,
                    f"the file object is at its end (position {start} of {end}): it was probably read "
                    "already; call seek(0) on it first",
                )
            mime = _inspect(field, stream, start, end - start, limits)
            stream.seek(start)
            return LocalImage(field, name, mime, end - start, stream=stream, stream_start=start)
        # Not seekable: read it (up to one byte past the limit) so retries can resend it.
        data = stream.read(-1 if limit is None else limit + 1)
    except (OSError, ValueError) as exc:  # ValueError: closed under us, or a broken file object
        raise InvalidInputError(field, f"cannot read the file object: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(
            field, "file object must be opened in binary mode ('rb'), not text mode"
        ) from None
    if not isinstance(data, bytes):
        raise InvalidInputError(field, "file object must be opened in binary mode ('rb')")
    if not data:
        raise InvalidInputError(
            field, "empty file object: nothing left to read (if it was read already, call seek(0) first)"
        )
    return _check_data(field, data, name, limits)


def _check_async_upload(field: str, value: object, limits: ImageLimits) -> LocalImage:
    # Starlette/FastAPI UploadFile: its async read() wraps a sync SpooledTemporaryFile in ``.file``,
    # which both clients can read without awaiting anything (starlette/datastructures.py).
    inner = getattr(value, "file", None)
    if inner is None or not callable(getattr(inner, "read", None)) or inspect.iscoroutinefunction(inner.read):
        raise InvalidInputError(
            field,
            f"{type(value).__name__} has an async read(): give its bytes (await it.read()) or a sync "
            "binary file",
        )
    filename = getattr(value, "filename", None)
    name = safe_file_name(Path(filename).name) if isinstance(filename, str) and filename else None
    return _check_stream(field, inner, name, limits)


def is_pil_image(value: object) -> bool:
    # A PIL image exists only if Pillow was imported to make it: look it up, never import it here.
    module = sys.modules.get("PIL.Image")
    image_class = getattr(module, "Image", None)
    return isinstance(image_class, type) and isinstance(value, image_class)


_PIL_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def _check_pil(field: str, image: Any, limits: ImageLimits) -> LocalImage:
    # Keep the image's format when kie.ai takes it, without adding loss: WebP is written lossless and
    # JPEG with its own quantization tables and subsampling (Pillow's quality="keep", the closest a
    # re-encode of decoded JPEG pixels gets); anything else becomes PNG, which is lossless.
    fmt = image.format if image.format in _PIL_FORMATS else "PNG"
    options: dict[str, Any] = {"WEBP": {"lossless": True}, "PNG": {}}.get(fmt, {})
    if fmt == "JPEG":
        options = {"quality": "keep"} if getattr(image, "quantization", None) else {"quality": 95}
    buffer = io.BytesIO()
    try:
        try:
            image.save(buffer, format=fmt, **options)
        except (OSError, ValueError, KeyError):
            # A mode the format cannot store (e.g. RGBA as JPEG, CMYK as PNG): PNG of RGB(A) pixels.
            fmt, buffer = "PNG", io.BytesIO()
            mode = "RGBA" if "A" in image.getbands() else "RGB"
            (image if image.mode in ("RGB", "RGBA", "L", "LA", "P") else image.convert(mode)).save(
                buffer, format="PNG"
            )
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidInputError(field, f"cannot encode the PIL image: {exc}") from None
    filename = getattr(image, "filename", "")
    stem = Path(filename).stem if isinstance(filename, str) and filename else "image"
    return _check_data(field, buffer.getvalue(), safe_file_name(stem) + _PIL_FORMATS[fmt], limits)


def _ext(mime: str) -> str:
    return suffix_for(mime)


def _inspect(field: str, stream: IO[bytes], start: int, size: int, limits: ImageLimits) -> str:
    """The image's type, after checking its size, type and completeness (reading from ``start``)."""
    limit = limits.max_bytes
    if size == 0:
        raise InvalidInputError(field, "empty file")
    if limit is not None and size > limit:
        raise InvalidInputError(
            field, f"{size} bytes is over kie.ai's limit of {limit} bytes per {limits.kind}"
        )

    def read_at(offset: int, count: int) -> bytes:
        stream.seek(start + offset)
        data = stream.read(min(count, max(0, size - offset)))
        if not isinstance(data, bytes):
            raise InvalidInputError(field, "file object must be opened in binary mode ('rb')")
        return data

    try:
        sniffed = sniff_media_type(read_at(0, HEAD_BYTES))
        allowed = limits.mime_types
        if sniffed is None or not accepts(allowed, sniffed[0]):
            found = f" (it is {sniffed[0]})" if sniffed is not None else ""
            raise InvalidInputError(
                field,
                f"not a supported {limits.kind} (accepted: {', '.join(allowed)}), by its content{found}",
            )
        reason = incomplete_reason(sniffed[0], read_at, size)
    except UnicodeDecodeError:
        raise InvalidInputError(
            field, "file object must be opened in binary mode ('rb'), not text mode"
        ) from None
    if reason is not None:
        raise InvalidInputError(field, f"{reason}; kie.ai would be paid to work on a broken image")
    return sniffed[0]


def check_images(images: object, limits: ImageLimits | None = None) -> list[ImageSource]:
    """Validate ``images``: one entry or a sequence of 1 to the model's maximum entries (``limits``:
    the model's, default the default model's).

    A tuple ``(file_name, bytes | binary file)`` alone is one named image (as in httpx's ``files=``),
    unless its first element is a URL or an existing path: then it is a tuple of two images.

    Raises:
        InvalidInputError: naming ``images`` or the entry at fault (``images[2]``).
    """
    limits = limits or DEFAULT_IMAGE_LIMITS
    single = (
        isinstance(images, (str, bytes, bytearray, memoryview, os.PathLike))
        or hasattr(images, "read")
        or is_pil_image(images)
        or is_named_pair(images)
    )
    if single:
        entries: Sequence[object] = [images]
    elif isinstance(images, Sequence):
        entries = images
    else:
        try:
            entries = list(images)  # type: ignore[call-overload]
        except TypeError:
            raise InvalidInputError("images", "give a list of paths, bytes, binary files or URLs") from None
    maximum = limits.max_items
    if not 1 <= len(entries) <= maximum:
        raise InvalidInputError("images", f"{len(entries)} given; kie.ai accepts 1 to {maximum} images")
    return [check_image(f"images[{i}]", entry, limits) for i, entry in enumerate(entries)]
