"""The result of a finished edit, with download helpers bound to the client that produced it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ._models import TaskInfo

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

__all__ = ["AsyncEditResult", "EditResult"]


@dataclass(frozen=True, slots=True)
class _ResultBase:
    task_id: str
    """kie.ai's task id."""
    urls: tuple[str, ...]
    """Result image URLs (kie.ai keeps generated files for 14 days: download promptly)."""
    info: TaskInfo = field(repr=False)
    """The task's final record."""


@dataclass(frozen=True, slots=True)
class EditResult(_ResultBase):
    """A successful edit (from ``Client``): result URLs plus ``save``/``bytes`` helpers."""

    _client: Client = field(repr=False, compare=False)

    @classmethod
    def from_info(cls, info: TaskInfo, client: Client) -> EditResult:
        """Bind a finished task's record to the client that downloads its results."""
        return cls(info.task_id, info.result_urls, info, client)

    def save(self, dest: str | os.PathLike[str] = ".") -> list[Path]:
        """Download every result image into the folder ``dest`` (created if needed); return the paths."""
        return self._client.download(self, dest)

    def bytes(self) -> list[bytes]:
        """Download every result image into memory."""
        return self._client.read_results(self)


@dataclass(frozen=True, slots=True)
class AsyncEditResult(_ResultBase):
    """A successful edit (from ``AsyncClient``): ``await result.save(dest)``, ``await result.bytes()``."""

    _client: AsyncClient = field(repr=False, compare=False)

    @classmethod
    def from_info(cls, info: TaskInfo, client: AsyncClient) -> AsyncEditResult:
        """Bind a finished task's record to the client that downloads its results."""
        return cls(info.task_id, info.result_urls, info, client)

    async def save(self, dest: str | os.PathLike[str] = ".") -> list[Path]:
        """Download every result image into the folder ``dest`` (created if needed); return the paths."""
        return await self._client.download(self, dest)

    async def bytes(self) -> list[bytes]:
        """Download every result image into memory."""
        return await self._client.read_results(self)
