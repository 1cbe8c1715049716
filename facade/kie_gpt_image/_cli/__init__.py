"""The ``kie-gpt-image`` command line: ``main`` and its argument parser.

Standard library only (argparse, sqlite3, asyncio) on top of the library itself; ``import kie_gpt_image``
never imports this package (only the console script does).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__, _api
from .._auth import Secret
from ._batch_command import add_spend_options as _add_spend_options
from ._commands import COMMANDS, OPTION_DEST, Context, read_key
from ._exitcodes import ExitCode, exit_code_for, exit_codes_epilog
from ._gallery import cmd_report
from ._hints import HintingParser
from ._output import PROG, Output
from ._run import RUN_COMMANDS, add_run_parsers

__all__ = ["Context", "ExitCode", "build_parser", "main"]

_DESCRIPTION = "Edit and generate images with kie.ai's GPT Image models (1.5 and 2)."
_KEY_HELP = (
    "The API key is read from the KIE_API_KEY environment variable, or from the file given with "
    "--api-key-file (there is no --api-key option: keys on command lines end up in shell history)."
)


_EMULATOR_HELP = "run the offline kie.ai emulator on loopback until Ctrl-C"
_EMULATOR_DESCRIPTION = (
    f"{_EMULATOR_HELP}.\nIt takes the options of 'python -m kie_gpt_image.emulator' and prints its URLs,\n"
    "its keys and the shell exports that point a client at it (a webhook key taken from\n"
    "$KIE_WEBHOOK_HMAC_KEY is not printed)."
)


def _emulator_options(parser: argparse.ArgumentParser) -> None:
    # The emulator's own options, shared with ``python -m kie_gpt_image.emulator``.
    from ..emulator._run import add_options

    add_options(parser)


class _SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser, whose ``lazy_options`` are added the first time it parses or renders help.

    The ``emulator`` subcommand declares its options this way, so the emulator package is imported only
    when ``emulator`` is the subcommand: ``edit``, ``batch`` and their ``--help`` never pay for it
    (argparse hands a subparser its arguments through ``parse_known_args``).
    """

    def __init__(
        self, *args: Any, lazy_options: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._lazy_options = lazy_options

    def _load(self) -> None:
        if self._lazy_options is not None:
            add, self._lazy_options = self._lazy_options, None
            add(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._load()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._load()
        return super().format_help()

    def format_usage(self) -> str:
        self._load()
        return super().format_usage()


def _common(*, client: bool = True) -> _SubcommandParser:
    """Options every subcommand takes. ``SUPPRESS`` defaults let them appear before or after the
    subcommand name without the subcommand's defaults overwriting what was given before it.

    ``client=False``: only ``--json`` and ``--debug``, for ``emulator``, where a key file and hosts to
    talk to mean nothing (its ``--help`` must not offer them)."""
    common = _SubcommandParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    group.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="tracebacks and request logging"
    )
    if not client:
        return common
    group.add_argument(
        "--api-key-file", metavar="PATH", default=argparse.SUPPRESS, help="read the key from PATH"
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="API host, e.g. a local emulator (default: $KIE_BASE_URL, else kie.ai)",
    )
    group.add_argument(
        "--upload-base-url",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="upload host (default: $KIE_UPLOAD_BASE_URL, else kie.ai's)",
    )
    return common


_OUTPUT_HELP = (
    "save results to DEST: a file name ending in .png/.jpg/.jpeg/.webp (several results: NAME-1.png, "
    "NAME-2.png, ...), or a folder (an existing one, or a path ending in '/'; default: print the URLs)"
)

_COMMON_DEFAULTS = {
    "json": False,
    "debug": False,
    "api_key_file": None,
    "base_url": None,
    "upload_base_url": None,
}


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, metavar="S", help="give up waiting after S seconds (default 900)"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        metavar="S",
        help="poll every S seconds (default: kie.ai's advised schedule)",
    )


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not JSON: {text!r}") from None


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "yes", "1", "on"):
        return True
    if text.lower() in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean (true/false): {text!r}")


# The command-line type of each JSON type; arrays and objects are given as JSON.
_CONVERT: dict[str, Callable[[str], Any]] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": _boolean,
    "array": _json_value,
    "object": _json_value,
}


def _add_model_options(parser: argparse.ArgumentParser, spec: _api.ModelSpec) -> None:
    """One flag per option of ``spec``'s model, from its catalog entry: ``aspect_ratio`` becomes
    ``--aspect-ratio`` with the enum as its choices (``--input-NAME`` if the name is already a flag)."""
    group = parser.add_argument_group(
        f"options of {spec.model}", "choose another model with --model; its options are listed then"
    )
    for field in spec.fields:
        if field.name in ("prompt", spec.image_field):
            continue
        flag = "--" + field.name.replace("_", "-")
        if flag in parser._option_string_actions:
            flag = "--input-" + field.name.replace("_", "-")
        convert = _CONVERT.get(field.type, str)
        choices = list(field.enum) if field.enum is not None else None
        help_text = field.description.replace("%", "%%") or field.name
        if field.has_default:
            help_text += f" (default {field.default})"
        elif not field.required:
            help_text += " (optional)"
        group.add_argument(
            flag,
            dest=OPTION_DEST + field.name,
            type=type(choices[0]) if choices and not isinstance(choices[0], bool) else convert,
            choices=choices,
            metavar="{" + ",".join(map(str, choices)) + "}" if choices else field.type.upper(),
            required=field.required and not field.has_default,
            default=argparse.SUPPRESS,
            help=help_text,
        )


def chosen_models(argv: Sequence[str]) -> tuple[str, str | None]:
    """The models of ``edit`` and ``generate`` that ``argv`` names with ``--model`` (else the defaults):
    the parser lists, and accepts, that model's options."""
    scan = argparse.ArgumentParser(add_help=False)
    scan.add_argument("--model")
    given = scan.parse_known_args(list(argv))[0].model
    spec = _api.model_spec(given) if isinstance(given, str) else None
    edit = spec.model if spec is not None and spec.takes_images else _api.MODEL
    generate = spec.model if spec is not None and not spec.takes_images else _api.DEFAULT_GENERATE_MODEL
    return edit, generate


def _add_model(parser: argparse.ArgumentParser, chosen: str | None, images: bool) -> None:
    names = [m for m, spec in _api.MODELS.items() if spec.takes_images == images]
    default = _api.MODEL if images else _api.DEFAULT_GENERATE_MODEL
    parser.add_argument(
        "--model",
        choices=names,
        default=default,
        required=default is None,
        help=f"the model ({', '.join(names)}; default {default})",
    )
    spec = _api.model_spec(chosen) if chosen else None
    if spec is not None:
        _add_model_options(parser, spec)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The full argument parser (also renders ``--help``), with the option flags of the models that
    ``argv`` chooses (``chosen_models``)."""
    edit_model, generate_model = chosen_models(argv)
    common = _common()
    epilog = f"{_KEY_HELP}\n\n{exit_codes_epilog()}"
    parser = HintingParser(
        argv=argv,
        prog=PROG,
        description=_DESCRIPTION,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_SubcommandParser
    )

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common],
        )

    edit = add("edit", "upload images, create an edit task, wait for it and save the results")
    edit.add_argument("images", nargs="+", metavar="IMAGE", help="input image: a path or an http(s) URL")
    edit.add_argument("-p", "--prompt", required=True, help="the edit instruction")
    generate = add("generate", "create a text-to-image task, wait for it and save the results")
    generate.add_argument("-p", "--prompt", required=True, help="what to draw")
    for command, chosen, images in ((edit, edit_model, True), (generate, generate_model, False)):
        command.add_argument("-o", "--output", metavar="DEST", help=_OUTPUT_HELP)
        command.add_argument(
            "--no-wait", action="store_true", help="print the task id and exit without waiting"
        )
        command.add_argument("--callback-url", metavar="URL", help="https URL kie.ai posts the result to")
        command.add_argument(
            "--allow-http-callback",
            action="store_true",
            help="allow an http --callback-url to a loopback host (a local receiver or the emulator)",
        )
        _wait_options(command)
        _add_model(command, chosen, images)

    status = add("status", "show a task's current state")
    status.add_argument("task_id", metavar="TASK_ID")

    wait = add("wait", "wait for a task to finish (resumes after a timeout or Ctrl-C)")
    wait.add_argument("task_id", metavar="TASK_ID")
    wait.add_argument("-o", "--output", metavar="DEST", help=_OUTPUT_HELP)
    _wait_options(wait)

    upload = add("upload", "upload one image and print its (short-lived) URL")
    upload.add_argument("file", metavar="FILE")

    add("credits", "show the account's remaining credits")
    add_run_parsers(add, argv, _wait_options)  # run MODEL KEY=VALUE..., models (_run.py)

    batch = add("batch", "run a JSONL manifest of edits, resumably")
    batch.description = (
        'Run a JSONL manifest, one task per line: {"images": [...], "prompt": "...", "aspect_ratio": '
        '..., "quality": ..., "out": "folder", "id": "..."}; "model" chooses another model (default '
        f"{_api.MODEL}), and every other key is an option of the line's model. Image paths and out are "
        "relative to the manifest's folder. Progress is journaled: re-running the same command resumes "
        "without creating any task twice."
    )
    batch.add_argument("manifest", metavar="MANIFEST")
    batch.add_argument("--journal", metavar="PATH", help="journal file (default: MANIFEST.journal.sqlite)")
    batch.add_argument(
        "--concurrency", type=int, default=120, metavar="N", help="items in progress at once (120)"
    )
    limits = batch.add_argument_group(
        "account limits",
        "kie.ai's limits, kept by every createTask and poll of the run; --rate-store shares them with "
        "other runs and programs using the same store (kie-gpt-image's RateLimits)",
    )
    limits.add_argument(
        "--rate-limit", type=int, default=20, metavar="N", help="at most N new tasks per window (kie.ai: 20)"
    )
    limits.add_argument(
        "--rate-window",
        type=float,
        default=10.0,
        metavar="S",
        help="rate-limit window in seconds (kie.ai: 10)",
    )
    limits.add_argument(
        "--max-running", type=int, default=100, metavar="N", help="at most N tasks running (kie.ai: ~100)"
    )
    limits.add_argument(
        "--poll-rate", type=int, default=8, metavar="N", help="at most N status polls per second (kie.ai: 10)"
    )
    limits.add_argument(
        "--rate-margin",
        type=float,
        default=None,
        metavar="S",
        help="seconds added to each window for the time a request takes to reach kie.ai "
        "(default 0.25 with a shared --rate-store, 0 in memory, where the client's own ledger covers it)",
    )
    limits.add_argument(
        "--rate-store",
        default="memory",
        metavar="STORE",
        help="where the limits' state lives: memory (this run), sqlite:///FILE (processes on this "
        "machine) or redis://HOST:PORT/DB (machines sharing a Redis)",
    )
    batch.add_argument(
        "--resubmit-unknown",
        action="store_true",
        help="submit again items whose earlier submission has an unknown outcome (may pay twice)",
    )
    callbacks = batch.add_argument_group(
        "callbacks",
        "receive kie.ai's callbacks in this batch, so each task's running slot frees up as soon as it "
        "finishes, not at its next poll (needs KIE_WEBHOOK_HMAC_KEY to verify them)",
    )
    callbacks.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="serve the callback receiver here (port 0: any free port); each callback ends its wait, and "
        "polls only back callbacks up (every 30 s unless --poll-interval)",
    )
    callbacks.add_argument(
        "--callback-url",
        metavar="URL",
        help="the public https URL kie.ai posts to, forwarded to --listen (default: http://HOST:PORT/, "
        "which only the emulator on this machine can reach)",
    )
    batch.add_argument("--no-download", action="store_true", help="record result URLs without downloading")
    batch.add_argument("--check", action="store_true", help="validate the manifest and exit")
    _add_spend_options(batch)
    _wait_options(batch)

    report = add(
        "report", "rebuild a batch's HTML gallery (inputs, prompts, outputs, states) from its journal"
    )
    report.add_argument("journal", metavar="JOURNAL", help="the batch's journal (MANIFEST.journal.sqlite)")
    report.add_argument(
        "--manifest", metavar="PATH", help="the manifest (default: JOURNAL without .journal.sqlite)"
    )
    report.add_argument(
        "-o", "--output", metavar="PAGE", help="the page (default: MANIFEST's stem + .gallery.html)"
    )

    emulator = sub.add_parser(
        "emulator",
        help=_EMULATOR_HELP,
        description=_EMULATOR_DESCRIPTION,
        # Not the key paragraph: the emulator's --api-key is the test key it accepts, not a secret.
        epilog=exit_codes_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(client=False)],
        lazy_options=_emulator_options,
    )
    emulator.add_argument(
        "--port", type=int, default=8787, help="API port; upload and files use the next two"
    )
    emulator.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    return parser


def main(argv: Sequence[str] | None = None, *, context: Context | None = None) -> int:
    """Entry point of the ``kie-gpt-image`` console script; returns the exit code.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        context: environment, streams, transports and clocks (tests); the real ones by default.
    """
    ctx = context or Context()
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(arguments)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse printed it)
        return int(exc.code or 0) if isinstance(exc.code, int) else ExitCode.USAGE
    for name, value in _COMMON_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    logger = logging.getLogger("kie_gpt_image")
    handler: logging.Handler | None = None
    level = logger.level
    if args.debug:
        # Only the library's own logger: it names operations, never headers (httpcore's debug log would).
        handler = logging.StreamHandler(ctx.stderr or sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        return _run(args, ctx)
    finally:
        # main() may run many times in one process (tests, an embedding program): leave no handler behind.
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(level)


def _run(args: argparse.Namespace, ctx: Context) -> int:
    secret: str | None = None
    out = Output(json_mode=args.json, stdout=ctx.stdout, stderr=ctx.stderr, tty=ctx.tty, clock=ctx.clock)
    try:
        secret = read_key(args, ctx) if args.command != "emulator" else None
        out.secret = secret
        command = cmd_report if args.command == "report" else {**COMMANDS, **RUN_COMMANDS}[args.command]
        return int(command(args, ctx, out))
    except KeyboardInterrupt:
        out.end_status()
        out.note(f"{PROG}: interrupted")
        return ExitCode.INTERRUPTED
    except Exception as exc:  # every error ends as one line; --debug adds the traceback
        out.end_status()
        code = exit_code_for(exc)
        if args.debug:
            text = "".join(traceback.format_exception(exc))
            out.note(Secret(secret).mask(text, "***") if secret else text)
        out.error(exc, code=code)
        if code is ExitCode.INTERNAL and not args.debug:
            out.note(f"{PROG}: this looks like a bug or a local problem; rerun with --debug for details")
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
