"""The OpenAPI documents in openapi/: kie.ai's exports unedited, the seed faithfully converted, and the
merged contract document (after the patch table) valid with consistent examples."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from contract import merged_spec
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILES = sorted((ROOT / "openapi").glob("*.json"))
SEED = ROOT.parent / "shared" / "seeds" / "000_d8e79bc2493ae714.txt"
KIE_DOCS = ROOT.parent / "shared" / "kie-docs"
SEED_NAME = "gpt-image-1.5-image-to-image.json"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _kie_exports() -> dict[str, Path]:
    # kie.ai's exports beside this checkout: the endpoints' documents and, in market/, its market pages.
    return {p.name: p for folder in (KIE_DOCS, KIE_DOCS / "market") for p in folder.glob("*.json")}


def test_openapi_holds_the_seed_and_kie_ais_exports_only() -> None:
    names = {p.name for p in SPEC_FILES}
    assert SEED_NAME in names
    assert len(names) >= 76  # the seed, 10 endpoint and GPT Image exports, 65 market pages
    if KIE_DOCS.is_dir():
        assert names == {SEED_NAME} | set(_kie_exports())


@pytest.mark.parametrize("path", [p for p in SPEC_FILES if p.name != SEED_NAME], ids=lambda p: p.name)
def test_published_document_is_kie_ais_export_unedited(path: Path) -> None:
    if not KIE_DOCS.is_dir():
        pytest.skip("kie.ai's exports are not beside this checkout (../shared/kie-docs)")
    shared = _kie_exports().get(path.name)
    assert shared is not None, f"{path.name} is not one of kie.ai's exports"
    assert path.read_bytes() == shared.read_bytes()


def test_the_seed_is_valid_openapi() -> None:
    validate(_load(ROOT / "openapi" / SEED_NAME))


def test_merged_contract_document_is_valid_openapi() -> None:
    validate(merged_spec())


def _inline_refs(doc: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = doc
            for token in node["$ref"].lstrip("#/").split("/"):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            return _inline_refs(doc, target)
        return {k: _inline_refs(doc, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(doc, v) for v in node]
    return node


def _examples(node: Any, where: str = "#") -> Iterator[tuple[str, Any, Any]]:
    """Yield (location, schema, example) for media types, parameters and schemas with an example."""
    if isinstance(node, dict):
        if "example" in node:
            if "schema" in node:
                yield where, node["schema"], node["example"]
            elif "type" in node or "allOf" in node or "enum" in node:
                yield where, {k: v for k, v in node.items() if k != "example"}, node["example"]
        for key, value in node.items():
            if key != "example":
                yield from _examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _examples(value, f"{where}/{i}")


def _all_examples() -> list[tuple[str, Any, Any]]:
    # The seed's examples all agree with its schemas. kie.ai's exports carry examples that contradict
    # their own schemas (500 replies without the required `data`, download-url's request example as a
    # JSON string); they stay as published, and the contract tests validate real exchanges instead.
    doc = _load(ROOT / "openapi" / SEED_NAME)
    resolved = _inline_refs(doc, copy.deepcopy({k: v for k, v in doc.items() if k != "components"}))
    return list(_examples(resolved))


EXAMPLES = _all_examples()


def test_the_seed_has_examples_for_its_payloads() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize(("where", "schema", "example"), EXAMPLES, ids=lambda v: str(v)[:60])
def test_seed_example_validates_against_its_schema(where: str, schema: Any, example: Any) -> None:
    errors = sorted(OAS30Validator(schema).iter_errors(example), key=str)
    assert not errors, f"{where}: {errors[0].message}"


def test_seed_spec_is_converted_without_change_of_meaning() -> None:
    if not SEED.exists():
        pytest.skip("the seed is not beside this checkout (../shared/seeds)")
    text = SEED.read_text(encoding="utf-8")
    match = re.search(r"````yaml[^\n]*\n(.*?)````", text, re.S)
    assert match is not None
    assert _load(ROOT / "openapi" / "gpt-image-1.5-image-to-image.json") == yaml.safe_load(match.group(1))
