"""Every market model of the generated catalog: createTask validation, input images and result sizes.

The emulator serves whichever models ``scripts/regenerate`` wrote into the generated catalog (read through
``_api.model_specs``, the one adapter): a kie.ai document dropped into ``openapi/`` and regenerated is
served with no edit here. Each ``input`` field is checked against what its document states (required,
type, enum, item count and type, lengths, bounds, URL format), the image field's URLs against the files
the emulator holds, and the body must then parse with the model's generated body class. What no
document states as data stays in two small tables: pixel sizes (``_images``) and gpt-image-2's resolution
rules (below, stated in prose on its pages).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import _api
from ._images import size_for

if TYPE_CHECKING:
    from .._api import FieldSpec, ModelSpec

__all__ = ["InputFile", "create_problem", "image_urls", "model_of", "result_size"]


@dataclass(frozen=True, slots=True)
class InputFile:
    """What the emulator knows about one input image URL."""

    hosted: bool
    """Whether the URL points at the emulator's own file host (anything else is drawn as a placeholder,
    never fetched: the emulator makes no network requests)."""
    mime_type: str | None = None
    """The type of the file it holds there; ``None`` when it holds no such file."""
    size: int = 0
    """The file's size in bytes (0 when unknown: a result image not rendered yet)."""


FileLookup = Callable[[str], InputFile]
"""Tells what the emulator holds at an input image URL."""

# JSON types of the documents' fields, as Python types; a bool is never a number.
_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_ARTICLES: Mapping[str, str] = {"array": "an array", "integer": "an integer", "object": "an object"}


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _type_ok(value: object, json_type: str | None) -> bool:
    python_types = _JSON_TYPES.get(json_type or "")
    if python_types is None:
        return True  # a type the catalog does not name: the generated class is the judge
    if isinstance(value, bool):
        return json_type == "boolean"
    return isinstance(value, python_types)


def _gpt_image_2_resolution(values: Mapping[str, Any]) -> str | None:
    # kie.ai's gpt-image-2 pages (https://docs.kie.ai/market/gpt/gpt-image-2-image-to-image and
    # .../gpt-image-2-text-to-image), input.resolution: "Images with a 1:1 aspect ratio cannot be converted
    # to 4K images. Images with the aspect ratio set to "auto" or without a specified aspect ratio
    # parameter will only be converted to 1K images; otherwise, the task will fail to create."
    resolution = values.get("resolution")
    ratio = values.get("aspect_ratio", "auto")
    if resolution in (None, "1K"):
        return None
    if ratio == "auto":
        return f"input.resolution {resolution} needs an aspect_ratio other than auto (auto renders 1K only)"
    if ratio == "1:1" and resolution == "4K":
        return "input.resolution 4K is not available for aspect_ratio 1:1"
    return None


# Rules a model's page states in prose only, by model id. A model not listed has none.
_PROSE_RULES: Mapping[str, Callable[[Mapping[str, Any]], str | None]] = {
    "gpt-image-2-image-to-image": _gpt_image_2_resolution,
    "gpt-image-2-text-to-image": _gpt_image_2_resolution,
}


def _field_problem(field: FieldSpec, value: object) -> str | None:
    """Why ``value`` breaks what the document states about ``field``, or ``None``."""
    where = f"input.{field.name}"
    if not _type_ok(value, field.type):
        return f"{where} must be {_ARTICLES.get(field.type, 'a ' + field.type)}"
    if field.enum is not None and value not in field.enum:
        return f"{where} must be one of {', '.join(map(str, field.enum))} (got {value!r})"
    if isinstance(value, str):
        if field.min_length is not None and len(value) < field.min_length:
            return f"{where} must have at least {field.min_length} characters"
        if field.max_length is not None and len(value) > field.max_length:
            return f"{where} accepts at most {field.max_length} characters"
        # A blank required text (the prompt) leaves nothing to generate from; kie.ai's documents state
        # no message for it, the code is their 422 "validation error".
        if field.required and not value.strip():
            return f"{where} must not be empty"
        if field.format == "uri" and not _is_http_url(value):
            return f"{where} must be an http(s) URL"
    if isinstance(value, list):
        if field.min_items is not None and len(value) < field.min_items:
            return f"{where} needs at least {field.min_items} items"
        if field.max_items is not None and len(value) > field.max_items:
            return f"{where} accepts at most {field.max_items} items"
        for index, item in enumerate(value):
            if field.items_type is not None and not _type_ok(item, field.items_type):
                return f"{where}[{index}] must be {_ARTICLES.get(field.items_type, 'a ' + field.items_type)}"
            if field.items_format == "uri" and not _is_http_url(item):
                return f"{where}[{index}] must be an http(s) URL"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if field.minimum is not None and value < field.minimum:
            return f"{where} must be at least {field.minimum:g}"
        if field.maximum is not None and value > field.maximum:
            return f"{where} must be at most {field.maximum:g}"
    return None


def _image_problem(field: FieldSpec, urls: list[Any], lookup: FileLookup) -> str | None:
    """Why one of the image URLs is unusable: a file the emulator should hold but does not, or one of a
    type or size the field's description refuses (its "Accepted types" and "Max size")."""
    for index, url in enumerate(urls):
        where = f"input.{field.name}[{index}]"
        found = lookup(url) if isinstance(url, str) else InputFile(hosted=False)
        if not found.hosted:
            continue
        if found.mime_type is None:
            return f"{where}: no file at {url}"
        if field.mime_types and found.mime_type not in field.mime_types:
            return f"{where} is {found.mime_type}; accepted: {', '.join(field.mime_types)}"
        if field.max_file_bytes is not None and found.size > field.max_file_bytes:
            return f"{where} is {found.size} bytes; at most {field.max_file_bytes} are accepted"
    return None


def model_of(body: Mapping[str, Any]) -> ModelSpec | None:
    """The catalog's spec of the body's ``model``, or ``None`` for a model it does not describe."""
    model = body.get("model")
    return _api.model_specs().get(model) if isinstance(model, str) else None


def create_problem(body: object, lookup: FileLookup) -> str | None:
    """Why a createTask body is invalid for its model (kie.ai answers such a body code 422), or ``None``.

    Args:
        body: The parsed JSON body.
        lookup: Tells what the emulator holds at an input image URL.

    Returns:
        A message naming the first problem found, or ``None`` when the body is acceptable.
    """
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if "model" not in body:
        return "model is required"
    spec = model_of(body)
    if spec is None:
        return f"model {body['model']!r} is not supported; use one of: {', '.join(_api.model_specs())}"
    callback = spec.callback_field
    if callback is not None and callback in body and not _is_http_url(body[callback]):
        return f"{callback} must be an http(s) URL"
    values = body.get("input")
    if "input" not in body and (spec.input_required or spec.required):
        return "input is required"
    if not isinstance(values, dict):
        return "input must be an object"
    for field in spec.fields:
        if field.name not in values:
            if field.required:
                return f"input.{field.name} is required"
            continue
        problem = _field_problem(field, values[field.name])
        if problem is not None:
            return problem
    image_field = spec.field(spec.image_field) if spec.image_field is not None else None
    if image_field is not None and isinstance(values.get(image_field.name), list):
        problem = _image_problem(image_field, values[image_field.name], lookup)
        if problem is not None:
            return problem
    rule = _PROSE_RULES.get(spec.model)
    problem = rule(values) if rule is not None else None
    # Last, the generated body class: whatever the catalog does not capture, the generated parser rejects.
    return problem or _api.create_body_problem(body)


def image_urls(body: Mapping[str, Any]) -> list[str]:
    """The input image URLs of an accepted body (none for a text-to-image model)."""
    spec = model_of(body)
    values = body.get("input")
    if spec is None or spec.image_field is None or not isinstance(values, dict):
        return []
    urls = values.get(spec.image_field)
    return [url for url in urls if isinstance(url, str)] if isinstance(urls, list) else []


def _option(spec: ModelSpec, values: Mapping[str, Any], name: str) -> str | None:
    # The body's value, else the document's default; None when the model has no such field.
    field = spec.field(name)
    if field is None:
        return None
    value = values.get(name, field.default if field.has_default else None)
    return value if isinstance(value, str) else None


def result_size(
    body: Mapping[str, Any], input_size: tuple[int, int] | None, max_side: int | None
) -> tuple[int, int]:
    """The (width, height) of an accepted body's result image.

    The model's ``aspect_ratio`` and ``resolution`` (the body's, else their documented defaults) go to
    ``size_for``; ``auto`` (or no ratio) takes the first input image's proportions (``input_size``) for a
    model that takes images and 1:1 for a text-to-image model; the long side is capped at ``max_side``.
    """
    spec = model_of(body)
    values = body.get("input")
    if spec is None or not isinstance(values, dict):
        return size_for(None, max_side=max_side)
    return size_for(
        _option(spec, values, "aspect_ratio"),
        _option(spec, values, "resolution"),
        input_size=input_size if spec.takes_images else None,
        max_side=max_side,
    )
