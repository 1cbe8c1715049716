"""``python -m kie_gpt_image.emulator --port 8787``: run the offline kie.ai on loopback.

It prints its URLs, its keys and the shell exports that point a client at it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ._run import add_options, emulator_from_options, serve

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m kie_gpt_image.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8787, help="API port; upload and files use the next two")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    add_options(parser)
    args = parser.parse_args(argv)
    emulator, key_shown = emulator_from_options(args)
    serve(args.port, args.host, emulator=emulator, key_shown=key_shown)


if __name__ == "__main__":
    main()
