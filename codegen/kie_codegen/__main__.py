"""``python -m kie_codegen`` (with ``codegen/`` on the path): the same as ``scripts/regenerate``."""

import sys

from .cli import main

sys.exit(main())
