"""A spec change reaches users by regenerating alone: a new enum value and a new optional field in the
seed's createTask document reach ``edit`` (both clients), the CLI and the type checker, with no facade
edit (issue 12 item 3)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from regen_helpers import ROOT, SCRIPT
from test_model_options_typing import COMMITTED_CASES, mypy_errors

from kie_codegen.settings import SEED

# The regenerated tree (module-scoped) and the session mypy batch: one xdist worker builds and runs each once.
pytestmark = pytest.mark.xdist_group("mypy")

PROBE = r"""
import asyncio, contextlib, io, json
import httpx
import kie_gpt_image as kie
from kie_gpt_image._cli import Context, main

bodies = []


def handler(request):
    if request.url.path == "/api/v1/jobs/createTask":
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"code": 200, "msg": "success", "data": {"taskId": "t1"}})
    return httpx.Response(404)


URL = "https://example.com/a.png"
with kie.Client(api_key="k", transport=httpx.MockTransport(handler)) as client:
    client.edit([URL], "sync", quality="ultra", output_format="jpeg", wait=False)
    try:
        client.edit([URL], "p", output_format="gif", wait=False)
    except kie.InvalidInputError as exc:
        refused = [exc.field, exc.problem]


async def run():
    async with kie.AsyncClient(api_key="k", transport=httpx.MockTransport(handler)) as client:
        await client.create_task([URL], "async", quality="ultra", output_format="jpeg")

asyncio.run(run())
ctx = Context(
    env={"KIE_API_KEY": "k"}, transport=httpx.MockTransport(handler), stdout=io.StringIO(),
    stderr=io.StringIO(), tty=False,
)
argv = ["edit", URL, "-p", "cli", "--quality", "ultra", "--output-format", "jpeg", "--no-wait"]
code = main(argv, context=ctx)
shown = io.StringIO()
with contextlib.redirect_stdout(shown):
    main(["edit", "--help"])
print(json.dumps({"bodies": bodies, "refused": refused, "cli": code, "help": shown.getvalue()}))
"""


def _change(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]["content"]["application/json"]
    props = body["schema"]["properties"]["input"]["properties"]
    props["quality"]["enum"].append("ultra")
    props["output_format"] = {
        "type": "string",
        "enum": ["png", "jpeg"],
        "description": "Format of the result image.",
    }


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``generated/`` of a copy of ``openapi/`` whose seed gained ``quality: ultra`` and ``output_format``."""
    tmp = tmp_path_factory.mktemp("regen-copy")
    specs = tmp / "openapi"
    shutil.copytree(ROOT / "openapi", specs)
    # kie.ai changed the model: its export says so and the seed is updated to match (regenerate stops
    # on any difference between the two).
    for name in (SEED, "gpt-image--1-5-image-to-image.json"):
        doc = json.loads((specs / name).read_text(encoding="utf-8"))
        _change(doc)
        (specs / name).write_text(json.dumps(doc), encoding="utf-8")
    out = tmp / "generated"
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), "--spec-dir", str(specs), "--output", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_a_new_enum_value_and_field_reach_edit_and_the_cli(regenerated: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "facade"), str(regenerated)])}
    env.pop("KIE_LOG", None)
    probe = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, env=env
    )
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout)
    inputs = {b["input"]["prompt"]: b["input"] for b in seen["bodies"]}
    for prompt in ("sync", "async", "cli"):
        assert inputs[prompt]["quality"] == "ultra", prompt
        assert inputs[prompt]["output_format"] == "jpeg", prompt
    assert seen["refused"][0] == "output_format"
    assert "is not one of png, jpeg" in seen["refused"][1]
    assert seen["cli"] == 0
    assert "--output-format {png,jpeg}" in seen["help"]
    assert "ultra" in seen["help"]
    # The committed tree knows neither: the same calls are refused there.
    current = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=False,
        env={**env, "PYTHONPATH": os.pathsep.join([str(ROOT / "facade"), str(ROOT / "generated")])},
    )
    assert current.returncode != 0
    assert "InvalidInputError" in current.stderr


NEW_OPTIONS = COMMITTED_CASES["new_options"] = (
    "import kie_gpt_image as kie\n"
    "def f(client: kie.Client) -> None:\n"
    '    client.edit(["a.png"], "p", quality="ultra", output_format="jpeg")\n'
    '    client.edit(["a.png"], "p", output_format="gif")\n'
)


def test_the_type_checker_learns_them_too(
    regenerated: Path, tmp_path: Path, committed_mypy_errors: dict[str, dict[int, str]]
) -> None:
    assert set(mypy_errors(NEW_OPTIONS, tmp_path, regenerated)) == {4}
    assert set(committed_mypy_errors["new_options"]) == {3, 4}


def test_an_option_named_like_a_method_parameter_still_type_checks(tmp_path: Path) -> None:
    # "timeout" is edit()'s own parameter: the typed signature unpacks the other options only, and the
    # generated package stays valid for mypy --strict (a new document must never break the build).
    specs = tmp_path / "openapi"
    shutil.copytree(ROOT / "openapi", specs)
    t2i = specs / "gpt--gpt-image-2-text-to-image.json"
    doc = json.loads(t2i.read_text(encoding="utf-8"))
    body = doc["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]["content"]["application/json"]
    props = body["schema"]["properties"]["input"]["properties"]
    props["timeout"] = {"type": "integer"}
    props["seed"] = {"type": "integer"}
    t2i.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "generated"
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), "--spec-dir", str(specs), "--output", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    code = (
        "import kie_gpt_image as kie\n"
        "def f(client: kie.Client) -> None:\n"
        '    client.generate("p", model="gpt-image-2-text-to-image", seed=3, timeout=5.0)\n'
        '    client.generate("p", model="gpt-image-2-text-to-image", seed="3")\n'
        "import kie_api.model_methods\n"
    )
    assert set(mypy_errors(code, tmp_path, out)) == {4}
