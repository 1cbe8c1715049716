"""Notebooks: how results show themselves in Jupyter, and ``Progress``, a ready progress display.

The display helpers (``image_html``, ``result_html``, ``image_kind``) do no I/O at all: a repr must never
download (IPython calls reprs whenever it pleases, e.g. to complete a name). A result image whose bytes
were already read shows those bytes; otherwise the notebook's browser is handed the image's URL.

``Progress`` is the one public name here: given to ``on_progress`` it prints one line per task state
change; its ``track`` wraps ``edit_many``/``wait_many`` (or any iterable of outcomes) in a bar. It uses
tqdm when tqdm is installed (``tqdm.auto``: a widget in Jupyter, text in a terminal) and plain lines
otherwise; tqdm stays optional, imported only when a line or a bar is first shown.
"""

from __future__ import annotations

import base64
import html
import importlib
import sys
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, overload

from ._models import TaskInfo

__all__ = ["Progress", "image_html", "image_kind", "result_html", "task_line"]

T = TypeVar("T")

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
)


def image_kind(data: bytes | None) -> str | None:
    """``png``, ``jpeg``, ``gif`` or ``webp`` by the bytes' signature (not a name), else ``None``."""
    if not data:
        return None
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


class _Shown(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def index(self) -> int: ...
    @property
    def task_id(self) -> str: ...
    def _repr_bytes(self) -> bytes | None: ...


def image_html(image: _Shown) -> str:
    """An ``<img>`` of the image's bytes already read (a ``data:`` URI), else of its URL (escaped)."""
    alt = html.escape(f"result {image.index} of task {image.task_id}", quote=True)
    data = image._repr_bytes()
    kind = image_kind(data)
    if data is not None and kind is not None:
        encoded = base64.b64encode(data).decode("ascii")
        return f'<img src="data:image/{kind};base64,{encoded}" alt="{alt}" style="max-width: 100%">'
    if not image.url.lower().startswith(("https://", "http://")):
        return f"<code>{html.escape(image.url)}</code>"  # never a javascript: (or other) link
    url = html.escape(image.url, quote=True)
    return f'<a href="{url}"><img src="{url}" alt="{alt}" style="max-width: 100%"></a>'


def result_html(task_id: str, images: Sequence[_Shown]) -> str:
    """A result's images side by side, under its task id (all escaped)."""
    cells = "".join(
        f'<figure style="margin: 0 .5em .5em 0; max-width: 480px">{image_html(image)}</figure>'
        for image in images
    )
    caption = f"{len(images)} image{'s' if len(images) != 1 else ''} of task {task_id}"
    return (
        f'<div><div style="display: flex; flex-wrap: wrap">{cells}</div>'
        f"<small>{html.escape(caption)}</small></div>"
    )


# ------------------------------------------------------------------------------------------ progress


def task_line(info: TaskInfo) -> str:
    """One line for a state change: task id, model, state, seconds since creation, and what it ended with."""
    parts = [info.task_id, info.model or "?", info.raw_state or info.state.value]
    if info.elapsed is not None:
        parts.append(f"{info.elapsed:.1f} s")
    if info.state.value == "success":
        count = len(info.result_urls)
        parts.append(f"{count} result{'s' if count != 1 else ''}")
    if info.fail_code or info.fail_msg:
        parts.append(f"failed: [{info.fail_code or '?'}] {info.fail_msg or ''}".rstrip())
    if info.poll_error is not None and not info.task_id:  # no task yet: kie.ai keeps refusing the create
        parts.append("(createTask refused by kie.ai; resending within create_timeout, nothing charged)")
    elif info.poll_error is not None:
        parts.append(f"(poll failed: {type(info.poll_error).__name__}; retrying)")
    return "  ".join(parts)


def _tqdm() -> Any:
    """``tqdm.auto.tqdm`` when tqdm is installed, else ``None`` (looked up on each use; cheap once loaded)."""
    try:
        return importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return None


def _write(line: str) -> None:
    tqdm = _tqdm()
    if tqdm is not None:
        tqdm.write(line)  # above any bar in progress, not through it
    else:
        print(line, file=sys.stdout, flush=True)


def _describe(outcome: object) -> tuple[bool, str | None]:
    """Whether an item succeeded, and a line for one that did not (with its task id, when one exists)."""
    error = getattr(outcome, "error", None)
    if error is None:
        return True, None
    task_id = getattr(outcome, "task_id", None)
    index = getattr(outcome, "index", "?")
    where = f"item {index}" + (f" (task {task_id})" if task_id else "")
    return False, f"{where} failed: {type(error).__name__}: {error}"


class _Bar:
    """A bar over outcomes: tqdm's when installed, else one plain line per finished item."""

    def __init__(self, total: int | None) -> None:
        self._total = total
        self._done = 0
        self._failed = 0
        tqdm = _tqdm()
        self._tqdm = None if tqdm is None else tqdm(total=total, unit="task", desc="kie.ai")

    def step(self, outcome: object) -> None:
        ok, problem = _describe(outcome)
        self._done += 1
        self._failed += not ok
        if self._tqdm is not None:
            if problem is not None:
                self._tqdm.write(problem)
            self._tqdm.set_postfix(failed=self._failed, refresh=False)
            self._tqdm.update(1)
            return
        count = f"{self._done}/{self._total}" if self._total is not None else str(self._done)
        task_id = getattr(outcome, "task_id", None)
        line = problem or ("done" + (f" (task {task_id})" if task_id else ""))
        print(f"[{count}] {line}", file=sys.stdout, flush=True)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()


def _track(outcomes: Iterable[T], total: int | None) -> Iterator[T]:
    bar = _Bar(total)
    iterator = iter(outcomes)
    try:
        for outcome in iterator:
            bar.step(outcome)
            yield outcome
    finally:
        bar.close()
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # leaving the loop early stops edit_many's work, as without the bar


async def _track_async(outcomes: AsyncIterable[T], total: int | None) -> AsyncIterator[T]:
    bar = _Bar(total)
    iterator = aiter(outcomes)
    try:
        async for outcome in iterator:
            bar.step(outcome)
            yield outcome
    finally:
        bar.close()
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


class Progress:
    """A ready progress display: one line per task state change, and a bar over many tasks' outcomes.

    Uses tqdm when it is installed (``pip install tqdm``: a widget in Jupyter with ipywidgets, a bar in a
    terminal), plain lines otherwise. It never reads anything from kie.ai itself.

    Example::

        progress = kie.Progress()
        client.edit(images, prompt, on_progress=progress)   # task_… gpt-image/… generating 4.1 s
        for outcome in progress.track(client.edit_many(requests), total=len(requests)):
            ...                                              # a bar; a line for each failed item
        async for outcome in progress.track(async_client.edit_many(requests), total=len(requests)):
            ...
    """

    def __call__(self, info: TaskInfo) -> None:
        """Print ``info``'s line (an ``on_progress`` callback): task id, model, state, seconds since it
        was created, and its results or failure."""
        _write(task_line(info))

    @overload
    def track(self, outcomes: AsyncIterable[T], *, total: int | None = None) -> AsyncIterator[T]: ...
    @overload
    def track(self, outcomes: Iterable[T], *, total: int | None = None) -> Iterator[T]: ...
    def track(self, outcomes: object, *, total: int | None = None) -> object:
        """The same outcomes, advancing a bar as each arrives, with a line for each that failed (with its
        task id).

        Leaving the loop early closes ``outcomes`` (``edit_many`` then stops its work, as without the bar).

        Args:
            outcomes: an iterable or async iterable of outcomes (``edit_many``, ``wait_many``).
            total: the number of outcomes expected (``len(requests)``), for the bar's length.

        Raises:
            TypeError: ``outcomes`` is not iterable.
        """
        if isinstance(outcomes, AsyncIterable):
            return _track_async(outcomes, total)
        if isinstance(outcomes, Iterable):
            return _track(outcomes, total)
        raise TypeError(f"Progress.track takes the outcomes of edit_many, not {type(outcomes).__name__}")
