"""Issue 13 item 5: the README's Quick start runs as written, against the emulator on loopback, pointed at
by the environment alone (``KIE_BASE_URL``/``KIE_UPLOAD_BASE_URL``, as the emulator prints them)."""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from kie_gpt_image.emulator import Emulator, Schedule

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
QUICK_START = README.split("<!-- --8<-- [start:quickstart] -->")[1].split("<!-- --8<-- [end:quickstart] -->")[
    0
]
BLOCKS = re.findall(r"```python\n(.*?)```", QUICK_START, re.S)


def _block(needle: str) -> str:
    found = [block for block in BLOCKS if needle in block]
    assert len(found) == 1, f"one Quick start block holds {needle!r}"
    return found[0]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (40, 60), "navy").save(tmp_path / "person.jpg", "JPEG")
    Image.new("RGB", (30, 30), "red").save(tmp_path / "dress.png", "PNG")
    emulator = Emulator(schedule=Schedule.instant())
    return emulator


def _point_at(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, server: object) -> None:
    monkeypatch.setenv("KIE_API_KEY", emulator.api_key)
    monkeypatch.setenv("KIE_BASE_URL", server.base_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("KIE_UPLOAD_BASE_URL", server.upload_base_url)  # type: ignore[attr-defined]


def test_the_quick_start_saves_to_a_file_name_and_reads_bytes(
    served: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with served.serve(port=0) as server:
        _point_at(monkeypatch, served, server)
        namespace: dict[str, object] = {}
        exec(compile(_block('result.save("out/edited.png")'), "README.md", "exec"), namespace)  # noqa: S102 - our README
    assert (tmp_path / "out" / "edited.png").read_bytes().startswith(b"\x89PNG")
    assert namespace["data"] == (tmp_path / "out" / "edited.png").read_bytes()
    assert isinstance(namespace["picture"], Image.Image)
    assert "TaskInfo(" in capsys.readouterr().out, "on_progress=print printed the states"


def test_the_async_quick_start_runs(
    served: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _block("async with")
    with served.serve(port=0) as server:
        _point_at(monkeypatch, served, server)
        namespace: dict[str, object] = {}
        wrapped = "import kie_gpt_image as kie\nasync def main():\n" + textwrap.indent(code, "    ")
        exec(compile(wrapped, "README.md", "exec"), namespace)  # noqa: S102 - our README
        asyncio.run(namespace["main"]())  # type: ignore[operator]
    assert [p.suffix for p in (tmp_path / "out").iterdir()] == [".png"]


def test_the_failed_task_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (30, 30), "red").save(tmp_path / "photo.png", "PNG")
    exec(compile(_block("Outcome.fail"), "README.md", "exec"), {})  # noqa: S102 - our README
    assert re.search(r"task_\S+ 500 blocked", capsys.readouterr().out)
