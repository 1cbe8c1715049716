"""The batch journal: one SQLite row per manifest item, committed at every step that matters.

Each row holds an ``ItemState`` (``_states`` draws them and the moves allowed between them; a re-run
skips ``done``/``failed``, waits for ``submitted``, reports ``unknown``/``submitting`` and submits the
rest), the item's uploads, its task id, its results, and the exit code of what last went wrong with it
(``_exitcodes``: the same code ``edit`` would have ended with), never a class name.

Every transition is its own committed transaction, checked against the transition table inside it, so
whatever kills the process (Ctrl-C, a crash, a power cut with ``synchronous=FULL``), the row says exactly
how far the item got; "submitting" is written *before* createTask goes out, so a crash between sending and
reading the reply is visible.

Schema 2 stores ``exit_code``; a schema-1 journal (written by earlier versions, with the exception's class
name in ``error_kind``) is migrated when opened, in one transaction, so an old batch still resumes.
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

from .._errors import InvalidInputError, KieError
from ._exitcodes import ExitCode, JournalBusyError, StoreUnavailableError, exit_code_of
from ._states import FINISHED, ItemState, check_transition

__all__ = ["FINISHED", "SCHEMA_VERSION", "Entry", "ItemState", "Journal", "JournalBusyError"]

SCHEMA_VERSION = "2"
"""The journal layout this version writes (schema 1 is migrated on open)."""

_ITEMS = """
CREATE TABLE {name} (
    item_id      TEXT PRIMARY KEY,
    line         INTEGER NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL,   -- an ItemState value
    input_urls   TEXT,            -- JSON list, once uploaded
    uploaded_at  REAL,            -- Unix seconds of the uploads (uploaded files are short-lived)
    task_id      TEXT,
    result_urls  TEXT,            -- JSON list
    result_paths TEXT,            -- JSON list
    credits      REAL,
    error        TEXT,            -- what last went wrong, one line
    exit_code    INTEGER,         -- its ExitCode (NULL: nothing went wrong)
    updated_at   REAL NOT NULL
)
"""
_COLUMNS = (
    "item_id, line, fingerprint, state, input_urls, uploaded_at, task_id, result_urls, result_paths,"
    " credits, error"
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal row."""

    item_id: str
    line: int
    fingerprint: str
    state: ItemState
    input_urls: tuple[str, ...] | None = None
    uploaded_at: float | None = None
    task_id: str | None = None
    result_urls: tuple[str, ...] = ()
    result_paths: tuple[str, ...] = ()
    credits: float | None = None
    error: str | None = None
    exit_code: ExitCode | None = None
    """The exit code of ``error`` (``None``: nothing went wrong)."""


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(json.loads(value)) if value else ()


class Journal:
    """The journal file, opened for one batch run (holding an exclusive lock on ``<path>.lock``).

    Raises:
        JournalBusyError: another run holds the lock.
        InvalidInputError: the file is not a journal, or one this version cannot read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._lock_file = _lock(path.with_name(path.name + ".lock"))
        except OSError as exc:
            # A read-only or missing folder: the user's to fix, before anything is sent.
            raise StoreUnavailableError(
                "--journal", f"cannot open the journal {str(path)!r}: {exc.strerror or exc}"
            ) from None
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed task id survives a power cut, not only a crash (it is what prevents
            # paying twice).
            self._db.execute("PRAGMA synchronous=FULL")
            with self._transaction() as db:
                _open_schema(db, path)
        except sqlite3.OperationalError as exc:
            # Not a bad file but one that cannot be opened or written (a read-only folder or file).
            self._unlock()
            raise StoreUnavailableError(
                "--journal", f"cannot open the journal {str(path)!r} for writing: {exc}"
            ) from None
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
        rows = self._db.execute(f"SELECT {_COLUMNS}, exit_code FROM items").fetchall()  # noqa: S608
        return {
            row[0]: Entry(
                item_id=row[0],
                line=row[1],
                fingerprint=row[2],
                state=ItemState(row[3]),
                input_urls=_list(row[4]) if row[4] is not None else None,
                uploaded_at=row[5],
                task_id=row[6],
                result_urls=_list(row[7]),
                result_paths=_list(row[8]),
                credits=row[9],
                error=row[10],
                exit_code=ExitCode(row[11]) if row[11] is not None else None,
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
                " VALUES (?, ?, ?, ?, ?)",
                [(item_id, line, fp, ItemState.PENDING.value, now) for item_id, line, fp in items],
            )
            # A line may have moved (lines inserted above it); keep the number current for messages.
            db.executemany(
                "UPDATE items SET line=? WHERE item_id=?", [(line, item_id) for item_id, line, _ in items]
            )

    def update(
        self,
        item_id: str,
        state: ItemState,
        *,
        error: str | None = None,
        exit_code: ExitCode | None = None,
        **fields: Any,
    ) -> None:
        """Move ``item_id`` to ``state``, setting the given columns (lists are stored as JSON).

        Args:
            item_id: The item.
            state: Its new state; the move must be in ``_states.TRANSITIONS``.
            error: What went wrong, one line (``None`` clears it).
            exit_code: Its exit code (``exit_code_for`` of the exception; ``None`` clears it).
            **fields: Other columns: ``input_urls``, ``uploaded_at``, ``task_id``, ``result_urls``,
                ``result_paths``, ``credits``.

        Raises:
            IllegalTransitionError: the transition table forbids the move (the row is left unchanged).
        """
        state = ItemState(state)
        columns: dict[str, Any] = {
            "state": state.value,
            "updated_at": time.time(),
            "error": error,
            "exit_code": None if exit_code is None else int(exit_code),
        }
        for name, value in fields.items():
            if name not in _WRITABLE:
                raise ValueError(f"not a journal column: {name!r}")
            columns[name] = json.dumps(list(value)) if isinstance(value, (list, tuple)) else value
        assignments = ", ".join(f"{name}=?" for name in columns)
        with self._transaction() as db:
            row = db.execute("SELECT state FROM items WHERE item_id=?", (item_id,)).fetchone()
            check_transition(item_id, ItemState(row[0]) if row is not None else None, state)
            # Column names are checked against _WRITABLE above, never taken from input.
            db.execute(f"UPDATE items SET {assignments} WHERE item_id=?", [*columns.values(), item_id])  # noqa: S608


_WRITABLE = frozenset({"input_urls", "uploaded_at", "task_id", "result_urls", "result_paths", "credits"})


def _open_schema(db: sqlite3.Connection, path: Path) -> None:
    """Create the tables of a new journal, migrate a schema-1 one, or refuse one this version cannot read
    (inside the caller's transaction: a failed migration leaves the file as it was)."""
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    found = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    has_items = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='items'").fetchone()
    if found is None and has_items is None:
        db.execute(_ITEMS.format(name="items"))
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        return
    version = found[0] if found is not None else None
    if version == "1":
        _migrate_from_1(db)
    elif version != SCHEMA_VERSION:
        raise InvalidInputError(
            "journal",
            f"{str(path)!r} has schema {version or '(none)'}; this version reads schemas 1 and "
            f"{SCHEMA_VERSION} (a newer kie-gpt-image may have written it)",
        )
    states = {value for (value,) in db.execute("SELECT DISTINCT state FROM items")}
    unknown = sorted(states - {state.value for state in ItemState})
    if unknown:
        raise InvalidInputError("journal", f"{str(path)!r} has rows in unknown state {unknown[0]!r}")
    codes = {value for (value,) in db.execute("SELECT DISTINCT exit_code FROM items") if value is not None}
    bad = sorted(codes - {int(code) for code in ExitCode}, key=str)
    if bad:
        raise InvalidInputError("journal", f"{str(path)!r} has rows with unknown exit code {bad[0]!r}")


def _migrate_from_1(db: sqlite3.Connection) -> None:
    """Schema 1 stored the exception's class name (``error_kind``) where schema 2 stores its exit code.

    The states kept their names. A class name is mapped through today's table (so an ``InvalidInputError``
    journaled by an older run now counts as exit code 2, as in ``edit``); a row without one gets the code
    its state implies (failed: 4; unknown or submitting: 6; otherwise none).
    """
    db.execute(_ITEMS.format(name="items_v2"))
    rows = db.execute(f"SELECT {_COLUMNS}, error_kind, updated_at FROM items").fetchall()  # noqa: S608
    db.executemany(
        f"INSERT INTO items_v2 ({_COLUMNS}, exit_code, updated_at) VALUES ({', '.join('?' * 13)})",  # noqa: S608
        [(*row[:11], _code_of_v1(row[3], row[11]), row[12]) for row in rows],
    )
    db.execute("DROP TABLE items")
    db.execute("ALTER TABLE items_v2 RENAME TO items")
    db.execute("UPDATE meta SET value=? WHERE key='schema'", (SCHEMA_VERSION,))


def _kie_error_classes() -> dict[str, type[BaseException]]:
    classes: dict[str, type[BaseException]] = {}
    pending: list[type[BaseException]] = [KieError]
    while pending:
        cls = pending.pop()
        classes.setdefault(cls.__name__, cls)
        pending.extend(cls.__subclasses__())
    return classes


def _code_of_v1(state: str, error_kind: str | None) -> int | None:
    if error_kind:
        # A class this version does not define counts as a kie.ai error (code 3), as schema 1 counted it.
        return int(exit_code_of(_kie_error_classes().get(error_kind, KieError)))
    if state == ItemState.FAILED:
        return int(ExitCode.TASK_FAILED)
    if state in (ItemState.UNKNOWN, ItemState.SUBMITTING):
        return int(ExitCode.UNKNOWN)
    return None


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
