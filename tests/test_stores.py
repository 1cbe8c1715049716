"""The shared budget stores (``_stores``): a bad store is a typed error before anything is sent, a Redis
that forgot its scripts is recovered, a store URL's password never shows, and a store that fails once a
task exists never loses the task (issue 24 items 3, 5, 9, 12)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from pathlib import Path

import pytest

import kie_gpt_image as kie
from kie_gpt_image._scheduler import RateLimits, Scheduler
from kie_gpt_image.emulator import Emulator, Schedule

URL = "https://example.com/a.png"


def _emulator() -> Emulator:
    return Emulator(schedule=Schedule.instant())


# ------------------------------------------------------------------------------------ masking


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret-pw@redis.example:6379/0",
        "rediss://worker:s3cret-pw@redis.example:6380/1",
        "redis://redis.example:6379/0?password=s3cret-pw&socket_timeout=5",
    ],
)
def test_a_store_url_s_password_never_shows(url: str) -> None:
    limits = RateLimits.shared_redis(url)
    assert "s3cret-pw" not in repr(limits)
    assert "s3cret-pw" not in str(limits)
    assert "redis.example" in repr(limits)  # the rest still says which store it is
    assert limits.store == url  # the client still connects with it


def test_a_client_s_rate_limits_mask_the_password(redis_url: str) -> None:
    url = redis_url.replace("redis://", "redis://:s3cret-pw@")  # a server without auth ignores it
    with _emulator().client(rate_limits=RateLimits.shared_redis(url)) as client:
        assert "s3cret-pw" not in repr(client.rate_limits)


# ------------------------------------------------------------------------------------ bad stores


def _no_database(tmp_path: Path) -> str:
    path = tmp_path / "budget.db"
    path.write_bytes(b"this is not a database\n" * 100)
    return f"sqlite:///{path}"


def _read_only(tmp_path: Path) -> str:
    # /proc is read-only even for root, which ignores file modes (Linux; the tests run there).
    return "sqlite:////proc/kie-budget.db"


def _unreachable(tmp_path: Path) -> str:
    import socket

    with socket.socket() as probe:  # a free port: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://:pw@127.0.0.1:{port}/0"


@pytest.mark.parametrize("store", [_no_database, _read_only, _unreachable])
def test_a_store_that_cannot_be_opened_is_a_typed_error_before_anything_is_sent(
    store: object, tmp_path: Path
) -> None:
    if store is _read_only and not sys.platform.startswith("linux"):
        pytest.skip("needs Linux's read-only /proc")
    url = store(tmp_path)  # type: ignore[operator]
    emulator = _emulator()
    with (
        emulator.client(rate_limits=RateLimits(store=url)) as client,
        pytest.raises(kie.BudgetStoreError) as caught,
    ):
        client.edit([URL], "never sent")
    assert caught.value.store.split("@")[-1] == url.split("@")[-1]
    assert "the budget store" in str(caught.value)
    assert ":pw@" not in str(caught.value)
    assert caught.value.task_id is None
    assert emulator.create_times == []
    # Opened at once on demand (a CLI checking its --rate-store before it starts):
    with pytest.raises(kie.BudgetStoreError):
        Scheduler(RateLimits(store=url), "key").open()


def _edit_once(mode: str, emulator: Emulator, url: str, image: bytes) -> None:
    if mode == "sync":
        with emulator.client(rate_limits=RateLimits(store=url)) as client:
            client.edit([image], "never sent")
        return

    async def edit() -> None:
        async with emulator.async_client(rate_limits=RateLimits(store=url)) as client:
            await client.edit([image], "never sent")

    asyncio.run(edit())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_broken_store_fails_before_the_first_upload(mode: str, tmp_path: Path) -> None:
    url = _no_database(tmp_path)
    emulator = _emulator()
    image = (Path(__file__).parent.parent / "examples" / "samples" / "person.png").read_bytes()
    with pytest.raises(kie.BudgetStoreError):
        _edit_once(mode, emulator, url, image)
    assert emulator.call_count("upload-file-stream") == 0  # nothing sent, not even a free upload
    assert emulator.create_times == []


# ------------------------------------------------------------------------------------ Redis scripts


def test_a_redis_that_forgot_its_scripts_is_recovered(redis_url: str) -> None:
    # A Redis restart or SCRIPT FLUSH drops every loaded script; pyrate-limiter's bucket keeps the hash
    # of the script it loaded once, so every later call failed with NoScriptError.
    from redis import Redis

    limits = RateLimits.shared_redis(redis_url, creates_per_window=1000, polls_per_second=1000)
    scheduler = Scheduler(limits, "flush-account")
    admin = Redis.from_url(redis_url)
    try:
        for _ in range(2):
            for budget in ("create", "poll", "running"):
                ticket = scheduler.ticket(budget, 0.0)
                assert scheduler.take(ticket) == 0.0
                assert ticket.error is None
                scheduler.replied(ticket)
            admin.script_flush()
    finally:
        admin.close()
        scheduler.close()


def test_a_shared_redis_client_edits_again_after_a_script_flush(redis_url: str) -> None:
    from redis import Redis

    emulator = _emulator()
    with emulator.client(rate_limits=RateLimits.shared_redis(redis_url)) as client:
        client.edit([URL], "before")
        Redis.from_url(redis_url).script_flush()
        assert client.edit([URL], "after").task_id


# ------------------------------------------------------------------------------------ failures once paid


def _drop_table(store: str, suffix: str) -> str:
    """Drop the SQLite store's table of ``suffix`` (``running``, ``poll``) as a broken store would;
    the name it had."""
    with sqlite3.connect(store.removeprefix("sqlite:///")) as conn:
        (table,) = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name.endswith("_" + suffix)
        ]
        conn.execute(f"ALTER TABLE {table} RENAME TO broken_{suffix}")
    return str(table)


def _restore_table(store: str, suffix: str, table: str) -> None:
    with sqlite3.connect(store.removeprefix("sqlite:///")) as conn:
        conn.execute(f"ALTER TABLE broken_{suffix} RENAME TO {table}")


def test_a_store_failing_after_the_task_finished_keeps_the_result(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The issue: the SQLite file broken during the wait made edit raise a bare sqlite3 error with no
    # task id, though the task had succeeded.
    store = f"sqlite:///{tmp_path / 'budget.db'}"
    with _emulator().client(rate_limits=RateLimits(store=store)) as client:
        task = client.edit([URL], "paid", wait=False)
        _drop_table(store, "running")  # freeing the task's running entry will fail
        with caplog.at_level(logging.WARNING, logger="kie_gpt_image"):
            result = client.wait(task.task_id)
    assert result.task_id == task.task_id
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(task.task_id in w and "budget.db" in w for w in warnings), warnings


def test_a_store_blip_during_a_wait_is_ridden_out(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'budget.db'}"
    broken: list[str] = []

    def sleep(seconds: float) -> None:  # the first sleep of the wait: the store comes back
        if broken:
            _restore_table(store, "poll", broken.pop())

    with _emulator().client(rate_limits=RateLimits(store=store), sleep=sleep) as client:
        task = client.edit([URL], "paid", wait=False)
        client._driver.scheduler.open()  # the poll budget's table exists from here (opened on first use)
        broken.append(_drop_table(store, "poll"))  # no poll slot can be granted for now
        assert client.wait(task.task_id).task_id == task.task_id
    assert not broken


def test_a_store_that_stays_broken_ends_the_wait_with_the_task_id(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'budget.db'}"
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    options = {"sleep": sleep, "clock": lambda: clock[0]}
    with _emulator().client(rate_limits=RateLimits(store=store), **options) as client:
        task = client.edit([URL], "paid", wait=False)
        client._driver.scheduler.open()
        _drop_table(store, "poll")
        with pytest.raises(kie.KieError) as caught:
            client.wait(task.task_id, timeout=30)
    assert caught.value.task_id == task.task_id
    assert isinstance(caught.value, (kie.WaitTimeoutError, kie.BudgetStoreError))
    assert "budget.db" in str(caught.value) + str(caught.value.__cause__)
