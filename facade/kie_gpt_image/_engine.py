"""What ``Client`` and ``AsyncClient`` share once configured: the scheduler, the flows, and every public
call turned into a checked flow (nothing is sent before its inputs pass), plus how one request is built.

The two drivers (``_drivers``) add only the I/O; the clients (``_client``) only the public signatures. A
new public call is one method here returning a flow, and one thin method per client running it.
Imported with the first client, not with the package (BENCHMARKS.md figure 2).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from . import _api, _inputs
from ._auth import BearerAuth
from ._deadline import AttemptDeadline, clamp_timeout
from ._decoding import ACCEPT_ENCODING
from ._download import FileSink, MemorySink, parse_destination
from ._errors import AuthenticationError, BudgetStoreError, ClientClosedError, InvalidInputError, redact
from ._flow import Flow, Flows, Send
from ._many import EditRequest, check_concurrency
from ._models import Task, TaskInfo, UploadedFile
from ._progress import UploadProgressCallback, watch
from ._results import AsyncEditResult, AsyncResultImage, EditResult, ResultImage
from ._scheduler import Scheduler
from ._settings import Settings
from ._urls import is_loopback_host, may_be_remote
from ._warnings import LoopbackCallbackWarning, warn
from ._webhooks import CallbackCheck, Headers

__all__ = ["USER_AGENT", "Engine", "check_task_id", "check_timeout"]

logger = logging.getLogger("kie_gpt_image")

USER_AGENT = "kie-gpt-image"
_NOT_BODY = frozenset({"method", "url", "params", "headers"})  # a RequestSpec's kwargs besides its body
_SAVE_HINT = (
    "; results are downloaded through the client that produced them: call result.save()/bytes() inside "
    "the `with` block, or create the client without `with` and close it when you are done"
)


@functools.lru_cache(maxsize=1024)
def _parsed_url(url: str) -> httpx.URL:
    """``url`` parsed once: httpx parses a URL string on every request (about a sixth of a poll on a
    MockTransport, issue 25 item 1, scripts/bench_overhead.py), and the URLs a client sends repeat: a
    wait polls one recordInfo URL, every createTask goes to one. An ``httpx.URL`` is immutable and a
    request built from one does not parse it again. The cache is bounded (a poll URL per task)."""
    return httpx.URL(url)


def check_timeout(timeout: object, name: str = "timeout") -> None:
    """A wait's (or a step's) timeout: ``None`` or a non-negative number of seconds."""
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout < 0):
        raise InvalidInputError(name, "must be a non-negative number of seconds")


def check_task_id(task_id: object) -> str:
    """A task id that can be sent, stripped."""
    if not isinstance(task_id, str) or not task_id.strip():
        raise InvalidInputError("task_id", "must be a non-empty string")
    if _api.safe_text(task_id) != task_id:
        raise InvalidInputError("task_id", f"holds characters that cannot be sent: {_api.safe_text(task_id)}")
    return task_id.strip()


def _check_upload_progress(callback: object) -> UploadProgressCallback | None:
    if callback is not None and not callable(callback):
        raise InvalidInputError("on_upload_progress", f"must be callable, not {type(callback).__name__}")
    return callback


class Engine:
    """One client's configured state and its checked flows (shared by both drivers)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key_source = settings.key_source
        """Where the key came from (the CLI names its own ``--api-key-file``)."""
        self.closed = False
        self.reply_cap = settings.max_reply_bytes
        self.auth = BearerAuth(settings.key)
        self.callbacks = CallbackCheck(settings.webhook_key)
        self.scheduler = Scheduler(settings.rate_limits, settings.key.reveal(), clock=settings.shared_clock)
        self.flows = Flows(
            retry=settings.retry_policy,
            poll=settings.poll_policy,
            clock=settings.clock,
            rand=settings.rand,
            upload_path=settings.upload_path,
            mask=self.surface,
            scheduler=self.scheduler,
            create_timeout=settings.create_timeout,
        )

    # ------------------------------------------------------------------ flows with checked inputs

    def task(
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
        create_timeout: float | None = None,
        on_upload_progress: UploadProgressCallback | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> Flow[Task | TaskInfo]:
        """``edit``/``create_task``/``generate``: every check runs here, before the flow yields its first
        request: the model, its images, the prompt and every option against the model's catalog entry.
        ``timeout`` bounds the wait, ``create_timeout`` the create step (default the client's)."""
        if model is None and kind in ("edit", "generate"):  # the model named by the documents
            model = _api.MODEL if kind == "edit" else _api.DEFAULT_GENERATE_MODEL
        progress = _check_upload_progress(on_upload_progress)
        checked = _inputs.check_task(model, images, prompt, options, kind)
        sources = [watch(source, progress) for source in checked.images]
        callback = (
            None
            if callback_url is None
            else _inputs.check_callback_url(callback_url, allow_http=self.settings.allow_http_callback)
        )
        if callback is not None and _api.MODELS[checked.model].callback_field is None:
            raise InvalidInputError("callback_url", f"{checked.model} takes no callback URL")
        check_timeout(timeout)
        check_timeout(create_timeout)
        if on_submit is not None and not callable(on_submit):
            raise InvalidInputError("on_submit", "must be callable")
        if callback is not None:
            self._warn_unreachable_callback(callback)
        return self.flows.edit(
            checked.model,
            sources,
            checked.input,
            callback,
            wait=wait,
            timeout=timeout,
            create_timeout=create_timeout,
            on_submit=on_submit,
        )

    def run_model(
        self,
        model: object,
        input: Mapping[str, Any] | None,
        *,
        wait: bool,
        validate: bool,
        callback_url: object,
        timeout: float | None,
        on_upload_progress: UploadProgressCallback | None,
    ) -> Flow[Task | TaskInfo]:
        """``run``: any model with its own ``input`` fields, every check before the first request: the
        model against the catalog, each field against its document, local files in any media field."""
        plan = _inputs.check_run(
            model,
            input,
            validate=validate,
            callback_url=callback_url,
            allow_http_callback=self.settings.allow_http_callback,
            timeout=timeout,
        )
        progress = _check_upload_progress(on_upload_progress)
        if plan.callback_url is not None:
            self._warn_unreachable_callback(plan.callback_url)
        return self.flows.run(plan.mapped(lambda source: watch(source, progress)), wait=wait, timeout=timeout)

    def _warn_unreachable_callback(self, callback_url: str) -> None:
        # kie.ai posts the callback from its own servers: a loopback URL there points at kie.ai itself.
        # Only the emulator (a loopback base_url) can reach this machine's loopback (issue 17 item 6).
        if is_loopback_host(urlsplit(callback_url).hostname) and may_be_remote(self.settings.base_url):
            warn(
                f"callback_url {callback_url!r} is on a loopback host, but the API host "
                f"{self.settings.base_url} is not: kie.ai cannot reach this machine's loopback, so no "
                "callback will arrive (poll with wait(task_id), or give a public https URL)",
                LoopbackCallbackWarning,
            )

    def upload(
        self,
        source: object,
        file_name: str | None,
        method: str,
        on_upload_progress: UploadProgressCallback | None = None,
    ) -> Flow[UploadedFile]:
        """``upload``: one image, checked."""
        if method not in ("stream", "base64"):
            raise InvalidInputError("method", f"{method!r} is not one of stream, base64")
        if file_name is not None and (not isinstance(file_name, str) or not file_name or "/" in file_name):
            raise InvalidInputError("file_name", "must be a non-empty name without '/'")
        if file_name is not None:
            _inputs.check_text("file_name", file_name)  # a lone surrogate cannot be sent
        checked = watch(_inputs.check_image("source", source), _check_upload_progress(on_upload_progress))
        if isinstance(checked, str):
            return self.flows.upload_url(checked, file_name=file_name)
        return self.flows.upload_local(checked, method=method, file_name=file_name)

    def get_task(self, task_id: object) -> Flow[TaskInfo]:
        """``get_task``: one recordInfo read."""
        return self.flows.get_task(check_task_id(task_id))

    def wait(self, task_id: object, timeout: float | None) -> Flow[TaskInfo]:
        """``wait``: poll until the task finishes."""
        check_timeout(timeout)
        return self.flows.wait(check_task_id(task_id), timeout)

    def credits(self) -> Flow[float]:
        """``credits``."""
        return self.flows.credits()

    def download_url(self, url: str) -> Flow[str]:
        """``download_url``."""
        return self.flows.download_url(_inputs.check_url("url", url))

    def fetches(self, task_id: str, sinks: Iterable[MemorySink | FileSink]) -> list[Flow[None]]:
        """One download flow per sink (the one download path, whatever the sinks)."""
        return [self.flows.fetch(sink.url, sink, task_id) for sink in sinks]

    def verify_callback(
        self, body: bytes, headers: Headers, tolerance: float | None
    ) -> tuple[str, int, float]:
        """``handle_callback``'s first half (see ``CallbackCheck``)."""
        return self.callbacks.verify(body, headers, tolerance)

    @staticmethod
    def edit_request(request: EditRequest | Mapping[str, Any]) -> EditRequest:
        """One ``edit_many`` item as an ``EditRequest``."""
        return EditRequest.of(request)

    def concurrency(self, concurrency: int | None) -> int:
        """Items in progress at once for ``edit_many``/``wait_many``."""
        if concurrency is None:
            # Enough items in progress to keep the running cap full while the next ones wait to be
            # created, and no more (each holds a thread in ``Client``).
            limits = self.scheduler.limits
            return limits.max_running + limits.creates_per_window
        return check_concurrency(concurrency)

    # ------------------------------------------------------------------ downloads

    def _targets(self, result: object) -> tuple[str, list[tuple[int, str]]]:
        """The task id and the ``(index, url)`` results of an ``EditResult``, a ``ResultImage`` or a
        ``TaskInfo``: what the one download path fetches."""
        if self.closed:
            raise self.closed_error("a result cannot be downloaded", saving=True)
        if isinstance(result, (ResultImage, AsyncResultImage)):
            return result.task_id, [(result.index, result.url)]
        info = result.info if isinstance(result, (EditResult, AsyncEditResult)) else result
        if not isinstance(info, TaskInfo) or not info.result_urls:
            raise InvalidInputError(
                "result", "give an EditResult, a ResultImage or a TaskInfo that has result URLs"
            )
        return info.task_id, list(enumerate(info.result_urls))

    def memory_plan(self, result: object) -> tuple[str, list[MemorySink]]:
        """``read_results``: the task id and one in-memory sink per result."""
        task_id, targets = self._targets(result)
        return task_id, [MemorySink(url, self.settings.max_download_bytes) for _, url in targets]

    def download_plan(self, result: object, dest: object) -> tuple[str, list[FileSink]]:
        """``download``: the task id and one file sink per result (``dest`` checked first)."""
        task_id, targets = self._targets(result)
        destination = parse_destination(dest, "dest")
        paths = destination.paths(task_id, targets)
        return task_id, [
            FileSink(url, self.settings.max_download_bytes, path, by_content=not destination.is_file)
            for (_, url), path in zip(targets, paths, strict=True)
        ]

    # ------------------------------------------------------------------ one request

    def deadline(self, effect: Send) -> AttemptDeadline:
        """The instant by which ``effect``'s attempt must end, on the client's clock."""
        seconds = self.settings.deadlines.request
        if effect.max_seconds is not None:
            seconds = min(seconds, effect.max_seconds)
        clock = self.settings.clock
        return AttemptDeadline(clock() + seconds, clock)

    owns_http = False
    """Whether the driver built its httpx client itself: then the client's headers are ours (user agent,
    ``Accept-Encoding``), it keeps no cookies and adds no params, and ``request`` skips httpx's merging."""

    def request(
        self, effect: Send, http: httpx.Client | httpx.AsyncClient, deadline: AttemptDeadline
    ) -> httpx.Request:
        """The ``httpx.Request`` for ``effect`` (its host, its query, our user agent, clamped timeouts)."""
        spec = effect.request
        kwargs = spec.kwargs
        method = kwargs["method"].upper()
        base = self.settings.base_url if spec.host == "api" else self.settings.upload_base_url
        text = base + kwargs["url"]
        params = kwargs.get("params")
        if params:
            # One URL parse instead of two: httpx parses the URL, then again once it merges ``params``.
            text += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        url = _parsed_url(text)
        extensions = {"timeout": clamp_timeout(http.timeout, deadline.left())}
        body = {name: value for name, value in kwargs.items() if name not in _NOT_BODY}
        logger.debug("%s %s (attempt %d)", method, spec.operation, effect.attempt + 1)
        if self.owns_http:
            # Nothing for ``build_request`` to merge (see ``owns_http``): built directly, a request costs
            # one URL parse and a copy of the client's headers, not a second parse, a header merge item by
            # item and a cookie jar's pass (about a fifth of a poll: issue 25 item 1, bench_overhead.py).
            headers = http.headers
            extra = kwargs.get("headers")
            if extra:
                headers = httpx.Headers(headers)
                headers.update(extra)
            return httpx.Request(method, url, headers=headers, extensions=extensions, **body)
        # A caller's own http_client: its headers, cookies and params apply, ours on top. Accept-Encoding
        # too: that client may offer br/zstd, which ``_decoding`` cannot bound.
        ours = {**kwargs.get("headers", {}), "User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING}
        return http.build_request(method, url, headers=ours, extensions=extensions, **body)

    def closed_error(self, what: str, *, saving: bool = False) -> ClientClosedError:
        """The error of a call made on (or caught by) a closed client."""
        return ClientClosedError(f"the client is closed ({what})" + (_SAVE_HINT if saving else ""))

    def open_store(self) -> BudgetStoreError | None:
        """``OpenStore``: open the shared budget store; the error it met, for the flow to raise."""
        try:
            self.scheduler.open()
        except BudgetStoreError as exc:
            return exc
        return None

    def surface(self, error: BaseException) -> None:
        """Mask the key an error may echo (kie.ai's message), before a log line or the user sees it."""
        redact(error, self.settings.key.mask)
        if isinstance(error, AuthenticationError):
            error.explain_key(self.key_source, self.settings.key.tail())

    @staticmethod
    def log_reply(response: httpx.Response) -> None:
        """One DEBUG line per reply."""
        if not logger.isEnabledFor(logging.DEBUG):  # its arguments cost a URL path's unquoting
            return
        logger.debug(
            "%s %s -> HTTP %d", response.request.method, response.request.url.path, response.status_code
        )
