"""Verifying kie.ai's signed callbacks (reference §5), as pure functions: no I/O, no framework.

kie.ai POSTs the task record inside an envelope to ``callBackUrl`` with two headers:
``X-Webhook-Timestamp`` (Unix seconds) and ``X-Webhook-Signature`` =
base64(HMAC-SHA256(key=webhook HMAC key, message=taskId + "." + timestamp)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from . import _api
from ._errors import (
    BadSignatureError,
    BadTimestampError,
    FutureTimestampError,
    InvalidInputError,
    MalformedCallbackError,
    MissingHeaderError,
    ReplayedCallbackError,
    StaleTimestampError,
)
from ._models import TaskInfo

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "InMemoryReplayStore",
    "ReplayGuard",
    "ReplayStore",
    "callback_task_id",
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


def callback_task_id(payload: Mapping[str, Any]) -> str | None:
    """The task id of a decoded callback body.

    The reference (§5) reports three spellings: ``data.taskId`` in the task-detail shape,
    ``data.task_id`` in the verification guide's example, and a top-level ``taskId`` next to
    ``data.task_id`` in a third variant. They are read in that order.
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
    """The signature kie.ai sends for ``task_id`` at ``timestamp`` (for tests and emulators)."""
    message = f"{task_id}.{timestamp}".encode()
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode("ascii")


def verify_callback(
    body: bytes,
    headers: Mapping[str, str],
    key: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
    replay_guard: ReplayGuard | None = None,
) -> TaskInfo:
    """Verify a kie.ai callback and return its task record.

    Args:
        body: the raw request body, exactly as received (never re-serialised JSON).
        headers: the request headers (any mapping; names are matched case-insensitively).
        key: the account's webhook HMAC key.
        tolerance: seconds the timestamp may differ from ``now`` in either direction.
        now: the current Unix time (default ``time.time()``).
        replay_guard: rejects a ``(task id, timestamp)`` already accepted inside the window.

    Returns:
        The callback's task record as ``TaskInfo`` (the same parser as ``get_task``). Re-read it with
        ``client.get_task`` before acting on a result (kie.ai's advice).

    Raises:
        MissingHeaderError, BadTimestampError, StaleTimestampError, FutureTimestampError,
        MalformedCallbackError, BadSignatureError, ReplayedCallbackError: all ``WebhookVerificationError``.
        InvalidInputError: an empty key.
    """
    if not isinstance(key, str) or not key:
        raise InvalidInputError("key", "the webhook HMAC key must be a non-empty string")
    lowered = {str(name).lower(): value for name, value in headers.items()}
    raw_timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    signature = lowered.get(SIGNATURE_HEADER.lower())
    if not raw_timestamp:
        raise MissingHeaderError(f"missing header {TIMESTAMP_HEADER}")
    if not signature:
        raise MissingHeaderError(f"missing header {SIGNATURE_HEADER}")
    raw_timestamp = raw_timestamp.strip()
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()) or len(raw_timestamp) > 12:
        raise BadTimestampError(f"{TIMESTAMP_HEADER} is not Unix seconds: {raw_timestamp[:20]!r}")
    timestamp = int(raw_timestamp)
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise StaleTimestampError(
            f"callback timestamp is {current - timestamp:.0f} s old (tolerance {tolerance:.0f} s)"
        )
    if timestamp > current + tolerance:
        raise FutureTimestampError(
            f"callback timestamp is {timestamp - current:.0f} s in the future (tolerance {tolerance:.0f} s)"
        )
    try:
        payload = json.loads(body)
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
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise BadSignatureError(f"signature does not match for task {task_id}")
    if replay_guard is not None:
        replay_guard.check(task_id, timestamp)
    data = payload.get("data")
    try:
        return _api.task_info_from_record(data if isinstance(data, Mapping) else {}, task_id)
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError, OverflowError):
        # The same safety net as the client's reply parsing (_flow): a signed but unreadable record.
        raise MalformedCallbackError(f"callback record for task {task_id} cannot be read") from None


class ReplayStore(Protocol):
    """Where a ``ReplayGuard`` remembers what it accepted (e.g. Redis ``SET NX EX`` in production)."""

    def add(self, key: str, expires_at: float) -> bool:
        """Remember ``key`` until ``expires_at``; return False if it is already remembered."""
        ...


class InMemoryReplayStore:
    """A thread-safe in-process ``ReplayStore`` that forgets entries once they expire."""

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
    """Rejects a callback whose ``(task id, timestamp)`` was already accepted within the window.

    Entries are kept for twice the tolerance: a timestamp older than the tolerance is refused as stale
    anyway, so nothing older needs remembering.
    """

    def __init__(
        self,
        tolerance: float = DEFAULT_TOLERANCE,
        store: ReplayStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tolerance = tolerance
        self.store: ReplayStore = store if store is not None else InMemoryReplayStore(clock)
        self._clock = clock

    def check(self, task_id: str, timestamp: int) -> None:
        """Accept ``(task_id, timestamp)`` once; raise ``ReplayedCallbackError`` the next time."""
        if not self.store.add(f"{task_id}.{timestamp}", self._clock() + 2 * self.tolerance):
            raise ReplayedCallbackError(
                f"callback for task {task_id} at {timestamp} was already accepted", task_id=task_id
            )
