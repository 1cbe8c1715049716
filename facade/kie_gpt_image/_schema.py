"""Nested values checked against a field's JSON schema, item by item, before anything is uploaded.

kie.ai's market documents nest objects in arrays (kling's ``multi_prompt: [{prompt, duration}]``,
``element_list: [{...}]``); a bad item must be an ``InvalidInputError`` naming its path
(``multi_prompt[0].prompt``), not a ``KeyError`` after the upload. The documents use a small part of
JSON Schema, which is all this checks: ``type`` (one or a list), ``enum``, ``const``, ``required``,
``properties``, ``items``, ``minItems``/``maxItems``, ``minLength``/``maxLength``, ``pattern``,
``minimum``/``maximum`` and ``oneOf``/``anyOf`` (the value must match one branch). Anything else is
left to kie.ai. Why not the ``jsonschema`` package: it would be a runtime dependency (with ``attrs``,
``referencing``, ``rpds-py``) for these dozen keywords, and its errors would have to be mapped to our paths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ._errors import InvalidInputError

__all__ = ["JSON_TYPES", "check_schema"]

JSON_TYPES: dict[str, tuple[type, ...]] = {  # a JSON type and the Python types that hold it
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}


def _is(value: object, json_type: str) -> bool:
    if isinstance(value, bool) and json_type in ("integer", "number"):
        return False
    if json_type == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, JSON_TYPES.get(json_type, (object,)))


def _same(a: object, b: object) -> bool:
    # JSON tells 1 from true and "1" from 1; Python's == does not.
    return (type(a) is type(b) and a == b) or (_is(a, "number") and _is(b, "number") and a == b)


def check_schema(path: str, value: object, schema: Mapping[str, Any]) -> None:
    """Raise ``InvalidInputError`` naming the first place where ``value`` breaks ``schema``.

    Args:
        path: the value's name, e.g. ``multi_prompt``; items and properties extend it
            (``multi_prompt[0].prompt``).
        value: the value given.
        schema: the field's JSON schema (refs already resolved by ``scripts/regenerate``).
    """
    branches = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(branches, (list, tuple)) and branches:
        problems: list[InvalidInputError] = []
        for branch in branches:
            try:
                check_schema(path, value, branch)
                break
            except InvalidInputError as exc:
                problems.append(exc)
        else:
            raise problems[0]
    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    if isinstance(types, (list, tuple)) and types and not any(_is(value, t) for t in types):
        raise InvalidInputError(path, f"must be {' or '.join(types)}, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(path, f"must be a finite number, not {value!r}")
    enum = schema.get("enum")
    if isinstance(enum, (list, tuple)) and not any(_same(value, option) for option in enum):
        raise InvalidInputError(path, f"{value!r} is not one of {', '.join(map(str, enum))}")
    if "const" in schema and not _same(value, schema["const"]):
        raise InvalidInputError(path, f"must be {schema['const']!r}")
    if isinstance(value, str):
        _bounds(path, len(value), schema, "minLength", "maxLength", "characters long")
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and re.search(pattern, value) is None:
            raise InvalidInputError(path, f"{value[:100]!r} does not match the pattern {pattern!r}")
    elif _is(value, "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, (int, float)) and value < low:  # type: ignore[operator]
            raise InvalidInputError(path, f"{value!r} is below the minimum of {low:g}")
        if isinstance(high, (int, float)) and value > high:  # type: ignore[operator]
            raise InvalidInputError(path, f"{value!r} is above the maximum of {high:g}")
    elif isinstance(value, (list, tuple)):
        _bounds(path, len(value), schema, "minItems", "maxItems", "items long")
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                check_schema(f"{path}[{index}]", item, items)
    elif isinstance(value, dict):
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        for name in schema.get("required") or ():
            if value.get(name) is None:
                raise InvalidInputError(f"{path}.{name}", "is required")
        for name, item in value.items():
            sub = properties.get(name)
            if isinstance(sub, Mapping) and item is not None:
                check_schema(f"{path}.{name}", item, sub)


def _bounds(path: str, size: int, schema: Mapping[str, Any], low: str, high: str, unit: str) -> None:
    least, most = schema.get(low), schema.get(high)
    if isinstance(least, int) and size < least:
        raise InvalidInputError(path, f"must be at least {least} {unit} ({size} given)")
    if isinstance(most, int) and size > most:
        raise InvalidInputError(path, f"must be at most {most} {unit} ({size} given)")
