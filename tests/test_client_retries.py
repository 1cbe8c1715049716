"""Retries: exact sleep sequences, Retry-After, and createTask never paid twice."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from fake_kie import FakeKie, Harness, envelope, image_bytes, record

import kie_gpt_image as kie


def test_reads_retry_with_exponential_jittered_backoff(harness: Harness) -> None:
    harness.fake.script(
        "record",
        httpx.ConnectError("refused"),
        httpx.Response(503, content=b"<html>unavailable</html>"),
        envelope(data=record("success")),
    )
    info = harness("get_task", "task_1")
    assert info.state is kie.TaskState.SUCCESS
    assert len(harness.fake.calls("record")) == 3
    # rand() is 0.5: attempt n sleeps 0.5 * min(8, 0.5 * 2**n)
    assert harness.sleeps == [0.25, 0.5]


def test_retries_stop_after_max_retries(harness: Harness) -> None:
    harness.fake.script("record", *[httpx.Response(500, content=b"oops") for _ in range(5)])
    with pytest.raises(kie.ServerError):
        harness("get_task", "task_1")
    assert len(harness.fake.calls("record")) == 3  # 1 + max_retries (2)
    assert harness.sleeps == [0.25, 0.5]


def test_retry_after_is_honoured_and_capped(fake_kie: FakeKie, make_harness, mode: str) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode, retry_policy=kie.RetryPolicy(max_retries=3, max_retry_after=30))
    fake_kie.script(
        "credit",
        envelope(429, None, msg="slow down", **{"Retry-After": "7"}),
        envelope(429, None, msg="slow down", **{"Retry-After": "120"}),
        envelope(data=42),
    )
    assert h("credits") == 42
    assert h.sleeps == [7.0, 30.0]


@pytest.mark.parametrize(
    "reply",
    [envelope(401, None), envelope(402, None), envelope(422, None), envelope(505, None), envelope(501, None)],
    ids=["401", "402", "422", "505", "501"],
)
def test_definitive_answers_are_not_retried(harness: Harness, reply: httpx.Response) -> None:
    harness.fake.script("record", reply)
    with pytest.raises(kie.APIError):
        harness("get_task", "task_1")
    assert len(harness.fake.calls("record")) == 1
    assert harness.sleeps == []


def test_read_timeout_after_create_was_sent_is_outcome_unknown_and_not_resent(harness: Harness) -> None:
    harness.fake.script("create", httpx.ReadTimeout("timed out"))
    with pytest.raises(kie.SubmissionOutcomeUnknownError) as caught:
        harness("create_task", ["https://example.com/a.png"], "make it blue")
    assert len(harness.fake.calls("create")) == 1
    assert "outcome is unknown" in str(caught.value)
    assert "make it blue" in caught.value.request_summary
    assert isinstance(caught.value.cause, kie.RequestTimeoutError)


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(502, content=b"<html>bad gateway</html>"),
        envelope(500, None, msg="internal"),
        httpx.Response(200, content=b'{"code": 200, "data": {"ta'),
        httpx.RemoteProtocolError("server disconnected"),
        envelope(200, None),
    ],
    ids=["html-502", "body-500", "truncated", "dropped-after-send", "data-null"],
)
def test_create_failures_after_sending_are_never_retried(harness: Harness, reply: httpx.Response) -> None:
    harness.fake.script("create", reply)
    with pytest.raises(kie.SubmissionOutcomeUnknownError):
        harness("create_task", ["https://example.com/a.png"], "p")
    assert len(harness.fake.calls("create")) == 1
    assert harness.sleeps == []


@pytest.mark.parametrize(
    "first",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        envelope(429, None, msg="rate limited"),
        envelope(455, None, msg="maintenance"),
    ],
    ids=["connect-refused", "connect-timeout", "429", "455"],
)
def test_create_is_retried_only_when_it_provably_was_not_accepted(
    harness: Harness, first: httpx.Response
) -> None:
    harness.fake.script("create", first)
    task = harness("create_task", ["https://example.com/a.png"], "p")
    assert task.task_id == "task_1"
    assert len(harness.fake.calls("create")) == 2
    assert len(harness.sleeps) == 1


def test_create_answered_429_is_resent_past_the_retries_until_accepted(harness: Harness) -> None:
    # kie.ai did not accept a createTask it answered 429, so resending it costs nothing: the client
    # waits for the create window to reopen instead of failing after max_retries (2).
    harness.fake.script("create", *[envelope(429, None, msg="rate limited") for _ in range(6)])
    with pytest.warns(kie.CreateRefusedWarning, match="6 times"):  # refused for more than 5 s
        task = harness("create_task", ["https://example.com/a.png"], "p")
    assert task.task_id == "task_1"
    assert len(harness.fake.calls("create")) == 7


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_create_answered_429_until_the_deadline_is_a_rate_limit_error(
    make_harness: Callable[..., Harness], mode: str
) -> None:
    # The create step's own deadline, not the wait's (poll_policy's 15 minutes): issue 24 item 1.
    harness = make_harness(mode, create_timeout=20)
    harness.fake.script("create", *[envelope(429, None, msg="rate limited") for _ in range(100)])
    with pytest.warns(kie.CreateRefusedWarning), pytest.raises(kie.RateLimitError, match="after 20 s"):
        harness("create_task", ["https://example.com/a.png"], "p")
    assert 3 < len(harness.fake.calls("create")) < 100
    assert sum(harness.sleeps) < 20  # no resend starts after the call's deadline


@pytest.mark.parametrize("code", [401, 402, 422, 505])
def test_create_rejections_are_plain_api_errors(harness: Harness, code: int) -> None:
    harness.fake.script("create", envelope(code, None, msg="no"))
    with pytest.raises(kie.APIError) as caught:
        harness("create_task", ["https://example.com/a.png"], "p")
    assert not isinstance(caught.value, kie.SubmissionOutcomeUnknownError)
    assert caught.value.code == code
    assert len(harness.fake.calls("create")) == 1


def test_uploads_are_retried_and_resend_the_whole_file(harness: Harness) -> None:
    # A complete PNG (inputs are checked up to IEND), then every byte value (tolerated after IEND).
    png = image_bytes("PNG") + bytes(range(256)) * 4
    harness.fake.script("upload-stream", httpx.ReadError("reset"), httpx.Response(500, content=b"err"))
    harness("upload", png)
    calls = harness.fake.calls("upload-stream")
    assert len(calls) == 3
    assert all(png in call.content for call in calls)


def test_polling_survives_transient_errors(harness: Harness) -> None:
    harness.fake.script(
        "record",
        envelope(data=record("generating")),
        httpx.Response(502, content=b"<html>bad gateway</html>"),
        envelope(data=record("success")),
    )
    seen: list[kie.TaskInfo] = []
    result = harness("wait", "task_1", on_progress=seen.append)
    assert result.urls
    # The failed poll is ridden out on the poll schedule (never faster than it), and reported.
    assert harness.sleeps == [2.0, 2.0]
    assert [(i.state, type(i.poll_error).__name__) for i in seen] == [
        (kie.TaskState.GENERATING, "NoneType"),
        (kie.TaskState.GENERATING, "ServerError"),
        (kie.TaskState.SUCCESS, "NoneType"),
    ]


@pytest.mark.parametrize(
    "blip",
    [
        httpx.Response(503, content=b"<html>unavailable</html>"),
        envelope(500, None, msg="Server error"),
        envelope(429, None, msg="slow down"),
        envelope(455, None, msg="maintenance"),
        httpx.ConnectError("down"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["503", "500", "429", "455", "connect", "timeout"],
)
def test_a_wait_rides_out_a_long_blip_until_its_own_deadline(
    harness: Harness, blip: httpx.Response | Exception, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 11 item 17: 30 s of failing polls (far more than max_retries) do not end the wait.
    harness.fake.script("record", envelope(data=record("generating")), *[blip] * 15)
    result = harness("wait", "task_1")
    assert result.urls
    assert len(harness.fake.calls("record")) == 17
    assert "waiting goes on until its deadline" in caplog.text


def test_a_blip_that_outlasts_the_wait_ends_at_its_deadline_naming_the_task(harness: Harness) -> None:
    harness.fake.script("record", *[httpx.ConnectError("down") for _ in range(100)])
    with pytest.raises(kie.WaitTimeoutError) as caught:
        harness("wait", "task_42", timeout=10)
    assert caught.value.task_id == "task_42"
    assert "task_42" in str(caught.value)
    assert isinstance(caught.value.__cause__, kie.TransportError)
    assert sum(harness.sleeps) == 10


def test_an_unreadable_poll_is_retried_then_names_the_task(harness: Harness) -> None:
    harness.fake.script("record", *[httpx.Response(200, content=b"not json") for _ in range(3)])
    with pytest.raises(kie.UnexpectedResponseError) as caught:
        harness("wait", "task_42")
    assert caught.value.task_id == "task_42"
    assert len(harness.fake.calls("record")) == 3


def test_retry_policy_holds_only_timing() -> None:
    policy = kie.RetryPolicy(max_retries=3, base_delay=1, max_delay=3, max_retry_after=5)
    assert [policy.backoff(n, rand=lambda: 0.999) for n in range(4)] == [0.999, 1.998, 2.997, 2.997]
    assert policy.backoff(0, retry_after=30) == 5
    assert not hasattr(policy, "retryable")


def test_edit_body_is_valid_json_once(harness: Harness) -> None:
    harness("edit", ["https://example.com/a.png"], "p")
    assert json.loads(harness.fake.calls("create")[0].content)["model"] == kie.DEFAULT_EDIT_MODEL
