"""``Client`` and ``AsyncClient``: configuration, the two thin drivers of the shared flows, and the
public methods (identical names on both; only ``close``/``aclose`` differ)."""

from __future__ import annotations

import inspect
import ipaddress
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, assert_never, overload
from urllib.parse import urlsplit

import httpx

from . import _api, _inputs
from ._attempt import CAUGHT
from ._deadline import Budget, DeadlineExceeded, Deadlines, active, clamp_timeout
from ._download import FileSink, MemorySink, result_file_name
from ._errors import (
    ClientClosedError,
    DestinationError,
    InvalidInputError,
    KieError,
    MissingApiKeyError,
    ReplyTooLargeError,
    redact,
)
from ._flow import Fetch, Flow, Flows, Gather, Notify, Send, Sleep, Take
from ._many import (
    EditRequest,
    ItemOutcome,
    Stopped,
    as_completed_async,
    as_completed_threads,
    check_concurrency,
    stop_requested,
)
from ._models import Task, TaskInfo, UploadedFile
from ._policies import PollPolicy, RetryPolicy
from ._results import AsyncEditResult, EditResult
from ._scheduler import RateLimits, Scheduler

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_REPLY_BYTES",
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
"""Per-phase timeout: 10 s to connect, 60 s for each read/write (a 10 MB upload on a slow link). A
request's total deadline (``request_timeout``) defaults to connect + write + read: 130 s."""
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""httpx's own default pool: fine for one edit at a time; see ``limits`` for many at once."""
DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
"""Result downloads larger than this are refused."""
DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024
"""kie.ai replies (JSON envelopes of a few kB) larger than this, after decoding, are refused."""
DEFAULT_UPLOAD_PATH = "images/kie-gpt-image"

ProgressCallback = Callable[[TaskInfo], object]
"""Called with the task's record each time its state changes (``AsyncClient`` also awaits an
``async def`` callback)."""

T = TypeVar("T")
_USER_AGENT = "kie-gpt-image"
# What a driver hands back to the flow: the failures ``_attempt`` classifies, and the local errors the
# flow must raise with the task id (a destination that cannot be written, a client closed meanwhile).
_OUTCOMES: tuple[type[Exception], ...] = (*CAUGHT, DestinationError, ClientClosedError)
_SAVE_HINT = (
    "; results are downloaded through the client that produced them: call result.save()/bytes() inside "
    "the `with` block, or create the client without `with` and close it when you are done"
)


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


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base_url(field: str, url: object, allow_insecure_http: bool) -> str:
    if not isinstance(url, str):
        raise InvalidInputError(field, f"must be a URL string, not {type(url).__name__}")
    checked = _inputs.check_url(field, url).rstrip("/")
    parts = urlsplit(checked)
    # Plain http sends the API key in clear text to every hop on the way; loopback (the emulator) is safe.
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname or ""):
        raise InvalidInputError(
            field,
            f"plain http to {parts.hostname!r} would send the API key unencrypted; use https, or pass "
            "allow_insecure_http=True if you really mean it",
        )
    return checked


def _env_proxies() -> bool:
    # httpx honours HTTP(S)_PROXY when it builds its own transport; keep that rather than our
    # deadline transport (the deadline is then checked between chunks only).
    import urllib.request  # on first use: it imports http.client and email, a fifth of our import time

    return any(k in ("http", "https", "all") for k in urllib.request.getproxies())


def _replayed(response: httpx.Response, content: bytes) -> httpx.Response:
    """The reply with its body read (and decoded), for the parsers."""
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(response.status_code, headers=headers, content=content, request=response.request)


class _Collector:
    """Gathers a reply body, refusing it past the cap (counted after decoding) or past its deadline."""

    def __init__(self, cap: int, operation: str, budget: Budget, status_code: int) -> None:
        self._status_code = status_code
        self._cap = cap
        self._operation = operation
        self._budget = budget
        self._size = 0
        self._parts: list[bytes] = []

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._cap:
            raise ReplyTooLargeError(operation=self._operation, cap=self._cap, status_code=self._status_code)
        self._parts.append(chunk)
        self._budget.check()

    def content(self) -> bytes:
        return b"".join(self._parts)


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
        max_reply_bytes: int,
        timeout: float | httpx.Timeout,
        request_timeout: float | None,
        download_timeout: float | None,
        upload_path: str,
        allow_http_callback: bool,
        allow_insecure_http: bool,
        clock: Callable[[], float],
        rand: Callable[[], float],
        rate_limits: RateLimits | None,
    ) -> None:
        self._key = _resolve_key(api_key)
        self._auth = _BearerAuth(self._key)
        self.base_url = _check_base_url("base_url", base_url, allow_insecure_http)
        """The API host."""
        self.upload_base_url = _check_base_url("upload_base_url", upload_base_url, allow_insecure_http)
        """The File Upload API host."""
        self._closed = False
        for name, value in (("request_timeout", request_timeout), ("download_timeout", download_timeout)):
            if value is not None and (not isinstance(value, (int, float)) or not value > 0):
                raise InvalidInputError(name, "must be a positive number of seconds")
        if not isinstance(max_reply_bytes, int) or max_reply_bytes <= 0:
            raise InvalidInputError("max_reply_bytes", "must be a positive integer")
        self.max_reply_bytes = max_reply_bytes
        """Cap on the size of one kie.ai reply, after decoding."""
        phases = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.deadlines = Deadlines(
            request=float(request_timeout or Deadlines.request_default(phases)),
            download=None if download_timeout is None else float(download_timeout),
        )
        """The total deadlines of a request and of a result download (see ``kie_gpt_image._deadline``)."""
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
        if rate_limits is None:
            rate_limits = RateLimits()
        elif not isinstance(rate_limits, RateLimits):
            raise InvalidInputError("rate_limits", "must be a kie_gpt_image.RateLimits")
        # A shared store compares stamps across processes: the wall clock, unless a clock was injected
        # (then it must read the same in every process sharing the store, as a benchmark's scaled one
        # does); in memory the client's own clock, so an injected one moves the budgets too.
        shared_default = rate_limits.shared and clock is time.monotonic
        self._scheduler = Scheduler(
            rate_limits, self._key.reveal(), clock=time.time if shared_default else clock
        )
        self._flows = Flows(
            retry=retry_policy,
            poll=poll_policy or PollPolicy(),
            clock=clock,
            rand=rand,
            upload_path=upload_path,
            mask=self._surface,
            scheduler=self._scheduler,
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._flows.retry

    @property
    def poll_policy(self) -> PollPolicy:
        """The polling policy in force."""
        return self._flows.poll

    @property
    def rate_limits(self) -> RateLimits:
        """The account limits every call of this client keeps to (``RateLimits``)."""
        return self._scheduler.limits

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
        on_submit: Callable[[], object] | None = None,
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
        if on_submit is not None and not callable(on_submit):
            raise InvalidInputError("on_submit", "must be callable")
        return self._flows.edit(
            sources, text, ratio, level, callback, wait=wait, timeout=timeout, on_submit=on_submit
        )

    def _upload_flow(self, source: object, file_name: str | None, method: str) -> Flow[UploadedFile]:
        if method not in ("stream", "base64"):
            raise InvalidInputError("method", f"{method!r} is not one of stream, base64")
        if file_name is not None and (not isinstance(file_name, str) or not file_name or "/" in file_name):
            raise InvalidInputError("file_name", "must be a non-empty name without '/'")
        if file_name is not None:
            _inputs.check_text("file_name", file_name)  # a lone surrogate cannot be sent
        checked = _inputs.check_image("source", source)
        if isinstance(checked, str):
            return self._flows.upload_url(checked, file_name=file_name)
        return self._flows.upload_local(checked, method=method, file_name=file_name)

    def _request(self, effect: Send, http: httpx.Client | httpx.AsyncClient, budget: Budget) -> httpx.Request:
        spec = effect.request
        kwargs = dict(spec.kwargs)
        method = kwargs.pop("method").upper()
        base = self.base_url if spec.host == "api" else self.upload_base_url
        url = base + kwargs.pop("url")
        kwargs["headers"] = {**kwargs.pop("headers", {}), "User-Agent": _USER_AGENT}
        logger.debug("%s %s (attempt %d)", method, spec.operation, effect.attempt + 1)
        return http.build_request(method, url, timeout=clamp_timeout(http.timeout, budget.left()), **kwargs)

    def _budget(self, effect: Send) -> Budget:
        seconds = self.deadlines.request
        if effect.budget is not None:
            seconds = min(seconds, effect.budget)
        return Budget(time.monotonic() + seconds)

    def _concurrency(self, concurrency: int | None) -> int:
        if concurrency is None:
            # Enough items in progress to keep the running cap full while the next ones wait to be
            # created, and no more (each holds a thread in ``Client``).
            limits = self._scheduler.limits
            return limits.max_running + limits.creates_per_window
        return check_concurrency(concurrency)

    def _closed_error(self, what: str, *, saving: bool = False) -> ClientClosedError:
        return ClientClosedError(f"the client is closed ({what})" + (_SAVE_HINT if saving else ""))

    def _surface(self, error: BaseException) -> None:
        """Mask the key an error may echo (kie.ai's message), before a log line or the user sees it."""
        redact(error, self._key.reveal())

    @staticmethod
    def _log_reply(response: httpx.Response) -> None:
        logger.debug(
            "%s %s -> HTTP %d", response.request.method, response.request.url.path, response.status_code
        )

    def _result_info(self, result: object) -> TaskInfo:
        info = result.info if isinstance(result, (EditResult, AsyncEditResult)) else result
        if self._closed:
            raise self._closed_error("a result cannot be downloaded", saving=True)
        if not isinstance(info, TaskInfo) or not info.result_urls:
            raise InvalidInputError("result", "give an EditResult or a TaskInfo that has result URLs")
        return info

    def _memory_plan(self, result: object) -> tuple[str, list[MemorySink]]:
        info = self._result_info(result)
        return info.task_id, [MemorySink(url, self.max_download_bytes) for url in info.result_urls]

    def _download_plan(
        self, result: EditResult | AsyncEditResult | TaskInfo, dest: object
    ) -> tuple[str, list[FileSink]]:
        info = self._result_info(result)
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
    if _api.safe_text(task_id) != task_id:
        raise InvalidInputError("task_id", f"holds characters that cannot be sent: {_api.safe_text(task_id)}")
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
        timeout: per-phase timeout, connect/read/write each (seconds or ``httpx.Timeout``); with
            ``http_client``, that client's own. See ``request_timeout`` for the whole request.
        limits: connection-pool limits (``httpx.Limits``); raise ``max_keepalive_connections`` to the
            number of concurrent edits so connections are reused; ignored with ``http_client`` or
            ``transport`` (httpx applies pool limits to its own transport only).
        max_retries: retries for reads and uploads (createTask is never blindly resent).
        retry_policy: a full ``RetryPolicy`` instead of ``max_retries``.
        poll_policy: how ``wait`` polls (defaults to kie.ai's documented schedule, 15 min timeout).
        max_download_bytes: cap on one downloaded result.
        max_reply_bytes: cap on one kie.ai reply, after gzip/deflate decoding (default 4 MiB).
        request_timeout: total deadline of one request attempt in seconds: connect, send and the whole
            reply (default: connect + write + read of ``timeout``, 130 s by default).
        download_timeout: total deadline of one result download in seconds (default: a request's plus
            the declared size, or the cap, at 100 kB/s: about 11 minutes for 50 MB).
        upload_path: the ``uploadPath`` for uploaded inputs.
        allow_http_callback: accept plain-http callback URLs (e.g. loopback tests).
        allow_insecure_http: accept a plain-http ``base_url``/``upload_base_url`` on a host other than
            loopback (the key then travels unencrypted).
        transport: an httpx transport for all traffic (tests, the emulator, proxies).
        http_client: your own ``httpx.Client`` (it must not carry kie.ai credentials itself: results are
            downloaded through it from other hosts).
        sleep: the sleep function (tests inject one that does not wait).
        clock: a monotonic clock in seconds (with a shared ``rate_limits`` store, an injected clock must
            read the same in every process sharing it; the default then stamps with the wall clock).
        rand: a ``[0, 1)`` source for retry jitter.
        rate_limits: kie.ai's account limits, kept by every call of this client (``RateLimits``: 20
            new tasks per 10 s, 100 running, 8 polls per second, in memory by default); name a shared
            store (``RateLimits.shared_file``/``shared_redis``) to share them with other processes.

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
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        request_timeout: float | None = None,
        download_timeout: float | None = None,
        upload_path: str = DEFAULT_UPLOAD_PATH,
        allow_http_callback: bool = False,
        allow_insecure_http: bool = False,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        rate_limits: RateLimits | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            upload_base_url=upload_base_url,
            max_retries=max_retries,
            retry_policy=retry_policy,
            poll_policy=poll_policy,
            max_download_bytes=max_download_bytes,
            max_reply_bytes=max_reply_bytes,
            timeout=http_client.timeout if http_client is not None else timeout,
            request_timeout=request_timeout,
            download_timeout=download_timeout,
            upload_path=upload_path,
            allow_http_callback=allow_http_callback,
            allow_insecure_http=allow_insecure_http,
            clock=clock,
            rand=rand,
            rate_limits=rate_limits,
        )
        _check_one_of(http_client, transport)
        self._owns_http = http_client is None
        if http_client is None and transport is None and not _env_proxies():
            from ._sockets import DeadlineTransport  # imports httpcore, as httpx does here

            transport = DeadlineTransport(limits=limits)
        self._http = http_client or httpx.Client(timeout=timeout, limits=limits, transport=transport)
        self._sleep = sleep

    # --------------------------------------------------------------------------- the driver

    def _run(self, flow: Flow[T], on_progress: ProgressCallback | None = None) -> T:
        stop = stop_requested()  # set when an edit_many/wait_many loop was left early
        try:
            if self._closed:
                raise self._closed_error("create a new one")
            value: Any = None
            while True:
                if stop is not None and stop.is_set():
                    raise Stopped("the edit_many/wait_many loop was left")
                try:
                    effect = flow.send(value)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                value = None
                if isinstance(effect, Send):
                    value = self._send(effect)
                elif isinstance(effect, Fetch):
                    value = self._fetch(effect)
                elif isinstance(effect, Sleep):
                    if stop is not None and self._sleep is time.sleep:
                        stop.wait(effect.seconds)  # wakes at once when the loop is left
                    else:
                        self._sleep(effect.seconds)
                elif isinstance(effect, Notify):
                    if on_progress is not None:
                        on_progress(effect.info)
                elif isinstance(effect, Take):
                    value = self._scheduler.take(effect.ticket)
                elif isinstance(effect, Gather):
                    value = self._gather(effect)
                else:
                    assert_never(effect)
        except KieError as exc:
            self._surface(exc)
            raise
        finally:
            flow.close()

    def _gather(self, effect: Gather) -> list[object]:
        """Drive the sub-flows on up to ``limit`` threads; each one's value or the error that ended it."""
        from concurrent.futures import ThreadPoolExecutor

        def drive(flow: Flow[object]) -> object:
            try:
                return self._run(flow)
            except Exception as exc:  # handed back in order; the flow raises the first
                return exc

        with ThreadPoolExecutor(max_workers=min(effect.limit, len(effect.flows))) as pool:
            futures = [pool.submit(drive, flow) for flow in effect.flows]
            try:
                return [future.result() for future in futures]
            except BaseException:  # interrupted: start no more uploads
                for future, flow in zip(futures, effect.flows, strict=True):
                    if future.cancel():
                        flow.close()
                raise

    def _send(self, effect: Send) -> httpx.Response | Exception:
        budget = self._budget(effect)
        try:
            with active(budget):
                request = self._request(effect, self._http, budget)
                response = self._http.send(request, auth=self._auth, stream=True)
                try:
                    body = _Collector(
                        self.max_reply_bytes, effect.request.operation, budget, response.status_code
                    )
                    for chunk in response.iter_bytes():
                        body.add(chunk)
                finally:
                    response.close()  # a half-read connection is closed by httpcore, never reused
            self._log_reply(response)
            return _replayed(response, body.content())
        except _OUTCOMES as exc:
            return self._closed_error("closed during the call") if self._closed else exc
        except RuntimeError:  # httpx: "Cannot send a request, as the client has been closed."
            if self._closed:
                return self._closed_error("closed during the call")
            raise
        finally:
            if effect.request.close is not None:
                effect.request.close()

    def _fetch(self, effect: Fetch) -> Exception | None:
        sink = effect.sink
        started = time.monotonic()
        budget = Budget(started + self.deadlines.request)  # until the headers arrive
        try:
            with (
                active(budget),
                self._http.stream(
                    "GET",
                    effect.url,
                    headers={"User-Agent": _USER_AGENT},
                    follow_redirects=True,
                    timeout=clamp_timeout(self._http.timeout, self.deadlines.request),
                ) as response,
            ):
                sink.start(response.status_code, response.headers)
                budget.at = started + self.deadlines.download_budget(sink.declared or sink.max_bytes)
                for chunk in response.iter_bytes():
                    sink.write(chunk)
                    budget.check()
            sink.finish()
            return None
        except _OUTCOMES as exc:
            return self._closed_error("closed during a download", saving=True) if self._closed else exc
        except RuntimeError:
            if self._closed:
                return self._closed_error("closed during a download", saving=True)
            raise

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
            TransportError (``RequestTimeoutError`` past ``request_timeout``), UnexpectedResponseError,
            ClientClosedError: see the exception tree.
        """
        outcome = self._run(
            self._edit_flow(images, prompt, aspect_ratio, quality, callback_url, wait=wait, timeout=timeout),
            on_progress,
        )
        return outcome if isinstance(outcome, Task) else EditResult.from_info(outcome, self)

    def create_task(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = None,
        quality: str | None = None,
        callback_url: str | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> Task:
        """Upload local inputs and create the task; return at once with its id (same arguments as
        ``edit``). Follow up with ``wait(task.task_id)`` or a callback.

        Args:
            on_submit: called once, right before createTask is sent (after the account limits granted
                it a slot): the place to journal "about to pay" for a crash-safe resume.
        """
        outcome = self._run(
            self._edit_flow(
                images,
                prompt,
                aspect_ratio,
                quality,
                callback_url,
                wait=False,
                timeout=None,
                on_submit=on_submit,
            )
        )
        assert isinstance(outcome, Task)  # noqa: S101 - wait=False returns the Task
        return outcome

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
        return EditResult.from_info(info, self)

    def edit_many(
        self,
        requests: Iterable[EditRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
    ) -> Iterator[ItemOutcome[EditResult]]:
        """Run many edits; yield each one's ``ItemOutcome`` as soon as it finishes.

        Every edit goes through this client's scheduler (``rate_limits``): together they keep kie.ai's
        create window, running-task cap and poll budget, and a failure comes back with its item
        without stopping the others. Leaving the loop early stops the edits in progress (their tasks
        go on at kie.ai: the log names them).

        Args:
            requests: ``EditRequest``s, or mappings of ``edit``'s keyword arguments (``images``,
                ``prompt``, ...); drawn only as threads free up.
            concurrency: edits in progress at once, one thread each (default: the running-task cap
                plus one create window, 120).

        Returns:
            An iterator of ``ItemOutcome`` (``.request``, ``.result`` or ``.error``, ``.task_id``).

        Raises:
            InvalidInputError: a bad ``concurrency`` (bad requests come back as their item's error).
        """
        limit = self._concurrency(concurrency)

        def one(request: EditRequest | Mapping[str, Any]) -> EditResult:
            edit = EditRequest.of(request)
            result: EditResult = self.edit(edit.images, edit.prompt, **edit.options)  # never wait=False
            return result

        return as_completed_threads(one, requests, limit)

    def wait_many(
        self,
        task_ids: Iterable[str],
        *,
        timeout: float | None = None,
        concurrency: int | None = None,
    ) -> Iterator[ItemOutcome[EditResult]]:
        """Wait for many tasks at once; yield each one's ``ItemOutcome`` as soon as it finishes.

        All the waits share this client's poll budget, polled in the order they fall due.

        Args:
            task_ids: the tasks (``ItemOutcome.request`` is the id).
            timeout: each wait's timeout in seconds (default the poll policy's).
            concurrency: waits in progress at once, one thread each (default 120).

        Raises:
            InvalidInputError: a bad ``timeout`` or ``concurrency``.
        """
        _check_timeout(timeout)
        limit = self._concurrency(concurrency)
        return as_completed_threads(lambda task_id: self.wait(task_id, timeout=timeout), task_ids, limit)

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
        """Download every result image into the folder ``dest``; return the paths written.

        Raises:
            DownloadError: the result host failed, stalled or outlived ``download_timeout``.
            DestinationError: ``dest`` could not be written (not retried). ClientClosedError.
        """
        task_id, sinks = self._download_plan(result, dest)
        for sink in sinks:
            self._run(self._flows.fetch(sink.url, sink, task_id))
        return [sink.path for sink in sinks]

    def read_results(self, result: EditResult | TaskInfo) -> list[bytes]:
        """Download every result image into memory (``EditResult.bytes()``)."""
        task_id, sinks = self._memory_plan(result)
        for sink in sinks:
            self._run(self._flows.fetch(sink.url, sink, task_id))
        return [sink.content for sink in sinks]

    def close(self) -> None:
        """Close the connection pool (unless you passed your own ``http_client``); calls made after, or
        in flight, raise ``ClientClosedError``."""
        self._closed = True
        self._scheduler.close()
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
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        request_timeout: float | None = None,
        download_timeout: float | None = None,
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
        super().__init__(
            api_key,
            base_url=base_url,
            upload_base_url=upload_base_url,
            max_retries=max_retries,
            retry_policy=retry_policy,
            poll_policy=poll_policy,
            max_download_bytes=max_download_bytes,
            max_reply_bytes=max_reply_bytes,
            timeout=http_client.timeout if http_client is not None else timeout,
            request_timeout=request_timeout,
            download_timeout=download_timeout,
            upload_path=upload_path,
            allow_http_callback=allow_http_callback,
            allow_insecure_http=allow_insecure_http,
            clock=clock,
            rand=rand,
            rate_limits=rate_limits,
        )
        _check_one_of(http_client, transport)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport)
        self._sleep = sleep or _asyncio_sleep

    # --------------------------------------------------------------------------- the driver

    async def _run(self, flow: Flow[T], on_progress: ProgressCallback | None = None) -> T:
        try:
            if self._closed:
                raise self._closed_error("create a new one")
            value: Any = None
            while True:
                try:
                    effect = flow.send(value)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                value = None
                if isinstance(effect, Send):
                    value = await self._send(effect)
                elif isinstance(effect, Fetch):
                    value = await self._fetch(effect)
                elif isinstance(effect, Sleep):
                    await self._sleep(effect.seconds)
                elif isinstance(effect, Notify):
                    if on_progress is not None:
                        outcome = on_progress(effect.info)
                        if inspect.isawaitable(outcome):  # an ``async def`` callback
                            await outcome
                elif isinstance(effect, Take):
                    value = await self._take(effect)
                elif isinstance(effect, Gather):
                    value = await self._gather(effect)
                else:
                    assert_never(effect)
        except KieError as exc:
            self._surface(exc)
            raise
        finally:
            # Cancelled (CancelledError, the caller's asyncio.timeout) or failed at any step: the flow
            # cleans up (a .part file, a log line naming a task that goes on) and the client stays usable.
            flow.close()

    async def _take(self, effect: Take) -> float:
        if not self._scheduler.limits.shared:
            return self._scheduler.take(effect.ticket)
        import anyio

        # A shared store answers over a file lock or the network: not on the event loop.
        return await anyio.to_thread.run_sync(self._scheduler.take, effect.ticket)

    async def _gather(self, effect: Gather) -> list[object]:
        """Drive the sub-flows as tasks, up to ``limit`` at once; each one's value or its error."""
        import anyio

        outcomes: list[object] = [None] * len(effect.flows)
        limiter = anyio.CapacityLimiter(effect.limit)

        async def drive(index: int, flow: Flow[object]) -> None:
            async with limiter:
                try:
                    outcomes[index] = await self._run(flow)
                except Exception as exc:  # handed back in order; the flow raises the first
                    outcomes[index] = exc

        async with anyio.create_task_group() as group:
            for index, flow in enumerate(effect.flows):
                group.start_soon(drive, index, flow)
        return outcomes

    async def _send(self, effect: Send) -> httpx.Response | Exception:
        import anyio  # httpx's own dependency; imported on first use like asyncio

        budget = self._budget(effect)
        try:
            with anyio.fail_after(max(budget.left(), 0.0)):
                request = self._request(effect, self._http, budget)
                response = await self._http.send(request, auth=self._auth, stream=True)
                try:
                    body = _Collector(
                        self.max_reply_bytes, effect.request.operation, budget, response.status_code
                    )
                    async for chunk in response.aiter_bytes():
                        body.add(chunk)
                finally:
                    await response.aclose()  # a half-read connection is closed by httpcore, never reused
            self._log_reply(response)
            return _replayed(response, body.content())
        except TimeoutError as exc:  # anyio's deadline: the request's total deadline passed
            if isinstance(exc, DeadlineExceeded):
                return exc
            error = DeadlineExceeded("the request's total deadline passed")
            error.__cause__ = exc
            return error
        except _OUTCOMES as exc:
            return self._closed_error("closed during the call") if self._closed else exc
        except RuntimeError:  # httpx: "Cannot send a request, as the client has been closed."
            if self._closed:
                return self._closed_error("closed during the call")
            raise
        finally:
            if effect.request.close is not None:
                effect.request.close()

    async def _fetch(self, effect: Fetch) -> Exception | None:
        import anyio

        sink = effect.sink
        started = anyio.current_time()
        try:
            with anyio.fail_after(self.deadlines.request) as scope:
                async with self._http.stream(
                    "GET",
                    effect.url,
                    headers={"User-Agent": _USER_AGENT},
                    follow_redirects=True,
                    timeout=clamp_timeout(self._http.timeout, self.deadlines.request),
                ) as response:
                    sink.start(response.status_code, response.headers)
                    scope.deadline = started + self.deadlines.download_budget(sink.declared or sink.max_bytes)
                    async for chunk in response.aiter_bytes():
                        sink.write(chunk)
                sink.finish()
            return None
        except TimeoutError as exc:
            error = DeadlineExceeded("the download's total deadline passed")
            error.__cause__ = exc
            return error
        except _OUTCOMES as exc:
            return self._closed_error("closed during a download", saving=True) if self._closed else exc
        except RuntimeError:
            if self._closed:
                return self._closed_error("closed during a download", saving=True)
            raise

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
        return outcome if isinstance(outcome, Task) else AsyncEditResult.from_info(outcome, self)

    async def create_task(
        self,
        images: Iterable[_inputs.ImageInput] | _inputs.ImageInput,
        prompt: str,
        *,
        aspect_ratio: str | None = None,
        quality: str | None = None,
        callback_url: str | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> Task:
        """Upload local inputs and create the task; return at once (see ``Client.create_task``)."""
        outcome = await self._run(
            self._edit_flow(
                images,
                prompt,
                aspect_ratio,
                quality,
                callback_url,
                wait=False,
                timeout=None,
                on_submit=on_submit,
            )
        )
        assert isinstance(outcome, Task)  # noqa: S101 - wait=False returns the Task
        return outcome

    async def get_task(self, task_id: str) -> TaskInfo:
        """The task's current record (recordInfo)."""
        return await self._run(self._flows.get_task(_check_task_id(task_id)))

    async def wait(
        self, task_id: str, *, timeout: float | None = None, on_progress: ProgressCallback | None = None
    ) -> AsyncEditResult:
        """Poll until the task finishes (see ``Client.wait``)."""
        _check_timeout(timeout)
        info = await self._run(self._flows.wait(_check_task_id(task_id), timeout), on_progress)
        return AsyncEditResult.from_info(info, self)

    def edit_many(
        self,
        requests: Iterable[EditRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
    ) -> AsyncIterator[ItemOutcome[AsyncEditResult]]:
        """Run many edits as tasks of the event loop; ``async for`` each one's ``ItemOutcome`` as soon
        as it finishes (see ``Client.edit_many``). Leaving the loop early cancels the edits in progress."""
        limit = self._concurrency(concurrency)

        async def one(request: EditRequest | Mapping[str, Any]) -> AsyncEditResult:
            edit = EditRequest.of(request)
            result: AsyncEditResult = await self.edit(edit.images, edit.prompt, **edit.options)
            return result

        return as_completed_async(one, requests, limit)

    def wait_many(
        self,
        task_ids: Iterable[str],
        *,
        timeout: float | None = None,
        concurrency: int | None = None,
    ) -> AsyncIterator[ItemOutcome[AsyncEditResult]]:
        """Wait for many tasks at once; ``async for`` each one's ``ItemOutcome`` as soon as it finishes
        (see ``Client.wait_many``)."""
        _check_timeout(timeout)
        limit = self._concurrency(concurrency)

        async def one(task_id: str) -> AsyncEditResult:
            return await self.wait(task_id, timeout=timeout)

        return as_completed_async(one, task_ids, limit)

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

    async def read_results(self, result: EditResult | AsyncEditResult | TaskInfo) -> list[bytes]:
        """Download every result image into memory (``AsyncEditResult.bytes()``)."""
        task_id, sinks = self._memory_plan(result)
        for sink in sinks:
            await self._run(self._flows.fetch(sink.url, sink, task_id))
        return [sink.content for sink in sinks]

    async def aclose(self) -> None:
        """Close the connection pool (unless you passed your own ``http_client``); calls made after, or
        in flight, raise ``ClientClosedError``."""
        self._closed = True
        self._scheduler.close()
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
