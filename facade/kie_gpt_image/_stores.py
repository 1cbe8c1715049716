"""Where the scheduler's budgets live: in memory, in a SQLite file shared by the processes of one machine,
or in Redis shared by several machines (``RateLimits.store``).

Two kinds of state, each behind a small class so the scheduler (``_scheduler``) never meets a store's
own exceptions:

- ``RateStore``: one rate budget (creates per window, polls per second), a pyrate-limiter bucket;
- ``RunningStore``: the running-task entries of one account, our own table or sorted set.

Every failure of a store (``sqlite3.Error``, ``OSError`` from a file lock, ``redis.RedisError``) comes
out as a ``BudgetStoreError`` naming the store with its password masked. Redis forgets its scripts on a
restart or ``SCRIPT FLUSH``; pyrate-limiter's bucket loads its script once, so a ``NoScriptError`` is
answered here by loading it again (redis-py's ``register_script`` already does so for ours).
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._errors import BudgetStoreError, InvalidInputError

if TYPE_CHECKING:
    from pyrate_limiter import AbstractBucket

__all__ = ["STORES", "RateStore", "RunningStore", "mask_store", "open_rate_store", "open_running_store"]

STORES = ("memory", "sqlite:///", "redis://", "rediss://")
_OPEN_PATIENCE = 30.0  # seconds a shared SQLite file may stay locked while it is first opened
_MASK = "***"


def mask_store(store: str) -> str:
    """``store`` with any password in it masked (``redis://:***@host:6379/0``), for reprs and messages."""
    if not store.startswith(("redis://", "rediss://")):
        return store
    try:
        parts = urlsplit(store)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            name = user.split(":", 1)[0]
            netloc = f"{name}:{_MASK}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, _MASK if k.lower() == "password" else v) for k, v in pairs], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not a URL urllib can read: show nothing of it past the scheme
        return store.split("://", 1)[0] + f"://{_MASK}"


def _failures() -> tuple[type[BaseException], ...]:
    """The exceptions a store may raise: SQLite's, a file lock's (``OSError``), and Redis's if installed."""
    try:
        from redis.exceptions import RedisError
    except ImportError:
        return (sqlite3.Error, OSError)
    return (sqlite3.Error, OSError, RedisError)


def _store_error(store: str, doing: str, exc: BaseException) -> BudgetStoreError:
    shown = mask_store(store)
    detail = str(exc).replace(store, shown) or type(exc).__name__
    return BudgetStoreError(f"the budget store {shown} could not {doing}: {detail}", store=shown)


class RateStore:
    """One rate budget of one account in a store (a pyrate-limiter bucket)."""

    def __init__(self, store: str, name: str, limit: int, window: float) -> None:
        """Open (or create) the budget ``name`` allowing ``limit`` requests per ``window`` seconds in
        ``store``; ``BudgetStoreError`` if the store cannot be opened."""
        self._store = store
        self._name = name
        try:
            self._bucket = _open_bucket(store, name, limit, window)
        except _failures() as exc:
            raise _store_error(store, "be opened", exc) from exc

    def put(self, stamp: float) -> float:
        """Count a request at ``stamp`` (seconds): ``0.0`` if there was room, else seconds until there
        may be (nothing counted)."""
        from pyrate_limiter import RateItem

        item = RateItem(self._name, int(stamp * 1000))
        try:
            if self._put(item):
                return 0.0
            waited = self._bucket.waiting(item)
        except _failures() as exc:
            raise _store_error(self._store, "count a request", exc) from exc
        return (waited if isinstance(waited, int) and waited > 0 else 1) / 1000

    def _put(self, item: Any) -> bool:
        try:
            return bool(self._bucket.put(item))
        except Exception as exc:
            if type(exc).__name__ != "NoScriptError":
                raise
        # Redis restarted or its scripts were flushed: pyrate-limiter's bucket keeps the hash of the
        # script it loaded when opened; load it again and ask once more.
        from pyrate_limiter.buckets.redis_bucket import LuaScript

        bucket: Any = self._bucket
        bucket.script_hash = bucket.redis.script_load(LuaScript.PUT_ITEM)
        return bool(bucket.put(item))

    def leak(self, stamp: float) -> None:
        """Drop the entries that left the window by ``stamp`` (pyrate-limiter's buckets keep them)."""
        try:
            self._bucket.leak(int(stamp * 1000))
        except _failures() as exc:
            raise _store_error(self._store, "drop expired entries", exc) from exc

    def close(self) -> None:
        """Close the store's connection (a failure to close is not worth an error)."""
        try:
            self._bucket.close()
        except _failures():
            pass


class _Entries(Protocol):
    """The running-task entries of one account, in a store."""

    def add(self, key: str, now: float, cap: int, horizon: float) -> bool: ...
    def remove(self, key: str) -> None: ...
    def count(self, horizon: float) -> int: ...
    def close(self) -> None: ...


class RunningStore:
    """The running-task entries of one account in a store: one per task, added only while fewer than
    the cap are held, atomically across the processes sharing the store."""

    def __init__(self, store: str, prefix: str) -> None:
        """Open (or create) the entries of ``prefix`` in ``store``; ``BudgetStoreError`` if it cannot be
        opened."""
        self._store = store
        try:
            self._entries = _open_entries(store, prefix)
        except _failures() as exc:
            raise _store_error(store, "be opened", exc) from exc

    @property
    def store(self) -> str:
        """The store, its password masked (for messages)."""
        return mask_store(self._store)

    def add(self, key: str, now: float, cap: int, horizon: float) -> bool:
        """Drop entries added before ``horizon``, then add ``key`` at ``now`` if fewer than ``cap`` are
        held; whether it was added."""
        try:
            return self._entries.add(key, now, cap, horizon)
        except _failures() as exc:
            raise _store_error(self._store, "count the running tasks", exc) from exc

    def remove(self, key: str) -> None:
        """Drop ``key`` (a task seen finished, or a createTask that surely created nothing)."""
        try:
            self._entries.remove(key)
        except _failures() as exc:
            raise _store_error(self._store, "free a running task's entry", exc) from exc

    def count(self, horizon: float) -> int:
        """Entries added at or after ``horizon``."""
        try:
            return self._entries.count(horizon)
        except _failures() as exc:
            raise _store_error(self._store, "count the running tasks", exc) from exc

    def close(self) -> None:
        """Close the store's connection."""
        try:
            self._entries.close()
        except _failures():
            pass


class _MemoryEntries:
    def __init__(self) -> None:
        self._entries: dict[str, float] = {}

    def _expire(self, horizon: float) -> None:
        for key in [k for k, started in self._entries.items() if started < horizon]:
            del self._entries[key]

    def add(self, key: str, now: float, cap: int, horizon: float) -> bool:
        self._expire(horizon)
        if len(self._entries) >= cap:
            return False
        self._entries[key] = now
        return True

    def remove(self, key: str) -> None:
        self._entries.pop(key, None)

    def count(self, horizon: float) -> int:
        self._expire(horizon)
        return len(self._entries)

    def close(self) -> None:
        self._entries.clear()


class _SQLiteEntries:
    """Entries in a table of the shared SQLite file; ``BEGIN IMMEDIATE`` takes SQLite's write lock, so
    expire-count-insert is one atomic step across processes (https://www.sqlite.org/lang_transaction.html)."""

    def __init__(self, path: str, table: str) -> None:
        self._table = table
        self._conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            self._conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, started REAL)")
        except sqlite3.Error:
            self._conn.close()
            raise

    def add(self, key: str, now: float, cap: int, horizon: float) -> bool:
        conn, table = self._conn, self._table
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"DELETE FROM {table} WHERE started < ?", (horizon,))  # noqa: S608 - our table name
            (held,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
            if held >= cap:
                return False
            conn.execute(f"INSERT INTO {table} VALUES (?, ?)", (key, now))  # noqa: S608
            return True
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def remove(self, key: str) -> None:
        self._conn.execute(f"DELETE FROM {self._table} WHERE key = ?", (key,))  # noqa: S608

    def count(self, horizon: float) -> int:
        query = f"SELECT COUNT(*) FROM {self._table} WHERE started >= ?"  # noqa: S608
        (held,) = self._conn.execute(query, (horizon,)).fetchone()
        return int(held)

    def close(self) -> None:
        self._conn.close()


# Expire, count and add in one step: Redis runs a script atomically (https://redis.io/docs/latest/
# develop/programmability/eval-intro/).
_REDIS_ADD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
return 1
"""


class _RedisEntries:
    """Entries in a sorted set (score: when the entry was added). redis-py's ``Script`` loads the script
    again when Redis answers ``NoScriptError`` (after a restart or ``SCRIPT FLUSH``)."""

    def __init__(self, client: Any, name: str) -> None:
        self._redis = client
        self._name = name
        self._add = client.register_script(_REDIS_ADD)
        client.ping()  # an unreachable server fails here, before anything is sent to kie.ai

    def add(self, key: str, now: float, cap: int, horizon: float) -> bool:
        return bool(self._add(keys=[self._name], args=[horizon, cap, now, key]))

    def remove(self, key: str) -> None:
        self._redis.zrem(self._name, key)

    def count(self, horizon: float) -> int:
        return int(self._redis.zcount(self._name, horizon, "+inf"))

    def close(self) -> None:
        self._redis.close()


def _sqlite_path(store: str) -> str:
    return store.removeprefix("sqlite:///")  # sqlite:///rel.db or sqlite:////abs/path.db


def _redis(store: str) -> Any:
    try:
        from redis import Redis
    except ImportError as exc:
        raise InvalidInputError(
            "store", "a redis:// store needs the redis package: pip install 'kie-gpt-image[redis]'"
        ) from exc
    return Redis.from_url(store)


def _open_entries(store: str, prefix: str) -> _Entries:
    if store == "memory":
        return _MemoryEntries()
    if store.startswith("sqlite:///"):
        return _SQLiteEntries(_sqlite_path(store), _table(prefix, "running"))
    return _RedisEntries(_redis(store), f"{prefix}:running")


def open_running_store(store: str, prefix: str) -> RunningStore:
    """The running-task entries of the account ``prefix`` names, in ``store``."""
    return RunningStore(store, prefix)


def open_rate_store(store: str, prefix: str, budget: str, limit: int, window: float) -> RateStore:
    """The rate budget ``budget`` of the account ``prefix`` names: ``limit`` requests per ``window``
    seconds, in ``store``."""
    return RateStore(store, f"{prefix}:{budget}", limit, window)


def _open_bucket(store: str, name: str, limit: int, window: float) -> AbstractBucket:
    """A pyrate-limiter bucket named ``name`` in ``store``."""
    from pyrate_limiter import InMemoryBucket, Rate

    rate = Rate(limit, int(window * 1000))
    if store == "memory":
        return InMemoryBucket([rate])
    prefix, _, budget = name.rpartition(":")
    if store.startswith("sqlite:///"):
        from pyrate_limiter import SQLiteBucket

        # The file lock makes count-then-insert atomic across processes (pyrate-limiter's SQLiteBucket).
        # Opening switches the file to WAL, which SQLite refuses ("database is locked") while another
        # process holds a write (our running-task table, outside that lock): several processes starting
        # together meet it (tests/test_many.py), so the first open is retried for a while.
        give_up = time.monotonic() + _OPEN_PATIENCE
        delay = 0.01
        while True:
            try:
                return SQLiteBucket.init_from_file(
                    [rate], table=_table(prefix, budget), db_path=_sqlite_path(store), use_file_lock=True
                )
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > give_up:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    from pyrate_limiter import RedisBucket

    # A sync Redis client makes init return the bucket itself (an async one would return a coroutine).
    bucket: AbstractBucket = RedisBucket.init([rate], _redis(store), name)
    return bucket


def _table(prefix: str, budget: str) -> str:
    return "kie_" + prefix.rsplit(":", 1)[-1] + "_" + budget
