"""``Client``: the public methods (``AsyncClient``, in ``_async_client``, has the same names and parameters;
only ``close``/``aclose`` differ), each a thin call of the shared flows; what both share is ``_base_client``.

Where the rest lives: the options resolved once (``_settings``), the key and its masking (``_auth``),
hosts and the loopback rule (``_urls``), every call as a checked flow (``_engine``), the two drivers that
run flows with I/O (``_drivers``), the flows themselves (``_flow``). The drivers and everything they need
are imported when the first client is made, not with this module: ``from kie_gpt_image import Client``
costs about what ``import httpx`` does (issue 14; BENCHMARKS.md figure 2).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

import httpx

from ._base_client import BaseClient, ProgressCallback, check_one_of, check_wait_timeout, shared_options
from ._raw import RawResponses
from ._settings import (
    DEFAULT_CREATE_TIMEOUT,
    DEFAULT_LIMITS,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_MAX_REPLY_BYTES,
    DEFAULT_TIMEOUT,
    DEFAULT_UPLOAD_PATH,
    Settings,
)
from ._urls import DEFAULT_BASE_URL, DEFAULT_UPLOAD_BASE_URL

if TYPE_CHECKING:
    from collections.abc import Iterator

    from . import _api, _inputs
    from ._drivers import SyncDriver
    from ._flow import Flow
    from ._many import EditRequest, ItemOutcome
    from ._models import Task, TaskInfo, UploadedFile
    from ._policies import PollPolicy, RetryPolicy
    from ._progress import UploadProgressCallback
    from ._results import (
        AsyncEditResult,
        AsyncResultImage,
        EditResult,
        ResultImage,
        RunResult,
    )
    from ._scheduler import RateLimits
    from ._webhooks import Headers

    Images = Iterable[_inputs.ImageInput] | _inputs.ImageInput
    """What ``images=`` accepts: one image or several (see ``_inputs.ImageInput``)."""

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CREATE_TIMEOUT",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_REPLY_BYTES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPLOAD_BASE_URL",
    "Client",
    "ProgressCallback",
]


T = TypeVar("T")


class Client(BaseClient):
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
        max_retries: retries for reads and uploads (default 2). createTask is never blindly resent: only
            when it provably never reached kie.ai or kie.ai refused it (429/455; a 429 also past
            ``max_retries``, until ``create_timeout``); ``max_retries=0`` resends nothing at all.
        retry_policy: a full ``RetryPolicy`` instead of ``max_retries``.
        poll_policy: how ``wait`` polls (defaults to kie.ai's documented schedule, 15 min timeout).
        max_download_bytes: cap on one downloaded result: an int for every kind, or a dict per kind
            (``{"video": 4 * 2**30}``; default images 50 MiB, audio 200 MiB, video 2 GiB).
        max_reply_bytes: cap on one kie.ai reply, after gzip/deflate decoding (default 4 MiB).
        request_timeout: total deadline of one request attempt in seconds: connect, send and the whole
            reply (default: connect + write + read of ``timeout``, 130 s by default).
        download_timeout: total deadline of one result download in seconds (default: a request's plus
            the declared size, or the cap, at 100 kB/s: about 11 minutes for 50 MB).
        create_timeout: seconds the create step of ``edit``/``generate``/``create_task`` may take
            (default 60: six of kie.ai's 10-second create windows), apart from the wait: waiting for
            room under ``rate_limits`` and resending a createTask kie.ai refused with 429. A refusal
            lasting several seconds is a ``CreateRefusedWarning`` and an ``on_progress`` record.
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
        create_timeout: float = DEFAULT_CREATE_TIMEOUT,
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
        options = shared_options(locals())  # first: before any other local exists
        check_one_of(http_client, transport)
        settings = Settings.resolve(options, timeout=None if http_client is None else http_client.timeout)
        from ._drivers import SyncDriver  # the machinery, with the first client

        self._start(SyncDriver(settings, transport=transport, http_client=http_client, sleep=sleep))

    _driver: SyncDriver

    def _run(self, flow: Flow[T], on_progress: ProgressCallback | None = None) -> T:
        return self._driver.run(flow, on_progress)

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
        create_timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        on_upload_progress: UploadProgressCallback | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> EditResult | Task:
        """``edit``/``generate`` for a model and options known only at run time (the CLI, the batch):
        checked the same way, at run time only."""
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
        outcome = self._run(flow, on_progress)
        return self._driver.outcome(outcome, self)

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
                timeout: wait timeout in seconds (default the poll policy's); the create step before it
                    has its own deadline, the client's ``create_timeout``.
                on_progress: called with the ``TaskInfo`` on every state change (and, with no task id
                    yet, once kie.ai has refused the createTask for several seconds).
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
            """Upload local inputs and create the task; return at once with its ``Task`` (same arguments
            as ``edit``). Follow up with ``wait(task.task_id)`` or a callback.

            Args:
                timeout: the create step's deadline in seconds (default the client's ``create_timeout``,
                    60 s): waiting for room under the account's limits and resending a createTask that
                    kie.ai refused with 429 (never with ``max_retries=0``) end there, with a
                    ``RateLimitError`` saying how long and how often it tried. Uploads are not counted.
            """
            return self._submit(
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
        return self._run(self._driver.get_task(task_id))

    def wait(
        self, task_id: str, *, timeout: float | None = None, on_progress: ProgressCallback | None = None
    ) -> EditResult:
        """Poll until the task finishes. Needs only the id, so it resumes after a crash or a timeout.

        Raises:
            TaskFailedError, WaitTimeoutError (both carry the task id), and request errors.
        """
        return self._driver.result(self._run(self._driver.wait(task_id, timeout), on_progress), self)

    def edit_many(
        self,
        requests: Iterable[EditRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        max_credits: float | None = None,
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
            max_credits: a credit budget: no edit starts that could take the credits spent and
                reserved past it or the balance (``_spend``); those come back as ``NotStartedError``.

        Returns:
            An iterator of ``ItemOutcome`` (``.request``, ``.result`` or ``.error``, ``.task_id``).

        Raises:
            InvalidInputError: a bad ``concurrency`` (bad requests come back as their item's error).
        """
        limit = self._driver.concurrency(concurrency)

        def one(request: EditRequest | Mapping[str, Any]) -> EditResult:
            edit = self._driver.edit_request(request)
            result: EditResult = self.edit(edit.images, edit.prompt, **edit.options)  # never wait=False
            return result

        return self._driver.many(one, requests, limit, max_credits=max_credits, credits=self.credits)

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
        check_wait_timeout(timeout)
        limit = self._driver.concurrency(concurrency)
        return self._driver.many(lambda task_id: self.wait(task_id, timeout=timeout), task_ids, limit)

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
        return self._run(self._driver.upload(source, file_name, method, on_upload_progress))

    def credits(self) -> float:
        """The account's remaining credits."""
        return self._run(self._driver.credits())

    def download_url(self, url: str) -> str:
        """A temporary (about 20 minutes) direct-download URL for a kie.ai-generated file."""
        return self._run(self._driver.download_url(url))

    def download(
        self,
        result: EditResult | AsyncEditResult | ResultImage | AsyncResultImage | TaskInfo,
        dest: str | os.PathLike[str] = ".",
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
        task_id, sinks = self._driver.download_plan(result, dest)
        self._driver.fetch_all(task_id, sinks)
        return [sink.path for sink in sinks]

    def read_results(
        self, result: EditResult | AsyncEditResult | ResultImage | AsyncResultImage | TaskInfo
    ) -> list[bytes]:
        """Download result images into memory (``EditResult.bytes()``, ``ResultImage.read()``): the same
        capped, deadline-bound, key-free download as ``download``."""
        task_id, sinks = self._driver.memory_plan(result)
        self._driver.fetch_all(task_id, sinks)
        return [sink.content for sink in sinks]

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
        task_id, timestamp, window = self._driver.verify_callback(body, headers, tolerance)
        info = self.get_task(task_id)
        self._driver.callbacks.accept(task_id, timestamp, window)
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
        flow = self._driver.run_model(
            model,
            input,
            wait=wait,
            validate=validate,
            callback_url=callback_url,
            timeout=timeout,
            on_upload_progress=on_upload_progress,
        )
        return self._driver.run_outcome(self._run(flow, on_progress), self)

    def close(self) -> None:
        """Close the connection pool (unless you passed your own ``http_client``); calls made after, or
        in flight, raise ``ClientClosedError``."""
        self._driver.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
