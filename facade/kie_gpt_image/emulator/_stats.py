"""The emulator's numbers, readable from outside its process: ``GET /_emulator/stats``.

Not part of the kie.ai API it emulates (nothing under ``/api/``, not in the published spec, never
recorded as an exchange, never faulted): a read-only snapshot of its counters, so a shell user can check
what a run cost and that nothing was paid twice (``tasks_created`` times the task cost, minus refunds, is
``credits_used``). ``fetch_stats`` reads it over HTTP; ``python -m kie_gpt_image.emulator stats --url URL``
prints it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from ._state import State

__all__ = ["STATS_PATH", "EmulatorStats", "collect_stats", "fetch_stats", "stats_reply"]

STATS_PATH = "/_emulator/stats"
"""Where every host of a served emulator answers its stats (outside kie.ai's ``/api/`` paths)."""

_CREATE = "gpt-image-1-5-image-to-image"  # the operationId the core routes createTask under
_POLL = "get-task-details"
_STATES = ("waiting", "queuing", "generating", "success", "fail")


@dataclass(frozen=True)
class EmulatorStats:
    """A snapshot of an emulator's counters (``Emulator.stats()``, ``fetch_stats``)."""

    create_calls: int
    """createTask requests received, whatever their answer (refused, invalid and faulted ones too)."""
    tasks_created: int
    """createTask requests accepted: each one charged ``task_cost`` credits."""
    polls: int
    """recordInfo requests received, whatever their answer."""
    rate_limited: int
    """Requests the account limits answered 429 (the three below added up)."""
    create_rate_429s: int
    """createTask calls refused because the new-task window was full."""
    running_429s: int
    """createTask calls refused because too many tasks were running."""
    poll_429s: int
    """recordInfo calls refused because the poll window was full."""
    starting_credits: int
    """The balance the emulator started with."""
    credits: int
    """The balance now."""
    credits_used: int
    """Credits spent on tasks: charged at createTask, failed tasks refunded
    (``starting_credits - credits``)."""
    credits_refunded: int
    """Credits given back for tasks that failed."""
    task_cost: int
    """Credits one task costs now (the emulator's ``task_cost``)."""
    tasks_by_state: dict[str, int] = field(default_factory=dict)
    """Tasks per state now (``waiting``, ``queuing``, ``generating``, ``success``, ``fail``)."""

    def to_json(self) -> dict[str, Any]:
        """The stats as the JSON object ``GET /_emulator/stats`` answers."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EmulatorStats:
        """The stats from ``to_json``'s object (unknown keys are ignored, so newer servers still read).

        Raises:
            ValueError: A counter is missing or not an integer.
        """
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name == "tasks_by_state":
                states = data.get(name, {})
                if not isinstance(states, dict) or not all(isinstance(v, int) for v in states.values()):
                    raise ValueError(f"stats: {name} must be an object of integers")
                values[name] = {str(k): v for k, v in states.items()}
                continue
            value = data.get(name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"stats: {name} must be an integer (got {value!r})")
            values[name] = value
        return cls(**values)

    def lines(self) -> list[str]:
        """The stats as aligned ``name value`` lines for a terminal."""
        states = ", ".join(f"{state} {count}" for state, count in self.tasks_by_state.items()) or "none"
        return [
            f"createTask calls   {self.create_calls} ({self.tasks_created} accepted)",
            f"recordInfo calls   {self.polls}",
            f"429s               {self.rate_limited} (new-task rate {self.create_rate_429s}, "
            f"running {self.running_429s}, polls {self.poll_429s})",
            f"tasks              {states}",
            f"credits used       {self.credits_used} ({self.tasks_created} tasks x {self.task_cost}, "
            f"{self.credits_refunded} refunded)",
            f"credits left       {self.credits} of {self.starting_credits}",
        ]


def collect_stats(state: State, task_cost: int, now: float) -> EmulatorStats:
    """The stats of ``state`` at ``now``. Lock held."""
    state.settle(now)
    limits = state.limits.counters(state.running(now))
    by_state: Counter[str] = Counter(task.state(now) for task in state.tasks.values())
    refunded = sum(task.cost for task in state.tasks.values() if task.settled and task.outcome.failed)
    return EmulatorStats(
        create_calls=state.calls[_CREATE],
        tasks_created=len(state.tasks),
        polls=state.calls[_POLL],
        rate_limited=limits.total_429s,
        create_rate_429s=limits.create_rate_429s,
        running_429s=limits.running_429s,
        poll_429s=limits.poll_429s,
        starting_credits=state.starting_credits,
        credits=state.credits,
        credits_used=state.starting_credits - state.credits,
        credits_refunded=refunded,
        task_cost=task_cost,
        tasks_by_state={name: by_state[name] for name in (*_STATES, *sorted(set(by_state) - set(_STATES)))},
    )


def stats_reply(request: httpx.Request, stats: EmulatorStats) -> httpx.Response:
    """The reply to ``request`` on ``STATS_PATH``: the stats as JSON for ``GET``/``HEAD``, else 405."""
    if request.method not in ("GET", "HEAD"):
        return httpx.Response(405, headers={"Allow": "GET, HEAD"}, text="Method Not Allowed")
    content = json.dumps(stats.to_json(), separators=(",", ":")).encode()
    return httpx.Response(200, headers={"Content-Type": "application/json"}, content=content)


def fetch_stats(
    url: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None
) -> EmulatorStats:
    """Read a running emulator's stats.

    Args:
        url: Any of its base URLs (``http://127.0.0.1:8787``, what its banner prints as ``base_url``),
            or the stats URL itself.
        timeout: Seconds to wait for the reply.
        transport: An httpx transport (``Emulator.transport`` in-process); default: the network.

    Returns:
        The stats.

    Raises:
        httpx.HTTPError: The emulator could not be reached or answered an HTTP error.
        ValueError: The reply is not an emulator's stats (another server at that URL).
    """
    target = url.rstrip("/")
    if not target.endswith(STATS_PATH):
        target += STATS_PATH
    # No proxies from the environment: the emulator runs on this machine (loopback).
    with httpx.Client(transport=transport, timeout=timeout, trust_env=False) as client:
        response = client.get(target)
        response.raise_for_status()
    try:
        data = response.json()
    except ValueError as exc:
        raise ValueError(f"{target} did not answer JSON: is an emulator running there?") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{target} did not answer a stats object")
    return EmulatorStats.from_json(data)
