"""JSON pointers (RFC 6901) into a document: read, check-and-replace, and ``$ref`` inlining."""

from __future__ import annotations

import copy
import json
from typing import Any

from .errors import RegenerateError
from .patch_types import Replace
from .settings import MISSING

__all__ = ["get", "parent", "replace", "resolved", "show"]


def _tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise RegenerateError(f"not a JSON pointer: {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def parent(doc: Any, pointer: str) -> tuple[Any, str | int]:
    """(the container holding ``pointer``'s target, its key or index); raise when a step is missing."""
    *path, last = _tokens(pointer)
    node = doc
    for token in path:
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (KeyError, IndexError, ValueError, TypeError):
            raise RegenerateError(f"patch no longer matches: {pointer} (missing {token!r})") from None
    return node, (int(last) if isinstance(node, list) else last)


def get(doc: Any, pointer: str) -> Any:
    """The value at ``pointer``, or ``MISSING``."""
    try:
        holder, key = parent(doc, pointer)
    except RegenerateError:
        return MISSING
    try:
        return holder[key]
    except (KeyError, IndexError, TypeError):
        return MISSING


def replace(doc: Any, patch: Replace) -> None:
    """Apply ``patch`` to ``doc`` in place; raise unless the value is ``patch.before``."""
    holder, key = parent(doc, patch.pointer)
    current = get(doc, patch.pointer)
    if current is not patch.before and current != patch.before:
        raise RegenerateError(
            f"patch no longer matches: {patch.pointer} is {show(current)}, expected {show(patch.before)}"
        )
    if patch.after is MISSING:
        del holder[key]
    else:
        holder[key] = copy.deepcopy(patch.after)


def show(value: Any) -> str:
    """A value as an error message quotes it (JSON, cut at 80 characters; ``absent`` for MISSING)."""
    return "absent" if value is MISSING else json.dumps(value, ensure_ascii=False)[:80]


def resolved(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """``node`` with every local ``$ref`` replaced by its target (a cycle deeper than 20 is an error)."""
    if depth > 20:
        raise RegenerateError("a schema refers to itself: cannot inline it for the catalog")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            return resolved(doc, get(doc, ref[1:]), depth + 1)
        return {k: resolved(doc, v, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [resolved(doc, v, depth) for v in node]
    return node
