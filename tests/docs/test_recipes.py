"""The recipes' code does what the pages say, run against the emulator."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from kie_gpt_image.emulator import Emulator, Outcome, Schedule

ROOT = Path(__file__).resolve().parents[2]


def _code(page: str) -> str:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, page
    return blocks[0]


def test_resume_recipe_finishes_every_recorded_task_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "examples" / "samples" / "person.png", tmp_path / "person.png")
    recipe: dict[str, Any] = {}
    exec(compile(_code("recipes/resume.md"), "resume.md", "exec"), recipe)  # noqa: S102 - our own docs

    now = [1_800_000_000.0]
    emulator = Emulator(
        schedule=Schedule(waiting=0, queuing=0, generating=3600),
        clock=lambda: now[0],
        outcome=lambda body: (
            Outcome.fail("500", "blocked") if "blocked" in body["input"]["prompt"] else Outcome.success()
        ),
    )
    with emulator:
        with emulator.client() as client:
            first = recipe["submit"](client, ["person.png"], "make it blue")
            second = recipe["submit"](client, ["person.png"], "blocked prompt")
        # The process dies here, before waiting. An hour later the tasks have finished at kie.ai:
        now[0] += 3600
        with emulator.client() as client:
            report = recipe["finish_all"](client)
            assert report == {first: "saved", second: "failed: blocked"}
            assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{first}-0.png"]
            assert recipe["finish_all"](client) == {first: "already saved", second: "failed: blocked"}
        assert emulator.call_count("gpt-image-1-5-image-to-image") == 2  # nothing was submitted twice
