"""Callback verification (known-answer vectors computed here with the standard library only) and the
shipped ASGI/WSGI receivers, driven with real requests through httpx's ASGI and WSGI transports."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from fake_kie import record

import kie_gpt_image as kie
from kie_gpt_image import webhooks
from kie_gpt_image.emulator import Emulator, Schedule
from kie_gpt_image.webhooks import InMemoryReplayStore, ReplayGuard, VerifiedCallback, verify_callback

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "samples"

KEY = "whsec-test-key"
NOW = 1_765_968_200
TASK = "task_gpt-image_1765968156336"


def signature(task_id: str, timestamp: str, key: str = KEY) -> str:
    """The reference's formula, computed independently of the library."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_known_answer_vector() -> None:
    # Independently derived constant, so that a change of formula in both places cannot go unnoticed.
    assert (
        signature("task_1", "1700000000", "secret")
        == base64.b64encode(hmac.new(b"secret", b"task_1.1700000000", hashlib.sha256).digest()).decode()
    )
    assert kie.webhooks.sign_callback("task_1", 1700000000, "secret") == signature(
        "task_1", "1700000000", "secret"
    )


def body(data: dict[str, Any] | None = None, **top: Any) -> bytes:
    payload = {
        "code": 200,
        "msg": "success",
        "data": data if data is not None else record("success", task_id=TASK),
    }
    payload.update(top)
    return json.dumps(payload).encode()


def headers(timestamp: int | str = NOW, task_id: str = TASK, **override: str) -> dict[str, str]:
    h = {"X-Webhook-Timestamp": str(timestamp), "X-Webhook-Signature": signature(task_id, str(timestamp))}
    h.update(override)
    return h


def test_good_signature_returns_the_same_task_info_as_polling() -> None:
    callback = verify_callback(body(), headers(), KEY, now=NOW)
    assert callback.task_id == TASK
    info = callback.unverified_info
    assert info.state is kie.TaskState.SUCCESS
    assert info.result_urls == (f"https://tempfile.aiquickdraw.com/r/{TASK}-0.png",)


def test_header_names_are_case_insensitive() -> None:
    h = {k.lower(): v for k, v in headers().items()}
    assert verify_callback(body(), h, KEY, now=NOW).task_id == TASK
    h = {k.upper(): v for k, v in headers().items()}
    assert verify_callback(body(), h, KEY, now=NOW).task_id == TASK


@pytest.mark.parametrize(
    ("data", "top"),
    [
        ({"task_id": TASK, "state": "success"}, {}),  # the verification guide's example
        ({"task_id": TASK, "state": "fail"}, {"taskId": TASK}),  # the third variant
        ({"state": "fail"}, {"taskId": TASK}),
    ],
    ids=["data.task_id", "data.task_id+taskId", "top-level-taskId"],
)
def test_every_documented_task_id_spelling(data: dict[str, Any], top: dict[str, Any]) -> None:
    assert verify_callback(body(data, **top), headers(), KEY, now=NOW).task_id == TASK


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (lambda b, h: (b.replace(TASK.encode(), b"task_other"), h), webhooks.BadSignatureError),
        (lambda b, h: (b, {**h, "X-Webhook-Timestamp": str(NOW + 1)}), webhooks.BadSignatureError),
        (
            lambda b, h: (b, {**h, "X-Webhook-Signature": h["X-Webhook-Signature"][:-4]}),
            webhooks.BadSignatureError,
        ),
        (
            lambda b, h: (b, {**h, "X-Webhook-Signature": signature(TASK, str(NOW), "wrong-key")}),
            webhooks.BadSignatureError,
        ),
        (lambda b, h: (b, {"X-Webhook-Signature": h["X-Webhook-Signature"]}), webhooks.MissingHeaderError),
        (lambda b, h: (b, {"X-Webhook-Timestamp": h["X-Webhook-Timestamp"]}), webhooks.MissingHeaderError),
        (lambda b, h: (b, {**h, "X-Webhook-Timestamp": "yesterday"}), webhooks.BadTimestampError),
        (lambda b, h: (b, {**h, "X-Webhook-Timestamp": "-5"}), webhooks.BadTimestampError),
        (lambda b, h: (b"not json", h), kie.MalformedCallbackError),
        (lambda b, h: (b"[1]", h), kie.MalformedCallbackError),
        (
            lambda b, h: (json.dumps({"code": 200, "data": {"state": "success"}}).encode(), h),
            kie.MalformedCallbackError,
        ),
    ],
    ids=[
        "task-id-changed",
        "timestamp-changed",
        "signature-truncated",
        "wrong-key",
        "timestamp-missing",
        "signature-missing",
        "timestamp-not-a-number",
        "timestamp-negative",
        "body-not-json",
        "body-not-object",
        "body-without-task-id",
    ],
)
def test_every_tampering_has_its_typed_error(tamper: Any, error: type[kie.KieError]) -> None:
    tampered_body, tampered_headers = tamper(body(), headers())
    with pytest.raises(error) as caught:
        verify_callback(tampered_body, tampered_headers, KEY, now=NOW)
    assert isinstance(caught.value, kie.WebhookVerificationError)
    assert KEY not in str(caught.value)
    assert headers()["X-Webhook-Signature"] not in str(caught.value)


@pytest.mark.parametrize(
    ("offset", "error"),
    [(-300, None), (300, None), (-301, webhooks.FutureTimestampError), (301, webhooks.StaleTimestampError)],
    ids=[
        "exactly-tolerance-old",
        "exactly-tolerance-ahead",
        "one-second-too-far-ahead",
        "one-second-too-old",
    ],
)
def test_window_edges(offset: int, error: type[kie.KieError] | None) -> None:
    # offset = now - timestamp
    ts = NOW - offset
    if error is None:
        assert verify_callback(body(), headers(ts), KEY, now=NOW).task_id == TASK
    else:
        with pytest.raises(error):
            verify_callback(body(), headers(ts), KEY, now=NOW)


def test_replay_guard_rejects_a_second_delivery_inside_the_window() -> None:
    clock = [float(NOW)]
    guard = ReplayGuard(clock=lambda: clock[0])
    verify_callback(body(), headers(), KEY, now=NOW, replay_guard=guard)
    clock[0] += 10
    with pytest.raises(kie.ReplayedCallbackError) as caught:
        verify_callback(body(), headers(), KEY, now=NOW + 10, replay_guard=guard)
    assert caught.value.task_id == TASK
    # a new delivery (new timestamp) of the same task is accepted
    clock[0] += 10
    verify_callback(body(), headers(NOW + 20), KEY, now=NOW + 20, replay_guard=guard)
    # entries expire once a replay would be stale anyway
    clock[0] += 302
    assert len(guard.store) == 0  # type: ignore[arg-type]


def test_replay_store_is_pluggable() -> None:
    seen: dict[str, float] = {}

    class DictStore:
        def add(self, key: str, expires_at: float) -> bool:
            if key in seen:
                return False
            seen[key] = expires_at
            return True

    guard = ReplayGuard(store=DictStore())
    verify_callback(body(), headers(), KEY, now=NOW, replay_guard=guard)
    assert list(seen) == [f"{TASK}.{NOW}"]
    with pytest.raises(kie.ReplayedCallbackError):
        verify_callback(body(), headers(), KEY, now=NOW, replay_guard=guard)


def test_in_memory_store_forgets_expired_entries() -> None:
    now = [0.0]
    store = InMemoryReplayStore(clock=lambda: now[0])
    assert store.add("a", 10)
    assert not store.add("a", 10)
    now[0] = 11
    assert store.add("a", 20)


def test_empty_key_is_an_input_error() -> None:
    with pytest.raises(kie.InvalidInputError):
        verify_callback(body(), headers(), "", now=NOW)


# ------------------------------------------------------------------ what was signed (issue 17 item 1)


def test_result_separates_what_was_signed_from_the_unsigned_record() -> None:
    # kie.ai signs taskId + "." + timestamp only: one genuine delivery's headers pass with any body.
    forged_record = record("fail", task_id=TASK, failCode="500", failMsg="forged")
    callback = verify_callback(body(forged_record), headers(), KEY, now=NOW)
    assert isinstance(callback, VerifiedCallback)
    assert (callback.task_id, callback.timestamp) == (TASK, NOW)
    # The body's claims are reachable only under a name that says they are not verified.
    assert callback.unverified_info.state is kie.TaskState.FAIL
    assert not hasattr(callback, "state")
    assert not hasattr(callback, "result_urls")
    assert [f.name for f in dataclasses.fields(callback)] == ["task_id", "timestamp", "unverified_info"]


def test_numeric_task_id_beside_the_signed_one_never_becomes_the_result() -> None:
    # issue 11 item 11: data.taskId (a number, skipped as a task id) beside the signed data.task_id
    data = {**record("success", task_id=TASK), "taskId": 12345, "task_id": TASK}
    callback = verify_callback(body(data), headers(), KEY, now=NOW)
    assert callback.task_id == TASK
    assert callback.unverified_info.task_id == TASK


# ------------------------------------------------------------- window and replay guard (issue 11 items 9-10)


@pytest.mark.parametrize("tolerance", [1, 60, 300, 3600, 86_400])
@pytest.mark.parametrize("guard_clock", ["follows-now", "real-time"])
def test_replay_guard_agrees_with_any_tolerance(tolerance: int, guard_clock: str) -> None:
    # Every replay the window would still accept is rejected as a replay, whatever tolerance is passed,
    # and whether or not the guard's clock is the check's ``now``.
    clock = [float(NOW)]
    guard = ReplayGuard(clock=lambda: clock[0]) if guard_clock == "follows-now" else ReplayGuard()
    verify_callback(body(), headers(NOW), KEY, now=NOW, tolerance=tolerance, replay_guard=guard)
    for delay in sorted({0, 1, tolerance // 2, tolerance - 1, tolerance}):
        clock[0] = NOW + delay
        with pytest.raises(kie.ReplayedCallbackError):
            verify_callback(
                body(), headers(NOW), KEY, now=NOW + delay, tolerance=tolerance, replay_guard=guard
            )
    # one second later the window itself refuses it
    with pytest.raises(webhooks.StaleTimestampError):
        verify_callback(
            body(), headers(NOW), KEY, now=NOW + tolerance + 1, tolerance=tolerance, replay_guard=guard
        )


def test_a_future_timestamp_is_remembered_until_it_would_be_stale() -> None:
    clock = [float(NOW)]
    guard = ReplayGuard(clock=lambda: clock[0])
    verify_callback(body(), headers(NOW + 300), KEY, now=NOW, replay_guard=guard)  # 300 s ahead: accepted
    clock[0] = NOW + 600  # the window still accepts NOW + 300 here
    with pytest.raises(kie.ReplayedCallbackError):
        verify_callback(body(), headers(NOW + 300), KEY, now=NOW + 600, replay_guard=guard)


@pytest.mark.parametrize(
    "tolerance",
    [math.nan, math.inf, -math.inf, -5, 0, True, "300", None],
    ids=["nan", "inf", "-inf", "negative", "zero", "bool", "str", "none"],
)
def test_tolerance_must_be_a_positive_finite_number(tolerance: Any) -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        verify_callback(body(), headers(), KEY, now=NOW, tolerance=tolerance)
    assert caught.value.field == "tolerance"


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf, "now", True], ids=str)
def test_now_must_be_a_finite_number(now: Any) -> None:
    # With now=nan every comparison is False: any timestamp would pass the window.
    with pytest.raises(kie.InvalidInputError) as caught:
        verify_callback(body(), headers(NOW - 10_000), KEY, now=now)
    assert caught.value.field == "now"


# ------------------------------------------------------------- header shapes (11.12, 17.4)


def _as_pairs(encode: bool) -> list[tuple[Any, Any]]:
    return [(k.encode(), v.encode()) if encode else (k, v) for k, v in headers().items()]


@pytest.mark.parametrize(
    "shape",
    [
        lambda: _as_pairs(False),
        lambda: _as_pairs(True),
        lambda: dict(_as_pairs(True)),
        lambda: [(k, v.encode()) for k, v in _as_pairs(False)],
        lambda: [("Content-Type", "application/json"), *_as_pairs(False)],
        lambda: tuple(_as_pairs(False)),
        lambda: httpx.Headers(headers()),
    ],
    ids=["str-pairs", "bytes-pairs", "bytes-mapping", "bytes-values", "other-headers", "tuple", "httpx"],
)
def test_headers_may_be_any_mapping_or_pairs_of_str_or_bytes(shape: Callable[[], Any]) -> None:
    assert verify_callback(body(), shape(), KEY, now=NOW).task_id == TASK


@pytest.mark.parametrize(
    "bad",
    [
        lambda: {**headers(), "X-Webhook-Timestamp": NOW},
        lambda: {**headers(), "X-Webhook-Signature": None},
        lambda: [(1, "x"), *headers().items()],
        lambda: ["X-Webhook-Timestamp"],
        lambda: 42,
        lambda: "X-Webhook-Timestamp: 1",
    ],
    ids=["int-value", "none-value", "int-name", "not-pairs", "int", "str"],
)
def test_headers_of_the_wrong_type_are_an_input_error(bad: Callable[[], Any]) -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        verify_callback(body(), bad(), KEY, now=NOW)
    assert caught.value.field == "headers"


def test_a_verification_header_given_twice_with_different_values_is_refused() -> None:
    pairs = [*headers().items(), ("x-webhook-timestamp", str(NOW + 1))]
    with pytest.raises(kie.MalformedCallbackError):
        verify_callback(body(), pairs, KEY, now=NOW)


# ------------------------------------------------------------- error wording (17.4)


def test_a_replay_says_acknowledge_and_do_nothing() -> None:
    guard = ReplayGuard()
    now = time.time()
    h = headers(int(now))
    verify_callback(body(), h, KEY, now=now, replay_guard=guard)
    with pytest.raises(kie.ReplayedCallbackError) as caught:
        verify_callback(body(), h, KEY, now=now, replay_guard=guard)
    text = str(caught.value)
    assert "200" in text
    assert "do nothing" in text
    assert "resume" not in text
    assert "client.wait" not in text


@pytest.mark.parametrize(
    "error",
    [
        kie.WebhookVerificationError,
        webhooks.MissingHeaderError,
        webhooks.BadTimestampError,
        webhooks.StaleTimestampError,
        webhooks.FutureTimestampError,
        webhooks.BadSignatureError,
        kie.MalformedCallbackError,
        kie.ReplayedCallbackError,
    ],
)
def test_no_verification_error_claims_to_be_resumable(error: type[kie.WebhookVerificationError]) -> None:
    exc = error("x", task_id="task_9")
    assert exc.resumable is False
    assert "client.wait" not in str(exc)


# ------------------------------------------------------------- the shipped receivers (17.2)


class Harness:
    """Real HTTP requests to one receiver, through httpx's ASGI or WSGI transport."""

    def __init__(self, kind: str, make: Callable[..., Any], **options: Any) -> None:
        self.kind = kind
        self.calls: list[Any] = []
        self.done = threading.Event()

        def handler(argument: Any) -> None:
            self.calls.append(argument)
            self.done.set()

        self.app = make(handler, key=KEY, **options)

    def post(
        self, content: bytes, head: Mapping[str, str] | None = None, method: str = "POST"
    ) -> httpx.Response:
        self.done.clear()
        if self.kind == "wsgi":
            with httpx.Client(transport=httpx.WSGITransport(app=self.app), base_url="http://app") as client:
                response = client.request(method, "/kie/callback", content=content, headers=head)
            if response.status_code == 200 and response.text == "ok":
                assert self.done.wait(5)
            return response

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                return await client.request(method, "/kie/callback", content=content, headers=head)

        return asyncio.run(go())


@pytest.fixture(params=["asgi", "wsgi"])
def harness(request: pytest.FixtureRequest) -> Harness:
    make = webhooks.asgi_receiver if request.param == "asgi" else webhooks.wsgi_receiver
    return Harness(request.param, make)


def live_headers(offset: int = 0, task_id: str = TASK) -> dict[str, str]:
    return headers(int(time.time()) + offset, task_id)


def test_receiver_calls_the_handler_once_with_the_verified_callback(harness: Harness) -> None:
    h = live_headers()
    response = harness.post(body(), h)
    assert (response.status_code, response.text) == (200, "ok")
    (callback,) = harness.calls
    assert isinstance(callback, VerifiedCallback)
    assert (callback.task_id, callback.timestamp) == (TASK, int(h["X-Webhook-Timestamp"]))
    # kie.ai delivers again: acknowledged, not processed
    replay = harness.post(body(), h)
    assert (replay.status_code, replay.text) == (200, "already processed")
    assert len(harness.calls) == 1


@pytest.mark.parametrize(
    ("request_of", "status"),
    [
        (lambda: (body(), {**live_headers(), "X-Webhook-Signature": signature(TASK, "1", "other")}), 401),
        (lambda: (body(), {k: v for k, v in live_headers().items() if "Signature" not in k}), 401),
        (lambda: (body(), live_headers(-301)), 401),
        (lambda: (body(), live_headers(+301)), 401),
        (lambda: (b"{not json", live_headers()), 400),
        (lambda: (json.dumps({"data": {}}).encode(), live_headers()), 400),
    ],
    ids=["forged", "unsigned", "stale", "future", "not-json", "no-task-id"],
)
def test_receiver_refuses_and_never_calls_the_handler(
    harness: Harness, request_of: Callable[[], tuple[bytes, dict[str, str]]], status: int
) -> None:
    content, head = request_of()
    response = harness.post(content, head)
    assert response.status_code == status
    assert KEY not in response.text
    assert harness.calls == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_receiver_answers_405_to_anything_but_post(harness: Harness, method: str) -> None:
    response = harness.post(b"", live_headers(), method=method)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert harness.calls == []


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_receiver_caps_the_body(kind: str) -> None:
    make = webhooks.asgi_receiver if kind == "asgi" else webhooks.wsgi_receiver
    harness = Harness(kind, make, max_body_bytes=150)
    padded = body(padding="x" * 200)
    assert harness.post(padded, live_headers()).status_code == 413
    assert harness.calls == []
    assert harness.post(body({"taskId": TASK, "state": "success"}), live_headers()).status_code == 200


def test_asgi_receiver_caps_a_body_sent_without_a_length() -> None:
    # A chunked body (no Content-Length) is counted as it arrives and refused once over the cap.
    harness = Harness("asgi", webhooks.asgi_receiver, max_body_bytes=100)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 50

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=harness.app), base_url="http://a"
        ) as c:
            return await c.post("/kie/callback", content=chunks(), headers=live_headers())

    assert asyncio.run(go()).status_code == 413


@pytest.mark.parametrize("make", [webhooks.asgi_receiver, webhooks.wsgi_receiver], ids=["asgi", "wsgi"])
def test_receivers_refuse_to_start_without_a_key(
    make: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIE_WEBHOOK_HMAC_KEY", raising=False)
    with pytest.raises(kie.InvalidInputError) as caught:
        make(print)
    assert "KIE_WEBHOOK_HMAC_KEY" in str(caught.value)
    with pytest.raises(kie.InvalidInputError):
        make(print, key="")
    with pytest.raises(kie.InvalidInputError):
        make(print, key=KEY, tolerance=-5)
    monkeypatch.setenv("KIE_WEBHOOK_HMAC_KEY", KEY)
    make(print)  # the environment's key is enough


def test_receivers_take_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_WEBHOOK_HMAC_KEY", KEY)
    calls: list[Any] = []

    async def on_callback(callback: VerifiedCallback) -> None:
        calls.append(callback)

    app = webhooks.asgi_receiver(on_callback)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
            return await c.post("/kie/callback", content=body(), headers=live_headers())

    assert asyncio.run(go()).status_code == 200
    assert [c.task_id for c in calls] == [TASK]


def test_asgi_handler_runs_after_the_response_is_sent() -> None:
    events: list[str] = []

    async def on_callback(callback: VerifiedCallback) -> None:
        events.append(f"handler {callback.task_id}")

    receiver = webhooks.asgi_receiver(on_callback, key=KEY)

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        async def send_and_record(message: Any) -> None:
            events.append(message["type"] + ("" if message.get("more_body") else " (complete)"))
            await send(message)

        await receiver(scope, receive, send_and_record)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=recording), base_url="http://a") as c:
            return await c.post("/kie/callback", content=body(), headers=live_headers())

    assert asyncio.run(go()).status_code == 200
    assert events == [
        "http.response.start (complete)",
        "http.response.body (complete)",
        f"handler {TASK}",
    ]


def test_wsgi_reply_does_not_wait_for_the_handler() -> None:
    gate = threading.Event()
    seen: list[str] = []

    def slow(callback: VerifiedCallback) -> None:
        gate.wait(10)  # the handler cannot finish until the test has its response
        seen.append(callback.task_id)

    receiver = webhooks.wsgi_receiver(slow, key=KEY)
    with httpx.Client(transport=httpx.WSGITransport(app=receiver), base_url="http://a") as client:
        started = time.monotonic()
        response = client.post("/kie/callback", content=body(), headers=live_headers())
        assert time.monotonic() - started < 5
    assert response.status_code == 200
    assert seen == []
    gate.set()
    receiver.shutdown()
    assert seen == [TASK]


def test_a_failing_handler_is_logged_with_the_task_id(caplog: pytest.LogCaptureFixture) -> None:
    def broken(callback: VerifiedCallback) -> None:
        raise RuntimeError("database down")

    receiver = webhooks.wsgi_receiver(broken, key=KEY)
    with httpx.Client(transport=httpx.WSGITransport(app=receiver), base_url="http://a") as client:
        assert client.post("/kie/callback", content=body(), headers=live_headers()).status_code == 200
    receiver.shutdown()
    (entry,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert TASK in entry.getMessage()
    assert "client.wait" in entry.getMessage()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(schedule=Schedule.instant(), webhook_hmac_key=KEY) as emulator:
        yield emulator


def _finished_task(emulator: Emulator) -> str:
    with emulator.client() as client:
        task_id = client.edit([SAMPLES / "person.png"], "p", wait=False).task_id
        client.wait(task_id)
    return task_id


@pytest.mark.parametrize("kind", ["asgi-async-client", "asgi-sync-client", "wsgi"])
def test_with_a_client_the_handler_gets_the_record_read_from_kie(emulator: Emulator, kind: str) -> None:
    # The body claims failure; the task succeeded. The handler sees what kie.ai says, not the body.
    task_id = _finished_task(emulator)
    forged = body(record("fail", task_id=task_id, failCode="500", failMsg="forged"))
    got: list[kie.TaskInfo] = []
    if kind == "wsgi":
        with emulator.client() as sync_client:
            receiver = webhooks.wsgi_receiver(got.append, key=KEY, client=sync_client)
            with httpx.Client(transport=httpx.WSGITransport(app=receiver), base_url="http://a") as c:
                response = c.post("/kie/callback", content=forged, headers=live_headers(task_id=task_id))
            receiver.shutdown()
    else:

        async def go() -> httpx.Response:
            client: kie.AsyncClient | kie.Client = (
                emulator.async_client() if kind == "asgi-async-client" else emulator.client()
            )
            app = webhooks.asgi_receiver(got.append, key=KEY, client=client)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
                reply = await c.post("/kie/callback", content=forged, headers=live_headers(task_id=task_id))
            if isinstance(client, kie.AsyncClient):
                await client.aclose()
            else:
                client.close()
            return reply

        response = asyncio.run(go())
    assert response.status_code == 200
    (info,) = got
    assert info.task_id == task_id
    assert info.state is kie.TaskState.SUCCESS
    assert emulator.call_count("get-task-details") >= 1


def test_wsgi_receiver_refuses_an_async_client(emulator: Emulator) -> None:
    async def go() -> None:
        async with emulator.async_client() as client:
            with pytest.raises(kie.InvalidInputError):
                webhooks.wsgi_receiver(print, key=KEY, client=client)  # type: ignore[call-overload]

    asyncio.run(go())


# ------------------------------------------------------------- examples and README


def test_starlette_example_mounts_the_receiver(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from examples import starlette_receiver

    monkeypatch.delenv("KIE_WEBHOOK_HMAC_KEY", raising=False)
    monkeypatch.setenv("KIE_API_KEY", "k")
    with pytest.raises(kie.InvalidInputError):  # no key: fails at start-up, not on each callback
        starlette_receiver.main()
    task_id = _finished_task(emulator)
    got: list[kie.TaskInfo] = []

    async def go() -> list[int]:
        async with emulator.async_client() as client:
            app = starlette_receiver.create_app(got.append, client=client, key=KEY)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://a") as c:
                h = live_headers(task_id=task_id)
                statuses = [
                    (
                        await c.post(
                            "/kie/callback", content=body(record("success", task_id=task_id)), headers=h
                        )
                    ).status_code
                ]
                statuses.append(
                    (
                        await c.post(
                            "/kie/callback", content=body(record("success", task_id=task_id)), headers=h
                        )
                    ).status_code
                )
                forged = {**h, "X-Webhook-Signature": signature(task_id, h["X-Webhook-Timestamp"], "x")}
                statuses.append(
                    (
                        await c.post(
                            "/kie/callback", content=body(record("success", task_id=task_id)), headers=forged
                        )
                    ).status_code
                )
                return statuses

    assert asyncio.run(go()) == [200, 200, 401]
    assert [i.task_id for i in got] == [task_id]
    assert got[0].state is kie.TaskState.SUCCESS


def test_flask_example_mounts_the_receiver(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from examples import flask_receiver

    monkeypatch.delenv("KIE_WEBHOOK_HMAC_KEY", raising=False)
    monkeypatch.setenv("KIE_API_KEY", "k")
    with pytest.raises(kie.InvalidInputError):
        flask_receiver.main()
    task_id = _finished_task(emulator)
    got: list[kie.TaskInfo] = []
    with emulator.client() as client:
        app, receiver = flask_receiver.create_app(got.append, client=client, key=KEY)
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://a") as c:
            h = live_headers(task_id=task_id)
            assert (
                c.post(
                    "/kie/callback", content=body(record("success", task_id=task_id)), headers=h
                ).status_code
                == 200
            )
            assert (
                c.post(
                    "/kie/callback", content=body(record("success", task_id=task_id)), headers=h
                ).status_code
                == 200
            )
            assert c.get("/").status_code == 200  # the app's own routes still work
        receiver.shutdown()
    assert [i.task_id for i in got] == [task_id]


README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_receiver_runs_as_written(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    section = README.split("## Receiving callbacks")[1].split("\n## ")[0]
    assert "KIE_WEBHOOK_HMAC_KEY" in section
    assert "Settings" in section  # where kie.ai's key is found
    assert "create_task" in section  # a callback may arrive before create_task returns
    (snippet,) = re.findall(r"```python\n(.*?)```", section, re.S)
    # The snippet's AsyncClient talks to the emulator instead of kie.ai; everything else runs as written.
    wired = emulator.async_client()
    monkeypatch.setattr(kie, "AsyncClient", lambda: wired)
    monkeypatch.setenv("KIE_WEBHOOK_HMAC_KEY", KEY)
    monkeypatch.delenv("KIE_API_KEY", raising=False)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    task_id = _finished_task(emulator)

    async def go() -> int:
        transport = httpx.ASGITransport(app=namespace["app"])
        async with wired, httpx.AsyncClient(transport=transport, base_url="http://a") as c:
            reply = await c.post(
                "/kie/callback",
                content=body(record("success", task_id=task_id)),
                headers=live_headers(task_id=task_id),
            )
        return reply.status_code

    assert asyncio.run(go()) == 200
    assert task_id in capsys.readouterr().out


def test_key_that_is_not_text_is_an_input_error() -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        verify_callback(body(), headers(), "\ud800", now=NOW)
    assert caught.value.field == "key"
    with pytest.raises(kie.InvalidInputError):
        webhooks.wsgi_receiver(print, key="\ud800")


def test_emulator_delivers_to_the_wsgi_receiver_on_a_real_socket() -> None:
    # End to end on loopback: the emulator signs and POSTs the callback to a wsgiref server running the
    # receiver, which reads the task back from the emulator and hands it over after replying.
    got: list[kie.TaskInfo] = []
    arrived = threading.Event()

    def on_task(info: kie.TaskInfo) -> None:
        got.append(info)
        arrived.set()

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with (
        Emulator(schedule=Schedule.instant(), webhook_hmac_key=KEY) as emulator,
        emulator.serve(port=0) as server,
        kie.Client(
            api_key=emulator.api_key,
            base_url=server.base_url,
            upload_base_url=server.upload_base_url,
            allow_http_callback=True,
        ) as client,
    ):
        receiver = webhooks.wsgi_receiver(on_task, key=KEY, client=client)
        httpd = make_server("127.0.0.1", 0, receiver, handler_class=Quiet)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{httpd.server_address[1]}/kie/callback"
            task = client.edit([SAMPLES / "person.png"], "p", callback_url=url, wait=False)
            assert arrived.wait(10)
        finally:
            httpd.shutdown()
            httpd.server_close()
            receiver.shutdown()
        (info,) = got
        assert info == client.get_task(task.task_id)
        assert info.state is kie.TaskState.SUCCESS


def test_asgi_receiver_answers_lifespan_so_it_can_be_served_alone() -> None:
    receiver = webhooks.asgi_receiver(print, key=KEY)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Any] = []

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    asyncio.run(receiver({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.parametrize("make", [webhooks.asgi_receiver, webhooks.wsgi_receiver], ids=["asgi", "wsgi"])
def test_receivers_check_their_arguments_at_start_up(make: Callable[..., Any]) -> None:
    for bad in ({"max_body_bytes": 0}, {"tolerance": math.nan}, {"client": object()}):
        with pytest.raises(kie.InvalidInputError):
            make(print, key=KEY, **bad)
    with pytest.raises(kie.InvalidInputError):
        make("not a function", key=KEY)
