"""The result of a finished edit, and each of its images, with download helpers bound to the client
that produced them (replicate-python's ``FileOutput`` is the model for ``ResultImage``).

Every download (``read``, ``save``, ``to_pil``, ``EditResult.bytes``/``save``) goes through the client's
one download path: capped at ``max_download_bytes``, bound by ``download_timeout``, retried on host errors,
and never carrying the API key (result hosts are not kie.ai).
"""

from __future__ import annotations

import builtins
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import DownloadError, InvalidInputError
from ._models import TaskInfo
from ._notebook import image_html, image_kind, result_html

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "AsyncEditResult",
    "AsyncResultFile",
    "AsyncResultImage",
    "AsyncRunResult",
    "EditResult",
    "ResultFile",
    "ResultImage",
    "RunResult",
]

Dest = str | os.PathLike[str]


# What a result needs of the client that produced it. Protocols rather than the client classes, so that
# this module sits below _client (which builds results) and no import circle forms (issue 14).
class _Downloader(Protocol):
    def download(self, result: EditResult | ResultImage | TaskInfo, dest: Dest = ".") -> list[Path]: ...

    def read_results(self, result: EditResult | ResultImage | TaskInfo) -> list[bytes]: ...


class _AsyncDownloader(Protocol):
    async def download(
        self, result: EditResult | AsyncEditResult | AsyncResultImage | TaskInfo, dest: Dest = "."
    ) -> list[Path]: ...

    async def read_results(
        self, result: EditResult | AsyncEditResult | AsyncResultImage | TaskInfo
    ) -> list[bytes]: ...


def _pillow() -> Any:
    """Pillow's ``Image`` module, checked before anything is downloaded (Pillow stays optional)."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise InvalidInputError(
            "to_pil", "needs Pillow, which is not installed: pip install pillow (or use read()/save())"
        ) from exc
    return Image


def _decoded(image_module: Any, data: builtins.bytes, url: str, task_id: str) -> PILImage:
    try:
        image: PILImage = image_module.open(io.BytesIO(data))
        image.load()  # decode now: a broken file fails here, not at the caller's first pixel access
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's UnidentifiedImageError is an OSError
        raise DownloadError(
            f"{url} could not be decoded as an image: {exc}", url=url, task_id=task_id
        ) from exc
    return image


@dataclass(frozen=True, slots=True)
class _ImageBase:
    url: str
    """Where kie.ai serves the image (kept 14 days: download promptly)."""
    index: int
    """Its position in the task's results (0-based: ``result.images[i].index == i``)."""
    task_id: str
    """The task that produced it."""
    # The bytes of the last read(), kept for the image's display in a notebook (a repr never downloads).
    _last_read: list[builtins.bytes] = field(default_factory=list, repr=False, compare=False, kw_only=True)

    def _remember(self, data: builtins.bytes) -> builtins.bytes:
        self._last_read[:] = [data]
        return data

    def _repr_bytes(self) -> builtins.bytes | None:
        return self._last_read[0] if self._last_read else None

    def _repr_png_(self) -> builtins.bytes | None:
        """Jupyter: the image itself once its bytes were read and they are a PNG (no download here)."""
        data = self._repr_bytes()
        return data if image_kind(data) == "png" else None

    def _repr_jpeg_(self) -> builtins.bytes | None:
        """Jupyter: the image itself once its bytes were read and they are a JPEG (no download here)."""
        data = self._repr_bytes()
        return data if image_kind(data) == "jpeg" else None

    def _repr_html_(self) -> str | None:
        """Jupyter: an ``<img>`` of the URL (the notebook's browser loads it), or of bytes read that are
        neither PNG nor JPEG; ``None`` when ``_repr_png_``/``_repr_jpeg_`` show it."""
        return None if image_kind(self._repr_bytes()) in ("png", "jpeg") else image_html(self)


@dataclass(frozen=True, slots=True)
class ResultImage(_ImageBase):
    """One result image (from ``Client``): its ``url``, and its bytes on demand.

    Example::

        image = result.images[0]
        data = image.read()            # bytes, in memory
        image.save("out/edited.png")   # exactly this file name
        picture = image.to_pil()       # a PIL image (needs Pillow)
    """

    _client: _Downloader = field(repr=False, compare=False)

    def read(self) -> builtins.bytes:
        """Download the image into memory and return its bytes.

        Raises:
            DownloadError (``ResultTooLargeError`` past ``max_download_bytes``), ClientClosedError.
        """
        return self._remember(self._client.read_results(self)[0])

    def save(self, path: Dest = ".") -> Path:
        """Download the image to ``path`` and return the path written.

        ``path`` with an image suffix (``.png``, ``.jpg``, ``.jpeg``, ``.webp``) is the exact file name
        (overwritten if it exists; the bytes are written as received, whatever the suffix says); an existing
        folder or a path ending in ``/`` is a folder (created if needed), where the file is named
        ``<task id>-<index><ext>``.

        Raises:
            InvalidInputError: ``path`` cannot be used (checked before downloading). DownloadError,
            DestinationError, ClientClosedError.
        """
        return self._client.download(self, path)[0]

    def to_pil(self) -> PILImage:
        """Download the image and decode it with Pillow (``PIL.Image.Image``, fully loaded).

        Raises:
            InvalidInputError: Pillow is not installed (``pip install pillow``; nothing is downloaded).
            DownloadError: the download failed or the bytes are not an image Pillow can read.
        """
        image_module = _pillow()
        return _decoded(image_module, self.read(), self.url, self.task_id)

    def bytes(self) -> builtins.bytes:
        """The same as ``read()`` (named like ``EditResult.bytes()``)."""
        return self.read()


@dataclass(frozen=True, slots=True)
class AsyncResultImage(_ImageBase):
    """One result image (from ``AsyncClient``): ``await image.read()``, ``await image.save(path)``,
    ``await image.to_pil()``; the same rules as ``ResultImage``."""

    _client: _AsyncDownloader = field(repr=False, compare=False)

    async def read(self) -> builtins.bytes:
        """Download the image into memory and return its bytes (see ``ResultImage.read``)."""
        return self._remember((await self._client.read_results(self))[0])

    async def save(self, path: Dest = ".") -> Path:
        """Download the image to ``path``; return the path written (see ``ResultImage.save``)."""
        return (await self._client.download(self, path))[0]

    async def to_pil(self) -> PILImage:
        """Download the image and decode it with Pillow (see ``ResultImage.to_pil``)."""
        image_module = _pillow()
        return _decoded(image_module, await self.read(), self.url, self.task_id)

    async def bytes(self) -> builtins.bytes:
        """The same as ``read()``."""
        return await self.read()


@dataclass(frozen=True, slots=True)
class _ResultBase:
    task_id: str
    """kie.ai's task id."""
    urls: tuple[str, ...]
    """Result image URLs (kie.ai keeps generated files for 14 days: download promptly)."""
    info: TaskInfo = field(repr=False)
    """The task's final record."""

    def _repr_html_(self) -> str:
        """Jupyter: every image of the result (bytes already read, else the URLs; no download here)."""
        images: tuple[_ImageBase, ...] = getattr(self, "images", ())
        return result_html(self.task_id, images)


@dataclass(frozen=True, slots=True)
class EditResult(_ResultBase):
    """A successful edit (from ``Client``): its images, plus ``save``/``bytes`` for all of them.

    Example::

        result.save("out/edited.png")      # one image: out/edited.png; several: edited-1.png, ...
        data = result.images[0].read()     # bytes in memory
    """

    _client: _Downloader = field(repr=False, compare=False)
    images: tuple[ResultImage, ...] = field(default=(), repr=False, compare=False)
    """Each result image, in the order of ``urls``."""

    @classmethod
    def from_info(cls, info: TaskInfo, client: _Downloader) -> EditResult:
        """Bind a finished task's record to the client that downloads its results."""
        images = tuple(ResultImage(url, i, info.task_id, client) for i, url in enumerate(info.result_urls))
        return cls(info.task_id, info.result_urls, info, client, images)

    def save(self, dest: Dest = ".") -> list[Path]:
        """Download every result image to ``dest``; return the paths written.

        A ``dest`` with an image suffix (``.png``, ``.jpg``, ``.jpeg``, ``.webp``) is a file name: one
        image is saved under exactly that name, several as ``stem-1.png``, ``stem-2.png``, ...; an existing
        folder, a path ending in ``/`` or any other path is a folder (created if needed), where files are
        named ``<task id>-<index><ext>``. The CLI's ``-o`` follows the same rule.

        Raises:
            InvalidInputError: ``dest`` cannot be used (checked before downloading). DownloadError,
            DestinationError, ClientClosedError.
        """
        return self._client.download(self, dest)

    def bytes(self) -> list[builtins.bytes]:
        """Download every result image into memory."""
        data = self._client.read_results(self)
        for image, one in zip(self.images, data, strict=False):
            image._remember(one)
        return data


@dataclass(frozen=True, slots=True)
class AsyncEditResult(_ResultBase):
    """A successful edit (from ``AsyncClient``): ``await result.save(dest)``, ``await result.bytes()``,
    and ``result.images`` (``AsyncResultImage``)."""

    _client: _AsyncDownloader = field(repr=False, compare=False)
    images: tuple[AsyncResultImage, ...] = field(default=(), repr=False, compare=False)
    """Each result image, in the order of ``urls``."""

    @classmethod
    def from_info(cls, info: TaskInfo, client: _AsyncDownloader) -> AsyncEditResult:
        """Bind a finished task's record to the client that downloads its results."""
        images = tuple(
            AsyncResultImage(url, i, info.task_id, client) for i, url in enumerate(info.result_urls)
        )
        return cls(info.task_id, info.result_urls, info, client, images)

    async def save(self, dest: Dest = ".") -> list[Path]:
        """Download every result image to ``dest``; return the paths written (see ``EditResult.save``).

        A ``dest`` with an image suffix (``.png``, ``.jpg``, ``.jpeg``, ``.webp``) is a file name: one
        image is saved under exactly that name, several as ``stem-1.png``, ``stem-2.png``, ...; an existing
        folder, a path ending in ``/`` or any other path is a folder (created if needed), where files are
        named ``<task id>-<index><ext>``. The CLI's ``-o`` follows the same rule.
        """
        return await self._client.download(self, dest)

    async def bytes(self) -> list[builtins.bytes]:
        """Download every result image into memory."""
        data = await self._client.read_results(self)
        for image, one in zip(self.images, data, strict=False):
            image._remember(one)
        return data


# ------------------------------------------------------------------------------ results of any model
# ``run`` returns these: the same download path as an edit's images (so ``EditResult``'s code and tests
# hold for them), for files of any kind, plus the parts of ``resultJson`` that are not files.


@dataclass(frozen=True, slots=True)
class ResultFile(ResultImage):
    """One result file of any kind (image, video, audio), from ``Client.run``: ``read()``,
    ``save(path)`` (a folder: ``<task id>-<index>`` with the suffix of its content, ``.mp4``, ``.mp3``,
    ...; a file name: exactly that name), and ``to_pil()`` for an image."""


@dataclass(frozen=True, slots=True)
class AsyncResultFile(AsyncResultImage):
    """One result file of any kind, from ``AsyncClient.run`` (see ``ResultFile``)."""


@dataclass(frozen=True, slots=True)
class RunResult(EditResult):
    """A finished task of any model (from ``Client.run``): its ``files`` (images, video or audio, in the
    order of ``urls``) and its ``data`` (the parsed ``resultJson``, e.g. ``{"character_id": ...}``).

    Example::

        result = client.run("recraft/remove-background", input={"image": "photo.jpg"})
        result.save("out/")        # out/<task id>-0.png, the suffix from the file's content
        result.data                # {"resultUrls": [...]} (or what else the model answers)
    """

    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The task's ``resultJson``, parsed (``{}`` when it has none): ``resultUrls`` and any other keys."""

    @classmethod
    def from_info(cls, info: TaskInfo, client: _Downloader) -> RunResult:
        """Bind a finished task's record to the client that downloads its files."""
        from . import _api  # the catalog's adapter, loaded with the first client anyway

        files = tuple(ResultFile(url, i, info.task_id, client) for i, url in enumerate(info.result_urls))
        return cls(info.task_id, info.result_urls, info, client, files, _api.result_data(info))

    @property
    def files(self) -> tuple[ResultImage, ...]:
        """Each result file (a ``ResultFile``), in the order of ``urls``; empty for a data result."""
        return self.images

    def save(self, dest: Dest = ".") -> list[Path]:
        """Download every result file to ``dest``; return the paths written (none for a data result).

        The rule of ``EditResult.save``; in a folder, each file's suffix is that of its content.
        """
        return self._client.download(self, dest) if self.urls else []

    def bytes(self) -> list[builtins.bytes]:
        """Download every result file into memory."""
        return self._client.read_results(self) if self.urls else []


@dataclass(frozen=True, slots=True)
class AsyncRunResult(AsyncEditResult):
    """A finished task of any model (from ``AsyncClient.run``): ``files``, ``data``, and
    ``await result.save(dest)`` (see ``RunResult``)."""

    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The task's ``resultJson``, parsed (``{}`` when it has none)."""

    @classmethod
    def from_info(cls, info: TaskInfo, client: _AsyncDownloader) -> AsyncRunResult:
        """Bind a finished task's record to the client that downloads its files."""
        from . import _api  # as in RunResult.from_info

        files = tuple(AsyncResultFile(url, i, info.task_id, client) for i, url in enumerate(info.result_urls))
        return cls(info.task_id, info.result_urls, info, client, files, _api.result_data(info))

    @property
    def files(self) -> tuple[AsyncResultImage, ...]:
        """Each result file (an ``AsyncResultFile``), in the order of ``urls``."""
        return self.images

    async def save(self, dest: Dest = ".") -> list[Path]:
        """Download every result file to ``dest``; return the paths written (see ``RunResult.save``)."""
        return await self._client.download(self, dest) if self.urls else []

    async def bytes(self) -> list[builtins.bytes]:
        """Download every result file into memory."""
        return await self._client.read_results(self) if self.urls else []
