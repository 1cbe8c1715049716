"""The merge: every (patched) document into one, and the contract view of the result.

Components that are equal under one name are merged, differing ones are namespaced (``_order``: the seed
keeps the plain name, then the other endpoints, then the market models, each in file-name order); every
market model operation (a request body whose ``model`` names one model) gets its own virtual path
``<path>#<operationId>``, so that all models may share ``POST /api/v1/jobs/createTask``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from .documents import market_models, model_id, security_requirements
from .errors import RegenerateError
from .naming import pascal
from .settings import DOCUMENT_KEY, HTTP_METHODS, JSON, SEED, VIRTUAL

__all__ = ["contract_view", "dump", "market_operations", "merge"]


def _order(documents: dict[str, dict[str, Any]]) -> list[str]:
    # The seed first (it keeps plain component names), then the other endpoints, then the market model
    # documents, each group in file-name order: deterministic, and a market document dropped into
    # openapi/ never renames a component of the endpoints the facade parses (recordInfo, uploads).
    def key(name: str) -> tuple[bool, bool, str]:
        market = any(model for _, _, model in market_models(documents[name]))
        return name != SEED, market, name

    return sorted(documents, key=key)


def _prefix(name: str, doc: dict[str, Any]) -> str:
    ids = [op.get("operationId") for item in doc.get("paths", {}).values() for op in item.values()]
    return pascal(ids[0]) if len(ids) == 1 and ids[0] else pascal(Path(name).stem)


def _namespace_components(documents: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Give differing components under one name distinct names; equal ones keep one shared name.

    The first document (``_order``: the seed, the other endpoints, then the market models) keeps the
    plain name; a later one whose
    component equals an earlier variant shares that variant's name; any other is renamed
    ``<Prefix><Name>`` (prefix: the document's single operationId, or its file name).
    """
    chosen: dict[tuple[str, str], list[tuple[Any, str]]] = {}
    renames: dict[str, dict[tuple[str, str], str]] = {}
    taken: set[tuple[str, str]] = set()
    for name in _order(documents):
        for section, entries in documents[name].get("components", {}).items():
            for key, value in entries.items():
                variants = chosen.setdefault((section, key), [])
                new = next((n for v, n in variants if v == value), None)
                if new is None:
                    new = key if not variants else _prefix(name, documents[name]) + key
                    if (section, new) in taken and new != key:
                        raise RegenerateError(f"{name}: cannot namespace components/{section}/{key}")
                    variants.append((value, new))
                    taken.add((section, new))
                if new != key:
                    renames.setdefault(name, {})[(section, key)] = new
    out = {}
    for name, doc in documents.items():
        doc = copy.deepcopy(doc)
        mapping = renames.get(name, {})
        if mapping:
            doc = _rename_refs(
                doc, {f"#/components/{s}/{k}": f"#/components/{s}/{n}" for (s, k), n in mapping.items()}
            )
            for (section, key), new in mapping.items():
                doc["components"][section][new] = doc["components"][section].pop(key)
            schemes = {k: n for (s, k), n in mapping.items() if s == "securitySchemes"}
            for requirement in list(security_requirements(doc)):
                for key in [k for k in requirement if k in schemes]:
                    requirement[schemes[key]] = requirement.pop(key)
        out[name] = doc
    return out


def _rename_refs(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: (mapping.get(v, v) if k == "$ref" and isinstance(v, str) else _rename_refs(v, mapping))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rename_refs(v, mapping) for v in node]
    return node


def merge(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Merge the (patched) documents into the generator's form; raise on any collision.

    Market model operations get a virtual path each (``<path>#<operationId>``); every other path and
    method may be defined once. Document-level ``security`` moves onto the operations, ``servers`` that
    differ from the API host onto the operations (reference §7: the generator ignores both; the
    contract tests read them).
    """
    documents = _namespace_components(documents)
    merged: dict[str, Any] = {
        "openapi": "3.0.0",
        "info": {
            "title": "kie.ai API (merged by scripts/regenerate)",
            "version": "1.0.0",
            "description": "Merged from: " + ", ".join(_order(documents)),
        },
        "servers": [{"url": "https://api.kie.ai", "description": "API Server"}],
        "paths": {},
        "components": {},
    }
    operation_ids: dict[str, str] = {}
    owners: dict[tuple[str, str], str] = {}
    models: dict[str, str] = {}
    for name in _order(documents):
        doc = documents[name]
        for path, item in doc.get("paths", {}).items():
            for method, operation in item.items():
                if method not in HTTP_METHODS:
                    raise RegenerateError(f"{name}: {path}: unsupported path item key {method!r}")
                op_id = operation.get("operationId")
                if not op_id:
                    raise RegenerateError(f"{name}: {method.upper()} {path} has no operationId")
                if op_id in operation_ids:
                    raise RegenerateError(
                        f"{name}: operationId {op_id!r} is already used by {operation_ids[op_id]}"
                    )
                model = model_id(operation)
                key = path
                if model is not None:
                    if model in models:
                        raise RegenerateError(
                            f"{name}: model {model!r} is already described by {models[model]} "
                            "(name the authority with a Supersede patch)"
                        )
                    models[model] = name
                    key = f"{path}{VIRTUAL}{op_id}"
                if (key, method) in owners or ((path, method) in owners and model is None):
                    raise RegenerateError(
                        f"{name}: {method.upper()} {path} is already defined by "
                        f"{owners.get((key, method)) or owners[(path, method)]}"
                    )
                operation_ids[op_id] = name
                owners[(key, method)] = name
                if model is None:
                    owners[(path, method)] = name
                op = copy.deepcopy(operation)
                if model is not None:
                    op[DOCUMENT_KEY] = name  # models_catalog's ModelSpec.document
                if doc.get("security") is not None:
                    op.setdefault("security", copy.deepcopy(doc["security"]))
                if doc.get("servers") and [s["url"] for s in doc["servers"]] != ["https://api.kie.ai"]:
                    op.setdefault("servers", copy.deepcopy(doc["servers"]))
                merged["paths"].setdefault(key, {})[method] = op
        for section, entries in doc.get("components", {}).items():
            target = merged["components"].setdefault(section, {})
            for key, value in entries.items():
                target[key] = copy.deepcopy(value)  # equal when the name is shared (namespaced otherwise)
    for (path, method), name in owners.items():
        if VIRTUAL not in path and any(
            p.split(VIRTUAL)[0] == path and method in item
            for p, item in merged["paths"].items()
            if VIRTUAL in p
        ):
            raise RegenerateError(f"{name}: {method.upper()} {path} is also a market model's path")
    return merged


def market_operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(real path, method, operation) of every market model operation, in merged order."""
    return [
        (path.split(VIRTUAL)[0], method, op)
        for path, item in doc["paths"].items()
        if VIRTUAL in path
        for method, op in item.items()
    ]


def contract_view(merged: dict[str, Any]) -> dict[str, Any]:
    """The merged document as kie.ai serves it: the models sharing a path folded into one operation.

    Its body is a ``oneOf`` of the models' bodies (each names its own ``model``, so exactly one matches)
    and each status's reply an ``anyOf`` of the models' replies where they differ. The operation keeps
    the operationId of the first model (the seed's), which the emulator's fault names use.
    """
    doc = copy.deepcopy(merged)
    paths: dict[str, Any] = {}
    for path, item in doc["paths"].items():
        real = path.split(VIRTUAL)[0]
        for method, op in item.items():
            paths.setdefault(real, {}).setdefault(method, []).append(op)
    doc["paths"] = {}
    for path, item in paths.items():
        for method, ops in item.items():
            doc["paths"].setdefault(path, {})[method] = ops[0] if len(ops) == 1 else _fold(ops)
    return doc


def _fold(ops: list[dict[str, Any]]) -> dict[str, Any]:
    first = ops[0]
    folded: dict[str, Any] = {
        "summary": "Create a task for one of the market models: "
        + ", ".join(str(model_id(op)) for op in ops),
        "operationId": first["operationId"],
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": {"oneOf": [op["requestBody"]["content"][JSON]["schema"] for op in ops]}}
            },
        },
        "responses": {},
    }
    for key in ("security", "servers"):
        if key in first:
            folded[key] = first[key]
    statuses = sorted({s for op in ops for s in op.get("responses", {})})
    for status in statuses:
        variants: list[Any] = []
        for op in ops:
            response = op.get("responses", {}).get(status)
            if response is not None and response not in variants:
                variants.append(response)
        if len(variants) == 1:
            folded["responses"][status] = variants[0]
            continue
        schemas: list[Any] = []
        for response in variants:
            schema = (
                response.get("content", {}).get(JSON, {}).get("schema")
                if isinstance(response, dict)
                else None
            )
            if schema is not None and schema not in schemas:
                schemas.append(schema)
        folded["responses"][status] = {
            "description": next((v.get("description") for v in variants if v.get("description")), "reply"),
            **({"content": {JSON: {"schema": {"anyOf": schemas}}}} if schemas else {}),
        }
    return folded


def dump(doc: dict[str, Any]) -> str:
    """``doc`` as the generated JSON files hold it (indented, UTF-8 as is)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
