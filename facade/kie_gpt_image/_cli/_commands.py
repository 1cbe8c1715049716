"""The subcommands. Each takes the parsed arguments, a ``Context`` and an ``Output`` and returns an exit
code; errors propagate to ``main``, which turns them into one line and an exit code."""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import _api
from .._client import Client
from .._download import Destination
from .._download import check_destination as _check_destination
from .._errors import InvalidInputError, KieError
from .._inputs import check_text
from .._models import TaskInfo
from .._progress import UploadProgress
from .._results import EditResult
from ._batch_command import cmd_batch
from ._context import Context, read_key
from ._context import base_url as _base_url
from ._context import elapsed as _elapsed
from ._context import poll_policy as _poll_policy
from ._context import upload_base_url as _upload_base_url
from ._context import wait_timeout as _timeout
from ._exitcodes import ExitCode, ResultsNotSavedError, exit_code_for
from ._output import PROG, Output

__all__ = [
    "COMMANDS",
    "OPTION_DEST",
    "Context",
    "Destination",
    "check_destination",
    "model_options",
    "read_key",
]


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
    # The library applies the same rule to the same text (a trailing "/" included) as the check did. A
    # result of data alone (a model that answers a character id, not files) has nothing to save.
    return result.save(value) if result.urls else []


def _result_data(result: EditResult, files: list[Path]) -> dict[str, Any]:
    info = result.info
    return {
        "task_id": result.task_id,
        "state": info.state.value,
        "result_urls": list(result.urls),
        "files": [str(path) for path in files],
        "credits_consumed": info.credits_consumed,
        "cost_time_ms": info.cost_time_ms,
        "data": _api.result_data(info),
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
        out.note(
            f"{PROG}: interrupted; task {task_id} goes on at kie.ai: resume with: "
            f"{PROG} wait {task_id}{out.wait_options}"
        )
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
    data = _result_data(result, files)
    if not result.urls:  # the result is data, not files: show it (``run``'s ``RunResult.data``)
        out.line(json.dumps(data["data"]))
    out.json(data)
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


def _check_callback_scheme(url: str, allow_http: bool) -> None:
    # The library's own message names its Python argument (allow_http_callback=True); a shell user
    # needs the flag. The library still applies its full rule (http only to a loopback host).
    if urlsplit(url.strip()).scheme.lower() == "http" and not allow_http:
        raise InvalidInputError(
            "--callback-url",
            "must be https (kie.ai posts task results to it); pass --allow-http-callback to allow http "
            "to a loopback host (a receiver or the emulator on this machine)",
        )


def _submit(args: argparse.Namespace, ctx: Context, out: Output, images: list[str] | None) -> int:
    # Checked before a client exists: a prompt that is not UTF-8 (the shell passed other bytes) or an
    # unusable -o must stop here, not after the upload or the paid createTask (issue 11).
    check_text("--prompt", args.prompt)
    if args.callback_url is not None:
        check_text("--callback-url", args.callback_url)
        _check_callback_scheme(args.callback_url, args.allow_http_callback)
    if args.output:
        check_destination(args.output)
        out.wait_options = f" -o {shlex.quote(args.output)}"
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
            out.json({"task_id": task.task_id, "resume": f"{PROG} wait {task.task_id}{out.wait_options}"})
            return ExitCode.OK
        return _finish(args, out, progress, task.task_id, client, args.output)


def cmd_wait(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``wait TASK_ID``: poll until the task finishes; save its results with ``-o``."""
    if args.output:
        check_destination(args.output)
        out.wait_options = f" -o {shlex.quote(args.output)}"
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
