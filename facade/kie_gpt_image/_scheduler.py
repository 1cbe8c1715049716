"""kie.ai's three account limits as budgets shared by every call of a client, and through a shared
store by several processes or machines.

kie.ai limits an account to about 20 new tasks per 10 s, about 100 running tasks and about 10
recordInfo polls per second, and answers excess requests with code 429 without queueing them
(https://docs.kie.ai/, "Rate limits"; README "Many tasks at once"). A client therefore asks its
``Scheduler`` before each createTask and each poll:

- ``ticket(budget, due)`` queues a request; ``take(ticket)`` answers ``0.0`` when the request may go now
  (its slot is taken), or how many seconds to wait before asking again. The flow sleeps through its own
  ``Sleep`` effect, so the sync and the async client share this logic and tests run on a fake clock;
- waiters of one client are served in the order their requests fell due: a request takes a slot while
  one that fell due before it is still waiting only if the budget has room for both, and a waiter is
  told to come back when the slot it will take frees up (the slot of the n-th waiter is the n-th to
  free), so that when kie.ai's window reopens every queued request whose slot is free goes at once,
  not one per interval. One exception, for polls: a poll
  of a task younger than the quickest finish this client has read (``task_finished``) goes after the
  others, because it almost surely finds the task still running; with the budget to spare it goes at
  once, so it only changes the order when polls queue (+1-2 points of throughput at kie.ai's running
  cap in ``scripts/simulate_polling.py``);
- the rate budgets (``create``, ``poll``) live in pyrate-limiter buckets: in memory by default, in a
  SQLite file to share them between processes on one machine (file-locked), or in Redis to share them
  between machines (``_stores``: a store that fails is a ``BudgetStoreError``, raised before the request
  that needed it is sent; ``open`` opens them at once);
- a rate slot covers its request from the grant until a window after its reply: kie.ai counts the
  request when it arrives, at some moment between the two. pyrate-limiter stamps an item when it is put,
  so the store's item covers ``window + margin`` from the grant; each client also keeps a ledger of its
  own slots (in flight, then held until a window after the reply), so a slow request (a busy event loop,
  a journal write, a queueing server) never lets a later one into kie.ai's window early. A late reply is
  stamped in the store too where there is room, for the other processes sharing it;
- the ``running`` budget holds one entry per task from before its createTask until a read sees it
  finished (or ``running_expiry`` passes: nothing in kie.ai's API tells us when a task nobody watches
  ends). It lives in the same store, so processes sharing a store share the cap too: an entry is added
  only while fewer than ``max_running`` are held, atomically (a SQLite write transaction, a Redis script).
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from itertools import count
from typing import Any, Literal

from ._errors import BudgetStoreError, InvalidInputError
from ._stores import STORES, RateStore, RunningStore, mask_store, open_rate_store, open_running_store

__all__ = ["Limit", "RateLimits", "Scheduler", "Ticket"]

Limit = Literal["create", "poll", "running"]
"""One of kie.ai's three account limits a request waits on: the create window, the running-task cap, or
the poll rate (the ``Scheduler``'s queues; not ``_deadline.AttemptDeadline``, a request's end)."""

logger = logging.getLogger("kie_gpt_image")
_LEAK_EVERY = 256  # puts between two purges of expired entries (pyrate-limiter buckets keep them)
# A granted request not reported back after this long is dropped from the ledger: every request of the
# flows ends far sooner (its attempt deadline); only a caller that never calls ``replied`` gets here.
_LONGEST_FLIGHT = 300.0
_STALE_FLOOR = 0.05  # seconds: a request sent this soon after its grant keeps its first stamp
_RUNNING_RECHECK = 0.25  # seconds between two looks at a full running cap (a read may free a slot)
_BORN_KEPT = 4096  # creation times kept before those older than running_expiry are dropped
_SHARED_MARGIN = 0.25  # seconds: other processes see a grant's stamp, not when the request arrived


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The account limits a client keeps to, and where their state is kept.

    The defaults are kie.ai's documented limits, with polls kept safely under its 10 per second.
    ``store`` is ``"memory"`` (this client only), ``"sqlite:///path/to/file.db"`` (every process on this
    machine using the same file shares the budgets) or ``"redis://host:6379/0"`` (every machine using the
    same Redis shares them; install the ``redis`` extra).

    Raises:
        InvalidInputError: a limit that is not a positive number, or an unknown store.
    """

    creates_per_window: int = 20
    """New tasks allowed per ``create_window`` (kie.ai: 20 per 10 s)."""
    create_window: float = 10.0
    """The create window in seconds."""
    max_running: int = 100
    """Tasks running at once, counted from creation until a read sees them finish (kie.ai: ~100)."""
    polls_per_second: int = 8
    """recordInfo reads per second across every ``wait`` (kie.ai: about 10)."""
    store: str = "memory"
    """Where the budgets live: ``memory``, ``sqlite:///FILE`` or ``redis://HOST:PORT/DB``."""
    margin: float | None = None
    """Seconds added to each window of a shared store (default 0.25): a request is counted there when its
    slot is granted and may reach kie.ai a little after the one it follows (a busy event loop, the
    network), so an exact window could still meet a 429. In memory the default is 0: the client's own
    ledger already holds each slot until a whole window after its request's reply, later than kie.ai can
    have counted it."""
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
            if value is None and name == "margin":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidInputError(name, "must be a finite number of seconds")
        if self.create_window <= 0 or self.running_expiry <= 0:
            raise InvalidInputError("create_window", "windows must be positive")
        if self.margin is not None and self.margin < 0:
            raise InvalidInputError("margin", "must not be negative")
        if not isinstance(self.store, str) or not self.store.startswith(STORES):
            raise InvalidInputError("store", "must be 'memory', 'sqlite:///FILE' or 'redis://HOST:PORT/DB'")

    def __repr__(self) -> str:
        # A store URL may hold a password (redis://:secret@host): shown masked, like the API key.
        shown = ", ".join(
            f"{f.name}={mask_store(self.store)!r}"
            if f.name == "store"
            else f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
        )
        return f"RateLimits({shown})"

    @classmethod
    def shared_file(cls, path: str, **limits: Any) -> RateLimits:
        """Budgets shared by every process on this machine that names the same SQLite file.

        Args:
            path: the SQLite file (created if missing).
            limits: other fields of ``RateLimits``.
        """
        return cls(store=f"sqlite:///{path}", **limits)

    @classmethod
    def shared_redis(cls, url: str = "redis://127.0.0.1:6379/0", **limits: Any) -> RateLimits:
        """Budgets shared by every machine that uses the same Redis server.

        Args:
            url: the Redis server (``redis://`` or ``rediss://``).
            limits: other fields of ``RateLimits``.
        """
        return cls(store=url, **limits)

    @property
    def shared(self) -> bool:
        """Whether the budgets live outside this process (their calls do I/O)."""
        return self.store != "memory"

    @property
    def window_margin(self) -> float:
        """The ``margin`` in force: as given, else 0.25 s in a shared store and 0 in memory."""
        if self.margin is not None:
            return self.margin
        return _SHARED_MARGIN if self.shared else 0.0


@dataclass(slots=True, eq=False)
class Ticket:
    """One request waiting for a slot of ``budget``; ``due`` orders waiters (earliest first)."""

    budget: Limit
    due: float
    seq: int
    granted: bool = field(default=False)
    stamp: float = 0.0
    """When the rate slot this ticket holds was last stamped in the bucket (its grant, or a re-put)."""
    key: str = ""
    """The running-cap entry this ticket holds (``running`` tickets, once granted)."""
    born: float | None = None
    """For a poll: when its task was created, at the latest (``None``: not known)."""
    error: BudgetStoreError | None = None
    """Why the last ``take`` could not ask the store (then it answered a wait): the flow raises it in
    the call that asked, where it can say which task it concerns (a driver that only sleeps and asks
    again rides the failure out)."""


class Scheduler:
    """Hands out slots of the three budgets to the requests of one client (thread-safe)."""

    def __init__(self, limits: RateLimits, account: str, *, clock: Callable[[], float] = time.time) -> None:
        """Args:
        limits: the limits and their store.
        account: identifies the account's budgets in a shared store; hashed, never stored as given.
        clock: seconds stamping requests: a shared store compares stamps across processes, so it needs
            the wall clock; an in-memory one may use any clock (a client's, so fake clocks move it).
        """
        self.limits = limits
        self._prefix = "kie-gpt-image:" + hashlib.sha256(account.encode("utf-8", "replace")).hexdigest()[:16]
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = count()
        self._waiting: dict[Limit, list[Ticket]] = {"create": [], "poll": [], "running": []}
        self._buckets: dict[Limit, RateStore] = {}
        self._running_store: RunningStore | None = None
        self._keys: dict[str, str] = {}  # task id -> its running entry
        self._free_at: dict[Limit, float] = {}  # when the store last said a slot frees up
        # This process's ledger of rate slots: granted requests in flight (-> grant time), and until
        # when each replied one still counts.
        self._in_flight: dict[Limit, dict[Ticket, float]] = {"create": {}, "poll": {}}
        self._held: dict[Limit, list[float]] = {"create": [], "poll": []}  # heaps: earliest first
        self._puts = 0
        self._quickest: float | None = None  # the shortest task duration read so far
        self._born: dict[str, float] = {}  # task id -> when this client sent its createTask

    def open(self) -> None:
        """Open the store's budgets now (else the first request that needs them does): a store that
        cannot be opened or written (a file that is not a database, a read-only folder, an unreachable
        server) raises ``BudgetStoreError`` here. Does I/O for a shared store: off the event loop."""
        with self._lock:
            try:
                self._running()
                self._bucket("create")
                self._bucket("poll")
            except BudgetStoreError:
                self._close()
                raise

    # ------------------------------------------------------------------ the queue

    def ticket(self, budget: Limit, due: float, *, born: float | None = None) -> Ticket:
        """A place in the queue of ``budget`` for a request that fell due at ``due`` (any clock, as long
        as one client uses one); ``born``: for a poll, when its task was created at the latest (on the
        scheduler's clock, ``now``), so that it can go after older tasks' polls while it is younger than any
        finish."""
        ticket = Ticket(budget, due, next(self._seq), born=born)
        with self._lock:
            self._waiting[budget].append(ticket)
        return ticket

    def grant_now(self, budget: Limit, *, born: float | None = None) -> Ticket | None:
        """A granted ticket of the rate ``budget`` for a request that finds no queue and room at once
        (what ``ticket`` then ``take`` would grant, in one step), else ``None``: then queue with
        ``ticket``. In memory only (a shared store's ``take`` does I/O: off the event loop)."""
        with self._lock:
            if self.limits.shared or self._waiting[budget]:
                return None
            ticket = Ticket(budget, -math.inf, next(self._seq), born=born)
            if self._take_rate(ticket) != 0.0:
                return None
            ticket.granted = True
            return ticket

    def take(self, ticket: Ticket) -> float:
        """Take a slot for ``ticket``: ``0.0`` when taken, else seconds to wait before asking again.

        Asked again for a granted rate ticket whose request is still unsent more than ``margin`` after
        its grant, it stamps the slot again in the store (``0.0``), or says how long until there is
        room: kie.ai counts the request when it arrives, and other processes see only the store.

        A store that fails (``BudgetStoreError``) is not raised here: the answer is a short wait, and
        the error is in ``ticket.error`` for the flow to raise or ride out (this is called by drivers
        that can only sleep and ask again)."""
        with self._lock:
            ticket.error = None
            try:
                return self._take(ticket)
            except BudgetStoreError as exc:
                ticket.error = exc
                return _RUNNING_RECHECK

    def _take(self, ticket: Ticket) -> float:
        if ticket.granted:
            return self._restamp(ticket) if ticket.budget != "running" else 0.0
        now = self._clock()
        queue, ahead = self._waiting[ticket.budget], 0
        if len(queue) > 1:  # (a lone request, the common case, skips the ordering)
            place = self._place(ticket, now)
            ahead = sum(1 for t in queue if self._place(t, now) < place)
            if ahead:
                # Order: a request that fell due later takes a slot only if there is room for every
                # waiter ahead of it too.
                wait = self._queued_wait(ticket.budget, ahead, now)
                if wait > 0:
                    if place[0] and ticket.born is not None and self._quickest is not None:
                        # A young task's poll asks again when it comes of age and moves up the queue:
                        # asleep there, it would hold up every waiter behind it.
                        wait = min(wait, max(ticket.born + self._quickest - now, 0.0) + 0.001)
                    return wait
                # There is room for every waiter ahead and for this one: it goes now, with them (a
                # reopened window lets the whole queue go at once rather than one per interval).
        wait = self._take_running(ticket) if ticket.budget == "running" else self._take_rate(ticket)
        if wait == 0.0:
            ticket.granted = True
            self._forget(ticket)
        else:
            self._free_at[ticket.budget] = now + wait
        return wait

    def release(self, ticket: Ticket) -> None:
        """The request gave up waiting (deadline, cancel), or a ``running`` ticket's createTask surely
        created nothing: leave the queue and free what it held. Never raises: a store that cannot free
        the running entry is logged (the entry expires after ``running_expiry``)."""
        with self._lock:
            self._forget(ticket)
            self._in_flight.get(ticket.budget, {}).pop(ticket, None)
            if ticket.key:
                key, ticket.key = ticket.key, ""
                try:
                    self._running().remove(key)
                except BudgetStoreError as exc:
                    logger.warning("%s; the running-task entry expires after running_expiry", exc)

    def replied(self, ticket: Ticket) -> BudgetStoreError | None:
        """The request of a granted rate ticket ended (answered, failed or abandoned once sent): kie.ai
        counted it at some moment between its grant and now, so its slot stays held until a whole window
        after now if that is later than its grant's item leaves the window.

        Never raises, for the reply is in hand: a shared store that could not stamp a late reply is
        returned, for the caller to log with the task it concerns (this process's ledger holds the slot
        either way)."""
        with self._lock:
            in_flight = self._in_flight.get(ticket.budget)
            if in_flight is None or ticket not in in_flight:
                return None
            del in_flight[ticket]
            now = self._clock()
            window = self._window(ticket.budget)
            margin = self.limits.window_margin
            until = max(ticket.stamp + window + margin, now + window)
            heapq.heappush(self._held[ticket.budget], until)
            if self.limits.shared and now - ticket.stamp > self.stale_after:
                # Late: also stamp it in the shared store where there is room, so the other processes
                # sharing the budget see it too. (This process's ledger counts it either way; in memory
                # a second item would only take a slot from the next request.)
                try:
                    self._bucket(ticket.budget).put(now)
                except BudgetStoreError as exc:
                    return exc
            return None

    def _queued_wait(self, budget: Limit, ahead: int, now: float) -> float:
        """``0.0`` when the budget has room for the ``ahead`` waiters before a request and for the
        request itself; else when its own slot may free up: a waiter is told the time of the slot that
        frees for it (the ``ahead``-th to free), so that when the window reopens every queued request
        whose slot is free asks again at once, instead of one per interval."""
        if budget == "running":
            room = self.limits.max_running - self._running().count(now - self.limits.running_expiry)
            if room > ahead:
                return 0.0
            # Only a finish (or an expiry) frees a running slot, and nothing tells when: the head of
            # the queue looks again every _RUNNING_RECHECK; waiters further back, which need more
            # finishes, look less often (at most one create window of them goes per window anyway).
            return _RUNNING_RECHECK * (1 + (ahead - room) // self.limits.creates_per_window)
        held = self._held[budget]
        while held and held[0] <= now:
            heapq.heappop(held)
        room = self._limit(budget) - len(held) - len(self._in_flight[budget])
        # A shared store may hold other processes' requests too: its last answer bounds the wait.
        store_wait = max(self._free_at.get(budget, now) - now, 0.0) if self.limits.shared else 0.0
        if room > ahead:
            return store_wait
        # The slots in the order they free up: the ``room`` free now, then those held by replied
        # requests, then those of requests in flight (a window after their replies at the earliest).
        # Each slot freed is taken again by the next waiter and held for a window at least, so the
        # waiter with ``ahead`` before it takes the (ahead mod limit)-th, ``ahead // limit`` windows on:
        # a lower bound, so asking again then never comes too late (the answer then is exact or later).
        limit, window = self._limit(budget), self._window(budget)
        turn, index = divmod(ahead, limit)
        index -= max(room, 0)
        if index < 0:
            frees = now
        elif index < len(held):
            frees = heapq.nsmallest(index + 1, held)[-1]
        else:
            frees = now + window
        return max(frees + turn * window - now, store_wait, 0.001)

    def _place(self, ticket: Ticket, now: float) -> tuple[bool, float, int]:
        """A waiter's place in its queue: polls of tasks younger than the quickest finish read so far
        last (a nudged poll, due at minus infinity, never), then by when each fell due."""
        quickest, born = self._quickest, ticket.born
        young = quickest is not None and born is not None and now - born < quickest and ticket.due > -math.inf
        return (young, ticket.due, ticket.seq)

    def _forget(self, ticket: Ticket) -> None:
        queue = self._waiting[ticket.budget]
        if ticket in queue:
            queue.remove(ticket)

    def _window(self, budget: Limit) -> float:
        return self.limits.create_window if budget == "create" else 1.0

    def _interval(self, budget: Limit) -> float:
        limits = self.limits
        if budget == "create":
            return (limits.create_window + limits.window_margin) / limits.creates_per_window
        if budget == "poll":
            return (1.0 + limits.window_margin) / limits.polls_per_second
        return _RUNNING_RECHECK

    # ------------------------------------------------------------------ rate budgets

    def _take_rate(self, ticket: Ticket) -> float:
        budget = ticket.budget
        # The store first, the clock after: the first call opens it (a Redis connection, a script
        # load), and a stamp read before that would be older than the other processes' newest stamps,
        # which pyrate-limiter's Redis script then leaves out of its count (ZCOUNT up to the stamp).
        bucket = self._bucket(budget) if self.limits.shared else None
        now = self._clock()
        # This process's ledger first: slots held by requests in flight (until replied, or for at most
        # _LONGEST_FLIGHT) and by replied ones until a window after their reply. The store's items only
        # cover ``window + margin`` from each grant.
        # A heap, so that a take costs O(log n) whatever the budget (a high one holds many entries).
        held = self._held[budget]
        while held and held[0] <= now:
            heapq.heappop(held)
        in_flight = self._in_flight[budget]
        if len(held) + len(in_flight) >= self._limit(budget):
            longest = max(_LONGEST_FLIGHT, self._window(budget) + self.limits.window_margin)
            for stale in [t for t, stamp in in_flight.items() if now - stamp > longest]:
                del in_flight[stale]
            if len(held) + len(in_flight) >= self._limit(budget):
                return max((held[0] if held else now + self._interval(budget)) - now, 0.001)
        if bucket is None:
            # In memory the ledger is the whole budget: each of its entries covers at least what the
            # bucket's item would (from the grant until ``window + margin`` after it, and later), and
            # nothing else writes to this client's bucket, so the bucket could never refuse what the
            # ledger allowed. Skipping it keeps a poll with room O(1) and cheap (issue 25 item 1).
            ticket.stamp = now
            in_flight[ticket] = now
            return 0.0
        self._puts += 1
        if self._puts % _LEAK_EVERY == 0:
            bucket.leak(now)
        wait = bucket.put(now)
        if wait == 0.0:
            ticket.stamp = now
            in_flight[ticket] = now
        return wait

    @property
    def stale_after(self) -> float:
        """Seconds after its grant that an unsent request is stamped again: the margin, but never under
        ``_STALE_FLOOR`` (with no margin, any delay at all would cost a second stamp)."""
        return max(self.limits.window_margin, _STALE_FLOOR)

    def _restamp(self, ticket: Ticket) -> float:
        # A granted request still unsent a margin after its grant: put it in the store again, stamped
        # now, so that other processes sharing the store count it from when kie.ai may (this process's
        # ledger already holds it until a window after its reply).
        now = self._clock()
        if now - ticket.stamp <= self.stale_after:
            return 0.0
        wait = self._bucket(ticket.budget).put(now)
        if wait == 0.0:
            ticket.stamp = now
        return wait

    def _limit(self, budget: Limit) -> int:
        return self.limits.creates_per_window if budget == "create" else self.limits.polls_per_second

    def _bucket(self, budget: Limit) -> RateStore:
        bucket = self._buckets.get(budget)
        if bucket is None:
            limits = self.limits
            # Each item covers ``window + margin`` from its grant (see the module docstring).
            window = self._window(budget) + limits.window_margin
            bucket = open_rate_store(limits.store, self._prefix, budget, self._limit(budget), window)
            self._buckets[budget] = bucket
        return bucket

    # ------------------------------------------------------------------ running tasks

    def _running(self) -> RunningStore:
        if self._running_store is None:
            self._running_store = open_running_store(self.limits.store, self._prefix)
        return self._running_store

    def _take_running(self, ticket: Ticket) -> float:
        key = uuid.uuid4().hex
        now = self._clock()
        if self._running().add(key, now, self.limits.max_running, now - self.limits.running_expiry):
            ticket.key = key
            return 0.0
        return _RUNNING_RECHECK

    def running(self) -> int:
        """Tasks counted as running in the store (expired entries dropped)."""
        with self._lock:
            return self._running().count(self._clock() - self.limits.running_expiry)

    def task_started(self, ticket: Ticket, task_id: str, sent: float | None = None) -> None:
        """createTask answered with ``task_id`` for the granted ``running`` ticket: its entry now stands
        for that task until ``task_finished``. ``sent``: when its createTask first went out (the task is
        no older than that), for ``born``."""
        with self._lock:
            if ticket.key:
                self._keys[task_id] = ticket.key
            if sent is not None:
                self._born[task_id] = sent
                if len(self._born) > _BORN_KEPT:
                    # Tasks nobody read to the end: past running_expiry they stop counting as running,
                    # and their polls are long past young.
                    horizon = self._clock() - self.limits.running_expiry
                    self._born = {task: at for task, at in self._born.items() if at >= horizon}

    def now(self) -> float:
        """The time on this scheduler's clock (which ``ticket``'s ``born`` and ``task_started`` use)."""
        return self._clock()

    def born(self, task_id: str) -> float | None:
        """When this client sent the createTask of ``task_id`` (a task it created and no read has yet
        seen finish), else ``None``: what a poll's ``ticket`` takes as ``born``."""
        return self._born.get(task_id)

    def task_finished(self, task_id: str, took: float | None = None) -> None:
        """A read saw ``task_id`` succeed or fail: it no longer counts as running. ``took``: its duration
        at kie.ai in seconds, if the record tells (the quickest orders polls, see ``ticket``).

        Never raises, for the finished record is in hand: a store that cannot free the task's entry is
        logged as a warning naming the task (the entry expires after ``running_expiry``)."""
        with self._lock:
            if took is not None and took >= 0 and (self._quickest is None or took < self._quickest):
                self._quickest = took
            self._born.pop(task_id, None)
            key = self._keys.pop(task_id, None)
            if key is not None:
                try:
                    self._running().remove(key)
                except BudgetStoreError as exc:
                    logger.warning(
                        "task %s finished, but %s; its running-task entry expires after running_expiry",
                        task_id,
                        exc,
                    )

    def close(self) -> None:
        """Close the store's connections."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        for bucket in self._buckets.values():
            bucket.close()
        self._buckets.clear()
        if self._running_store is not None:
            self._running_store.close()
            self._running_store = None
