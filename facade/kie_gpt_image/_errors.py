"""The exception tree of kie_gpt_image. Everything the library raises is a ``KieError``::

    KieError
    ├── InvalidInputError            bad input, raised before anything is sent or spent
    │   └── MissingApiKeyError       no api_key and no KIE_API_KEY
    ├── ClientClosedError            the client was closed before or during the call
    ├── TransportError               the request did not complete (connect, read, write, protocol)
    │   └── RequestTimeoutError      ... because a timeout or the request's total deadline expired
    ├── UnexpectedResponseError      a reply that is not a kie.ai envelope (HTML page, truncated JSON,
    │   │                            non-standard status with no envelope, data missing where required)
    │   └── ReplyTooLargeError       ... because it exceeded the reply size cap (``max_reply_bytes``)
    ├── APIError                     kie.ai answered with an error code (HTTP status or body ``code``)
    │   ├── BadRequestError          400
    │   ├── AuthenticationError      401
    │   ├── InsufficientCreditsError 402
    │   ├── UsageCapExceededError    433 (sub-key usage cap, newer specs)
    │   ├── NotFoundError            404
    │   ├── UpstreamTimeoutError     408 (no result for over 10 minutes)
    │   ├── UnprocessableRequestError 422
    │   ├── RateLimitError           429
    │   ├── MaintenanceError         455
    │   ├── ServerError              500
    │   ├── GenerationFailedError    501
    │   └── FeatureDisabledError     505
    ├── SubmissionOutcomeUnknownError createTask was sent but whether a task was created is unknown
    ├── TaskFailedError              the task ended in state ``fail``
    ├── WaitTimeoutError             the task did not finish within the wait timeout
    ├── DownloadError                a result could not be downloaded (host error, stall, deadline)
    │   └── ResultTooLargeError      ... because it exceeded the size cap
    ├── DestinationError             a result could not be written locally (disk full, permissions)
    ├── BudgetStoreError             a shared budget store (RateLimits.store) cannot be opened or used
    └── WebhookVerificationError     a callback failed verification (kie_gpt_image.webhooks)
        ├── MissingHeaderError       X-Webhook-Timestamp or X-Webhook-Signature absent
        ├── BadTimestampError        the timestamp is not Unix seconds
        ├── StaleTimestampError      the timestamp is older than the tolerance
        ├── FutureTimestampError     the timestamp is further ahead than the tolerance
        ├── BadSignatureError        the signature does not match
        ├── MalformedCallbackError   the body is not a callback envelope with a task id
        └── ReplayedCallbackError    this (task id, timestamp) was already accepted

Every error raised once a task exists carries ``task_id``, so a paid task is never lost: the message
says how to resume (``client.wait(task_id)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

__all__ = [
    "API_KEY_PAGE",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BadSignatureError",
    "BadTimestampError",
    "BudgetStoreError",
    "ClientClosedError",
    "DestinationError",
    "DownloadError",
    "FeatureDisabledError",
    "FutureTimestampError",
    "GenerationFailedError",
    "InsufficientCreditsError",
    "InvalidInputError",
    "KieError",
    "MaintenanceError",
    "MalformedCallbackError",
    "MissingApiKeyError",
    "MissingHeaderError",
    "NotFoundError",
    "RateLimitError",
    "ReplayedCallbackError",
    "ReplyTooLargeError",
    "RequestTimeoutError",
    "ResultTooLargeError",
    "ServerError",
    "StaleTimestampError",
    "SubmissionOutcomeUnknownError",
    "TaskFailedError",
    "TransportError",
    "UnexpectedResponseError",
    "UnprocessableRequestError",
    "UpstreamTimeoutError",
    "UsageCapExceededError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "excerpt",
    "redact",
]

_BODY_EXCERPT = 500


def excerpt(body: bytes | str | None, limit: int = _BODY_EXCERPT) -> str:
    """A printable, truncated excerpt of a reply body for error messages."""
    if body is None:
        return ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


class KieError(Exception):
    """Base class of every error kie_gpt_image raises."""

    task_id: str | None
    """The task this error concerns, when a task exists (resume with ``client.wait(task_id)``)."""
    resumable: ClassVar[bool] = True
    """Whether waiting on ``task_id`` again can help (not when the task failed or is unknown)."""

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.task_id = task_id

    def __str__(self) -> str:
        text = self.message
        if self.task_id and self.task_id not in text:
            text += f" (task {self.task_id})"
        if self.task_id and self.resumable:
            text += f"; resume with client.wait({self.task_id!r})"
        return text


class InvalidInputError(KieError):
    """An argument is invalid; raised before any request is sent, so nothing was spent."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        """The argument at fault, e.g. ``images[2]`` or ``aspect_ratio``."""
        self.problem = problem


class MissingApiKeyError(InvalidInputError):
    """No API key was given and ``KIE_API_KEY`` is not set."""

    def __init__(self) -> None:
        super().__init__(
            "api_key", "no API key: pass api_key=... or set the KIE_API_KEY environment variable"
        )


class ClientClosedError(KieError):
    """The client was closed before the call, or while it was in flight.

    A common case: ``result.save()`` after the ``with Client() as client:`` block ended. Save inside the
    block, or create the client without ``with`` and close it when you are done.
    """

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message, task_id=task_id)


class TransportError(KieError):
    """The HTTP exchange did not complete (connection refused or dropped, protocol error)."""

    def __init__(self, message: str, *, operation: str, task_id: str | None = None) -> None:
        super().__init__(message, task_id=task_id)
        self.operation = operation
        """The kie.ai operation (spec operationId) or ``download``."""


class RequestTimeoutError(TransportError):
    """A connect, read, write or pool timeout expired, or the request's total deadline
    (``request_timeout``) passed."""


class UnexpectedResponseError(KieError):
    """A reply that cannot be read as a kie.ai envelope; ``body`` holds a truncated excerpt."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        status_code: int | None,
        body: bytes | str | None,
        task_id: str | None = None,
    ) -> None:
        shown = excerpt(body, 200)
        super().__init__(
            f"{message} (HTTP {status_code}, {operation})" + (f": {shown}" if shown else ""), task_id=task_id
        )
        self.operation = operation
        self.status_code = status_code
        self.body = excerpt(body)
        """The reply body, truncated to 500 characters."""


class ReplyTooLargeError(UnexpectedResponseError):
    """A kie.ai reply exceeded ``max_reply_bytes`` (counted after gzip/deflate decoding)."""

    def __init__(
        self, *, operation: str, cap: int, status_code: int | None = None, task_id: str | None = None
    ) -> None:
        super().__init__(
            f"reply exceeds the {cap}-byte cap (max_reply_bytes)",
            operation=operation,
            status_code=status_code,
            body=None,
            task_id=task_id,
        )
        self.cap = cap
        """The cap in bytes."""


class APIError(KieError):
    """kie.ai answered with an error code; subclasses pin one documented code each."""

    code: int
    """The kie.ai code (body ``code``, or the HTTP status when the body has none)."""
    documented_code: ClassVar[int | None] = None

    def __init__(
        self,
        message: str,
        *,
        code: int,
        operation: str,
        status_code: int | None = None,
        body: bytes | str | None = None,
        retry_after: float | None = None,
        task_id: str | None = None,
        local: bool = False,
    ) -> None:
        # ``local``: this client's own limit (``RateLimits``) answered, not kie.ai: never worded as kie.ai's.
        super().__init__(
            message if local else f"kie.ai code {code} on {operation}: {message}", task_id=task_id
        )
        self.code = code
        self.msg = message
        """kie.ai's message (``msg`` or ``message`` in the reply)."""
        self.operation = operation
        self.status_code = status_code
        self.body = excerpt(body)
        self.retry_after = retry_after
        """Seconds to wait before retrying, from a ``Retry-After`` header, when given."""


class BadRequestError(APIError):
    """400: the request was malformed (kie.ai's published recordInfo document). Never retried."""

    documented_code = 400
    resumable = False


API_KEY_PAGE = "https://kie.ai/api-key"
"""Where kie.ai's API keys are created and managed."""


class AuthenticationError(APIError):
    """401: the API key is missing or invalid. Never retried. The client adds where the key came from
    (the ``api_key`` argument or ``KIE_API_KEY``), at most its last four characters, and where to get
    one."""

    documented_code = 401
    key_source: str | None = None
    """Where the refused key came from, e.g. ``the KIE_API_KEY environment variable``."""

    def explain_key(self, source: str, tail: str | None) -> None:
        """Add to the message where the refused key came from (once; ``tail``: its last characters)."""
        if self.key_source is not None:
            return
        self.key_source = source
        ending = f", ending in ...{tail}," if tail else ""
        self.message += (
            f" (the API key from {source}{ending} was refused: check it, or create one at {API_KEY_PAGE})"
        )
        self.args = (self.message, *self.args[1:])


class InsufficientCreditsError(APIError):
    """402: the account does not have enough credits. Never retried."""

    documented_code = 402


class UsageCapExceededError(APIError):
    """433: a sub-key's usage cap is exceeded (newer kie.ai specs). Never retried."""

    documented_code = 433


class NotFoundError(APIError):
    """404: the resource, endpoint or task id does not exist."""

    documented_code = 404
    resumable = False


class UpstreamTimeoutError(APIError):
    """408: upstream trouble, the task has had no result for over 10 minutes (kie.ai's published
    recordInfo document). The task is stuck: report it to kie.ai with its id."""

    documented_code = 408
    resumable = False


class UnprocessableRequestError(APIError):
    """422: the request parameters failed kie.ai's validation (or the task id is unknown/expired)."""

    documented_code = 422
    resumable = False


class RateLimitError(APIError):
    """429: rate limited; the request was not accepted. Retried with backoff."""

    documented_code = 429


class MaintenanceError(APIError):
    """455: service unavailable for maintenance; the request was not accepted. Retried with backoff."""

    documented_code = 455


class ServerError(APIError):
    """500 (or another 5xx): server error. Reads are retried; a createTask outcome is unknown."""

    documented_code = 500


class GenerationFailedError(APIError):
    """501: content generation failed."""

    documented_code = 501


class FeatureDisabledError(APIError):
    """505: the requested feature is disabled."""

    documented_code = 505


class SubmissionOutcomeUnknownError(KieError):
    """createTask was sent, but the reply was lost or unreadable: a task may or may not exist.

    It is not resubmitted automatically, because a second submission could pay twice. Check the
    account's task list (or credits) before submitting again.
    """

    def __init__(self, cause: KieError | None, *, request_summary: str, task_id: str | None = None) -> None:
        reason = str(cause) if cause is not None else "no reply"
        super().__init__(
            "createTask was sent but its outcome is unknown (a task may have been created and paid for; "
            f"it was not resubmitted): {reason}",
            task_id=task_id,
        )
        self.cause = cause
        self.request_summary = request_summary
        """What was submitted (model, prompt excerpt, input URLs), to find the task again."""


class TaskFailedError(KieError):
    """The task ended in state ``fail``; ``fail_code`` and ``fail_msg`` say why."""

    def __init__(self, task_id: str, fail_code: str | None, fail_msg: str | None) -> None:
        super().__init__(
            f"task {task_id} failed: [{fail_code or '?'}] {fail_msg or 'no message'}", task_id=task_id
        )
        self.fail_code = fail_code
        self.fail_msg = fail_msg

    resumable = False


class WaitTimeoutError(KieError):
    """The task was still unfinished when the wait timeout expired. The task goes on at kie.ai:
    call ``client.wait(task_id)`` again later."""

    def __init__(self, task_id: str, *, waited: float, last_state: str) -> None:
        super().__init__(
            f"task {task_id} still {last_state!r} after {waited:.0f} s; it goes on at kie.ai",
            task_id=task_id,
        )
        self.waited = waited
        self.last_state = last_state


class DownloadError(KieError):
    """A result file could not be downloaded."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        task_id: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, task_id=task_id)
        self.url = url
        self.retry_after = retry_after
        """Seconds to wait before retrying, from the file host's ``Retry-After`` header, when given."""
        self.retryable = retryable
        """Whether trying again may help (a 5xx or 429 from the file host, a body that is not an image)."""


class ResultTooLargeError(DownloadError):
    """A result file exceeded the download size cap (``max_download_bytes``)."""


class DestinationError(KieError):
    """A result could not be written to the local destination (a folder that cannot be created, a full
    disk, missing permissions). Nothing is wrong at kie.ai: fix the destination and download again."""

    resumable = False

    def __init__(self, message: str, *, path: str, task_id: str | None = None) -> None:
        super().__init__(message, task_id=task_id)
        self.path = path
        """The local path that could not be written."""


class BudgetStoreError(KieError):
    """The store holding the shared account budgets (``RateLimits.store``: a SQLite file, a Redis server)
    could not be opened, read or written: a file that is not a database, a read-only folder, an
    unreachable server. Raised before anything is sent when it cannot be opened; once a task exists, it
    carries ``task_id``. Nothing is wrong at kie.ai: fix the store (or use another) and try again."""

    def __init__(self, message: str, *, store: str, task_id: str | None = None) -> None:
        super().__init__(message, task_id=task_id)
        self.store = store
        """The store, as ``RateLimits.store`` names it, with any password masked."""


def redact(error: BaseException, mask: Callable[[str], str]) -> None:
    """Pass every text of ``error`` (and of its causes) that could show a secret through ``mask``: the
    message, the reply excerpt and kie.ai's ``msg`` (a 401 may echo the key it refused). The masking rule
    itself is ``kie_gpt_image._auth.Secret.mask``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for name in ("message", "msg", "body", "request_summary"):
            value = getattr(current, name, None)
            if isinstance(value, str):
                masked = mask(value)
                if masked != value:
                    setattr(current, name, masked)
        current.args = tuple(mask(a) if isinstance(a, str) else a for a in current.args)
        cause = getattr(current, "cause", None)
        if isinstance(cause, BaseException) and id(cause) not in seen:
            redact(cause, mask)
        current = current.__cause__ or current.__context__


class WebhookVerificationError(KieError):
    """A callback request failed verification; the subclass says how. Messages never contain the
    key or the received signature. Never resumable: a callback is a notification, not a task this
    library is waiting on (answer 401 or 400, or 200 for a ``ReplayedCallbackError``)."""

    resumable = False


class MissingHeaderError(WebhookVerificationError):
    """A verification header is absent."""


class BadTimestampError(WebhookVerificationError):
    """``X-Webhook-Timestamp`` is not an integer number of Unix seconds."""


class StaleTimestampError(WebhookVerificationError):
    """The timestamp is older than the tolerance (a late or replayed request)."""


class FutureTimestampError(WebhookVerificationError):
    """The timestamp is further in the future than the tolerance."""


class BadSignatureError(WebhookVerificationError):
    """``X-Webhook-Signature`` does not match the body's task id and the timestamp."""


class MalformedCallbackError(WebhookVerificationError):
    """The body is not a JSON callback envelope carrying a task id."""


class ReplayedCallbackError(WebhookVerificationError):
    """This ``(task id, timestamp)`` was already accepted inside the window. kie.ai may deliver a
    callback more than once: acknowledge it with HTTP 200 and do nothing else."""
