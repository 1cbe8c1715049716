"""``edit_many(max_credits=)``: spent + reserved never passes the budget or the balance (issue 27, item 1),
measured against the emulator's task cost and starting balance."""

from __future__ import annotations

import asyncio

import pytest

import kie_gpt_image as kie
from kie_gpt_image._spend import NotStartedError, SpendGuard
from kie_gpt_image.emulator import Emulator, Schedule

CREATE = "gpt-image-1-5-image-to-image"


def _requests(n: int) -> list[kie.EditRequest]:
    return [kie.EditRequest(["https://example.com/a.png"], f"edit {i}") for i in range(n)]


def _run(mode: str, emulator: Emulator, n: int, max_credits: float) -> list[kie.ItemOutcome[object]]:
    if mode == "sync":
        with emulator.client() as client:
            return list(client.edit_many(_requests(n), concurrency=5, max_credits=max_credits))  # type: ignore[arg-type]

    async def go() -> list[kie.ItemOutcome[object]]:
        async with emulator.async_client() as client:
            return [o async for o in client.edit_many(_requests(n), concurrency=5, max_credits=max_credits)]  # type: ignore[misc]

    return asyncio.run(go())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_budget_stops_edits_before_they_could_pass_it(mode: str) -> None:
    emulator = Emulator(schedule=Schedule.instant(), task_cost=4, credits=1000)
    outcomes = _run(mode, emulator, 5, max_credits=10)
    assert len(outcomes) == 5
    done = [o for o in outcomes if o.ok]
    refused = [o for o in outcomes if not o.ok]
    # The first task runs alone (its cost unknown), then each reserves 4: 4 + 4 <= 10 < 4 + 4 + 4.
    assert len(done) == 2
    assert all(isinstance(o.error, NotStartedError) for o in refused)
    assert emulator.call_count(CREATE) == 2
    assert all(o.task_id is None for o in refused)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_balance_is_a_second_bound(mode: str) -> None:
    emulator = Emulator(schedule=Schedule.instant(), task_cost=4, credits=6)
    outcomes = _run(mode, emulator, 3, max_credits=100)
    assert sum(o.ok for o in outcomes) == 1
    assert emulator.call_count(CREATE) == 1


def test_spent_plus_reserved_never_passes_the_limit() -> None:
    guard = SpendGuard.of(10, costs={"m": 3})
    held = [guard.decide("m") for _ in range(4)]
    assert [type(h).__name__ for h in held] == ["Reservation", "Reservation", "Reservation", "bool"]
    assert guard.reserved == 9
    first = held[0]
    assert not isinstance(first, bool)
    guard.settle(first, 5)  # it really cost more: later tasks reserve 5
    assert (guard.spent, guard.reserved, guard.costs["m"]) == (5, 6, 5)
    assert guard.decide("m") is True  # 5 + 6 + 5 > 10: wait for a task in flight


def test_a_bad_budget_is_an_input_error() -> None:
    with emulator_client() as client, pytest.raises(kie.InvalidInputError, match="max_credits"):
        list(client.edit_many(_requests(1), max_credits=-1))


def emulator_client() -> kie.Client:
    return Emulator(schedule=Schedule.instant()).client()
