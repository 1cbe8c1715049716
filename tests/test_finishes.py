"""Word of a finish reaches the waits on it: a callback's record (read by a receiver with the client, or by
any ``get_task``) ends them without another poll, and ``poll_now`` makes them poll at once, instead of
each sleeping until its next scheduled poll while the task holds a place under the running-task cap."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import kie_gpt_image as kie
from kie_gpt_image._finishes import FinishBoard
from kie_gpt_image.emulator import Emulator, Schedule

# Polls 60 s apart: a wait that ended within seconds was woken, not polled.
SLOW_POLLS = kie.PollPolicy(early_interval=60.0, middle_interval=60.0, late_interval=60.0)
TASK_SECONDS = 0.4


def _emulator() -> Emulator:
    return Emulator(schedule=Schedule(0.0, 0.0, TASK_SECONDS))


def _wait_in_thread(client: kie.Client, task_id: str) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(client.wait(task_id))
        except Exception as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_record_read_elsewhere_ends_a_sleeping_wait_without_another_poll() -> None:
    with _emulator() as emulator, emulator.client(poll_policy=SLOW_POLLS) as client:
        task = client.create_task(["https://example.com/a.png"], "edit")
        started = time.monotonic()
        thread, outcome = _wait_in_thread(client, task.task_id)
        time.sleep(TASK_SECONDS + 0.3)  # the wait polled once (running) and sleeps for 60 s
        info = client.get_task(task.task_id)  # what a receiver given this client does on a callback
        thread.join(timeout=5)
        assert info.state is kie.TaskState.SUCCESS
        assert isinstance(outcome[0], kie.EditResult)
        assert outcome[0].task_id == task.task_id
        assert time.monotonic() - started < 5
        assert emulator.call_count("get-task-details") == 2  # the wait's first poll and the read


def test_poll_now_makes_a_sleeping_wait_poll_at_once() -> None:
    with _emulator() as emulator, emulator.client(poll_policy=SLOW_POLLS) as client:
        task = client.create_task(["https://example.com/a.png"], "edit")
        thread, outcome = _wait_in_thread(client, task.task_id)
        time.sleep(TASK_SECONDS + 0.3)
        assert client.poll_now(task.task_id) == 1
        thread.join(timeout=5)
        assert isinstance(outcome[0], kie.EditResult)
        assert emulator.call_count("get-task-details") == 2  # the first poll, and the one it asked for


def test_poll_now_on_a_task_nobody_waits_on_changes_nothing() -> None:
    with _emulator() as emulator, emulator.client() as client:
        assert client.poll_now("task-nobody-waits-on") == 0
        with pytest.raises(kie.InvalidInputError, match="task_id"):
            client.poll_now("")


def test_a_nudge_before_the_task_finished_only_brings_the_next_poll_forward() -> None:
    with Emulator(schedule=Schedule(0.0, 0.0, 1.0)) as emulator:
        with emulator.client(poll_policy=SLOW_POLLS) as client:
            task = client.create_task(["https://example.com/a.png"], "edit")
            thread, outcome = _wait_in_thread(client, task.task_id)
            time.sleep(0.2)
            client.poll_now(task.task_id)  # too early: the poll finds it still running
            time.sleep(0.3)
            assert not outcome  # still waiting, for its next scheduled poll
            assert emulator.call_count("get-task-details") == 2
            client.poll_now(task.task_id)  # unblock the thread; the task may still be running
            time.sleep(1.0)
            client.poll_now(task.task_id)
            thread.join(timeout=5)
            assert isinstance(outcome[0], kie.EditResult)


@pytest.mark.parametrize("from_thread", [False, True], ids=["same-loop", "other-thread"])
def test_an_async_wait_is_woken_from_its_loop_or_another_thread(from_thread: bool) -> None:
    async def run() -> None:
        with _emulator() as emulator:
            async with emulator.async_client(poll_policy=SLOW_POLLS) as client:
                task = await client.create_task(["https://example.com/a.png"], "edit")
                waiting = asyncio.create_task(client.wait(task.task_id))
                await asyncio.sleep(TASK_SECONDS + 0.3)
                assert not waiting.done()
                if from_thread:  # a WSGI receiver's thread
                    assert await asyncio.to_thread(client.poll_now, task.task_id) == 1
                else:
                    await client.get_task(task.task_id)
                result = await asyncio.wait_for(waiting, 5)
                assert result.task_id == task.task_id
                assert emulator.call_count("get-task-details") == 2

    asyncio.run(run())


def test_a_posted_record_is_kept_only_while_someone_watches() -> None:
    board = FinishBoard()
    assert board.post("t1", "record") == 0
    watch = board.watch("t1")
    assert watch.record is None  # nothing was kept from before
    woken: list[bool] = []
    assert watch.arm(lambda: woken.append(True))
    assert board.post("t1", "record") == 1
    assert woken == [True]
    assert watch.record == "record"
    assert not watch.arm(lambda: woken.append(True))  # word is in: no sleep
    board.unwatch(watch)
    assert board.post("t1", "record") == 0


def test_a_wait_nudged_while_it_queues_for_the_poll_budget_goes_first() -> None:
    # One poll per second: four waits' first polls go out about 0, 1, 2 and 3 s after they start, in
    # the order they fell due. A nudge for the last one moves its poll to the front of the queue.
    limits = kie.RateLimits(polls_per_second=1, margin=0.0)
    with Emulator(schedule=Schedule(0.0, 0.0, 0.2)) as emulator:
        with emulator.client(poll_policy=SLOW_POLLS, rate_limits=limits) as client:
            tasks = [client.create_task(["https://example.com/a.png"], f"edit {i}") for i in range(4)]
            time.sleep(1.1)  # every task finished; no poll in the last second
            started = time.monotonic()
            waits = []
            for task in tasks:
                waits.append(_wait_in_thread(client, task.task_id))
                time.sleep(0.05)
            client.poll_now(tasks[-1].task_id)
            last_thread, last_outcome = waits[-1]
            last_thread.join(timeout=5)
            took = time.monotonic() - started
            for thread, _ in waits:
                thread.join(timeout=10)
            assert isinstance(last_outcome[0], kie.EditResult)
            assert took < 1.8  # granted the second slot (about 1 s), not the fourth (about 3 s)
            assert all(isinstance(outcome[0], kie.EditResult) for _, outcome in waits)
