"""docs/testing.md's ``FakeClock`` block runs as shown: its tests pass, on no wall-clock time."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import kie_gpt_image as kie

PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def test_the_fake_clock_block_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "FakeClock" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, "testing.md", "exec"), namespace)  # noqa: S102 - our own docs
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kie.CreateRefusedWarning)
        for test in tests:
            test()
