"""scripts/regenerate: merge collisions, patch table, drift check, determinism, spec changes flow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from regen_helpers import ROOT, SCRIPT, load_regenerate

regen = load_regenerate()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False, cwd=ROOT
    )


def _docs() -> dict[str, dict[str, Any]]:
    return regen.load_documents()  # type: ignore[no-any-return]


def test_committed_generated_tree_is_up_to_date() -> None:
    result = _run("--check")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_check_fails_when_one_character_of_generated_code_changes(tmp_path: Path) -> None:
    copy = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "kie_api" / "types.py"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("UNSET", "UNSEt", 1), encoding="utf-8")
    result = _run("--check", "--output", str(copy))
    assert result.returncode == 1
    assert "differs: generated/kie_api/types.py" in result.stderr


def test_check_fails_on_an_extra_file(tmp_path: Path) -> None:
    copy = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "kie_api" / "handwritten.py").write_text("x = 1\n", encoding="utf-8")
    result = _run("--check", "--output", str(copy))
    assert result.returncode == 1
    assert "kie_api/handwritten.py" in result.stderr


def test_generation_is_deterministic(tmp_path: Path) -> None:
    regen.generate_into(tmp_path / "a")
    regen.generate_into(tmp_path / "b")
    assert list(regen._differences(tmp_path / "a", tmp_path / "b")) == []


def test_every_generated_file_carries_the_do_not_edit_header() -> None:
    files = [p for p in (ROOT / "generated" / "kie_api").rglob("*.py")]
    assert len(files) > 10
    for path in files:
        assert path.read_text(encoding="utf-8").startswith(f"# {regen.HEADER}\n"), path
    assert (ROOT / "generated" / "kie_api" / "py.typed").exists()


def test_merge_rejects_duplicate_path_and_method() -> None:
    docs = _docs()
    clash = json.loads(json.dumps(docs["common-api.json"]))
    clash["paths"]["/api/v1/chat/credit"]["get"]["operationId"] = "another-id"
    with pytest.raises(regen.RegenerateError, match=r"GET /api/v1/chat/credit is already defined"):
        regen.merge({**docs, "zz-clash.json": clash})


def test_merge_rejects_duplicate_operation_id() -> None:
    docs = _docs()
    clash = json.loads(json.dumps(docs["common-api.json"]))
    clash["paths"] = {"/api/v1/other": clash["paths"]["/api/v1/chat/credit"]}
    with pytest.raises(regen.RegenerateError, match="operationId 'get-account-credits' is already used"):
        regen.merge({**docs, "zz-clash.json": clash})


def test_merge_rejects_a_differing_schema_under_one_name() -> None:
    docs = _docs()
    clash = json.loads(json.dumps(docs["common-api.json"]))
    clash["paths"] = {}
    clash["components"]["schemas"]["ApiResponse"]["properties"]["msg"]["type"] = "integer"
    with pytest.raises(regen.RegenerateError, match="components/schemas/ApiResponse differs"):
        regen.merge({**docs, "zz-clash.json": clash})


def test_a_patch_that_no_longer_matches_is_an_error() -> None:
    merged = regen.merge(_docs())
    del merged["components"]["schemas"]["ApiResponse"]["properties"]["code"]["enum"]
    with pytest.raises(regen.RegenerateError, match="patch no longer matches"):
        regen.apply_patches(merged, regen.PATCHES)


def test_a_patch_whose_target_vanished_is_an_error() -> None:
    merged = regen.merge(_docs())
    del merged["paths"]["/api/v1/chat/credit"]
    with pytest.raises(regen.RegenerateError, match="patch no longer matches"):
        regen.apply_patches(merged, regen.PATCHES)


def test_every_patch_cites_its_evidence() -> None:
    for patch in regen.PATCHES:
        assert "reference" in patch.why or "runtime deps" in patch.why, patch


def test_request_schemas_keep_their_enums_after_normalisation() -> None:
    normalised = regen.apply_patches(regen.merge(_docs()), regen.PATCHES)
    body = normalised["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]["content"]
    props = body["application/json"]["schema"]["properties"]["input"]["properties"]
    assert props["aspect_ratio"]["enum"] == ["1:1", "2:3", "3:2"]
    assert props["quality"]["enum"] == ["medium", "high"]


def test_a_new_aspect_ratio_in_the_spec_reaches_the_generated_enum(tmp_path: Path) -> None:
    specs = tmp_path / "openapi"
    shutil.copytree(ROOT / "openapi", specs)
    seed_path = specs / "gpt-image-1.5-image-to-image.json"
    seed = json.loads(seed_path.read_text(encoding="utf-8"))
    body = seed["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"]["properties"]["input"]["properties"]["aspect_ratio"]["enum"].append("16:9")
    seed_path.write_text(json.dumps(seed), encoding="utf-8")
    out = tmp_path / "generated"
    result = _run("--spec-dir", str(specs), "--output", str(out))
    assert result.returncode == 0, result.stderr
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from kie_api.models.gpt_image_15_image_to_image_body_input_aspect_ratio import "
            "GptImage15ImageToImageBodyInputAspectRatio as E; print(sorted(m.value for m in E))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(out), "PATH": ""},
    )
    assert probe.stdout.strip() == "['16:9', '1:1', '2:3', '3:2']"


def test_input_limits_come_from_the_spec() -> None:
    import attrs

    from kie_api import spec_constants
    from kie_api.models.gpt_image_15_image_to_image_body_input import GptImage15ImageToImageBodyInput

    assert spec_constants.MAX_INPUT_IMAGES == 16
    assert spec_constants.MAX_INPUT_IMAGE_BYTES == 10_000_000
    assert spec_constants.INPUT_IMAGE_MIME_TYPES == ("image/jpeg", "image/png", "image/webp")
    # the defaults agree with the generated model's (both come from the spec)
    fields = attrs.fields(GptImage15ImageToImageBodyInput)
    assert spec_constants.DEFAULT_ASPECT_RATIO == fields.aspect_ratio.default.value == "3:2"
    assert spec_constants.DEFAULT_QUALITY == fields.quality.default.value == "medium"


def test_limit_extraction_fails_loudly_when_the_wording_changes() -> None:
    merged = regen.merge(_docs())
    schema = regen._get(merged, regen._INPUT_URLS)
    schema["description"] = "Upload an image file"
    with pytest.raises(regen.RegenerateError, match="Max size"):
        regen.spec_constants_module(merged)
