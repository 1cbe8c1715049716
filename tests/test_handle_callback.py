"""Issue 17 item 1 (client side): ``handle_callback`` verifies a callback, then trusts only kie.ai's own
record of the task (one recordInfo read), never the unsigned body."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from fake_kie import FILES, FakeKie, Harness, envelope, image_bytes, record

import kie_gpt_image as kie
from kie_gpt_image import webhooks
from kie_gpt_image._webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_callback

WEBHOOK_KEY = "whk-0123456789"
REAL_URL = f"{FILES}/r/real.png"


def _delivery(
    task_id: str = "task_1", *, key: str = WEBHOOK_KEY, age: int = 0
) -> tuple[bytes, dict[str, str]]:
    # The body claims a result kie.ai never produced: only the task id and timestamp are signed.
    body = json.dumps(
        {
            "code": 200,
            "msg": "ok",
            "data": record("success", task_id=task_id, urls=["https://evil.example/x.png"]),
        }
    ).encode()
    timestamp = int(time.time()) - age
    headers = {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign_callback(task_id, timestamp, key)}
    return body, headers


@pytest.fixture
def h(make_harness: Any, mode: str) -> Harness:
    harness: Harness = make_harness(mode, webhook_key=WEBHOOK_KEY)
    return harness


def test_a_verified_callback_returns_kie_ais_record_not_the_body(h: Harness, fake_kie: FakeKie) -> None:
    fake_kie.script("record", envelope(data=record("success", urls=[REAL_URL])))
    body, headers = _delivery()
    info = h("handle_callback", body, headers)
    assert isinstance(info, kie.TaskInfo)
    assert info.task_id == "task_1"
    assert info.result_urls == (REAL_URL,)
    assert [r.url.params["taskId"] for r in fake_kie.calls("record")] == ["task_1"], "one recordInfo read"


def test_a_replayed_delivery_is_refused_after_the_first(h: Harness, fake_kie: FakeKie) -> None:
    body, headers = _delivery()
    h("handle_callback", body, headers)
    with pytest.raises(kie.ReplayedCallbackError):
        h("handle_callback", body, list(headers.items()))  # headers as pairs, too
    assert len(fake_kie.calls("record")) == 2, "the window is recorded once the read succeeded"


def test_a_failed_read_leaves_the_redelivery_acceptable(h: Harness, fake_kie: FakeKie) -> None:
    # kie.ai delivers again when the receiver answers non-2xx: that redelivery must be processed.
    fake_kie.script("record", *[envelope(401, None, msg="bad key")])
    body, headers = _delivery()
    with pytest.raises(kie.AuthenticationError) as caught:
        h("handle_callback", body, headers)
    assert caught.value.task_id == "task_1"
    assert h("handle_callback", body, headers).task_id == "task_1"


@pytest.mark.parametrize(
    ("delivery", "error"),
    [
        (lambda: _delivery(key="some-other-key"), webhooks.BadSignatureError),
        (lambda: _delivery(age=3600), webhooks.StaleTimestampError),
        (lambda: (b"{}", {}), webhooks.MissingHeaderError),
    ],
)
def test_a_bad_callback_is_refused_before_any_read(
    h: Harness, fake_kie: FakeKie, delivery: Any, error: type[Exception]
) -> None:
    body, headers = delivery()
    with pytest.raises(error):
        h("handle_callback", body, headers)
    assert fake_kie.calls("record") == []


def test_the_key_comes_from_the_environment(
    fake_kie: FakeKie, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIE_WEBHOOK_HMAC_KEY", WEBHOOK_KEY)
    harness = Harness(mode, fake_kie)
    try:
        body, headers = _delivery()
        assert harness("handle_callback", body, headers).task_id == "task_1"
    finally:
        harness.finish()


def test_no_webhook_key_is_an_invalid_input_when_called(
    fake_kie: FakeKie, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIE_WEBHOOK_HMAC_KEY", raising=False)
    harness = Harness(mode, fake_kie)  # the client itself needs no webhook key
    try:
        body, headers = _delivery()
        with pytest.raises(kie.InvalidInputError, match="KIE_WEBHOOK_HMAC_KEY") as caught:
            harness("handle_callback", body, headers)
        assert caught.value.field == "webhook_key"
    finally:
        harness.finish()
    assert fake_kie.calls("record") == []


def test_a_tolerance_that_is_not_positive_is_refused(h: Harness) -> None:
    body, headers = _delivery()
    with pytest.raises(kie.InvalidInputError, match="tolerance"):
        h("handle_callback", body, headers, tolerance=-5)


def test_a_real_emulator_delivery_is_handled(mode: str) -> None:
    # The emulator signs as kie.ai does (reference §5): its delivery passes, and the record is re-read.
    from kie_gpt_image.emulator import Emulator, Schedule

    delivered: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        delivered.append(request)
        return httpx.Response(200)

    emulator = Emulator(
        schedule=Schedule.instant(),
        webhook_hmac_key=WEBHOOK_KEY,
        callback_transport=httpx.MockTransport(receiver),
    )
    with emulator, emulator.client() as client:
        task = client.create_task([image_bytes("PNG")], "p", callback_url="https://app.example/kie/callback")
        client.wait(task.task_id)
        emulator.deliver_due_callbacks()
    assert len(delivered) == 1
    reads_before = emulator.call_count("get-task-details")
    if mode == "sync":
        with emulator.client(webhook_key=WEBHOOK_KEY) as client:
            info = client.handle_callback(delivered[0].content, delivered[0].headers)
    else:

        async def handle() -> kie.TaskInfo:
            async with emulator.async_client(webhook_key=WEBHOOK_KEY) as client:
                return await client.handle_callback(delivered[0].content, delivered[0].headers)

        info = asyncio.run(handle())
    assert info.task_id == task.task_id
    assert info.state is kie.TaskState.SUCCESS
    assert emulator.call_count("get-task-details") == reads_before + 1


def test_a_webhook_key_that_is_not_text_is_refused_at_construction() -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        kie.Client(api_key="k" * 20, webhook_key="\ud800")
    assert caught.value.field == "webhook_key"


def test_the_client_and_the_receivers_read_the_same_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from kie_gpt_image import webhooks

    assert webhooks.WEBHOOK_KEY_ENV == "KIE_WEBHOOK_HMAC_KEY"
    monkeypatch.delenv(webhooks.WEBHOOK_KEY_ENV, raising=False)
    with pytest.raises(kie.InvalidInputError):
        webhooks.wsgi_receiver(lambda info: None)  # no key anywhere
    assert kie.Client(api_key="k" * 20).settings.webhook_key is None
    monkeypatch.setenv(webhooks.WEBHOOK_KEY_ENV, "w" * 32)
    webhooks.wsgi_receiver(lambda info: None)  # found it
    key = kie.Client(api_key="k" * 20).settings.webhook_key
    assert key is not None
    assert key.reveal() == "w" * 32
