"""The effects a flow yields to its driver, and what each sends back (the vocabulary between ``_flow``'s
sans-I/O generators and ``_drivers``' I/O).

A flow yields effects and receives their results:

- ``Send(request, attempt, max_seconds)`` → the driver sends it within the request deadline (and
  ``max_seconds``); receives the read ``httpx.Response`` or the exception that ended the attempt;
- ``Fetch(url, sink, attempt)`` → the driver streams ``url`` (no Authorization) into ``sink`` within the
  download deadline; receives ``None`` or the exception that ended the attempt;
- ``Sleep(seconds)`` → the driver sleeps (``time.sleep`` or ``asyncio.sleep``, both injectable);
- ``Notify(info)``   → the driver calls the user's ``on_progress`` callback;
- ``Take(ticket)``   → the driver asks the client's ``Scheduler`` for a slot of kie.ai's account limits
  (off the event loop when the store is shared); receives ``0.0`` (taken) or seconds to wait;
- ``OpenStore()``  → the driver opens the shared budget store (off the event loop); receives ``None`` or
  the ``BudgetStoreError`` it met;
- ``Gather(flows, limit)`` → the driver runs the sub-flows concurrently, at most ``limit`` at once;
  receives their values (or the exceptions that ended them) in order.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from . import _api
    from ._download import Sink
    from ._finishes import Watch
    from ._models import TaskInfo
    from ._scheduler import Ticket

__all__ = ["Effect", "Fetch", "Flow", "Gather", "Notify", "OpenStore", "Send", "Sleep", "Take"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Send:
    """Send one kie.ai request (attempt number ``attempt``, 0-based)."""

    request: _api.RequestSpec
    attempt: int
    max_seconds: float | None = None
    """Seconds the attempt may take at most, when less than the request deadline (a wait's time left)."""


@dataclass(frozen=True, slots=True)
class Fetch:
    """Stream a result URL into ``sink``, without kie.ai credentials (attempt number ``attempt``)."""

    url: str
    sink: Sink
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds``; with a ``watch``, less if word of its task's finish arrives (``_finishes``)."""

    seconds: float
    watch: Watch | None = None


@dataclass(frozen=True, slots=True)
class Notify:
    """Report a state change (or a poll failure being ridden out) to the user's ``on_progress``."""

    info: TaskInfo


@dataclass(frozen=True, slots=True)
class Take:
    """Ask the client's scheduler for a slot of ``ticket``'s budget (``Scheduler.take``)."""

    ticket: Ticket


@dataclass(frozen=True, slots=True)
class OpenStore:
    """Open the client's shared budget store now (``Scheduler.open``; off the event loop): before a task's
    first upload, so that a store that cannot be opened fails before anything is sent. The driver sends
    back ``None`` or the ``BudgetStoreError`` it met."""


@dataclass(frozen=True, slots=True)
class Gather:
    """Run ``flows`` concurrently, at most ``limit`` at once; send back their values or errors, in order."""

    flows: tuple[Flow[Any], ...]
    limit: int


Effect = Send | Fetch | Sleep | Notify | Take | OpenStore | Gather
Flow = Generator[Effect, Any, T]
