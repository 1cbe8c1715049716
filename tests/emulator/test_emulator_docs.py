"""Every Python block of docs/emulator.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE, re.S)


def test_the_page_has_python_blocks() -> None:
    assert len(BLOCKS) >= 3


def test_the_python_blocks_run_in_order() -> None:
    # One namespace for the page: a later block may use what an earlier one made, as a reader would.
    namespace: dict[str, object] = {}
    for block in BLOCKS:
        exec(compile(block, "docs/emulator.md", "exec"), namespace)  # noqa: S102 - our own docs
