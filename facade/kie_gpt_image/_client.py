"""``Client`` and ``AsyncClient``: configuration, the two thin drivers of the shared flows, and the
public methods (identical names on both; only ``close``/``aclose`` differ)."""

from __future__ import annotations

import inspect
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Generator, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, overload

import httpx

from . import _inputs
from ._download import FileSink, MemorySink, result_file_name
from ._errors import DownloadError, InvalidInputError, MissingApiKeyError
from ._flow import Fetch, Flow, Flows, Notify, Send, Sleep
from ._models import Task, TaskInfo, UploadedFile
from ._policies import PollPolicy, RetryPolicy
from ._results import AsyncEditResult, EditResult

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPLOAD_BASE_URL",
    "AsyncClient",
    "Client",
    "ProgressCallback",
]

logger = logging.getLogger("kie_gpt_image")

DEFAULT_BASE_URL = "https://api.kie.ai"
"""kie.ai's API host (createTask, recordInfo, credits, download-url)."""
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
"""kie.ai's File Upload API host (reference §"Hosts and auth": api.kie.ai answers 404 for uploads)."""
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""Per-request timeout: 10 s to connect, 60 s for each read/write (a 10 MB upload on a slow link)."""
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""httpx's own default pool: fine for one edit at a time; see ``limits`` for many at once."""
DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
"""Result downloads larger than this are refused."""
DEFAULT_UPLOAD_PATH = "images/kie-gpt-image"

ProgressCallback = Callable[[TaskInfo], object]
"""Called with the task's record each time its state changes (``AsyncClient`` also awaits an
``async def`` callback)."""

T = TypeVar("T")
_CAUGHT = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError)
_USER_AGENT = "kie-gpt-image"


class _Secret:
    """Holds the API key so that no repr, log line or traceback local shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<API key hidden>"


class _BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <key>`` inside httpx's auth step, so that no frame of ours holds
    the header: error reporters that capture locals (Sentry, rich) see only this object's repr."""

    def __init__(self, key: _Secret) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "<bearer auth, key hidden>"


def _resolve_key(api_key: str | None) -> _Secret:
    key = api_key if api_key is not None else os.environ.get("KIE_API_KEY")
    if key is None or not key.strip():
        raise MissingApiKeyError()
    key = key.strip()
    if not key.isprintable() or any(c.isspace() for c in key):
        raise InvalidInputError("api_key", "contains whitespace or control characters")
    return _Secret(key)


def _check_base_url(field: str, url: str) -> str:
    return _inputs.check_url(field, url).rstrip("/")


class _BaseClient:
    """What both clients share: configuration, input checks, and the flows."""

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str,
        upload_base_url: str,
        max_retries: int | None,
        retry_policy: RetryPolicy | None,
        poll_policy: PollPolicy | None,
        max_download_bytes: int,
        upload_path: str,
        allow_http_callback: bool,
        clock: Callable[[], float],
        rand: Callable[[], float],
    ) -> None:
        self._auth = _BearerAuth(_resolve_key(api_key))
        self.base_url = _check_base_url("base_url", base_url)
        """The API host."""
        self.upload_base_url = _check_base_url("upload_base_url", upload_base_url)
        """The File Upload API host."""
        if retry_policy is None:
            retry_policy = RetryPolicy() if max_retries is None else RetryPolicy(max_retries=max_retries)
        elif max_retries is not None:
            raise InvalidInputError("max_retries", "give max_retries or retry_policy, not both")
        if max_download_bytes <= 0:
            raise InvalidInputError("max_download_bytes", "must be positive")
        self.max_download_bytes = max_download_bytes
        """Cap on the size of one downloaded result."""
        self.allow_http_callback = allow_http_callback
        """Whether a plain-http ``callback_url`` is accepted (loopback tests)."""
        self._flows = Flows(
            retry=retry_policy,
            poll=poll_policy or PollPolicy(),
            clock=clock,
            rand=rand,
            upload_path=upload_path,
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._flows.retry

    @property
    def poll_policy(self) -> PollPolicy:
        """The polling policy in force."""
        return self._flows.poll

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, upload_base_url={self.upload_base_url!r})"

    # ------------------------------------------------------------------ flows with checked inputs

    def _edit_flow(
        self,
        images: object,
        prompt: object,
        aspect_ratio: object,
        quality: object,
        callback_url: object,
        *,
        wait: bool,
        timeout: float | None,
    ) -> Flow[Task | TaskInfo]:
        # Every check runs here, before the flow yields its first request.
        sources = _inputs.check_images(images)
        text = _inputs.check_prompt(prompt)
        ratio = _inputs.check_aspect_ratio(aspect_ratio)
        level = _inputs.check_quality(quality)
        callback = (
            None
            if callback_url is None
            else _inputs.check_callback_url(callback_url, allow_http=self.allow_http_callback)
        )
        _check_timeout(timeout)
        return self._flows.edit(sources, text, ratio, level, callback, wait=wait, timeout=timeout)

    def _upload_flow(self, source: object, file_name: str | None, method: str) -> Flow[UploadedFile]:
        if method not in ("stream", "base64"):
            raise InvalidInputError("method", f"{method!r} is not one of stream, base64")
        if file_name is not None and (not isinstance(file_name, str) or not file_name or "/" in file_name):
            raise InvalidInputError("file_name", "must be a non-empty name without '/'")
        checked = _inputs.check_image("source", source)
        if isinstance(checked, str):
            return self._flows.upload_url(checked, file_name=file_name)
        return self._flows.upload_local(checked, method=method, file_name=file_name)

    def _request(self, effect: Send) -> tuple[str, str, dict[str, Any]]:
        spec = effect.request
        kwargs = dict(spec.kwargs)
        method = kwargs.pop("method").upper()
        base = self.base_url if spec.host == "api" else self.upload_base_url
        url = base + kwargs.pop("url")
        kwargs["headers"] = {**kwargs.pop("headers", {}), "User-Agent": _USER_AGENT}
        # Only kie.ai requests get the key; result downloads (other hosts) are sent without auth.
        kwargs["auth"] = self._auth
        logger.debug("%s %s (attempt %d)", method, spec.operation, effect.attempt + 1)
        return method, url, kwargs

    @staticmethod
    def _log_reply(response: httpx.Response) -> None:
        logger.debug(
            "%s %s -> HTTP %d", response.request.method, response.request.url.path, response.status_code
        )

    def _download_plan(
        self, result: EditResult | AsyncEditResult | TaskInfo, dest: object
    ) -> tuple[str, list[FileSink]]:
        info = result.info if isinstance(result, (EditResult, AsyncEditResult)) else result
        if not isinstance(info, TaskInfo) or not info.result_urls:
            raise InvalidInputError("result", "give an EditResult or a TaskInfo that has result URLs")
        if not isinstance(dest, (str, os.PathLike)):
            raise InvalidInputError("dest", f"must be a folder path, not {type(dest).__name__}")
        folder = Path(dest)
        if folder.exists() and not folder.is_dir():
            raise InvalidInputError("dest", f"{str(folder)!r} exists and is not a folder")
        return info.task_id, [
            FileSink(url, self.max_download_bytes, folder / result_file_name(info.task_id, i, url))
            for i, url in enumerate(info.result_urls)
        ]


async def _asyncio_sleep(seconds: float) -> None:
    # asyncio is imported on first use: sync users never pay for it.
    import asyncio

    await asyncio.sleep(seconds)


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout < 0):
        raise InvalidInputError("timeout", "must be a non-negative number of seconds")


def _check_one_of(http_client: object, transport: object) -> None:
    if http_client is not None and transport is not None:
        raise InvalidInputError("transport", "give transport or http_client, not both")


def _check_task_id(task_id: object) -> str:
    if not isinstance(task_id, str) or not task_id.strip():
        raise InvalidInputError("task_id", "must be a non-empty string")
    return task_id.strip()


class Client(_BaseClient):
    """Synchronous client for kie.ai's GPT Image 1.5 image-to-image model.

    Example::

        with kie_gpt_image.Client() as client:          # key from KIE_API_KEY, or api_key=...
            result = client.edit(images=["person.jpg", "dress.png"], prompt="Dress her in ...")
            result.save("out/")

    Args:
        api_key: kie.ai API key; defaults to the ``KIE_API_KEY`` environment variable.
        base_url: API host.
        upload_base_url: File Upload API host.
        timeout: per-request timeout (seconds or ``httpx.Timeout``); ignored with ``http_client``.
        limits: connection-pool limits (``httpx.Limits``); raise ``max_keepalive_connections`` to the
            number of concurrent edits so connections are reused; ignored with ``http_client`` or
            ``transport`` (httpx applies pool limits to its own transport only).
        max_retries: retries for reads and uploads (createTask is never blindly resent).
        retry_policy: a full ``RetryPolicy`` instead of ``max_retries``.
        poll_policy: how ``wait`` polls (defaults to kie.ai's documented schedule, 15 min timeout).
        max_download_bytes: cap on one downloaded result.
        upload_path: the ``uploadPath`` for uploaded inputs.
        allow_http_callback: accept plain-http callback URLs (e.g. loopback tests).
        transport: an httpx transport for all traffic (tests, the emulator, proxies).
        http_client: your own ``httpx.Client`` (it must not carry kie.ai credentials itself: results are
            downloaded through it from other hosts).
        sleep: the sleep function (tests inject one that does not wait).
        clock: a monotonic clock in seconds.

    Raises:
        MissingApiKeyError: no key given and ``KIE_API_KEY`` unset.
        InvalidInputError: an invalid setting.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        upload_path: str = DEFAULT_UPLOAD_PATH,
        allow_http_callback: bool = False,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            upload_base_url=upload_base_url,
            max_retries=max_retries,
            retry_policy=retry_policy,
            poll_policy=poll_policy,
            max_download_bytes=max_download_bytes,
            upload_path=upload_path,
            allow_http_callback=allow_http_callback,
            clock=clock,
            rand=rand,
        )
        _check_one_of(http_client, transport)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, limits=limits, transport=transport)
        self._sleep = sleep

    # --------------------------------------------------------------------------- the driver

    def _run(self, flow: Flow[T], on_progress: ProgressCallback | None = None) -> T:
        value: Any = None
        while True:
            try:
                effect = flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = None
            if isinstance(effect, Send):
                value = self._send(effect)
            elif isinstance(effect, Sleep):
                self._sleep(effect.seconds)
            elif isinstance(effect, Notify):
                if on_progress is not None:
                    on_progress(effect.info)
            elif isinstance(effect, Fetch):
                value = self._fetch(effect)

    def _send(self, effect: Send) -> httpx.Response | Exception:
        try:
            method, url, kwargs = self._request(effect)
            response = self._http.request(method, url, **kwargs)
            self._log_reply(response)
            return response
        except _CAUGHT as exc:
            return exc
        finally:
            if effect.request.close is not None:
                effect.request.close()

    def _fetch(self, effect: Fetch) -> Exception | None:
        sink = effect.sink
        try:
            with self._http.stream(
                "GET", effect.url, headers={"User-Agent": _USER_AGENT}, follow_redirects=True
            ) as response:
                sink.start(response.status_code, response.headers)
                for chunk in response.iter_bytes():
                    sink.write(chunk)
            sink.finish()
            return None
        except (DownloadError, *_CAUGHT) as exc:
            return exc

    # --------------------------------------------------------------------------- public methods

    @overload
    def edit(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = ...,
        quality: str | None = ...,
        callback_url: str | None = ...,
        wait: Literal[True] = ...,
        timeout: float | None = ...,
        on_progress: ProgressCallback | None = ...,
    ) -> EditResult: ...

    @overload
    def edit(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = ...,
        quality: str | None = ...,
        callback_url: str | None = ...,
        wait: Literal[False],
        timeout: float | None = ...,
        on_progress: ProgressCallback | None = ...,
    ) -> Task: ...

    def edit(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = None,
        quality: str | None = None,
        callback_url: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> EditResult | Task:
        """Edit images: upload local inputs, create the task, wait for and return the result.

        Args:
            images: 1-16 inputs: paths, bytes, binary file objects, or http(s) URLs (passed through).
            prompt: the edit instruction.
            aspect_ratio: one of the spec's ratios (default the spec's default, ``3:2``).
            quality: one of the spec's qualities (default ``medium``).
            callback_url: https URL kie.ai will POST the result to.
            wait: ``False`` returns the ``Task`` as soon as it is created.
            timeout: wait timeout in seconds (default the poll policy's).
            on_progress: called with the ``TaskInfo`` on every state change.

        Returns:
            ``EditResult`` (or ``Task`` with ``wait=False``).

        Raises:
            InvalidInputError: a bad argument (nothing was sent).
            TaskFailedError: the task failed. WaitTimeoutError: it did not finish in time (carries the
            task id). SubmissionOutcomeUnknownError: createTask's outcome is unknown. APIError,
            TransportError, UnexpectedResponseError: see the exception tree.
        """
        outcome = self._run(
            self._edit_flow(images, prompt, aspect_ratio, quality, callback_url, wait=wait, timeout=timeout),
            on_progress,
        )
        return outcome if isinstance(outcome, Task) else EditResult._of(outcome, self)

    def create_task(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = None,
        quality: str | None = None,
        callback_url: str | None = None,
    ) -> Task:
        """Upload local inputs and create the task; return at once with its id (same arguments as
        ``edit``). Follow up with ``wait(task.task_id)`` or a callback."""
        return self.edit(
            images, prompt, aspect_ratio=aspect_ratio, quality=quality, callback_url=callback_url, wait=False
        )

    def get_task(self, task_id: str) -> TaskInfo:
        """The task's current record (recordInfo)."""
        return self._run(self._flows.get_task(_check_task_id(task_id)))

    def wait(
        self, task_id: str, *, timeout: float | None = None, on_progress: ProgressCallback | None = None
    ) -> EditResult:
        """Poll until the task finishes. Needs only the id, so it resumes after a crash or a timeout.

        Raises:
            TaskFailedError, WaitTimeoutError (both carry the task id), and request errors.
        """
        _check_timeout(timeout)
        info = self._run(self._flows.wait(_check_task_id(task_id), timeout), on_progress)
        return EditResult._of(info, self)

    def upload(
        self, source: _inputs.ImageInput, *, file_name: str | None = None, method: str = "stream"
    ) -> UploadedFile:
        """Upload one image (path, bytes, binary file, or an http(s) URL that kie.ai fetches).

        Args:
            source: the image.
            file_name: store under this name (an existing file of that name is overwritten).
            method: ``stream`` (multipart, default) or ``base64`` (small files).
        """
        return self._run(self._upload_flow(source, file_name, method))

    def credits(self) -> float:
        """The account's remaining credits."""
        return self._run(self._flows.credits())

    def download_url(self, url: str) -> str:
        """A temporary (about 20 minutes) direct-download URL for a kie.ai-generated file."""
        return self._run(self._flows.download_url(_inputs.check_url("url", url)))

    def download(self, result: EditResult | TaskInfo, dest: str | os.PathLike[str] = ".") -> list[Path]:
        """Download every result image into the folder ``dest``; return the paths written."""
        task_id, sinks = self._download_plan(result, dest)
        for sink in sinks:
            self._run(self._flows.fetch(sink.url, sink, task_id))
        return [sink.path for sink in sinks]

    def _read(self, info: TaskInfo) -> list[bytes]:
        sinks = [MemorySink(url, self.max_download_bytes) for url in info.result_urls]
        for sink in sinks:
            self._run(self._flows.fetch(sink.url, sink, info.task_id))
        return [sink.content for sink in sinks]

    def close(self) -> None:
        """Close the connection pool (unless you passed your own ``http_client``)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
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
        base_url: str = DEFAULT_BASE_URL,
        upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        upload_path: str = DEFAULT_UPLOAD_PATH,
        allow_http_callback: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            upload_base_url=upload_base_url,
            max_retries=max_retries,
            retry_policy=retry_policy,
            poll_policy=poll_policy,
            max_download_bytes=max_download_bytes,
            upload_path=upload_path,
            allow_http_callback=allow_http_callback,
            clock=clock,
            rand=rand,
        )
        _check_one_of(http_client, transport)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport)
        self._sleep = sleep or _asyncio_sleep

    # --------------------------------------------------------------------------- the driver

    async def _run(self, flow: Flow[T], on_progress: ProgressCallback | None = None) -> T:
        value: Any = None
        while True:
            try:
                effect = flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = None
            if isinstance(effect, Send):
                value = await self._send(effect)
            elif isinstance(effect, Sleep):
                await self._sleep(effect.seconds)
            elif isinstance(effect, Notify):
                if on_progress is not None:
                    outcome = on_progress(effect.info)
                    if inspect.isawaitable(outcome):  # an ``async def`` callback
                        await outcome
            elif isinstance(effect, Fetch):
                value = await self._fetch(effect)

    async def _send(self, effect: Send) -> httpx.Response | Exception:
        try:
            method, url, kwargs = self._request(effect)
            response = await self._http.request(method, url, **kwargs)
            self._log_reply(response)
            return response
        except _CAUGHT as exc:
            return exc
        finally:
            if effect.request.close is not None:
                effect.request.close()

    async def _fetch(self, effect: Fetch) -> Exception | None:
        sink = effect.sink
        try:
            async with self._http.stream(
                "GET", effect.url, headers={"User-Agent": _USER_AGENT}, follow_redirects=True
            ) as response:
                sink.start(response.status_code, response.headers)
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
            sink.finish()
            return None
        except (DownloadError, *_CAUGHT) as exc:
            return exc

    # --------------------------------------------------------------------------- public methods

    @overload
    async def edit(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = ...,
        quality: str | None = ...,
        callback_url: str | None = ...,
        wait: Literal[True] = ...,
        timeout: float | None = ...,
        on_progress: ProgressCallback | None = ...,
    ) -> AsyncEditResult: ...

    @overload
    async def edit(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = ...,
        quality: str | None = ...,
        callback_url: str | None = ...,
        wait: Literal[False],
        timeout: float | None = ...,
        on_progress: ProgressCallback | None = ...,
    ) -> Task: ...

    async def edit(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = None,
        quality: str | None = None,
        callback_url: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AsyncEditResult | Task:
        """Edit images (see ``Client.edit``)."""
        outcome = await self._run(
            self._edit_flow(images, prompt, aspect_ratio, quality, callback_url, wait=wait, timeout=timeout),
            on_progress,
        )
        return outcome if isinstance(outcome, Task) else AsyncEditResult._of(outcome, self)

    async def create_task(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = None,
        quality: str | None = None,
        callback_url: str | None = None,
    ) -> Task:
        """Upload local inputs and create the task; return at once (see ``Client.create_task``)."""
        return await self.edit(
            images, prompt, aspect_ratio=aspect_ratio, quality=quality, callback_url=callback_url, wait=False
        )

    async def get_task(self, task_id: str) -> TaskInfo:
        """The task's current record (recordInfo)."""
        return await self._run(self._flows.get_task(_check_task_id(task_id)))

    async def wait(
        self, task_id: str, *, timeout: float | None = None, on_progress: ProgressCallback | None = None
    ) -> AsyncEditResult:
        """Poll until the task finishes (see ``Client.wait``)."""
        _check_timeout(timeout)
        info = await self._run(self._flows.wait(_check_task_id(task_id), timeout), on_progress)
        return AsyncEditResult._of(info, self)

    async def upload(
        self, source: _inputs.ImageInput, *, file_name: str | None = None, method: str = "stream"
    ) -> UploadedFile:
        """Upload one image (see ``Client.upload``)."""
        return await self._run(self._upload_flow(source, file_name, method))

    async def credits(self) -> float:
        """The account's remaining credits."""
        return await self._run(self._flows.credits())

    async def download_url(self, url: str) -> str:
        """A temporary direct-download URL for a kie.ai-generated file."""
        return await self._run(self._flows.download_url(_inputs.check_url("url", url)))

    async def download(
        self, result: EditResult | AsyncEditResult | TaskInfo, dest: str | os.PathLike[str] = "."
    ) -> list[Path]:
        """Download every result image into the folder ``dest``; return the paths written."""
        task_id, sinks = self._download_plan(result, dest)
        for sink in sinks:
            await self._run(self._flows.fetch(sink.url, sink, task_id))
        return [sink.path for sink in sinks]

    async def _read(self, info: TaskInfo) -> list[bytes]:
        sinks = [MemorySink(url, self.max_download_bytes) for url in info.result_urls]
        for sink in sinks:
            await self._run(self._flows.fetch(sink.url, sink, info.task_id))
        return [sink.content for sink in sinks]

    async def aclose(self) -> None:
        """Close the connection pool (unless you passed your own ``http_client``)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
