"""Every Python block in the README runs as written (issue 17): a snippet that does not run fails here.

The blocks run in README order in one namespace, as a reader would paste them into one session, in a
folder holding the image files they name, with the environment pointing every client at a loopback
emulator (``KIE_API_KEY``, ``KIE_BASE_URL``, ``KIE_UPLOAD_BASE_URL``, ``KIE_WEBHOOK_HMAC_KEY``: the lines
``kie-gpt-image emulator`` prints). Blocks with top-level ``await`` run in an event loop; blocks that
define ``test_*`` functions are pytest examples and run through pytest itself.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from kie_gpt_image.emulator import Emulator, Schedule

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = [
    (README.count("\n", 0, match.start()) + 2, match.group(1))
    for match in re.finditer(r"```python\n(.*?)```", README, re.S)
]
STRICT = ("-p", "no:cacheprovider", "--strict-markers", "-W", "error", "-q")
IMAGES = ("person.jpg", "dress.png", "photo.png", "tests/photo.png")


def _tests_defined(code: str) -> int:
    return sum(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
        for node in ast.parse(code).body
    )


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 6


def test_every_python_block_of_the_readme_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in IMAGES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 64), "navy").save(tmp_path / name)
    emulator = Emulator(schedule=Schedule.instant())
    namespace: dict[str, object] = {"__name__": "readme"}
    pytest_blocks = []
    with emulator, emulator.serve(port=0) as server:
        monkeypatch.setenv("KIE_API_KEY", emulator.api_key)
        monkeypatch.setenv("KIE_BASE_URL", server.base_url)
        monkeypatch.setenv("KIE_UPLOAD_BASE_URL", server.upload_base_url)
        monkeypatch.setenv("KIE_WEBHOOK_HMAC_KEY", emulator.webhook_hmac_key)
        for line, code in BLOCKS:
            if _tests_defined(code):
                pytest_blocks.append((line, code))
                continue
            compiled = compile(code, f"README.md:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            outcome = eval(compiled, namespace)  # noqa: S307 - our own README
            if inspect.iscoroutine(outcome):
                asyncio.run(outcome)
    if not pytest_blocks:
        return
    examples = tmp_path / "pytest-examples"
    for name in IMAGES:
        (examples / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 64), "navy").save(examples / name)
    for line, code in pytest_blocks:
        (examples / f"test_readme_line_{line}.py").write_text(code, encoding="utf-8")
    # A fresh pytest, as a user runs it: the plugin comes from the installed entry point. pytest-asyncio
    # (a dev dependency) warns at start-up unless its loop scope is set.
    run = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "pytest", *STRICT, "-o", "asyncio_default_fixture_loop_scope=function"],
        cwd=examples,
        capture_output=True,
        text=True,
        check=False,
    )
    expected = sum(_tests_defined(code) for _, code in pytest_blocks)
    assert f"{expected} passed" in run.stdout, run.stdout + run.stderr
