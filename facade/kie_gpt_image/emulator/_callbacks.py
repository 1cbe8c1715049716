"""Callbacks: signing (reference §5) and delivery with retries.

kie.ai POSTs the task-detail record in an envelope to ``callBackUrl`` when a task finishes, signed with
``X-Webhook-Timestamp`` (Unix seconds) and ``X-Webhook-Signature`` = base64(HMAC-SHA256(key, taskId + "." +
timestamp)). It stops after 3 failed deliveries (reference §5), so a delivery is attempted at most
``max_attempts`` times, one attempt per pass, each pass driven by ``Emulator.deliver_due_callbacks()`` or
the ticker thread.

An offline emulator must not reach the internet on a test's behalf (issue 17: a callback URL of
``https://example.com/cb`` made it look up and contact example.com), so by default it delivers only to
loopback hosts, judged from the URL alone (an IP literal in 127.0.0.0/8 or ::1, or ``localhost``), never
by resolving a name. Every failed delivery is logged on the ``kie_gpt_image.emulator`` logger.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from .._urls import is_loopback_url
from .._webhooks import sign_callback

__all__ = [
    "CallbackAttempt",
    "CallbackHosts",
    "PendingCallback",
    "Ticker",
    "build_request",
    "callback_body",
    "is_loopback_url",
    "log_failure",
    "send",
]

logger = logging.getLogger("kie_gpt_image.emulator")

CallbackHosts = Literal["loopback", "any"]
"""Where the emulator may deliver callbacks: loopback hosts only, or any host."""


def log_failure(attempt: CallbackAttempt, max_attempts: int, *, final: bool) -> None:
    """Log one failed delivery with its task id, URL and the receiver's status or the error."""
    outcome = f"HTTP {attempt.status_code}" if attempt.status_code is not None else attempt.error
    logger.warning(
        "callback for %s to %s failed (attempt %d of %d): %s%s",
        attempt.task_id,
        attempt.request.url,
        attempt.attempt,
        max_attempts,
        outcome,
        "; giving up" if final else "",
    )


def callback_body(record: dict[str, Any]) -> dict[str, Any]:
    """The callback envelope for a final task record: code 200 on success, 501 (generation failed) on
    failure (reference's code table)."""
    if record.get("state") == "fail":
        return {"code": 501, "msg": record.get("failMsg") or "Generation failed", "data": record}
    return {"code": 200, "msg": "success", "data": record}


@dataclass(frozen=True)
class CallbackAttempt:
    """One attempt to deliver a callback."""

    task_id: str
    """The task the callback is about."""
    attempt: int
    """1-based attempt number for this task."""
    request: httpx.Request
    """The signed POST that was sent."""
    status_code: int | None
    """The receiver's HTTP status, or ``None`` when the request failed."""
    error: str | None
    """The transport error, if any."""

    @property
    def refused(self) -> bool:
        """Whether the emulator refused to send it (a non-loopback host; see ``callback_hosts``)."""
        return self.status_code is None and (self.error or "").startswith("refused")

    @property
    def delivered(self) -> bool:
        """Whether the receiver acknowledged with a 2xx status."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class PendingCallback:
    """A callback waiting for (another) delivery attempt."""

    task_id: str
    url: str
    due: float
    attempts: int = 0
    in_flight: bool = False


def build_request(
    url: str, body: dict[str, Any], task_id: str, hmac_key: str, timestamp: int
) -> httpx.Request:
    """The signed callback POST."""
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return httpx.Request(
        "POST",
        url,
        content=content,
        headers={
            "Content-Type": "application/json",
            "X-Webhook-Timestamp": str(timestamp),
            "X-Webhook-Signature": sign_callback(task_id, timestamp, hmac_key),
        },
    )


def send(client: httpx.Client, request: httpx.Request) -> tuple[int | None, str | None]:
    """Send one callback; the receiver's status, or the error that prevented one."""
    try:
        response = client.send(request)
        response.close()
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return response.status_code, None


class Ticker:
    """A daemon thread calling ``tick`` every ``interval`` seconds until stopped."""

    def __init__(self, tick: Callable[[], object], interval: float) -> None:
        self._tick = tick
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kie-emulator-ticker", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._tick()
