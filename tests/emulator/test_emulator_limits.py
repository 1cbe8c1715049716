"""kie.ai's three limits (reference §6) as the emulator enforces them, in-process and on loopback sockets;
the drawn task durations; the scaled clock; the counters a benchmark reads."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_support import FakeClock, check_recorded_exchanges, create_body

from kie_gpt_image.emulator import Emulator, LimitCounters, ScaledClock, Schedule

ROOT = Path(__file__).resolve().parents[2]
FrontEnd = Callable[..., tuple[Emulator, httpx.Client]]


@pytest.fixture(params=["in-process", "loopback"])
def front_end(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[FrontEnd]:
    """Build an emulator on the fake clock and a client reaching it in-process or over loopback sockets;
    every reply it gave is contract-checked at teardown."""
    built: list[tuple[Emulator, httpx.Client]] = []

    def build(**options: Any) -> tuple[Emulator, httpx.Client]:
        emu = Emulator(clock=clock, **options)
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        if request.param == "loopback":
            emu.serve(port=0)
            http = httpx.Client(headers=headers, timeout=10)
        else:
            http = httpx.Client(transport=emu.transport, headers=headers)
        built.append((emu, http))
        return emu, http

    yield build
    for emu, http in built:
        http.close()
        emu.close()
        check_recorded_exchanges(emu)


def _create(http: httpx.Client, emu: Emulator) -> httpx.Response:
    return http.post(f"{emu.base_url}/api/v1/jobs/createTask", json=create_body())


def _poll(http: httpx.Client, emu: Emulator, task_id: str) -> httpx.Response:
    return http.get(f"{emu.base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id})


def test_defaults_are_kies_documented_limits() -> None:
    emu = Emulator()
    assert (emu.rate_limit, emu.rate_window) == (20, 10.0)
    assert emu.max_running == 100
    assert (emu.poll_limit, emu.poll_window) == (10, 1.0)


def test_create_window_answers_429_and_counts_it(front_end: FrontEnd, clock: FakeClock) -> None:
    emu, http = front_end(schedule=Schedule.instant(), rate_limit=3, rate_window=10.0)
    assert [_create(http, emu).json()["code"] for _ in range(3)] == [200, 200, 200]
    refused = _create(http, emu)
    assert (refused.status_code, refused.json()) == (
        200,
        {"code": 429, "msg": "Rate limit exceeded: at most 3 new tasks per 10 seconds", "data": None},
    )
    assert len(emu.create_times) == 3  # not queued, not charged
    assert emu.credits == 1000 - 3 * 4
    clock.advance(10.001)
    assert _create(http, emu).json()["code"] == 200
    counters = emu.limit_counters
    assert (counters.create_rate_429s, counters.running_429s, counters.poll_429s) == (1, 0, 0)


def test_running_cap_answers_429_until_a_task_finishes(front_end: FrontEnd, clock: FakeClock) -> None:
    emu, http = front_end(schedule=Schedule(1.0, 1.0, 8.0), max_running=3, rate_limit=1000)
    ids = [_create(http, emu).json()["data"]["taskId"] for _ in range(3)]
    refused = _create(http, emu)
    assert refused.json() == {
        "code": 429,
        "msg": "Rate limit exceeded: at most 3 tasks running at once",
        "data": None,
    }
    assert emu.credits == 1000 - 3 * 4
    assert emu.limit_counters.running == 3
    clock.advance(9.99)
    assert _create(http, emu).json()["code"] == 429  # still generating
    clock.advance(0.02)  # all three are final now
    assert _poll(http, emu, ids[0]).json()["data"]["state"] == "success"
    assert [_create(http, emu).json()["code"] for _ in range(4)] == [200, 200, 200, 429]
    counters = emu.limit_counters
    assert (counters.running_429s, counters.create_rate_429s, counters.peak_running) == (3, 0, 3)


def test_poll_limit_answers_429_past_ten_per_second(front_end: FrontEnd, clock: FakeClock) -> None:
    emu, http = front_end(schedule=Schedule.instant())
    task_id = _create(http, emu).json()["data"]["taskId"]
    codes = [_poll(http, emu, task_id).json()["code"] for _ in range(12)]
    assert codes == [200] * 10 + [429, 429]
    refused = _poll(http, emu, task_id)
    assert refused.json() == {
        "code": 429,
        "msg": "Rate limit exceeded: at most 10 recordInfo requests per second",
        "data": None,
    }
    clock.advance(1.0)  # the window slid past the first ten
    assert _poll(http, emu, task_id).json()["code"] == 200
    counters = emu.limit_counters
    assert counters.poll_429s == 3
    assert counters.max_polls_per_second == 13


def test_a_429_takes_the_configured_error_shape(clock: FakeClock) -> None:
    emu = Emulator(clock=clock, schedule=Schedule.instant(), poll_limit=1, error_status="both")
    with httpx.Client(transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        task_id = _create(http, emu).json()["data"]["taskId"]
        assert _poll(http, emu, task_id).status_code == 200
        refused = _poll(http, emu, task_id)
    assert refused.status_code == 429
    assert refused.json()["code"] == 429


def test_limits_are_configurable_and_can_be_lifted(clock: FakeClock) -> None:
    emu = Emulator(
        clock=clock, schedule=Schedule(0, 0, 60), rate_limit=10**6, max_running=10**6, poll_limit=10**6
    )
    with httpx.Client(transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        ids = [_create(http, emu).json()["data"]["taskId"] for _ in range(150)]
        assert {_poll(http, emu, task_id).json()["code"] for task_id in ids} == {200}
    assert emu.limit_counters == LimitCounters(
        create_rate_429s=0,
        running_429s=0,
        poll_429s=0,
        running=150,
        peak_running=150,
        max_polls_per_second=150,
    )


def _cost_times(emu: Emulator, clock: FakeClock, count: int) -> list[float]:
    with httpx.Client(transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        ids = [_create(http, emu).json()["data"]["taskId"] for _ in range(count)]
        clock.advance(100)
        records = [_poll(http, emu, task_id).json()["data"] for task_id in ids]
    assert {record["state"] for record in records} == {"success"}
    return [record["costTime"] / 1000 for record in records]


def test_uniform_durations_are_drawn_per_task_and_seeded(clock: FakeClock) -> None:
    options: dict[str, Any] = {"schedule": Schedule.uniform(20, 90), "rate_limit": 100, "poll_limit": 100}
    first = _cost_times(Emulator(clock=clock, seed=7, **options), clock, 40)
    again = _cost_times(Emulator(clock=clock, seed=7, **options), clock, 40)
    other = _cost_times(Emulator(clock=clock, seed=8, **options), clock, 40)
    assert all(20 <= seconds <= 90 for seconds in first)
    assert len(set(first)) > 30  # drawn, not one fixed duration
    assert max(first) - min(first) > 35
    assert first == again
    assert first != other


def test_a_drawn_duration_moves_the_task_through_its_phases(clock: FakeClock) -> None:
    emu = Emulator(clock=clock, schedule=Schedule.uniform(50, 50))
    with httpx.Client(transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        task_id = _create(http, emu).json()["data"]["taskId"]
        created, states = clock.now, []
        # 5% waiting (2.5 s), 10% queuing (5 s), 85% generating (42.5 s) of the drawn 50 s.
        for at in (0.0, 2.4, 2.6, 7.4, 7.6, 49.9, 50.0):
            clock.now = created + at
            states.append(_poll(http, emu, task_id).json()["data"]["state"])
    expected = ["waiting", "waiting", "queuing", "queuing", "generating", "generating", "success"]
    assert states == expected


def test_the_default_schedule_stays_fixed_and_fast() -> None:
    assert Schedule().total == pytest.approx(2.0)
    assert Schedule().duration is None
    with pytest.raises(ValueError, match="low <= high"):
        Schedule.uniform(90, 20)


def test_scaled_clock_plays_real_durations_back_faster() -> None:
    clock = ScaledClock(scale=1000, start=0.0)
    emu = Emulator(clock=clock, schedule=Schedule.uniform(20, 30))
    started = time.monotonic()
    with httpx.Client(transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        task_id = _create(http, emu).json()["data"]["taskId"]
        while (record := _poll(http, emu, task_id).json()["data"])["state"] != "success":
            clock.sleep(2.0)  # 2 virtual seconds: 2 ms of real time
    assert time.monotonic() - started < 10  # 20-30 virtual seconds, not real ones
    assert 20 <= record["costTime"] / 1000 <= 30
    assert json.loads(record["resultJson"])["resultUrls"]
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(scale=0)


def test_the_readme_limits_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    (block,) = [block for block in blocks if "limit_counters" in block]
    shutil.copy(ROOT / "examples" / "samples" / "person.png", tmp_path / "photo.png")
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - the README's own example
    assert time.monotonic() - started < 30  # 20-90 virtual seconds at x100
    total_429s, peak_running, max_polls = map(int, capsys.readouterr().out.split())
    assert (total_429s, peak_running) == (0, 1)
    assert 1 <= max_polls <= 10
