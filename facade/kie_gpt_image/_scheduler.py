"""kie.ai's three account limits as budgets shared by every call of a client, and through a shared
store by several processes or machines.

kie.ai limits an account to about 20 new tasks per 10 s, about 100 running tasks and about 10
recordInfo polls per second, and answers excess requests with code 429 without queueing them
(https://docs.kie.ai/, "Rate limits"; README "Many tasks at once"). A client therefore asks its
``Scheduler`` before each createTask and each poll:

- ``take(ticket)`` answers ``0.0`` when the request may go now (its slot is taken), or how many seconds to
  wait before asking again. The flow sleeps through its own ``Sleep`` effect, so the sync and the async
  client share this logic and tests run on a fake clock;
- the rate budgets live in pyrate-limiter buckets: in memory by default, in a SQLite file to share them
  between processes on one machine (file-locked), or in Redis to share them between machines;
- the running-task cap is counted in this process only: a task counts from its createTask reply until a
  read of this client sees it finished (or ``running_expiry`` passes), since nothing in kie.ai's API
  tells another process that a task ended.

Waiters are spread out in the order their requests fall due, so when many ``wait`` calls share one poll
budget, the poll that fell due first goes first.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING, Literal

from ._errors import InvalidInputError

if TYPE_CHECKING:
    from pyrate_limiter import AbstractBucket

__all__ = ["Budget", "RateLimits", "Scheduler", "Ticket"]

Budget = Literal["create", "poll"]

_STORES = ("memory", "sqlite:///", "redis://", "rediss://")
_LEAK_EVERY = 256  # puts between two purges of expired entries (pyrate-limiter buckets keep them)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The account limits a client keeps to, and where their state is kept.

    The defaults are kie.ai's documented limits, with polls kept safely under its 10 per second.
    ``store`` is ``"memory"`` (this client only), ``"sqlite:///path/to/file.db"`` (every process on this
    machine using the same file shares the budgets) or ``"redis://host:6379/0"`` (every machine using the
    same Redis shares them; install the ``redis`` extra).
    """

    creates_per_window: int = 20
    """New tasks allowed per ``create_window`` (kie.ai: 20 per 10 s)."""
    create_window: float = 10.0
    """The create window in seconds."""
    max_running: int = 100
    """Tasks running at once, counted from creation until this client sees them finish (kie.ai: ~100)."""
    polls_per_second: int = 8
    """recordInfo reads per second across every ``wait`` (kie.ai: about 10)."""
    store: str = "memory"
    """Where the rate budgets live: ``memory``, ``sqlite:///FILE`` or ``redis://HOST:PORT/DB``."""
    margin: float = 0.25
    """Seconds added to each window: a request is counted when sent and may reach kie.ai a little after
    the one it follows, so an exact window could still meet a 429."""
    running_expiry: float = 900.0
    """A created task stops counting as running after this many seconds even if no read saw it finish
    (kie.ai's documented advice: stop waiting after 10-15 minutes)."""

    def __post_init__(self) -> None:
        for name in ("creates_per_window", "max_running", "polls_per_second"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(name, "must be a whole number of at least 1")
        for name in ("create_window", "margin", "running_expiry"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidInputError(name, "must be a finite number of seconds")
        if self.create_window <= 0 or self.running_expiry <= 0 or self.margin < 0:
            raise InvalidInputError("create_window", "windows must be positive and the margin not negative")
        if not isinstance(self.store, str) or not self.store.startswith(_STORES):
            raise InvalidInputError("store", "must be 'memory', 'sqlite:///FILE' or 'redis://HOST:PORT/DB'")

    @classmethod
    def shared_file(cls, path: str, **limits: int | float) -> RateLimits:
        """Budgets shared by every process on this machine that names the same SQLite file."""
        return cls(store=f"sqlite:///{path}", **limits)  # type: ignore[arg-type]

    @classmethod
    def shared_redis(cls, url: str = "redis://127.0.0.1:6379/0", **limits: int | float) -> RateLimits:
        """Budgets shared by every machine that uses the same Redis server."""
        return cls(store=url, **limits)  # type: ignore[arg-type]


@dataclass(slots=True)
class Ticket:
    """One request waiting for a slot of ``budget``; ``due`` orders waiters (earliest first)."""

    budget: Budget
    due: float
    seq: int
    granted: bool = field(default=False)


class Scheduler:
    """Hands out slots of the three budgets to the requests of one client (thread-safe)."""

    def __init__(
        self,
        limits: RateLimits,
        account: str,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Args:
        limits: the limits and their store.
        account: identifies the account's budgets in a shared store; hashed, never stored as given.
        clock: wall-clock seconds stamping requests (shared stores compare stamps across processes).
        monotonic: the clock of the running-task cap.
        """
        self.limits = limits
        self._prefix = "kie-gpt-image:" + hashlib.sha256(account.encode("utf-8", "replace")).hexdigest()[:16]
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seq = count()
        self._waiting: dict[Budget, list[Ticket]] = {"create": [], "poll": []}
        self._buckets: dict[Budget, AbstractBucket] = {}
        self._running: dict[str, float] = {}
        self._puts = 0

    # ------------------------------------------------------------------ rate budgets

    def ticket(self, budget: Budget, due: float) -> Ticket:
        """A place in the queue of ``budget`` for a request that fell due at ``due`` (any clock, as long
        as one client uses one)."""
        ticket = Ticket(budget, due, next(self._seq))
        with self._lock:
            self._waiting[budget].append(ticket)
        return ticket

    def take(self, ticket: Ticket) -> float:
        """Take a slot for ``ticket``: ``0.0`` when taken, else seconds to wait before asking again."""
        from pyrate_limiter import RateItem

        with self._lock:
            if ticket.granted:
                return 0.0
            bucket = self._bucket(ticket.budget)
            now_ms = int(self._clock() * 1000)
            name = f"{self._prefix}:{ticket.budget}"
            item = RateItem(name, now_ms)
            self._puts += 1
            if self._puts % _LEAK_EVERY == 0:
                bucket.leak(now_ms)
            if bucket.put(item):
                ticket.granted = True
                self._forget(ticket)
                return 0.0
            waited = bucket.waiting(item)
            wait_ms = waited if isinstance(waited, int) and waited > 0 else 1
            # Spread the waiters out by the order they fell due: the one due first asks first.
            ahead = sum(1 for t in self._waiting[ticket.budget] if (t.due, t.seq) < (ticket.due, ticket.seq))
            return wait_ms / 1000 + ahead * self._interval(ticket.budget)

    def release(self, ticket: Ticket) -> None:
        """The request gave up waiting (deadline, cancel): leave the queue."""
        with self._lock:
            self._forget(ticket)

    def _forget(self, ticket: Ticket) -> None:
        queue = self._waiting[ticket.budget]
        if ticket in queue:
            queue.remove(ticket)

    def _interval(self, budget: Budget) -> float:
        limits = self.limits
        if budget == "create":
            return (limits.create_window + limits.margin) / limits.creates_per_window
        return (1.0 + limits.margin) / limits.polls_per_second

    def _bucket(self, budget: Budget) -> AbstractBucket:
        bucket = self._buckets.get(budget)
        if bucket is None:
            bucket = self._buckets[budget] = _open_bucket(self.limits, budget, self._prefix)
        return bucket

    # ------------------------------------------------------------------ running tasks

    def running(self) -> int:
        """Tasks this client created and has not yet seen finish (expired entries dropped)."""
        with self._lock:
            self._expire()
            return len(self._running)

    def running_wait(self) -> float:
        """``0.0`` when one more task may be created under the running cap, else seconds to wait."""
        with self._lock:
            self._expire()
            if len(self._running) < self.limits.max_running:
                return 0.0
            oldest = min(self._running.values())
            # Ask again soon: a read of another task may see it finish before the oldest expires.
            return max(0.05, min(1.0, oldest + self.limits.running_expiry - self._monotonic()))

    def task_started(self, task_id: str) -> None:
        """createTask answered with ``task_id``: it counts as running."""
        with self._lock:
            self._running[task_id] = self._monotonic()

    def task_finished(self, task_id: str) -> None:
        """A read saw ``task_id`` succeed or fail (or it will never be watched again)."""
        with self._lock:
            self._running.pop(task_id, None)

    def _expire(self) -> None:
        horizon = self._monotonic() - self.limits.running_expiry
        for task_id in [t for t, started in self._running.items() if started < horizon]:
            del self._running[task_id]

    def close(self) -> None:
        """Close the store's connections."""
        with self._lock:
            for bucket in self._buckets.values():
                bucket.close()
            self._buckets.clear()


def _open_bucket(limits: RateLimits, budget: Budget, prefix: str) -> AbstractBucket:
    """A pyrate-limiter bucket of ``budget`` in the configured store."""
    from pyrate_limiter import InMemoryBucket, Rate

    if budget == "create":
        rate = Rate(limits.creates_per_window, int((limits.create_window + limits.margin) * 1000))
    else:
        rate = Rate(limits.polls_per_second, int((1.0 + limits.margin) * 1000))
    store = limits.store
    if store == "memory":
        return InMemoryBucket([rate])
    if store.startswith("sqlite:///"):
        from pyrate_limiter import SQLiteBucket

        path = store.removeprefix("sqlite:///")  # sqlite:///rel.db or sqlite:////abs/path.db
        # The file lock makes count-then-insert atomic across processes (pyrate-limiter's SQLiteBucket).
        return SQLiteBucket.init_from_file(
            [rate], table=_table(prefix, budget), db_path=path, use_file_lock=True
        )
    try:
        from redis import Redis
    except ImportError as exc:
        raise InvalidInputError(
            "store", "a redis:// store needs the redis package: pip install 'kie-gpt-image[redis]'"
        ) from exc
    from pyrate_limiter import RedisBucket

    # A sync Redis client makes init return the bucket itself (an async one would return a coroutine).
    bucket: AbstractBucket = RedisBucket.init([rate], Redis.from_url(store), f"{prefix}:{budget}")
    return bucket


def _table(prefix: str, budget: Budget) -> str:
    return "kie_" + prefix.rsplit(":", 1)[-1] + "_" + budget
