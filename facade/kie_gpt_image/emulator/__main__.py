"""``python -m kie_gpt_image.emulator --port 8787``: run the offline kie.ai on loopback.

It prints its URLs, its keys, its starting balance and task cost, and the shell exports that point a
client at it. ``python -m kie_gpt_image.emulator stats --url URL`` prints a running emulator's counters
(calls, 429s, credits used and left, tasks by state).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import httpx

from ._run import add_options, emulator_from_options, serve
from ._stats import fetch_stats

__all__ = ["main"]

_DEFAULT_URL = "http://127.0.0.1:8787"


def _stats(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kie_gpt_image.emulator stats",
        description="Print a running emulator's counters (GET /_emulator/stats; read-only, outside the "
        "kie.ai API).",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("KIE_BASE_URL") or _DEFAULT_URL,
        help="the emulator's base_url (default: $KIE_BASE_URL, else %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the stats as one JSON object")
    args = parser.parse_args(argv)
    try:
        stats = fetch_stats(args.url)
    except (httpx.HTTPError, ValueError) as exc:
        print(f"error: no emulator stats at {args.url}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(stats.to_json()))
    else:
        print("\n".join(stats.lines()))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until Ctrl-C (or, for ``stats``, print a server's counters)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["stats"]:
        raise SystemExit(_stats(arguments[1:]))
    parser = argparse.ArgumentParser(
        prog="python -m kie_gpt_image.emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8787, help="API port; upload and files use the next two")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    add_options(parser)
    args = parser.parse_args(arguments)
    emulator, key_shown = emulator_from_options(args)
    serve(args.port, args.host, emulator=emulator, key_shown=key_shown)


if __name__ == "__main__":
    main()
