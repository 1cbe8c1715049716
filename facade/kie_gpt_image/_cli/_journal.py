"""The batch journal: one SQLite row per manifest item, committed at every step that matters.

States and what a re-run does with them::

    pending     nothing paid yet (input URLs may be recorded)      → submitted normally
    error       failed before any task existed (429, 402, ...)      → submitted again (nothing was spent)
    submitting  createTask was about to be sent when we stopped      → treated as unknown (see below)
    unknown     createTask was sent, its outcome is unknown          → reported; resubmitted only on request
    submitted   kie.ai gave a task id (committed before waiting)     → waited for, never recreated
    done        results saved                                       → skipped
    failed      the task ended in ``fail``                          → skipped

Every transition is its own committed transaction, so whatever kills the process (Ctrl-C, a crash, a
power cut with ``synchronous=FULL``), the row says exactly how far the item got; "submitting" is written
*before* createTask goes out, so a crash between sending and reading the reply is visible.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .._errors import InvalidInputError

__all__ = ["FINISHED", "STATES", "Entry", "Journal", "JournalBusyError"]

STATES = ("pending", "error", "submitting", "unknown", "submitted", "done", "failed")
"""Every state a journal row can be in."""
FINISHED = frozenset({"done", "failed"})
"""States a re-run skips."""

_SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id      TEXT PRIMARY KEY,
    line         INTEGER NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL,
    input_urls   TEXT,            -- JSON list, once uploaded
    uploaded_at  REAL,            -- Unix seconds of the uploads (uploaded files are short-lived)
    task_id      TEXT,
    result_urls  TEXT,            -- JSON list
    result_paths TEXT,            -- JSON list
    credits      REAL,
    error        TEXT,
    error_kind   TEXT,            -- the exception class, for the summary and the exit code
    updated_at   REAL NOT NULL
);
"""


class JournalBusyError(InvalidInputError):
    """Another batch run holds the journal: two runners would submit the same items twice."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal row."""

    item_id: str
    line: int
    fingerprint: str
    state: str
    input_urls: tuple[str, ...] | None = None
    uploaded_at: float | None = None
    task_id: str | None = None
    result_urls: tuple[str, ...] = ()
    result_paths: tuple[str, ...] = ()
    credits: float | None = None
    error: str | None = None
    error_kind: str | None = None


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(json.loads(value)) if value else ()


class Journal:
    """The journal file, opened for one batch run (holding an exclusive lock on ``<path>.lock``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_file = _lock(path.with_name(path.name + ".lock"))
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed task id survives a power cut, not only a crash (it is what prevents
            # paying twice).
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            version = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if version is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
            elif version[0] != _SCHEMA_VERSION:
                raise InvalidInputError(
                    "journal", f"{str(path)!r} has schema {version[0]}, not {_SCHEMA_VERSION}"
                )
        except sqlite3.DatabaseError as exc:
            self._unlock()
            raise InvalidInputError("journal", f"cannot use {str(path)!r} as a journal: {exc}") from None
        except BaseException:
            self._unlock()
            raise

    def close(self) -> None:
        """Close the database and release the lock."""
        try:
            self._db.close()
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---------------------------------------------------------------------------------- reading

    def entries(self) -> dict[str, Entry]:
        """Every row, by item id."""
        rows = self._db.execute(
            "SELECT item_id, line, fingerprint, state, input_urls, uploaded_at, task_id, result_urls,"
            " result_paths, credits, error, error_kind FROM items"
        ).fetchall()
        return {
            row[0]: Entry(
                item_id=row[0],
                line=row[1],
                fingerprint=row[2],
                state=row[3],
                input_urls=_list(row[4]) if row[4] is not None else None,
                uploaded_at=row[5],
                task_id=row[6],
                result_urls=_list(row[7]),
                result_paths=_list(row[8]),
                credits=row[9],
                error=row[10],
                error_kind=row[11],
            )
            for row in rows
        }

    # ---------------------------------------------------------------------------------- writing

    def add(self, items: list[tuple[str, int, str]]) -> None:
        """Insert ``(item_id, line, fingerprint)`` rows not yet in the journal, as ``pending``."""
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO items (item_id, line, fingerprint, state, updated_at)"
                " VALUES (?, ?, ?, 'pending', ?)",
                [(item_id, line, fp, now) for item_id, line, fp in items],
            )
            # A line may have moved (lines inserted above it); keep the number current for messages.
            db.executemany(
                "UPDATE items SET line=? WHERE item_id=?", [(line, item_id) for item_id, line, _ in items]
            )

    def update(self, item_id: str, state: str, **fields: Any) -> None:
        """Move ``item_id`` to ``state``, setting the given columns (lists are stored as JSON)."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        columns = {"state": state, "updated_at": time.time()}
        for name, value in fields.items():
            columns[name] = json.dumps(list(value)) if isinstance(value, (list, tuple)) else value
        assignments = ", ".join(f"{name}=?" for name in columns)
        with self._transaction() as db:
            # Column names come from this module's callers, never from input.
            db.execute(f"UPDATE items SET {assignments} WHERE item_id=?", [*columns.values(), item_id])  # noqa: S608


def _lock(path: Path) -> IO[bytes] | None:
    """Hold an exclusive advisory lock on ``path`` for the life of the run (POSIX ``flock``)."""
    if sys.platform == "win32":  # pragma: no cover - no flock; a second runner is not detected there
        return None
    import fcntl

    handle = path.open("a+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise JournalBusyError(
            "journal", f"another batch run is using {str(path.with_suffix(''))!r} (lock held on {path.name})"
        ) from None
    os.set_inheritable(handle.fileno(), False)
    return handle
