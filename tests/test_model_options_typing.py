"""``mypy --strict`` on user code refuses what the model's document refuses: a misspelt option, a value
outside the model's enum, an option of another model, a model of the wrong kind (issue 12 item 3)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from regen_helpers import ROOT

# With tests/test_model_options_regenerate.py on one xdist worker: the committed cases' mypy run is shared.
pytestmark = pytest.mark.xdist_group("mypy")

USER_CODE = """\
import kie_gpt_image as kie


def sync(client: kie.Client) -> None:
    result: kie.EditResult = client.edit(["a.png"], "p", aspect_ratio="2:3", quality="high")
    task: kie.Task = client.edit(["a.png"], "p", wait=False)
    client.create_task(["a.png"], "p", quality="medium")
    client.edit(["a.png"], "p", model="gpt-image-2-image-to-image", resolution="2K", aspect_ratio="auto")
    client.generate("p", aspect_ratio="3:2")
    client.generate("p", model="gpt-image-2-text-to-image", resolution="4K")
    client.edit(["a.png"], "p", aspect_ration="2:3")  # BAD: misspelt
    client.edit(["a.png"], "p", aspect_ratio="16:9")  # BAD: gpt-image-2's ratio, not 1.5's
    client.edit(["a.png"], "p", resolution="2K")  # BAD: gpt-image-2's option
    client.edit(["a.png"], "p", model="gpt-image-2-image-to-image", quality="high")  # BAD: 1.5's option
    client.edit(["a.png"], "p", model="gpt-image-2-image-to-image", resolution="8K")  # BAD: literal
    client.create_task(["a.png"], "p", model="gpt-image-2-image-to-image", quality="high")  # BAD
    client.generate("p", model="gpt-image-2-image-to-image")  # BAD: takes images
    client.edit(["a.png"], "p", model="gpt-image-3")  # BAD: no such model
    print(result, task)


async def run(client: kie.AsyncClient) -> None:
    result: kie.AsyncEditResult = await client.edit(["a.png"], "p", quality="high")
    task: kie.Task = await client.generate("p", model="gpt-image-2-text-to-image", wait=False)
    await client.edit(["a.png"], "p", quality="ultra")  # BAD: not in the enum
    print(result, task)
"""


def mypy_errors_many(
    cases: dict[str, str], tmp_path: Path, generated: Path = ROOT / "generated"
) -> dict[str, dict[int, str]]:
    """For each named case, line → message of each error ``mypy --strict`` reports in its code; all the
    cases in one mypy run (the facade and ``generated`` on its path), each as a module of its own."""
    files = {name: f"case_{name}.py" for name in cases}
    for name, code in cases.items():
        (tmp_path / files[name]).write_text(code, encoding="utf-8")
    env = {**os.environ, "MYPYPATH": os.pathsep.join([str(ROOT / "facade"), str(generated)])}
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            *files.values(),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    errors: dict[str, dict[int, str]] = {name: {} for name in cases}
    by_file = {file: name for name, file in files.items()}
    elsewhere = []  # the facade and the generated package must type-check themselves
    for line in result.stdout.splitlines():
        found = re.match(r"(case_\w+\.py):(\d+): error: (.*)", line)
        if found and found.group(1) in by_file:
            errors[by_file[found.group(1)]].setdefault(int(found.group(2)), found.group(3))
        elif ": error:" in line:
            elsewhere.append(line)
    assert elsewhere == []
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return errors


def mypy_errors(code: str, tmp_path: Path, generated: Path = ROOT / "generated") -> dict[int, str]:
    """Line → message of each error ``mypy --strict`` reports in ``code`` (one case, one mypy run)."""
    return mypy_errors_many({"user_code": code}, tmp_path, generated)["user_code"]


# Every case checked against the committed tree, from any test module: one mypy run per test process
# for all of them (the ``committed_mypy_errors`` fixture in tests/conftest.py).
COMMITTED_CASES: dict[str, str] = {"user_code": USER_CODE}


def test_mypy_flags_exactly_the_calls_the_documents_refuse(
    committed_mypy_errors: dict[str, dict[int, str]],
) -> None:
    errors = committed_mypy_errors["user_code"]
    bad = {n for n, line in enumerate(USER_CODE.splitlines(), start=1) if "# BAD" in line}
    assert set(errors) == bad, errors
    assert 'did you mean "aspect_ratio"' in errors[min(bad)]
