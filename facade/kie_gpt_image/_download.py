"""Result downloads: where the bytes go (a file or memory), the size cap, and safe file names.

The drivers stream a result URL into a ``Sink``; the sink enforces the cap on the declared length and
on the bytes actually received, and a file sink writes to a temporary name and renames it only when
complete, so a failed (or cancelled) download never leaves a truncated image or a ``.part`` file behind.
A local file-system failure is a ``DestinationError``, never mistaken for a network one.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from ._decoding import BoundedDecoder
from ._errors import DestinationError, DownloadError, InvalidInputError, ResultTooLargeError
from ._media import HEAD_BYTES, kind_of, sniff_media_type, suffix_for
from ._replies import retry_after

__all__ = [
    "DEFAULT_DOWNLOAD_CAPS",
    "FILE_SUFFIXES",
    "IMAGE_SUFFIXES",
    "Destination",
    "FileSink",
    "MemorySink",
    "Sink",
    "check_destination",
    "check_download_caps",
    "parse_destination",
    "result_file_name",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
"""Image suffixes: a destination ending in one of these (or in a ``FILE_SUFFIXES``) is a file name."""
FILE_SUFFIXES = (
    *IMAGE_SUFFIXES,
    *(".mp4", ".mov", ".webm", ".mkv", ".avi", ".mp3", ".wav", ".aac", ".m4a", ".ogg", ".flac"),
)
"""A destination ending in one of these is a file name; anything else is a folder."""

DEFAULT_DOWNLOAD_CAPS: Mapping[str, int] = {
    "image": 50 * 1024 * 1024,
    "audio": 200 * 1024 * 1024,
    "video": 2 * 1024 * 1024 * 1024,
}
"""Bytes a result file of each kind may have by default (``max_download_bytes``): a 4K PNG is well under
50 MiB, minutes of WAV audio under 200 MiB, a long 4K video under 2 GiB."""

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SNIFF_BYTES = HEAD_BYTES  # enough for every signature _media knows (Matroska's doctype included)


def check_download_caps(value: object) -> int | Mapping[str, int]:
    """``max_download_bytes`` as given, once checked: one positive cap for every result, or a mapping
    of caps per kind (``image``, ``video``, ``audio``; a kind left out keeps its default).

    Raises:
        InvalidInputError: naming ``max_download_bytes``.
    """
    if isinstance(value, Mapping):
        unknown = set(value) - set(DEFAULT_DOWNLOAD_CAPS)
        if unknown:
            raise InvalidInputError(
                "max_download_bytes", f"unknown kind {sorted(map(str, unknown))[0]!r}: image, video or audio"
            )
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values()):
            raise InvalidInputError("max_download_bytes", "every cap must be a positive integer")
        return {**DEFAULT_DOWNLOAD_CAPS, **value}
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInputError("max_download_bytes", "must be positive")
    return value


def result_file_name(task_id: str, index: int, url: str) -> str:
    """``<task id>-<n><ext>``: nothing of the URL's path is used but a known file extension, so a
    hostile URL cannot steer the file outside the destination folder. (Once downloaded, the file takes
    the suffix of its content: ``FileSink(..., by_content=True)``.)"""
    suffix = Path(unquote(urlsplit(url).path)).suffix.lower()
    ext = suffix if suffix in FILE_SUFFIXES else ".png"
    stem = _SAFE.sub("_", task_id).strip("._") or "result"
    return f"{stem}-{index}{ext}"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where results are saved: a folder (files named by the library) or a file name."""

    path: Path
    is_file: bool

    def file_names(self, count: int) -> list[Path]:
        """The files ``count`` results go to, for a file name: the name itself for one, ``stem-1.png``,
        ``stem-2.png``, ... for several."""
        if count == 1:
            return [self.path]
        return [self.path.with_name(f"{self.path.stem}-{i}{self.path.suffix}") for i in range(1, count + 1)]

    def paths(self, task_id: str, urls: Sequence[tuple[int, str]]) -> list[Path]:
        """Where each ``(index, url)`` result goes: ``file_names`` for a file name, else
        ``<folder>/<task id>-<index><ext>``."""
        if self.is_file:
            return self.file_names(len(urls))
        return [self.path / result_file_name(task_id, index, url) for index, url in urls]


def parse_destination(value: object, field: str = "dest") -> Destination:
    """Read a save destination by the one rule shared by ``EditResult.save``, ``ResultImage.save`` and
    the CLI's ``-o`` (issue 13): a path with an image suffix (``.png``, ``.jpg``, ``.jpeg``, ``.webp``)
    is a file (several results: ``stem-1.png``, ``stem-2.png``, ...); an existing folder, a path ending in
    ``/``, or any other path is a folder (created when saving). ``~`` is expanded.

    Args:
        value: the destination, a ``str`` or ``os.PathLike``.
        field: the argument's name in error messages (``dest``, ``path``, ``--output``).

    Raises:
        InvalidInputError: not a path, empty, or naming something of the wrong kind (a file where a
            folder is meant, or the reverse).
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise InvalidInputError(field, f"must be a path (str or os.PathLike), not {type(value).__name__}")
    if not value:
        raise InvalidInputError(field, "must not be empty")
    path = Path(value).expanduser()
    folder_given = value.endswith(("/", os.sep)) or path.is_dir()
    is_file = not folder_given and path.suffix.lower() in FILE_SUFFIXES
    if is_file and path.exists() and not path.is_file():
        raise InvalidInputError(field, f"{value!r} exists and is not a file")
    if not is_file and path.exists() and not path.is_dir():
        raise InvalidInputError(
            field,
            f"{value!r} exists and is not a folder: give a folder, or a file name ending in "
            + ", ".join(FILE_SUFFIXES),
        )
    return Destination(path, is_file)


def check_destination(value: object, field: str = "dest") -> Destination:
    """``parse_destination``, and a check that the nearest existing folder can be written: the CLI runs it
    on ``-o`` before anything is sent, so a paid result never meets an unusable destination. (Saving from
    the library does not: there a destination that cannot be written is a ``DestinationError`` carrying
    the task id.)

    Raises:
        InvalidInputError: as ``parse_destination``, or a path inside a place that cannot be written.
    """
    destination = parse_destination(value, field)
    path, is_file = destination.path, destination.is_file
    # The nearest existing folder on the way must be writable: the results are paid for by then.
    probe = path.parent if is_file else path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InvalidInputError(field, f"cannot create {value!r}: {str(probe)!r} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InvalidInputError(field, f"cannot write into {str(probe)!r}")
    return destination


class Sink:
    """Receives one download; subclasses decide where the bytes go."""

    def __init__(self, url: str, max_bytes: int | Mapping[str, int]) -> None:
        self.url = url
        # One cap, or one per kind: until the content shows its kind, the largest applies.
        self._caps = max_bytes if isinstance(max_bytes, Mapping) else None
        self.max_bytes = max(max_bytes.values()) if isinstance(max_bytes, Mapping) else max_bytes
        self.mime_type: str | None = None
        """The type of the content received, once its first bytes are in (``_media``)."""
        self.received = 0
        self.declared: int | None = None
        """The ``Content-Length`` of the current reply, when it sent one."""
        self._head = b""
        self._retry_after: float | None = None
        self._decoder = BoundedDecoder(None, self.max_bytes, self._too_large)
        self._raw = False  # whether this body comes through ``write_raw`` (to be decoded here)

    def start(self, status_code: int, headers: Mapping[str, str]) -> None:
        """Check the reply before its body is read; restart from empty (a retry calls it again)."""
        self._retry_after = retry_after(headers)
        if status_code >= 400:
            raise DownloadError(
                f"download of {self.url} failed with HTTP {status_code}",
                url=self.url,
                retryable=status_code >= 500 or status_code == 429,
                retry_after=self._retry_after,
            )
        declared = headers.get("content-length", "").strip()
        self.declared = int(declared) if declared.isascii() and declared.isdigit() else None
        if self.declared is not None and self.declared > self.max_bytes:
            raise ResultTooLargeError(
                f"{self.url} is {declared} bytes, over the {self.max_bytes}-byte cap", url=self.url
            )
        self.received = 0
        self._head = b""
        self.mime_type = None
        if self._caps is not None:
            self.max_bytes = max(self._caps.values())  # the kind's own cap applies once its bytes show it
        self._decoder = BoundedDecoder(headers.get("content-encoding"), self.max_bytes, self._too_large)
        self._raw = False
        self._reset()

    def _too_large(self) -> ResultTooLargeError:
        return ResultTooLargeError(f"{self.url} exceeded the {self.max_bytes}-byte cap", url=self.url)

    def write_raw(self, chunk: bytes) -> None:
        """Take the next chunk of the body as it came over the wire (``Response.iter_raw``): decoded by
        its ``Content-Encoding`` here, never more than a piece past the cap (``_decoding``), then as
        ``write``. A driver uses either this or ``write`` (already decoded) for a whole body."""
        self._raw = True
        for piece in self._decoder.decode(chunk):
            self.write(piece)

    def write(self, chunk: bytes) -> None:
        """Take the next chunk; raise once the cap is exceeded or the body is plainly not an image."""
        self.received += len(chunk)
        if self.received > self.max_bytes:
            raise self._too_large()
        if len(self._head) < _SNIFF_BYTES:
            self._head += chunk[: _SNIFF_BYTES - len(self._head)]
            if len(self._head) >= _SNIFF_BYTES:
                self._check_image()
        if self.received > self.max_bytes:  # the cap of the content's kind, now that it is known
            raise ResultTooLargeError(f"{self.url} exceeded the {self.max_bytes}-byte cap", url=self.url)
        self._write(chunk)

    def finish(self) -> None:
        """The body is complete."""
        if self._raw:
            for piece in self._decoder.flush():
                self.write(piece)
        if len(self._head) < _SNIFF_BYTES:
            self._check_image()
        self._finish()

    def _check_image(self) -> None:
        # An HTML error page or a JSON envelope answered with 200 must not be saved as the result.
        sniffed = sniff_media_type(self._head)
        if sniffed is None:
            raise DownloadError(
                f"{self.url} did not return an image, video or audio file (starts with {self._head[:16]!r})",
                url=self.url,
                retryable=True,
                retry_after=self._retry_after,
            )
        self.mime_type = sniffed[0]
        if self._caps is not None:
            self.max_bytes = self._caps.get(kind_of(sniffed[0]), self.max_bytes)
            if self.declared is not None and self.declared > self.max_bytes:
                raise ResultTooLargeError(
                    f"{self.url} is {self.declared} bytes, over the {self.max_bytes}-byte cap of "
                    f"{kind_of(sniffed[0])} results",
                    url=self.url,
                )

    def _finish(self) -> None:
        pass

    def abort(self) -> None:
        """The download failed: drop what was received."""

    def _reset(self) -> None:
        raise NotImplementedError

    def _write(self, chunk: bytes) -> None:
        raise NotImplementedError


class MemorySink(Sink):
    """Collects the body in memory (``EditResult.bytes()``)."""

    def __init__(self, url: str, max_bytes: int | Mapping[str, int]) -> None:
        super().__init__(url, max_bytes)
        self._chunks: list[bytes] = []

    @property
    def content(self) -> bytes:
        """The received bytes."""
        return b"".join(self._chunks)

    def _reset(self) -> None:
        self._chunks = []

    def _write(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def abort(self) -> None:
        self._chunks = []


class FileSink(Sink):
    """Streams the body to ``path`` through a temporary file in the same folder."""

    def __init__(
        self, url: str, max_bytes: int | Mapping[str, int], path: Path, *, by_content: bool = False
    ) -> None:
        super().__init__(url, max_bytes)
        self.path = path
        """Where the file goes (with ``by_content``, its suffix becomes its content's once complete)."""
        self.by_content = by_content
        self._handle: IO[bytes] | None = None
        self._temp: Path | None = None

    def _local_error(self, exc: OSError) -> DestinationError:
        self.abort()
        return DestinationError(
            f"could not write {str(self.path)!r}: {exc.strerror or exc}; the result is still at {self.url}",
            path=str(self.path),
        )

    def _reset(self) -> None:
        self.abort()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Not mkstemp: it creates mode 0600, and a saved result should get the user's usual
            # permissions (0666 less the umask). O_EXCL keeps the name ours.
            temp = self.path.parent / f".{self.path.name}.{secrets.token_hex(6)}.part"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise self._local_error(exc) from exc
        self._handle = os.fdopen(fd, "wb")
        self._temp = temp

    def _write(self, chunk: bytes) -> None:
        if self._handle is None:
            raise DownloadError(f"download of {self.url} was not started", url=self.url)
        try:
            self._handle.write(chunk)
        except OSError as exc:
            raise self._local_error(exc) from exc

    def _finish(self) -> None:
        if self._handle is None or self._temp is None:
            raise DownloadError(f"download of {self.url} produced no body", url=self.url)
        if self.by_content and self.mime_type is not None:
            # A name the library chose (a folder destination): the suffix says what the file holds.
            suffix = suffix_for(self.mime_type)
            if self.path.suffix.lower() not in (suffix, ".jpeg" if suffix == ".jpg" else suffix):
                self.path = self.path.with_suffix(suffix)
        try:
            self._handle.close()
            self._handle = None
            os.replace(self._temp, self.path)
        except OSError as exc:
            raise self._local_error(exc) from exc
        self._temp = None

    def abort(self) -> None:
        handle, temp = self._handle, self._temp
        self._handle = self._temp = None
        # Runs on every exit, Ctrl-C and task cancellation included: a failing close or unlink must not
        # hide the error that brought us here.
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
