"""The README's two commands exist and no merge conflict is left in the docs (its code blocks run in
tests/docs/test_blocks.py)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_two_commands_are_at_the_top_and_executable() -> None:
    head = README.split("## Quick start")[0]
    assert "./scripts/demo" in head
    assert "./scripts/check" in head
    for name in ("demo", "check"):
        assert os.access(ROOT / "scripts" / name, os.X_OK)
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("exec bash scripts/check")


def test_no_merge_conflict_markers_are_left_in_the_docs() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for marker in ("<<<<<<< ", "\n=======\n", ">>>>>>> "):
            assert marker not in text, f"{path.relative_to(ROOT)} holds a merge conflict marker"
