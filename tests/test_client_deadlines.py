"""When a call ends (request, wait and download deadlines), cancellation, a closed client, and the
escapes issue 10 and issue 11 found: each test reproduces the user's case on loopback or in-process."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_kie import FILES, KEY, Harness, envelope, record

import kie_gpt_image as kie
from kie_gpt_image.emulator import Emulator, EmulatorServer, Fault, Schedule

SLACK = 1.0  # a call ends within its deadline plus this
# The smallest complete PNG structure (signature, IEND chunk): inputs are checked up to IEND.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x00IEND\xaeB`\x82" + bytes(64)
TRICKLE = 0.05
CREDITS = "get-account-credits"
RECORD = "get-task-details"


@pytest.fixture(scope="module")
def served() -> Iterator[EmulatorServer]:
    emulator = Emulator(schedule=Schedule.instant(), rate_limit=10**6)
    with emulator, emulator.serve(port=0) as server:
        for host_server in server._servers.values():  # a client that gave up closes its socket: expected
            host_server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        yield server


def _options(server: EmulatorServer, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": server.emulator.api_key,
        "base_url": server.base_url,
        "upload_base_url": server.upload_base_url,
        **extra,
    }


@pytest.fixture
def faults(served: EmulatorServer) -> Iterator[Any]:
    yield served.emulator.faults
    served.emulator.faults.clear()


# ------------------------------------------------------------------------------------------ request deadline


def test_a_trickling_reply_ends_at_the_request_deadline_sync(served: EmulatorServer, faults: Any) -> None:
    # Issue 10: Client(timeout=2.0).get_task(...) on a host sending a byte every 0.3 s never ended.
    faults.on(CREDITS, None, Fault.trickle(TRICKLE))
    started = time.monotonic()
    with kie.Client(**_options(served, timeout=5.0, request_timeout=0.5, max_retries=0)) as client:
        with pytest.raises(kie.RequestTimeoutError):
            client.credits()
        elapsed = time.monotonic() - started
        faults.clear()
        # The half-read connection was discarded: the next call reads its own reply, not the rest.
        assert client.credits() > 0
    assert elapsed <= 0.5 + SLACK


@pytest.mark.anyio
async def test_a_trickling_reply_ends_at_the_request_deadline_async(
    served: EmulatorServer, faults: Any
) -> None:
    faults.on(CREDITS, None, Fault.trickle(TRICKLE))
    started = time.monotonic()
    async with kie.AsyncClient(**_options(served, timeout=5.0, request_timeout=0.5, max_retries=0)) as client:
        with pytest.raises(kie.RequestTimeoutError):
            await client.credits()
        elapsed = time.monotonic() - started
        faults.clear()
        assert await client.credits() > 0
    assert elapsed <= 0.5 + SLACK


def test_the_request_deadline_defaults_to_each_phase_once() -> None:
    client = kie.Client(api_key=KEY, timeout=httpx.Timeout(2.0, connect=1.0))
    assert client.deadlines.request == 5.0
    assert kie.Client(api_key=KEY).deadlines.request == 130.0
    with pytest.raises(kie.InvalidInputError, match="request_timeout"):
        kie.Client(api_key=KEY, request_timeout=0)


def test_a_wait_ends_within_its_deadline_while_every_poll_trickles(
    served: EmulatorServer, faults: Any
) -> None:
    # Issue 10: client.wait(task_id, timeout=5) on a trickling host was still blocked after 20 s.
    with kie.Client(**_options(served)) as client:
        task = client.create_task(["https://example.com/a.png"], "p")
        faults.on(RECORD, None, Fault.trickle(TRICKLE))
        started = time.monotonic()
        with pytest.raises(kie.WaitTimeoutError) as caught:
            client.wait(task.task_id, timeout=1.5)
    assert time.monotonic() - started <= 1.5 + SLACK
    assert caught.value.task_id == task.task_id
    assert isinstance(caught.value.__cause__, kie.RequestTimeoutError)


@pytest.mark.anyio
async def test_a_wait_ends_within_its_deadline_async(served: EmulatorServer, faults: Any) -> None:
    async with kie.AsyncClient(**_options(served)) as client:
        task = await client.create_task(["https://example.com/a.png"], "p")
        faults.on(RECORD, None, Fault.trickle(TRICKLE))
        started = time.monotonic()
        with pytest.raises(kie.WaitTimeoutError):
            await client.wait(task.task_id, timeout=1.5)
    assert time.monotonic() - started <= 1.5 + SLACK


def test_a_trickling_result_host_is_a_download_error(
    served: EmulatorServer, faults: Any, tmp_path: Path
) -> None:
    # Issue 10: result.save(dir) on a trickling host was still blocked after 20 s.
    with kie.Client(**_options(served, download_timeout=0.5, max_retries=0)) as client:
        result = client.edit(["https://example.com/a.png"], "p")
        faults.on("files", None, Fault.trickle(TRICKLE))
        started = time.monotonic()
        with pytest.raises(kie.DownloadError) as caught:
            result.save(tmp_path)
    assert time.monotonic() - started <= 0.5 + SLACK
    assert caught.value.task_id == result.task_id
    assert "stalled or was too slow" in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_the_download_deadline_lets_an_honest_50_mb_result_finish() -> None:
    deadlines = kie.Client(api_key=KEY).deadlines
    seconds = deadlines.download_budget(50 * 1024 * 1024)
    # 50 MB at 1 Mbit/s (125 kB/s) takes 420 s: within the budget; a trickle of 1 byte/s is not.
    assert 50 * 1024 * 1024 / 125_000 < seconds < 15 * 60
    assert kie.Client(api_key=KEY, download_timeout=30).deadlines.download_budget(10**9) == 30


def test_a_local_disk_error_is_its_own_error_and_is_not_retried(harness: Harness, tmp_path: Path) -> None:
    # Issue 10: download(info, "/proc/some-dir") slept, retried and advised client.wait(...).
    harness.fake.script("record", envelope(data=record("success")))
    result = harness("wait", "task_1")
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(kie.DestinationError) as caught:
        harness("download", result, blocker / "sub")  # a folder under a file cannot be created
    assert harness.sleeps == []
    assert len(harness.fake.calls("files")) == 1
    assert "resume" not in str(caught.value)
    assert caught.value.task_id == "task_1"


# ------------------------------------------------------------------------------------------ cancellation


@pytest.mark.anyio
@pytest.mark.parametrize("endpoint", ["upload-file-stream", "gpt-image-1-5-image-to-image", RECORD, "files"])
async def test_cancelling_a_call_at_any_step_leaves_the_client_usable(
    endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kie_gpt_image")
    with Emulator(schedule=Schedule.instant()) as emulator:
        async with emulator.async_client() as client:
            done = await client.edit(["https://example.com/a.png"], "p")
            emulator.faults.on(endpoint, None, Fault.trickle(TRICKLE))
            step = (lambda: done.save(tmp_path)) if endpoint == "files" else (lambda: client.edit([PNG], "p"))
            with pytest.raises(TimeoutError):  # the user's own deadline
                await asyncio.wait_for(step(), 0.3)
            emulator.faults.clear()
            assert os.listdir(tmp_path) == []  # no .part file
            assert await client.credits() > 0  # the client goes on
            result = await client.edit(["https://example.com/a.png"], "p")
            assert len(await result.bytes()) == 1
    messages = caplog.text
    if endpoint == "gpt-image-1-5-image-to-image":
        assert "createTask was interrupted after it was sent" in messages
    if endpoint == RECORD:
        created = [r.getMessage() for r in caplog.records if r.getMessage().startswith("created task ")]
        task_id = created[1].removeprefix("created task ")
        assert f"stopped waiting for task {task_id}" in messages


def test_a_download_interrupted_mid_body_leaves_no_part_file(tmp_path: Path) -> None:
    # Issue 11 item 7: Ctrl-C during a download left a .part file and an open handle.
    def body() -> Iterator[bytes]:
        yield b"\x89PNG\r\n\x1a\n" + bytes(100)
        raise KeyboardInterrupt

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    info = kie.TaskInfo("task_1", kie.TaskState.SUCCESS, result_urls=(f"{FILES}/r.png",))
    with kie.Client(api_key=KEY, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(KeyboardInterrupt):
            client.download(info, tmp_path)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------------------ closed client


def test_saving_after_the_with_block_says_the_client_is_closed_and_how_to_keep_it(harness: Harness) -> None:
    # Issue 11 item 5: the common mistake raised httpx's RuntimeError.
    result = harness("edit", ["https://example.com/a.png"], "p")
    harness.close()
    with pytest.raises(kie.ClientClosedError, match="inside the `with` block"):
        harness.run(result.save("out"))
    with pytest.raises(kie.ClientClosedError):
        harness.run(result.bytes())


def test_calls_after_close_raise_client_closed(harness: Harness) -> None:
    harness.close()
    with pytest.raises(kie.ClientClosedError):
        harness("credits")


def test_a_call_in_flight_when_close_runs_gets_client_closed(served: EmulatorServer, faults: Any) -> None:
    faults.on(CREDITS, None, Fault.trickle(TRICKLE))
    client = kie.Client(**_options(served, max_retries=0))
    closer = threading.Timer(0.3, client.close)
    closer.start()
    try:
        with pytest.raises(kie.ClientClosedError):
            client.credits()
    finally:
        closer.join()


@pytest.mark.anyio
async def test_a_call_in_flight_when_aclose_runs_gets_client_closed(
    served: EmulatorServer, faults: Any
) -> None:
    faults.on(CREDITS, None, Fault.trickle(TRICKLE))
    client = kie.AsyncClient(**_options(served, max_retries=0))

    async def close_soon() -> None:
        await asyncio.sleep(0.3)
        await client.aclose()

    closing = asyncio.create_task(close_soon())
    with pytest.raises(kie.ClientClosedError):
        await client.credits()
    await closing


# ------------------------------------------------------------------------------------------ issue 11 escapes


def test_a_task_id_that_cannot_be_sent_is_invalid_input(harness: Harness) -> None:
    # Issue 11 item 2 (the user's side): UnicodeEncodeError escaped from get_task and wait.
    for method in ("get_task", "wait"):
        with pytest.raises(kie.InvalidInputError, match="task_id"):
            harness(method, "task_\ud800")
    assert harness.fake.requests == []


def test_the_key_echoed_by_kie_is_masked_in_every_message(harness: Harness) -> None:
    # Issue 11 item 6: a 401 whose msg echoes the key showed it in str(exc).
    harness.fake.script("credit", envelope(401, None, msg=f"invalid Bearer {KEY}"))
    with pytest.raises(kie.AuthenticationError) as caught:
        harness("credits")
    error = caught.value
    for text in (str(error), repr(error), error.msg, error.body, repr(vars(error))):
        assert KEY not in text
    assert "<API key hidden>" in str(error)


def test_the_key_echoed_during_a_ridden_out_poll_is_masked_in_logs_and_progress(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    harness.fake.script("record", envelope(500, None, msg=f"upstream refused Bearer {KEY}"))
    seen: list[kie.TaskInfo] = []
    harness("wait", "task_1", on_progress=seen.append)
    assert seen[0].poll_error is not None
    assert KEY not in str(seen[0].poll_error)
    assert "upstream refused" in caplog.text
    assert KEY not in caplog.text


def test_a_task_id_kie_sends_that_cannot_be_sent_back_still_reaches_the_user(harness: Harness) -> None:
    # Issue 11 item 2 (the server's side): edit() lost the just-paid id to a UnicodeEncodeError.
    harness.fake.script(
        "create", httpx.Response(200, content=b'{"code":200,"msg":"ok","data":{"taskId":"task_\\ud800"}}')
    )
    with pytest.raises(kie.SubmissionOutcomeUnknownError) as caught:
        harness("edit", ["https://example.com/a.png"], "p")
    assert caught.value.task_id == "task_\\ud800"
    assert len(harness.fake.calls("create")) == 1
    assert harness.fake.calls("record") == []


@pytest.mark.parametrize("field", ["base_url", "upload_base_url"])
def test_plain_http_to_a_remote_host_is_refused_unless_allowed(field: str) -> None:
    # Issue 11 item 8: the key went out in clear text.
    with pytest.raises(kie.InvalidInputError, match="allow_insecure_http"):
        kie.Client(api_key=KEY, **{field: "http://api.example.com"})
    kie.Client(api_key=KEY, allow_insecure_http=True, **{field: "http://api.example.com"}).close()
    for loopback in ("http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:2"):
        kie.Client(api_key=KEY, **{field: loopback}).close()
