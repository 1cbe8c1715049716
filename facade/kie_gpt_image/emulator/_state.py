"""The emulator's books (tasks, credits, limits, counters, pending callbacks) behind one lock, and the
settings its handlers read.

The handler modules (``_handlers``, ``_uploads``, ``_delivery``) sit below the core: they get the books as a
``State`` and the emulator's live settings through ``Config``, and never import ``_core``.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Mapping
from typing import Literal, Protocol
from urllib.parse import urlsplit

from ._callbacks import CallbackAttempt, PendingCallback
from ._exchange import Exchange, HostKind
from ._limits import LimitState
from ._replies import ReplyStyle
from ._tasks import OutcomePolicy, Schedule, Task

__all__ = ["IN_PROCESS_URLS", "Config", "State"]

IN_PROCESS_URLS: Mapping[HostKind, str] = {
    "api": "https://api.kie-emulator.test",
    "upload": "https://upload.kie-emulator.test",
    "files": "https://files.kie-emulator.test",
}
"""The three hosts' base URLs when the emulator serves in-process (``.test``: never a real host)."""


class Config(ReplyStyle, Protocol):
    """The emulator's options the handlers read at each request (public attributes a user may change)."""

    api_key: str
    task_cost: int
    schedule: Schedule
    outcome: OutcomePolicy
    unknown_task_code: Literal[404, 422]
    rate_limit: int
    rate_window: float
    max_running: int
    poll_limit: int
    poll_window: float
    max_image_side: int | None

    def clock(self) -> float:
        """Seconds since the epoch, on the emulator's clock."""


class State:
    """Everything the emulator books. Not locked by itself: callers hold ``lock`` (re-entrant)."""

    def __init__(self, *, credits: int, seed: int | None, max_exchanges: int | None) -> None:
        self.lock = threading.RLock()
        self.starting_credits = credits
        """The balance the emulator started with."""
        self.credits = credits
        self.tasks: dict[str, Task] = {}
        self.unsettled: list[Task] = []
        """Tasks whose end (refund, callback) is not booked yet, oldest first."""
        self.last_task_ms = 0
        self.create_times: list[float] = []
        self.limits = LimitState()
        self.random = random.Random(seed)  # noqa: S311 - task durations, not secrets
        self.calls: Counter[str] = Counter()
        self.exchanges: deque[Exchange] = deque(maxlen=max_exchanges)
        self.pending_callbacks: list[PendingCallback] = []
        self.callback_attempts: deque[CallbackAttempt] = deque(maxlen=max_exchanges)
        self.urls: dict[HostKind, str] = dict(IN_PROCESS_URLS)
        self.known: dict[str, HostKind] = {
            urlsplit(url).netloc: host for host, url in IN_PROCESS_URLS.items()
        }

    def use_urls(self, urls: Mapping[HostKind, str] | None) -> None:
        """Serve under ``urls`` (a socket server's), or back under the in-process ones (``None``)."""
        self.urls = dict(urls or IN_PROCESS_URLS)
        for host, url in self.urls.items():
            self.known[urlsplit(url).netloc] = host

    def settle(self, now: float) -> None:
        """Book what tasks that became final imply: refunds for failures, callbacks to send."""
        still: list[Task] = []
        for task in self.unsettled:
            if not task.is_final(now):
                still.append(task)
                continue
            task.settled = True
            if task.outcome.failed:
                self.credits += task.cost
            if task.callback_url:
                self.pending_callbacks.append(PendingCallback(task.task_id, task.callback_url, now))
        self.unsettled = still

    def running(self, now: float) -> int:
        """Tasks created and not final at ``now`` (after ``settle(now)``)."""
        return sum(not task.is_final(now) for task in self.unsettled)
