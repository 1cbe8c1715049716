"""Many tasks on one client, and one account shared by several processes: the emulator enforces kie.ai's
three limits (20 new tasks per 10 s, 100 running, 10 polls per second) and counts every 429 it answers.

Virtual time: a ``ScaledClock`` plays the emulator's windows and task durations back faster, and the client
reads and sleeps the same virtual time, so the documented limits and poll schedule apply unchanged."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_kie import KEY, FakeKie, image_bytes

import kie_gpt_image as kie
from kie_gpt_image._flow import Flow, Gather, Sleep
from kie_gpt_image.emulator import DEFAULT_API_KEY, Emulator, Outcome, ScaledClock, Schedule

SCALE = 20.0
# The create window's margin covers the time a request takes to reach kie.ai; a scaled clock inflates that
# time SCALE times (1 ms of thread wake-up on a loaded machine is 20 virtual ms), so the margin scales too.
LIMITS = kie.RateLimits(margin=1.0)
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "samples" / "person.png"


def _emulator(clock: ScaledClock, **options: Any) -> Emulator:
    def outcome(body: Mapping[str, Any]) -> Outcome:
        if "fail" in body["input"]["prompt"]:
            return Outcome.fail("422", "refused by the model")
        return Outcome.success()

    options.setdefault("schedule", Schedule.uniform(4, 12))
    return Emulator(clock=clock, outcome=outcome, **options)


def _sync(emulator: Emulator, clock: ScaledClock, **options: Any) -> kie.Client:
    options.setdefault("rate_limits", LIMITS)
    return emulator.client(clock=clock.monotonic, sleep=clock.sleep, **options)


def _async(emulator: Emulator, clock: ScaledClock, **options: Any) -> kie.AsyncClient:
    options.setdefault("rate_limits", LIMITS)
    return emulator.async_client(clock=clock.monotonic, sleep=clock.asleep, **options)


def _requests(n: int) -> list[kie.EditRequest]:
    return [kie.EditRequest(["https://example.com/a.png"], f"edit {i}") for i in range(n)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_thirty_edits_at_once_all_succeed_within_the_create_window(mode: str) -> None:
    # The new user: 30 concurrent edit() calls met 10 RateLimitErrors. Now the 21st waits for
    # the create window to reopen, and kie.ai never answers 429.
    clock = ScaledClock(SCALE)
    emulator = _emulator(clock)
    if mode == "sync":
        with _sync(emulator, clock) as client:
            outcomes = list(client.edit_many(_requests(30), concurrency=30))
    else:

        async def run() -> list[kie.ItemOutcome[kie.AsyncEditResult]]:
            async with _async(emulator, clock) as client:
                return [item async for item in client.edit_many(_requests(30), concurrency=30)]

        outcomes = asyncio.run(run())
    assert [o.error for o in outcomes] == [None] * 30
    assert sorted(o.index for o in outcomes) == list(range(30))
    assert all(o.task_id and o.result is not None and o.result.task_id == o.task_id for o in outcomes)
    counters = emulator.limit_counters
    assert counters.total_429s == 0
    assert counters.max_polls_per_second <= 10  # kie.ai's limit (the client aims at 8 per 1.25 s)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_each_failure_comes_back_with_its_item_and_the_rest_go_on(mode: str, tmp_path: Path) -> None:
    clock = ScaledClock(SCALE)
    emulator = _emulator(clock, schedule=Schedule.uniform(1, 3))
    requests: list[Any] = [
        kie.EditRequest(["https://example.com/a.png"], "a good edit"),
        kie.EditRequest([tmp_path / "missing.png"], "an input that is not there"),
        {"images": ["https://example.com/b.png"], "prompt": "please fail"},
        {"prompt": "no images"},
        kie.EditRequest(["https://example.com/c.png"], "another good edit", quality="high"),
    ]
    if mode == "sync":
        with _sync(emulator, clock) as client:
            outcomes = list(client.edit_many(requests, concurrency=2))
    else:

        async def run() -> list[kie.ItemOutcome[kie.AsyncEditResult]]:
            async with _async(emulator, clock) as client:
                return [item async for item in client.edit_many(requests, concurrency=2)]

        outcomes = asyncio.run(run())
    by_index = {o.index: o for o in outcomes}
    assert sorted(by_index) == [0, 1, 2, 3, 4]
    assert all(by_index[i].request is requests[i] for i in by_index)
    assert by_index[0].ok
    assert by_index[4].ok
    assert isinstance(by_index[1].error, kie.InvalidInputError)
    assert by_index[1].task_id is None
    failed = by_index[2].error
    assert isinstance(failed, kie.TaskFailedError)
    assert by_index[2].task_id == failed.task_id
    assert failed.task_id is not None
    assert isinstance(by_index[3].error, kie.InvalidInputError)
    assert emulator.call_count("gpt-image-1-5-image-to-image") == 3  # bad inputs never reach createTask


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_wait_many_shares_one_poll_budget(mode: str) -> None:
    # The issue measured 60 concurrent waits sending up to 60 polls in one second. One client now
    # keeps every wait within its 8 polls per second, in the order they fall due.
    clock = ScaledClock(SCALE)
    emulator = _emulator(clock)
    with _sync(emulator, clock) as creator:
        ids = [creator.create_task(["https://example.com/a.png"], f"t{i}").task_id for i in range(40)]
    if mode == "sync":
        with _sync(emulator, clock) as client:
            outcomes = list(client.wait_many(ids))
    else:

        async def run() -> list[kie.ItemOutcome[kie.AsyncEditResult]]:
            async with _async(emulator, clock) as client:
                return [item async for item in client.wait_many(ids)]

        outcomes = asyncio.run(run())
    assert sorted(o.request for o in outcomes) == sorted(ids)
    assert all(o.ok and o.task_id == o.request for o in outcomes)
    counters = emulator.limit_counters
    assert counters.poll_429s == 0
    assert counters.max_polls_per_second <= 10  # kie.ai's limit (the client aims at 8 per 1.25 s)


def test_leaving_the_loop_early_stops_the_threads() -> None:
    clock = ScaledClock(SCALE)
    emulator = _emulator(clock, schedule=Schedule(0.0, 0.0, 10_000.0))
    requests = [kie.EditRequest([SAMPLE], "broken", quality="not-a-quality"), *_requests(4)]
    with emulator.client() as client:  # real time: a poll every 2 s
        items = client.edit_many(requests, concurrency=5)
        first = next(items)
        assert isinstance(first.error, kie.InvalidInputError)
        time.sleep(0.3)  # the four tasks are created and waiting
        started = time.monotonic()
        items.close()  # type: ignore[attr-defined]
        assert time.monotonic() - started < 1.5
    assert not [t for t in threading.enumerate() if t.name.startswith("kie-many")]


def test_concurrency_must_be_a_positive_whole_number() -> None:
    with Emulator() as emulator, emulator.client() as client:
        with pytest.raises(kie.InvalidInputError, match="concurrency"):
            client.edit_many(_requests(1), concurrency=0)
        with pytest.raises(kie.InvalidInputError, match="wait"):
            kie.EditRequest(["https://example.com/a.png"], "p", wait=False)


# ---------------------------------------------------------------------------- concurrent uploads


class _SlowUploads:
    """The scripted kie.ai whose uploads each wait until ``together`` of them are in flight at once (so
    the test proves they overlap, however slowly threads start on a loaded machine); records the peak."""

    def __init__(self, together: int = 16) -> None:
        self.fake = FakeKie()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.together = together
        self.all_in = threading.Event()

    def _enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            if self.in_flight >= self.together:
                self.all_in.set()

    def _leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def handler(self, request: httpx.Request) -> httpx.Response:
        if "upload" in request.url.path:
            self._enter()
            self.all_in.wait(10)  # a serial upload path never gets here with the others: peak stays 1
            self._leave()
        return self.fake.handler(request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        if "upload" in request.url.path:
            self._enter()
            for _ in range(1000):  # up to 10 s, on the event loop's own clock
                if self.all_in.is_set():
                    break
                await asyncio.sleep(0.01)
            self._leave()
        return self.fake.handler(request)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_images_of_one_edit_upload_concurrently(mode: str) -> None:
    server = _SlowUploads()
    images = [image_bytes("PNG", (4 + i, 4)) for i in range(16)]
    options: dict[str, Any] = {"api_key": KEY, "sleep": lambda s: None}
    if mode == "sync":
        with kie.Client(transport=httpx.MockTransport(server.handler), **options) as client:
            client.create_task(images, "p")
    else:

        async def run() -> None:
            async def no_sleep(seconds: float) -> None:
                return None

            transport = httpx.MockTransport(server.async_handler)
            async with kie.AsyncClient(transport=transport, **{**options, "sleep": no_sleep}) as client:
                await client.create_task(images, "p")

        asyncio.run(run())
    assert server.peak == 16  # all at once (kie.ai takes at most 16 images per edit)
    assert len(server.fake.calls("upload-stream")) == 16
    assert len(server.fake.calls("create")) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failed_upload_among_many_fails_the_edit_before_create(mode: str) -> None:
    fake = FakeKie()
    fake.script("upload-stream", httpx.Response(401, json={"code": 401, "msg": "bad key"}))
    images = [image_bytes("PNG", (4 + i, 4)) for i in range(3)]
    if mode == "sync":
        with kie.Client(api_key=KEY, transport=httpx.MockTransport(fake.handler)) as client:
            with pytest.raises(kie.AuthenticationError):
                client.create_task(images, "p")
    else:

        async def run() -> None:
            async with kie.AsyncClient(api_key=KEY, transport=httpx.MockTransport(fake.handler)) as c:
                await c.create_task(images, "p")

        with pytest.raises(kie.AuthenticationError):
            asyncio.run(run())
    assert fake.calls("create") == []


# ---------------------------------------------------------------------------- shared budgets


def _worker(store: str, urls: tuple[str, str], count: int, done: Any) -> None:
    limits = kie.RateLimits(creates_per_window=5, create_window=1.0, margin=0.1, store=store)
    with kie.Client(
        api_key=DEFAULT_API_KEY,
        base_url=urls[0],
        upload_base_url=urls[1],
        rate_limits=limits,
    ) as client:
        for i in range(count):
            client.create_task(["https://example.com/a.png"], f"p{i}")
    done.put(count)


def _three_processes(store: str) -> None:
    emulator = Emulator(rate_limit=5, rate_window=1.0, schedule=Schedule(0.0, 0.0, 60.0))
    with emulator.serve() as server:
        urls = (server.base_url, server.upload_base_url)
        context = multiprocessing.get_context("spawn")
        done = context.Queue()
        started = time.monotonic()
        workers = [context.Process(target=_worker, args=(store, urls, 6, done)) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
            assert worker.exitcode == 0
        elapsed = time.monotonic() - started
        assert sum(done.get(timeout=5) for _ in range(3)) == 18
        counters = emulator.limit_counters
    # 18 creates, 5 per second from three processes together: kie.ai never had to refuse one
    assert emulator.call_count("gpt-image-1-5-image-to-image") == 18
    assert counters.create_rate_429s == 0
    assert elapsed >= 3.0  # they did share one window: alone each would need about one


def test_three_processes_share_one_sqlite_budget(tmp_path: Path) -> None:
    _three_processes(f"sqlite:///{tmp_path / 'budget.db'}")


def test_three_processes_share_one_redis_budget(redis_url: str) -> None:
    _three_processes(redis_url)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_drivers_run_gathered_flows_at_most_limit_at_once(mode: str) -> None:
    # Gather's bound, driven by each client: six sub-flows that sleep, at most two at once, values in
    # order and a failure handed back in its place.
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def enter() -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])

    def leave() -> None:
        with lock:
            state["now"] -= 1

    def sleep(seconds: float) -> None:
        enter()
        time.sleep(0.02)
        leave()

    async def asleep(seconds: float) -> None:
        enter()
        await asyncio.sleep(0.02)
        leave()

    def sub(n: int) -> Flow[int]:
        yield Sleep(1.0)
        if n == 4:
            raise kie.InvalidInputError("n", "four")
        return n

    def parent() -> Flow[list[object]]:
        values = yield Gather(tuple(sub(n) for n in range(6)), 2)
        return list(values)

    if mode == "sync":
        with kie.Client(api_key=KEY, sleep=sleep) as client:
            values = client._run(parent())
    else:

        async def run() -> list[object]:
            async with kie.AsyncClient(api_key=KEY, sleep=asleep) as client:
                return await client._run(parent())

        values = asyncio.run(run())
    assert state["peak"] == 2
    assert values[:4] == [0, 1, 2, 3]
    assert isinstance(values[4], kie.InvalidInputError)
    assert values[5] == 5
