"""The README's code runs as written (the emulator example) and its two commands exist."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_emulator_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    match = re.search(r"```python\n(from kie_gpt_image\.emulator import .*?)```", README, re.S)
    assert match is not None
    shutil.copy(ROOT / "examples" / "samples" / "person.png", tmp_path / "photo.png")
    monkeypatch.chdir(tmp_path)
    exec(compile(match.group(1), "README.md", "exec"), {})  # noqa: S102 - the README's own example
    assert "recordInfo" in capsys.readouterr().out


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
