"""A call stopped after its task was created (asyncio cancellation, ``asyncio.wait_for``, Ctrl-C in the
sync client) carries the task id on the exception the caller holds, with how to resume (issue 24 item 8),
besides the log line; a createTask in flight when the call is stopped says a task may exist."""

from __future__ import annotations

import asyncio
import traceback

import httpx
import pytest

import kie_gpt_image as kie
from kie_gpt_image.emulator import Emulator, Schedule
from kie_gpt_image.testing import FakeClock

URL = "https://example.com/a.png"
HOUR = Schedule(0.0, 0.0, 3600.0)  # the task runs for an hour: only a stop ends the wait


def _notes(exc: BaseException) -> str:
    return "\n".join(getattr(exc, "__notes__", []))


def _only_task(seen: list[str]) -> str:
    """The task id ``on_progress`` was given (the wait's first poll)."""
    assert len(set(seen)) == 1, seen
    return seen[0]


def test_ctrl_c_while_waiting_names_the_task_on_the_keyboard_interrupt() -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt  # Ctrl-C during the wait's first sleep

    with Emulator(schedule=HOUR) as emulator, emulator.client(sleep=interrupted) as client:
        seen: list[str] = []
        with pytest.raises(KeyboardInterrupt) as raised:
            client.edit([URL], "edit", on_progress=lambda info: seen.append(info.task_id))
        task_id = _only_task(seen)
        assert f"client.wait({task_id!r})" in _notes(raised.value)
        assert task_id in "".join(traceback.format_exception(raised.value))


def test_ctrl_c_while_createtask_is_in_flight_says_a_task_may_exist() -> None:
    with Emulator() as emulator:

        class Interrupting(httpx.BaseTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                if request.url.path.endswith("/createTask"):
                    raise KeyboardInterrupt
                return emulator.transport.handle_request(request)

        client = kie.Client(
            emulator.api_key,
            base_url=emulator.base_url,
            upload_base_url=emulator.upload_base_url,
            transport=Interrupting(),
        )
        with client, pytest.raises(KeyboardInterrupt) as raised:
            client.edit([URL], "edit")
    assert "a task may have been created" in _notes(raised.value)


def test_a_cancelled_async_edit_carries_the_task_id() -> None:
    clock = FakeClock(autojump=False)

    async def run() -> None:
        with Emulator(clock=clock.time, schedule=HOUR) as emulator:
            async with emulator.async_client(clock=clock) as client:
                seen: list[str] = []
                editing = asyncio.create_task(
                    client.edit([URL], "edit", on_progress=lambda info: seen.append(info.task_id))
                )
                # Created, polled once, asleep until the next poll:
                await asyncio.to_thread(clock.wait_for_sleepers, 1)
                editing.cancel()
                with pytest.raises(asyncio.CancelledError) as raised:
                    await editing
                task_id = _only_task(seen)
                assert f"client.wait({task_id!r})" in _notes(raised.value)

    asyncio.run(run())


def test_asyncio_wait_for_shows_the_task_id_in_its_traceback() -> None:
    clock = FakeClock(autojump=False)

    async def run() -> None:
        with Emulator(clock=clock.time, schedule=HOUR) as emulator:
            async with emulator.async_client(clock=clock) as client:
                seen: list[str] = []
                editing = client.edit([URL], "edit", on_progress=lambda info: seen.append(info.task_id))
                with pytest.raises(TimeoutError) as raised:
                    await asyncio.wait_for(editing, 0.2)
                task_id = _only_task(seen)
                # wait_for raises its own TimeoutError from the cancellation, which carries the note.
                assert f"client.wait({task_id!r})" in _notes(raised.value.__cause__)  # type: ignore[arg-type]
                assert task_id in "".join(traceback.format_exception(raised.value))

    asyncio.run(run())


def test_a_cancelled_async_wait_names_its_task() -> None:
    clock = FakeClock(autojump=False)

    async def run() -> None:
        with Emulator(clock=clock.time, schedule=HOUR) as emulator:
            async with emulator.async_client(clock=clock) as client:
                task = await client.create_task([URL], "edit")
                waiting = asyncio.create_task(client.wait(task.task_id))
                await asyncio.to_thread(clock.wait_for_sleepers, 1)
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError) as raised:
                    await waiting
                assert f"client.wait({task.task_id!r})" in _notes(raised.value)

    asyncio.run(run())
