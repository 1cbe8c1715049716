"""The never-pay-twice table's 429 row (``_attempt.decide``): a createTask answered 429 was not accepted,
so it is resent past the retry policy while the call's deadline allows, and only then."""

from __future__ import annotations

import kie_gpt_image as kie
from kie_gpt_image._attempt import Fail, Failure, Retry, decide

POLICY = kie.RetryPolicy(max_retries=2, base_delay=1.0, max_delay=8.0)


def _rate_limited() -> Failure:
    error = kie.RateLimitError("slow down", code=429, operation="gpt-image-1-5-image-to-image")
    return Failure(error, "not_accepted", transient=True)


def test_a_429_createtask_is_resent_past_the_retries_while_the_deadline_allows() -> None:
    decision = decide(7, _rate_limited(), paid=True, policy=POLICY, rand=lambda: 0.5, time_left=60.0)
    assert decision == Retry(4.0)  # 0.5 x min(8, 1 x 2**7)


def test_no_resend_that_would_start_after_the_deadline() -> None:
    assert decide(7, _rate_limited(), paid=True, policy=POLICY, rand=lambda: 0.5, time_left=3.0) == Fail()


def test_without_a_deadline_the_retry_policy_still_decides() -> None:
    assert decide(1, _rate_limited(), paid=True, policy=POLICY, rand=lambda: 0.5) == Retry(1.0)
    assert decide(2, _rate_limited(), paid=True, policy=POLICY, rand=lambda: 0.5) == Fail()


def test_other_failures_after_the_retries_still_fail() -> None:
    maintenance = Failure(
        kie.MaintenanceError("maintenance", code=455, operation="x"), "not_accepted", transient=True
    )
    assert decide(2, maintenance, paid=True, policy=POLICY, rand=lambda: 0.5, time_left=600.0) == Fail()
    read = _rate_limited()
    assert decide(2, read, paid=False, policy=POLICY, rand=lambda: 0.5, time_left=600.0) == Fail()


def test_max_retries_0_resends_not_even_a_429() -> None:
    never = kie.RetryPolicy(max_retries=0)
    assert decide(0, _rate_limited(), paid=True, policy=never, rand=lambda: 0.5, time_left=60.0) == Fail()
