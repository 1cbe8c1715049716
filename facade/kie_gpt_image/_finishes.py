"""Word that a task finished, passed to the ``wait``s on it in this client.

A ``wait`` polls on the documented schedule, so it learns of a finish up to one poll interval late,
and under the scheduler (``_scheduler``) later still when many waits share the poll budget; meanwhile
the task keeps a place under the running-task cap. A callback says at once: when a receiver reads the
callback's task (``handle_callback``, or ``asgi_receiver``/``wsgi_receiver`` given this client), the
trusted record it read ends every ``wait`` on that task without another poll; a bare nudge
(``Client.poll_now``, for a handler that read nothing) ends the wait's sleep, and its next poll goes
out at once, through the poll budget as any other.

Thread-safe: callbacks arrive on a web server's threads or event loop, waits run on the client's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["FinishBoard", "Watch"]


class Watch:
    """One ``wait``'s interest in one task: what was posted for it, and how to wake its sleep."""

    __slots__ = ("_board", "_wake", "nudged", "record", "task_id")

    def __init__(self, board: FinishBoard, task_id: str) -> None:
        self._board = board
        self._wake: Callable[[], None] | None = None
        self.task_id = task_id
        self.record: Any = None
        """A trusted final record posted for the task (a ``TaskInfo``), else ``None``."""
        self.nudged = False
        """Whether a nudge arrived since the wait last polled."""

    def arm(self, wake: Callable[[], None]) -> bool:
        """Call ``wake`` (once, from any thread) when word arrives; ``False`` if it already has (then
        the sleep is skipped)."""
        with self._board.lock:
            if self.record is not None or self.nudged:
                return False
            self._wake = wake
            return True

    def disarm(self) -> None:
        """The sleep ended: no more wake-ups for it."""
        with self._board.lock:
            self._wake = None

    def take_nudge(self) -> bool:
        """Whether a nudge arrived (and forget it: the poll it asked for is going out)."""
        with self._board.lock:
            nudged, self.nudged = self.nudged, False
            return nudged

    def _post(self, record: Any) -> Callable[[], None] | None:
        # Under the board's lock: note the word, hand back the wake-up to call outside it.
        if record is not None:
            self.record = record
        else:
            self.nudged = True
        wake, self._wake = self._wake, None
        return wake


class FinishBoard:
    """Where a client's waits watch their tasks and finishes are posted (one per client)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._watches: dict[str, list[Watch]] = {}

    def watch(self, task_id: str) -> Watch:
        """Start watching ``task_id`` (a ``wait`` does, for its whole life)."""
        watch = Watch(self, task_id)
        with self.lock:
            self._watches.setdefault(task_id, []).append(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        """Stop watching (the wait ended, however it ended)."""
        with self.lock:
            watches = self._watches.get(watch.task_id)
            if watches is not None and watch in watches:
                watches.remove(watch)
                if not watches:
                    del self._watches[watch.task_id]

    def post(self, task_id: str, record: Any = None) -> int:
        """Word that ``task_id`` finished: its trusted final ``record``, or ``None`` for a nudge. Wakes
        the waits on it; how many there were (nothing is kept for a task nobody waits on)."""
        if task_id not in self._watches:  # nobody waits on it (every get_task of a final task asks)
            return 0
        with self.lock:
            watches = list(self._watches.get(task_id, ()))
            wakes = [wake for watch in watches if (wake := watch._post(record)) is not None]
        for wake in wakes:  # outside the lock: a wake-up may block briefly (another thread's loop)
            wake()
        return len(watches)
