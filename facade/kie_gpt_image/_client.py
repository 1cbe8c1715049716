"""``Client`` and ``AsyncClient``: configuration, the two thin drivers of the shared flows, and the
public methods (identical names on both; only ``close``/``aclose`` differ)."""

from __future__ import annotations

import contextlib
import http.cookiejar
import inspect
import ipaddress
import logging
import os
import random
import threading
import time
import urllib.request
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, assert_never, overload
from urllib.parse import urlencode, urlsplit

import httpx

from ._errors import (
    AuthenticationError,
    ClientClosedError,
    DestinationError,
    InvalidInputError,
    KieError,
    MissingApiKeyError,
    ReplyTooLargeError,
    redact,
)
from ._warnings import LoopbackCallbackWarning, warn

if TYPE_CHECKING:
    import sniffio

    from . import _api, _inputs, _raw
    from ._deadline import Budget, DeadlineExceeded, Deadlines, active, clamp_timeout
    from ._download import FileSink, MemorySink, Sink, check_download_caps, parse_destination
    from ._finishes import Watch
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
    from ._progress import UploadProgressCallback, watch
    from ._raw import AsyncRawResponses, RawResponses
    from ._results import (
        AsyncEditResult,
        AsyncResultImage,
        AsyncRunResult,
        EditResult,
        ResultImage,
        RunResult,
    )
    from ._scheduler import RateLimits, Scheduler
    from ._webhooks import DEFAULT_TOLERANCE, Headers, ReplayGuard, check_key, verify_callback

# The machinery behind a client's calls, imported when the first client is made rather than with this
# module: `from kie_gpt_image import Client` then costs about what `import httpx` does (issue 14;
# BENCHMARKS.md figure 2). Every name below is used only inside the clients' methods and the helpers they
# call, never at import time; type checkers read the same imports above.
_ENGINE: dict[str, tuple[str, ...]] = {
    "sniffio": (),
    "._api": (),
    "._inputs": (),
    "._raw": ("AsyncRawResponses", "RawResponses"),
    "._attempt": ("CAUGHT",),
    "._deadline": ("Budget", "DeadlineExceeded", "Deadlines", "active", "clamp_timeout"),
    "._download": ("FileSink", "MemorySink", "Sink", "check_download_caps", "parse_destination"),
    "._finishes": ("Watch",),
    "._flow": ("Fetch", "Flow", "Flows", "Gather", "Notify", "Send", "Sleep", "Take"),
    "._many": (
        "EditRequest",
        "ItemOutcome",
        "Stopped",
        "as_completed_async",
        "as_completed_threads",
        "check_concurrency",
        "stop_requested",
    ),
    "._models": ("Task", "TaskInfo", "UploadedFile"),
    "._policies": ("PollPolicy", "RetryPolicy"),
    "._progress": ("UploadProgressCallback", "watch"),
    "._results": (
        "AsyncEditResult",
        "AsyncResultImage",
        "AsyncRunResult",
        "EditResult",
        "ResultImage",
        "RunResult",
    ),
    "._scheduler": ("RateLimits", "Scheduler"),
    "._webhooks": ("DEFAULT_TOLERANCE", "Headers", "ReplayGuard", "check_key", "verify_callback"),
}


def _load_engine() -> None:
    """Import the clients' machinery into this module's namespace (once; see ``_ENGINE``)."""
    if _OUTCOMES:
        return
    import importlib

    loaded: dict[str, object] = {}
    for module_name, names in _ENGINE.items():
        module = importlib.import_module(module_name, __package__)
        loaded[module_name.lstrip(".")] = module
        loaded.update((name, getattr(module, name)) for name in names)
    loaded["_OUTCOMES"] = (*loaded["CAUGHT"], DestinationError, ClientClosedError)  # type: ignore[misc]
    globals().update(loaded)  # _OUTCOMES last: it marks the whole engine as loaded


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
"""Result images larger than this are refused by default (videos: 2 GiB, audio: 200 MiB; see
``max_download_bytes``)."""
DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024
"""kie.ai replies (JSON envelopes of a few kB) larger than this, after decoding, are refused."""
DEFAULT_UPLOAD_PATH = "images/kie-gpt-image"

ProgressCallback = Callable[["TaskInfo"], object]
"""Called with the task's record each time its state changes (``AsyncClient`` also awaits an
``async def`` callback)."""

T = TypeVar("T")
_USER_AGENT = "kie-gpt-image"
_STOP_CHECK = 0.25  # seconds between looks at an edit_many/wait_many stop while a watched wait sleeps
# What a driver hands back to the flow: the failures ``_attempt`` classifies, and the local errors the
# flow must raise with the task id (a destination that cannot be written, a client closed meanwhile).
# Filled in by ``_load_engine`` with the first client.
_OUTCOMES: tuple[type[Exception], ...] = ()
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


def _resolve_key(api_key: str | None) -> tuple[_Secret, str]:
    """The key and where it came from (said when kie.ai refuses it)."""
    source = "the api_key argument" if api_key is not None else "the KIE_API_KEY environment variable"
    key = api_key if api_key is not None else os.environ.get("KIE_API_KEY")
    if key is None or not key.strip():
        raise MissingApiKeyError()
    key = key.strip()
    if not key.isprintable() or any(c.isspace() for c in key):
        raise InvalidInputError("api_key", "contains whitespace or control characters")
    return _Secret(key), source


def _key_tail(key: str) -> str | None:
    # At most the last four characters, and none of a key so short that four would give much of it away.
    return key[-4:] if len(key) >= 16 else None


def _resolve_url(given: str | None, variable: str, default: str) -> tuple[str, str]:
    """The name to blame if it is bad, and a host URL: the argument wins, then the environment variable
    (as ``OPENAI_BASE_URL`` for openai-python; the loopback emulator prints these exports), then kie.ai."""
    if given is not None:
        return ("base_url" if variable == "KIE_BASE_URL" else "upload_base_url"), given
    from_env = os.environ.get(variable, "").strip()
    return (variable, from_env) if from_env else (variable, default)


# The variable the receivers read too (``_receivers.WEBHOOK_KEY_ENV``; not imported from there, which
# imports this module's types).
WEBHOOK_KEY_ENV = "KIE_WEBHOOK_HMAC_KEY"


def _resolve_webhook_key(webhook_key: str | None) -> str | None:
    """The webhook HMAC key for ``handle_callback``, or ``None`` (an error only when it is needed)."""
    key = webhook_key if webhook_key is not None else os.environ.get(WEBHOOK_KEY_ENV) or None
    if key is not None:
        try:
            check_key(key)
        except InvalidInputError as exc:
            field = "webhook_key" if webhook_key is not None else WEBHOOK_KEY_ENV
            raise InvalidInputError(field, exc.message.split(": ", 1)[-1]) from None
    return key


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


# Names reserved by RFC 2606 / RFC 6761 never resolve to a remote kie.ai: the in-process emulator serves
# https://api.kie-emulator.test, and its callbacks reach this machine's loopback.
_RESERVED_SUFFIXES = (".test", ".localhost", ".invalid", ".example")


def _may_be_remote(url: str) -> bool:
    """Whether an API host may be remote (kie.ai itself, a proxy): not loopback, nor a reserved name."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return not _is_loopback(host) and not host.endswith(_RESERVED_SUFFIXES)


def _env_proxies() -> bool:
    # httpx honours HTTP(S)_PROXY when it builds its own transport; keep that rather than our
    # deadline transport (the deadline is then checked between chunks only).
    return any(k in ("http", "https", "all") for k in urllib.request.getproxies())


def _replayed(response: httpx.Response, content: bytes) -> httpx.Response:
    """The reply with its body (read and decoded under the size cap and the deadline) in place, for the
    parsers and ``with_raw_response``.

    httpx's ``Response.read()`` stores the body in ``_content`` after iterating it; the body was iterated
    here instead (to count it against the cap as it arrives), so it is stored the same way. Building a
    second ``httpx.Response`` cost about a fifth of a status read (issue 14, scripts/bench_overhead.py).
    httpx is pinned below 0.29 (pyproject.toml).
    """
    response._content = content
    return response


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


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing. kie.ai authenticates by bearer token and sets no cookie we need;
    httpx runs every reply through the standard jar, which cost about 12 us of a status read (issue 14,
    measured on a MockTransport), and result hosts have no business planting cookies either."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        """Keep no cookie from a reply."""

    def add_cookie_header(self, request: Any) -> None:
        """Send no cookie."""


class _BaseClient:
    """What both clients share: configuration, input checks, and the flows."""

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str | None,
        upload_base_url: str | None,
        webhook_key: str | None,
        max_retries: int | None,
        retry_policy: RetryPolicy | None,
        poll_policy: PollPolicy | None,
        max_download_bytes: int | Mapping[str, int] | None,
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
        _load_engine()
        self._key, self._key_source = _resolve_key(api_key)
        self._auth = _BearerAuth(self._key)
        self.base_url = _check_base_url(
            *_resolve_url(base_url, "KIE_BASE_URL", DEFAULT_BASE_URL), allow_insecure_http
        )
        """The API host (``base_url``, else ``KIE_BASE_URL``, else kie.ai's)."""
        self.upload_base_url = _check_base_url(
            *_resolve_url(upload_base_url, "KIE_UPLOAD_BASE_URL", DEFAULT_UPLOAD_BASE_URL),
            allow_insecure_http,
        )
        """The File Upload API host (``upload_base_url``, else ``KIE_UPLOAD_BASE_URL``, else kie.ai's)."""
        self._webhook_key = _resolve_webhook_key(webhook_key)
        self._replay_guard = ReplayGuard()
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
        self.max_download_bytes = check_download_caps(
            {} if max_download_bytes is None else max_download_bytes
        )
        """Cap on the size of one downloaded result: one for every kind, or one per kind (``image``,
        ``video``, ``audio``: 50 MiB, 2 GiB, 200 MiB by default), applied once the content shows its kind."""
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

    def poll_now(self, task_id: str) -> int:
        """Word that ``task_id`` finished (say, a callback your own handler received): every ``wait`` on it
        in this client (``edit``, ``wait``, ``edit_many``, ``wait_many``) polls now instead of at its next
        scheduled poll, and the poll confirms it; nothing is trusted from the word itself.

        A receiver given this client (``handle_callback``, ``asgi_receiver(..., client=client)``) needs no
        call: the record it reads ends those waits without another poll.

        Returns:
            How many waits were woken (0: none was waiting on it; nothing is kept for later).
        """
        return self._flows.board.post(_check_task_id(task_id))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, upload_base_url={self.upload_base_url!r})"

    # ------------------------------------------------------------------ flows with checked inputs

    def _task_flow(
        self,
        kind: _inputs.TaskKind,
        model: object,
        images: object | None,
        prompt: object,
        callback_url: object,
        options: Mapping[str, object],
        *,
        wait: bool,
        timeout: float | None,
        on_upload_progress: UploadProgressCallback | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> Flow[Task | TaskInfo]:
        # Every check runs here, before the flow yields its first request: the model, its images, the
        # prompt and every option against the model's catalog entry (``_inputs.check_task``).
        if model is None and kind in ("edit", "generate"):  # the model named by the documents
            model = _api.MODEL if kind == "edit" else _api.DEFAULT_GENERATE_MODEL
        progress = _check_upload_progress(on_upload_progress)
        task = _inputs.check_task(model, images, prompt, options, kind)
        sources = [watch(source, progress) for source in task.images]
        callback = (
            None
            if callback_url is None
            else _inputs.check_callback_url(callback_url, allow_http=self.allow_http_callback)
        )
        if callback is not None and _api.MODELS[task.model].callback_field is None:
            raise InvalidInputError("callback_url", f"{task.model} takes no callback URL")
        _check_timeout(timeout)
        if on_submit is not None and not callable(on_submit):
            raise InvalidInputError("on_submit", "must be callable")
        if callback is not None:
            self._warn_unreachable_callback(callback)
        return self._flows.edit(
            task.model, sources, task.input, callback, wait=wait, timeout=timeout, on_submit=on_submit
        )

    def _warn_unreachable_callback(self, callback_url: str) -> None:
        # kie.ai posts the callback from its own servers: a loopback URL there points at kie.ai itself.
        # Only the emulator (a loopback base_url) can reach this machine's loopback (issue 17 item 6).
        if _inputs.is_loopback_host(urlsplit(callback_url).hostname) and _may_be_remote(self.base_url):
            warn(
                f"callback_url {callback_url!r} is on a loopback host, but the API host {self.base_url} is "
                "not: kie.ai cannot reach this machine's loopback, so no callback will arrive (poll with "
                "wait(task_id), or give a public https URL)",
                LoopbackCallbackWarning,
            )

    def _upload_flow(
        self,
        source: object,
        file_name: str | None,
        method: str,
        on_upload_progress: UploadProgressCallback | None = None,
    ) -> Flow[UploadedFile]:
        if method not in ("stream", "base64"):
            raise InvalidInputError("method", f"{method!r} is not one of stream, base64")
        if file_name is not None and (not isinstance(file_name, str) or not file_name or "/" in file_name):
            raise InvalidInputError("file_name", "must be a non-empty name without '/'")
        if file_name is not None:
            _inputs.check_text("file_name", file_name)  # a lone surrogate cannot be sent
        checked = watch(_inputs.check_image("source", source), _check_upload_progress(on_upload_progress))
        if isinstance(checked, str):
            return self._flows.upload_url(checked, file_name=file_name)
        return self._flows.upload_local(checked, method=method, file_name=file_name)

    def _request(self, effect: Send, http: httpx.Client | httpx.AsyncClient, budget: Budget) -> httpx.Request:
        spec = effect.request
        kwargs = dict(spec.kwargs)
        method = kwargs.pop("method").upper()
        base = self.base_url if spec.host == "api" else self.upload_base_url
        url = base + kwargs.pop("url")
        params = kwargs.pop("params", None)
        if params:
            # One URL parse instead of two: httpx parses the URL, then again once it merges ``params``.
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        kwargs["headers"] = {**kwargs.pop("headers", {}), "User-Agent": _USER_AGENT}
        logger.debug("%s %s (attempt %d)", method, spec.operation, effect.attempt + 1)
        return http.build_request(
            method, url, extensions={"timeout": clamp_timeout(http.timeout, budget.left())}, **kwargs
        )

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
        if isinstance(error, AuthenticationError):
            error.explain_key(self._key_source, _key_tail(self._key.reveal()))

    @staticmethod
    def _log_reply(response: httpx.Response) -> None:
        logger.debug(
            "%s %s -> HTTP %d", response.request.method, response.request.url.path, response.status_code
        )

    def _targets(self, result: object) -> tuple[str, list[tuple[int, str]]]:
        """The task id and the ``(index, url)`` results of an ``EditResult``, a ``ResultImage`` or a
        ``TaskInfo``: what the one download path fetches."""
        if self._closed:
            raise self._closed_error("a result cannot be downloaded", saving=True)
        if isinstance(result, (ResultImage, AsyncResultImage)):
            return result.task_id, [(result.index, result.url)]
        info = result.info if isinstance(result, (EditResult, AsyncEditResult)) else result
        if not isinstance(info, TaskInfo) or not info.result_urls:
            raise InvalidInputError(
                "result", "give an EditResult, a ResultImage or a TaskInfo that has result URLs"
            )
        return info.task_id, list(enumerate(info.result_urls))

    def _memory_plan(self, result: object) -> tuple[str, list[MemorySink]]:
        task_id, targets = self._targets(result)
        return task_id, [MemorySink(url, self.max_download_bytes) for _, url in targets]

    def _download_plan(self, result: object, dest: object) -> tuple[str, list[FileSink]]:
        task_id, targets = self._targets(result)
        destination = parse_destination(dest, "dest")
        paths = destination.paths(task_id, targets)
        return task_id, [
            FileSink(url, self.max_download_bytes, path, by_content=not destination.is_file)
            for (_, url), path in zip(targets, paths, strict=True)
        ]

    def _verified_task_id(
        self, body: bytes, headers: Headers, tolerance: float | None
    ) -> tuple[str, int, float]:
        """Verify a callback's signature and timestamp (not yet the replay window: see
        ``handle_callback``); return its signed task id, timestamp and the window (default
        ``DEFAULT_TOLERANCE``, 300 s)."""
        if tolerance is None:
            tolerance = DEFAULT_TOLERANCE
        if self._webhook_key is None:
            raise InvalidInputError(
                "webhook_key",
                f"no webhook HMAC key: pass webhook_key=... to the client or set {WEBHOOK_KEY_ENV} (kie.ai's "
                "Settings page; https://docs.kie.ai/common-api/webhook-verification)",
            )
        verified = verify_callback(body, headers, self._webhook_key, tolerance=tolerance)
        return verified.task_id, verified.timestamp, tolerance

    def _accept_callback(self, task_id: str, timestamp: int, tolerance: float) -> None:
        self._replay_guard.check(task_id, timestamp, tolerance=tolerance)


def _time_limit(seconds: float) -> contextlib.AbstractAsyncContextManager[object]:
    """A cancel scope raising ``TimeoutError`` after ``seconds``: asyncio's own under asyncio (about
    half the cost of anyio's on every request: issue 14), anyio's under any other loop (trio)."""
    if sniffio.current_async_library() == "asyncio":
        import asyncio

        return asyncio.timeout(seconds)
    return _anyio_time_limit(seconds)


@contextlib.asynccontextmanager
async def _anyio_time_limit(seconds: float) -> AsyncIterator[None]:
    import anyio  # httpx's own dependency; imported on first use like asyncio

    with anyio.fail_after(seconds):
        yield


async def _asyncio_sleep(seconds: float) -> None:
    # asyncio is imported on first use: sync users never pay for it.
    import asyncio

    await asyncio.sleep(seconds)


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout < 0):
        raise InvalidInputError("timeout", "must be a non-negative number of seconds")


def _check_upload_progress(callback: object) -> UploadProgressCallback | None:
    if callback is not None and not callable(callback):
        raise InvalidInputError("on_upload_progress", f"must be callable, not {type(callback).__name__}")
    return callback


if TYPE_CHECKING:
    Images = Iterable[_inputs.ImageInput] | _inputs.ImageInput
    """What ``images=`` accepts: one image or several (see ``_inputs.ImageInput``)."""


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
        api_key: kie.ai API key (https://kie.ai/api-key); defaults to the ``KIE_API_KEY`` environment
            variable.
        base_url: API host; defaults to the ``KIE_BASE_URL`` environment variable, else
            ``https://api.kie.ai`` (point both hosts at a proxy or the loopback emulator this way).
        upload_base_url: File Upload API host; defaults to ``KIE_UPLOAD_BASE_URL``, else
            ``https://kieai.redpandaai.co``.
        webhook_key: the account's webhook HMAC key, for ``handle_callback``; defaults to the
            ``KIE_WEBHOOK_HMAC_KEY`` environment variable (kie.ai's Settings page).
        timeout: per-phase timeout, connect/read/write each (seconds or ``httpx.Timeout``); with
            ``http_client``, that client's own. See ``request_timeout`` for the whole request.
        limits: connection-pool limits (``httpx.Limits``); raise ``max_keepalive_connections`` to the
            number of concurrent edits so connections are reused; ignored with ``http_client`` or
            ``transport`` (httpx applies pool limits to its own transport only).
        max_retries: retries for reads and uploads (createTask is never blindly resent).
        retry_policy: a full ``RetryPolicy`` instead of ``max_retries``.
        poll_policy: how ``wait`` polls (defaults to kie.ai's documented schedule, 15 min timeout).
        max_download_bytes: cap on one downloaded result: an int for every kind, or a dict per kind
            (``{"video": 4 * 2**30}``; default images 50 MiB, audio 200 MiB, video 2 GiB).
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
        InvalidInputError: an invalid setting (named after the argument, or after the environment
            variable it came from).
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
            webhook_key=webhook_key,
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
        self._http = http_client or httpx.Client(
            timeout=timeout, limits=limits, transport=transport, cookies=_NoCookies()
        )
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
                    self._pause(effect, stop)
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

    def _pause(self, effect: Sleep, stop: threading.Event | None) -> None:
        """Sleep through ``effect``: until word of its task's finish, or the edit_many/wait_many loop is
        left, whichever is first (both need the default ``time.sleep``; an injected sleep runs whole)."""
        if self._sleep is not time.sleep:
            self._sleep(effect.seconds)
            return
        watch = effect.watch
        if watch is None:
            if stop is None:
                time.sleep(effect.seconds)
            else:
                stop.wait(effect.seconds)  # wakes at once when the loop is left
            return
        woken = threading.Event()
        if not watch.arm(woken.set):
            return  # the word arrived while the poll was out
        try:
            if stop is None:
                woken.wait(effect.seconds)
                return
            end = time.monotonic() + effect.seconds
            while not woken.is_set() and not stop.is_set() and (left := end - time.monotonic()) > 0:
                woken.wait(min(left, _STOP_CHECK))
        finally:
            watch.disarm()

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
            return _raw.record(_replayed(response, body.content()))
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
                    extensions={"timeout": clamp_timeout(self._http.timeout, self.deadlines.request)},
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

    def _submit(
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
        on_progress: ProgressCallback | None = None,
        on_upload_progress: UploadProgressCallback | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> EditResult | Task:
        """``edit``/``generate`` for a model and options known only at run time (the CLI, the batch):
        checked the same way, at run time only."""
        outcome = self._run(
            self._task_flow(
                kind,
                model,
                images,
                prompt,
                callback_url,
                options,
                wait=wait,
                timeout=timeout,
                on_upload_progress=on_upload_progress,
                on_submit=on_submit,
            ),
            on_progress,
        )
        return outcome if isinstance(outcome, Task) else EditResult.from_info(outcome, self)

    # Type checkers read one signature per model, generated from its document (``kie_api.model_methods``:
    # a new document reaches users by regenerating alone, so no overload is written here); the runtime
    # methods below take ``**options`` and check them against the same catalog (``_inputs.check_task``).
    if TYPE_CHECKING:
        edit: _api.EditCall[Images, ProgressCallback, UploadProgressCallback, EditResult, Task]
        create_task: _api.CreateTaskCall[Images, UploadProgressCallback, Task]
        generate: _api.GenerateCall[ProgressCallback, EditResult, Task]

    if not TYPE_CHECKING:  # the implementations (documented; their typed signatures are above)

        def edit(
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
            """Edit images: upload local inputs, create the task, wait for and return the result.

            Overloads (what a type checker sees: one pair per model, generated from its document in
            ``kie_api.model_methods.EditCall``; the return type follows ``wait``)::

                edit(images, prompt, *, model=..., wait: Literal[True] = True, ...) -> EditResult
                edit(images, prompt, *, model=..., wait: Literal[False], ...) -> Task

            Args:
                images: inputs (1 to the model's maximum, 16 for every model so far): paths, bytes, binary
                    file objects, or http(s) URLs (passed through).
                prompt: the edit instruction.
                model: a model that takes input images: ``gpt-image/1.5-image-to-image`` (the default) or
                    ``gpt-image-2-image-to-image`` (every one: ``kie_gpt_image.MODELS``).
                callback_url: https URL kie.ai will POST the result to.
                wait: ``False`` returns the ``Task`` as soon as it is created.
                timeout: wait timeout in seconds (default the poll policy's).
                on_progress: called with the ``TaskInfo`` on every state change.
                on_upload_progress: called with an ``UploadProgress`` (file name, bytes sent, total) as
                    each local input is uploaded.
                **options: the model's input options, exactly those its document names: the default
                    model's ``aspect_ratio`` (``1:1``, ``2:3``, ``3:2``; default ``3:2``) and ``quality``
                    (``medium``, ``high``; default ``medium``); gpt-image-2's ``aspect_ratio`` (``auto``,
                    ``1:1``, ``9:16``, ``16:9``, ``4:3``, ``3:4``) and ``resolution`` (``1K``, ``2K``,
                    ``4K``). Type checkers know each model's.

            Returns:
                ``EditResult`` (or ``Task`` with ``wait=False``).

            Raises:
                InvalidInputError: a bad argument or option (nothing was sent).
                TaskFailedError: the task failed. WaitTimeoutError: it did not finish in time (carries the
                task id). SubmissionOutcomeUnknownError: createTask's outcome is unknown. APIError,
                TransportError (``RequestTimeoutError`` past ``request_timeout``), UnexpectedResponseError,
                ClientClosedError: see the exception tree.
            """
            return self._submit(
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

        def create_task(
            self, images, prompt, *, model=None, callback_url=None, on_upload_progress=None, **options
        ):
            """Upload local inputs and create the task; return at once with its ``Task`` (same arguments
            as ``edit``). Follow up with ``wait(task.task_id)`` or a callback."""
            return self._submit(
                images,
                prompt,
                model=model,
                options=options,
                kind="edit",
                callback_url=callback_url,
                wait=False,
                on_upload_progress=on_upload_progress,
            )

        def generate(
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
            """Generate images from a prompt alone: create the task, wait for and return the result.

            Args:
                prompt: what to draw.
                model: a model without input images: ``gpt-image/1.5-text-to-image`` (the default) or
                    ``gpt-image-2-text-to-image``.
                callback_url: https URL kie.ai will POST the result to.
                wait: ``False`` returns the ``Task`` as soon as it is created.
                timeout: wait timeout in seconds (default the poll policy's).
                on_progress: called with the ``TaskInfo`` on every state change.
                **options: the model's input options, exactly those its document names (as for ``edit``).

            Returns:
                ``EditResult`` (or ``Task`` with ``wait=False``).

            Raises:
                InvalidInputError, TaskFailedError, WaitTimeoutError, SubmissionOutcomeUnknownError, and
                the request errors: as for ``edit``.
            """
            return self._submit(
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
        self,
        source: _inputs.ImageInput,
        *,
        file_name: str | None = None,
        method: str = "stream",
        on_upload_progress: UploadProgressCallback | None = None,
    ) -> UploadedFile:
        """Upload one image (path, bytes, binary file, or an http(s) URL that kie.ai fetches).

        Args:
            source: the image.
            file_name: store under this name (an existing file of that name is overwritten).
            method: ``stream`` (multipart, default) or ``base64`` (small files).
            on_upload_progress: called with an ``UploadProgress`` (bytes sent, total) as httpx reads the
                file into the request.
        """
        return self._run(self._upload_flow(source, file_name, method, on_upload_progress))

    def credits(self) -> float:
        """The account's remaining credits."""
        return self._run(self._flows.credits())

    def download_url(self, url: str) -> str:
        """A temporary (about 20 minutes) direct-download URL for a kie.ai-generated file."""
        return self._run(self._flows.download_url(_inputs.check_url("url", url)))

    def download(
        self, result: EditResult | ResultImage | TaskInfo, dest: str | os.PathLike[str] = "."
    ) -> list[Path]:
        """Download result images to ``dest``; return the paths written (``EditResult.save``).

        Args:
            result: an ``EditResult`` (every image), one ``ResultImage``, or a finished ``TaskInfo``.
            dest: a file name with an image suffix (``.png``, ``.jpg``, ``.jpeg``, ``.webp``; several
                images: ``stem-1.png``, ``stem-2.png``, ...), or a folder (an existing one, a path ending
                in ``/``, or any other path; created if needed) where files are named
                ``<task id>-<index><ext>``.

        Raises:
            InvalidInputError: ``dest`` cannot be used (checked before downloading).
            DownloadError: the result host failed, stalled or outlived ``download_timeout``.
            DestinationError: ``dest`` could not be written (not retried). ClientClosedError.
        """
        task_id, sinks = self._download_plan(result, dest)
        self._fetch_all(task_id, sinks)
        return [sink.path for sink in sinks]

    def read_results(self, result: EditResult | ResultImage | TaskInfo) -> list[bytes]:
        """Download result images into memory (``EditResult.bytes()``, ``ResultImage.read()``): the same
        capped, deadline-bound, key-free download as ``download``."""
        task_id, sinks = self._memory_plan(result)
        self._fetch_all(task_id, sinks)
        return [sink.content for sink in sinks]

    def _fetch_all(self, task_id: str, sinks: Iterable[Sink]) -> None:
        # The one download path, whatever the sinks (memory or files).
        for sink in sinks:
            self._run(self._flows.fetch(sink.url, sink, task_id))

    def handle_callback(self, body: bytes, headers: Headers, *, tolerance: float | None = None) -> TaskInfo:
        """Verify a kie.ai callback and read its task from kie.ai: the one safe call for a receiver.

        kie.ai signs only the task id and the timestamp, never the body (reference §5), so the record is
        read from kie.ai (one recordInfo read), not taken from the body. The replay window is recorded
        once that read succeeded: if it fails, answer non-2xx and kie.ai's redelivery is processed.

        Args:
            body: the raw request body, as received.
            headers: the request headers (any mapping, or ``(name, value)`` pairs).
            tolerance: seconds the signed timestamp may differ from now, either way (default 300).

        The replay window lives in this client (in memory): one receiver process. With several
        processes, give ``kie_gpt_image.webhooks.ReplayGuard`` a shared store and use the receivers.

        Returns:
            The task's ``TaskInfo`` as kie.ai reports it now.

        Raises:
            ReplayedCallbackError: this delivery was already handled: answer HTTP 200 and do nothing.
            WebhookVerificationError: a bad signature, a missing header, a stale or future timestamp
                (answer 401), or a body that is no callback (answer 400).
            InvalidInputError: no ``webhook_key`` and ``KIE_WEBHOOK_HMAC_KEY`` unset.
            APIError, TransportError, ...: the read failed (answer 5xx: kie.ai delivers again).
        """
        task_id, timestamp, window = self._verified_task_id(body, headers, tolerance)
        info = self.get_task(task_id)
        self._accept_callback(task_id, timestamp, window)
        return info

    @property
    def with_raw_response(self) -> RawResponses:
        """The kie.ai methods, returning a ``RawResponse`` (the HTTP replies and ``.parse()``).

        Example::

            raw = client.with_raw_response.get_task(task_id)
            raw.status_code, raw.headers, raw.http_response.json()
            info = raw.parse()
        """
        return RawResponses(self)

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

    # ------------------------------------------------------------------ any model, replicate-style

    @overload
    def run(
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
    ) -> RunResult: ...

    @overload
    def run(
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

    def run(
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
    ) -> RunResult | Task:
        """Run any model of the catalog with its own ``input`` fields (as ``replicate.run``): upload the
        local files of its media fields, create the task, wait for and return the result.

        Args:
            model: a model id of ``kie_gpt_image.MODELS`` (an unknown one is refused, with the nearest
                ids, unless ``validate=False``).
            input: the model's ``input`` fields by their names in its document. A media field (image,
                video or audio by URL) takes paths, bytes, ``(name, bytes)``, files, PIL images, upload
                objects or URLs, one or a list as the field takes.
            wait: ``False`` returns the ``Task`` as soon as it is created.
            validate: ``False`` sends ``input`` unchecked, to a model kie.ai added after the last
                regenerate (only plainly local values, bytes, ``Path`` objects, files, are uploaded).
            callback_url, timeout, on_progress, on_upload_progress: as for ``edit``.

        Returns:
            ``RunResult`` (its ``files`` and ``data``), or ``Task`` with ``wait=False``.

        Raises:
            InvalidInputError: a bad model, field or file (nothing was sent), naming it
                (``multi_prompt[0].prompt``). The task and request errors: as for ``edit``.
        """
        plan = _inputs.check_run(
            model,
            input,
            validate=validate,
            callback_url=callback_url,
            allow_http_callback=self.allow_http_callback,
            timeout=timeout,
        )
        progress = _check_upload_progress(on_upload_progress)
        if plan.callback_url is not None:
            self._warn_unreachable_callback(plan.callback_url)
        flow = self._flows.run(plan.mapped(lambda s: watch(s, progress)), wait=wait, timeout=timeout)
        outcome = self._run(flow, on_progress)
        return outcome if isinstance(outcome, Task) else RunResult.from_info(outcome, self)


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
            webhook_key=webhook_key,
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
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout, limits=limits, transport=transport, cookies=_NoCookies()
        )
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
                    if effect.watch is None:
                        await self._sleep(effect.seconds)
                    else:
                        await self._pause(effect, effect.watch)
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

    async def _pause(self, effect: Sleep, watch: Watch) -> None:
        """Sleep through ``effect`` (the client's ``sleep``, so a scaled clock still applies) until word
        of its task's finish, which may come from this loop or from another thread."""
        import anyio
        import anyio.from_thread
        import anyio.lowlevel

        woken = anyio.Event()
        token = anyio.lowlevel.current_token()
        loop_thread = threading.get_ident()

        def wake() -> None:
            if threading.get_ident() == loop_thread:
                woken.set()
                return
            try:
                anyio.from_thread.run_sync(woken.set, token=token)
            except RuntimeError:  # the loop is gone: nobody is sleeping any more
                pass

        if not watch.arm(wake):
            return  # the word arrived while the poll was out
        try:
            async with anyio.create_task_group() as group:

                async def sleep() -> None:
                    await self._sleep(effect.seconds)
                    group.cancel_scope.cancel()

                group.start_soon(sleep)
                await woken.wait()
                group.cancel_scope.cancel()
        finally:
            watch.disarm()

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
        budget = self._budget(effect)
        try:
            async with _time_limit(max(budget.left(), 0.0)):
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
            return _raw.record(_replayed(response, body.content()))
        except TimeoutError as exc:  # _time_limit's deadline: the request's total deadline passed
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
                    extensions={"timeout": clamp_timeout(self._http.timeout, self.deadlines.request)},
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
        on_progress: ProgressCallback | None = None,
        on_upload_progress: UploadProgressCallback | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> AsyncEditResult | Task:
        """``edit``/``generate`` for a model and options known only at run time (the batch)."""
        outcome = await self._run(
            self._task_flow(
                kind,
                model,
                images,
                prompt,
                callback_url,
                options,
                wait=wait,
                timeout=timeout,
                on_upload_progress=on_upload_progress,
                on_submit=on_submit,
            ),
            on_progress,
        )
        return outcome if isinstance(outcome, Task) else AsyncEditResult.from_info(outcome, self)

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
            self, images, prompt, *, model=None, callback_url=None, on_upload_progress=None, **options
        ):
            """Upload local inputs and create the task; return at once (see ``Client.create_task``)."""
            return await self._submit(
                images,
                prompt,
                model=model,
                options=options,
                kind="edit",
                callback_url=callback_url,
                wait=False,
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
        self,
        source: _inputs.ImageInput,
        *,
        file_name: str | None = None,
        method: str = "stream",
        on_upload_progress: UploadProgressCallback | None = None,
    ) -> UploadedFile:
        """Upload one image (see ``Client.upload``)."""
        return await self._run(self._upload_flow(source, file_name, method, on_upload_progress))

    async def credits(self) -> float:
        """The account's remaining credits."""
        return await self._run(self._flows.credits())

    async def download_url(self, url: str) -> str:
        """A temporary direct-download URL for a kie.ai-generated file."""
        return await self._run(self._flows.download_url(_inputs.check_url("url", url)))

    async def download(
        self,
        result: EditResult | AsyncEditResult | AsyncResultImage | TaskInfo,
        dest: str | os.PathLike[str] = ".",
    ) -> list[Path]:
        """Download result images to ``dest``; return the paths written (see ``Client.download``)."""
        task_id, sinks = self._download_plan(result, dest)
        await self._fetch_all(task_id, sinks)
        return [sink.path for sink in sinks]

    async def read_results(
        self, result: EditResult | AsyncEditResult | AsyncResultImage | TaskInfo
    ) -> list[bytes]:
        """Download result images into memory (``AsyncEditResult.bytes()``, ``AsyncResultImage.read()``)."""
        task_id, sinks = self._memory_plan(result)
        await self._fetch_all(task_id, sinks)
        return [sink.content for sink in sinks]

    async def _fetch_all(self, task_id: str, sinks: Iterable[Sink]) -> None:
        for sink in sinks:
            await self._run(self._flows.fetch(sink.url, sink, task_id))

    async def handle_callback(
        self, body: bytes, headers: Headers, *, tolerance: float | None = None
    ) -> TaskInfo:
        """Verify a kie.ai callback and read its task from kie.ai (see ``Client.handle_callback``)."""
        task_id, timestamp, window = self._verified_task_id(body, headers, tolerance)
        info = await self.get_task(task_id)
        self._accept_callback(task_id, timestamp, window)
        return info

    @property
    def with_raw_response(self) -> AsyncRawResponses:
        """The kie.ai coroutines, returning a ``RawResponse`` (see ``Client.with_raw_response``)."""
        return AsyncRawResponses(self)

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

        Args:
            model: a model id of ``kie_gpt_image.MODELS`` (an unknown one is refused, with the nearest
                ids, unless ``validate=False``).
            input: the model's ``input`` fields by their names in its document. A media field (image,
                video or audio by URL) takes paths, bytes, ``(name, bytes)``, files, PIL images, upload
                objects or URLs, one or a list as the field takes.
            wait: ``False`` returns the ``Task`` as soon as it is created.
            validate: ``False`` sends ``input`` unchecked, to a model kie.ai added after the last
                regenerate (only plainly local values, bytes, ``Path`` objects, files, are uploaded).
            callback_url, timeout, on_progress, on_upload_progress: as for ``edit``.

        Returns:
            ``AsyncRunResult`` (its ``files`` and ``data``), or ``Task`` with ``wait=False``.

        Raises:
            InvalidInputError: a bad model, field or file (nothing was sent), naming it
                (``multi_prompt[0].prompt``). The task and request errors: as for ``edit``.
        """
        plan = _inputs.check_run(
            model,
            input,
            validate=validate,
            callback_url=callback_url,
            allow_http_callback=self.allow_http_callback,
            timeout=timeout,
        )
        progress = _check_upload_progress(on_upload_progress)
        if plan.callback_url is not None:
            self._warn_unreachable_callback(plan.callback_url)
        flow = self._flows.run(plan.mapped(lambda s: watch(s, progress)), wait=wait, timeout=timeout)
        outcome = await self._run(flow, on_progress)
        return outcome if isinstance(outcome, Task) else AsyncRunResult.from_info(outcome, self)
