"""Callbacks: the signed envelope (reference §5), delivery on completion, retries, the ticker; loopback hosts
only unless told otherwise, and every failed delivery logged (issue 17)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from emulator_support import FakeClock, create_body, make_client

from kie_gpt_image.emulator import Emulator, Outcome, Schedule
from kie_gpt_image.emulator._callbacks import is_loopback_url
from kie_gpt_image.webhooks import sign_callback

HOOK = "https://receiver.test/kie/callback"


class Receiver:
    """An in-process callback endpoint with scripted answers (an exception class: a network error)."""

    def __init__(self, script: list[int | type[Exception]] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            step = self.script.pop(0) if self.script else 200
        if isinstance(step, type):
            raise step("receiver unreachable")
        return httpx.Response(step, json={"ok": step == 200})


def _expected_signature(key: str, task_id: str, timestamp: str) -> str:
    mac = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


def _emulator(clock: FakeClock, receiver: Receiver, **options: Any) -> Emulator:
    options.setdefault("schedule", Schedule.instant())
    return Emulator(clock=clock, callback_transport=httpx.MockTransport(receiver), **options)


@pytest.fixture
def start_task() -> Iterator[Callable[[Emulator], str]]:
    clients: list[httpx.Client] = []

    def start(emu: Emulator) -> str:
        http = make_client(emu)
        clients.append(http)
        reply = http.post(f"{emu.base_url}/api/v1/jobs/createTask", json=create_body(callBackUrl=HOOK))
        return str(reply.json()["data"]["taskId"])

    yield start
    for http in clients:
        http.close()


def test_callback_is_the_signed_task_record(
    clock: FakeClock, receiver: Receiver, start_task: Callable[[Emulator], str]
) -> None:
    emu = _emulator(clock, receiver, webhook_hmac_key="my-secret")
    task_id = start_task(emu)
    assert emu.deliver_due_callbacks() == 1
    (request,) = receiver.requests
    assert (request.method, str(request.url)) == ("POST", HOOK)
    timestamp = request.headers["X-Webhook-Timestamp"]
    assert timestamp == str(int(clock.now))
    assert hmac.compare_digest(
        request.headers["X-Webhook-Signature"], _expected_signature("my-secret", task_id, timestamp)
    )
    assert request.headers["X-Webhook-Signature"] != _expected_signature("other-key", task_id, timestamp)
    body = json.loads(request.content)
    assert body == {"code": 200, "msg": "success", "data": emu.task_record(task_id)}
    assert body["data"]["state"] == "success"
    assert json.loads(body["data"]["resultJson"])["resultUrls"]
    assert emu.deliver_due_callbacks() == 0
    assert len(receiver.requests) == 1


def test_sign_matches_an_independent_computation() -> None:
    assert sign_callback("task_1", 1700000000, "k") == _expected_signature("k", "task_1", "1700000000")


def test_failed_task_callback_has_code_501(
    clock: FakeClock, receiver: Receiver, start_task: Callable[[Emulator], str]
) -> None:
    emu = _emulator(clock, receiver, outcome=lambda body: Outcome.fail("422", "Invalid prompt: no"))
    task_id = start_task(emu)
    emu.deliver_due_callbacks()
    body = json.loads(receiver.requests[0].content)
    assert (body["code"], body["msg"], body["data"]["taskId"]) == (501, "Invalid prompt: no", task_id)
    assert (body["data"]["state"], body["data"]["failCode"]) == ("fail", "422")


def test_callback_waits_for_completion(
    clock: FakeClock, receiver: Receiver, start_task: Callable[[Emulator], str]
) -> None:
    emu = _emulator(clock, receiver, schedule=Schedule(1, 1, 1))
    start_task(emu)
    clock.advance(2.9)
    assert emu.deliver_due_callbacks() == 0
    assert receiver.requests == []
    clock.advance(0.1)
    assert emu.deliver_due_callbacks() == 1


def test_failed_deliveries_are_retried_until_acknowledged(
    clock: FakeClock, start_task: Callable[[Emulator], str]
) -> None:
    receiver = Receiver([500, httpx.ConnectError])
    emu = _emulator(clock, receiver)
    start_task(emu)
    assert [emu.deliver_due_callbacks() for _ in range(4)] == [0, 0, 1, 0]
    attempts = emu.callback_attempts_made
    assert [(a.attempt, a.status_code, a.delivered) for a in attempts] == [
        (1, 500, False),
        (2, None, False),
        (3, 200, True),
    ]
    assert attempts[1].error is not None
    assert "ConnectError" in attempts[1].error


def test_delivery_stops_after_three_failures(clock: FakeClock, start_task: Callable[[Emulator], str]) -> None:
    receiver = Receiver([503] * 10)
    emu = _emulator(clock, receiver)
    start_task(emu)
    for _ in range(6):
        emu.deliver_due_callbacks()
    assert len(receiver.requests) == 3  # reference §5: kie stops after 3 failed deliveries


def test_retry_delay_uses_the_clock(clock: FakeClock, start_task: Callable[[Emulator], str]) -> None:
    receiver = Receiver([500])
    emu = _emulator(clock, receiver, callback_retry_delay=30)
    start_task(emu)
    emu.deliver_due_callbacks()
    emu.deliver_due_callbacks()
    assert len(receiver.requests) == 1
    clock.advance(30)
    assert emu.deliver_due_callbacks() == 1


def test_the_ticker_delivers_in_process(
    clock: FakeClock, receiver: Receiver, start_task: Callable[[Emulator], str]
) -> None:
    with _emulator(clock, receiver) as emu:
        emu.start_ticker(0.01)
        start_task(emu)
        deadline = time.monotonic() + 5
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(receiver.requests) == 1


def _start_with_url(emu: Emulator, url: str) -> str:
    with make_client(emu) as http:
        reply = http.post(f"{emu.base_url}/api/v1/jobs/createTask", json=create_body(callBackUrl=url))
    return str(reply.json()["data"]["taskId"])


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any name lookup or outgoing connection (recording what was attempted)."""
    attempted: list[str] = []

    def refuse(host: object, *args: object, **kwargs: object) -> object:
        attempted.append(repr(host))
        raise OSError(f"test: network use forbidden ({host!r})")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempted


def test_callbacks_go_to_loopback_hosts_only_by_default(
    clock: FakeClock, no_network: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with Emulator(clock=clock, schedule=Schedule.instant()) as emu:
        assert emu.callback_hosts == "loopback"
        task_id = _start_with_url(emu, "https://example.com/cb")
        with caplog.at_level(logging.WARNING, logger="kie_gpt_image.emulator"):
            assert emu.deliver_due_callbacks() == 0
            assert emu.deliver_due_callbacks() == 0  # refused once, never retried
    assert no_network == []  # never resolved, never contacted
    (attempt,) = emu.failed_callbacks
    assert (attempt.task_id, attempt.status_code, attempt.refused) == (task_id, None, True)
    assert attempt.error is not None
    assert "'example.com' is not a loopback host" in attempt.error
    (record,) = caplog.records
    assert task_id in record.getMessage()
    assert "https://example.com/cb" in record.getMessage()
    assert "callback_hosts='any'" in record.getMessage()


def test_an_explicit_loopback_only_applies_to_a_given_transport_too(
    clock: FakeClock, receiver: Receiver
) -> None:
    emu = _emulator(clock, receiver, callback_hosts="loopback")
    _start_with_url(emu, HOOK)
    assert emu.deliver_due_callbacks() == 0
    assert receiver.requests == []
    assert [a.refused for a in emu.failed_callbacks] == [True]


def test_a_given_transport_decides_unless_told_otherwise(clock: FakeClock, receiver: Receiver) -> None:
    emu = _emulator(clock, receiver)
    assert emu.callback_hosts == "any"
    _start_with_url(emu, HOOK)
    assert emu.deliver_due_callbacks() == 1


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/cb", True),
        ("http://127.9.8.7/cb", True),
        ("http://[::1]:9000/cb", True),
        ("http://localhost:8000/cb", True),
        ("http://app.localhost/cb", True),
        ("https://example.com/cb", False),
        ("http://localhost.example.com/cb", False),
        ("http://10.0.0.1/cb", False),
        ("http://[::2]/cb", False),
        ("not a url", False),
    ],
)
def test_loopback_is_judged_from_the_url_alone(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_a_loopback_receiver_gets_its_callback_over_the_network(clock: FakeClock) -> None:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        with Emulator(clock=clock, schedule=Schedule.instant()) as emu:
            task_id = _start_with_url(emu, f"http://127.0.0.1:{server.server_address[1]}/cb")
            assert emu.deliver_due_callbacks() == 1
        thread.join(timeout=5)
    finally:
        server.server_close()
    assert json.loads(received[0])["data"]["taskId"] == task_id
    assert emu.failed_callbacks == []


def test_every_failed_delivery_is_logged_and_exposed(
    clock: FakeClock, start_task: Callable[[Emulator], str], caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver([500, httpx.ConnectError, 503])
    emu = _emulator(clock, receiver)
    task_id = start_task(emu)
    with caplog.at_level(logging.WARNING, logger="kie_gpt_image.emulator"):
        for _ in range(4):
            emu.deliver_due_callbacks()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3
    assert all(task_id in message and HOOK in message for message in messages)
    assert "attempt 1 of 3): HTTP 500" in messages[0]
    assert "ConnectError: receiver unreachable" in messages[1]
    assert messages[2].endswith("HTTP 503; giving up")
    failed = emu.failed_callbacks
    assert [(a.attempt, a.status_code) for a in failed] == [(1, 500), (2, None), (3, 503)]


def test_the_default_callback_client_ignores_proxy_settings(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy from the environment would be another host: the callback client never uses one.
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("ALL_PROXY", "http://proxy.example:3128")
    with Emulator(clock=clock) as emu:
        assert emu._client().trust_env is False
