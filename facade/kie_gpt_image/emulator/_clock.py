"""A scaled clock: real gpt-image durations (tens of seconds) played back many times faster.

The emulator's limits and task schedule read its ``clock``; a client driven against it reads the same
virtual time through ``monotonic``/``time`` and sleeps through ``sleep``, which sleeps ``1/scale`` of what
it is asked. Everything then sees unscaled (virtual) seconds, so kie.ai's documented limits and poll
schedule apply unchanged (scripts/bench.py scales its polling benchmark the same way).
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["ScaledClock"]


class ScaledClock:
    """Virtual time running ``scale`` times faster than real time, starting at ``start`` (default: now).

    Calling it returns virtual seconds since the epoch (pass it as ``Emulator(clock=...)``).

    Args:
        scale: How many virtual seconds pass per real second (``> 0``).
        start: The virtual epoch time at creation (default: ``time.time()``).

    Raises:
        ValueError: ``scale`` is not a positive number.
    """

    def __init__(self, scale: float = 1.0, start: float | None = None) -> None:
        if not scale > 0:
            raise ValueError(f"scale must be a positive number, got {scale!r}")
        self.scale = float(scale)
        """Virtual seconds per real second."""
        self._origin = time.monotonic()
        self._start = time.time() if start is None else float(start)

    def __call__(self) -> float:
        """Virtual seconds since the epoch."""
        return self._start + (time.monotonic() - self._origin) * self.scale

    def monotonic(self) -> float:
        """Virtual monotonic seconds (for a client's ``monotonic=``-style option)."""
        return self()

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of virtual time (``seconds / scale`` of real time)."""
        if seconds > 0:
            time.sleep(seconds / self.scale)

    async def asleep(self, seconds: float) -> None:
        """Async ``sleep``: ``seconds`` of virtual time, awaited."""
        if seconds > 0:
            await asyncio.sleep(seconds / self.scale)
