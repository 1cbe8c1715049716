"""The OpenAPI documents in openapi/: valid, examples consistent, seed faithfully converted."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILES = sorted((ROOT / "openapi").glob("*.json"))
SEED = ROOT.parent / "shared" / "seeds" / "000_d8e79bc2493ae714.txt"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_there_is_one_document_per_published_source() -> None:
    names = {p.name for p in SPEC_FILES}
    assert names == {
        "gpt-image-1.5-image-to-image.json",
        "market-get-task-details.json",
        "file-upload-api.json",
        "common-api.json",
    }


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_document_is_valid_openapi(path: Path) -> None:
    validate(_load(path))


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


def _all_examples() -> list[tuple[str, str, Any, Any]]:
    found = []
    for path in SPEC_FILES:
        doc = _load(path)
        resolved = _inline_refs(doc, copy.deepcopy({k: v for k, v in doc.items() if k != "components"}))
        for where, schema, example in _examples(resolved):
            found.append((path.name, where, schema, example))
    return found


EXAMPLES = _all_examples()


def test_every_document_has_examples_for_its_payloads() -> None:
    per_file = {name for name, *_ in EXAMPLES}
    assert per_file == {p.name for p in SPEC_FILES}
    assert len(EXAMPLES) > 40


@pytest.mark.parametrize(("name", "where", "schema", "example"), EXAMPLES, ids=lambda v: str(v)[:60])
def test_example_validates_against_its_schema(name: str, where: str, schema: Any, example: Any) -> None:
    errors = sorted(OAS30Validator(schema).iter_errors(example), key=str)
    assert not errors, f"{name} {where}: {errors[0].message}"


def test_seed_spec_is_converted_without_change_of_meaning() -> None:
    if not SEED.exists():
        pytest.skip("the seed is not beside this checkout (../shared/seeds)")
    text = SEED.read_text(encoding="utf-8")
    match = re.search(r"````yaml[^\n]*\n(.*?)````", text, re.S)
    assert match is not None
    assert _load(ROOT / "openapi" / "gpt-image-1.5-image-to-image.json") == yaml.safe_load(match.group(1))


def test_shared_components_are_identical_across_documents() -> None:
    """The merge refuses differing schemas under one name; keep the envelope exactly the seed's."""
    seed = _load(ROOT / "openapi" / "gpt-image-1.5-image-to-image.json")
    for path in SPEC_FILES:
        components = _load(path)["components"]
        assert components["schemas"]["ApiResponse"] == seed["components"]["schemas"]["ApiResponse"]
        assert components["securitySchemes"] == seed["components"]["securitySchemes"]
