"""A createTask kie.ai refuses with 429 at every attempt (issue 24 item 1): the create step ends at its own
deadline (``create_timeout``, ``create_task(timeout=)``), not the wait's 15 minutes; ``max_retries=0``
resends nothing; a refusal lasting seconds is a warning and an ``on_progress`` record; the final error
says how long and how often it tried. And a request refused by this client's own budget is not worded as
kie.ai's 429 (item 12). All on a ``FakeClock``: no test waits."""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import kie_gpt_image as kie
from kie_gpt_image._settings import DEFAULT_CREATE_TIMEOUT
from kie_gpt_image.emulator import Emulator, Fault, Schedule
from kie_gpt_image.testing import FakeClock

CREATE = "gpt-image-1-5-image-to-image"
URL = "https://example.com/a.png"
HALF = lambda: 0.5  # noqa: E731 - the jitter's middle: a fixed resend schedule


def _refusing() -> Emulator:
    emulator = Emulator(clock=FakeClock().time)
    emulator.faults.on(CREATE, None, Fault.body_code(429))
    return emulator


def _run(mode: str, emulator: Emulator, call: Callable[[Any], Any], **options: Any) -> Any:
    """``call(client)`` on a sync or an async client of ``emulator`` (awaited when async)."""
    options.setdefault("rand", HALF)
    if mode == "sync":
        with emulator.client(**options) as client:
            return call(client)

    async def main() -> Any:
        async with emulator.async_client(**options) as client:
            return await call(client)

    return asyncio.run(main())


def _tried(error: BaseException) -> tuple[int, float]:
    found = re.search(r"refused createTask (\d+) times over ([\d.]+) s", str(error))
    assert found, str(error)
    return int(found[1]), float(found[2])


def test_a_refused_create_ends_at_the_create_deadline_saying_how_long_and_how_often(mode: str) -> None:
    clock = FakeClock()
    with _refusing() as emulator:
        with pytest.warns(kie.CreateRefusedWarning, match="refused createTask") as caught:
            with pytest.raises(kie.RateLimitError) as raised:
                _run(mode, emulator, lambda c: c.create_task([URL], "edit"), clock=clock)
        times, seconds = _tried(raised.value)
        assert times == emulator.call_count(CREATE)
        assert 50 <= seconds <= DEFAULT_CREATE_TIMEOUT  # a minute, not the wait's 15
        assert 50 <= clock() <= DEFAULT_CREATE_TIMEOUT + 1
        assert "create_timeout" in str(raised.value)
    assert len([w for w in caught if issubclass(w.category, kie.CreateRefusedWarning)]) == 1


def test_create_task_timeout_and_create_timeout_bound_the_create_step(mode: str) -> None:
    clock = FakeClock()
    with _refusing() as emulator, warnings.catch_warnings():
        warnings.simplefilter("ignore", kie.CreateRefusedWarning)
        with pytest.raises(kie.RateLimitError, match="after 12 s"):
            _run(mode, emulator, lambda c: c.create_task([URL], "edit", timeout=12), clock=clock)
        assert 8 <= clock() <= 12
        started = clock()
        with pytest.raises(kie.RateLimitError, match="after 20 s"):
            _run(mode, emulator, lambda c: c.generate("draw", wait=False), clock=clock, create_timeout=20)
        assert 15 <= clock() - started <= 20


def test_max_retries_0_resends_nothing_not_even_a_429(mode: str) -> None:
    clock = FakeClock()
    with _refusing() as emulator, warnings.catch_warnings():
        warnings.simplefilter("error", kie.CreateRefusedWarning)
        with pytest.raises(kie.RateLimitError, match=r"once .*max_retries=0") as raised:
            _run(mode, emulator, lambda c: c.edit([URL], "edit"), clock=clock, max_retries=0)
        assert emulator.call_count(CREATE) == 1
        assert raised.value.code == 429


def test_a_long_refusal_reaches_on_progress_before_the_error(mode: str) -> None:
    clock = FakeClock()
    seen: list[kie.TaskInfo] = []
    with _refusing() as emulator, pytest.warns(kie.CreateRefusedWarning):
        with pytest.raises(kie.RateLimitError):
            _run(mode, emulator, lambda c: c.edit([URL], "edit", on_progress=seen.append), clock=clock)
    assert len(seen) == 1
    (record,) = seen
    assert record.task_id == ""  # no task exists: kie.ai accepted nothing
    assert isinstance(record.poll_error, kie.RateLimitError)
    assert record.model == "gpt-image/1.5-image-to-image"


def test_a_refusal_that_clears_within_seconds_is_not_reported(mode: str) -> None:
    clock = FakeClock()
    with Emulator(clock=clock.time) as emulator, warnings.catch_warnings():
        warnings.simplefilter("error", kie.CreateRefusedWarning)
        emulator.faults.on(CREATE, [1, 2, 3], Fault.body_code(429))  # about 1.75 s of refusals
        task = _run(mode, emulator, lambda c: c.create_task([URL], "edit"), clock=clock)
        assert task.task_id
        assert emulator.call_count(CREATE) == 4


def test_this_clients_own_budget_is_not_worded_as_kie_ais_429(mode: str) -> None:
    clock = FakeClock()
    limits = kie.RateLimits(max_running=1)
    with Emulator(clock=clock.time, schedule=Schedule(0.0, 0.0, 3600.0)) as emulator:

        def two(client: Any) -> Any:
            if mode == "sync":
                client.create_task([URL], "first")
                return client.create_task([URL], "second", timeout=5)

            async def both() -> Any:
                await client.create_task([URL], "first")
                return await client.create_task([URL], "second", timeout=5)

            return both()

        with pytest.raises(kie.RateLimitError) as raised:
            _run(mode, emulator, two, clock=clock, rate_limits=limits)
    message = str(raised.value)
    assert "kie.ai code 429" not in message
    assert "this client's own running-task cap" in message
    assert emulator.call_count(CREATE) == 1  # the second was never sent
