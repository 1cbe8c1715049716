"""The resumable batch runner: many edits on one ``AsyncClient``, journaled so that no task is paid twice.

Each item goes upload → (a slot of the account's limits) → "submitting" → createTask → "submitted" +
task id → wait → download → "done", with the journal committed at every arrow; the moves are
``_states``' transition table, which the journal enforces, and what went wrong is journaled as its exit
code (``_exitcodes``). Items run through ``_many.as_completed_async`` (the engine of
``AsyncClient.edit_many``), at most ``concurrency`` at once; the client's scheduler keeps kie.ai's three
limits (20 new tasks per 10 s, 100 running, 8 polls per second by default; ``--rate-store`` shares them
with other processes), and "submitting" is committed by the client's transport right before each
createTask of the item is sent, and undone when kie.ai refuses it (``_submit_gate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._async_client import AsyncClient
from .._errors import KieError, SubmissionOutcomeUnknownError, TaskFailedError
from .._inputs import is_url_like
from .._many import as_completed_async
from .._models import TaskInfo
from .._spend import NotStartedError, Reservation, SpendGuard
from ._exitcodes import ExitCode, ResultsNotSavedError, exit_code_for, exit_code_of, worst
from ._journal import Entry, Journal
from ._manifest import ManifestError, ManifestItem
from ._states import FINISHED, ItemState
from ._submit_gate import Submission, submitting

__all__ = ["BatchEvent", "BatchOptions", "BatchReport", "BatchRunner", "ItemReport", "check_against_journal"]

# Uploaded files are kept at least 24 hours (reference §3 says 24 h in one place, 3 days in another):
# URLs journaled less than half of that ago are reused on a re-run instead of uploading again.
UPLOAD_REUSE_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How a batch runs."""

    concurrency: int = 120
    """Items in progress at once (each holds at most one task at kie.ai; the client's running cap, 100
    by default, bounds the tasks running, and the rest wait their turn with their inputs uploaded)."""
    resubmit_unknown: bool = False
    """Submit again the items whose earlier submission has an unknown outcome (may pay twice)."""
    download: bool = True
    """Save result images into each item's ``out`` folder (else only record the result URLs)."""
    timeout: float | None = None
    """Per-task wait timeout in seconds (``None``: the poll policy's)."""
    callback_url: str | None = None
    """The ``callBackUrl`` each task is created with (``batch --listen``), else none."""
    task_costs: dict[str, float] = field(default_factory=dict)
    """``--task-cost MODEL=N``: what the user says a task of each model costs."""
    gated: bool = False
    """The client's transport is a ``JournalingTransport``, which marks each createTask as it is sent;
    otherwise the runner marks it when the client is about to send it."""


@dataclass(frozen=True, slots=True)
class BatchEvent:
    """An item changed state (``state`` is a journal state, or a live one: uploading, waiting, ...)."""

    item_id: str
    state: str
    task_id: str | None = None
    error: str | None = None
    paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ItemReport:
    """Where one item ended up after the run."""

    id: str
    line: int
    state: ItemState
    """Journal state: done, failed, unknown, error, submitted (still running), pending, submitting."""
    outcome: str
    """What the run did: done, failed, skipped, unknown, error, running, pending, not started (the
    credit budget or the balance stopped it; pending in the journal)."""
    task_id: str | None
    result_urls: tuple[str, ...]
    files: tuple[str, ...]
    credits: float | None
    error: str | None
    exit_code: ExitCode


@dataclass
class BatchReport:
    """The end of a run: every item and the totals."""

    items: list[ItemReport] = field(default_factory=list)
    interrupted: bool = False
    unjournaled: dict[str, str] = field(default_factory=dict)
    """Item id → task id of tasks created (and paid) whose id the journal could not record."""
    credits_used: float | None = None
    """Credits consumed by the tasks finished in this run, when kie.ai reported them."""
    guard: SpendGuard | None = None
    """The spend guard of ``--max-credits`` (its credits spent, reserved and left), if any."""

    @property
    def counts(self) -> dict[str, int]:
        """Items per outcome (done, failed, skipped, unknown, error, running, pending)."""
        counts = dict.fromkeys(
            ("done", "failed", "skipped", "unknown", "error", "running", "pending", "not started"), 0
        )
        counts.update(Counter(item.outcome for item in self.items))
        return counts

    @property
    def exit_code(self) -> ExitCode:
        """The worst outcome."""
        code = worst(*(item.exit_code for item in self.items))
        return worst(code, ExitCode.INTERRUPTED) if self.interrupted else code


def check_against_journal(items: list[ManifestItem], entries: dict[str, Entry]) -> list[ManifestError]:
    """Lines whose journal entry was made for a different edit: reusing it would skip or wait for the
    wrong task, so they are reported before anything runs."""
    return [
        ManifestError(
            item.line,
            f"item {item.id!r} changed since the journal recorded it (state {entries[item.id].state}); "
            "restore the line, give it a new id, or use another --journal",
        )
        for item in items
        if item.id in entries and entries[item.id].fingerprint != item.fingerprint
    ]


class BatchRunner:
    """Runs a validated manifest against a journal. One instance per run.

    Args:
        client: the ``AsyncClient`` (its retry policy covers reads, uploads, and createTask only when
            provably not accepted).
        journal: the open journal.
        items: the validated manifest items (already checked with ``check_against_journal``).
        options: concurrency, resubmission, downloads, timeout.
        on_event: called on every state change (progress display, tests).
        wall_clock: Unix time, for the age of journaled uploads.
    """

    def __init__(
        self,
        client: AsyncClient,
        journal: Journal,
        items: list[ManifestItem],
        options: BatchOptions,
        *,
        on_event: Callable[[BatchEvent], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
        guard: SpendGuard | None = None,
    ) -> None:
        self.client = client
        self.guard = guard
        """``--max-credits``: which items may start (``_spend``); costs seen in the journal are added."""
        self._not_started: dict[str, str] = {}
        self.journal = journal
        self.items = items
        self.options = options
        self._on_event = on_event
        self._wall_clock = wall_clock
        self._uploads: dict[str, asyncio.Future[str]] = {}
        self.live: dict[str, str] = {}
        """Each item's current state, for the progress display."""
        self._credits: float | None = None
        self._before: dict[str, Entry] = {}
        self.unjournaled: dict[str, str] = {}
        """Item id → task id of created tasks not (yet) recorded in the journal: whatever the journal
        does (disk full, I/O error), the caller can still print them."""

    def _emit(self, item: ManifestItem, state: str, **extra: object) -> None:
        self.live[item.id] = state
        if self._on_event is not None:
            self._on_event(BatchEvent(item.id, state, **extra))  # type: ignore[arg-type]

    def _fail(
        self, item: ManifestItem, state: ItemState, exc: BaseException, task_id: str | None = None
    ) -> None:
        # Journaled as its message and its exit code: the code edit would end with (one table).
        self.journal.update(item.id, state, error=str(exc), exit_code=exit_code_for(exc))
        self._emit(item, state, task_id=task_id, error=str(exc))

    # -------------------------------------------------------------------------------- the run

    async def run(self) -> BatchReport:
        """Run every unfinished item; on cancellation (Ctrl-C) stop, keeping the journal consistent."""
        self.journal.add([(item.id, item.line, item.fingerprint) for item in self.items])
        self._before = self.journal.entries()
        if self.guard is not None:
            # Costs measured by earlier runs (a finished record's credits) bound this run's reservations.
            for item in self.items:
                spent = self._before[item.id].credits
                if spent is not None:
                    self.guard.costs[item.model] = max(self.guard.costs.get(item.model, 0.0), spent)
        to_wait: list[ManifestItem] = []
        to_submit: list[ManifestItem] = []
        for item in self.items:
            entry = self._before[item.id]
            self.live[item.id] = entry.state
            if entry.state in FINISHED:
                continue
            if entry.state is ItemState.SUBMITTED:
                to_wait.append(item)
            elif (
                entry.state in (ItemState.SUBMITTING, ItemState.UNKNOWN) and not self.options.resubmit_unknown
            ):
                if entry.state is ItemState.SUBMITTING:
                    # The previous run stopped between marking it and hearing back from createTask.
                    self.journal.update(
                        item.id,
                        ItemState.UNKNOWN,
                        error="the run stopped while createTask was in flight; a task may exist",
                        exit_code=exit_code_of(SubmissionOutcomeUnknownError),
                    )
                self._emit(item, ItemState.UNKNOWN)
            else:
                to_submit.append(item)
        # Tasks that already exist first: they are paid for, and their results expire.
        interrupted = False
        try:
            # Cancelling this coroutine (Ctrl-C) cancels each item once, and each gets to journal what
            # is in flight; an error that is not a KieError (a bug, a local I/O error) ends the run.
            async for _ in as_completed_async(
                self._process, [*to_wait, *to_submit], max(1, self.options.concurrency), catch=False
            ):
                pass
        except asyncio.CancelledError:
            interrupted = True
        return self._report(interrupted)

    async def _process(self, item: ManifestItem) -> None:
        entry = self._before[item.id]
        task_id = entry.task_id if entry.state is ItemState.SUBMITTED else None
        if task_id is not None:  # created by an earlier run: paid then, waited for now
            await self._wait(item, task_id)
            return
        reservation: Reservation | None = None
        if self.guard is not None:
            reservation = await self.guard.wait_async(item.model)
            if reservation is None:  # stays pending in the journal: nothing was sent for it
                self._not_started[item.id] = self.guard.refusal(item.model).message
                self._emit(item, ItemState.PENDING, error=self._not_started[item.id])
                return
        credits: float | None = None
        try:
            task_id = await self._submit(item, entry)
            if task_id is not None:
                credits = await self._wait(item, task_id)
        finally:
            if reservation is not None and self.guard is not None:
                # A task exists, or may (unknown): its reservation stands for it until its cost is told.
                state = self.journal.entries()[item.id].state if task_id is None else None
                created = task_id is not None or state in (ItemState.UNKNOWN, ItemState.SUBMITTING)
                self.guard.settle(reservation, credits, created=created)

    async def _submit(self, item: ManifestItem, entry: Entry) -> str | None:
        fresh = (
            entry.uploaded_at is not None and self._wall_clock() - entry.uploaded_at < UPLOAD_REUSE_SECONDS
        )
        urls = list(entry.input_urls) if entry.input_urls is not None and fresh else None
        if urls is None:
            self._emit(item, "uploading")
            try:
                urls = [await self._upload(image) for image in item.images]
            except KieError as exc:
                self._fail(item, ItemState.ERROR, exc)
                return None
            self.journal.update(item.id, ItemState.PENDING, input_urls=urls, uploaded_at=self._wall_clock())
        self._emit(item, "queued")

        def mark() -> None:
            # Committed right before this item's own createTask is handed to the network: a crash from
            # here on leaves "submitting", which the next run reports as unknown instead of paying again.
            self.journal.update(item.id, ItemState.SUBMITTING)
            self._emit(item, ItemState.SUBMITTING)

        def unmark() -> None:
            # kie.ai refused that attempt (429/455) or it never left: nothing was created, so a crash
            # during the wait for the next attempt leaves the item pending, submitted again by a re-run.
            self.journal.update(item.id, ItemState.PENDING)
            self._emit(item, "queued")

        submission = Submission(mark, unmark)
        create = asyncio.ensure_future(self._create(item, urls, submission))
        try:
            return await asyncio.shield(create)
        except asyncio.CancelledError:
            # Ctrl-C: a createTask on the wire is allowed to finish, so that its task id is journaled
            # instead of leaving the item "unknown"; an item between attempts (waiting for a slot, or
            # for kie.ai's window after a 429) stops at once, pending. A second Ctrl-C stops even that.
            while not create.done() and submission.busy:
                idle = asyncio.ensure_future(submission.idle.wait())
                try:
                    await asyncio.wait({create, idle}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    idle.cancel()
            if not create.done():
                create.cancel()
            with contextlib.suppress(BaseException):
                await create
            raise

    async def _create(self, item: ManifestItem, urls: list[str], submission: Submission) -> str | None:
        # This task's createTask requests are this item's: the transport marks them (_submit_gate).
        submitting.set(submission)

        def on_submit() -> None:
            # Only when the transport is not ours (an HTTP proxy from the environment bypasses it):
            # then the mark is made here, right before the flow hands the request over.
            if not self.options.gated:
                submission.before_send()

        try:
            # The item's model and options are known only at run time: the untyped entry point,
            # checked against the catalog exactly as create_task is.
            task = await self.client._submit(
                urls,
                item.prompt,
                model=item.model,
                options=item.options,
                callback_url=self.options.callback_url,
                wait=False,
                on_submit=on_submit,
            )
        except SubmissionOutcomeUnknownError as exc:
            if not submission.sent:
                submission.before_send()  # it was sent: unknown comes after submitting
            self._fail(item, ItemState.UNKNOWN, exc)
            return None
        except KieError as exc:
            # Anything else means kie.ai did not accept it (the library raises the unknown-outcome error
            # whenever it might have): nothing was spent, and a re-run tries again.
            self._fail(item, ItemState.ERROR, exc)
            return None
        finally:
            submission.finished()
        # Held in memory until the journal has it: if the write fails, the paid id still gets out.
        self.unjournaled[item.id] = task.task_id
        self.journal.update(item.id, ItemState.SUBMITTED, task_id=task.task_id)
        del self.unjournaled[item.id]
        self._emit(item, ItemState.SUBMITTED, task_id=task.task_id)
        return task.task_id

    async def _upload(self, image: str) -> str:
        if is_url_like(image):
            return image  # passed through as an input URL, as Client.edit does
        # One upload per distinct file per run, however many items use it.
        future = self._uploads.get(image)
        if future is None or (future.done() and (future.cancelled() or future.exception() is not None)):
            future = asyncio.ensure_future(self._upload_file(image))
            self._uploads[image] = future
        return await asyncio.shield(future)

    async def _upload_file(self, image: str) -> str:
        return (await self.client.upload(Path(image))).url

    async def _wait(self, item: ManifestItem, task_id: str) -> float | None:
        self._emit(item, "waiting", task_id=task_id)

        def progress(info: TaskInfo) -> None:
            if not info.is_finished:
                self._emit(item, info.raw_state or info.state.value, task_id=task_id)

        try:
            result = await self.client.wait(task_id, timeout=self.options.timeout, on_progress=progress)
        except TaskFailedError as exc:
            self._fail(item, ItemState.FAILED, exc, task_id=task_id)
            return None
        except KieError as exc:
            # The task exists and may still finish: it stays "submitted" and a re-run waits for it.
            self._fail(item, ItemState.SUBMITTED, exc, task_id=task_id)
            return None
        paths: list[str] = []
        if self.options.download:
            self._emit(item, "downloading", task_id=task_id)
            try:
                paths = [str(path) for path in await result.save(item.out)]
            except (KieError, OSError) as exc:
                # Paid for and finished: it stays "submitted" and a re-run saves it (exit code 7, as edit).
                error = ResultsNotSavedError.from_exception(task_id, exc, result.urls)
                self._fail(item, ItemState.SUBMITTED, error, task_id=task_id)
                return result.info.credits_consumed
        consumed = result.info.credits_consumed
        if consumed is not None:
            self._credits = (self._credits or 0.0) + consumed
        self.journal.update(
            item.id, ItemState.DONE, result_urls=list(result.urls), result_paths=paths, credits=consumed
        )
        self._emit(item, ItemState.DONE, task_id=task_id, paths=tuple(paths))
        return consumed

    # -------------------------------------------------------------------------------- the report

    def _report(self, interrupted: bool) -> BatchReport:
        after = self.journal.entries()
        report = BatchReport(
            interrupted=interrupted,
            unjournaled=dict(self.unjournaled),
            credits_used=self._credits,
            guard=self.guard,
        )
        for item in self.items:
            entry = after[item.id]
            before = self._before[item.id].state
            state = entry.state
            if state in FINISHED and before in FINISHED:
                outcome = "skipped"
            elif state in (ItemState.DONE, ItemState.FAILED, ItemState.UNKNOWN, ItemState.ERROR):
                outcome = state.value
            elif state is ItemState.SUBMITTED:
                outcome = "running"
            elif state is ItemState.SUBMITTING:
                outcome = "unknown"
            else:
                outcome = "pending"
            # The journal holds the code of what went wrong; only a row left "submitting" by a second
            # Ctrl-C has none yet (its createTask may have been accepted).
            code = entry.exit_code or (
                exit_code_of(SubmissionOutcomeUnknownError) if state is ItemState.SUBMITTING else ExitCode.OK
            )
            error = entry.error
            if state is ItemState.PENDING and item.id in self._not_started:
                outcome, code, error = (
                    "not started",
                    exit_code_of(NotStartedError),
                    self._not_started[item.id],
                )
            report.items.append(
                ItemReport(
                    id=item.id,
                    line=item.line,
                    state=state,
                    outcome=outcome,
                    task_id=entry.task_id,
                    result_urls=entry.result_urls,
                    files=entry.result_paths,
                    credits=entry.credits,
                    error=error,
                    exit_code=code,
                )
            )
        return report
