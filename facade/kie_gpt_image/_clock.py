"""The client's clock and sleeper: what every deadline is read on and every wait sleeps through.

A client reads time through its ``clock`` (``time.monotonic`` by default) and sleeps through a
``Sleeper``: ``sleep(seconds)`` sleeps whole; ``wait(event, seconds)`` sleeps until ``event`` is set or
``seconds`` have passed on the clock, whichever is first, so that word of a task's finish
(``_finishes``) or a stopped ``edit_many`` loop ends a sleeping wait at once. The real one is
``time.sleep`` and ``threading.Event.wait``, nothing more (as cheap as before there was a protocol).

A test clock (``kie_gpt_image.testing.FakeClock``) is both: given as ``clock=`` it becomes the client's
sleeper too, and a sleep on it ends when the test moves the clock (or at once, when it jumps by itself),
as trio's ``MockClock`` does. A plain ``sleep=`` function is still accepted; it sleeps whole (nothing
can wake it early).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

__all__ = ["REAL_SLEEPER", "AsyncSleeper", "Sleeper", "async_sleep_for", "sleeper_for"]


@runtime_checkable
class Sleeper(Protocol):
    """Sleeps on a clock, and can be woken early through a ``threading.Event``."""

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` on this sleeper's clock."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep until ``event`` is set or ``seconds`` have passed; whether ``event`` is set."""


@runtime_checkable
class AsyncSleeper(Protocol):
    """The async half of a test clock: a sleep on its time (cancelled when a wait is woken)."""

    async def asleep(self, seconds: float) -> None:
        """Sleep ``seconds`` on this sleeper's clock."""


class _RealSleeper:
    """``time.sleep``, and ``Event.wait`` to be woken early."""

    sleep = staticmethod(time.sleep)

    @staticmethod
    def wait(event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


class _WholeSleeper:
    """An injected ``sleep`` function: it sleeps whole (it cannot be woken), then the event is read."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self.sleep = sleep

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if not event.is_set():
            self.sleep(seconds)
        return event.is_set()


REAL_SLEEPER: Sleeper = _RealSleeper()


def sleeper_for(clock: object, sleep: Callable[[float], None] | None) -> Sleeper:
    """The sleeper of a ``Client`` given ``clock`` and ``sleep``: a clock that is a ``Sleeper`` (a test
    clock) unless another ``sleep`` than the default was given; real time by default; else ``sleep``,
    slept whole."""
    default = sleep is None or sleep is time.sleep
    if isinstance(clock, Sleeper) and (default or getattr(sleep, "__self__", None) is clock):
        return clock
    if sleep is None or sleep is time.sleep:
        return REAL_SLEEPER
    return _WholeSleeper(sleep)


def async_sleep_for(
    clock: object, sleep: Callable[[float], Awaitable[object]] | None
) -> Callable[[float], Awaitable[object]] | None:
    """The async sleep of an ``AsyncClient``: ``sleep`` if given, else a test clock's, else ``None``
    (the event loop's own)."""
    if sleep is None and isinstance(clock, AsyncSleeper):
        return clock.asleep
    return sleep
