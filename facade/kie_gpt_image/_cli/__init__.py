"""The ``kie-gpt-image`` command line (placeholder until the CLI lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kie-gpt-image`` console script."""
    print("kie-gpt-image: the command line is not built yet", file=sys.stderr)
    return 2
