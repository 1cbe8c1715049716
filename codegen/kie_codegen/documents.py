"""The documents in ``openapi/``: loading them, what they describe, and the document stage of the patch
table (setting aside other APIs, deriving operation ids, superseding one page by another after comparing
the two, and the pointer and schema rewrites)."""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import RegenerateError
from .patch_types import (
    SCHEMA_RULES,
    DeriveOperationIds,
    DocumentPatch,
    DropSecurityKey,
    Rewrite,
    SetAsideOtherApis,
    Supersede,
)
from .pointers import get, replace, resolved, show
from .settings import HTTP_METHODS, JSON, MISSING, SPEC_DIR

__all__ = [
    "apply_document_patches",
    "input_differences",
    "load_documents",
    "market_models",
    "model_id",
    "operations",
    "security_requirements",
]


def load_documents(spec_dir: Path = SPEC_DIR) -> dict[str, dict[str, Any]]:
    """Read every ``*.json`` document in ``spec_dir``, keyed by file name, in sorted order."""
    files = sorted(spec_dir.glob("*.json"))
    if not files:
        raise RegenerateError(f"no OpenAPI documents in {spec_dir}")
    return {f.name: json.loads(f.read_text(encoding="utf-8")) for f in files}


def model_id(operation: dict[str, Any]) -> str | None:
    """The market model a createTask-style operation is for: its body's ``model`` names exactly one."""
    schema = operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema", {})
    model = schema.get("properties", {}).get("model") if isinstance(schema, dict) else None
    if not isinstance(model, dict):
        return None
    enum = model.get("enum")
    if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], str):
        return enum[0]
    default = model.get("default")
    return default if isinstance(default, str) and enum is None else None


def market_models(doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(path, method, model id or None) of every operation of ``doc``."""
    return [
        (path, method, model_id(op))
        for path, item in doc.get("paths", {}).items()
        for method, op in item.items()
        if isinstance(op, dict)
    ]


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of every operation of ``doc``."""
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and method in HTTP_METHODS:
                yield path, method, operation


def _other_operations(doc: dict[str, Any], patch: SetAsideOtherApis) -> list[str]:
    """The operations of ``doc`` that are neither a market task nor an endpoint the client calls."""
    return [
        f"{method.upper()} {path}"
        for path, method, _ in operations(doc)
        if (path, method) != (patch.task_path, "post") and f"{method.upper()} {path}" not in patch.endpoints
    ]


def security_requirements(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every security requirement object of ``doc``, the document's and its operations'."""
    yield from doc.get("security") or []
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                yield from operation.get("security") or []


def apply_document_patches(
    documents: dict[str, dict[str, Any]], patches: list[DocumentPatch], report: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Return patched copies of ``documents`` without the superseded ones; raise if a patch matches none.

    Documents set aside as other APIs are left out and named in ``report`` (one line each)."""
    docs = copy.deepcopy(documents)
    for patch in patches:
        if isinstance(patch, SetAsideOtherApis):
            for name in list(docs):
                other = _other_operations(docs[name], patch)
                if other:
                    del docs[name]
                    if report is not None:
                        report.append(f"set aside {name}: another API ({other[0]}), not a market task")
            continue
        if isinstance(patch, DeriveOperationIds):
            for doc in docs.values():
                for _, _, operation in operations(doc):
                    model = model_id(operation)
                    if model is not None and not operation.get("operationId"):
                        operation["operationId"] = re.sub(r"[^0-9a-z]+", "-", model.lower()).strip("-")
            continue
        if isinstance(patch, Supersede):
            if patch.document not in docs or patch.by not in docs:
                raise RegenerateError(f"patch no longer matches: {patch.document} or {patch.by} is missing")
            if market_models(docs[patch.document]) != market_models(docs[patch.by]):
                raise RegenerateError(
                    f"patch no longer matches: {patch.document} and {patch.by} describe different models"
                )
            _check_superseded(docs[patch.document], docs[patch.by], patch)
            del docs[patch.document]
            continue
        names = [n for n in docs if fnmatch.fnmatchcase(n, patch.documents)]
        changed = 0
        for name in names:
            if isinstance(patch, Rewrite):
                changed += _rewrite_schemas(docs[name], patch.rule)
            elif isinstance(patch, DropSecurityKey):
                for requirement in security_requirements(docs[name]):
                    if patch.key in requirement:
                        del requirement[patch.key]
                        changed += 1
            elif get(docs[name], patch.pointer) == patch.before:
                replace(docs[name], patch)
                changed += 1
        if not changed:
            raise RegenerateError(f"patch no longer matches any document ({patch.documents}): {patch}")
    return docs


# The properties of an input field whose change reaches users (not examples, descriptions or titles).
_INPUT_FACTS = (
    "type", "format", "enum", "default", "minItems", "maxItems", "minLength", "maxLength", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "nullable",
)  # fmt: skip


def _input_facts(doc: dict[str, Any]) -> dict[str, Any]:
    """``field.property`` -> value for the ``input`` of ``doc``'s market model (refs resolved)."""
    facts: dict[str, Any] = {}
    for _, _, operation in operations(doc):
        body = resolved(
            doc, operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema", {})
        )
        schema = body.get("properties", {}).get("input", {}) if isinstance(body, dict) else {}
        required = set(schema.get("required", []))
        for name, field in schema.get("properties", {}).items():
            facts[f"{name}.required"] = name in required
            for key in _INPUT_FACTS:
                if key in field:
                    facts[f"{name}.{key}"] = field[key]
            items = field.get("items") if isinstance(field.get("items"), dict) else {}
            for key in _INPUT_FACTS:
                if key in items:
                    facts[f"{name}.items.{key}"] = items[key]
    return facts


def input_differences(export: dict[str, Any], seed: dict[str, Any]) -> list[str]:
    """Each difference of the model's input, worded ``field.property: export X, seed Y``."""
    mine, theirs = _input_facts(seed), _input_facts(export)
    fields_mine = {k.split(".")[0] for k in mine}
    fields_theirs = {k.split(".")[0] for k in theirs}
    out = [f"{f}: only in the export" for f in sorted(fields_theirs - fields_mine)]
    out += [f"{f}: only in the seed" for f in sorted(fields_mine - fields_theirs)]
    for key in sorted(set(mine) | set(theirs)):
        if key.split(".")[0] not in fields_mine & fields_theirs:
            continue
        a, b = theirs.get(key, MISSING), mine.get(key, MISSING)
        if a != b:
            out.append(f"{key}: export {show(a)}, seed {show(b)}")
    return out


def _check_superseded(export: dict[str, Any], seed: dict[str, Any], patch: Supersede) -> None:
    found = input_differences(export, seed)
    new = [d for d in found if d not in patch.acknowledged]
    gone = [d for d in patch.acknowledged if d not in found]
    if new or gone:
        lines = [
            f"openapi/{patch.document} (kie.ai's export of the model openapi/{patch.by} describes) "
            "differs from the seed, which wins:"
        ]
        lines += [f"  new difference: {d}" for d in new]
        lines += [f"  acknowledged but gone: {d}" for d in gone]
        lines.append(
            "Update the seed (openapi/" + patch.by + ") on purpose if kie.ai changed the model, or add "
            "the difference to the Supersede entry's `acknowledged` in codegen/kie_codegen/patches.py, "
            "with the reason."
        )
        raise RegenerateError("\n".join(lines))


def _rewrite_schemas(node: Any, rule: str, in_schema: bool = False) -> int:
    """Apply a ``SCHEMA_RULES`` rule to every Schema Object under ``node``; return how many changed."""
    if rule not in SCHEMA_RULES:
        raise RegenerateError(f"unknown schema rule {rule!r}")
    changed = 0
    if isinstance(node, list):
        return sum(_rewrite_schemas(v, rule, in_schema) for v in node)
    if not isinstance(node, dict):
        return 0
    if in_schema and rule == "examples-to-example" and isinstance(node.get("examples"), list):
        values = node.pop("examples")
        if values and "example" not in node:
            node["example"] = values[0]
        changed += 1
    if in_schema and rule == "strip-property-names" and isinstance(node.get("properties"), dict):
        stray = [k for k in node["properties"] if k != k.strip()]
        for key in stray:
            if key.strip() in node["properties"]:
                raise RegenerateError(f"property {key!r} collides with {key.strip()!r} once trimmed")
            node["properties"] = {(k.strip() if k == key else k): v for k, v in node["properties"].items()}
            for listed in ("required", "x-apidog-orders"):
                if isinstance(node.get(listed), list):
                    node[listed] = [k.strip() if k == key else k for k in node[listed]]
            changed += 1
    if in_schema and rule == "null-type-to-nullable" and node.get("type") == "null":
        del node["type"]
        node.update({"nullable": True, "enum": [None]})
        changed += 1
    for key, value in node.items():
        if key in ("schema", "items", "additionalProperties", "not"):
            changed += _rewrite_schemas(value, rule, True)
        elif key in ("properties", "schemas") or (key in ("allOf", "anyOf", "oneOf") and in_schema):
            values = value.values() if isinstance(value, dict) else value
            changed += sum(_rewrite_schemas(v, rule, True) for v in values)
        elif key not in ("example", "enum", "default"):
            changed += _rewrite_schemas(value, rule, False)
    return changed
