"""``python -m kie_gpt_image.emulator --port 8787``: run the offline kie.ai on loopback."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ._core import DEFAULT_API_KEY, DEFAULT_TASK_COST, Emulator
from ._server import serve

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m kie_gpt_image.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8787, help="API port; upload and files use the next two")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the Bearer key to accept")
    parser.add_argument("--credits", type=int, default=1000, help="starting credit balance")
    parser.add_argument("--task-cost", type=int, default=DEFAULT_TASK_COST, help="credits per task")
    args = parser.parse_args(argv)
    emulator = Emulator(api_key=args.api_key, credits=args.credits, task_cost=args.task_cost)
    serve(args.port, args.host, emulator=emulator)


if __name__ == "__main__":
    main()
