"""``AsyncClient``: ``Client``'s public methods as coroutines (``aclose`` for ``close``), each a thin call of
the shared flows run by ``_drivers.AsyncDriver``. What both clients share (the settings, the properties,
the constructor's option handling) is ``_base_client.BaseClient``; a test checks that both keep the same
parameters in every public method.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

import httpx

from ._base_client import BaseClient, ProgressCallback, check_one_of, check_wait_timeout, shared_options
from ._raw import AsyncRawResponses
from ._settings import (
    DEFAULT_CREATE_TIMEOUT,
    DEFAULT_LIMITS,
    DEFAULT_MAX_REPLY_BYTES,
    DEFAULT_TIMEOUT,
    DEFAULT_UPLOAD_PATH,
    Settings,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from . import _api, _inputs
    from ._drivers import AsyncDriver
    from ._flow import Flow
    from ._many import EditRequest, ItemOutcome
    from ._models import Task, TaskInfo, UploadedFile
    from ._policies import PollPolicy, RetryPolicy
    from ._progress import UploadProgressCallback
    from ._results import AsyncEditResult, AsyncResultImage, AsyncRunResult, EditResult, ResultImage
    from ._scheduler import RateLimits
    from ._webhooks import Headers

    Images = Iterable[_inputs.ImageInput] | _inputs.ImageInput
    """What ``images=`` accepts: one image or several (see ``_inputs.ImageInput``)."""

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(BaseClient):
    """Asynchronous client: the same methods as ``Client``, as coroutines (``aclose`` for ``close``).

    Example::

        async with kie_gpt_image.AsyncClient() as client:
            result = await client.edit(images=["person.jpg"], prompt="...")
            await result.save("out/")

    Arguments are those of ``Client``, with ``httpx.AsyncBaseTransport``/``httpx.AsyncClient`` and an
    async ``sleep``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        upload_base_url: str | None = None,
        webhook_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_download_bytes: int | Mapping[str, int] | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        request_timeout: float | None = None,
        download_timeout: float | None = None,
        create_timeout: float = DEFAULT_CREATE_TIMEOUT,
        upload_path: str = DEFAULT_UPLOAD_PATH,
        allow_http_callback: bool = False,
        allow_insecure_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        rate_limits: RateLimits | None = None,
    ) -> None:
        options = shared_options(locals())  # first: before any other local exists
        check_one_of(http_client, transport)
        settings = Settings.resolve(options, timeout=None if http_client is None else http_client.timeout)
        from ._drivers import AsyncDriver  # the machinery, with the first client

        self._start(AsyncDriver(settings, transport=transport, http_client=http_client, sleep=sleep))

    _driver: AsyncDriver

    async def _run(self, flow: Flow[T], on_progress: ProgressCallback | None = None) -> T:
        return await self._driver.run(flow, on_progress)

    async def _submit(
        self,
        images: object | None,
        prompt: str,
        *,
        model: object,
        options: Mapping[str, object],
        kind: _inputs.TaskKind = "any",
        callback_url: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
        create_timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        on_upload_progress: UploadProgressCallback | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> AsyncEditResult | Task:
        """``edit``/``generate`` for a model and options known only at run time (the batch)."""
        flow = self._driver.task(
            kind,
            model,
            images,
            prompt,
            callback_url,
            options,
            wait=wait,
            timeout=timeout,
            create_timeout=create_timeout,
            on_upload_progress=on_upload_progress,
            on_submit=on_submit,
        )
        outcome = await self._run(flow, on_progress)
        return self._driver.outcome(outcome, self)

    # Typed per model as Client's are (see there); the runtime methods check against the same catalog.
    if TYPE_CHECKING:
        edit: _api.EditCall[
            Images,
            ProgressCallback,
            UploadProgressCallback,
            Coroutine[Any, Any, AsyncEditResult],
            Coroutine[Any, Any, Task],
        ]
        create_task: _api.CreateTaskCall[Images, UploadProgressCallback, Coroutine[Any, Any, Task]]
        generate: _api.GenerateCall[
            ProgressCallback, Coroutine[Any, Any, AsyncEditResult], Coroutine[Any, Any, Task]
        ]

    if not TYPE_CHECKING:  # the implementations (documented; their typed signatures are above)

        async def edit(
            self,
            images,
            prompt,
            *,
            model=None,
            callback_url=None,
            wait=True,
            timeout=None,
            on_progress=None,
            on_upload_progress=None,
            **options,
        ):
            """Edit images (see ``Client.edit``).

            Overloads (what a type checker sees: one pair per model, generated from its document in
            ``kie_api.model_methods.EditCall``; the return type follows ``wait``)::

                edit(images, prompt, *, model=..., wait: Literal[True] = True, ...) -> AsyncEditResult
                edit(images, prompt, *, model=..., wait: Literal[False], ...) -> Task
            """
            return await self._submit(
                images,
                prompt,
                model=model,
                options=options,
                kind="edit",
                callback_url=callback_url,
                wait=wait,
                timeout=timeout,
                on_progress=on_progress,
                on_upload_progress=on_upload_progress,
            )

        async def create_task(
            self,
            images,
            prompt,
            *,
            model=None,
            callback_url=None,
            timeout=None,
            on_upload_progress=None,
            **options,
        ):
            """Upload local inputs and create the task; return at once (see ``Client.create_task``;
            ``timeout`` is the create step's deadline)."""
            return await self._submit(
                images,
                prompt,
                model=model,
                options=options,
                kind="edit",
                callback_url=callback_url,
                wait=False,
                create_timeout=timeout,
                on_upload_progress=on_upload_progress,
            )

        async def generate(
            self,
            prompt,
            *,
            model=None,
            callback_url=None,
            wait=True,
            timeout=None,
            on_progress=None,
            **options,
        ):
            """Generate images from a prompt alone (see ``Client.generate``)."""
            return await self._submit(
                None,
                prompt,
                model=model,
                options=options,
                kind="generate",
                callback_url=callback_url,
                wait=wait,
                timeout=timeout,
                on_progress=on_progress,
            )

    async def get_task(self, task_id: str) -> TaskInfo:
        """The task's current record (recordInfo)."""
        return await self._run(self._driver.get_task(task_id))

    async def wait(
        self, task_id: str, *, timeout: float | None = None, on_progress: ProgressCallback | None = None
    ) -> AsyncEditResult:
        """Poll until the task finishes (see ``Client.wait``)."""
        info = await self._run(self._driver.wait(task_id, timeout), on_progress)
        return self._driver.result(info, self)

    def edit_many(
        self,
        requests: Iterable[EditRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        max_credits: float | None = None,
    ) -> AsyncIterator[ItemOutcome[AsyncEditResult]]:
        """Run many edits as tasks of the event loop; ``async for`` each one's ``ItemOutcome`` as soon
        as it finishes (see ``Client.edit_many``). Leaving the loop early cancels the edits in progress."""
        limit = self._driver.concurrency(concurrency)

        async def one(request: EditRequest | Mapping[str, Any]) -> AsyncEditResult:
            edit = self._driver.edit_request(request)
            result: AsyncEditResult = await self.edit(edit.images, edit.prompt, **edit.options)
            return result

        return self._driver.many(one, requests, limit, max_credits=max_credits, credits=self.credits)

    def wait_many(
        self,
        task_ids: Iterable[str],
        *,
        timeout: float | None = None,
        concurrency: int | None = None,
    ) -> AsyncIterator[ItemOutcome[AsyncEditResult]]:
        """Wait for many tasks at once; ``async for`` each one's ``ItemOutcome`` as soon as it finishes
        (see ``Client.wait_many``)."""
        check_wait_timeout(timeout)
        limit = self._driver.concurrency(concurrency)

        async def one(task_id: str) -> AsyncEditResult:
            return await self.wait(task_id, timeout=timeout)

        return self._driver.many(one, task_ids, limit)

    async def upload(
        self,
        source: _inputs.ImageInput,
        *,
        file_name: str | None = None,
        method: str = "stream",
        on_upload_progress: UploadProgressCallback | None = None,
    ) -> UploadedFile:
        """Upload one image (see ``Client.upload``)."""
        return await self._run(self._driver.upload(source, file_name, method, on_upload_progress))

    async def credits(self) -> float:
        """The account's remaining credits."""
        return await self._run(self._driver.credits())

    async def download_url(self, url: str) -> str:
        """A temporary direct-download URL for a kie.ai-generated file."""
        return await self._run(self._driver.download_url(url))

    async def download(
        self,
        result: EditResult | AsyncEditResult | ResultImage | AsyncResultImage | TaskInfo,
        dest: str | os.PathLike[str] = ".",
    ) -> list[Path]:
        """Download result images to ``dest``; return the paths written (see ``Client.download``)."""
        task_id, sinks = self._driver.download_plan(result, dest)
        await self._driver.fetch_all(task_id, sinks)
        return [sink.path for sink in sinks]

    async def read_results(
        self, result: EditResult | AsyncEditResult | ResultImage | AsyncResultImage | TaskInfo
    ) -> list[bytes]:
        """Download result images into memory (``AsyncEditResult.bytes()``, ``AsyncResultImage.read()``)."""
        task_id, sinks = self._driver.memory_plan(result)
        await self._driver.fetch_all(task_id, sinks)
        return [sink.content for sink in sinks]

    async def handle_callback(
        self, body: bytes, headers: Headers, *, tolerance: float | None = None
    ) -> TaskInfo:
        """Verify a kie.ai callback and read its task from kie.ai (see ``Client.handle_callback``)."""
        task_id, timestamp, window = self._driver.verify_callback(body, headers, tolerance)
        info = await self.get_task(task_id)
        self._driver.callbacks.accept(task_id, timestamp, window)
        return info

    @property
    def with_raw_response(self) -> AsyncRawResponses:
        """The kie.ai coroutines, returning a ``RawResponse`` (see ``Client.with_raw_response``)."""
        return AsyncRawResponses(self)

    # ------------------------------------------------------------------ any model, replicate-style

    @overload
    async def run(
        self,
        model: str,
        input: Mapping[str, Any] | None = None,
        *,
        wait: Literal[True] = True,
        validate: bool = True,
        callback_url: str | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        on_upload_progress: UploadProgressCallback | None = None,
    ) -> AsyncRunResult: ...

    @overload
    async def run(
        self,
        model: str,
        input: Mapping[str, Any] | None = None,
        *,
        wait: Literal[False],
        validate: bool = True,
        callback_url: str | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        on_upload_progress: UploadProgressCallback | None = None,
    ) -> Task: ...

    async def run(
        self,
        model: str,
        input: Mapping[str, Any] | None = None,
        *,
        wait: bool = True,
        validate: bool = True,
        callback_url: str | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        on_upload_progress: UploadProgressCallback | None = None,
    ) -> AsyncRunResult | Task:
        """Run any model of the catalog with its own ``input`` fields: ``Client.run``, awaited.

        Returns:
            ``AsyncRunResult`` (its ``files`` and ``data``), or ``Task`` with ``wait=False``.

        Raises:
            InvalidInputError: a bad model, field or file (nothing was sent); the task and request errors
                as for ``edit``.
        """
        flow = self._driver.run_model(
            model,
            input,
            wait=wait,
            validate=validate,
            callback_url=callback_url,
            timeout=timeout,
            on_upload_progress=on_upload_progress,
        )
        return self._driver.run_outcome(await self._run(flow, on_progress), self)

    async def aclose(self) -> None:
        """Close the connection pool (unless you passed your own ``http_client``); calls made after, or
        in flight, raise ``ClientClosedError``."""
        await self._driver.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
