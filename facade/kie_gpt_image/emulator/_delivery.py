"""Callback delivery: each finished task's signed record POSTed to its ``callBackUrl``, with retries.

``State.settle`` queues a ``PendingCallback`` when a task with a callback URL becomes final; each pass of
``deliver_due`` (called by ``Emulator.deliver_due_callbacks`` or the ticker thread) attempts every due one
once, outside the lock, and books the attempt. Signing, the envelope and the loopback rule are in
``_callbacks``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from ._callbacks import (
    CallbackAttempt,
    CallbackHosts,
    PendingCallback,
    build_request,
    callback_body,
    is_loopback_url,
    log_failure,
    send,
)
from ._state import State
from ._tasks import Task

__all__ = ["CallbackDelivery", "DeliveryConfig"]


class DeliveryConfig(Protocol):
    """The emulator's callback options, read at each pass (public attributes a user may change)."""

    webhook_hmac_key: str
    callback_hosts: CallbackHosts
    callback_attempts: int
    callback_retry_delay: float

    def clock(self) -> float:
        """Seconds since the epoch, on the emulator's clock."""


class CallbackDelivery:
    """Sends the callbacks ``state`` holds pending, through one lazily made ``httpx.Client``."""

    def __init__(
        self,
        state: State,
        config: DeliveryConfig,
        record: Callable[[Task, float], dict[str, Any]],
        transport: httpx.BaseTransport | None,
    ) -> None:
        self._state = state
        self._config = config
        self._record = record
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def client(self) -> httpx.Client:
        """The client callbacks are sent with (made on first use)."""
        with self._client_lock:
            if self._client is None:
                # Reference §5: kie waits 15 s for the receiver's reply.
                # No proxies from the environment: a proxy is another host (see ``callback_hosts``).
                self._client = httpx.Client(transport=self._transport, timeout=15.0, trust_env=False)
            return self._client

    def close(self) -> None:
        """Close the client, if one was made."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def deliver_due(self) -> int:
        """Attempt every callback that is due (one attempt each); return how many were delivered."""
        state, config = self._state, self._config
        with state.lock:
            now = config.clock()
            state.settle(now)
            due = [p for p in state.pending_callbacks if p.due <= now and not p.in_flight]
            jobs: list[tuple[PendingCallback, httpx.Request]] = []
            for pending in due:
                body = callback_body(self._record(state.tasks[pending.task_id], now))
                try:
                    request = build_request(
                        pending.url, body, pending.task_id, config.webhook_hmac_key, int(now)
                    )
                except httpx.InvalidURL:
                    # Undeliverable; createTask validation prevents it.
                    state.pending_callbacks.remove(pending)
                    continue
                pending.in_flight = True
                jobs.append((pending, request))
        delivered = 0
        for pending, request in jobs:
            attempt = self._attempt(pending, request)
            delivered += attempt.delivered
        return delivered

    def _attempt(self, pending: PendingCallback, request: httpx.Request) -> CallbackAttempt:
        state, config = self._state, self._config
        status: int | None
        error: str | None
        if config.callback_hosts == "loopback" and not is_loopback_url(pending.url):
            # Never resolved, never contacted: an offline emulator must not reach the internet.
            status, error = (
                None,
                (
                    f"refused: {request.url.host!r} is not a loopback host "
                    "(pass callback_hosts='any' to deliver to other hosts)"
                ),
            )
        else:
            status, error = send(self.client(), request)
        with state.lock:
            pending.in_flight = False
            pending.attempts += 1
            attempt = CallbackAttempt(pending.task_id, pending.attempts, request, status, error)
            state.callback_attempts.append(attempt)
            final = attempt.delivered or attempt.refused or pending.attempts >= config.callback_attempts
            if final:
                state.pending_callbacks.remove(pending)
            else:
                pending.due = config.clock() + config.callback_retry_delay
        if not attempt.delivered:
            log_failure(attempt, config.callback_attempts, final=final)
        return attempt
