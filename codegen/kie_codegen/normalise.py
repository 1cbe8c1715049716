"""The normalisation stage: the merged document made fit for the generator (``PATCHES``).

Response schemas are loosened by rules that apply to every operation, so a new document needs no new
entry; request schemas keep their enums and required fields (the facade checks input against them).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from .errors import RegenerateError
from .naming import pascal
from .patch_types import (
    RULES,
    DropNumberEnums,
    DropOperationKey,
    DropSchemaTitles,
    Hoist,
    Loosen,
    Patch,
    Replace,
)
from .pointers import get, parent, replace

__all__ = ["apply_patches"]


def apply_patches(doc: dict[str, Any], patches: list[Patch]) -> dict[str, Any]:
    """Return a normalised copy of ``doc``; raise if any patch does not match exactly."""
    doc = copy.deepcopy(doc)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for patch in patches:
        if isinstance(patch, Replace):
            replace(doc, patch)
        elif isinstance(patch, Hoist):
            holder, key = parent(doc, patch.pointer)
            schema = get(doc, patch.pointer)
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise RegenerateError(f"patch no longer matches: {patch.pointer} is not an inline object")
            if patch.name in schemas and schemas[patch.name] != schema:
                raise RegenerateError(f"cannot hoist to {patch.name}: the name holds another schema")
            schemas[patch.name] = schema
            ref = {"$ref": f"#/components/schemas/{patch.name}"}
            holder[key] = {"nullable": True, "allOf": [ref]} if patch.nullable else ref
        elif isinstance(patch, DropNumberEnums):
            _drop_number_enums(doc)
        elif isinstance(patch, DropSchemaTitles):
            titled = [schema for schema in schemas.values() if "title" in schema]
            if not titled:
                raise RegenerateError("patch no longer matches anything: no component schema has a title")
            for schema in titled:
                del schema["title"]
        elif isinstance(patch, DropOperationKey):
            operations = [op for item in doc["paths"].values() for op in item.values() if patch.key in op]
            if not operations:
                raise RegenerateError(f"patch no longer matches anything: no operation has {patch.key!r}")
            for operation in operations:
                del operation[patch.key]
        elif patch.rule not in RULES:
            raise RegenerateError(f"unknown loosening rule {patch.rule!r}")
        elif not _loosen(doc, patch):
            raise RegenerateError(f"patch no longer matches anything: {patch.rule} {patch.key}")
    return doc


def _drop_number_enums(node: Any) -> None:
    if isinstance(node, list):
        for value in node:
            _drop_number_enums(value)
    elif isinstance(node, dict):
        enum = node.get("enum")
        if (
            isinstance(enum, list)
            and enum
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in enum)
            and not all(isinstance(v, int) or float(v).is_integer() for v in enum)
        ):
            del node["enum"]
        for key, value in node.items():
            if key not in ("example", "examples", "default"):
                _drop_number_enums(value)


def _response_schemas(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(class-name stem, schema) of every response body of every operation, in document order."""
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                for media in response.get("content", {}).values():
                    if isinstance(media.get("schema"), dict):
                        stem = (
                            pascal(operation.get("operationId") or f"{method} {path}") + f"Response{status}"
                        )
                        yield stem, media["schema"]


def _loosen(doc: dict[str, Any], patch: Loosen) -> int:
    """Apply one loosening rule to every schema reachable from a response; return how many places changed."""
    schemas = doc["components"]["schemas"]
    seen: set[str] = set()
    changed = 0

    def walk(schema: Any, stem: str) -> None:
        nonlocal changed
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                walk(schemas[name], name)
            return
        if patch.rule == "drop-required" and "required" in schema and schema.get("type") != "array":
            if isinstance(schema["required"], list):
                del schema["required"]
                changed += 1
        if patch.rule == "drop-format" and schema.get("format") == patch.key:
            del schema["format"]
            changed += 1
        properties = schema.get("properties")
        if isinstance(properties, dict):
            target = properties.get(patch.key)
            if patch.rule == "drop-enum" and isinstance(target, dict) and "enum" in target:
                del target["enum"]
                changed += 1
            if (
                patch.rule == "nullable"
                and isinstance(target, dict)
                and _make_nullable(properties, patch.key, f"{stem}{pascal(patch.key)}", schemas)
            ):
                changed += 1
            for name, value in properties.items():
                walk(value, f"{stem}{pascal(name)}")
        for combinator in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(combinator, []):
                walk(part, stem)
        walk(schema.get("items"), stem)

    for stem, schema in _response_schemas(doc):
        walk(schema, stem)
    return changed


def _make_nullable(properties: dict[str, Any], key: str, name: str, schemas: dict[str, Any]) -> bool:
    target = properties[key]
    if target.get("nullable") is True:
        return False
    if "$ref" in target:
        properties[key] = {"nullable": True, "allOf": [{"$ref": target["$ref"]}]}
    elif target.get("type") == "object" and target.get("properties"):
        # An inline object: hoisted under a stable name so the class keeps a clean name (reference §7).
        if name in schemas and schemas[name] != target:
            raise RegenerateError(f"cannot hoist a nullable `{key}` to {name}: the name is taken")
        schemas[name] = target
        properties[key] = {"nullable": True, "allOf": [{"$ref": f"#/components/schemas/{name}"}]}
    else:
        target["nullable"] = True
    return True
