"""Running the emulator as a server: ``serve`` and the lines it announces (URLs, keys, shell exports).

The top layer of the emulator package: it builds an ``Emulator`` (``_core``), which owns the socket front
end (``_server``). ``python -m kie_gpt_image.emulator`` and ``kie-gpt-image emulator`` both end here.
"""

from __future__ import annotations

import argparse
import os
import shlex
import threading
from collections.abc import Callable

from .. import _api
from .._urls import WEBHOOK_KEY_ENV  # the one name of the variable (``_urls``)
from ._core import DEFAULT_API_KEY, DEFAULT_CREDITS, DEFAULT_TASK_COST, DEFAULT_WEBHOOK_HMAC_KEY, Emulator
from ._images import DEFAULT_MAX_IMAGE_SIDE
from ._server import EmulatorServer
from ._stats import STATS_PATH
from ._tasks import Schedule

__all__ = ["WEBHOOK_KEY_ENV", "add_options", "announcement", "emulator_from_options", "serve"]


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options (all but ``--port``/``--host``) to ``parser``."""
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the Bearer key to accept")
    parser.add_argument(
        "--webhook-key",
        default=None,
        help=f"HMAC key callbacks are signed with (default: ${WEBHOOK_KEY_ENV}, else a fixed test key)",
    )
    parser.add_argument(
        "--credits", type=int, default=DEFAULT_CREDITS, help="starting credit balance (default: %(default)s)"
    )
    parser.add_argument(
        "--task-cost",
        type=int,
        default=DEFAULT_TASK_COST,
        help="credits charged per task, refunded if it fails (default: %(default)s; kie.ai states no price)",
    )
    parser.add_argument("--rate-limit", type=int, default=20, help="new tasks per 10 s (kie.ai: 20)")
    parser.add_argument("--max-running", type=int, default=100, help="tasks running at once (kie.ai: 100)")
    parser.add_argument("--poll-limit", type=int, default=10, help="recordInfo calls per second (kie.ai: 10)")
    parser.add_argument(
        "--durations",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="draw each task's duration uniformly from LOW..HIGH seconds (default: about 2 s each)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the drawn durations")
    parser.add_argument(
        "--callback-hosts",
        choices=("loopback", "any"),
        default="loopback",
        help="deliver callbacks to loopback hosts only (default) or to any host",
    )
    parser.add_argument(
        "--keep-exchanges", type=int, default=1000, help="recent exchanges kept in memory (default 1000)"
    )
    parser.add_argument(
        "--max-image-side",
        type=int,
        default=DEFAULT_MAX_IMAGE_SIDE,
        help=f"scale results down to this long side, proportions kept (default {DEFAULT_MAX_IMAGE_SIDE}; "
        "0: full size, e.g. 4096 for gpt-image-2 4K)",
    )


def emulator_from_options(args: argparse.Namespace) -> tuple[Emulator, bool]:
    """The emulator ``args`` (from ``add_options``) describe, and whether its webhook key may be printed
    (not when it came from the environment, where it may be a real kie.ai key)."""
    from_env = args.webhook_key is None and bool(os.environ.get(WEBHOOK_KEY_ENV))
    webhook_key = args.webhook_key or os.environ.get(WEBHOOK_KEY_ENV) or DEFAULT_WEBHOOK_HMAC_KEY
    emulator = Emulator(
        api_key=args.api_key,
        credits=args.credits,
        task_cost=args.task_cost,
        schedule=Schedule.uniform(*args.durations) if args.durations else None,
        seed=args.seed,
        rate_limit=args.rate_limit,
        max_running=args.max_running,
        poll_limit=args.poll_limit,
        webhook_hmac_key=webhook_key,
        callback_hosts=args.callback_hosts,
        max_exchanges=args.keep_exchanges,
        max_image_side=args.max_image_side or None,
    )
    return emulator, not from_env


def _models_line() -> str:
    # Sixty-odd model ids do not fit a banner: their number per output kind, and where the list is.
    specs = _api.model_specs().values()
    outputs = sorted({spec.output for spec in specs})
    counts = ", ".join(f"{sum(spec.output == kind for spec in specs)} {kind}" for kind in outputs)
    return f"{len(specs)} market models ({counts}); list: kie-gpt-image models"


def announcement(emulator: Emulator, server: EmulatorServer, *, key_shown: bool = True) -> list[str]:
    """The lines telling a user where the emulator runs and how to point a client at it.

    The first five lines are ``name value`` pairs (base URLs and API key); then the webhook HMAC key
    callbacks are signed with, and the shell exports a client (``KIE_API_KEY``, ``KIE_BASE_URL``,
    ``KIE_UPLOAD_BASE_URL``) and a callback receiver (``KIE_WEBHOOK_HMAC_KEY``) read.

    Args:
        emulator: The emulator being served.
        server: Its running socket server.
        key_shown: Whether the webhook HMAC key may be printed; ``False`` when it came from the
            environment (it may be a real kie.ai key: the user has it already, so it is not repeated).

    Returns:
        The lines, without line ends.
    """
    exports = {
        "KIE_API_KEY": emulator.api_key,
        "KIE_BASE_URL": server.base_url,
        "KIE_UPLOAD_BASE_URL": server.upload_base_url,
    }
    hmac_key = emulator.webhook_hmac_key
    callbacks = "loopback hosts only" if emulator.callback_hosts == "loopback" else "any host"
    if key_shown:
        exports["KIE_WEBHOOK_HMAC_KEY"] = hmac_key
    lines = [
        "kie.ai emulator running (Ctrl-C to stop)",
        f"  base_url         {server.base_url}",
        f"  upload_base_url  {server.upload_base_url}",
        f"  files_base_url   {server.files_base_url}",
        f"  api_key          {emulator.api_key}",
        f"  webhook_hmac_key {hmac_key if key_shown else '(from KIE_WEBHOOK_HMAC_KEY, not shown)'}",
        f"  limits           {emulator.rate_limit} new tasks per {emulator.rate_window:g} s, "
        f"{emulator.max_running} running, {emulator.poll_limit} polls per {emulator.poll_window:g} s",
        f"  callbacks        {callbacks}",
        f"  credits          {emulator.stats().starting_credits} to start, {emulator.task_cost} per task "
        "(failed tasks refunded)",
        f"  stats            {server.base_url}{STATS_PATH}",
        f"  models           {_models_line()}",
        "",
        "# Point a client (and a callback receiver) at it:",
    ]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
    return lines


def serve(
    port: int = 8787,
    host: str = "127.0.0.1",
    *,
    emulator: Emulator | None = None,
    announce: Callable[[str], None] | None = None,
    until: threading.Event | None = None,
    key_shown: bool = True,
) -> None:
    """Run the emulator on ``host`` (API ``port``, upload ``port+1``, files ``port+2``; all ephemeral when
    ``port`` is 0) until Ctrl-C or until ``until`` is set.

    Args:
        port: The API port (0: ephemeral ports for all three hosts).
        host: The interface to bind (default: loopback only).
        emulator: The emulator to serve (default: the command line's defaults, so its webhook key is
            ``$KIE_WEBHOOK_HMAC_KEY`` when that is set, and is then not printed).
        announce: Receives each line of ``announcement`` (default: print to stdout, flushed).
        until: Stop when this event is set (default: run until Ctrl-C).
        key_shown: Whether the webhook HMAC key is printed (see ``announcement``).
    """
    if announce is None:

        def announce(line: str) -> None:
            print(line, flush=True)

    if emulator is None:
        parser = argparse.ArgumentParser(add_help=False)
        add_options(parser)
        emulator, from_flags_shown = emulator_from_options(parser.parse_args([]))
        key_shown = key_shown and from_flags_shown
    with emulator.serve(port, host) as server:
        for line in announcement(emulator, server, key_shown=key_shown):
            announce(line)
        try:
            (until or threading.Event()).wait()
        except KeyboardInterrupt:
            announce("stopping")
