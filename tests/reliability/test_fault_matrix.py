"""Every endpoint the facade uses x every fault the emulator injects, over loopback sockets, under both
``Client`` and ``AsyncClient``: one row of ``MATRIX`` per cell says what the user must get.

Rules the table encodes (style.md point 4, reference "The reply envelope and codes"):

- reads and uploads are retried, so a fault on the first call ends in success on the second;
- createTask is sent once, unless the failure proves it was not accepted (429/455 answered). Over real
  sockets a ``drop_before`` (the server reads the request and closes) is indistinguishable from a
  ``drop_after``: the request bytes left the client, so it is *not* provably unsent and the outcome is
  unknown. The provable case (connection refused) is ``test_create_is_resent_only_when_provably_unsent``;
- a task id the server sent reaches the user (on the result or on the error's ``task_id``);
- no call outlives its deadline: a ``trickle`` (a valid reply, one byte at a time) is cut off at the
  request's total deadline (``request_timeout``; for a result, the download deadline), an ``oversized``
  reply at the size cap; every cell ends within its deadline plus one second.
"""

from __future__ import annotations

import io
import json
import os
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
from kie_gpt_image._deadline import DEFAULT_MIN_DOWNLOAD_RATE
from kie_gpt_image.emulator import Emulator, EmulatorServer, Fault, Schedule

CREATE = "gpt-image-1-5-image-to-image"
TIMEOUT = 0.25  # seconds, the client's per-phase timeout (connect, read, write)
REQUEST_DEADLINE = 3 * TIMEOUT  # the default total deadline of a request: connect + write + read
DELAY = 1.0  # seconds the ``delay`` fault holds a reply back: longer than TIMEOUT
SLACK = 1.0  # seconds allowed on top of the deadlines (loopback, thread scheduling)
RETRY_AFTER = "3"
TRICKLE = 0.05  # seconds between the bytes of a trickled reply: every read succeeds, the whole never ends
CAP = 64 * 1024  # the client's reply and download caps in the matrix
ENDED: dict[str, float] = {}
"""Measured end time of each trickle/oversized cell (printed at the end of the module, for the record)."""

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
    "trickle": Fault.trickle(TRICKLE),
    "oversized": Fault.oversized(4 * CAP),
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

    @property
    def deadline(self) -> float:
        """Seconds the cell may take: each attempt's deadline (a trickled one runs to the request's
        total deadline; others are cut by a per-phase timeout), plus the slack."""
        trickled = REQUEST_DEADLINE if self.fault == "trickle" else TIMEOUT
        return trickled + (self.calls - 1) * TIMEOUT + SLACK


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
        rows.append(Row(endpoint, "trickle", 2))  # cut at the request deadline, then retried
        rows.append(Row(endpoint, "oversized", 1, kie.ReplyTooLargeError))  # the same reply again: no retry
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
        Row(CREATE, "trickle", 1, unknown),  # sent and processed; the reply never completes
        Row(CREATE, "oversized", 1, unknown),
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
        Row("files", "trickle", 2),  # cut at the download deadline, then retried
        Row("files", "oversized", 1, kie.ResultTooLargeError),
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


@pytest.fixture(scope="module", autouse=True)
def _print_end_times() -> Iterator[None]:
    """For the record: the measured end times of the trickle and oversized cells (shown with ``-s``)."""
    yield
    for name, seconds in sorted(ENDED.items()):
        print(f"{name}: ended after {seconds:.2f} s")


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
        "max_reply_bytes": CAP,
        "max_download_bytes": CAP,
        "download_timeout": REQUEST_DEADLINE,  # configured; the derived default is tested in-process
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


def _run(s: Served, endpoint: str, folder: Path) -> tuple[Any, BaseException | None, list[float]]:
    """Call the endpoint's public method once with ``Client``; return (value, error, recorded sleeps)."""
    sleeps: list[float] = []
    with _client(s.server, sleeps) as client:
        try:
            return _sync_calls(client, s, folder)[endpoint](), None, sleeps
        except Exception as exc:
            return None, exc, sleeps


async def _arun(s: Served, endpoint: str, folder: Path) -> tuple[Any, BaseException | None, list[float]]:
    """The same with ``AsyncClient``, in the test's event loop."""
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async with kie.AsyncClient(**_options(s.server), sleep=record) as client:
        try:
            return await _async_calls(client, s, folder)[endpoint](), None, sleeps
        except Exception as exc:
            return None, exc, sleeps


def _cell_params() -> list[Any]:
    return [pytest.param(row, id=f"{row.endpoint}-{row.fault}") for row in MATRIX]


# ------------------------------------------------------------------------------------------ the matrix


@dataclass
class Cell:
    """One cell under way: what the emulator had seen before it, and when it started."""

    served: Served
    row: Row
    before: int
    accepted_before: int
    exchanges_before: int
    started: float

    @classmethod
    def start(cls, served: Served, row: Row) -> Cell:
        emulator = served.emulator
        before = emulator.call_count(row.endpoint)
        cell = cls(served, row, before, len(emulator.create_times), len(emulator.exchanges), 0.0)
        emulator.faults.on(row.endpoint, before + 1, FAULTS[row.fault])
        cell.started = time.monotonic()
        return cell

    def check(self, mode: str, value: Any, error: BaseException | None, sleeps: list[float]) -> None:
        elapsed = time.monotonic() - self.started
        row, emulator = self.row, self.served.emulator
        emulator.faults.clear()
        if row.fault in ("trickle", "oversized"):
            ENDED[f"{row.endpoint}-{row.fault}[{mode}]"] = elapsed
        calls = emulator.call_count(row.endpoint) - self.before
        accepted = len(emulator.create_times) - self.accepted_before
        # Never more than one createTask per logical submission, unless the first was not accepted.
        assert accepted <= 1
        assert calls == row.calls, f"{calls} requests reached {row.endpoint}"
        # Bounded: every attempt ends by its deadline; retry sleeps are recorded, not slept.
        assert elapsed <= row.deadline, f"took {elapsed:.2f} s, deadline {row.deadline:.2f} s"

        if row.error is None:
            assert error is None, f"expected a value, got {error!r}"
            _check_value(row, value, self.served)
        else:
            assert isinstance(error, row.error), f"expected {row.error.__name__}, got {error!r}"
            if isinstance(error, kie.SubmissionOutcomeUnknownError):
                assert "p" in error.request_summary
            if isinstance(error, kie.ReplyTooLargeError):
                assert str(CAP) in str(error)  # names the cap
        if row.fault == "code_429" and row.error is None:
            assert sleeps == [float(RETRY_AFTER)]  # Retry-After honoured
        if row.task_id_in_reply:
            sent = [
                json.loads(x.response.content)["data"]["taskId"]
                for x in emulator.exchanges[self.exchanges_before :]
                if x.endpoint == CREATE
            ]
            got = value.task_id if error is None else getattr(error, "task_id", None)
            assert got == sent[-1], "the task id the server sent did not reach the user"
        elif row.endpoint == "get-task-details" and error is not None:
            assert getattr(error, "task_id", None) == self.served.task_id


@pytest.mark.parametrize("row", _cell_params())
def test_fault_cell(served: Served, row: Row, tmp_path: Path) -> None:
    cell = Cell.start(served, row)
    try:
        outcome = _run(served, row.endpoint, tmp_path)
    finally:
        served.emulator.faults.clear()
    cell.check("sync", *outcome)


@pytest.mark.anyio
@pytest.mark.parametrize("row", _cell_params())
async def test_fault_cell_async(served: Served, row: Row, tmp_path: Path) -> None:
    cell = Cell.start(served, row)
    try:
        outcome = await _arun(served, row.endpoint, tmp_path)
    finally:
        served.emulator.faults.clear()
    cell.check("async", *outcome)


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


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("endpoint", ["get-task-details", "files"])
async def test_a_reply_that_never_comes_fails_within_the_retry_budget(
    served: Served, endpoint: str, mode: str, tmp_path: Path
) -> None:
    emulator = served.emulator
    before = emulator.call_count(endpoint)
    emulator.faults.on(endpoint, None, Fault.delay(DELAY))
    started = time.monotonic()
    try:
        if mode == "sync":
            _, error, sleeps = _run(served, endpoint, tmp_path)
        else:
            _, error, sleeps = await _arun(served, endpoint, tmp_path)
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


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_create_is_resent_only_when_provably_unsent(served: Served, mode: str) -> None:
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

        async with kie.AsyncClient(**options, sleep=record) as aclient:
            with pytest.raises(kie.TransportError) as caught:
                await aclient.create_task(["https://example.com/a.png"], "p")
    assert not isinstance(caught.value, kie.SubmissionOutcomeUnknownError)
    assert len(sleeps) == kie.RetryPolicy().max_retries  # every attempt was made
    assert time.monotonic() - started <= SLACK


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_in_process_drop_before_create_is_retried_once(mode: str) -> None:
    # In-process the emulator turns drop_before into httpx.ConnectError (never sent): one retry.
    with Emulator(schedule=Schedule.instant()) as emulator:
        emulator.faults.on(CREATE, 1, Fault.drop_before())
        if mode == "sync":
            with emulator.client(sleep=lambda s: None) as client:
                task = client.create_task(["https://example.com/a.png"], "p")
        else:

            async def nap(seconds: float) -> None:
                return None

            async with emulator.async_client(sleep=nap) as aclient:
                task = await aclient.create_task(["https://example.com/a.png"], "p")
        assert emulator.call_count(CREATE) == 2
        assert len(emulator.create_times) == 1
        assert task.task_id.startswith("task_")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("endpoint", ["get-task-details", "files"])
async def test_trickle_in_process_ends_at_its_deadline(mode: str, endpoint: str, tmp_path: Path) -> None:
    # The same fault without sockets: the in-process transport streams one byte per interval.
    with Emulator(schedule=Schedule.instant()) as emulator:
        options: dict[str, Any] = {"timeout": httpx.Timeout(TIMEOUT)}
        with emulator.client(sleep=lambda s: None, **options) as client:
            task = client.create_task(["https://example.com/a.png"], "p")
            info = client.wait(task.task_id)
            (result,) = client.read_results(info)
        emulator.faults.on(endpoint, None, Fault.trickle(TRICKLE))
        attempts = kie.RetryPolicy().max_retries + 1
        # The derived download deadline: a request's, plus the declared size at the minimum rate.
        deadline = REQUEST_DEADLINE + (len(result) / DEFAULT_MIN_DOWNLOAD_RATE if endpoint == "files" else 0)
        started = time.monotonic()
        if mode == "sync":
            with emulator.client(sleep=lambda s: None, **options) as client:
                call: Callable[[], Any] = (
                    (lambda: client.download(info, tmp_path))
                    if endpoint == "files"
                    else (lambda: client.get_task(task.task_id))
                )
                with pytest.raises(kie.KieError) as caught:
                    call()
        else:

            async def nap(seconds: float) -> None:
                return None

            async with emulator.async_client(sleep=nap, **options) as aclient:
                acall: Callable[[], Awaitable[Any]] = (
                    (lambda: aclient.download(info, tmp_path))
                    if endpoint == "files"
                    else (lambda: aclient.get_task(task.task_id))
                )
                with pytest.raises(kie.KieError) as caught:
                    await acall()
        elapsed = time.monotonic() - started
        expected = kie.DownloadError if endpoint == "files" else kie.RequestTimeoutError
        assert isinstance(caught.value, expected)
        assert caught.value.task_id == task.task_id
        assert emulator.call_count(endpoint) == attempts + 1  # + the one before the fault
        assert elapsed <= attempts * deadline + SLACK
        assert not any(p.name.endswith(".part") for p in os.listdir(tmp_path))  # no .part file left
