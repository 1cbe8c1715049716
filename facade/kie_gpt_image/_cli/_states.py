"""The states of a batch item in the journal, and the moves allowed between them.

::

    (new) ──> pending ──> submitting ──> submitted ──> done
                │  ^          │  │           │ ^
                v  │          │  │           │ └─ (wait or save failed: still submitted, waited again)
               error <────────┘  v           v
                │ ^           unknown       failed
                └─┘              │
          (submitted again)      └──> pending / submitting / error  (only with --resubmit-unknown)

``submitting`` is committed *before* createTask is sent and ``submitted`` (with the task id) before the
task is waited for; nothing leaves ``submitted`` except ``done`` or ``failed``, and nothing leaves
``done``/``failed`` at all. That is what makes a re-run never pay twice, so the journal refuses any other
move with ``IllegalTransitionError`` (a bug in the runner, exit code 1) and leaves the row as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from ._exitcodes import IllegalTransitionError

__all__ = ["FINISHED", "TRANSITIONS", "ItemState", "check_transition"]


class ItemState(StrEnum):
    """Where a batch item is, as the journal records it (the values are what the journal stores)."""

    PENDING = "pending"
    """Nothing paid yet (its input URLs may be recorded): submitted normally."""
    ERROR = "error"
    """Failed before any task existed (bad input, 402, 429 ...): submitted again, nothing was spent."""
    SUBMITTING = "submitting"
    """createTask was about to be sent when the run stopped: a re-run treats it as unknown."""
    UNKNOWN = "unknown"
    """createTask was sent but its outcome is unknown: reported; resubmitted only on request."""
    SUBMITTED = "submitted"
    """kie.ai gave a task id (committed before waiting): waited for, never created again."""
    DONE = "done"
    """The results are saved (or recorded): skipped by a re-run."""
    FAILED = "failed"
    """The task ended in ``fail``: skipped by a re-run."""


FINISHED = frozenset({ItemState.DONE, ItemState.FAILED})
"""States a re-run skips."""

_RESUBMIT = frozenset({ItemState.PENDING, ItemState.ERROR, ItemState.SUBMITTING})

TRANSITIONS: Mapping[ItemState | None, frozenset[ItemState]] = {
    None: frozenset({ItemState.PENDING}),  # a new row
    # Uploads recorded (pending again), an upload failed (error), or createTask about to go out.
    ItemState.PENDING: _RESUBMIT,
    ItemState.ERROR: _RESUBMIT,
    # The reply to createTask: a task id, "not accepted" (error), or no reply we can trust (unknown).
    # A re-run that finds it here marks it unknown; --resubmit-unknown starts it over.
    ItemState.SUBMITTING: frozenset({ItemState.SUBMITTED, ItemState.ERROR, ItemState.UNKNOWN}) | _RESUBMIT,
    ItemState.UNKNOWN: _RESUBMIT,  # only with --resubmit-unknown
    # A failed wait or save keeps the task id (submitted again, with the error); never back to creation.
    ItemState.SUBMITTED: frozenset({ItemState.SUBMITTED, ItemState.DONE, ItemState.FAILED}),
    ItemState.DONE: frozenset(),
    ItemState.FAILED: frozenset(),
}
"""State → the states it may move to (``None``: an item not yet in the journal)."""


def check_transition(item_id: str, old: ItemState | None, new: ItemState) -> None:
    """Raise ``IllegalTransitionError`` unless ``TRANSITIONS`` allows ``old`` → ``new``.

    Args:
        item_id: The item, for the message.
        old: Its journaled state (``None``: not journaled yet).
        new: The state asked for.

    Raises:
        IllegalTransitionError: the move is not in the table.
    """
    allowed = TRANSITIONS[old]
    if new not in allowed:
        where = "a new item" if old is None else f"state {old.value!r}"
        names = ", ".join(sorted(state.value for state in allowed)) or "none: it is final"
        raise IllegalTransitionError(
            f"internal error: batch item {item_id!r} cannot move from {where} to {new.value!r} "
            f"(allowed: {names}); the journal was left unchanged. This is a bug in kie-gpt-image."
        )
