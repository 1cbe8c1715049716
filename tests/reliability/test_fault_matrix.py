"""Every endpoint the facade uses x every fault the emulator injects, over loopback sockets, under both
``Client`` and ``AsyncClient``: one row of ``MATRIX`` per cell says what the user must get.

Rules the table encodes (style.md point 4, reference "The reply envelope and codes"):

- reads and uploads are retried, so a fault on the first call ends in success on the second;
- createTask is sent once, unless the failure proves it was not accepted (429/455 answered). Over real
  sockets a ``drop_before`` (the server reads the request and closes) is indistinguishable from a
  ``drop_after``: the request bytes left the client, so it is *not* provably unsent and the outcome is
  unknown. The provable case (connection refused) is ``test_create_is_resent_only_when_provably_unsent``;
- a task id the server sent reaches the user (on the result or on the error's ``task_id``);
- no call outlives its timeouts: elapsed <= attempts x client timeout + slack.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import kie_gpt_image as kie
from kie_gpt_image.emulator import Emulator, EmulatorServer, Fault, Schedule

CREATE = "gpt-image-1-5-image-to-image"
TIMEOUT = 0.25  # seconds, the client's per-request timeout
DELAY = 1.0  # seconds the ``delay`` fault holds a reply back: longer than TIMEOUT
SLACK = 1.0  # seconds allowed on top of the timeouts (loopback, thread scheduling)
RETRY_AFTER = "3"

FAULTS: dict[str, Fault] = {
    "drop_before": Fault.drop_before(),
    "drop_after": Fault.drop_after(),
    "delay": Fault.delay(DELAY),
    "html_502": Fault.http_error(502),
    "truncated_json": Fault.truncated_json(),
    "non_json": Fault.non_json(),
    "code_429": Fault.body_code(429, retry_after=RETRY_AFTER),
    "code_455": Fault.body_code(455),
    "code_500": Fault.body_code(500),
    "code_505": Fault.body_code(505),
    "unknown_state": Fault.unknown_state("canceled"),
    "null_data": Fault.null_data(),
    "status_520": Fault.http_status(520),
}


@dataclass(frozen=True)
class Row:
    """One cell: ``error`` None means a value after ``calls`` requests reached the endpoint."""

    endpoint: str
    fault: str
    calls: int
    error: type[kie.KieError] | None = None
    task_id_in_reply: bool = False
    """The reply carried the id of a task the server created: it must reach the user."""
    bug: str | None = None
    """Set when the library misses the expected outcome (the row is a strict xfail)."""


_RETRIED_READ = {  # faults on a read/upload: the retry (call 2) succeeds
    "drop_before": 2,
    "drop_after": 2,
    "delay": 2,
    "html_502": 2,
    "truncated_json": 2,
    "non_json": 2,
    "code_429": 2,
    "code_455": 2,
    "code_500": 2,
    "null_data": 2,
    "status_520": 2,
    "unknown_state": 1,  # only recordInfo has a state; elsewhere the fault changes nothing
}

_BUG_DOWNLOAD_STATUS = (
    "result download: an HTTP >= 400 reply raises DownloadError at once (_download.Sink.start), and "
    "_flow.Flows.fetch re-raises every DownloadError without consulting the retry policy, so a 502/520 "
    "on a GET (safe to retry) is never retried"
)
_BUG_DOWNLOAD_CONTENT = (
    "result download: a 200 reply whose body is not an image (text, a JSON error envelope) is returned "
    "and saved as the result .png; nothing checks the body's magic bytes"
)
_BUG_CREATE_520 = (
    "createTask answered a full success envelope (code 200, data.taskId) under HTTP 520: "
    "_replies.read_envelope maps the status to ServerError before the body is read, and "
    "SubmissionOutcomeUnknownError is raised without the task id that was in the reply"
)


def _matrix() -> list[Row]:
    rows: list[Row] = []
    for endpoint in (
        "get-task-details",
        "upload-file-stream",
        "upload-file-base64",
        "upload-file-url",
        "get-account-credits",
        "get-download-url",
    ):
        for fault, calls in _RETRIED_READ.items():
            rows.append(Row(endpoint, fault, calls))
        rows.append(Row(endpoint, "code_505", 1, kie.FeatureDisabledError))
    unknown = kie.SubmissionOutcomeUnknownError
    rows += [
        Row(CREATE, "drop_before", 1, unknown),  # bytes were sent: not provably unaccepted on sockets
        Row(CREATE, "drop_after", 1, unknown),
        Row(CREATE, "delay", 1, unknown),
        Row(CREATE, "html_502", 1, unknown),
        Row(CREATE, "truncated_json", 1, unknown),
        Row(CREATE, "non_json", 1, unknown),
        Row(CREATE, "code_429", 2),  # not accepted: resent after Retry-After
        Row(CREATE, "code_455", 2),  # not accepted: resent
        Row(CREATE, "code_500", 1, unknown),
        Row(CREATE, "code_505", 1, kie.FeatureDisabledError),
        Row(CREATE, "unknown_state", 1, task_id_in_reply=True),
        Row(CREATE, "null_data", 1, unknown),
        Row(CREATE, "status_520", 1, unknown, task_id_in_reply=True),
    ]
    rows += [
        Row("files", "drop_before", 2),
        Row("files", "drop_after", 2),
        Row("files", "delay", 2),
        Row("files", "html_502", 2),
        # The emulator cuts the PNG and sends a matching Content-Length: undetectable over HTTP (a real
        # truncation shows as a short body, which httpx reports and the fetch retries).
        Row("files", "truncated_json", 1),
        Row("files", "non_json", 2),
        Row("files", "code_429", 2),
        Row("files", "code_455", 2),
        Row("files", "code_500", 2),
        Row("files", "code_505", 2),
        Row("files", "unknown_state", 1),
        Row("files", "null_data", 1),
        Row("files", "status_520", 2),
    ]
    return rows


MATRIX = _matrix()


def test_the_matrix_covers_every_endpoint_and_fault() -> None:
    cells = {(row.endpoint, row.fault) for row in MATRIX}
    endpoints = {row.endpoint for row in MATRIX}
    assert len(cells) == len(MATRIX) == len(endpoints) * len(FAULTS)
    from kie_gpt_image.emulator import ENDPOINTS

    assert endpoints == set(ENDPOINTS)


# ------------------------------------------------------------------------------------------ fixtures


def _make_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (20, 120, 220)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _make_png()


def _png() -> bytes:
    return PNG


@dataclass
class Served:
    emulator: Emulator
    server: EmulatorServer
    task_id: str
    uploaded_url: str
    result: kie.TaskInfo


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """One loopback emulator for the module (call numbers are relative, so cells do not interfere)."""
    emulator = Emulator(schedule=Schedule.instant(), rate_limit=10**6, poll_limit=10**6, credits=10**9)
    with emulator, emulator.serve(port=0) as server:
        # A client that timed out closes its socket; the delayed reply then meets a broken pipe, which
        # the stdlib server would print as a traceback (possibly after this module ends). Expected here.
        for host_server in server._servers.values():
            host_server.handle_error = _quiet  # type: ignore[method-assign]
        with _client(server) as client:
            task = client.create_task(["https://example.com/a.png"], "seed")
            uploaded = client.upload(_png())
            result = client.wait(task.task_id)
        yield Served(emulator, server, task.task_id, uploaded.url, result.info)


def _quiet(request: object, client_address: object) -> None:
    return None


def _options(server: EmulatorServer) -> dict[str, Any]:
    return {
        "api_key": server.emulator.api_key,
        "base_url": server.base_url,
        "upload_base_url": server.upload_base_url,
        "timeout": httpx.Timeout(TIMEOUT),
        "poll_policy": kie.PollPolicy(
            early_interval=0.01, middle_interval=0.01, late_interval=0.01, timeout=5
        ),
    }


def _client(server: EmulatorServer, sleeps: list[float] | None = None) -> kie.Client:
    record = sleeps if sleeps is not None else []
    return kie.Client(**_options(server), sleep=record.append)


# One driver per mode: ``call(operation)`` runs the public method that hits ``endpoint``.
Call = Callable[[str], Any]


def _sync_calls(client: kie.Client, s: Served, folder: Path) -> dict[str, Callable[[], Any]]:
    def download() -> bytes:
        (path,) = client.download(s.result, folder)
        return path.read_bytes()

    return {
        CREATE: lambda: client.create_task(["https://example.com/a.png"], "p"),
        "get-task-details": lambda: client.get_task(s.task_id),
        "upload-file-stream": lambda: client.upload(_png()),
        "upload-file-base64": lambda: client.upload(_png(), method="base64"),
        "upload-file-url": lambda: client.upload(s.uploaded_url),
        "get-account-credits": client.credits,
        "get-download-url": lambda: client.download_url(s.result.result_urls[0]),
        "files": download,
    }


def _async_calls(client: kie.AsyncClient, s: Served, folder: Path) -> dict[str, Callable[[], Awaitable[Any]]]:
    async def download() -> bytes:
        (path,) = await client.download(s.result, folder)
        return path.read_bytes()

    return {
        CREATE: lambda: client.create_task(["https://example.com/a.png"], "p"),
        "get-task-details": lambda: client.get_task(s.task_id),
        "upload-file-stream": lambda: client.upload(_png()),
        "upload-file-base64": lambda: client.upload(_png(), method="base64"),
        "upload-file-url": lambda: client.upload(s.uploaded_url),
        "get-account-credits": client.credits,
        "get-download-url": lambda: client.download_url(s.result.result_urls[0]),
        "files": download,
    }


def _run(mode: str, s: Served, endpoint: str, folder: Path) -> tuple[Any, BaseException | None, list[float]]:
    """Call the endpoint's public method once; return (value, error, recorded sleeps)."""
    sleeps: list[float] = []
    if mode == "sync":
        with _client(s.server, sleeps) as client:
            try:
                return _sync_calls(client, s, folder)[endpoint](), None, sleeps
            except Exception as exc:
                return None, exc, sleeps

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async def go() -> tuple[Any, BaseException | None, list[float]]:
        async with kie.AsyncClient(**_options(s.server), sleep=record) as client:
            try:
                return await _async_calls(client, s, folder)[endpoint](), None, sleeps
            except Exception as exc:
                return None, exc, sleeps

    return asyncio.run(go())


def _cell_params() -> list[Any]:
    params = []
    for row in MATRIX:
        marks = [pytest.mark.xfail(strict=True, reason=row.bug)] if row.bug else []
        params.append(pytest.param(row, id=f"{row.endpoint}-{row.fault}", marks=marks))
    return params


# ------------------------------------------------------------------------------------------ the matrix


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("row", _cell_params())
def test_fault_cell(served: Served, row: Row, mode: str, tmp_path: Path) -> None:
    emulator = served.emulator
    before = emulator.call_count(row.endpoint)
    accepted_before = len(emulator.create_times)
    exchanges_before = len(emulator.exchanges)
    emulator.faults.on(row.endpoint, before + 1, FAULTS[row.fault])
    started = time.monotonic()
    try:
        value, error, sleeps = _run(mode, served, row.endpoint, tmp_path)
    finally:
        emulator.faults.clear()
    elapsed = time.monotonic() - started

    calls = emulator.call_count(row.endpoint) - before
    accepted = len(emulator.create_times) - accepted_before
    # Never more than one createTask per logical submission, unless the first was not accepted.
    assert accepted <= 1
    assert calls == row.calls, f"{calls} requests reached {row.endpoint}"
    # Bounded: every attempt is cut off by the client timeout; retry sleeps are recorded, not slept.
    assert elapsed <= row.calls * TIMEOUT + SLACK, f"took {elapsed:.2f} s"

    if row.error is None:
        assert error is None, f"expected a value, got {error!r}"
        _check_value(row, value, served)
    else:
        assert isinstance(error, row.error), f"expected {row.error.__name__}, got {error!r}"
        if isinstance(error, kie.SubmissionOutcomeUnknownError):
            assert "p" in error.request_summary
    if row.fault == "code_429" and row.error is None:
        assert sleeps == [float(RETRY_AFTER)]  # Retry-After honoured
    if row.task_id_in_reply:
        sent = [
            json.loads(x.response.content)["data"]["taskId"]
            for x in emulator.exchanges[exchanges_before:]
            if x.endpoint == CREATE
        ]
        got = value.task_id if error is None else getattr(error, "task_id", None)
        assert got == sent[-1], "the task id the server sent did not reach the user"
    elif row.endpoint == "get-task-details" and error is not None:
        assert getattr(error, "task_id", None) == served.task_id


def _check_value(row: Row, value: Any, served: Served) -> None:
    if row.endpoint == CREATE:
        assert isinstance(value, kie.Task)
        assert value.task_id.startswith("task_")
    elif row.endpoint == "get-task-details":
        assert isinstance(value, kie.TaskInfo)
        assert value.task_id == served.task_id
        if row.fault == "unknown_state":
            assert value.state is kie.TaskState.UNKNOWN
            assert value.raw_state == "canceled"
        else:
            assert value.state is kie.TaskState.SUCCESS
    elif row.endpoint.startswith("upload-"):
        assert isinstance(value, kie.UploadedFile)
        assert value.url.startswith("http://127.0.0.1")
    elif row.endpoint == "get-account-credits":
        assert isinstance(value, (int, float))
        assert value > 0
    elif row.endpoint == "get-download-url":
        assert isinstance(value, str)
        assert "/d/" in value
    else:
        assert isinstance(value, bytes)
        assert value.startswith(b"\x89PNG\r\n\x1a\n")


# ------------------------------------------------------------------------------------------ beyond one cell


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("endpoint", ["get-task-details", "files"])
def test_a_reply_that_never_comes_fails_within_the_retry_budget(
    served: Served, endpoint: str, mode: str, tmp_path: Path
) -> None:
    emulator = served.emulator
    before = emulator.call_count(endpoint)
    emulator.faults.on(endpoint, None, Fault.delay(DELAY))
    started = time.monotonic()
    try:
        _, error, sleeps = _run(mode, served, endpoint, tmp_path)
    finally:
        emulator.faults.clear()
    elapsed = time.monotonic() - started
    attempts = kie.RetryPolicy().max_retries + 1
    assert emulator.call_count(endpoint) - before == attempts
    assert elapsed <= attempts * TIMEOUT + SLACK
    expected = kie.RequestTimeoutError if endpoint != "files" else kie.DownloadError
    assert isinstance(error, expected)
    assert error.task_id == served.task_id
    assert len(sleeps) == attempts - 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_create_is_resent_only_when_provably_unsent(served: Served, mode: str) -> None:
    # Connection refused on loopback: nothing was sent, so retrying cannot pay twice.
    dead = f"http://127.0.0.1:{_closed_port()}"
    sleeps: list[float] = []
    options = {**_options(served.server), "base_url": dead}
    started = time.monotonic()
    if mode == "sync":
        with (
            kie.Client(**options, sleep=sleeps.append) as client,
            pytest.raises(kie.TransportError) as caught,
        ):
            client.create_task(["https://example.com/a.png"], "p")
    else:

        async def record(seconds: float) -> None:
            sleeps.append(seconds)

        async def go() -> None:
            async with kie.AsyncClient(**options, sleep=record) as client:
                await client.create_task(["https://example.com/a.png"], "p")

        with pytest.raises(kie.TransportError) as caught:
            asyncio.run(go())
    assert not isinstance(caught.value, kie.SubmissionOutcomeUnknownError)
    assert len(sleeps) == kie.RetryPolicy().max_retries  # every attempt was made
    assert time.monotonic() - started <= SLACK


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_in_process_drop_before_create_is_retried_once(mode: str) -> None:
    # In-process the emulator turns drop_before into httpx.ConnectError (never sent): one retry.
    with Emulator(schedule=Schedule.instant()) as emulator:
        emulator.faults.on(CREATE, 1, Fault.drop_before())
        if mode == "sync":
            with emulator.client(sleep=lambda s: None) as client:
                task = client.create_task(["https://example.com/a.png"], "p")
        else:

            async def nap(seconds: float) -> None:
                return None

            async def go() -> kie.Task:
                async with emulator.async_client(sleep=nap) as client:
                    return await client.create_task(["https://example.com/a.png"], "p")

            task = asyncio.run(go())
        assert emulator.call_count(CREATE) == 2
        assert len(emulator.create_times) == 1
        assert task.task_id.startswith("task_")
