"""Public value types: what the clients return. Plain frozen dataclasses; no generated classes leak."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Task", "TaskInfo", "TaskState", "UploadedFile"]


class TaskState(StrEnum):
    """The state of a task (reference §2). ``UNKNOWN`` stands for a state the spec does not list; the
    raw string is kept in ``TaskInfo.raw_state``."""

    WAITING = "waiting"
    QUEUING = "queuing"
    GENERATING = "generating"
    SUCCESS = "success"
    FAIL = "fail"
    UNKNOWN = "unknown"

    @property
    def is_finished(self) -> bool:
        """True for ``SUCCESS`` and ``FAIL``: the task will not change any more."""
        return self in (TaskState.SUCCESS, TaskState.FAIL)

    @classmethod
    def parse(cls, raw: object) -> TaskState:
        """Map a raw state string to a member; anything unlisted becomes ``UNKNOWN``."""
        if isinstance(raw, str):
            try:
                member = cls(raw.strip().lower())
            except ValueError:
                return cls.UNKNOWN
            return member
        return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class Task:
    """A task kie.ai accepted (createTask answered with a task id)."""

    task_id: str
    """kie.ai's task id; everything else (``get_task``, ``wait``) needs only this."""


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A task's record, from ``recordInfo`` or from a callback (one parser serves both)."""

    task_id: str
    """kie.ai's task id."""
    state: TaskState
    """The state; ``TaskState.UNKNOWN`` for a state the spec does not list."""
    raw_state: str | None = None
    """The state exactly as kie.ai sent it."""
    model: str | None = None
    """The model, e.g. ``gpt-image/1.5-image-to-image``."""
    result_urls: tuple[str, ...] = ()
    """Result image URLs, parsed from ``resultJson`` (empty until success)."""
    fail_code: str | None = None
    """kie.ai's failure code (``failCode``), as a string; ``None`` when the task did not fail."""
    fail_msg: str | None = None
    """kie.ai's failure message (``failMsg``); ``None`` when empty."""
    cost_time_ms: int | None = None
    """``costTime`` as sent (milliseconds per the recordInfo spec; callback pages say seconds)."""
    credits_consumed: float | None = None
    """``creditsConsumed`` (or the older ``consumeCredits``) when kie.ai reports it."""
    created_at: datetime | None = None
    """``createTime`` as an aware UTC datetime."""
    updated_at: datetime | None = None
    """``updateTime`` as an aware UTC datetime."""
    completed_at: datetime | None = None
    """``completeTime`` as an aware UTC datetime."""
    param: Mapping[str, Any] | None = None
    """The original createTask body (``param`` is a JSON string at kie.ai; parsed here)."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The record exactly as received, for fields this library does not model."""
    poll_error: Exception | None = field(default=None, compare=False)
    """While ``wait`` rides out a failed poll (5xx, 429, 455, a dropped connection, a timeout): that
    failure, reported to ``on_progress`` with the last record received. ``None`` otherwise."""

    @property
    def is_finished(self) -> bool:
        """True when the task succeeded or failed."""
        return self.state.is_finished

    @property
    def elapsed(self) -> float | None:
        """Seconds from ``created_at`` to ``completed_at`` (else ``updated_at``); ``None`` without them."""
        end = self.completed_at or self.updated_at
        if self.created_at is None or end is None:
            return None
        return max(0.0, (end - self.created_at).total_seconds())

    def __repr__(self) -> str:
        # Short (a notebook's on_progress=print shows one line per state change); every field, and ``raw``
        # (the record as received), stay available as attributes.
        parts = [f"task_id={self.task_id!r}", f"model={self.model!r}", f"state={self.state.value!r}"]
        if self.elapsed is not None:
            parts.append(f"elapsed={self.elapsed:.1f}s")
        if self.fail_code is not None:
            parts.append(f"fail_code={self.fail_code!r}")
        if self.poll_error is not None:
            parts.append(f"poll_error={type(self.poll_error).__name__}")
        return f"TaskInfo({', '.join(parts)})"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file on kie.ai's upload host; pass ``url`` as an input. Uploaded files are short-lived."""

    url: str
    """The ``downloadUrl`` to use in ``input_urls``."""
    file_name: str | None = None
    """The name kie.ai stored it under."""
    file_path: str | None = None
    """``<uploadPath>/<fileName>``."""
    size: int | None = None
    """Size in bytes, as kie.ai reports it."""
    mime_type: str | None = None
    """MIME type, as kie.ai reports it."""
    uploaded_at: str | None = None
    """Upload time, as kie.ai sent it (ISO 8601)."""
