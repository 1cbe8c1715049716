"""docs/recipes/notebook.md runs as written, cell after cell in one event loop as Jupyter runs them,
against a loopback emulator, with ``IPython.display.display`` standing in for the notebook."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from kie_gpt_image.emulator import Emulator, Schedule

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "recipes" / "notebook.md"


def test_notebook_recipe_runs_and_shows_the_image_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "examples" / "samples" / "person.png", tmp_path / "person.jpg")  # content decides
    shutil.copy(ROOT / "examples" / "samples" / "dress.jpg", tmp_path / "dress.png")
    shown: list[Any] = []
    display = types.ModuleType("IPython.display")
    display.display = shown.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the plain-lines path
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    cells = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    assert len(cells) == 5
    namespace: dict[str, Any] = {"__name__": "notebook"}
    emulator = Emulator(schedule=Schedule.instant())

    async def run_cells() -> None:
        for number, cell in enumerate(cells, 1):
            code = compile(cell, f"notebook.md cell {number}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            outcome = eval(code, namespace)  # noqa: S307 - our own docs
            if inspect.iscoroutine(outcome):
                await outcome

    with emulator, emulator.serve(port=0) as server:
        monkeypatch.setenv("KIE_API_KEY", emulator.api_key)
        monkeypatch.setenv("KIE_BASE_URL", server.base_url)
        monkeypatch.setenv("KIE_UPLOAD_BASE_URL", server.upload_base_url)
        asyncio.run(run_cells())
    # The image displayed is the one read: it shows its PNG bytes, with no download in the repr.
    (image,) = shown
    assert image._repr_png_() == namespace["data"]
    assert namespace["data"].startswith(b"\x89PNG")
    out = capsys.readouterr().out
    assert f"{namespace['result'].task_id}  gpt-image/1.5-image-to-image  success" in out
    assert "TaskInfo(task_id='task_" in out
    assert "[3/3] done (task " in out
    assert "Add a hat -> ('http" in out
    assert any(path.suffix == ".png" for path in (tmp_path / "out").iterdir())
