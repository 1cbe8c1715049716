"""``batch``: each item's ``submitting`` mark goes out right before its own createTask (issue 24, item 6),
an item kie.ai only ever refused is ``pending`` again, and Ctrl-C during the resends of a 429'd
createTask ends the run at once (item 2)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from cli_support import Run, write_manifest

from kie_gpt_image._cli import ExitCode
from kie_gpt_image._cli._batch import BatchEvent
from kie_gpt_image.emulator import Emulator, Fault

CREATE = "gpt-image-1-5-image-to-image"


def _prompt(request: httpx.Request) -> str:
    return str(json.loads(request.content)["input"]["prompt"])


class Network(httpx.AsyncBaseTransport):
    """The emulator behind a network layer that, like httpcore, yields to the event loop before it
    writes a request, and reads the request body as it writes it."""

    def __init__(self, emulator: Emulator, log: list[tuple[str, str]]) -> None:
        self._inner = emulator.transport
        self.log = log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/createTask"):
            await asyncio.sleep(0)  # a connection pool's lock, a socket write
            async for _ in request.stream:  # type: ignore[union-attr]
                pass
            self.log.append(("send", _prompt(request)))
        return await self._inner.handle_async_request(request)


def test_each_mark_is_followed_by_its_own_createtask(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(
        tmp_path, [{"id": f"p{i}", "images": ["in.png"], "prompt": f"p{i}"} for i in range(12)]
    )
    log: list[tuple[str, str]] = []

    def on_event(event: BatchEvent) -> None:
        if event.state == "submitting":  # emitted right after the journal committed the mark
            log.append(("mark", event.item_id))

    result = run(
        "batch", str(manifest), "--no-download", "--concurrency", "12",
        on_batch_event=on_event, async_transport=Network(emulator, log),
    )  # fmt: skip
    assert result.code == ExitCode.OK, result.err
    assert len(log) == 24
    # Not twelve commits and then twelve requests: each commit, then that item's request.
    pairs = [(log[i], log[i + 1]) for i in range(0, len(log), 2)]
    assert [mark[0] for mark, _ in pairs] == ["mark"] * 12
    assert [send for _, send in pairs] == [("send", mark[1]) for mark, _ in pairs]


class FakeTime:
    """A clock the batch's sleeps move: kie.ai's windows pass without waiting for them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.on_sleep: Any = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.001)
        if self.on_sleep is not None:
            self.on_sleep()
        for _ in range(5):  # a sleep takes a few turns of the loop, as a real one does
            await asyncio.sleep(0)


def test_ctrl_c_during_429_resends_stops_at_once_and_the_item_is_pending(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    emulator.faults.on(CREATE, None, Fault.body_code(429))
    manifest = write_manifest(tmp_path, [{"id": "only", "images": ["in.png"], "prompt": "p"}])
    journal = tmp_path / "jobs.jsonl.journal.sqlite"
    time = FakeTime()
    between: list[str] = []

    def state() -> str:
        with sqlite3.connect(journal) as db:
            return str(db.execute("SELECT state FROM items WHERE item_id = 'only'").fetchone()[0])

    def after_sleep() -> None:
        if emulator.call_count(CREATE) >= 1:
            between.append(state())  # what a kill -9 between two attempts would leave
        if emulator.call_count(CREATE) == 3 and not interrupted:
            interrupted.append(time.now)
            signal.raise_signal(signal.SIGINT)  # exactly what Ctrl-C does

    interrupted: list[float] = []
    time.on_sleep = after_sleep
    result = run("batch", str(manifest), clock=time.clock, async_sleep=time.sleep)
    assert result.code == ExitCode.INTERRUPTED, result.err
    assert interrupted
    assert emulator.call_count(CREATE) == 3  # nothing resent after Ctrl-C
    assert time.now - interrupted[0] < 5  # within seconds (of the batch's own clock)
    assert between
    assert set(between) == {"pending"}
    assert state() == "pending"  # kie.ai refused every attempt: a re-run submits it again

    emulator.faults.clear()
    again = run("batch", str(manifest))
    assert again.code == ExitCode.OK, again.err
    assert "batch: 1 done, 0 failed, 0 unknown" in again.err
