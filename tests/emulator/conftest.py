"""Fixtures for the emulator tests: a fake clock, an instant emulator whose every reply is checked against the
published spec, and a client on its transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from emulator_support import FakeClock, check_recorded_exchanges, make_client

from kie_gpt_image.emulator import Emulator, Schedule

CheckExchange = Callable[[httpx.Request, httpx.Response | None], None]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[Emulator]:
    """An instant-schedule emulator on the fake clock; every reply it gave is contract-checked at teardown."""
    with Emulator(schedule=Schedule.instant(), clock=clock) as emu:
        yield emu
    check_recorded_exchanges(emu)


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with make_client(emulator) as client:
        yield client


@pytest.fixture
def checked(check_exchange: CheckExchange) -> Callable[[httpx.Response], httpx.Response]:
    """Validate a reply (and its request) against the published spec; return it for chaining."""

    def check(response: httpx.Response) -> httpx.Response:
        check_exchange(response.request, response)
        return response

    return check
