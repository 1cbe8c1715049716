"""Shared by the regenerate tests: where the command and the repository are.

The generator itself is the package ``codegen/kie_codegen`` (on the tests' path through pytest's
``pythonpath``); ``scripts/regenerate`` is its launcher.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "regenerate"
