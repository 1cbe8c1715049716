"""The subcommands. Each takes the parsed arguments, a ``Context`` and an ``Output`` and returns an exit
code; errors propagate to ``main``, which turns them into one line and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import httpx

from .._client import DEFAULT_BASE_URL, DEFAULT_UPLOAD_BASE_URL, AsyncClient, Client
from .._download import Destination
from .._download import check_destination as _check_destination
from .._errors import InvalidInputError, KieError
from .._inputs import check_text
from .._models import TaskInfo
from .._policies import PollPolicy, RetryPolicy
from .._progress import UploadProgress
from .._results import EditResult
from .._scheduler import RateLimits
from ._exitcodes import ExitCode, ResultsNotSavedError, exit_code_for, exit_code_of
from ._output import PROG, Output, describe

if TYPE_CHECKING:
    from ._listen import CallbackListener

__all__ = [
    "COMMANDS",
    "OPTION_DEST",
    "Context",
    "Destination",
    "check_destination",
    "model_options",
    "read_key",
]


@dataclass
class Context:
    """What the CLI takes from its environment; tests replace parts (transports, clocks, streams).

    Every field has the real default, so ``main()`` from the console script passes none.
    """

    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    """Environment variables (``KIE_API_KEY``, ``KIE_BASE_URL``, ``KIE_UPLOAD_BASE_URL``)."""
    stdout: Any = None
    """Result stream (default ``sys.stdout`` at call time)."""
    stderr: Any = None
    """Human stream (default ``sys.stderr`` at call time)."""
    tty: bool | None = None
    """Force the live status line on or off (default: whether stderr is a terminal)."""
    transport: httpx.BaseTransport | None = None
    """httpx transport for the synchronous client (e.g. an in-process emulator)."""
    async_transport: httpx.AsyncBaseTransport | None = None
    """httpx transport for the batch's ``AsyncClient``."""
    sleep: Callable[[float], None] = time.sleep
    """Sleep of the synchronous client."""
    async_sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    """Sleep of the batch (polling and the rate gate)."""
    clock: Callable[[], float] = time.monotonic
    """Monotonic clock of the clients and the rate gate."""
    wall_clock: Callable[[], float] = time.time
    """Unix time, which callbacks' signed timestamps are checked against (``batch --listen``)."""
    on_batch_event: Callable[[Any], None] | None = None
    """Called with every ``BatchEvent`` (after the display handled it)."""


def read_key(args: argparse.Namespace, ctx: Context) -> str | None:
    """The API key from ``--api-key-file`` or ``KIE_API_KEY`` (``None``: the client reports it missing).

    There is deliberately no ``--api-key`` option: a key on the command line lands in shell history and
    in the process list.
    """
    if args.api_key_file:
        try:
            text = Path(args.api_key_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            # Not the exception text: a decode error quotes file content, and that content is the key.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise InvalidInputError(
                "--api-key-file", f"cannot read {args.api_key_file!r}: {reason}"
            ) from None
        key = text.strip()
        if not key:
            raise InvalidInputError("--api-key-file", f"{args.api_key_file!r} is empty")
        return key
    return ctx.env.get("KIE_API_KEY")


# With --listen each finish arrives as a callback (which makes its wait poll at once): the scheduled polls
# only back up a callback that never comes, so they go every 30 s instead of kie.ai's 2-5 s schedule.
# 100 running tasks then ask about 3 polls a second of the 8, and the budget no longer runs full.
LISTEN_POLL_INTERVAL = 30.0


def _poll_policy(args: argparse.Namespace) -> PollPolicy | None:
    interval = getattr(args, "poll_interval", None)
    if interval is None:
        return None
    if interval <= 0:
        raise InvalidInputError("--poll-interval", "must be a positive number of seconds")
    # One interval for every phase; the wait timeout keeps the library's default unless --timeout.
    return PollPolicy(early_interval=interval, middle_interval=interval, late_interval=interval)


def _timeout(args: argparse.Namespace) -> float | None:
    timeout: float | None = getattr(args, "timeout", None)
    if timeout is not None and timeout <= 0:
        raise InvalidInputError("--timeout", "must be a positive number of seconds")
    return timeout


def _base_url(args: argparse.Namespace, ctx: Context) -> str:
    # KIE_BASE_URL / KIE_UPLOAD_BASE_URL are what `kie-gpt-image emulator` tells a shell to export
    # (emulator/_run.py): pasting its lines must point every later command at the emulator.
    return str(args.base_url or ctx.env.get("KIE_BASE_URL") or DEFAULT_BASE_URL)


def _upload_base_url(args: argparse.Namespace, ctx: Context) -> str:
    return str(args.upload_base_url or ctx.env.get("KIE_UPLOAD_BASE_URL") or DEFAULT_UPLOAD_BASE_URL)


def _client(args: argparse.Namespace, ctx: Context, out: Output, sleep: Callable[[float], None]) -> Client:
    client = Client(
        read_key(args, ctx),
        base_url=_base_url(args, ctx),
        upload_base_url=_upload_base_url(args, ctx),
        poll_policy=_poll_policy(args),
        allow_http_callback=getattr(args, "allow_http_callback", False),
        transport=ctx.transport,
        sleep=sleep,
        clock=ctx.clock,
    )
    # The CLI reads the key itself (read_key): a 401 names where the user put it, not "api_key".
    client._key_source = (
        f"--api-key-file {args.api_key_file}" if args.api_key_file else "the KIE_API_KEY environment variable"
    )
    return client


UPLOAD_METER_BYTES = 1_000_000
"""Inputs from this size up show their upload progress on a terminal."""


def _upload_meter(out: Output) -> Callable[[UploadProgress], None] | None:
    """On a terminal, a callback showing ``uploading person.png: 3.1/9.8 MB`` for large inputs."""
    if not out.tty:
        return None

    def show(progress: UploadProgress) -> None:
        if progress.total >= UPLOAD_METER_BYTES:
            out.status(
                f"uploading {progress.file_name}: {progress.sent / 1e6:.1f}/{progress.total / 1e6:.1f} MB"
            )

    return show


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


class _TaskProgress:
    """The status line of one task: state, elapsed time, task id. On a terminal it also ticks while
    the client sleeps between polls (the client's sleep is wrapped); elsewhere it prints state changes."""

    def __init__(self, out: Output, ctx: Context) -> None:
        self.out = out
        self.ctx = ctx
        self.task_id = ""
        self.state = "submitting"
        self.start = ctx.clock()

    def show(self) -> None:
        if self.out.tty:
            elapsed = _elapsed(self.ctx.clock() - self.start)
            self.out.status(f"{self.state:<11} {elapsed}  {self.task_id}")

    def on_progress(self, info: TaskInfo) -> None:
        self.state = info.raw_state or info.state.value
        if self.out.tty:
            self.show()
        elif not info.is_finished:  # the end is reported once, by the caller
            self.out.note(f"task {info.task_id}: {self.state}")

    def sleep(self, seconds: float) -> None:
        if not self.out.tty:
            self.ctx.sleep(seconds)
            return
        end = self.ctx.clock() + seconds
        while (left := end - self.ctx.clock()) > 0:
            self.ctx.sleep(min(left, 0.5))
            self.show()


def check_destination(value: str) -> Destination:
    """Check ``-o`` before anything is sent, so that a paid result never meets an unusable destination.

    The rule is the library's (``kie_gpt_image._download.check_destination``, also behind
    ``EditResult.save``): a path with an image suffix is a file (several results: ``stem-1.png``, ...);
    an existing folder, a path ending in ``/`` or any other path is a folder.

    Raises:
        InvalidInputError: ``--output`` is not text, names something of the wrong kind, or lies in a
            place that cannot be written.
    """
    check_text("--output", value)
    return _check_destination(value, "--output")


def _save(result: EditResult, value: str) -> list[Path]:
    # The library applies the same rule to the same text (a trailing "/" included) as the check did.
    return result.save(value)


def _result_data(result: EditResult, files: list[Path]) -> dict[str, Any]:
    info = result.info
    return {
        "task_id": result.task_id,
        "state": info.state.value,
        "result_urls": list(result.urls),
        "files": [str(path) for path in files],
        "credits_consumed": info.credits_consumed,
        "cost_time_ms": info.cost_time_ms,
    }


def _finish(
    args: argparse.Namespace,
    out: Output,
    progress: _TaskProgress,
    task_id: str,
    client: Client,
    dest: str | None,
) -> int:
    """Wait for ``task_id``, save or list its results, report; shared by ``edit`` and ``wait``."""
    progress.task_id = task_id
    progress.show()
    try:
        result = client.wait(task_id, timeout=_timeout(args), on_progress=progress.on_progress)
    except KeyboardInterrupt:
        out.end_status()
        out.note(f"{PROG}: interrupted; task {task_id} goes on at kie.ai: resume with: {PROG} wait {task_id}")
        if out.json_mode:
            out.json({"task_id": task_id, "interrupted": True})
        return ExitCode.INTERRUPTED
    finally:
        out.end_status()
    try:
        files = _save(result, dest) if dest is not None else []
    except (KieError, OSError) as exc:
        return _save_failed(
            out, result, ResultsNotSavedError.from_exception(result.task_id, exc, result.urls)
        )
    except KeyboardInterrupt:
        out.note(
            f"{PROG}: interrupted while saving task {task_id}'s results: "
            f"save them with: {PROG} wait {task_id} -o DEST"
        )
        if out.json_mode:
            out.json({"task_id": task_id, "result_urls": list(result.urls), "interrupted": True})
        return ExitCode.INTERRUPTED
    credits = result.info.credits_consumed
    out.note(f"task {task_id}: success" + (f" ({credits:g} credits)" if credits is not None else ""))
    for line in files or result.urls:
        out.line(str(line))
    out.json(_result_data(result, files))
    return ExitCode.OK


def _save_failed(out: Output, result: EditResult, error: ResultsNotSavedError) -> int:
    # The task is paid for: say so, with its id and result URLs, and how to save them again.
    task_id = result.task_id
    code = exit_code_for(error)
    out.note(
        f"{PROG}: error: task {task_id} succeeded (credits were spent) but its results could not be "
        f"saved: {error.reason}; save them with: {PROG} wait {task_id} -o DEST"
    )
    for url in result.urls:
        out.line(url)
    data = _result_data(result, [])
    cause = error.__cause__ or error
    data["error"] = {
        "type": type(cause).__name__,
        "message": error.reason,
        "task_id": task_id,
        "exit_code": int(code),
    }
    out.json(data)
    return code


OPTION_DEST = "option."
"""Prefix of the parsed arguments that hold a model option (``build_parser`` adds one flag per option)."""


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """The model options given on the command line, by their ``input`` field name."""
    return {k[len(OPTION_DEST) :]: v for k, v in vars(args).items() if k.startswith(OPTION_DEST)}


def cmd_edit(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``edit IMAGE... -p PROMPT``: upload, create the task, wait, save."""
    return _submit(args, ctx, out, args.images)


def cmd_generate(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``generate -p PROMPT``: create a text-to-image task, wait, save."""
    return _submit(args, ctx, out, None)


def _submit(args: argparse.Namespace, ctx: Context, out: Output, images: list[str] | None) -> int:
    # Checked before a client exists: a prompt that is not UTF-8 (the shell passed other bytes) or an
    # unusable -o must stop here, not after the upload or the paid createTask (issue 11).
    check_text("--prompt", args.prompt)
    if args.callback_url is not None:
        check_text("--callback-url", args.callback_url)
    if args.output:
        check_destination(args.output)
    progress = _TaskProgress(out, ctx)
    with _client(args, ctx, out, progress.sleep) as client:
        if out.tty:
            out.status("uploading and submitting ..." if images else "submitting ...")
        try:
            # The model and its options come from the command line: the run-time-checked entry point.
            task = client._submit(
                images,
                args.prompt,
                model=args.model,
                options=model_options(args),
                kind="edit" if images is not None else "generate",
                callback_url=args.callback_url,
                wait=False,
                on_upload_progress=_upload_meter(out),
            )
        except KeyboardInterrupt:
            out.end_status()
            out.note(
                f"{PROG}: interrupted before kie.ai answered; if createTask was already sent a task may "
                "exist: check your kie.ai task list before submitting again"
            )
            return ExitCode.INTERRUPTED
        finally:
            out.end_status()
        # Said before waiting: if anything stops us now, the id is on screen to resume with.
        out.note(f"task {task.task_id} created")
        if args.no_wait:
            out.line(task.task_id)
            out.json({"task_id": task.task_id, "resume": f"{PROG} wait {task.task_id}"})
            return ExitCode.OK
        return _finish(args, out, progress, task.task_id, client, args.output)


def cmd_wait(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``wait TASK_ID``: poll until the task finishes; save its results with ``-o``."""
    if args.output:
        check_destination(args.output)
    progress = _TaskProgress(out, ctx)
    with _client(args, ctx, out, progress.sleep) as client:
        return _finish(args, out, progress, args.task_id, client, args.output)


def _info_data(info: TaskInfo) -> dict[str, Any]:
    return {
        "task_id": info.task_id,
        "state": info.state.value,
        "raw_state": info.raw_state,
        "model": info.model,
        "result_urls": list(info.result_urls),
        "fail_code": info.fail_code,
        "fail_msg": info.fail_msg,
        "credits_consumed": info.credits_consumed,
        "cost_time_ms": info.cost_time_ms,
        "created_at": info.created_at.isoformat() if info.created_at else None,
        "completed_at": info.completed_at.isoformat() if info.completed_at else None,
    }


def cmd_status(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``status TASK_ID``: the task's current record (exit 0 whatever its state)."""
    with _client(args, ctx, out, ctx.sleep) as client:
        info = client.get_task(args.task_id)
    data = _info_data(info)
    out.line(f"{info.task_id}  {info.raw_state or info.state.value}")
    for name in ("fail_code", "fail_msg", "credits_consumed", "created_at", "completed_at"):
        if data[name] not in (None, ""):
            out.line(f"  {name}: {data[name]}")
    for url in info.result_urls:
        out.line(f"  result: {url}")
    out.json(data)
    return ExitCode.OK


def cmd_upload(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``upload FILE``: upload one image, print its URL (usable as an input for a while)."""
    with _client(args, ctx, out, ctx.sleep) as client:
        uploaded = client.upload(args.file, on_upload_progress=_upload_meter(out))
        out.end_status()
    out.line(uploaded.url)
    out.json(
        {
            "url": uploaded.url,
            "file_name": uploaded.file_name,
            "file_path": uploaded.file_path,
            "size": uploaded.size,
            "mime_type": uploaded.mime_type,
            "uploaded_at": uploaded.uploaded_at,
        }
    )
    return ExitCode.OK


def cmd_credits(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``credits``: the account's remaining credits."""
    with _client(args, ctx, out, ctx.sleep) as client:
        credits = client.credits()
    out.line(f"{credits:g}")
    out.json({"credits": credits})
    return ExitCode.OK


def cmd_emulator(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``emulator``: the offline kie.ai on loopback until Ctrl-C, with ``python -m kie_gpt_image.emulator``'s
    options and announcement (the webhook key is not printed when it came from the environment)."""
    from ..emulator._run import emulator_from_options, serve

    emulator, key_shown = emulator_from_options(args)
    # Its API key is the emulator's own test key, not a kie.ai secret: printing it is the point.
    serve(
        args.port,
        args.host,
        emulator=emulator,
        key_shown=key_shown,
        announce=lambda line: print(line, file=out.stdout, flush=True),
    )
    return ExitCode.OK


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
        timeout=_timeout(args),
    )
    poll = _poll_policy(args)
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

        async def run() -> BatchReport:
            sigterm.attach()
            # A few more retries than interactive use: with many items a transient 429/5xx on a read
            # or an upload should not fail an item (createTask is still only retried when provably not
            # accepted).
            async with contextlib.AsyncExitStack() as stack:
                client = await stack.enter_async_context(
                    AsyncClient(
                        key,
                        base_url=_base_url(args, ctx),
                        upload_base_url=_upload_base_url(args, ctx),
                        retry_policy=RetryPolicy(max_retries=4),
                        poll_policy=poll,
                        transport=ctx.async_transport,
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
                runner = BatchRunner(client, journal, items, run_options, on_event=on_event)
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
    return report.exit_code


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
        return f"batch {_elapsed(self.ctx.clock() - self.start)}  " + (", ".join(parts) or "starting")

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
            )
            if counts[name]
        ]
        if extra:
            text += ", " + ", ".join(extra)
        if credits is not None:
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
        elif counts["error"] or counts["running"] or counts["pending"]:
            self.out.note(f"resume with: {resume}")
        for item in report.items:
            for path in item.files if item.outcome == "done" else ():
                self.out.line(path)
        self.out.json(
            {
                "counts": counts,
                "credits_used": credits,
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


COMMANDS: Mapping[str, Callable[[argparse.Namespace, Context, Output], int]] = {
    "edit": cmd_edit,
    "generate": cmd_generate,
    "status": cmd_status,
    "wait": cmd_wait,
    "upload": cmd_upload,
    "credits": cmd_credits,
    "batch": cmd_batch,
    "emulator": cmd_emulator,
}
"""Subcommand name → handler."""
