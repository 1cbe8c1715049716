"""Callbacks: the signed envelope (reference §5), delivery on completion, retries, the ticker."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from emulator_support import FakeClock, create_body, make_client

from kie_gpt_image.emulator import Emulator, Outcome, Schedule
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
