"""Task records: the state schedule, how a task ends, and the recordInfo record (reference §2).

State is never stored: it is computed from the creation time and the injectable clock, so no thread
is needed to move tasks along and a fake clock makes every state reachable instantly. A schedule may draw
each task's duration from a distribution (real gpt-image tasks take tens of seconds); the draws come from
the emulator's seeded ``random.Random``, so a run is reproducible.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome", "OutcomePolicy", "Schedule", "Task", "always_succeed"]


@dataclass(frozen=True)
class _Uniform:
    low: float
    high: float

    def __call__(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class Schedule:
    """Seconds a task spends in each non-final state: ``waiting → queuing → generating → success|fail``.

    With ``duration`` set, each task's total is drawn from it at creation and the three phases keep their
    proportions (``Schedule.uniform(20, 90)``: gpt-image-like tasks of 20 to 90 seconds).
    """

    waiting: float = 0.3
    """Seconds in ``waiting`` (queued)."""
    queuing: float = 0.5
    """Seconds in ``queuing`` (in the processing queue)."""
    generating: float = 1.2
    """Seconds in ``generating``; the defaults add up to about 2 s, for demos."""
    duration: Callable[[random.Random], float] | None = field(default=None, kw_only=True)
    """Draws a task's total seconds from the emulator's seeded generator; ``None``: the fixed phases."""

    @classmethod
    def instant(cls) -> Schedule:
        """A zero-delay schedule: a task is final as soon as it exists (for tests)."""
        return cls(0.0, 0.0, 0.0)

    @classmethod
    def uniform(cls, low: float = 20.0, high: float = 90.0) -> Schedule:
        """Task durations drawn uniformly from ``[low, high]`` seconds (default: 20 to 90 s, the range
        gpt-image tasks take on kie.ai), about 5% waiting, 10% queuing and 85% generating.

        Raises:
            ValueError: ``low`` is negative or greater than ``high``.
        """
        if not 0 <= low <= high:
            raise ValueError(f"need 0 <= low <= high, got low={low!r}, high={high!r}")
        return cls(0.05, 0.10, 0.85, duration=_Uniform(float(low), float(high)))

    def for_task(self, rng: random.Random) -> Schedule:
        """The fixed schedule of one new task: this one, or its phases scaled to a drawn duration."""
        if self.duration is None:
            return self
        total = max(0.0, float(self.duration(rng)))
        if self.total <= 0:
            return Schedule(0.0, 0.0, total)
        scale = total / self.total
        return Schedule(self.waiting * scale, self.queuing * scale, self.generating * scale)

    @property
    def total(self) -> float:
        """Seconds from creation to the final state."""
        return self.waiting + self.queuing + self.generating

    def phase(self, elapsed: float) -> tuple[str | None, float]:
        """The non-final state at ``elapsed`` seconds after creation and when it began (seconds after
        creation); ``(None, total)`` once the task is final."""
        start = 0.0
        for state, length in (
            ("waiting", self.waiting),
            ("queuing", self.queuing),
            ("generating", self.generating),
        ):
            if elapsed < start + length:
                return state, start
            start += length
        return None, start


@dataclass(frozen=True)
class Outcome:
    """How a task ends: success, or ``fail`` with kie.ai's ``failCode``/``failMsg`` (reference §2)."""

    fail_code: str = ""
    """``failCode`` of a failed task (a string, e.g. ``"422"``); empty for success."""
    fail_msg: str = ""
    """``failMsg`` of a failed task."""

    @property
    def failed(self) -> bool:
        """Whether the task ends in ``fail``."""
        return bool(self.fail_code or self.fail_msg)

    @classmethod
    def success(cls) -> Outcome:
        """The task succeeds and produces one result image."""
        return cls()

    @classmethod
    def fail(cls, code: str = "422", msg: str = "Invalid prompt: rejected by the emulator") -> Outcome:
        """The task ends in ``fail`` with ``failCode=code`` and ``failMsg=msg``."""
        return cls(fail_code=code, fail_msg=msg or "Generation failed")


OutcomePolicy = Callable[[Mapping[str, Any]], Outcome]
"""Decides, from the createTask body (parsed JSON), how a new task will end."""


def always_succeed(body: Mapping[str, Any]) -> Outcome:
    """The default ``OutcomePolicy``: every task succeeds."""
    return Outcome.success()


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass
class Task:
    """One createTask call the emulator accepted."""

    task_id: str
    body: dict[str, Any]
    created_at: float
    outcome: Outcome
    cost: int
    schedule: Schedule
    """This task's own schedule (its drawn duration, if the emulator's schedule draws one)."""
    settled: bool = False

    @property
    def callback_url(self) -> str | None:
        """The task's ``callBackUrl``, if one was given."""
        url = self.body.get("callBackUrl")
        return url if isinstance(url, str) and url else None

    @property
    def model(self) -> str:
        """The ``model`` the task was created with (recordInfo echoes it)."""
        model = self.body.get("model")
        return model if isinstance(model, str) else ""

    @property
    def input(self) -> Mapping[str, Any]:
        """The task's ``input`` object."""
        value = self.body.get("input")
        return value if isinstance(value, dict) else {}

    def state(self, now: float) -> str:
        """The state at time ``now`` (seconds, the emulator's clock)."""
        current, _ = self.schedule.phase(now - self.created_at)
        if current is not None:
            return current
        return "fail" if self.outcome.failed else "success"

    def is_final(self, now: float) -> bool:
        """Whether the task reached ``success`` or ``fail`` at ``now``."""
        return self.state(now) in ("success", "fail")

    def record(self, now: float, result: Mapping[str, Any]) -> dict[str, Any]:
        """The recordInfo ``data`` object at ``now`` (field names and types as reference §2); ``result`` is
        the ``resultJson`` object a success carries."""
        schedule = self.schedule
        current, began = schedule.phase(now - self.created_at)
        final = current is None
        failed = final and self.outcome.failed
        succeeded = final and not failed
        record: dict[str, Any] = {
            "taskId": self.task_id,
            "model": self.model,
            "state": current or ("fail" if failed else "success"),
            # param and resultJson are JSON *strings*, compact like kie.ai's examples (reference §2).
            "param": json.dumps(self.body, separators=(",", ":"), ensure_ascii=False),
            "resultJson": json.dumps(result, separators=(",", ":"), ensure_ascii=False) if succeeded else "",
            "failCode": self.outcome.fail_code if failed else "",
            "failMsg": self.outcome.fail_msg if failed else "",
            # costTime is milliseconds per the recordInfo spec (the callback pages' "seconds" conflict).
            "costTime": _ms(schedule.total) if final else 0,
            "createTime": _ms(self.created_at),
            "updateTime": _ms(self.created_at + began),
            # A failed task consumes no credits (reference §2).
            "creditsConsumed": self.cost if succeeded else 0,
        }
        if final:
            # The spec types completeTime as a (non-nullable) integer: omit it until there is one.
            record["completeTime"] = _ms(self.created_at + schedule.total)
        return record
