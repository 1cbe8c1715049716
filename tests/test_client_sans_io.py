"""The flow with no driver at all: effects are read with ``next`` and answered with ``send``, as httpx
tests its auth flows. Retries, the paid request and the poll schedule, step by step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fake_kie import envelope, record

import kie_gpt_image as kie
from kie_gpt_image._attempt import Fail, Failure, OutcomeUnknown, Retry, classify, decide
from kie_gpt_image._flow import Effect, Fetch, Flow, Flows, Send, Sleep

CREATE = ("https://example.com/a.png",)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _flows(clock: Callable[[], float] | None = None, **poll: float) -> Flows:
    return Flows(
        retry=kie.RetryPolicy(max_retries=2, base_delay=1.0),
        poll=kie.PollPolicy(**poll),
        clock=clock or Clock(),
        rand=lambda: 0.5,
        upload_path="p",
    )


def _reply(response: httpx.Response, request: Send) -> httpx.Response:
    response.read()
    response.request = httpx.Request(request.request.kwargs["method"], "https://api.kie.ai/x")
    return response


def _finish(flow: Flow[Any], value: Any) -> Any:
    with pytest.raises(StopIteration) as stop:
        flow.send(value)
    return stop.value.value


def test_a_read_is_retried_after_backoff_then_returns() -> None:
    flow = _flows().credits()
    first = next(flow)
    assert isinstance(first, Send)
    assert (first.request.operation, first.attempt) == ("get-account-credits", 0)
    assert flow.send(httpx.ConnectError("refused")) == Sleep(0.5)  # rand 0.5 x base 1.0
    second = flow.send(None)
    assert isinstance(second, Send)
    assert second.attempt == 1
    assert flow.send(_reply(envelope(500, None), second)) == Sleep(1.0)  # 0.5 x 2
    third = flow.send(None)
    assert isinstance(third, Send)
    assert _finish(flow, _reply(envelope(data=7), third)) == 7


def test_retries_run_out_with_the_last_error() -> None:
    flow = _flows().credits()
    effect: Effect = next(flow)
    for _ in range(2):
        assert isinstance(flow.send(httpx.ReadTimeout("slow")), Sleep)
        effect = flow.send(None)
    assert isinstance(effect, Send)
    with pytest.raises(kie.RequestTimeoutError):
        flow.send(httpx.ReadTimeout("slow"))


def _create(flows: Flows) -> Flow[kie.Task]:
    input_ = {"input_urls": list(CREATE), "prompt": "a prompt", "aspect_ratio": "1:1", "quality": "medium"}
    return flows.create_task(kie.DEFAULT_EDIT_MODEL, input_, None)


def test_the_paid_request_is_never_resent_once_it_may_have_been_processed() -> None:
    flow = _create(_flows())
    send = next(flow)
    assert isinstance(send, Send)
    assert send.request.paid
    with pytest.raises(kie.SubmissionOutcomeUnknownError) as caught:
        flow.send(httpx.ReadTimeout("reply lost"))
    assert "a prompt" in caught.value.request_summary
    assert isinstance(caught.value.cause, kie.RequestTimeoutError)


def test_the_paid_request_is_resent_when_not_accepted_and_keeps_a_named_task_id() -> None:
    flow = _create(_flows())
    send = next(flow)
    assert isinstance(send, Send)
    assert flow.send(_reply(envelope(429, None, **{"Retry-After": "3"}), send)) == Sleep(3.0)
    again = flow.send(None)
    assert isinstance(again, Send)
    # 520 around a success envelope: maybe processed, never resent, and the id reaches the user.
    with pytest.raises(kie.SubmissionOutcomeUnknownError) as caught:
        flow.send(_reply(envelope(data={"taskId": "task_9"}, status=520), again))
    assert caught.value.task_id == "task_9"


def test_a_lone_surrogate_task_id_from_create_reaches_the_user_escaped() -> None:
    # Issue 11 item 2: the id cannot be sent back (recordInfo), yet it names a paid task.
    flow = _create(_flows())
    send = next(flow)
    assert isinstance(send, Send)
    reply = httpx.Response(200, content=b'{"code":200,"msg":"ok","data":{"taskId":"t\\ud800x"}}')
    with pytest.raises(kie.SubmissionOutcomeUnknownError) as caught:
        flow.send(_reply(reply, send))
    assert caught.value.task_id == "t\\ud800x"
    assert "t\\ud800x" in str(caught.value)
    str(caught.value).encode("utf-8")  # printable anywhere


def _wait_out(flow: Flow[Any], clock: Clock, state: str = "generating") -> tuple[list[float], list[Send]]:
    """Answer every poll with ``state`` and every sleep by moving the clock, until the wait times out."""
    sleeps: list[float] = []
    sends: list[Send] = []

    def drive() -> None:
        value: Any = None
        while True:
            effect = flow.send(value)
            value = None
            if isinstance(effect, Send):
                sends.append(effect)
                value = _reply(envelope(data=record(state, task_id="task_1")), effect)
            elif isinstance(effect, Sleep):
                sleeps.append(effect.seconds)
                clock.now += effect.seconds

    with pytest.raises(kie.WaitTimeoutError) as caught:
        drive()
    assert caught.value.task_id == "task_1"
    return sleeps, sends


def test_the_poll_schedule_and_the_wait_deadline_come_from_one_place() -> None:
    clock = Clock()
    sleeps, sends = _wait_out(_flows(clock, timeout=900).wait("task_1", timeout=40), clock)
    assert sleeps == [2.0] * 15 + [5.0, 5.0]  # every 2 s for the first 30 s, then every 5 s
    assert sum(sleeps) == 40  # the last poll lands on the deadline
    # each poll in flight is bounded to the wait's time left (at least half a second for the last)
    assert [s.max_seconds for s in sends] == [
        max(40 - t, 0.5) for t in [0, *[2.0 * i for i in range(1, 16)], 35, 40]
    ]


@pytest.mark.parametrize(("timeout", "expected"), [(3600, 3600), (60, 60), (None, 900)])
def test_wait_timeout_overrides_the_policy_larger_or_smaller(timeout: float | None, expected: float) -> None:
    # Issue 10: wait(timeout=3600) used to end at the policy's 900 s.
    clock = Clock()
    flows = _flows(clock, timeout=900, early_interval=50, middle_interval=50, late_interval=50)
    sleeps, _ = _wait_out(flows.wait("task_1", timeout=timeout), clock)
    assert sum(sleeps) == expected


def test_a_download_failure_is_retried_and_a_stall_is_a_download_error() -> None:
    from kie_gpt_image._download import MemorySink

    sink = MemorySink("https://files.example/r.png", 1000)
    flow = _flows().fetch(sink.url, sink, "task_1")
    fetch = next(flow)
    assert isinstance(fetch, Fetch)
    assert isinstance(flow.send(kie.DownloadError("502", url=sink.url, retryable=True)), Sleep)
    assert isinstance(flow.send(None), Fetch)
    assert isinstance(flow.send(httpx.ReadTimeout("stalled")), Sleep)
    assert isinstance(flow.send(None), Fetch)
    with pytest.raises(kie.DownloadError) as caught:
        flow.send(httpx.ReadTimeout("stalled"))
    assert caught.value.task_id == "task_1"
    assert "stalled or was too slow" in str(caught.value)


def test_a_local_error_is_raised_at_once_without_resume_advice() -> None:
    from kie_gpt_image._download import MemorySink

    sink = MemorySink("https://files.example/r.png", 1000)
    flow = _flows().fetch(sink.url, sink, "task_1")
    next(flow)
    with pytest.raises(kie.DestinationError) as caught:
        flow.send(kie.DestinationError("disk full", path="/x"))
    assert caught.value.task_id == "task_1"
    assert "resume" not in str(caught.value)


# ------------------------------------------------------------------------------------------ the decider


def _failure(error: kie.KieError | Exception, operation: str = "get-task-details") -> Failure:
    return classify(error, operation)


POLICY = kie.RetryPolicy(max_retries=2)


@pytest.mark.parametrize(
    ("outcome", "paid", "expected"),
    [
        (httpx.ConnectError("refused"), True, Retry),  # never sent
        (httpx.ConnectTimeout("slow"), True, Retry),
        (kie.RateLimitError("x", code=429, operation="c"), True, Retry),  # not accepted
        (kie.MaintenanceError("x", code=455, operation="c"), True, Retry),
        (httpx.ReadTimeout("x"), True, OutcomeUnknown),  # maybe processed
        (httpx.RemoteProtocolError("x"), True, OutcomeUnknown),
        (kie.ServerError("x", code=500, operation="c"), True, OutcomeUnknown),
        (kie.UnexpectedResponseError("x", operation="c", status_code=200, body=b""), True, OutcomeUnknown),
        (kie.AuthenticationError("x", code=401, operation="c"), True, Fail),  # definitive answers
        (kie.BadRequestError("x", code=400, operation="c"), True, Fail),
        (httpx.ReadTimeout("x"), False, Retry),  # reads retried
        (kie.ServerError("x", code=500, operation="c"), False, Retry),
        (kie.FeatureDisabledError("x", code=505, operation="c"), False, Fail),
        (kie.ReplyTooLargeError(operation="c", cap=10), False, Fail),
    ],
)
def test_the_decider_table(outcome: Exception, paid: bool, expected: type) -> None:
    decision = decide(0, _failure(outcome), paid=paid, policy=POLICY, rand=lambda: 0.5)
    assert isinstance(decision, expected)
    # and no retry is left after the last attempt
    assert isinstance(
        decide(2, _failure(outcome), paid=paid, policy=POLICY, rand=lambda: 0.5), (Fail, OutcomeUnknown)
    )


def test_local_errors_are_not_classified() -> None:
    with pytest.raises(kie.DestinationError):
        classify(kie.DestinationError("disk full", path="/x"), "download")
    with pytest.raises(OSError, match="local"):
        classify(OSError("local"), "download")
