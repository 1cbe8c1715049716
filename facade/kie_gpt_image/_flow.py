"""The life of a task, written once as sans-I/O generators shared by ``Client`` and ``AsyncClient``.

A flow yields effects and receives their results:

- ``Send(request)``  → the driver sends it; receives the read ``httpx.Response`` or the exception raised;
- ``Fetch(url, sink)`` → the driver streams ``url`` (no Authorization) into ``sink``; receives ``None``
  or the exception raised;
- ``Sleep(seconds)`` → the driver sleeps (``time.sleep`` or ``asyncio.sleep``, both injectable);
- ``Notify(info)``   → the driver calls the user's ``on_progress`` callback.

Retry and poll decisions come from the pure policies in ``_policies``; the drivers in ``_client`` only
perform effects. validate → upload → create → wait → result is therefore tested once, without I/O.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from . import _api
from ._download import Sink
from ._errors import (
    DownloadError,
    KieError,
    ServerError,
    SubmissionOutcomeUnknownError,
    TaskFailedError,
    TransportError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from ._inputs import ImageSource, LocalImage
from ._models import Task, TaskInfo, TaskState, UploadedFile
from ._policies import PollPolicy, RetryPolicy
from ._replies import transport_error

__all__ = ["Effect", "Fetch", "Flows", "Notify", "Send", "Sleep"]

logger = logging.getLogger("kie_gpt_image")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Send:
    """Send one kie.ai request (attempt number ``attempt``, 0-based)."""

    request: _api.RequestSpec
    attempt: int


@dataclass(frozen=True, slots=True)
class Fetch:
    """Stream a result URL into ``sink``, without kie.ai credentials."""

    url: str
    sink: Sink


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Notify:
    """Report a state change to the user's ``on_progress`` callback."""

    info: TaskInfo


Effect = Send | Fetch | Sleep | Notify
Flow = Generator[Effect, Any, T]

# What the generated parsers raise on shapes the spec does not describe (reference §7).
# RecursionError: absurdly nested JSON; OverflowError: 1e400 where an integer is expected.
_DECODE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, RecursionError, OverflowError)


@dataclass(frozen=True, slots=True)
class Flows:
    """Factories of the flows, holding the policies and the clock they decide with."""

    retry: RetryPolicy
    poll: PollPolicy
    clock: Callable[[], float]
    rand: Callable[[], float]
    upload_path: str

    # ------------------------------------------------------------------------------- one request

    def call(self, build: Callable[[], _api.RequestSpec], parse: Callable[[httpx.Response], T]) -> Flow[T]:
        """Send a request built fresh per attempt, retrying as the policy allows; return the parse."""
        attempt = 0
        while True:
            request = build()
            outcome = yield Send(request, attempt)
            never_sent = False
            error: KieError
            if isinstance(outcome, BaseException):
                error, never_sent = transport_error(outcome, request.operation)  # type: ignore[arg-type]
                cause: BaseException = outcome
            else:
                try:
                    return parse(outcome)
                except KieError as exc:
                    error, cause = exc, exc
                except _DECODE_ERRORS as exc:
                    error = UnexpectedResponseError(
                        f"reply does not match the spec ({type(exc).__name__}: {exc})",
                        operation=request.operation,
                        status_code=outcome.status_code,
                        body=outcome.content,
                    )
                    cause = exc
            delay = self.retry.delay(attempt, error, paid=request.paid, never_sent=never_sent, rand=self.rand)
            if delay is None:
                if request.paid and _outcome_unknown(error, never_sent):
                    unknown = SubmissionOutcomeUnknownError(error, request_summary=_summary(request))
                    if isinstance(outcome, httpx.Response):
                        unknown.task_id = _api.task_id_in(outcome)
                    raise unknown from cause
                if error is cause:
                    raise error
                raise error from cause
            logger.info(
                "retrying %s after %s (attempt %d, sleeping %.2f s)",
                request.operation,
                type(error).__name__,
                attempt + 1,
                delay,
            )
            yield Sleep(delay)
            attempt += 1

    # ------------------------------------------------------------------------------- operations

    def get_task(self, task_id: str) -> Flow[TaskInfo]:
        """recordInfo for ``task_id``."""
        try:
            return (
                yield from self.call(
                    lambda: _api.get_task_request(task_id), lambda r: _api.parse_task_info(r, task_id)
                )
            )
        except KieError as exc:
            exc.task_id = exc.task_id or task_id
            raise

    def create_task(
        self, input_urls: list[str], prompt: str, aspect_ratio: str, quality: str, callback_url: str | None
    ) -> Flow[Task]:
        """createTask (paid: see ``RetryPolicy``)."""
        task = yield from self.call(
            lambda: _api.create_task_request(
                input_urls=input_urls,
                prompt=prompt,
                aspect_ratio=aspect_ratio,
                quality=quality,
                callback_url=callback_url,
            ),
            _api.parse_created_task,
        )
        logger.info("created task %s", task.task_id)
        return task

    def credits(self) -> Flow[float]:
        """Remaining credits."""
        return (yield from self.call(_api.credits_request, _api.parse_credits))

    def download_url(self, url: str) -> Flow[str]:
        """A temporary direct-download URL for a kie.ai-generated file."""
        return (yield from self.call(lambda: _api.download_url_request(url), _api.parse_download_url))

    def upload_local(self, image: LocalImage, *, method: str, file_name: str | None) -> Flow[UploadedFile]:
        """Upload a validated local image (stream by default; base64 for small files if asked)."""
        if method == "base64":
            # Read inside the flow (not at validation) so memory is held only while uploading.
            with image.open() as stream:
                encoded = base64.b64encode(stream.read()).decode("ascii")
            data_url = f"data:{image.mime_type};base64,{encoded}"
            return (
                yield from self.call(
                    lambda: _api.base64_upload_request(
                        data_url, upload_path=self.upload_path, file_name=file_name
                    ),
                    lambda r: _api.parse_upload(r, "upload-file-base64"),
                )
            )
        return (
            yield from self.call(
                lambda: _api.stream_upload_request(
                    image.open(),
                    name=image.name,
                    mime_type=image.mime_type,
                    upload_path=self.upload_path,
                    file_name=file_name,
                ),
                lambda r: _api.parse_upload(r, "upload-file-stream"),
            )
        )

    def upload_url(self, url: str, *, file_name: str | None) -> Flow[UploadedFile]:
        """Have kie.ai fetch a public URL into its upload storage."""
        return (
            yield from self.call(
                lambda: _api.url_upload_request(url, upload_path=self.upload_path, file_name=file_name),
                lambda r: _api.parse_upload(r, "upload-file-url"),
            )
        )

    def wait(self, task_id: str, timeout: float | None = None) -> Flow[TaskInfo]:
        """Poll until the task finishes; return its record on success, raise on failure or timeout."""
        poll = self.poll
        limit = poll.timeout if timeout is None else timeout
        start = self.clock()
        last: tuple[TaskState, str | None] | None = None
        while True:
            info = yield from self.get_task(task_id)
            if (info.state, info.raw_state) != last:
                last = (info.state, info.raw_state)
                logger.debug("task %s is %s", task_id, info.raw_state)
                yield Notify(info)
            if info.state is TaskState.SUCCESS:
                if not info.result_urls:
                    raise UnexpectedResponseError(
                        "task succeeded but resultJson holds no resultUrls",
                        operation="get-task-details",
                        status_code=200,
                        body=str(info.raw.get("resultJson", "")),
                        task_id=task_id,
                    )
                return info
            if info.state is TaskState.FAIL:
                raise TaskFailedError(task_id, info.fail_code, info.fail_msg)
            elapsed = self.clock() - start
            delay = poll.next_delay(elapsed) if elapsed < limit else None
            if delay is not None:
                delay = min(delay, limit - elapsed)
            if delay is None or delay <= 0:
                raise WaitTimeoutError(task_id, waited=elapsed, last_state=info.raw_state or info.state.value)
            yield Sleep(delay)

    def edit(
        self,
        images: list[ImageSource],
        prompt: str,
        aspect_ratio: str,
        quality: str,
        callback_url: str | None,
        *,
        wait: bool,
        timeout: float | None,
    ) -> Flow[Task | TaskInfo]:
        """Upload local inputs, create the task, and (if ``wait``) wait for its result."""
        input_urls: list[str] = []
        for source in images:
            if isinstance(source, str):
                input_urls.append(source)
            else:
                uploaded = yield from self.upload_local(source, method="stream", file_name=None)
                input_urls.append(uploaded.url)
        task = yield from self.create_task(input_urls, prompt, aspect_ratio, quality, callback_url)
        if not wait:
            return task
        return (yield from self.wait(task.task_id, timeout))

    def fetch(self, url: str, sink: Sink, task_id: str | None) -> Flow[None]:
        """Download ``url`` into ``sink``, retrying transport failures, 5xx/429 and non-image bodies
        as reads are retried (a GET of a result pays for nothing)."""
        attempt = 0
        while True:
            outcome = yield Fetch(url, sink)
            if outcome is None:
                return None
            sink.abort()
            error: KieError
            if isinstance(outcome, DownloadError):
                outcome.task_id = outcome.task_id or task_id
                if not outcome.retryable:
                    raise outcome
                error = outcome
            else:
                error, _ = transport_error(outcome, "download")
            delay = self.retry.delay(attempt, error, paid=False, never_sent=False, rand=self.rand)
            if delay is None:
                if error is outcome:
                    raise error
                raise DownloadError(
                    f"could not download {url}: {error}", url=url, task_id=task_id
                ) from outcome
            yield Sleep(delay)
            attempt += 1


def _outcome_unknown(error: KieError, never_sent: bool) -> bool:
    """Whether a failed createTask may nevertheless have created (and charged) a task."""
    if never_sent:
        return False
    return isinstance(error, (TransportError, UnexpectedResponseError, ServerError))


def _summary(request: _api.RequestSpec) -> str:
    body = request.kwargs.get("json") or {}
    data = body.get("input", {}) if isinstance(body, dict) else {}
    prompt = str(data.get("prompt", ""))
    return (
        f"model={body.get('model')!r} prompt={prompt[:80]!r}{'...' if len(prompt) > 80 else ''} "
        f"input_urls={data.get('input_urls')!r} aspect_ratio={data.get('aspect_ratio')!r} "
        f"quality={data.get('quality')!r}"
    )
