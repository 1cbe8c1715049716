"""scripts/regenerate: merge collisions, patch table, drift check, determinism, spec changes flow."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from regen_helpers import ROOT, SCRIPT

from kie_codegen import RegenerateError
from kie_codegen.catalog import model_catalog
from kie_codegen.cli import differences
from kie_codegen.documents import apply_document_patches, input_differences, load_documents, model_id
from kie_codegen.emit import spec_constants_module
from kie_codegen.generate import build, generate_into
from kie_codegen.merge import contract_view, market_operations, merge
from kie_codegen.normalise import apply_patches
from kie_codegen.patch_types import Supersede
from kie_codegen.patches import DOCUMENT_PATCHES, PATCHES
from kie_codegen.pointers import get
from kie_codegen.provenance import TOOLS, Provenance, explain, outputs_of, read
from kie_codegen.settings import HEADER, SEED


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False, cwd=ROOT
    )


def _docs() -> dict[str, dict[str, Any]]:
    return load_documents()


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
    assert "generated/kie_api/types.py was edited by hand" in result.stderr


def test_check_fails_on_an_extra_file(tmp_path: Path) -> None:
    copy = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "kie_api" / "handwritten.py").write_text("x = 1\n", encoding="utf-8")
    result = _run("--check", "--output", str(copy))
    assert result.returncode == 1
    assert "kie_api/handwritten.py" in result.stderr


def test_generation_is_deterministic(tmp_path: Path) -> None:
    generate_into(tmp_path / "a")
    generate_into(tmp_path / "b")
    assert list(differences(tmp_path / "a", tmp_path / "b")) == []


def test_every_generated_file_carries_the_do_not_edit_header() -> None:
    files = [p for p in (ROOT / "generated" / "kie_api").rglob("*.py")]
    assert len(files) > 10
    for path in files:
        assert path.read_text(encoding="utf-8").startswith(f"# {HEADER}\n"), path
    assert (ROOT / "generated" / "kie_api" / "py.typed").exists()


def _patched() -> dict[str, dict[str, Any]]:
    return apply_document_patches(_docs(), DOCUMENT_PATCHES)


CREDITS = "common-api--get-account-credits.json"
T2I = "gpt--gpt-image-2-text-to-image.json"
CREATE = "/api/v1/jobs/createTask"


def _input_schema(doc: dict[str, Any]) -> dict[str, Any]:
    body = doc["paths"][CREATE]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return body["properties"]["input"]  # type: ignore[no-any-return]


def test_merge_rejects_duplicate_path_and_method() -> None:
    docs = _patched()
    clash = copy.deepcopy(docs[CREDITS])
    clash["paths"]["/api/v1/chat/credit"]["get"]["operationId"] = "another-id"
    with pytest.raises(RegenerateError, match=r"GET /api/v1/chat/credit is already defined"):
        merge({**docs, "zz-clash.json": clash})


def test_merge_rejects_duplicate_operation_id() -> None:
    docs = _patched()
    clash = copy.deepcopy(docs[CREDITS])
    clash["paths"] = {"/api/v1/other": clash["paths"]["/api/v1/chat/credit"]}
    with pytest.raises(RegenerateError, match="operationId 'get-account-credits' is already used"):
        merge({**docs, "zz-clash.json": clash})


def test_two_documents_of_one_model_need_a_supersede_entry() -> None:
    docs = _docs()
    patches = [p for p in DOCUMENT_PATCHES if not isinstance(p, Supersede)]
    with pytest.raises(RegenerateError, match=r"is already (used|described)"):
        merge(apply_document_patches(docs, patches))


def test_the_seed_wins_over_kie_ais_copy_of_its_endpoint() -> None:
    merged = merge(_patched())
    ops = {op["operationId"]: op for _, _, op in market_operations(merged)}
    seed = _docs()[SEED]["paths"][CREATE]["post"]
    assert ops["gpt-image-1-5-image-to-image"]["requestBody"] == seed["requestBody"]
    assert "gpt-image--1-5-image-to-image.json" not in merged["info"]["description"]


def test_differing_components_are_namespaced_and_equal_ones_merged() -> None:
    docs = _patched()
    twin = copy.deepcopy(docs[CREDITS])
    twin["paths"] = {
        "/api/v1/twin": {"get": {**twin["paths"]["/api/v1/chat/credit"]["get"], "operationId": "twin"}}
    }
    twin["components"]["schemas"] = {
        "ApiResponse": copy.deepcopy(docs[SEED]["components"]["schemas"]["ApiResponse"])
    }
    other = copy.deepcopy(twin)
    other["paths"] = {
        "/api/v1/other": {"get": {**twin["paths"]["/api/v1/twin"]["get"], "operationId": "other-op"}}
    }
    other["components"]["schemas"]["ApiResponse"]["properties"]["msg"]["type"] = "integer"
    merged = merge({**docs, "zz-twin.json": twin, "zz-other.json": other})
    schemas = merged["components"]["schemas"]
    assert schemas["ApiResponse"] == docs[SEED]["components"]["schemas"]["ApiResponse"]
    assert schemas["OtherOpApiResponse"]["properties"]["msg"]["type"] == "integer"
    assert "TwinApiResponse" not in schemas


def test_every_market_model_gets_its_own_operation_on_one_path() -> None:
    merged = merge(_patched())
    models = {model_id(op): path for path, _, op in market_operations(merged)}
    assert {
        "gpt-image/1.5-image-to-image",
        "gpt-image/1.5-text-to-image",
        "gpt-image-2-image-to-image",
        "gpt-image-2-text-to-image",
        "qwen2/text-to-image",  # corrected from the page's own summary and example
        "recraft/crisp-upscale",
    } <= set(models)
    # Every createTask page of openapi/ but the one the seed supersedes; no other API becomes a model.
    pages = [n for n, doc in _docs().items() if CREATE in doc.get("paths", {})]
    assert len(models) == len(pages) - 1 == 60
    assert not {m for m in models if m.startswith(("claude", "gpt-5", "gemini"))}
    assert set(models.values()) == {CREATE}
    contract = contract_view(merged)
    one_of = contract["paths"][CREATE]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "oneOf"
    ]
    assert len(one_of) == len(models)


def test_a_document_patch_that_no_longer_matches_is_an_error() -> None:
    docs = _docs()
    for doc in docs.values():
        doc.get("components", {}).get("securitySchemes", {}).get("BearerAuth", {})["type"] = "http"
    with pytest.raises(RegenerateError, match="patch no longer matches"):
        apply_document_patches(docs, DOCUMENT_PATCHES)


def test_a_patch_that_no_longer_matches_is_an_error() -> None:
    merged = merge(_patched())
    del merged["paths"]["/api/v1/jobs/recordInfo"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]["allOf"][0]
    with pytest.raises(RegenerateError, match="patch no longer matches"):
        apply_patches(merged, PATCHES)


def test_a_patch_whose_target_vanished_is_an_error() -> None:
    merged = merge(_patched())
    del merged["paths"]["/api/v1/jobs/recordInfo"]
    with pytest.raises(RegenerateError, match="patch no longer matches"):
        apply_patches(merged, PATCHES)


def test_every_patch_cites_its_evidence() -> None:
    for patch in [*DOCUMENT_PATCHES, *PATCHES]:
        assert re.search(r"reference|openapi/|facade/|OpenAPI 3\.0|runtime deps|generator", patch.why), patch


def test_request_schemas_keep_their_enums_after_normalisation() -> None:
    _, _, normalised = build()
    body = normalised["paths"][f"{CREATE}#gpt-image-1-5-image-to-image"]["post"]["requestBody"]["content"]
    props = body["application/json"]["schema"]["properties"]["input"]["properties"]
    assert props["aspect_ratio"]["enum"] == ["1:1", "2:3", "3:2"]
    assert props["quality"]["enum"] == ["medium", "high"]


def test_response_schemas_are_loosened_for_every_model() -> None:
    _, _, normalised = build()
    text = json.dumps({path: item for path, item in normalised["paths"].items()})
    for path, item in normalised["paths"].items():
        for op in item.values():
            for response in op["responses"].values():
                assert '"required"' not in json.dumps(response.get("content", {})), path
    assert '"enum": [200' not in text


def test_endpoint_modules_expose_only_request_kwargs() -> None:
    from kie_api.api.default import gpt_image_1_5_image_to_image, upload_file_stream

    assert gpt_image_1_5_image_to_image.__all__ == ["request_kwargs"]
    for name in ("sync", "sync_detailed", "asyncio", "asyncio_detailed", "_get_kwargs", "_parse_response"):
        assert not hasattr(gpt_image_1_5_image_to_image, name), name
    from kie_api.models.gpt_image_15_image_to_image_body import GptImage15ImageToImageBody

    body = GptImage15ImageToImageBody.from_dict({"model": "gpt-image/1.5-image-to-image"})
    kwargs = gpt_image_1_5_image_to_image.request_kwargs(body=body)
    assert (kwargs["method"], kwargs["url"]) == ("post", CREATE)
    # no fixed multipart boundary (reference §7): httpx picks a random one
    assert "Content-Type" not in upload_file_stream.request_kwargs()["headers"]


def _regenerate_copy(tmp_path: Path, edit: Any) -> Path:
    specs = tmp_path / "openapi"
    shutil.copytree(ROOT / "openapi", specs)
    edit(specs)
    out = tmp_path / "generated"
    result = _run("--spec-dir", str(specs), "--output", str(out))
    assert result.returncode == 0, result.stderr
    return out


def _probe(out: Path, code: str) -> str:
    probe = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(out), "PATH": ""},
    )
    return probe.stdout.strip()


def _edit_json(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_a_new_aspect_ratio_in_the_spec_reaches_the_generated_enum(tmp_path: Path) -> None:
    def edit(specs: Path) -> None:
        for name in (SEED, EXPORT):  # kie.ai's export changed and the seed was updated to match
            _edit_json(
                specs / name,
                lambda d: _input_schema(d)["properties"]["aspect_ratio"]["enum"].append("16:9"),
            )

    out = _regenerate_copy(tmp_path, edit)
    code = (
        "from kie_api.models.gpt_image_15_image_to_image_body_input_aspect_ratio import "
        "GptImage15ImageToImageBodyInputAspectRatio as E; print(sorted(m.value for m in E))"
    )
    assert _probe(out, code) == "['16:9', '1:1', '2:3', '3:2']"


def test_a_new_enum_value_and_optional_field_reach_the_catalog_and_typeddict(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        props = _input_schema(doc)["properties"]
        props["quality"]["enum"].append("ultra")
        props["output_format"] = {"type": "string", "enum": ["png", "jpeg"], "default": "png"}

    def edit(specs: Path) -> None:
        for name in (SEED, EXPORT):  # kie.ai's export changed and the seed was updated to match
            _edit_json(specs / name, change)

    out = _regenerate_copy(tmp_path, edit)
    code = (
        "import typing\n"
        "from kie_api.models_catalog import MODELS, OPTIONS, GptImage15ImageToImageOptions as O\n"
        "spec = MODELS['gpt-image/1.5-image-to-image']\n"
        "f = spec.field('output_format')\n"
        "print(spec.field('quality').enum, f.enum, f.default, f.required)\n"
        "hints = typing.get_type_hints(O)\n"
        "print(typing.get_args(hints['quality']), typing.get_args(hints['output_format']),\n"
        "      sorted(O.__optional_keys__))\n"
        "print(OPTIONS['gpt-image/1.5-image-to-image'] is O)"
    )
    assert _probe(out, code).splitlines() == [
        "('medium', 'high', 'ultra') ('png', 'jpeg') png False",
        "('medium', 'high', 'ultra') ('png', 'jpeg') ['aspect_ratio', 'output_format', 'quality']",
        "True",
    ]


def test_a_further_market_document_regenerates_and_its_model_appears(tmp_path: Path) -> None:
    def add(specs: Path) -> None:
        doc = json.loads((specs / T2I).read_text(encoding="utf-8"))
        op = doc["paths"][CREATE]["post"]
        op["operationId"] = "acme-sketch-v1"
        model = op["requestBody"]["content"]["application/json"]["schema"]["properties"]["model"]
        model["enum"] = model["default"] = ["acme/sketch-v1"]
        model["default"] = "acme/sketch-v1"
        doc["components"]["schemas"]["ApiResponse"]["properties"]["extra"] = {"type": "string"}
        _input_schema(doc)["properties"]["image_urls"] = {
            "type": "array",
            "items": {"type": "string", "format": "uri"},
            "maxItems": 4,
            "description": "Reference images (Accepted types: image/png; Max size: 5MB)",
        }
        # a name that is no Python identifier, and a bounded number
        _input_schema(doc)["properties"]["image-size"] = {"type": "string", "enum": ["s", "m"]}
        _input_schema(doc)["properties"]["guidance"] = {"type": "number", "maximum": 20}
        (specs / "acme--sketch-v1.json").write_text(json.dumps(doc), encoding="utf-8")
        # A second one whose envelope equals recordInfo's, in a file sorting before every other: it
        # must not take over (rename) the components of the endpoints the facade parses.
        plain = json.loads((specs / T2I).read_text(encoding="utf-8"))
        op = plain["paths"][CREATE]["post"]
        op["operationId"] = "aaa-first"
        model_field = op["requestBody"]["content"]["application/json"]["schema"]["properties"]["model"]
        model_field["enum"], model_field["default"] = ["aaa/first"], "aaa/first"
        (specs / "aaa--first.json").write_text(json.dumps(plain), encoding="utf-8")

    out = _regenerate_copy(tmp_path, add)
    code = (
        "from kie_api.models_catalog import MODELS\n"
        "from kie_api.api.default import acme_sketch_v1\n"
        "from kie_api.models.acme_sketch_v1_body import AcmeSketchV1Body\n"
        "spec = MODELS['acme/sketch-v1']\n"
        "body = AcmeSketchV1Body.from_dict({'model': 'acme/sketch-v1', 'input': {'prompt': 'p'}})\n"
        "kw = acme_sketch_v1.request_kwargs(body=body)\n"
        "f = spec.field('image_urls')\n"
        "print(spec.operation_id, spec.image_field, f.max_items, f.max_file_bytes, f.mime_types)\n"
        "print(kw['url'], kw['json']['model'])\n"
        "from kie_api.models_catalog import AcmeSketchV1Options as O\n"
        "print(sorted(O.__annotations__), spec.field('guidance').maximum)"
    )
    assert _probe(out, code).splitlines() == [
        "acme-sketch-v1 image_urls 4 5000000 ('image/png',)",
        "/api/v1/jobs/createTask acme/sketch-v1",
        "['aspect_ratio', 'guidance', 'image-size', 'resolution'] 20",
    ]
    assert (out / "kie_api" / "models" / "acme_sketch_v1_api_response.py").exists()  # namespaced
    for path in (ROOT / "generated" / "kie_api" / "models").glob("*.py"):
        assert (out / "kie_api" / "models" / path.name).exists(), f"{path.name} was renamed"


def test_input_limits_come_from_the_spec() -> None:
    import attrs

    from kie_api import spec_constants
    from kie_api.models.gpt_image_15_image_to_image_body_input import GptImage15ImageToImageBodyInput
    from kie_api.models_catalog import MODELS

    assert spec_constants.MAX_INPUT_IMAGES == 16
    assert spec_constants.MAX_INPUT_IMAGE_BYTES == 10_000_000
    assert spec_constants.INPUT_IMAGE_MIME_TYPES == ("image/jpeg", "image/png", "image/webp")
    # the defaults agree with the generated model's and the catalog's (all come from the spec)
    fields = attrs.fields(GptImage15ImageToImageBodyInput)
    assert spec_constants.DEFAULT_ASPECT_RATIO == fields.aspect_ratio.default.value == "3:2"
    assert spec_constants.DEFAULT_QUALITY == fields.quality.default.value == "medium"
    spec = MODELS["gpt-image/1.5-image-to-image"]
    assert spec.image_field == "input_urls"
    assert spec.required == ("input_urls", "prompt", "aspect_ratio", "quality")
    assert MODELS["gpt-image-2-text-to-image"].field("prompt").max_length == 20000  # type: ignore[union-attr]
    # stated only in prose in the image-to-image document: a patch-table entry makes it structural
    assert MODELS["gpt-image-2-image-to-image"].field("prompt").max_length == 20000  # type: ignore[union-attr]
    assert MODELS["gpt-image-2-image-to-image"].image_field == "input_urls"
    assert not MODELS["gpt-image-2-text-to-image"].takes_images


def test_limit_extraction_fails_loudly_when_the_wording_changes() -> None:
    merged = merge(_patched())
    for _, _, op in market_operations(merged):
        if op["operationId"] == "gpt-image-1-5-image-to-image":
            props = op["requestBody"]["content"]["application/json"]["schema"]["properties"]
            props["input"]["properties"]["input_urls"]["description"] = "Upload an image file"
    with pytest.raises(RegenerateError, match="Max size"):
        spec_constants_module(model_catalog(merged))


def test_importing_the_catalog_is_cheap() -> None:
    code = "import sys, kie_api.models_catalog; print('attrs' in sys.modules, 'httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.split() == ["False", "False"]


EXPORT = "gpt-image--1-5-image-to-image.json"
_INPUT = (
    "/paths/~1api~1v1~1jobs~1createTask/post/requestBody/content/application~1json/schema/properties/input"
)


def test_kie_ais_export_of_the_seed_model_matches_the_seed_or_is_acknowledged() -> None:
    supersede = next(p for p in DOCUMENT_PATCHES if isinstance(p, Supersede))
    assert supersede.document == EXPORT
    docs = _docs()
    assert input_differences(docs[EXPORT], docs[SEED]) == list(supersede.acknowledged)


def test_a_new_difference_in_kie_ais_export_stops_regenerate_naming_it(tmp_path: Path) -> None:
    spec_dir = tmp_path / "openapi"
    shutil.copytree(ROOT / "openapi", spec_dir)
    export = json.loads((spec_dir / EXPORT).read_text(encoding="utf-8"))
    ratio = get(export, f"{_INPUT}/properties/aspect_ratio/enum")
    ratio.append("21:9")
    get(export, f"{_INPUT}/properties")["background"] = {"type": "string", "enum": ["auto"]}
    (spec_dir / EXPORT).write_text(json.dumps(export), encoding="utf-8")
    with pytest.raises(RegenerateError) as caught:
        build(spec_dir)
    message = str(caught.value)
    assert f"openapi/{EXPORT}" in message
    assert 'aspect_ratio.enum: export ["1:1", "2:3", "3:2", "21:9"], seed ["1:1", "2:3", "3:2"]' in message
    assert "background: only in the export" in message
    assert "Update the seed" in message
    # Descriptions and examples are style: a change there is no difference.
    (spec_dir / EXPORT).write_text((ROOT / "openapi" / EXPORT).read_text(encoding="utf-8"), encoding="utf-8")
    export = json.loads((spec_dir / EXPORT).read_text(encoding="utf-8"))
    get(export, f"{_INPUT}/properties/aspect_ratio")["description"] = "reworded"
    (spec_dir / EXPORT).write_text(json.dumps(export), encoding="utf-8")
    build(spec_dir)


def test_the_command_exits_non_zero_on_a_new_difference(tmp_path: Path) -> None:
    spec_dir = tmp_path / "openapi"
    shutil.copytree(ROOT / "openapi", spec_dir)
    export = json.loads((spec_dir / EXPORT).read_text(encoding="utf-8"))
    get(export, f"{_INPUT}/properties/aspect_ratio")["default"] = "2:3"
    (spec_dir / EXPORT).write_text(json.dumps(export), encoding="utf-8")
    result = _run("--check", "--spec-dir", str(spec_dir))
    assert result.returncode == 2
    assert "aspect_ratio.default: export" in result.stderr
    assert EXPORT in result.stderr


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generated_records_what_it_was_made_from() -> None:
    recorded = read(ROOT / "generated")
    assert recorded is not None
    assert recorded.inputs == {f"openapi/{p.name}": _sha(p) for p in (ROOT / "openapi").glob("*.json")}
    assert recorded.tools == {name: importlib.metadata.version(name) for name in TOOLS}
    assert recorded.tools["openapi-python-client"] == "0.29.1"
    for source in (
        "codegen/kie_codegen/patches.py",
        "codegen/kie_codegen/templates/models_catalog.py.jinja",
        "scripts/templates/endpoint_module.py.jinja",
        "scripts/openapi-python-client.yaml",
    ):
        assert recorded.sources[source] == _sha(ROOT / source), source
    assert recorded.outputs["kie_api/models_catalog.py"] == _sha(ROOT / "generated/kie_api/models_catalog.py")
    assert recorded.outputs == outputs_of(ROOT / "generated")  # nothing edited by hand
    text = (ROOT / "generated" / "PROVENANCE.json").read_text(encoding="utf-8")
    assert f'"sha256": "{recorded.sources_sha256}"' in text
    assert str(ROOT) not in text  # no machine paths: the same on every checkout


def test_check_names_each_thing_that_changed_since_the_last_regenerate() -> None:
    recorded = read(ROOT / "generated")
    assert recorded is not None
    doc = f"openapi/{SEED}"
    template = "codegen/kie_codegen/templates/model_methods.py.jinja"
    fresh = dataclasses.replace(
        recorded,
        inputs={**recorded.inputs, doc: "0" * 64, "openapi/acme--new.json": "1" * 64},
        tools={**recorded.tools, "openapi-python-client": "9.9.9"},
        sources={**recorded.sources, template: "2" * 64, "codegen/kie_codegen/emit.py": "3" * 64},
    )
    committed = {**recorded.outputs, "kie_api/types.py": "4" * 64, "kie_api/mine.py": "5" * 64}
    assert explain(recorded, fresh, committed) == [
        "openapi/acme--new.json is new since the last regenerate",
        f"{doc} changed since the last regenerate",
        "openapi-python-client is 9.9.9, the last regenerate used 0.29.1",
        f"the templates changed since the last regenerate: {template} (changed)",
        "the generator's code changed since the last regenerate: codegen/kie_codegen/emit.py (changed)",
        "generated/kie_api/mine.py was added by hand (not what the last regenerate wrote)",
        "generated/kie_api/types.py was edited by hand (not what the last regenerate wrote)",
    ]
    assert explain(recorded, recorded, recorded.outputs) == []
    assert explain(None, fresh, committed) == [
        "generated/PROVENANCE.json is missing: nothing records what generated/ was made from"
    ]
    assert isinstance(fresh, Provenance)


def test_check_says_which_document_changed(tmp_path: Path) -> None:
    spec_dir = tmp_path / "openapi"
    shutil.copytree(ROOT / "openapi", spec_dir)
    page = spec_dir / "topaz--image-upscale.json"
    doc = json.loads(page.read_text(encoding="utf-8"))
    doc["info"]["description"] = "reworded by kie.ai"
    page.write_text(json.dumps(doc), encoding="utf-8")
    result = _run("--check", "--spec-dir", str(spec_dir))
    assert result.returncode == 1
    assert "openapi/topaz--image-upscale.json changed since the last regenerate" in result.stderr
    assert "edited by hand" not in result.stderr
