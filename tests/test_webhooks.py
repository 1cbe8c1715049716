"""Callback verification: known-answer vectors computed here with the standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from fake_kie import record

import kie_gpt_image as kie
from kie_gpt_image.webhooks import InMemoryReplayStore, ReplayGuard, verify_callback

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
    info = verify_callback(body(), headers(), KEY, now=NOW)
    assert info.task_id == TASK
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
        (lambda b, h: (b.replace(TASK.encode(), b"task_other"), h), kie.BadSignatureError),
        (lambda b, h: (b, {**h, "X-Webhook-Timestamp": str(NOW + 1)}), kie.BadSignatureError),
        (
            lambda b, h: (b, {**h, "X-Webhook-Signature": h["X-Webhook-Signature"][:-4]}),
            kie.BadSignatureError,
        ),
        (
            lambda b, h: (b, {**h, "X-Webhook-Signature": signature(TASK, str(NOW), "wrong-key")}),
            kie.BadSignatureError,
        ),
        (lambda b, h: (b, {"X-Webhook-Signature": h["X-Webhook-Signature"]}), kie.MissingHeaderError),
        (lambda b, h: (b, {"X-Webhook-Timestamp": h["X-Webhook-Timestamp"]}), kie.MissingHeaderError),
        (lambda b, h: (b, {**h, "X-Webhook-Timestamp": "yesterday"}), kie.BadTimestampError),
        (lambda b, h: (b, {**h, "X-Webhook-Timestamp": "-5"}), kie.BadTimestampError),
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
    [(-300, None), (300, None), (-301, kie.FutureTimestampError), (301, kie.StaleTimestampError)],
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
    with pytest.raises(kie.ReplayedCallbackError) as caught:
        verify_callback(body(), headers(), KEY, now=NOW + 10, replay_guard=guard)
    assert caught.value.task_id == TASK
    # a new delivery (new timestamp) of the same task is accepted
    verify_callback(body(), headers(NOW + 20), KEY, now=NOW + 20, replay_guard=guard)
    # entries expire once a replay would be stale anyway
    clock[0] += 601
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


@pytest.mark.parametrize("framework", ["starlette", "flask"])
def test_example_receivers_verify_the_raw_body(framework: str) -> None:
    received: list[kie.TaskInfo] = []
    good = body()
    now_headers = headers(int(__import__("time").time()))
    if framework == "starlette":
        import asyncio

        import httpx

        from examples.starlette_receiver import create_app

        app = create_app(KEY, received.append)

        async def send(b: bytes, h: dict[str, str]) -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as c:
                return await c.post("/kie/callback", content=b, headers=h)

        post = lambda b, h: asyncio.run(send(b, h))  # noqa: E731
        status = lambda r: r.status_code  # noqa: E731
    else:
        from examples.flask_receiver import create_app as create_flask_app

        client = create_flask_app(KEY, received.append).test_client()
        post = lambda b, h: client.post("/kie/callback", data=b, headers=h)  # noqa: E731
        status = lambda r: r.status_code  # noqa: E731
    assert status(post(good, now_headers)) == 200
    assert [i.task_id for i in received] == [TASK]
    assert status(post(good, now_headers)) == 200  # a duplicate delivery: acknowledged, not processed
    assert len(received) == 1
    # the same JSON re-serialised differently would still verify (the signature covers id + time),
    # but a forged signature does not
    forged = {**now_headers, "X-Webhook-Signature": signature(TASK, now_headers["X-Webhook-Timestamp"], "x")}
    assert status(post(good, forged)) == 401
    assert len(received) == 1
