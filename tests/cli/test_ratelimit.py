"""The pure sliding-window limiter: decisions as a function of the time given, no clock of its own."""

from __future__ import annotations

import asyncio

import pytest

from kie_gpt_image._cli._ratelimit import RateGate, SlidingWindowLimiter


def test_allows_limit_then_waits_for_the_oldest_stamp_to_leave_the_window() -> None:
    limiter = SlidingWindowLimiter(2, 10.0)
    first = limiter.take(0.0)
    limiter.take(0.0)
    # Both in flight: only a release can free a slot.
    assert limiter.delay(1.0) is None
    limiter.release(first, 3.0)  # the reply came back at t=3: that is the bound on its arrival
    assert limiter.delay(4.0) == pytest.approx(9.0)
    assert limiter.delay(13.0) == 0.0  # the server forgets it once now - window >= t


def test_a_slot_is_counted_from_the_reply_not_from_the_send() -> None:
    limiter = SlidingWindowLimiter(1, 10.0)
    token = limiter.take(0.0)
    limiter.release(token, 5.0)
    assert limiter.delay(10.0) == pytest.approx(5.0)
    assert limiter.delay(15.0) == 0.0


def test_out_of_order_releases_keep_the_earliest_expiry_first() -> None:
    limiter = SlidingWindowLimiter(2, 10.0)
    a, b = limiter.take(0.0), limiter.take(0.0)
    limiter.release(a, 4.0)
    limiter.release(b, 2.0)
    assert limiter.delay(5.0) == pytest.approx(7.0)


def test_take_without_a_free_slot_is_a_bug() -> None:
    limiter = SlidingWindowLimiter(1, 1.0)
    limiter.take(0.0)
    with pytest.raises(RuntimeError):
        limiter.take(0.0)


@pytest.mark.parametrize(("limit", "window"), [(0, 1.0), (1, 0.0)])
def test_rejects_nonsense_settings(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        SlidingWindowLimiter(limit, window)


def test_gate_sleeps_exactly_as_long_as_the_limiter_says() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def scenario() -> list[float]:
        gate = RateGate(SlidingWindowLimiter(2, 10.0), clock=lambda: now[0], sleep=sleep)
        starts = []
        for _ in range(5):
            token = await gate.acquire()
            starts.append(now[0])
            now[0] += 1.0  # the request takes a second
            gate.release(token)
        return starts

    assert asyncio.run(scenario()) == [0.0, 1.0, 11.0, 12.0, 22.0]
    assert slept == [9.0, 9.0]


def test_gate_waits_for_a_release_when_every_slot_is_in_flight() -> None:
    async def scenario() -> list[str]:
        gate = RateGate(SlidingWindowLimiter(1, 0.001))
        order: list[str] = []
        token = await gate.acquire()

        async def second() -> None:
            await gate.acquire()
            order.append("second acquired")

        waiter = asyncio.ensure_future(second())
        await asyncio.sleep(0.01)
        order.append("released")
        gate.release(token)
        await waiter
        return order

    assert asyncio.run(scenario()) == ["released", "second acquired"]
