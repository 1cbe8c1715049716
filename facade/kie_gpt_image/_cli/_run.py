"""``run MODEL key=value ...`` (any model of the catalog, as ``replicate run`` takes it) and ``models``.

A value is parsed as JSON where it parses (``duration=5``, ``multi_prompt='[{"prompt": "a"}]'``), else
kept as text; a string field of the model's document always takes the text as given (kling's
``duration`` is the string ``"5"``). ``key=@path`` gives a local file, uploaded by the library like
``edit``'s images; a key given several times is a list (``image_urls=@a.png image_urls=@b.png``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import _api
from .._client import DEFAULT_BASE_URL, DEFAULT_UPLOAD_BASE_URL, Client
from .._errors import InvalidInputError, KieError
from .._inputs import check_text
from .._models import Task
from .._results import RunResult
from ._commands import Context, check_destination, read_key
from ._exitcodes import ExitCode, ResultsNotSavedError, exit_code_for
from ._output import PROG, Output

__all__ = ["RUN_COMMANDS", "add_run_parsers", "chosen_run_model", "field_lines", "parse_fields"]

_OUTPUT_HELP = (
    "save the result files to DEST: a file name (.png, .jpg, .mp4, .mp3, ...; several files: NAME-1.mp4, "
    "...), or a folder (an existing one, or a path ending in '/'; files named TASK_ID-N with the suffix "
    "of their content); default: print the URLs"
)


def chosen_run_model(argv: Sequence[str]) -> str | None:
    """The model ``run`` names in ``argv`` (its first word after ``run`` that is not an option), so that
    ``run MODEL --help`` can list that model's fields."""
    words = list(argv)
    if "run" not in words:
        return None
    for word in words[words.index("run") + 1 :]:
        if not word.startswith("-") and "=" not in word:
            return word
    return None


def field_lines(spec: _api.ModelSpec) -> list[str]:
    """One line per ``input`` field of ``spec``: name, type or media kind, values, default, required."""
    lines = []
    for field in spec.fields:
        media = _api.field_media(field)
        kind = f"{media} file{'s' if field.type == 'array' else ''} (@path or URL)" if media else field.type
        parts = [f"  {field.name.strip()}: {kind}"]
        if field.enum is not None:
            parts.append("one of " + ", ".join(map(str, field.enum)))
        if field.has_default:
            parts.append(f"default {field.default}")
        if field.required and not field.has_default:
            parts.append("required")
        lines.append("; ".join(parts))
    return lines


def add_run_parsers(
    add: Callable[[str, str], argparse.ArgumentParser],
    argv: Sequence[str],
    wait_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``run`` and ``models`` to the subcommands (``add(name, help)`` makes one)."""
    run = add("run", "run any model of the catalog with its own input fields, wait and save the results")
    run.add_argument("model", metavar="MODEL", help="a model id (see: models)")
    run.add_argument(
        "fields",
        nargs="*",
        metavar="KEY=VALUE",
        help="an input field: VALUE as JSON where it parses, else text; KEY=@PATH uploads a local file",
    )
    run.add_argument("-o", "--output", metavar="DEST", help=_OUTPUT_HELP)
    run.add_argument("--no-wait", action="store_true", help="print the task id and exit without waiting")
    run.add_argument("--callback-url", metavar="URL", help="https URL kie.ai posts the result to")
    run.add_argument("--allow-http-callback", action="store_true", help=argparse.SUPPRESS)
    run.add_argument(
        "--no-validate",
        action="store_true",
        help="send the fields unchecked, to a model kie.ai added after this version's catalog",
    )
    wait_options(run)
    chosen = chosen_run_model(argv)
    spec = _api.model_spec(chosen) if chosen else None
    if spec is not None:
        run.epilog = (
            f"fields of {spec.model} (output: {_api.model_output(spec)}):\n"
            + "\n".join(field_lines(spec))
            + "\n\n"
            + (run.epilog or "")
        )
    add("models", "list the models of the catalog: id, output, media fields and options")


def _value(text: str) -> Any:
    if text.startswith("@"):
        return Path(text[1:]).expanduser()
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_fields(pairs: Sequence[str], spec: _api.ModelSpec | None) -> dict[str, Any]:
    """``KEY=VALUE`` words as the ``input`` of ``run`` (see the module docstring).

    Raises:
        InvalidInputError: a word without ``=``, or an empty key.
    """
    fields: dict[str, Any] = {}
    for pair in pairs:
        check_text("KEY=VALUE", pair)
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(pair[:40], "give input fields as KEY=VALUE (KEY=@PATH for a local file)")
        field = spec.field(key) if spec is not None else None
        value: Any = _value(text)
        if field is not None and field.type == "string" and not isinstance(value, Path):
            value = text  # a string field takes the text as typed: "5" stays "5"
        if key in fields:  # a repeated key makes a list
            before = fields[key]
            fields[key] = [*(before if isinstance(before, list) else [before]), value]
        else:
            fields[key] = value
    return fields


def _client(args: argparse.Namespace, ctx: Context) -> Client:
    return Client(
        read_key(args, ctx),
        base_url=args.base_url or ctx.env.get("KIE_BASE_URL") or DEFAULT_BASE_URL,
        upload_base_url=args.upload_base_url or ctx.env.get("KIE_UPLOAD_BASE_URL") or DEFAULT_UPLOAD_BASE_URL,
        allow_http_callback=args.allow_http_callback,
        transport=ctx.transport,
        sleep=ctx.sleep,
        clock=ctx.clock,
    )


def _timeout(args: argparse.Namespace) -> float | None:
    timeout: float | None = args.timeout
    if timeout is not None and timeout <= 0:
        raise InvalidInputError("--timeout", "must be a positive number of seconds")
    return timeout


def cmd_run(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``run MODEL KEY=VALUE...``: check, upload, create the task, wait, save (``Client.run``)."""
    check_text("MODEL", args.model)
    spec = _api.model_spec(args.model)
    fields = parse_fields(args.fields, spec)
    if args.output:
        check_destination(args.output)
    with _client(args, ctx) as client:
        task = client.run(
            args.model,
            fields,
            wait=False,
            validate=not args.no_validate,
            callback_url=args.callback_url,
        )
        out.note(f"task {task.task_id} created")
        if args.no_wait:
            out.line(task.task_id)
            out.json({"task_id": task.task_id, "resume": f"{PROG} wait {task.task_id}"})
            return ExitCode.OK
        return _finish(args, out, client, task)


def _finish(args: argparse.Namespace, out: Output, client: Client, task: Task) -> int:
    try:
        info = client.wait(task.task_id, timeout=_timeout(args)).info
    except KeyboardInterrupt:
        resume = f"{PROG} wait {task.task_id}"
        out.note(f"{PROG}: interrupted; task {task.task_id} goes on at kie.ai: resume with: {resume}")
        return ExitCode.INTERRUPTED
    result = RunResult.from_info(info, client)
    data = {
        "task_id": result.task_id,
        "state": info.state.value,
        "result_urls": list(result.urls),
        "data": {k: v for k, v in result.data.items() if k != "resultUrls"},
        "credits_consumed": info.credits_consumed,
    }
    try:
        files = result.save(args.output) if args.output else []
    except (KieError, OSError) as exc:
        error = ResultsNotSavedError.from_exception(result.task_id, exc, result.urls)
        code = exit_code_for(error)
        out.note(f"{PROG}: error: {error.message}; save them with: {PROG} wait {task.task_id} -o DEST")
        for url in result.urls:
            out.line(url)
        out.json({**data, "files": [], "error": {"message": error.reason, "exit_code": int(code)}})
        return code
    out.note(f"task {task.task_id}: success")
    for line in [*map(str, files or result.urls)]:
        out.line(line)
    if not result.urls:  # a result that is data, not files (e.g. {"character_id": ...})
        out.line(json.dumps(data["data"], ensure_ascii=False))
    out.json({**data, "files": [str(path) for path in files]})
    return ExitCode.OK


def _model_data(spec: _api.ModelSpec) -> dict[str, Any]:
    media = {f.name: _api.field_media(f) for f in _api.media_fields(spec)}
    return {
        "model": spec.model,
        "output": _api.model_output(spec),
        "media_fields": media,
        "prompt": _api.prompt_field(spec) is not None,
        "options": [f.name for f in spec.fields if f.name not in media and f.name != _api.prompt_field(spec)],
    }


def cmd_models(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """``models``: every model of the catalog, its output kind, media fields and options."""
    models = [_model_data(spec) for spec in _api.MODELS.values()]
    for model in models:
        media = ", ".join(f"{name} ({kind})" for name, kind in model["media_fields"].items()) or "-"
        options = ", ".join(model["options"]) or "-"
        out.line(f"{model['model']}  [{model['output']}]  media: {media}  options: {options}")
    out.json({"models": models})
    return ExitCode.OK


RUN_COMMANDS: Mapping[str, Callable[[argparse.Namespace, Context, Output], int]] = {
    "run": cmd_run,
    "models": cmd_models,
}
"""The subcommands of this module, by name."""
