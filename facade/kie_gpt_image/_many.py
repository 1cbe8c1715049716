"""Many tasks at once: run one piece of work per item, a bounded number at a time, and hand back each
item's outcome as soon as it finishes (in the spirit of ``concurrent.futures.as_completed``).

``Client.edit_many``/``wait_many`` run on threads (one per item in progress, at most ``concurrency``);
``AsyncClient.edit_many``/``wait_many`` run as tasks of the event loop. Either way every item goes through
the client's one ``Scheduler``, so together they keep kie.ai's account limits (20 new tasks per 10 s, 100
running, 8 polls per second by default), and polls go out in the order they fell due. A failure is
handed back with its item (``ItemOutcome.error``, with the task id whenever a task exists) and never
stops the others. The CLI's ``batch`` runs its journaled items through ``as_completed_async``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._errors import InvalidInputError, KieError
from ._spend import guard_async, guard_sync

__all__ = [
    "EditRequest",
    "ItemOutcome",
    "Stopped",
    "as_completed_async",
    "as_completed_threads",
    "check_concurrency",
    "stop_requested",
]

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")


class EditRequest:
    """One edit of ``edit_many``: the arguments of ``Client.edit`` (``wait`` and ``on_progress`` aside).

    Example::

        EditRequest(["person.jpg", "dress.png"], "Dress her in the dress", quality="high")
    """

    __slots__ = ("images", "options", "prompt")

    def __init__(self, images: Any, prompt: str, **options: Any) -> None:
        """Args:
        images: the edit's images (as ``edit`` takes them).
        prompt: the edit instruction.
        options: other keyword arguments of ``edit`` (``aspect_ratio``, ``quality``, ``timeout`` ...).

        Raises:
            InvalidInputError: ``wait`` or ``on_progress`` given (``edit_many`` always waits).
        """
        for name in ("wait", "on_progress"):
            if name in options:
                raise InvalidInputError(name, "is not an option of one edit of edit_many")
        self.images = images
        """The images, as ``edit`` takes them."""
        self.prompt = prompt
        """The edit instruction."""
        self.options: Mapping[str, Any] = dict(options)
        """Other keyword arguments of ``edit``."""

    def __repr__(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"EditRequest({self.images!r}, {self.prompt!r}{options})"

    @classmethod
    def of(cls, request: object) -> EditRequest:
        """``request`` itself, or an ``EditRequest`` from a mapping of ``edit``'s keyword arguments."""
        if isinstance(request, EditRequest):
            return request
        if isinstance(request, Mapping):
            options = dict(request)
            if "images" not in options or "prompt" not in options:
                raise InvalidInputError("requests", "each request needs images and a prompt")
            return cls(options.pop("images"), options.pop("prompt"), **options)
        raise InvalidInputError(
            "requests", f"each request is an EditRequest or a mapping, not {type(request).__name__}"
        )


@dataclass(frozen=True, slots=True)
class ItemOutcome(Generic[R]):
    """How one item of ``edit_many``/``wait_many`` ended: a result or an error, never both."""

    index: int
    """The item's place in the requests (or task ids) given, from 0."""
    request: Any
    """The ``EditRequest`` (``edit_many``) or the task id (``wait_many``)."""
    result: R | None
    """The ``EditResult``/``AsyncEditResult`` on success, else ``None``."""
    error: KieError | None
    """What ended the item, else ``None``; the others go on regardless. An error that is not the
    library's own (a shared budget store that failed, say) comes as a ``KieError`` whose ``__cause__``
    is the original."""
    task_id: str | None
    """The kie.ai task id whenever a task exists (also on failure: resume with ``wait(task_id)``)."""

    @property
    def ok(self) -> bool:
        """Whether the item succeeded."""
        return self.error is None


def check_concurrency(concurrency: object) -> int:
    """``concurrency`` as a positive int, or a typed error."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInputError("concurrency", "must be a whole number of at least 1")
    return concurrency


def _item_error(exc: BaseException) -> KieError:
    """``exc`` as the item's ``KieError``: one item's failure that is not the client's own (a shared
    budget store going away, a bug in a callback) is still that item's outcome, with the original as
    ``__cause__``, so that the other items run on and each gets its outcome (their tasks are paid)."""
    if isinstance(exc, KieError):
        return exc
    task_id = getattr(exc, "task_id", None)
    error = KieError(
        f"{type(exc).__name__}: {' '.join(str(exc).split())}",
        task_id=task_id if isinstance(task_id, str) else None,
    )
    error.__cause__ = exc
    return error


def _outcome(index: int, item: Any, result: Any, error: KieError | None) -> ItemOutcome[Any]:
    task_id = getattr(result, "task_id", None) if error is None else error.task_id
    if task_id is None and error is None and isinstance(item, str):
        task_id = item
    return ItemOutcome(index, item, result if error is None else None, error, task_id)


# --------------------------------------------------------------------------------------- threads

_local = threading.local()


def stop_requested() -> threading.Event | None:
    """The stop event of the ``edit_many`` item this thread runs, if any: the sync driver checks it
    between effects so an abandoned iteration stops its threads instead of polling on for minutes."""
    event: threading.Event | None = getattr(_local, "stop", None)
    return event


class Stopped(Exception):
    """Internal: the iteration of ``edit_many``/``wait_many`` was abandoned; the item stops."""


def _model_of(request: object) -> str:
    from . import _api

    model = EditRequest.of(request).options.get("model")
    return model if isinstance(model, str) else _api.MODEL


def as_completed_threads(
    work: Callable[[I], R],
    items: Iterable[I],
    concurrency: int,
    *,
    max_credits: float | None = None,
    credits: Callable[[], float] | None = None,
) -> Iterator[ItemOutcome[R]]:
    """Run ``work(item)`` on up to ``concurrency`` threads; yield each outcome as it finishes.

    Items are drawn from ``items`` only as threads free up, so a long generator is never held whole.
    Any ``Exception`` is its item's outcome (``_item_error``); the other items go on.
    Breaking out of the loop (or closing the iterator) stops the items in progress at their next step.
    """
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    stop = threading.Event()
    if max_credits is not None and credits is not None:
        work = guard_sync(credits, work, max_credits, _model_of)

    def run(item: I) -> R:
        _local.stop = stop
        try:
            return work(item)
        finally:
            _local.stop = None

    source = enumerate(items)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kie-many")
    running: dict[Future[R], tuple[int, I]] = {}

    def refill() -> None:
        while len(running) < concurrency:
            nxt = next(source, None)
            if nxt is None:
                return
            running[pool.submit(run, nxt[1])] = nxt

    try:
        refill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index, item = running.pop(future)
                error = future.exception()
                if error is not None and not isinstance(error, Exception):
                    raise error
                yield _outcome(
                    index,
                    item,
                    None if error else future.result(),
                    None if error is None else _item_error(error),
                )
            refill()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------------------- event loop


async def as_completed_async(
    work: Callable[[I], Awaitable[R]],
    items: Iterable[I],
    concurrency: int,
    *,
    catch: bool = True,
    max_credits: float | None = None,
    credits: Callable[[], Awaitable[float]] | None = None,
) -> AsyncIterator[ItemOutcome[R]]:
    """Run ``work(item)`` as up to ``concurrency`` tasks; yield each outcome as it finishes.

    Any ``Exception`` is the item's outcome (a ``KieError``, or one wrapping it, ``_item_error``), and the
    others go on; unless ``catch`` is false: the CLI's batch handles the client's errors itself, so any
    that reaches here is a bug to raise. ``BaseException`` (a cancel, Ctrl-C) ends the run. Leaving the
    loop early (or closing the iterator) cancels the items in progress: their flows log the task ids
    that go on at kie.ai. ``max_credits`` and ``credits``: as ``as_completed_threads``.
    """
    import asyncio

    if max_credits is not None and credits is not None:
        work = guard_async(credits, work, max_credits, _model_of)

    source = enumerate(items)
    running: dict[asyncio.Task[R], tuple[int, I]] = {}

    def refill() -> None:
        while len(running) < concurrency:
            nxt = next(source, None)
            if nxt is None:
                return

            async def one(item: I = nxt[1]) -> R:
                return await work(item)

            running[asyncio.ensure_future(one())] = nxt

    try:
        refill()
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                index, item = running.pop(task)
                error = task.exception()
                if error is not None and not (catch and isinstance(error, Exception)):
                    raise error
                yield _outcome(
                    index,
                    item,
                    None if error else task.result(),
                    None if error is None else _item_error(error),
                )
            refill()
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
