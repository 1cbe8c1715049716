"""Verifying kie.ai's signed callbacks (reference §5), as pure functions: no I/O, no framework.

kie.ai POSTs the task record inside an envelope to ``callBackUrl`` with two headers:
``X-Webhook-Timestamp`` (Unix seconds) and ``X-Webhook-Signature`` =
base64(HMAC-SHA256(key=webhook HMAC key, message=taskId + "." + timestamp)).

Only the task id and the timestamp are signed, never the body
(https://docs.kie.ai/common-api/webhook-verification): anyone holding the headers of one genuine
delivery (a log, a proxy) can replay them inside the window with any state and result URLs in the body.
So ``verify_callback`` returns a ``VerifiedCallback`` whose signed fields are plain attributes and whose
record is named ``unverified_info``; re-read the task (``client.get_task(task_id)``) before acting on it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import _api
from ._auth import Secret
from ._errors import (
    BadSignatureError,
    BadTimestampError,
    FutureTimestampError,
    InvalidInputError,
    MalformedCallbackError,
    MissingHeaderError,
    ReplayedCallbackError,
    StaleTimestampError,
    UnexpectedResponseError,
)
from ._models import TaskInfo
from ._urls import WEBHOOK_KEY_ENV

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CallbackCheck",
    "Headers",
    "InMemoryReplayStore",
    "ReplayGuard",
    "ReplayStore",
    "VerifiedCallback",
    "callback_task_id",
    "check_key",
    "check_tolerance",
    "sign_callback",
    "verify_callback",
]

TIMESTAMP_HEADER = "X-Webhook-Timestamp"
"""Unix seconds at signing."""
SIGNATURE_HEADER = "X-Webhook-Signature"
"""base64(HMAC-SHA256(taskId + "." + timestamp))."""
DEFAULT_TOLERANCE = 300
"""Seconds a timestamp may differ from now, either way. kie.ai documents no window; 5 minutes is
the usual choice (reference §5)."""

_CLOCK_SLACK = 1.0
# A replay guard remembers an entry one second longer than the check would accept its timestamp, so
# that the sub-second difference between the check's ``now`` and the store's clock never opens a gap.


class _HeaderMapping(Protocol):
    def items(self) -> Iterable[tuple[Any, Any]]: ...


Headers = _HeaderMapping | Iterable[tuple[str | bytes, str | bytes]]
"""Request headers: any mapping with ``items()`` (dict, Starlette, Werkzeug, httpx) or (name, value) pairs;
names and values as ``str`` or ``bytes`` (ASGI gives bytes)."""


@dataclass(frozen=True)
class VerifiedCallback:
    """A callback whose signature and timestamp checked out.

    kie.ai signs only ``taskId + "." + timestamp``: ``task_id`` and ``timestamp`` are authentic,
    the body is not. ``unverified_info`` is the record the body claims, and anyone who saw one genuine
    delivery can send it again inside the window with any state or result URLs. Read the task from kie.ai
    (``client.get_task(callback.task_id)``, one recordInfo read) before acting on a result.
    """

    task_id: str
    """The signed task id (verified)."""
    timestamp: int
    """The signed ``X-Webhook-Timestamp``, Unix seconds (verified)."""
    unverified_info: TaskInfo
    """The body's task record: NOT covered by the signature (its ``task_id`` is set to the signed one)."""


def callback_task_id(payload: Mapping[str, Any]) -> str | None:
    """The task id of a decoded callback body.

    The reference (§5) reports three spellings: ``data.taskId`` in the task-detail shape,
    ``data.task_id`` in the verification guide's example, and a top-level ``taskId`` next to
    ``data.task_id`` in a third variant. They are read in that order; values that are not non-empty
    strings are skipped.

    Args:
        payload: the decoded JSON body.

    Returns:
        The task id, or ``None`` when no spelling holds one.
    """
    data = payload.get("data")
    candidates = []
    if isinstance(data, Mapping):
        candidates += [data.get("taskId"), data.get("task_id")]
    candidates.append(payload.get("taskId"))
    for value in candidates:
        if isinstance(value, str) and value:
            return value
    return None


def sign_callback(task_id: str, timestamp: int | str, key: str) -> str:
    """The signature kie.ai sends for ``task_id`` at ``timestamp`` (for tests and emulators).

    Args:
        task_id: the task id.
        timestamp: Unix seconds, as sent in ``X-Webhook-Timestamp``.
        key: the webhook HMAC key.

    Returns:
        base64(HMAC-SHA256(key, task_id + "." + timestamp)).
    """
    message = f"{task_id}.{timestamp}".encode()
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode("ascii")


def check_tolerance(tolerance: object) -> float:
    """``tolerance`` as a positive finite number of seconds.

    Raises:
        InvalidInputError: ``nan``, infinities, zero, negatives, bools and non-numbers (a ``nan``
            window would accept every timestamp, a negative one none).
    """
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, (int, float))
        or not math.isfinite(tolerance)
        or tolerance <= 0
    ):
        raise InvalidInputError(
            "tolerance", f"must be a positive finite number of seconds, not {tolerance!r}"
        )
    return float(tolerance)


def check_key(key: object) -> None:
    """Check a webhook HMAC key.

    Raises:
        InvalidInputError: not a non-empty string, or not encodable text (a lone surrogate).
    """
    if not isinstance(key, str) or not key:
        raise InvalidInputError("key", "the webhook HMAC key must be a non-empty string")
    try:
        key.encode()
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a badly decoded file
        raise InvalidInputError("key", "the webhook HMAC key is not valid text") from None


def _check_now(now: object) -> float:
    if now is None:
        return time.time()
    if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
        raise InvalidInputError("now", f"must be a finite Unix time in seconds, not {now!r}")
    return float(now)


def _text(value: object, what: str) -> str:
    # ASGI and raw servers give bytes; PEP 3333 and ASGI both decode header bytes as latin-1.
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    raise InvalidInputError("headers", f"{what} must be str or bytes, not {type(value).__name__}")


def _verification_headers(headers: object) -> dict[str, str]:
    """The two verification headers, from a mapping or (name, value) pairs, names case-insensitive."""
    wanted = {TIMESTAMP_HEADER.lower(), SIGNATURE_HEADER.lower()}
    items = getattr(headers, "items", None)
    pairs: object = items() if callable(items) else headers
    if isinstance(pairs, (str, bytes, bytearray)) or not isinstance(pairs, Iterable):
        raise InvalidInputError("headers", "must be a mapping or a list of (name, value) pairs")
    found: dict[str, str] = {}
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InvalidInputError("headers", "must be a mapping or a list of (name, value) pairs")
        name = _text(pair[0], "a header name").lower()
        if name not in wanted:
            continue
        value = _text(pair[1], f"header {name}").strip()
        if found.get(name, value) != value:  # two different values: which one was signed is unknowable
            raise MalformedCallbackError(f"header {name} is given twice with different values")
        found[name] = value
    return found


def _body_bytes(body: object) -> bytes:
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")  # a lone surrogate then fails as invalid JSON
    raise InvalidInputError("body", f"must be the raw request body as bytes, not {type(body).__name__}")


def verify_callback(
    body: bytes,
    headers: Headers,
    key: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
    replay_guard: ReplayGuard | None = None,
) -> VerifiedCallback:
    """Verify a kie.ai callback: the signature, the timestamp window and (optionally) replays.

    Args:
        body: the raw request body, exactly as received (never re-serialised JSON).
        headers: the request headers: any mapping (names matched case-insensitively) or a list of
            ``(name, value)`` pairs; names and values as ``str`` or ``bytes``.
        key: the account's webhook HMAC key (kie.ai's Settings page; see the README).
        tolerance: seconds the timestamp may differ from ``now`` in either direction (positive, finite).
        now: the current Unix time (default ``time.time()``).
        replay_guard: rejects a ``(task id, timestamp)`` already accepted while this check would still
            accept it (the guard is told ``tolerance``, so the two always agree).

    Returns:
        A ``VerifiedCallback``: the signed ``task_id`` and ``timestamp``, and the body's record as
        ``unverified_info`` (not signed: re-read the task with ``client.get_task`` before acting on it).

    Raises:
        MissingHeaderError, BadTimestampError, StaleTimestampError, FutureTimestampError,
        MalformedCallbackError, BadSignatureError, ReplayedCallbackError: all ``WebhookVerificationError``;
            answer a ``ReplayedCallbackError`` with HTTP 200 and do nothing else.
        InvalidInputError: an empty key, a tolerance or ``now`` that is not a finite number (tolerance
            also positive), headers or body of the wrong type.
    """
    check_key(key)
    window = check_tolerance(tolerance)
    current = _check_now(now)
    raw_body = _body_bytes(body)
    found = _verification_headers(headers)
    raw_timestamp = found.get(TIMESTAMP_HEADER.lower())
    signature = found.get(SIGNATURE_HEADER.lower())
    if not raw_timestamp:
        raise MissingHeaderError(f"missing header {TIMESTAMP_HEADER}")
    if not signature:
        raise MissingHeaderError(f"missing header {SIGNATURE_HEADER}")
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()) or len(raw_timestamp) > 12:
        raise BadTimestampError(f"{TIMESTAMP_HEADER} is not Unix seconds: {raw_timestamp[:20]!r}")
    timestamp = int(raw_timestamp)
    if timestamp < current - window:
        raise StaleTimestampError(
            f"callback timestamp is {current - timestamp:.0f} s old (tolerance {window:.0f} s)"
        )
    if timestamp > current + window:
        raise FutureTimestampError(
            f"callback timestamp is {timestamp - current:.0f} s in the future (tolerance {window:.0f} s)"
        )
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedCallbackError("callback body is not JSON") from None
    if not isinstance(payload, dict):
        raise MalformedCallbackError("callback body is not a JSON object")
    task_id = callback_task_id(payload)
    if task_id is None:
        raise MalformedCallbackError("callback body has no task id (data.taskId, data.task_id or taskId)")
    try:
        expected = sign_callback(task_id, raw_timestamp, key)
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") in the task id: nothing kie.ai could sign
        raise MalformedCallbackError("callback task id is not valid text") from None
    if not signature.isascii() or not hmac.compare_digest(expected.encode(), signature.encode()):
        raise BadSignatureError(f"signature does not match for task {task_id}")
    if replay_guard is not None:
        replay_guard.check(task_id, timestamp, tolerance=window, now=current)
    data = payload.get("data")
    try:
        info = _api.task_info_from_record(data if isinstance(data, Mapping) else {}, task_id)
    except UnexpectedResponseError:  # a signed but unreadable record (_api parses it)
        raise MalformedCallbackError(f"callback record for task {task_id} cannot be read") from None
    # The record may spell its id differently (a numeric data.taskId beside the signed data.task_id):
    # the id handed back is always the one the signature covered.
    return VerifiedCallback(task_id, timestamp, dataclasses.replace(info, task_id=task_id))


class ReplayStore(Protocol):
    """Where a ``ReplayGuard`` remembers what it accepted (e.g. Redis ``SET NX EX`` in production)."""

    def add(self, key: str, expires_at: float) -> bool:
        """Remember ``key`` until ``expires_at``; return False if it is already remembered."""
        ...


class InMemoryReplayStore:
    """A thread-safe in-process ``ReplayStore`` that forgets entries once they expire.

    Args:
        clock: the time source deciding expiry (default ``time.time``).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._entries: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def add(self, key: str, expires_at: float) -> bool:
        """Remember ``key`` until ``expires_at``; return False if it is already remembered."""
        with self._lock:
            now = self._clock()
            if len(self._entries) > 1024:
                self._entries = {k: v for k, v in self._entries.items() if v > now}
            if self._entries.get(key, 0.0) > now:
                return False
            self._entries[key] = expires_at
            return True

    def __len__(self) -> int:
        with self._lock:
            now = self._clock()
            return sum(1 for v in self._entries.values() if v > now)


class ReplayGuard:
    """Rejects a callback whose ``(task id, timestamp)`` was already accepted while it is still acceptable.

    The window comes from the check, not from the guard: ``verify_callback`` passes its ``tolerance`` and
    ``now``, and the guard remembers each entry until the check would refuse the timestamp as stale
    (``timestamp + tolerance``), whatever tolerance the caller chose. One guard can serve checks with
    different tolerances.

    Args:
        store: where entries live (default an ``InMemoryReplayStore``; share one store, e.g. Redis,
            between the processes of one receiver).
        clock: the store's time source (default ``time.time``).
    """

    def __init__(self, *, store: ReplayStore | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store: ReplayStore = store if store is not None else InMemoryReplayStore(clock)
        self._clock = clock

    def check(self, task_id: str, timestamp: int, *, tolerance: float, now: float | None = None) -> None:
        """Accept ``(task_id, timestamp)`` once; raise ``ReplayedCallbackError`` the next time.

        Args:
            task_id: the verified task id.
            timestamp: the verified Unix timestamp.
            tolerance: the window of the check that accepted it (positive, finite seconds).
            now: the check's current time (default the guard's clock).

        Raises:
            ReplayedCallbackError: already accepted; answer HTTP 200 and do nothing.
            InvalidInputError: a tolerance or ``now`` that is not a finite number.
        """
        window = check_tolerance(tolerance)
        current = self._clock() if now is None else _check_now(now)
        # Seconds during which the check would still accept this timestamp, carried over to the store's
        # own clock (the check's ``now`` may be injected and differ from it).
        remaining = max(timestamp + window - current, 0.0)
        if not self.store.add(f"{task_id}.{timestamp}", self._clock() + remaining + _CLOCK_SLACK):
            raise ReplayedCallbackError(
                f"callback for task {task_id} at {timestamp} was already accepted: kie.ai may deliver "
                "a callback more than once; acknowledge it (HTTP 200) and do nothing",
                task_id=task_id,
            )


class CallbackCheck:
    """A client's half of ``handle_callback``: verify a delivery (signature and timestamp) before the
    task is read from kie.ai, and record it in the replay window only once that read succeeded (so a
    failed read answered non-2xx lets kie.ai's redelivery through).

    Args:
        key: the webhook HMAC key (``None``: ``verify`` says how to give one).
        guard: the replay window (default one in memory: one receiver process).
    """

    def __init__(self, key: Secret | None, guard: ReplayGuard | None = None) -> None:
        self._key = key
        self._guard = guard if guard is not None else ReplayGuard()

    def verify(self, body: bytes, headers: Headers, tolerance: float | None) -> tuple[str, int, float]:
        """The signed task id, the timestamp and the window (default ``DEFAULT_TOLERANCE``).

        Raises:
            WebhookVerificationError: the delivery does not verify.
            InvalidInputError: no key.
        """
        if tolerance is None:
            tolerance = DEFAULT_TOLERANCE
        if self._key is None:
            raise InvalidInputError(
                "webhook_key",
                f"no webhook HMAC key: pass webhook_key=... to the client or set {WEBHOOK_KEY_ENV} (kie.ai's "
                "Settings page; https://docs.kie.ai/common-api/webhook-verification)",
            )
        verified = verify_callback(body, headers, self._key.reveal(), tolerance=tolerance)
        return verified.task_id, verified.timestamp, tolerance

    def accept(self, task_id: str, timestamp: int, tolerance: float) -> None:
        """Record the delivery; raise ``ReplayedCallbackError`` if it was recorded already."""
        self._guard.check(task_id, timestamp, tolerance=tolerance)
