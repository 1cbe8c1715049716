"""Word of a finish reaches the waits on it: a callback's record (read by a receiver with the client, or by
any ``get_task``) ends them without another poll, and ``poll_now`` makes them poll at once, instead of
each sleeping until its next scheduled poll while the task holds a place under the running-task cap.

On a ``FakeClock`` that moves only when the test says (``autojump=False``): a wait that ends before the
clock reaches its next poll was woken, not polled; no test waits on the wall clock."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import kie_gpt_image as kie
from kie_gpt_image._finishes import FinishBoard
from kie_gpt_image.emulator import Emulator, Schedule
from kie_gpt_image.testing import FakeClock

# Polls 60 s apart: a wait that ended within seconds was woken, not polled.
SLOW_POLLS = kie.PollPolicy(early_interval=60.0, middle_interval=60.0, late_interval=60.0)
TASK_SECONDS = 0.4


@contextmanager
def _setup(
    task_seconds: float = TASK_SECONDS, **options: object
) -> Iterator[tuple[Emulator, kie.Client, FakeClock]]:
    clock = FakeClock(autojump=False)
    with Emulator(clock=clock.time, schedule=Schedule(0.0, 0.0, task_seconds)) as emulator:
        with emulator.client(poll_policy=SLOW_POLLS, clock=clock, **options) as client:
            yield emulator, client, clock


def _asleep_after(emulator: Emulator, clock: FakeClock, polls: int, sleepers: int = 1) -> None:
    """Block (real time, briefly) until the client made ``polls`` polls and sleeps on the clock."""
    deadline = time.monotonic() + 10
    while emulator.call_count("get-task-details") < polls or clock.sleeping < sleepers:
        assert time.monotonic() < deadline, "the wait never got to its sleep"
        time.sleep(0.002)


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
    with _setup() as (emulator, client, clock):
        task = client.create_task(["https://example.com/a.png"], "edit")
        thread, outcome = _wait_in_thread(client, task.task_id)
        _asleep_after(emulator, clock, 1)  # the wait polled once (running) and sleeps for 60 s
        clock.advance(TASK_SECONDS)  # the task finishes
        info = client.get_task(task.task_id)  # what a receiver given this client does on a callback
        thread.join(timeout=5)
        assert info.state is kie.TaskState.SUCCESS
        assert isinstance(outcome[0], kie.EditResult)
        assert outcome[0].task_id == task.task_id
        assert clock() == TASK_SECONDS  # woken: the 60 s sleep never ran out
        assert emulator.call_count("get-task-details") == 2  # the wait's first poll and the read


def test_poll_now_makes_a_sleeping_wait_poll_at_once() -> None:
    with _setup() as (emulator, client, clock):
        task = client.create_task(["https://example.com/a.png"], "edit")
        thread, outcome = _wait_in_thread(client, task.task_id)
        _asleep_after(emulator, clock, 1)
        clock.advance(TASK_SECONDS)
        assert client.poll_now(task.task_id) == 1
        thread.join(timeout=5)
        assert isinstance(outcome[0], kie.EditResult)
        assert emulator.call_count("get-task-details") == 2  # the first poll, and the one it asked for


def test_poll_now_on_a_task_nobody_waits_on_changes_nothing() -> None:
    with _setup() as (_, client, _):
        assert client.poll_now("task-nobody-waits-on") == 0
        with pytest.raises(kie.InvalidInputError, match="task_id"):
            client.poll_now("")


def test_a_nudge_before_the_task_finished_only_brings_the_next_poll_forward() -> None:
    with _setup(task_seconds=1.0) as (emulator, client, clock):
        task = client.create_task(["https://example.com/a.png"], "edit")
        thread, outcome = _wait_in_thread(client, task.task_id)
        _asleep_after(emulator, clock, 1)
        clock.advance(0.2)
        client.poll_now(task.task_id)  # too early: the poll finds it still running
        _asleep_after(emulator, clock, 2)
        assert not outcome  # still waiting, for its next scheduled poll
        clock.advance(1.0)  # the task finished; the wait sleeps on (its next poll is 60 s away)
        time.sleep(0.02)
        assert not outcome
        assert emulator.call_count("get-task-details") == 2
        client.poll_now(task.task_id)
        thread.join(timeout=5)
        assert isinstance(outcome[0], kie.EditResult)
        assert emulator.call_count("get-task-details") == 3
        assert clock() == 1.2


@pytest.mark.parametrize("from_thread", [False, True], ids=["same-loop", "other-thread"])
def test_an_async_wait_is_woken_from_its_loop_or_another_thread(from_thread: bool) -> None:
    clock = FakeClock(autojump=False)

    async def run() -> None:
        with Emulator(clock=clock.time, schedule=Schedule(0.0, 0.0, TASK_SECONDS)) as emulator:
            async with emulator.async_client(poll_policy=SLOW_POLLS, clock=clock) as client:
                task = await client.create_task(["https://example.com/a.png"], "edit")
                waiting = asyncio.create_task(client.wait(task.task_id))
                await asyncio.to_thread(clock.wait_for_sleepers, 1)  # polled once, asleep for 60 s
                clock.advance(TASK_SECONDS)
                assert not waiting.done()
                if from_thread:  # a WSGI receiver's thread
                    assert await asyncio.to_thread(client.poll_now, task.task_id) == 1
                else:
                    await client.get_task(task.task_id)
                result = await asyncio.wait_for(waiting, 5)
                assert result.task_id == task.task_id
                assert emulator.call_count("get-task-details") == 2
                assert clock() == TASK_SECONDS

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
    with _setup(task_seconds=0.2, rate_limits=limits) as (emulator, client, clock):
        tasks = [client.create_task(["https://example.com/a.png"], f"edit {i}") for i in range(4)]
        clock.advance(1.1)  # every task finished; no poll in the last second
        started = clock()
        waits = []
        for index, task in enumerate(tasks):
            waits.append(_wait_in_thread(client, task.task_id))
            if index == 0:
                waits[0][0].join(timeout=5)  # granted at once: its task had finished
            else:
                _asleep_after(emulator, clock, 1, sleepers=index)  # queued for the poll budget
            clock.advance(0.05)
        client.poll_now(tasks[-1].task_id)
        time.sleep(0.02)  # woken, it queues again, now first
        _asleep_after(emulator, clock, 1, sleepers=3)
        clock.advance(0.9)  # the second slot opens (1 s after the first poll)
        last_thread, last_outcome = waits[-1]
        last_thread.join(timeout=5)
        took = clock() - started
        assert isinstance(last_outcome[0], kie.EditResult)
        assert took < 1.8  # granted the second slot (about 1 s), not the fourth (about 3 s)
        assert not waits[1][1]  # the others still queue
        assert not waits[2][1]
        for thread, _ in waits:  # the rest take the next slots, a second apart
            for _ in range(500):
                if not thread.is_alive():
                    break
                clock.advance(0.25)
                thread.join(timeout=0.005)
        assert all(isinstance(outcome[0], kie.EditResult) for _, outcome in waits), [o for _, o in waits]
