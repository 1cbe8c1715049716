"""Input validation: every bad argument becomes an ``InvalidInputError`` before anything is sent.

Allowed values and limits come from the generated catalog (``kie_api.models_catalog``, through ``_api``):
a model's options are checked generically from what its document states (type, enum, lengths, bounds,
item counts, required fields and defaults), so a regenerated spec flows through with no edit here.

An image may be given as a path (``~`` is expanded), raw bytes, a binary file object, a
``(file_name, bytes | binary file)`` tuple (as httpx's and openai-python's ``files=`` take), a PIL image,
an object with an async ``read`` and a sync ``.file`` (Starlette/FastAPI ``UploadFile``), or an http(s)
URL. Local images are checked by content (type and completeness, see ``_images``) and size here, so a
truncated or mistyped file is refused before any upload or paid createTask.
"""

from __future__ import annotations

import enum
import inspect
import io
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol, Union
from urllib.parse import urlsplit

from . import _api
from ._errors import InvalidInputError
from ._images import incomplete_reason, sniff_image_type
from ._media import DEFAULT_TYPES, HEAD_BYTES, accepts, sniff_media_type, suffix_for
from ._schema import check_schema
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
    "MediaValue",
    "RunInput",
    "TaskInput",
    "TaskKind",
    "check_callback_url",
    "check_choice",
    "check_image",
    "check_images",
    "check_model",
    "check_option",
    "check_options",
    "check_prompt",
    "check_run",
    "check_task",
    "check_text",
    "check_url",
    "is_url_like",
    "plan_of",
    "safe_file_name",
    "sniff_image_type",
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
    if _is_pil_image(value):
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


def _is_named_pair(value: object) -> bool:
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


def _is_pil_image(value: object) -> bool:
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
        or _is_pil_image(images)
        or _is_named_pair(images)
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


def check_prompt(prompt: object, spec: _api.FieldSpec | None = None) -> str:
    """A non-empty string that can be sent as UTF-8, within the lengths ``spec`` (the model's prompt
    field) states: gpt-image-2 takes at most 20,000 characters; the 1.5 documents state no limit."""
    if not isinstance(prompt, str):
        raise InvalidInputError("prompt", f"must be a string, not {type(prompt).__name__}")
    if not prompt.strip():
        raise InvalidInputError("prompt", "must not be empty")
    check_text("prompt", prompt)
    if spec is not None and spec.max_length is not None and len(prompt) > spec.max_length:
        raise InvalidInputError(
            "prompt", f"is {len(prompt)} characters long; kie.ai accepts at most {spec.max_length}"
        )
    return prompt


def _same_kind(a: object, b: object) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and isinstance(a, str) == isinstance(b, str)


def check_choice(field: str, value: object, allowed: tuple[Any, ...]) -> Any:
    """``value`` (or a str enum's value) if it is one of ``allowed``."""
    given = value.value if isinstance(value, enum.Enum) else value
    # 1 == True in Python and "1" is no 1: a JSON enum tells them apart.
    if not any(_same_kind(given, option) and given == option for option in allowed):
        raise InvalidInputError(field, f"{value!r} is not one of {', '.join(str(a) for a in allowed)}")
    return given


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


_A = {"integer": "an", "array": "an", "object": "an"}


def _check_type(field: str, value: object, json_type: str | None) -> None:
    types = _TYPES.get(json_type or "")
    if types is None:
        return
    if isinstance(value, bool) and json_type in ("integer", "number"):
        types = ()
    if not isinstance(value, types):
        raise InvalidInputError(
            field, f"must be {_A.get(json_type or '', 'a')} {json_type}, not {type(value).__name__}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(field, f"must be a finite number, not {value!r}")


def check_option(spec: _api.FieldSpec, value: object) -> Any:
    """``value`` checked against everything the document states of the field: its type, enum, lengths,
    bounds and item counts (and each item's type); returned as it will be sent."""
    field = spec.name
    if spec.enum is not None:
        return check_choice(field, value, spec.enum)
    _check_type(field, value, spec.type)
    if isinstance(value, str):
        check_text(field, value)
        if spec.min_length is not None and len(value) < spec.min_length:
            raise InvalidInputError(field, f"must be at least {spec.min_length} characters long")
        if spec.max_length is not None and len(value) > spec.max_length:
            raise InvalidInputError(field, f"must be at most {spec.max_length} characters long")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise InvalidInputError(field, f"{value!r} is below the minimum of {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise InvalidInputError(field, f"{value!r} is above the maximum of {spec.maximum:g}")
    if isinstance(value, (list, tuple)):
        if spec.min_items is not None and len(value) < spec.min_items:
            raise InvalidInputError(field, f"{len(value)} given; at least {spec.min_items} needed")
        if spec.max_items is not None and len(value) > spec.max_items:
            raise InvalidInputError(field, f"{len(value)} given; kie.ai accepts at most {spec.max_items}")
        for index, item in enumerate(value):
            _check_type(f"{field}[{index}]", item, spec.items_type)
            if isinstance(item, str):
                check_text(f"{field}[{index}]", item)
        return list(value)
    return value


def check_options(spec: _api.ModelSpec, options: Mapping[str, object]) -> dict[str, Any]:
    """The ``input`` fields of ``spec``'s model but the prompt and images, from ``options``: each given
    one checked (``check_option``; ``None`` counts as not given), each required one that is not given
    filled with its document's default, or refused when it has none.

    Raises:
        InvalidInputError: naming the option: unknown to the model, or a value the document refuses.
    """
    known = {f.name: f for f in spec.fields if f.name not in ("prompt", spec.image_field)}
    checked: dict[str, Any] = {}
    for name, value in options.items():
        if name not in known:
            hint = _did_you_mean(name, known)
            names = ", ".join(known) or "none"
            raise InvalidInputError(name, f"is not an option of {spec.model} (its options: {names}){hint}")
        if value is not None:
            checked[name] = _check_field(spec, known[name], value)  # media fields take files here too
    for name, field in known.items():
        if name in checked or not field.required:
            continue
        if not field.has_default:
            raise InvalidInputError(name, f"is required by {spec.model}")
        checked[name] = field.default
    # In the document's order, as the body is described.
    return {name: checked[name] for name in known if name in checked}


def _did_you_mean(name: str, known: Iterable[str], n: int = 1) -> str:
    import difflib  # for this hint only: importing it costs about 2 ms at package import

    near = difflib.get_close_matches(name, list(known), n=n)
    return f"; did you mean {' or '.join(map(repr, near))}?" if near else ""


TaskKind = Literal["edit", "generate", "any"]


def check_model(model: object, kind: TaskKind) -> _api.ModelSpec:
    """The catalog entry of ``model``, a model that ``kind`` of call can use: ``edit`` needs one that
    takes input images, ``generate`` one that does not.

    Raises:
        InvalidInputError: naming ``model``.
    """
    spec = _api.model_spec(model) if isinstance(model, str) else None
    if spec is None:
        hint = _did_you_mean(model, _api.MODELS, n=3) if isinstance(model, str) else ""
        raise InvalidInputError(
            "model",
            f"{model!r} is not one of the catalog's {len(_api.MODELS)} models{hint} (every one: "
            "kie_gpt_image.MODELS or kie-gpt-image models; one kie.ai added since: run(..., validate=False))",
        )
    if kind == "edit" and not spec.takes_images:
        raise InvalidInputError("model", f"{spec.model} takes no input images: call generate() instead")
    if kind == "generate" and spec.takes_images:
        raise InvalidInputError("model", f"{spec.model} needs input images: call edit() instead")
    return spec


@dataclass(frozen=True, slots=True)
class TaskInput:
    """A validated createTask: the model, its images to send, and the rest of its ``input``."""

    model: str
    images: list[ImageSource]
    """Local images to upload and URLs to pass through, for the model's image field (or empty)."""
    input: dict[str, Any]
    """The ``input`` object but the image field: the prompt and the options."""

    def plan(self, callback_url: str | None = None) -> RunInput:
        """The same task as a ``RunInput``: what ``run`` sends, so ``edit``/``generate`` take its path."""
        return plan_of(self.model, self.images, self.input, callback_url)


def plan_of(
    model: str, images: list[ImageSource], input: Mapping[str, Any], callback_url: str | None = None
) -> RunInput:
    """``edit``'s task as a ``RunInput``: ``images`` go to the model's image field (one value for a field
    that takes one URL string, as ``image_url`` does; the list for an array field), then ``input``."""
    spec = _api.MODELS[model]
    field = spec.field(spec.image_field) if spec.image_field else None
    # The other media fields given as options hold checked files too (``check_options``).
    others = tuple(f.name for f in _api.media_fields(spec) if f.name in input and f is not field)
    if field is None:
        return RunInput(model, dict(input), others, callback_url)
    value: MediaValue = list(images) if field.type == "array" or not images else images[0]
    return RunInput(model, {field.name: value, **input}, (field.name, *others), callback_url)


def check_task(
    model: object, images: object | None, prompt: object, options: Mapping[str, object], kind: TaskKind
) -> TaskInput:
    """Check a whole createTask against ``model``'s catalog entry, before anything is sent.

    ``images`` is None for ``generate``; with ``kind="any"`` (the CLI, the batch) an empty list is what a
    model without images takes.
    """
    spec = check_model(model, kind)
    if _api.prompt_field(spec) is None:
        raise InvalidInputError(
            "prompt", f"{spec.model} takes no prompt: call run({spec.model!r}, input={{...}}) with its fields"
        )
    if spec.takes_images:
        limits = ImageLimits.of(spec)
        field = spec.field(spec.image_field or "")
        if field is not None and field.type != "array":  # one URL string (image_url): one image
            limits = replace(limits, max_items=1)
        sources = check_images(images, limits)
    elif images is None or (isinstance(images, (list, tuple)) and not images):
        sources = []
    else:
        raise InvalidInputError("images", f"{spec.model} takes no input images")
    text = check_prompt(prompt, spec.field("prompt"))
    return TaskInput(spec.model, sources, {"prompt": text, **check_options(spec, options)})


def check_callback_url(value: object, *, allow_http: bool) -> str:
    """An https URL; plain http only when ``allow_http`` is set, and then only to a loopback host
    (``localhost``, 127.0.0.0/8, ``::1``: a receiver in a test), never in clear text across a network."""
    if not isinstance(value, str):
        raise InvalidInputError("callback_url", f"must be a string, not {type(value).__name__}")
    url = check_url("callback_url", value)
    parts = urlsplit(url)
    if parts.scheme == "http":
        if not allow_http:
            raise InvalidInputError(
                "callback_url",
                "must be https (kie.ai posts task results to it); pass allow_http_callback=True to allow "
                "http to a loopback host",
            )
        if not is_loopback_host(parts.hostname):
            raise InvalidInputError(
                "callback_url",
                f"plain http is allowed only to loopback hosts (localhost, 127.0.0.1, ::1), not "
                f"{parts.hostname!r}: use https",
            )
    return url


MediaValue = ImageSource | list[ImageSource]
"""A media field's checked value: one file or URL (a string field), or a list of them (an array)."""


@dataclass(frozen=True, slots=True)
class RunInput:
    """A checked createTask of any model (``check_run``; ``TaskInput.plan`` for ``edit``/``generate``):
    its ``input`` object, whose media fields still hold local files to upload."""

    model: str
    fields: dict[str, Any]
    """The ``input`` object to send, in order; each field of ``media`` holds a ``MediaValue``."""
    media: tuple[str, ...]
    """The fields holding files or URLs (local files are uploaded, then replaced by their URLs)."""
    callback_url: str | None = None
    known: bool = True
    """Whether the catalog knows the model (False: sent unchecked, ``run(..., validate=False)``)."""

    def sources(self) -> list[ImageSource]:
        """Every file and URL of the media fields, in order (what the upload step takes)."""
        found: list[ImageSource] = []
        for name in self.media:
            value = self.fields[name]
            found.extend(value if isinstance(value, list) else [value])
        return found

    def with_urls(self, urls: Sequence[str]) -> dict[str, Any]:
        """The ``input`` to send: each source of ``sources()`` replaced by its URL in ``urls``."""
        given = iter(urls)
        sent = dict(self.fields)
        for name in self.media:
            value = sent[name]
            sent[name] = [next(given) for _ in value] if isinstance(value, list) else next(given)
        return sent

    def mapped(self, change: Callable[[ImageSource], ImageSource]) -> RunInput:
        """The same task with each media source passed through ``change`` (upload-progress wrappers)."""
        fields = dict(self.fields)
        for name in self.media:
            value = fields[name]
            fields[name] = [change(v) for v in value] if isinstance(value, list) else change(value)
        return RunInput(self.model, fields, self.media, self.callback_url, self.known)


def _local_value(value: object) -> bool:
    """Whether ``value`` is plainly a local file (not a string: a string is passed as given)."""
    return (
        isinstance(value, (bytes, bytearray, memoryview, os.PathLike))
        or callable(getattr(value, "read", None))
        or _is_pil_image(value)
        or (isinstance(value, tuple) and len(value) in (2, 3) and _is_named_pair(value))
    )


_ANY_FILE = ImageLimits(10**9, None, tuple(t for types in DEFAULT_TYPES.values() for t in types), "file")


def check_media(field: _api.FieldSpec, value: object) -> MediaValue:
    """A media field's value: one file or URL (a string field) or a list of them (an array field; a
    single file is taken as a list of one), each checked as ``images`` entries are, against the field's
    kind, accepted types, size limit and item counts.

    Raises:
        InvalidInputError: naming the field or the entry at fault (``image_urls[1]``).
    """
    limits = ImageLimits.of_field(field)
    name = field.name
    if field.type != "array":
        if isinstance(value, (list, tuple)) and not _is_named_pair(value):
            raise InvalidInputError(
                name, f"takes one {limits.kind} (a path, bytes, a file or a URL), not a list"
            )
        return check_image(name, value, limits)
    if isinstance(value, (list, tuple)) and not _is_named_pair(value):
        entries: Sequence[object] = value
    else:
        entries = [value]
    low = field.min_items or 0
    if not low <= len(entries) <= limits.max_items:
        raise InvalidInputError(
            name, f"{len(entries)} given; kie.ai accepts {low} to {limits.max_items} {limits.kind} files"
        )
    return [check_image(f"{name}[{i}]", entry, limits) for i, entry in enumerate(entries)]


def _check_field(spec: _api.ModelSpec, field: _api.FieldSpec, value: object) -> Any:
    if _api.field_media(field) is not None:
        return check_media(field, value)
    if field.name == _api.prompt_field(spec):
        return check_prompt(value, field)
    checked = check_option(field, value)
    schema = _api.field_schema(field)
    if schema and isinstance(checked, (list, dict)):
        check_schema(field.name, checked, schema)
    return checked


def check_run(
    model: object,
    input: Mapping[str, object] | None,
    *,
    validate: bool = True,
    callback_url: object = None,
    allow_http_callback: bool = False,
    timeout: object = None,
) -> RunInput:
    """Check a ``run(model, input)`` call before anything is sent: the model against the catalog (with
    the nearest ids when it is unknown), each field of ``input`` against the model's document (its
    name, type, enum, bounds, nested items; media fields as files or URLs), the required ones present
    (the document's default when it has one). ``validate=False`` skips the catalog (a model kie.ai added
    since the last regenerate): ``input`` is sent as given, with only its plainly local values (bytes,
    ``Path`` objects, files, PIL images, ``(name, bytes)``, or lists of them) uploaded.

    Raises:
        InvalidInputError: naming the argument or the field (``multi_prompt[0].prompt``).
    """
    if input is None:
        input = {}
    if not isinstance(input, Mapping):
        raise InvalidInputError("input", f"must be a dict of the model's fields, not {type(input).__name__}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
    ):
        raise InvalidInputError("timeout", "must be a non-negative number of seconds")
    callback = (
        None if callback_url is None else check_callback_url(callback_url, allow_http=allow_http_callback)
    )
    if not validate:
        if not isinstance(model, str) or not model.strip():
            raise InvalidInputError("model", "must be a model id (a non-empty string)")
        check_text("model", model)
        return _unchecked(model, input, callback)
    spec = check_model(model, "any")
    if callback is not None and spec.callback_field is None:
        raise InvalidInputError("callback_url", f"{spec.model} takes no callback URL")
    known = {f.name: f for f in spec.fields}
    fields: dict[str, Any] = {}
    for name, value in input.items():
        field = known.get(name) if isinstance(name, str) else None
        if field is None:
            names = ", ".join(known) or "none"
            hint = _did_you_mean(name, known) if isinstance(name, str) else ""
            raise InvalidInputError(str(name), f"is not a field of {spec.model} (its fields: {names}){hint}")
        if value is not None:
            fields[name] = _check_field(spec, field, value)
    for name, field in known.items():
        if name in fields or not field.required:
            continue
        if not field.has_default:
            raise InvalidInputError(name, f"is required by {spec.model}")
        fields[name] = field.default
    ordered = {name: fields[name] for name in known if name in fields}  # the document's order
    media = tuple(f.name for f in _api.media_fields(spec) if f.name in ordered)
    return RunInput(spec.model, ordered, media, callback)


def _unchecked(model: str, input: Mapping[str, object], callback: str | None) -> RunInput:
    fields: dict[str, Any] = {}
    media: list[str] = []
    for name, value in input.items():
        if not isinstance(name, str):
            raise InvalidInputError(str(name), "field names must be strings")
        items = value if isinstance(value, list) else None
        if items is not None and any(_local_value(v) for v in items):
            if not all(_local_value(v) or isinstance(v, str) for v in items):
                raise InvalidInputError(name, "a list holding local files may hold only files and URLs")
            fields[name] = [
                check_image(f"{name}[{i}]", v, _ANY_FILE) if _local_value(v) else v
                for i, v in enumerate(items)
            ]
            media.append(name)
        elif _local_value(value):
            fields[name] = check_image(name, value, _ANY_FILE)
            media.append(name)
        else:
            fields[name] = value
    # Only the plainly local values are sources; the other items of a list stay as given (URLs).
    return RunInput(model, fields, tuple(media), callback, known=model in _api.MODELS)
