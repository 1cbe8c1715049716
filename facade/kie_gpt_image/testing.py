"""Helpers for testing code that uses kie_gpt_image: ``FakeClock``, a clock that moves only when told to.

Give one clock to the emulator (``Emulator(clock=clock.time)``) and to the client (``clock=clock``): the
client then reads every deadline on it and sleeps on it, so a 15-minute wait, a poll schedule or a
create step's deadline pass in no wall time at all::

    clock = FakeClock()
    with Emulator(clock=clock.time) as emulator, emulator.client(clock=clock) as client:
        ...

By default a sleep moves the clock to its own end at once (``autojump``, as trio's
``MockClock(autojump_threshold=0)`` jumps to the next deadline when everything waits). With
``autojump=False`` a sleep blocks until the test moves the clock with ``advance``, and is woken early
like a real one (a callback's word of a finish, ``poll_now``): ``wait_for_sleepers`` tells the test when
the client is asleep.
"""

from __future__ import annotations

import threading

__all__ = ["FakeClock"]

_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: what ``time()`` reads when the clock reads 0
_EVENT_POLL = 0.002  # real seconds between looks at a wake-up event (an Event cannot notify a Condition)


class FakeClock:
    """A monotonic clock for tests, and the sleeper of the clients given it as ``clock=``.

    Args:
        start: the monotonic reading at the start (seconds).
        autojump: ``True``: a sleep ends at once, moving the clock forward by its length (or less when
            the clock has already moved past its end). ``False``: a sleep blocks until ``advance`` moves
            the clock past its end, or until it is woken.
    """

    def __init__(self, start: float = 0.0, *, autojump: bool = True) -> None:
        self._cond = threading.Condition()
        self._now = float(start)
        self._sleeping = 0
        self.autojump = autojump
        """Whether a sleep moves the clock itself (see the class docstring)."""

    def __call__(self) -> float:
        """The monotonic reading (so the clock itself is a client's ``clock=``)."""
        return self._now

    def monotonic(self) -> float:
        """Seconds on this clock (monotonic)."""
        return self._now

    def time(self) -> float:
        """Seconds since the epoch on this clock (an ``Emulator(clock=...)``): 2026-01-01 plus the
        monotonic reading."""
        return _EPOCH + self._now

    @property
    def sleeping(self) -> int:
        """How many sleeps are blocked on this clock now (``autojump=False``)."""
        with self._cond:
            return self._sleeping

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``, ending the sleeps it passes."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._cond:
            self._now += seconds
            self._cond.notify_all()

    def wait_for_sleepers(self, count: int = 1, timeout: float = 10.0) -> None:
        """Block (in real time, at most ``timeout`` seconds) until ``count`` sleeps are blocked on the
        clock: the client got to its sleep, and ``advance`` now moves it on.

        Raises:
            TimeoutError: they did not, within ``timeout``.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._sleeping >= count, timeout):
                raise TimeoutError(f"{self._sleeping} of {count} sleepers after {timeout} s")

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` on this clock (a ``Client``'s sleep)."""
        self._sleep(seconds, None)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep ``seconds`` on this clock, or until ``event`` is set; whether it is (the sleep the
        client wakes early)."""
        self._sleep(seconds, event)
        return event.is_set()

    def _sleep(self, seconds: float, event: threading.Event | None) -> None:
        with self._cond:
            end = self._now + max(seconds, 0.0)
            if self.autojump:
                if event is None or not event.is_set():
                    self._now = max(self._now, end)
                    self._cond.notify_all()
                return
            self._sleeping += 1
            self._cond.notify_all()
            try:
                while self._now < end and (event is None or not event.is_set()):
                    self._cond.wait(None if event is None else _EVENT_POLL)
            finally:
                self._sleeping -= 1
                self._cond.notify_all()

    async def asleep(self, seconds: float) -> None:
        """Sleep ``seconds`` on this clock (an ``AsyncClient``'s sleep; cancellable, so an async wait
        is woken early as with a real sleep)."""
        import anyio
        import anyio.lowlevel

        with self._cond:
            end = self._now + max(seconds, 0.0)
            if self.autojump:
                self._now = max(self._now, end)
                self._cond.notify_all()
            else:
                self._sleeping += 1
                self._cond.notify_all()
        if self.autojump:
            await anyio.lowlevel.checkpoint()
            return
        try:
            # Polled: ``advance`` may come from any thread, and an anyio.Event is bound to one loop.
            while self._now < end:  # noqa: ASYNC110
                await anyio.sleep(_EVENT_POLL)
        finally:
            with self._cond:
                self._sleeping -= 1
                self._cond.notify_all()

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r}, autojump={self.autojump!r})"
