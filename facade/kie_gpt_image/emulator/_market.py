"""Every market model of the generated catalog: createTask validation, media inputs and result sizes.

The emulator serves whichever models ``scripts/regenerate`` wrote into the generated catalog (read through
``_api.model_specs``, the one adapter): a kie.ai document dropped into ``openapi/`` and regenerated is
served with no edit here. Each ``input`` field is checked against what its document states (required,
type, enum, item count and type, lengths, bounds, URL format), nested objects and arrays item by item
against the field's schema, the URLs of every media field (image, video or audio, one string or an
array) against the files the emulator holds, and the body must then parse with the model's generated
body class. What no
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
from ._media import same_media_type

if TYPE_CHECKING:
    from .._api import FieldSpec, ModelSpec

__all__ = ["InputFile", "create_problem", "media_urls", "model_of", "result_size"]


@dataclass(frozen=True, slots=True)
class InputFile:
    """What the emulator knows about one input media URL."""

    hosted: bool
    """Whether the URL points at the emulator's own file host (anything else is drawn as a placeholder,
    never fetched: the emulator makes no network requests)."""
    mime_type: str | None = None
    """The type of the file it holds there; ``None`` when it holds no such file."""
    size: int = 0
    """The file's size in bytes (0 when unknown: a result image not rendered yet)."""


FileLookup = Callable[[str], InputFile]
"""Tells what the emulator holds at an input media URL."""

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


def _schema_problem(schema: Mapping[str, Any], value: object, where: str) -> str | None:
    """Why ``value`` breaks the JSON ``schema`` (type, enum, lengths, bounds, items, required properties),
    checked item by item so the message names the nested path (``input.multi_prompt[0].prompt``)."""
    if value is None and schema.get("nullable"):
        return None
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(alternatives, list) and alternatives:
        problems = [_schema_problem(alternative, value, where) for alternative in alternatives]
        return None if None in problems else problems[0]
    json_type = schema.get("type")
    types = json_type if isinstance(json_type, list) else [json_type] if isinstance(json_type, str) else []
    if types and not any(_type_ok(value, kind) for kind in types):
        return f"{where} must be {' or '.join(_ARTICLES.get(kind, 'a ' + kind) for kind in types)}"
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"{where} must be one of {', '.join(map(str, enum))} (got {value!r})"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{where} must have at least {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{where} accepts at most {schema['maxLength']} characters"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where} must be at least {schema['minimum']:g}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where} must be at most {schema['maximum']:g}"
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return f"{where} needs at least {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{where} accepts at most {schema['maxItems']} items"
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                problem = _schema_problem(items, item, f"{where}[{index}]")
                if problem is not None:
                    return problem
    elif isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                return f"{where}.{name} is required"
        for name, child in (schema.get("properties") or {}).items():
            if name in value and isinstance(child, dict):
                problem = _schema_problem(child, value[name], f"{where}.{name}")
                if problem is not None:
                    return problem
    return None


def _urls_of(value: object) -> list[object]:
    # A media field takes one URL string or an array of them.
    return list(value) if isinstance(value, list) else [value]


def _media_problem(field: FieldSpec, value: object, lookup: FileLookup) -> str | None:
    """Why one of a media field's URLs is unusable: not an http(s) URL, a file the emulator should hold
    but does not, or one of a type or size the field refuses (its "Accepted types" and "Max size", else
    any file of its media kind)."""
    many = isinstance(value, list)
    for index, url in enumerate(_urls_of(value)):
        where = f"input.{field.name}[{index}]" if many else f"input.{field.name}"
        if not _is_http_url(url):
            return f"{where} must be an http(s) URL"
        assert isinstance(url, str)  # noqa: S101 - _is_http_url holds only for strings
        found = lookup(url)
        if not found.hosted:
            continue  # a foreign URL: never fetched (see InputFile.hosted)
        if found.mime_type is None:
            return f"{where}: no file at {url}"
        if field.mime_types:
            if not any(same_media_type(found.mime_type, accepted) for accepted in field.mime_types):
                return f"{where} is {found.mime_type}; accepted: {', '.join(field.mime_types)}"
        elif not found.mime_type.startswith(f"{field.media}/"):
            return f"{where} is {found.mime_type}; a {field.media} file is expected"
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
        value = values[field.name]
        problem = _field_problem(field, value) or _schema_problem(field.schema, value, f"input.{field.name}")
        if problem is not None:
            return problem
    for field in spec.media_fields:
        if field.name in values:
            problem = _media_problem(field, values[field.name], lookup)
            if problem is not None:
                return problem
    rule = _PROSE_RULES.get(spec.model)
    problem = rule(values) if rule is not None else None
    # Last, the generated body class: whatever the catalog does not capture, the generated parser rejects.
    return problem or _api.create_body_problem(body)


def media_urls(body: Mapping[str, Any], kind: str = "image") -> list[str]:
    """The input URLs of an accepted body's media fields of ``kind`` (``image``, ``video``, ``audio``), in
    field order (none for a model without such fields)."""
    spec = model_of(body)
    values = body.get("input")
    if spec is None or not isinstance(values, dict):
        return []
    return [
        url
        for field in spec.media_fields
        if field.media == kind and field.name in values
        for url in _urls_of(values[field.name])
        if isinstance(url, str)
    ]


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
