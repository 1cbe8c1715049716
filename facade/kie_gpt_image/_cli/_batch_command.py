"""The ``batch`` subcommand: its flags turned into a run (``_batch.BatchRunner``), the live display of
the run, SIGTERM handled as Ctrl-C, and the summary."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import threading
import urllib.request
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import httpx

from .._async_client import AsyncClient
from .._client import DEFAULT_LIMITS
from .._errors import BudgetStoreError, InvalidInputError
from .._policies import PollPolicy, RetryPolicy
from .._scheduler import RateLimits, Scheduler
from .._spend import SpendGuard, check_credits
from ._context import Context, base_url, elapsed, poll_policy, read_key, upload_base_url, wait_timeout
from ._exitcodes import ExitCode, StoreUnavailableError, exit_code_for, exit_code_of
from ._output import PROG, Output, describe
from ._submit_gate import JournalingTransport

if TYPE_CHECKING:
    from ._listen import CallbackListener

__all__ = ["LISTEN_POLL_INTERVAL", "add_spend_options", "cmd_batch"]


def add_spend_options(batch: argparse.ArgumentParser) -> None:
    """``batch``'s credit flags: ``--max-credits``, ``--task-cost``, ``--dry-run``."""
    spend = batch.add_argument_group(
        "credits",
        "a task's cost is known once it finishes (its record's credits); until then each task in flight "
        "reserves the highest cost seen for its model (this run, the journal, or --task-cost)",
    )
    spend.add_argument(
        "--max-credits",
        type=float,
        metavar="N",
        help="never let the credits spent and reserved by this run pass N (nor the account's balance); "
        "items that cannot start stay pending",
    )
    spend.add_argument(
        "--task-cost",
        action="append",
        default=[],
        metavar="MODEL=N",
        help="what a task of MODEL costs, if known (else its first task runs alone to measure it)",
    )
    spend.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be sent, per model, and its cost where known; send nothing",
    )


def _task_costs(values: list[str]) -> dict[str, float]:
    from .. import _api

    costs: dict[str, float] = {}
    for value in values:
        model, sep, number = value.partition("=")
        if not sep or model not in _api.MODELS:
            raise InvalidInputError(
                "--task-cost", f"{value!r}: give MODEL=N with MODEL one of {', '.join(_api.MODELS)}"
            )
        try:
            costs[model] = check_credits("--task-cost", float(number))
        except ValueError:
            raise InvalidInputError("--task-cost", f"{value!r}: N must be a number of credits") from None
    return costs


# With --listen each finish arrives as a callback (which makes its wait poll at once): the scheduled polls
# only back up a callback that never comes, so they go every 30 s instead of kie.ai's 2-5 s schedule.
# 100 running tasks then ask about 3 polls a second of the 8, and the budget no longer runs full.
LISTEN_POLL_INTERVAL = 30.0


def _rate_limits(args: argparse.Namespace) -> RateLimits:
    """The account limits of ``batch``'s flags (each checked by ``RateLimits``, named as the flag)."""
    flags = {
        "creates_per_window": "--rate-limit",
        "create_window": "--rate-window",
        "max_running": "--max-running",
        "polls_per_second": "--poll-rate",
        "margin": "--rate-margin",
        "store": "--rate-store",
    }
    try:
        return RateLimits(
            creates_per_window=args.rate_limit,
            create_window=args.rate_window,
            max_running=args.max_running,
            polls_per_second=args.poll_rate,
            margin=args.rate_margin,
            store=args.rate_store,
        )
    except InvalidInputError as exc:
        raise InvalidInputError(flags.get(exc.field, exc.field), exc.problem) from None


def _check_rate_store(limits: RateLimits) -> None:
    """Open a shared ``--rate-store`` once before anything is sent, so that an unreachable Redis or an
    unwritable SQLite file is a usage error naming the flag, not "a bug" in the middle of the run."""
    if not limits.shared:
        return
    try:
        # Its own account name: the probe opens the budgets and holds no slot.
        scheduler = Scheduler(limits, "kie-gpt-image batch store check")
        try:
            scheduler.open()  # the library's one typed error for a store it cannot use (password masked)
        finally:
            scheduler.close()
    except InvalidInputError as exc:  # e.g. the redis package is missing
        raise StoreUnavailableError("--rate-store", exc.problem) from None
    except BudgetStoreError as exc:
        raise StoreUnavailableError("--rate-store", " ".join(str(exc).split())) from None


def _listen(args: argparse.Namespace, ctx: Context) -> CallbackListener | None:
    """The callback receiver of ``--listen`` (bound now, so a taken port fails before anything is sent)."""
    from ._listen import CallbackListener, parse_listen

    if args.listen is None:
        if args.callback_url is not None:
            raise InvalidInputError("--callback-url", "needs --listen (where this batch receives them)")
        return None
    host, port, url = parse_listen(args.listen, args.callback_url)
    key = ctx.env.get("KIE_WEBHOOK_HMAC_KEY")
    if not key:
        raise InvalidInputError(
            "--listen", "callbacks are verified with the webhook HMAC key: set KIE_WEBHOOK_HMAC_KEY"
        )
    try:
        return CallbackListener(host, port, key=key, clock=ctx.wall_clock, callback_url=url)
    except OSError as exc:
        raise InvalidInputError(
            "--listen", f"cannot listen on {args.listen}: {exc.strerror or exc}"
        ) from None


def cmd_batch(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``batch MANIFEST``: run a JSONL manifest, resumably (see ``_batch``)."""
    from ._batch import BatchEvent, BatchOptions, BatchReport, BatchRunner, check_against_journal
    from ._journal import Journal
    from ._manifest import load_manifest

    if args.concurrency < 1:
        raise InvalidInputError("--concurrency", "must be at least 1")
    limits = _rate_limits(args)
    costs = _task_costs(args.task_cost)
    max_credits = None if args.max_credits is None else check_credits("--max-credits", args.max_credits)
    manifest = Path(args.manifest)
    journal_path = (
        Path(args.journal) if args.journal else manifest.with_name(manifest.name + ".journal.sqlite")
    )
    # Everything that can be wrong with the input is found before a client exists or a byte is sent.
    items, problems = load_manifest(manifest)
    key = read_key(args, ctx)
    options = BatchOptions(
        concurrency=args.concurrency,
        resubmit_unknown=args.resubmit_unknown,
        download=not args.no_download,
        timeout=wait_timeout(args),
    )
    poll = poll_policy(args)
    listen = _listen(args, ctx)
    if listen is not None and poll is None:
        poll = PollPolicy(
            early_interval=LISTEN_POLL_INTERVAL,
            middle_interval=LISTEN_POLL_INTERVAL,
            late_interval=LISTEN_POLL_INTERVAL,
        )
    if problems:
        return _report_manifest_errors(out, manifest, problems)
    if args.check:
        out.note(f"{manifest}: {len(items)} items, all valid")
        out.json({"manifest": str(manifest), "items": len(items), "valid": True})
        return ExitCode.OK
    if args.dry_run:
        return _dry_run(out, manifest, journal_path, items, costs, max_credits)
    _check_rate_store(limits)
    with Journal(journal_path) as journal:
        problems = check_against_journal(items, journal.entries())
        if problems:
            return _report_manifest_errors(out, manifest, problems)
        display = _BatchDisplay(out, ctx, len(items))
        runners: list[BatchRunner] = []

        def on_event(event: BatchEvent) -> None:
            display.on_event(event)
            if ctx.on_batch_event is not None:
                ctx.on_batch_event(event)

        sigterm = _SigtermAsInterrupt()

        # An HTTP proxy from the environment would take requests past a transport of ours (httpx mounts
        # it beside): then the runner marks items itself, as the client is about to send.
        transport: httpx.AsyncBaseTransport | None = ctx.async_transport
        if not urllib.request.getproxies():
            transport = JournalingTransport(transport or httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS))
        options = dataclasses.replace(options, gated=transport is not ctx.async_transport)

        async def run() -> BatchReport:
            sigterm.attach()
            # A few more retries than interactive use: with many items a transient 429/5xx on a read
            # or an upload should not fail an item (createTask is still only retried when provably not
            # accepted).
            async with contextlib.AsyncExitStack() as stack:
                client = await stack.enter_async_context(
                    AsyncClient(
                        key,
                        base_url=base_url(args, ctx),
                        upload_base_url=upload_base_url(args, ctx),
                        retry_policy=RetryPolicy(max_retries=4),
                        poll_policy=poll,
                        transport=transport,
                        sleep=ctx.async_sleep,
                        clock=ctx.clock,
                        rate_limits=limits,
                        allow_http_callback=listen is not None and listen.allow_http,
                    )
                )
                run_options = options
                if listen is not None:
                    listen.on_callback = client.poll_now
                    stack.enter_context(listen)
                    run_options = dataclasses.replace(options, callback_url=listen.url)
                    out.note(f"{PROG}: receiving callbacks at {listen.url}")
                guard = None
                if max_credits is not None:
                    guard = SpendGuard.of(max_credits, costs, balance=await client.credits())
                runner = BatchRunner(client, journal, items, run_options, on_event=on_event, guard=guard)
                runners.append(runner)
                display.runner_live = runner.live
                ticker = asyncio.ensure_future(display.tick()) if out.tty else None
                try:
                    return await runner.run()
                finally:
                    if ticker is not None:
                        ticker.cancel()

        resume = f"{PROG} batch {manifest}" + (f" --journal {journal_path}" if args.journal else "")
        try:
            with sigterm:
                report = asyncio.run(run())
        except (KeyboardInterrupt, asyncio.CancelledError):  # cancelled: a SIGTERM before the run began
            # A second Ctrl-C: createTask calls still in flight stay "submitting" (reported as unknown).
            out.end_status()
            _report_unjournaled(out, runners)
            out.note(f"{PROG}: interrupted; the journal is consistent: resume with: {resume}")
            return ExitCode.INTERRUPTED
        except Exception as exc:
            # The journal failed (disk full, I/O error) or a bug: the ids of tasks created and paid but
            # not journaled must still reach the user (issue 11).
            if not any(runner.unjournaled for runner in runners):
                raise
            out.end_status()
            code = exit_code_for(exc)
            out.note(f"{PROG}: error: {describe(exc)}")
            lost = _report_unjournaled(out, runners)
            out.json(
                {
                    "error": {"type": type(exc).__name__, "message": describe(exc), "exit_code": int(code)},
                    "unjournaled": lost,
                }
            )
            return code
    display.summary(report, resume)
    _write_gallery(out, journal_path, manifest)
    return report.exit_code


def _write_gallery(out: Output, journal_path: Path, manifest: Path) -> None:
    """The batch's results page beside its manifest (``report`` rebuilds it): a convenience, so a failure
    to write it is said but never changes the batch's exit code."""
    from ._gallery import write_gallery

    try:
        page = write_gallery(journal_path, manifest_path=manifest)
    except (OSError, InvalidInputError) as exc:
        out.note(f"{PROG}: the gallery page was not written: {describe(exc)}")
    else:
        out.note(f"gallery: {page}")


def _dry_run(
    out: Output,
    manifest: Path,
    journal_path: Path,
    items: list[Any],
    costs: dict[str, float],
    max_credits: float | None,
) -> int:
    """What a run would send, per model, with its cost where one is known; nothing is sent."""
    from ._journal import Journal
    from ._states import FINISHED, ItemState

    known = dict(costs)
    to_send = list(items)
    if journal_path.exists():
        with Journal(journal_path) as journal:
            entries = journal.entries()
        for item in items:
            entry = entries.get(item.id)
            if entry is not None and entry.credits is not None:
                known[item.model] = max(known.get(item.model, 0.0), entry.credits)
        # Finished items are skipped and submitted ones only waited for: neither creates a task.
        to_send = [
            item
            for item in items
            if item.id not in entries
            or (entries[item.id].state not in FINISHED and entries[item.id].state is not ItemState.SUBMITTED)
        ]
    per_model = Counter(item.model for item in to_send)
    models = []
    total: float | None = 0.0
    for model, count in sorted(per_model.items()):
        cost = known.get(model)
        models.append(
            {
                "model": model,
                "tasks": count,
                "task_cost": cost,
                "cost": None if cost is None else cost * count,
            }
        )
        each = "cost unknown" if cost is None else f"{cost:g} credits each, {cost * count:g} in all"
        out.note(f"  {model}: {count} task(s), {each}")
        total = None if cost is None or total is None else total + cost * count
    ending = "unknown" if total is None else f"{total:g} credits"
    out.note(
        f"{manifest}: dry run: {len(to_send)} task(s) would be sent, {ending}"
        + (f" (--max-credits {max_credits:g})" if max_credits is not None else "")
        + "; nothing was sent"
    )
    out.json(
        {"manifest": str(manifest), "dry_run": True, "tasks": len(to_send), "cost": total, "models": models}
    )
    return ExitCode.OK


def _report_unjournaled(out: Output, runners: list[Any]) -> list[dict[str, str]]:
    lost = [
        {"id": item_id, "task_id": task_id}
        for runner in runners
        for item_id, task_id in runner.unjournaled.items()
    ]
    for entry in lost:
        out.note(
            f"  item {entry['id']}: task {entry['task_id']} was created (and is paid for) but the journal "
            f"could not record it; do not resubmit it: {PROG} wait {entry['task_id']}"
        )
    return lost


class _SigtermAsInterrupt:
    """SIGTERM (``kill``, systemd, container runtimes) stops a batch the way Ctrl-C does.

    The first one cancels the run's main task, which lets createTask calls in flight finish and
    journals their ids; a second one raises ``KeyboardInterrupt`` at once. This is what asyncio.Runner
    does for SIGINT (cpython Lib/asyncio/runners.py), done here for SIGTERM, and independently of SIGINT,
    which a shell ignores in background jobs. Installed only in the main thread (the only one allowed).
    """

    def __init__(self) -> None:
        self.task: asyncio.Task[Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._count = 0
        self._previous: Any = None
        self._installed = False

    def attach(self) -> None:
        """Called from inside the run: the task that SIGTERM cancels."""
        self.task = asyncio.current_task()
        self.loop = asyncio.get_running_loop()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._count += 1
        if self._count == 1 and self.task is not None and not self.task.done():
            self.task.cancel()
            if self.loop is not None:  # wake the loop if it sleeps in select()
                self.loop.call_soon_threadsafe(lambda: None)
            return
        raise KeyboardInterrupt

    def __enter__(self) -> _SigtermAsInterrupt:
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)


def _report_manifest_errors(out: Output, manifest: Path, problems: list[Any]) -> int:
    code = exit_code_of(InvalidInputError)  # each problem is an InvalidInputError of one line
    out.note(f"{PROG}: error: {manifest}: {len(problems)} invalid line(s); nothing was sent")
    for problem in problems:
        out.note(f"  {problem}")
    out.json(
        {
            "error": {
                "type": "ManifestError",
                "message": f"{len(problems)} invalid line(s)",
                "lines": [{"line": p.line, "message": p.message} for p in problems],
                "exit_code": int(code),
            }
        }
    )
    return code


class _BatchDisplay:
    """Counts per state on a live status line (terminal), or one line per finished item (elsewhere)."""

    _ORDER = (
        "done",
        "failed",
        "unknown",
        "error",
        "generating",
        "queuing",
        "waiting",
        "submitted",
        "submitting",
    )

    def __init__(self, out: Output, ctx: Context, total: int) -> None:
        self.out = out
        self.ctx = ctx
        self.total = total
        self.start = ctx.clock()
        self.runner_live: dict[str, str] = {}
        self._last = 0.0

    def line(self) -> str:
        counts = Counter(self.runner_live.values())
        parts = [f"{counts[state]} {state}" for state in self._ORDER if counts[state]]
        busy = counts["uploading"] + counts["queued"] + counts["downloading"]
        if busy:
            parts.append(f"{busy} in transfer")
        return f"batch {elapsed(self.ctx.clock() - self.start)}  " + (", ".join(parts) or "starting")

    def on_event(self, event: Any) -> None:
        if self.out.tty:
            now = self.ctx.clock()
            if now - self._last >= 0.1:  # at most ten redraws a second, however many items move
                self._last = now
                self.out.status(self.line())
        elif event.state in ("done", "failed", "unknown", "error") or (
            event.state == "submitted" and event.error
        ):
            detail = event.error or " ".join(event.paths) or ""
            task = f" task {event.task_id}" if event.task_id else ""
            self.out.note(f"item {event.item_id}:{task} {event.state}" + (f": {detail}" if detail else ""))

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.out.status(self.line())

    def summary(self, report: Any, resume: str) -> None:
        self.out.end_status()
        counts = report.counts
        credits = report.credits_used
        text = (
            f"batch: {counts['done']} done, {counts['failed']} failed, {counts['unknown']} unknown, "
            f"{counts['skipped']} skipped (finished earlier)"
        )
        extra = [
            f"{counts[name]} {label}"
            for name, label in (
                ("error", "not submitted (error)"),
                ("running", "still running"),
                ("pending", "not started"),
                ("not started", "not started (credit budget; still pending)"),
            )
            if counts[name]
        ]
        if extra:
            text += ", " + ", ".join(extra)
        guard = report.guard
        if guard is not None:
            # Measured: finished records' credits; reserved: estimates for tasks still in flight.
            text += (
                f"; credits: {guard.spent:g} used, {guard.reserved:g} reserved, {guard.left:g} left "
                f"of {guard.limit:g}"
            )
        elif credits is not None:
            text += f"; {credits:g} credits used"
        self.out.note(text)
        for item in report.items:
            if item.outcome == "unknown":
                self.out.note(
                    f"  item {item.id} (line {item.line}): submission outcome unknown; check your kie.ai "
                    "task list, then re-run with --resubmit-unknown to submit it again"
                )
        for item_id, task_id in report.unjournaled.items():
            self.out.note(
                f"  item {item_id}: task {task_id} was created (and is paid for) but the journal could "
                f"not record it; do not resubmit it: {PROG} wait {task_id}"
            )
        if report.interrupted:
            self.out.note(f"{PROG}: interrupted; the journal is consistent: resume with: {resume}")
        elif counts["error"] or counts["running"] or counts["pending"] or counts["not started"]:
            self.out.note(f"resume with: {resume}")
        for item in report.items:
            for path in item.files if item.outcome == "done" else ():
                self.out.line(path)
        self.out.json(
            {
                "counts": counts,
                "credits_used": credits,
                "credits": None
                if guard is None
                else {
                    "used": guard.spent,
                    "reserved": guard.reserved,
                    "left": guard.left,
                    "limit": guard.limit,
                    "max_credits": guard.max_credits,
                    "balance": guard.balance,
                },
                "interrupted": report.interrupted,
                "exit_code": int(report.exit_code),
                "unjournaled": [{"id": i, "task_id": t} for i, t in report.unjournaled.items()],
                "items": [
                    {
                        "id": item.id,
                        "line": item.line,
                        "state": item.state,
                        "outcome": item.outcome,
                        "task_id": item.task_id,
                        "result_urls": list(item.result_urls),
                        "files": list(item.files),
                        "credits": item.credits,
                        "error": item.error,
                        "exit_code": int(item.exit_code),
                    }
                    for item in report.items
                ],
            }
        )
