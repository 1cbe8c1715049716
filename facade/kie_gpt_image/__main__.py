"""``python -m kie_gpt_image``: the ``kie-gpt-image`` command line, for an environment where the console
script is not on ``PATH`` (a notebook's kernel, a virtual environment not activated)."""

from __future__ import annotations

import sys

from ._cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
