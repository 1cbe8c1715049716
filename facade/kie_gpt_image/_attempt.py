"""Never pay twice: what one attempt's outcome means, and what to do about it, in one place.

``classify`` turns any failed attempt (an httpx exception, a deadline, an error envelope, a result host's
status, a body that is not an image) into a ``Failure``: our error, how far the request got, whether
trying again may help, and any task id the reply named. Local errors (a destination that cannot be
written, a closed client, bad input) are not failures of an attempt: ``classify`` re-raises them.

``decide`` is the whole retry rule as a pure table of (attempt, failure, paid):

==================  =============  ==========================================================
reach               transient      decision
==================  =============  ==========================================================
never_sent          yes            retry after backoff while retries remain, then fail
not_accepted        yes            retry after ``Retry-After`` (capped) or backoff, then fail
not_accepted (429)  paid request   also past the retries, while the create step's deadline allows
                                   (``create_timeout``, 60 s): kie.ai did not accept it, so resending
                                   costs nothing (its create window reopens within seconds); never
                                   with ``max_retries=0``, which resends nothing at all
maybe_processed     paid request   **outcome unknown**: never resent (it may have been charged)
maybe_processed     yes            retry after backoff while retries remain (reads, uploads)
any                 no             fail at once (a definitive answer: 401, 402, 422, 505 ...)
==================  =============  ==========================================================

A poll inside ``wait`` (free) rides out service blips (5xx, 429, 455, transport failures, timeouts)
with no retry limit: the wait's own deadline ends it.

Only createTask is paid (``RequestSpec.paid``). ``RetryPolicy`` holds only the timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from ._deadline import DeadlineExceeded
from ._errors import (
    APIError,
    DownloadError,
    KieError,
    MaintenanceError,
    RateLimitError,
    ReplyTooLargeError,
    RequestTimeoutError,
    ResultTooLargeError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)
from ._policies import RetryPolicy

__all__ = [
    "CAUGHT",
    "TRANSPORT_ERRORS",
    "Decision",
    "Fail",
    "Failure",
    "OutcomeUnknown",
    "Reach",
    "Retry",
    "classify",
    "decide",
]

Reach = Literal["never_sent", "not_accepted", "maybe_processed"]
"""How far a failed request got: it never left this machine; kie.ai answered that it did not accept it;
or it may have been processed (and, for createTask, charged)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, classified."""

    error: KieError
    """What the user sees if the attempt is not retried."""
    reach: Reach
    """How far the request got."""
    transient: bool
    """Whether the same request may succeed if sent again."""
    retry_after: float | None = None
    """The server's ``Retry-After``, in seconds, when it sent one."""
    task_id: str | None = None
    """A task id the reply named (a createTask reply that cannot be trusted as a whole may still carry
    the id of the task it created and charged)."""


# httpx exception -> (our class, reach). The first matching base wins. ConnectError/ConnectTimeout fail
# before any byte is sent; PoolTimeout waits for a connection that never came; UnsupportedProtocol and
# InvalidURL are refused locally. Everything else may have reached the server.
TRANSPORT_ERRORS: tuple[tuple[type[Exception], type[TransportError], Reach], ...] = (
    (httpx.ConnectTimeout, RequestTimeoutError, "never_sent"),
    (httpx.PoolTimeout, RequestTimeoutError, "never_sent"),
    (httpx.TimeoutException, RequestTimeoutError, "maybe_processed"),
    (DeadlineExceeded, RequestTimeoutError, "maybe_processed"),
    (httpx.ConnectError, TransportError, "never_sent"),
    (httpx.UnsupportedProtocol, TransportError, "never_sent"),
    (httpx.TransportError, TransportError, "maybe_processed"),
    (httpx.InvalidURL, TransportError, "never_sent"),
    (httpx.StreamError, TransportError, "maybe_processed"),
    (httpx.DecodingError, TransportError, "maybe_processed"),
)

CAUGHT: tuple[type[Exception], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.StreamError,
    DeadlineExceeded,
    DownloadError,
    ReplyTooLargeError,
)
"""What a driver hands back to the flow as the outcome of an attempt; anything else propagates."""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def classify(
    outcome: BaseException,
    operation: str,
    *,
    url: str | None = None,
    response: httpx.Response | None = None,
    task_id: str | None = None,
) -> Failure:
    """Classify the failure of one attempt at ``operation`` (``download`` for a result, with its ``url``).

    Args:
        outcome: the exception the driver caught, or the ``KieError`` a reply parsed into.
        operation: the kie.ai operation (spec operationId) or ``download``.
        url: the result URL, for downloads.
        response: the reply, when there was one (for the task id it may name).
        task_id: the task id the reply named, if any.

    Raises:
        the outcome itself when it is not the failure of an attempt (a local error).
    """
    if isinstance(outcome, KieError):
        return _classify_error(outcome, task_id)
    for foreign, ours, reach in TRANSPORT_ERRORS:
        if isinstance(outcome, foreign):
            if url is not None:
                stalled = issubclass(ours, RequestTimeoutError)
                reason = "the host stalled or was too slow for the download deadline" if stalled else ""
                error: KieError = DownloadError(
                    f"could not download {url}: {reason or _describe(outcome)}", url=url
                )
            else:
                error = ours(f"{_describe(outcome)} during {operation}", operation=operation)
            error.__cause__ = outcome
            return Failure(error, reach, transient=True)
    raise outcome


def _classify_error(error: KieError, task_id: str | None) -> Failure:
    if isinstance(error, (RateLimitError, MaintenanceError)):
        return Failure(error, "not_accepted", True, error.retry_after)
    if isinstance(error, ServerError):
        return Failure(error, "maybe_processed", True, error.retry_after, task_id)
    if isinstance(error, APIError):  # a definitive answer: the request was refused
        return Failure(error, "not_accepted", False)
    if isinstance(error, ReplyTooLargeError):  # the same request gets the same oversized reply
        return Failure(error, "maybe_processed", False, None, task_id)
    if isinstance(error, (UnexpectedResponseError, TransportError)):
        return Failure(error, "maybe_processed", True, None, task_id)
    if isinstance(error, DownloadError):
        transient = error.retryable and not isinstance(error, ResultTooLargeError)
        return Failure(error, "maybe_processed", transient, error.retry_after)
    raise error


@dataclass(frozen=True, slots=True)
class Retry:
    """Send the request again after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True, slots=True)
class Fail:
    """Give up: raise the failure's error."""


@dataclass(frozen=True, slots=True)
class OutcomeUnknown:
    """Give up without resending: a paid request may have been processed."""


Decision = Retry | Fail | OutcomeUnknown


def decide(
    attempt: int,
    failure: Failure,
    *,
    paid: bool,
    policy: RetryPolicy,
    rand: Callable[[], float],
    polling: bool = False,
    time_left: float | None = None,
) -> Decision:
    """What to do after failed attempt number ``attempt`` (0-based); see the table in the module docstring.

    Args:
        attempt: 0 for the first attempt's failure.
        failure: the classified failure.
        paid: the request creates paid work (createTask).
        policy: the timing (backoff, caps, retry count).
        rand: a ``[0, 1)`` source for jitter.
        polling: the request is a poll inside ``wait``: it costs nothing, so service blips (5xx, 429,
            455, transport failures, timeouts) are ridden out with no retry limit, until the wait's own
            deadline ends them (issue 11 item 17); other failures get the policy's retries.
        time_left: seconds left before the call's deadline, when the call has one (a createTask's
            create step): a createTask answered 429 was not accepted, so it is resent past the policy's
            retries as long as the delay ends before the deadline, unless the policy allows no retry at
            all (``max_retries=0``: nothing is ever resent).
    """
    if paid and failure.reach == "maybe_processed":
        return OutcomeUnknown()
    blip = isinstance(failure.error, (ServerError, RateLimitError, MaintenanceError, TransportError))
    if polling and blip:
        return Retry(policy.backoff(min(attempt, 62), failure.retry_after, rand))
    if not failure.transient:
        return Fail()
    delay = policy.backoff(min(attempt, 62), failure.retry_after, rand)
    resend_429 = (
        paid
        and policy.max_retries > 0
        and time_left is not None
        and failure.reach == "not_accepted"
        and isinstance(failure.error, RateLimitError)
    )
    if attempt >= policy.max_retries and not (resend_429 and time_left is not None and delay < time_left):
        return Fail()
    return Retry(delay)
