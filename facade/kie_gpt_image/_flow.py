"""The life of a task, written once as sans-I/O generators shared by ``Client`` and ``AsyncClient``.

A flow yields effects (``_effects``: send, fetch, sleep, notify, take a slot, gather) and receives their
results.

One attempt loop (``Flows.attempts``) serves API calls and result downloads alike: each failed attempt is
classified and decided on by ``_attempt`` (where the never-pay-twice rule lives). The drivers in
``_client`` only perform effects, so validate → upload → create → wait → result is tested without I/O.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import httpx

from . import _api
from ._attempt import Fail, Failure, OutcomeUnknown, Retry, classify, decide
from ._download import Sink
from ._effects import Effect, Fetch, Flow, Gather, Notify, OpenStore, Send, Sleep, Take
from ._errors import (
    BudgetStoreError,
    KieError,
    RateLimitError,
    SubmissionOutcomeUnknownError,
    TaskFailedError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from ._finishes import FinishBoard, Watch
from ._inputs import ImageSource, LocalImage, RunInput, plan_of
from ._models import Task, TaskInfo, TaskState, UploadedFile
from ._policies import PollPolicy, RetryPolicy
from ._scheduler import Limit, Scheduler, Ticket
from ._settings import DEFAULT_CREATE_TIMEOUT
from ._warnings import CreateRefusedWarning, warn

__all__ = [
    "UPLOAD_CONCURRENCY",
    "Effect",
    "Fetch",
    "Flow",
    "Flows",
    "Gather",
    "Notify",
    "Send",
    "Sleep",
    "Take",
]

logger = logging.getLogger("kie_gpt_image")

T = TypeVar("T")

_LAST_POLL = 0.5
"""Seconds the poll at a wait's deadline may take: a wait ends within its deadline plus this."""

UPLOAD_CONCURRENCY = 16
"""Inputs of one edit uploaded at once: all of them (an edit takes at most 16, the spec's maxItems), so a
16-image edit costs one upload's latency; the client's connection pool (``limits``) bounds the
connections across edits. kie.ai documents no limit on uploads."""

_POLL = "get-task-details"

CREATE_REFUSED_NOTICE = 5.0
"""Seconds of createTask refusals (code 429) after which the user is told (a ``CreateRefusedWarning`` and
an ``on_progress`` record): kie.ai's create window is 10 s, so a refusal lasting longer than half of it is
news (another program on the account, or a limit lower than documented), not a blip."""


def _given(value: T) -> Flow[T]:
    """A flow that yields nothing and returns ``value`` (an attempt already made)."""
    return value
    yield  # type: ignore[unreachable]  # (makes this a generator)


@dataclass(frozen=True, slots=True)
class Flows:
    """Factories of the flows, holding the policies and the clock they decide with."""

    retry: RetryPolicy
    poll: PollPolicy
    clock: Callable[[], float]
    rand: Callable[[], float]
    upload_path: str
    mask: Callable[[BaseException], None] = lambda error: None
    """Masks the client's key in an error before anything (a log line, ``on_progress``) shows it."""
    scheduler: Scheduler | None = None
    """Keeps createTask and recordInfo within kie.ai's account limits (``None``: no limits kept)."""
    board: FinishBoard = field(default_factory=FinishBoard)
    """Where waits learn of finishes that others read (a callback's receiver, another wait)."""
    create_timeout: float = DEFAULT_CREATE_TIMEOUT
    """Seconds the create step may take by default (``Settings.create_timeout``): waiting for room under
    the account's limits and resending a createTask kie.ai refused with 429, apart from the wait."""

    # ------------------------------------------------------------------------------- account limits

    def _acquire(
        self,
        budget: Limit,
        until: float | None,
        *,
        first: bool = False,
        watch: Watch | None = None,
        born: float | None = None,
    ) -> Flow[Ticket | None]:
        """Wait for a slot of ``budget``; the granted ticket, or ``None`` if ``until`` passed first.
        Requests queue in the order they fell due (now; ``first``: ahead of every scheduled one, as a
        poll of ``watch``'s task becomes when a callback nudges it while it queues); a lone request is
        granted at once. ``born``: when a polled task was created, at the latest (``Scheduler.ticket``)."""
        scheduler = self.scheduler
        if scheduler is None:
            return None
        ticket = scheduler.ticket(budget, -math.inf if first else self.clock(), born=born)
        granted = False
        try:
            while True:
                # An in-memory store answers at once: asked here, without a round trip through the
                # driver (a shared one waits on a file lock or the network: the driver keeps it off
                # the event loop).
                wait = scheduler.take(ticket) if not scheduler.limits.shared else (yield Take(ticket))
                if ticket.error is not None:  # the shared store failed (``Scheduler.take``)
                    raise ticket.error
                if wait <= 0:
                    granted = True
                    return ticket
                left = None if until is None else until - self.clock()
                if left is not None and left <= 0:
                    return None
                yield Sleep(wait if left is None else min(wait, left), None if first else watch)
                if watch is not None and not first and watch.nudged:
                    scheduler.release(ticket)
                    ticket, first = scheduler.ticket(budget, -math.inf, born=born), True
        finally:
            if not granted:  # gave up, failed or cancelled: leave the queue
                scheduler.release(ticket)

    def _restamp(self, slot: Ticket, scheduler: Scheduler) -> Flow[None]:
        """A granted slot about to be sent later than the margin after its grant (a busy event loop, a
        journal write, a shared store's lock): kie.ai will count the request from about now, but other
        processes sharing the store see only the grant's stamp. Stamp it again, waiting for room if
        need be (``Scheduler.take`` of a granted ticket)."""
        while self.clock() - slot.stamp > scheduler.stale_after:
            wait = yield Take(slot)
            if wait <= 0 or slot.error is not None:
                # (A store that fails cannot show the stamp to anyone: the slot is this process's, and
                # its ledger holds it until a window after the reply.)
                return
            yield Sleep(wait)

    @staticmethod
    def _no_slot(operation: str, what: str) -> Failure:
        """This client's own budget (``RateLimits``) had no room before the deadline: a ``RateLimitError``
        (what a caller catches for "too many requests"), worded as the local limit it is, never as
        kie.ai's code 429: kie.ai was not asked."""
        text = (
            f"this client's own {what} (its RateLimits) had no room before the call's deadline; nothing "
            f"was sent to kie.ai for {operation}"
        )
        error = RateLimitError(text, code=429, operation=operation, local=True)  # kie.ai refused nothing
        return Failure(error, "never_sent", transient=False)

    # ------------------------------------------------------------------------------- the attempt loop

    def attempts(
        self,
        operation: str,
        once: Callable[[int], Flow[T | Failure]],
        *,
        paid: bool = False,
        summary: Callable[[], str] = str,
        until: float | None = None,
        model: str | None = None,
    ) -> Flow[T]:
        """Run attempts (``once(n)``) until one succeeds or ``_attempt.decide`` says stop; ``until`` (on
        ``clock``) is the call's deadline, which ends the resending of a createTask answered 429. A paid
        request (of ``model``) that kie.ai keeps refusing is reported once it has lasted
        ``CREATE_REFUSED_NOTICE`` seconds, and its final error says how long and how often it tried."""
        attempt = 0
        started = self.clock()
        refused = 0  # createTask attempts kie.ai refused with 429
        first_refusal: float | None = None
        while True:
            outcome = yield from once(attempt)
            if not isinstance(outcome, Failure):
                return outcome
            now = self.clock()
            refusal = paid and outcome.reach == "not_accepted" and isinstance(outcome.error, RateLimitError)
            if refusal:
                refused += 1
                first_refusal = now if first_refusal is None else first_refusal
            time_left = None if until is None else until - now
            decision = decide(
                attempt, outcome, paid=paid, policy=self.retry, rand=self.rand, time_left=time_left
            )
            if isinstance(decision, OutcomeUnknown):
                raise SubmissionOutcomeUnknownError(
                    outcome.error, request_summary=summary(), task_id=outcome.task_id
                ) from outcome.error
            if isinstance(decision, Fail):
                if refusal:
                    deadline = None if until is None else until - started
                    raise self._refused(outcome.error, refused, now - started, deadline) from outcome.error
                raise outcome.error
            if refusal and first_refusal is not None and now - first_refusal >= CREATE_REFUSED_NOTICE:
                first_refusal = math.inf  # told once per call
                yield from self._notice_refusals(outcome.error, refused, now - started, until, model)
            logger.info(
                "retrying %s after %s (attempt %d, sleeping %.2f s)",
                operation,
                type(outcome.error).__name__,
                attempt + 1,
                decision.delay,
            )
            yield Sleep(decision.delay)
            attempt += 1

    def _refused(self, error: KieError, refused: int, tried: float, deadline: float | None) -> RateLimitError:
        """The final error of a createTask kie.ai refused with 429 at every attempt: how often, for how
        long, and why it stopped (``max_retries=0``, or the create step's deadline)."""
        if self.retry.max_retries == 0:
            why = "not resent: max_retries=0 resends nothing"
        else:
            why = "the create step's deadline came"
            if deadline is not None:
                why += f" after {deadline:g} s: create_timeout, or create_task(timeout=)"
        times = "once" if refused == 1 else f"{refused} times"
        text = (
            f"kie.ai refused createTask {times} over {tried:.1f} s ({why}); nothing was created or "
            "charged: try again later (another program may share the account's create window)"
        )
        operation = getattr(error, "operation", "createTask")
        retry_after = getattr(error, "retry_after", None)
        return RateLimitError(text, code=429, operation=operation, retry_after=retry_after)

    def _notice_refusals(
        self, error: KieError, refused: int, tried: float, until: float | None, model: str | None
    ) -> Flow[None]:
        """Tell the user that kie.ai keeps refusing the createTask (once per call): a warning, and an
        ``on_progress`` record with no task id yet and the refusal as its ``poll_error``."""
        left = "" if until is None else f", resending until {max(until - self.clock(), 0.0):.0f} s from now"
        warn(
            f"kie.ai has refused createTask with code 429 {refused} times over {tried:.1f} s{left} "
            "(create_timeout); nothing is created or charged meanwhile",
            CreateRefusedWarning,
        )
        yield Notify(TaskInfo("", TaskState.UNKNOWN, "create refused (429)", model, poll_error=error))

    def _send_once(
        self,
        request: _api.RequestSpec,
        parse: Callable[[httpx.Response], T],
        attempt: int,
        max_seconds: float | None = None,
        until: float | None = None,
        before_send: Callable[[], object] | None = None,
        first: bool = False,
        watch: Watch | None = None,
        born: float | None = None,
    ) -> Flow[T | Failure]:
        slot: Ticket | None = None
        if self.scheduler is not None and (request.paid or request.operation == _POLL):
            gate: Limit = "create" if request.paid else "poll"
            try:
                # No queue and room (the common case in memory): granted at once, without the queue.
                slot = self.scheduler.grant_now(gate, born=born)
                if slot is None:
                    slot = yield from self._acquire(gate, until, first=first, watch=watch, born=born)
            except BudgetStoreError as exc:
                if request.paid:
                    raise  # nothing was sent: the typed error, before anything is paid
                # A poll costs nothing: a failing store is ridden out like a failed poll (``wait``).
                return self._classified(Failure(exc, "never_sent", transient=True))
            if slot is None:
                return self._no_slot(request.operation, f"{gate} budget")
        sent = False
        stamp_error: BudgetStoreError | None = None
        try:
            if before_send is not None:
                before_send()
            if slot is not None and self.scheduler is not None and self.scheduler.limits.shared:
                # In memory, this client's ledger holds the slot until a window after the reply anyway.
                yield from self._restamp(slot, self.scheduler)
            sent = True
            outcome = yield Send(request, attempt, max_seconds)
        except BaseException as exc:
            if request.paid and sent and not isinstance(exc, Exception):  # cancelled, interrupted, closed
                logger.warning(
                    "createTask was interrupted after it was sent: a task may have been created (%s)",
                    _api.describe(request),
                )
                if not isinstance(exc, GeneratorExit):
                    exc.add_note(
                        "kie_gpt_image: createTask had been sent when this call was stopped: a task may "
                        "have been created (and charged); check your kie.ai task list before submitting again"
                    )
            raise
        finally:
            if slot is not None and self.scheduler is not None:
                # kie.ai counted the request somewhere between the grant and now.
                stamp_error = self.scheduler.replied(slot)
        if stamp_error is not None:  # bookkeeping only: the reply is in hand and goes on
            paid_id = (
                _api.task_id_in(outcome) if request.paid and isinstance(outcome, httpx.Response) else None
            )
            task = paid_id or (watch.task_id if watch is not None else None)
            logger.warning("%s (task %s); the reply is kept", stamp_error, task or "unknown")
        if isinstance(outcome, BaseException):
            return self._classified(classify(outcome, request.operation))
        try:
            return parse(outcome)
        except KieError as exc:
            task_id = _api.task_id_in(outcome) if request.paid else None
            failure = classify(exc, request.operation, response=outcome, task_id=exc.task_id or task_id)
            return self._classified(failure)

    def _classified(self, failure: Failure) -> Failure:
        self.mask(failure.error)
        return failure

    def call(
        self,
        build: Callable[[], _api.RequestSpec],
        parse: Callable[[httpx.Response], T],
        *,
        until: float | None = None,
        before_send: Callable[[], object] | None = None,
        model: str | None = None,
    ) -> Flow[T]:
        """Send a request built fresh per attempt, retried as ``_attempt.decide`` allows (no retry, nor
        wait for an account-limit slot, past ``until``); return the parse. ``before_send`` is called
        right before each attempt goes out, once its slot is granted; ``model``: the paid request's."""
        first = build()

        def once(attempt: int) -> Flow[T | Failure]:
            request = first if attempt == 0 else build()
            return self._send_once(request, parse, attempt, until=until, before_send=before_send)

        return (
            yield from self.attempts(
                first.operation,
                once,
                paid=first.paid,
                summary=lambda: _api.describe(first),
                until=until,
                model=model,
            )
        )

    def _fetch_once(self, url: str, sink: Sink, attempt: int) -> Flow[Failure | None]:
        done = False
        try:
            outcome = yield Fetch(url, sink, attempt)
            if outcome is None:
                done = True
                return None
            return self._classified(classify(outcome, "download", url=url))
        finally:
            if not done:  # failed, or interrupted (Ctrl-C, task cancelled): no .part file stays behind
                sink.abort()

    # ------------------------------------------------------------------------------- operations

    def get_task(self, task_id: str) -> Flow[TaskInfo]:
        """recordInfo for ``task_id``."""
        parse = lambda response: _api.parse_task_info(response, task_id)  # noqa: E731
        try:
            # The first attempt sent straight from here, the attempt loop joined only if it fails: a read
            # that succeeds (the common case) skips two generators (issue 25 item 1, bench_overhead.py).
            first = yield from self._send_once(_api.get_task_request(task_id), parse, 0)
            if isinstance(first, Failure):

                def once(attempt: int) -> Flow[TaskInfo | Failure]:
                    if attempt == 0:
                        return _given(first)
                    return self._send_once(_api.get_task_request(task_id), parse, attempt)

                info = yield from self.attempts(_POLL, once)
            else:
                info = first
            self._seen(info)
            return info
        except KieError as exc:
            exc.task_id = exc.task_id or task_id
            raise

    def _seen(self, info: TaskInfo) -> None:
        if info.state in (TaskState.SUCCESS, TaskState.FAIL):
            if self.scheduler is not None:
                took = None
                if info.created_at is not None and info.completed_at is not None:
                    took = (info.completed_at - info.created_at).total_seconds()
                self.scheduler.task_finished(info.task_id, took)
            self.board.post(info.task_id, info)

    def create_task(
        self,
        model: str,
        input: Mapping[str, Any],
        callback_url: str | None,
        *,
        timeout: float | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> Flow[Task]:
        """createTask of ``model`` with its whole ``input``: paid, so never resent once it may have been
        processed (``_attempt``). Under the scheduler it first waits for room under the running-task cap
        and a slot of the create window; a 429 is resent (unless ``max_retries=0``) when the window
        reopens; all until the create step's own deadline, ``timeout`` seconds (default
        ``create_timeout``), apart from any wait's. ``on_submit`` is called once, right before the first
        createTask goes out (a journal's mark)."""
        build = lambda: _api.create_task_request(model, input, callback_url)  # noqa: E731 - per attempt
        parse = lambda response: _api.parse_created_task(response, _api.operation_id(model))  # noqa: E731
        submitted = False

        def before_send() -> None:
            nonlocal submitted
            if not submitted and on_submit is not None:
                on_submit()
            submitted = True

        until = self.clock() + (self.create_timeout if timeout is None else timeout)
        if self.scheduler is None:
            task = yield from self.call(build, parse, until=until, before_send=before_send, model=model)
        else:
            task = yield from self._create_within_limits(
                build, parse, self.scheduler, until, before_send, model
            )
        logger.info("created task %s", task.task_id)
        return task

    def _create_within_limits(
        self,
        build: Callable[[], _api.RequestSpec],
        parse: Callable[[httpx.Response], Task],
        scheduler: Scheduler,
        until: float,
        before_send: Callable[[], object],
        model: str,
    ) -> Flow[Task]:
        sent: list[float] = []  # when the first createTask went out, on the scheduler's clock

        def mark_sent() -> None:
            if not sent:
                sent.append(scheduler.now())
            before_send()

        running = yield from self._acquire("running", until)
        if running is None:
            raise self._no_slot(build().operation, "running-task cap").error
        try:
            task = yield from self.call(build, parse, until=until, before_send=mark_sent, model=model)
        except KieError as exc:
            # The entry stays (until it expires) when a task may exist: it may be running at kie.ai.
            if not isinstance(exc, SubmissionOutcomeUnknownError) and exc.task_id is None:
                scheduler.release(running)
            raise
        scheduler.task_started(running, task.task_id, sent[0] if sent else None)
        return task

    def credits(self) -> Flow[float]:
        """Remaining credits."""
        return (yield from self.call(_api.credits_request, _api.parse_credits))

    def download_url(self, url: str) -> Flow[str]:
        """A temporary direct-download URL for a kie.ai-generated file."""
        return (yield from self.call(lambda: _api.download_url_request(url), _api.parse_download_url))

    def upload_local(self, image: LocalImage, *, method: str, file_name: str | None) -> Flow[UploadedFile]:
        """Upload a validated local image (stream by default; base64 for small files if asked)."""
        if method == "base64":
            # Read inside the flow (not at validation) so memory is held only while uploading.
            with image.open() as stream:
                encoded = base64.b64encode(stream.read()).decode("ascii")
            data_url = f"data:{image.mime_type};base64,{encoded}"
            return (
                yield from self.call(
                    lambda: _api.base64_upload_request(
                        data_url, upload_path=self.upload_path, file_name=file_name
                    ),
                    lambda r: _api.parse_upload(r, "upload-file-base64"),
                )
            )
        return (
            yield from self.call(
                lambda: _api.stream_upload_request(
                    image.open(),
                    name=image.name,
                    mime_type=image.mime_type,
                    upload_path=self.upload_path,
                    file_name=file_name,
                ),
                lambda r: _api.parse_upload(r, "upload-file-stream"),
            )
        )

    def upload_url(self, url: str, *, file_name: str | None) -> Flow[UploadedFile]:
        """Have kie.ai fetch a public URL into its upload storage."""
        return (
            yield from self.call(
                lambda: _api.url_upload_request(url, upload_path=self.upload_path, file_name=file_name),
                lambda r: _api.parse_upload(r, "upload-file-url"),
            )
        )

    def wait(self, task_id: str, timeout: float | None = None) -> Flow[TaskInfo]:
        """Poll until the task finishes; return its record on success, raise on failure or at the
        deadline (``timeout``, else the poll policy's). Failed polls are ridden out until then: they
        cost nothing. A finish read elsewhere in this client (a callback's receiver, ``poll_now``)
        ends the wait at once (``_finishes``)."""
        limit = self.poll.timeout if timeout is None else timeout
        start = self.clock()
        # A task this client created: its polls may yield their turn while it is young (``Scheduler``).
        born = None if self.scheduler is None else self.scheduler.born(task_id)
        watch = self.board.watch(task_id)
        try:
            return (yield from self._wait_watched(watch, limit, start, born))
        except BaseException as exc:
            if not isinstance(exc, (Exception, GeneratorExit)):  # cancelled or interrupted
                # The caller holds this exception, maybe nothing else naming the task (issue 24 item 8).
                exc.add_note(
                    f"kie_gpt_image: stopped waiting for task {task_id}; it goes on at kie.ai (and is "
                    f"paid for): resume with client.wait({task_id!r})"
                )
            raise
        finally:
            self.board.unwatch(watch)

    def _wait_watched(self, watch: Watch, limit: float, start: float, born: float | None) -> Flow[TaskInfo]:
        task_id = watch.task_id
        last: TaskInfo | None = None
        failed = 0  # consecutive failed polls
        problem: KieError | None = None
        while True:
            left = limit - (self.clock() - start)
            posted: TaskInfo | None = watch.record
            if posted is not None:  # a receiver read the finished record: no poll needed
                outcome: TaskInfo | Failure = posted
            else:
                outcome = yield from self._send_once(
                    _api.get_task_request(task_id),
                    lambda r: _api.parse_task_info(r, task_id),
                    failed,
                    max_seconds=max(left, _LAST_POLL),
                    until=start + limit + _LAST_POLL,
                    # A poll a callback asked for goes ahead of the scheduled ones: it is known to end
                    # a task (and free its running slot), theirs are guesses on the documented schedule.
                    first=watch.take_nudge(),
                    watch=watch,
                    born=born,
                )
            elapsed = self.clock() - start
            if isinstance(outcome, Failure):
                decision = decide(
                    failed, outcome, paid=False, policy=self.retry, rand=self.rand, polling=True
                )
                if isinstance(outcome.error, BudgetStoreError):  # this machine's store, not kie.ai
                    decision = Retry(self.retry.backoff(min(failed, 62), None, self.rand))
                if not isinstance(decision, Retry):
                    outcome.error.task_id = outcome.error.task_id or task_id
                    raise outcome.error
                problem = outcome.error
                logger.warning(
                    "poll of task %s failed (%s); waiting goes on until its deadline", task_id, problem
                )
                yield Notify(replace(last or TaskInfo(task_id, TaskState.UNKNOWN), poll_error=problem))
                failed += 1
                delay = max(decision.delay, self.poll.interval(elapsed))
            else:
                info, failed, problem = outcome, 0, None
                if last is None or (info.state, info.raw_state) != (last.state, last.raw_state):
                    logger.debug("task %s is %s", task_id, info.raw_state)
                    yield Notify(info)
                last = info
                self._seen(info)
                if info.state is TaskState.SUCCESS:
                    if not info.result_urls and not _api.result_data(info):
                        raise UnexpectedResponseError(
                            "task succeeded but resultJson holds no resultUrls",
                            operation="get-task-details",
                            status_code=200,
                            body=str(info.raw.get("resultJson", "")),
                            task_id=task_id,
                        )
                    return info
                if info.state is TaskState.FAIL:
                    raise TaskFailedError(task_id, info.fail_code, info.fail_msg)
                delay = self.poll.interval(elapsed)
            if elapsed >= limit:
                state = last.raw_state or last.state.value if last is not None else "unknown"
                error = WaitTimeoutError(task_id, waited=elapsed, last_state=state)
                if problem is not None:
                    raise error from problem
                raise error
            yield Sleep(min(delay, limit - elapsed), watch)

    def upload_inputs(self, images: list[ImageSource]) -> Flow[list[str]]:
        """The URLs createTask takes: URLs pass through; local images are uploaded, several at once
        (``UPLOAD_CONCURRENCY``) when there are several; the first failure is raised."""
        local = [source for source in images if not isinstance(source, str)]
        uploaded: list[Any]
        if len(local) == 1:  # one upload: no concurrency to arrange
            uploaded = [(yield from self.upload_local(local[0], method="stream", file_name=None))]
        elif local:
            flows = tuple(self.upload_local(source, method="stream", file_name=None) for source in local)
            uploaded = yield Gather(flows, UPLOAD_CONCURRENCY)
            for outcome in uploaded:
                if isinstance(outcome, BaseException):
                    raise outcome
        urls = iter(uploaded if local else [])
        return [source if isinstance(source, str) else next(urls).url for source in images]

    def edit(
        self,
        model: str,
        images: list[ImageSource],
        input: Mapping[str, Any],
        callback_url: str | None,
        *,
        wait: bool,
        timeout: float | None,
        create_timeout: float | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> Flow[Task | TaskInfo]:
        """Upload local ``images`` (into ``model``'s image field; none for a text-to-image model), create
        the task with the rest of its ``input`` (within ``create_timeout``, default the client's), and
        (if ``wait``) wait for its result (within ``timeout``, default the poll policy's): ``run``'s path."""
        plan = plan_of(model, images, input, callback_url)
        return (
            yield from self.run(
                plan, wait=wait, timeout=timeout, create_timeout=create_timeout, on_submit=on_submit
            )
        )

    def run(
        self,
        plan: RunInput,
        *,
        wait: bool,
        timeout: float | None,
        create_timeout: float | None = None,
        on_submit: Callable[[], object] | None = None,
    ) -> Flow[Task | TaskInfo]:
        """Any model's task (``_inputs.check_run``): upload the local files of every media field, all at
        once (``upload_inputs``), create the task with its ``input`` (within ``create_timeout``, default
        the client's), and (if ``wait``) wait for it (within ``timeout``)."""
        if self.scheduler is not None and self.scheduler.limits.shared:
            # A shared store that cannot be opened fails here, before the first upload (issue 24 item 12).
            store_error = yield OpenStore()
            if store_error is not None:
                raise store_error
        urls = yield from self.upload_inputs(plan.sources())
        input = plan.with_urls(urls)
        task = yield from self.create_task(
            plan.model, input, plan.callback_url, timeout=create_timeout, on_submit=on_submit
        )
        if not wait:
            return task
        try:
            return (yield from self.wait(task.task_id, timeout))
        except BaseException as exc:
            if not isinstance(exc, Exception):
                # Cancelled, interrupted (the exception carries the id too: ``wait``) or closed while
                # waiting: the task goes on, and is paid for, at kie.ai.
                logger.warning(
                    "stopped waiting for task %s; it goes on at kie.ai: resume with client.wait(%r)",
                    task.task_id,
                    task.task_id,
                )
            raise

    def fetch(self, url: str, sink: Sink, task_id: str | None) -> Flow[None]:
        """Download ``url`` into ``sink``; host errors (5xx, 429), stalls and bodies that are not an image
        are retried as reads are (a GET of a result pays for nothing)."""
        try:
            return (yield from self.attempts("download", lambda n: self._fetch_once(url, sink, n)))
        except KieError as exc:
            exc.task_id = exc.task_id or task_id
            raise
