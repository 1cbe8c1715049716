"""``edit_many``: an error that is not the library's own, met by one item (a shared budget store that went
away for a moment), is that item's outcome; the loop goes on and every item gets one (issue 24, item 4)."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import httpx
import pytest

import kie_gpt_image as kie
from kie_gpt_image.emulator import Emulator, Schedule

CREATE = "/api/v1/jobs/createTask"


class StoreBlip(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The emulator, except that the createTask of the prompt "edit 2" meets a raw store error."""

    def __init__(self, emulator: Emulator) -> None:
        self._inner = emulator.transport  # the emulator's own in-process transport, taken once

    def _check(self, request: httpx.Request) -> None:
        if request.url.path == CREATE and json.loads(request.content)["input"]["prompt"] == "edit 2":
            raise sqlite3.OperationalError("disk I/O error")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._check(request)
        return self._inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._check(request)
        return await self._inner.handle_async_request(request)


def _requests() -> list[kie.EditRequest]:
    return [kie.EditRequest(["https://example.com/a.png"], f"edit {i}") for i in range(5)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_one_items_foreign_error_is_its_outcome_and_the_others_finish(mode: str) -> None:
    emulator = Emulator(schedule=Schedule.instant())
    transport = StoreBlip(emulator)
    emulator.transport = transport  # type: ignore[assignment]
    if mode == "sync":
        with emulator.client() as client:
            outcomes = list(client.edit_many(_requests(), concurrency=2))
    else:

        async def go() -> list[kie.ItemOutcome[kie.AsyncEditResult]]:
            async with emulator.async_client() as client:
                return [outcome async for outcome in client.edit_many(_requests(), concurrency=2)]

        outcomes = asyncio.run(go())  # type: ignore[arg-type]
    assert sorted(outcome.index for outcome in outcomes) == [0, 1, 2, 3, 4]
    failed = [outcome for outcome in outcomes if not outcome.ok]
    assert [outcome.index for outcome in failed] == [2]
    error = failed[0].error
    assert isinstance(error, kie.KieError)
    assert isinstance(error.__cause__, sqlite3.OperationalError)
    assert "disk I/O error" in str(error)
    assert all(outcome.result is not None and outcome.task_id for outcome in outcomes if outcome.ok)
