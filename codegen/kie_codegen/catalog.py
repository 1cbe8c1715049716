"""The model catalog: per market model, its fields as its document states them, which of them take
media by URL, and what a successful task yields (deduced from the document, never from a table of
models). ``emit`` writes it out as ``kie_api/models_catalog.py``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from .documents import model_id
from .errors import RegenerateError
from .merge import market_operations
from .naming import module_of, pascal
from .pointers import resolved
from .settings import DOCUMENT_KEY, JSON, PACKAGE

__all__ = ["Entry", "Field", "MediaKind", "OutputKind", "model_catalog"]

MediaKind = Literal["image", "video", "audio"]
OutputKind = Literal["image", "video", "audio", "data"]


class Field(TypedDict):
    """One ``input`` field; the keys (in this order) are ``FieldSpec``'s in ``models_catalog``."""

    name: str
    type: str
    required: bool
    has_default: bool
    default: Any
    enum: tuple[Any, ...] | None
    items_type: str | None
    items_format: str | None
    format: str | None
    min_items: int | None
    max_items: int | None
    min_length: int | None
    max_length: int | None
    minimum: float | None
    maximum: float | None
    max_file_bytes: int | None
    mime_types: tuple[str, ...] | None
    description: str
    media: MediaKind | None
    schema: Any


class Entry(TypedDict):
    """One market model: its ``ModelSpec`` in ``models_catalog`` (plus ``type_stem``, the prefix of
    its ``TypedDict`` names)."""

    model: str
    operation_id: str
    method: str
    path: str
    endpoint_module: str | None
    body_class: str | None
    input_class: str | None
    type_stem: str
    input_required: bool
    callback_field: str | None
    image_field: str | None
    fields: list[Field]
    output: OutputKind
    document: str | None
    prompt_field: str | None


def _limits_in(description: str) -> tuple[int | None, tuple[str, ...] | None]:
    """The max file size (bytes) and accepted MIME types an image field states only in its prose
    ("Accepted types: image/jpeg, ...; Max size: 10.0MB", the seed's ``input_urls``); None when absent.
    "MB" is read as 10^6 bytes: the stricter reading, so a file we accept is never refused by kie.ai."""
    size = re.search(r"Max size:\s*([0-9.]+)\s*MB", description)
    types = re.search(r"Accepted types:\s*([a-z0-9/+.,\s-]+?)\s*[;)]", description)
    max_bytes = int(float(size.group(1)) * 1_000_000) if size else None
    mime = tuple(t.strip() for t in types.group(1).split(",") if t.strip()) if types else None
    return max_bytes, mime


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a ``oneOf``/``anyOf`` schema (``string`` or ``array`` of strings, as some
    pages write an input), else the schema itself."""
    for key in ("oneOf", "anyOf"):
        if isinstance(schema.get(key), list):
            return [v for v in schema[key] if isinstance(v, dict) and v.get("type") != "null"] or [schema]
    return [schema]


def _field(name: str, schema: dict[str, Any], required: bool) -> Field:
    variants = _variants(schema)
    # A one-or-many field (oneOf string / array) is filed as the array: a list is always accepted.
    main = next((v for v in variants if v.get("type") == "array"), variants[0])
    items = main.get("items") if isinstance(main.get("items"), dict) else {}
    description = str(schema.get("description", "") or main.get("description", ""))
    max_bytes, mime = _limits_in(description)
    field: Field = {
        "name": name,
        "type": str(main.get("type", "string")),
        "required": required,
        "has_default": "default" in schema,
        "default": schema.get("default"),
        "enum": tuple(schema["enum"]) if isinstance(schema.get("enum"), list) else None,
        "items_type": items.get("type") if items else None,
        "items_format": items.get("format") if items else None,
        "format": main.get("format"),
        "min_items": main.get("minItems"),
        "max_items": main.get("maxItems"),
        "min_length": main.get("minLength"),
        "max_length": main.get("maxLength"),
        "minimum": main.get("minimum"),
        "maximum": main.get("maximum"),
        "max_file_bytes": max_bytes,
        "mime_types": mime,
        "description": description.strip(),
        "media": None,
        "schema": None,
    }
    field["media"] = _media_kind(name, field, description)
    field["schema"] = _bare_schema(schema)
    return field


# Name parts that say which kind of file a URL field takes (`first_frame_url`, `first_clip_url`,
# `driving_audio_url`, recraft's `image`); checked after the description's accepted types.
_KIND_WORDS: dict[MediaKind, tuple[str, ...]] = {
    "image": ("image", "images", "frame", "photo", "picture", "img"),
    "video": ("video", "videos", "clip", "movie"),
    "audio": ("audio", "audios", "sound", "voice", "speech", "music"),
}
# A string field takes a file by URL when its format is `uri` or its name says so (`*_url(s)`,
# `image_input`, `*_file_url`, or a bare kind word such as recraft's `image`).
_URL_NAME = re.compile(r"(^|_)(urls?|input|inputs|file)$|^(image|video|audio)s?$")


def _media_kind(name: str, field: Field, description: str) -> MediaKind | None:
    """The kind of file (image, video, audio) a field takes by URL, or None.

    Read from the document, never from a table of models: the field must be a string (or an array of
    strings) without an enum that is a URL by its format or name; its kind comes from the MIME types its
    description accepts, else from its name, else from its description's words (e.g. kling's
    `input_urls`: "image URLs")."""
    string = field["type"] == "string" or (
        field["type"] == "array" and field["items_type"] in ("string", None)
    )
    uri = field["format"] == "uri" or field["items_format"] == "uri"
    if not string or field["enum"] or not (uri or _URL_NAME.search(name)):
        return None
    accepted = {t.split("/")[0] for t in re.findall(r"\b(image|video|audio)/[a-z0-9.+-]+", description)}
    if len(accepted) == 1:
        return cast(MediaKind, accepted.pop())
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    for kind, names in _KIND_WORDS.items():
        if words & set(names):
            return kind
    text = description.lower()
    found = [(text.find(w), kind) for kind, names in _KIND_WORDS.items() for w in names if w in text]
    return min(found)[1] if found else None


def _bare_schema(schema: Any) -> Any:
    """A field's schema for checking values: without prose, examples and kie.ai's ``x-`` extensions."""
    if isinstance(schema, dict):
        return {
            k: _bare_schema(v)
            for k, v in schema.items()
            if k not in ("description", "example", "examples", "title") and not k.startswith("x-")
        }
    if isinstance(schema, list):
        return [_bare_schema(v) for v in schema]
    return schema


_SUFFIX_KINDS: dict[MediaKind, tuple[str, ...]] = {
    "image": ("png", "jpg", "jpeg", "webp", "gif"),
    "video": ("mp4", "mov", "webm"),
    "audio": ("mp3", "wav", "ogg", "m4a", "flac"),
}


_RESULT_PHRASE = re.compile(
    r"\b(?:generated?|generating|output|resulting|result|final)\s+(?:the\s+|an?\s+)?"
    r"(video|image|audio|speech|picture)s?\b"
    r"|\b(video|image|audio|speech)s?\s+generation\b",
    re.I,
)
_KIND_OF_WORD: dict[str, OutputKind] = {
    "speech": "audio",
    "dialogue": "audio",
    "picture": "image",
    "text": "data",
}


def _output_kind(op: dict[str, Any], input_schema: dict[str, Any], fields: list[Field]) -> OutputKind:
    """What a successful task yields, from its document (a general rule, no table of models).

    1. a ``resultJson`` example in the page's prose: without ``resultUrls`` it is data (sora-2-characters'
       ``{"character_id": ...}``), with them the kind of their file suffixes;
    2. the model id or the page's summary naming a target: ``...-to-video``, ``-to-speech``, ``-to-text``
       (text is data: a transcript is not a file);
    3. the page's phrases about its result ("generated video", "used to generate the video", "video
       generation") in its summary,
       description and the descriptions of its non-boolean fields (a boolean such as ``generate_audio``
       toggles a track of a video, it is not the result); video wins over the others, since a video
       carries images and sound;
    4. a media word in the model id or summary (video, then audio, then image);
    5. the richest kind among the model's media inputs (a watermark remover returns what it takes),
       else image.
    """
    text = f"{model_id(op) or ''} {op.get('summary', '')}".lower()
    prose = str(op.get("description", ""))
    example = re.search(r"resultJson.{0,80}?```\w*\s*(\{.*?\})\s*```", prose, re.S)
    if example:
        try:
            value = json.loads(example.group(1))
        except ValueError:
            value = None
        if isinstance(value, dict) and "resultUrls" not in value:
            return "data"
        urls = value.get("resultUrls") if isinstance(value, dict) else None
        for kind, suffixes in _SUFFIX_KINDS.items():
            if isinstance(urls, list) and any(str(u).lower().rsplit(".", 1)[-1] in suffixes for u in urls):
                return kind
    target = re.search(r"to[- ](image|video|audio|speech|text|dialogue)\b", text)
    if target:
        return _KIND_OF_WORD.get(target.group(1), cast(OutputKind, target.group(1)))
    described = [str(op.get("summary", "")), prose] + [
        str(schema.get("description", ""))
        for schema in input_schema.get("properties", {}).values()
        if isinstance(schema, dict) and schema.get("type") != "boolean"
    ]
    counts: dict[OutputKind, int] = {}
    for first, second in _RESULT_PHRASE.findall("\n".join(described)):
        word = (first or second).lower()
        found = _KIND_OF_WORD.get(word, cast(OutputKind, word))
        counts[found] = counts.get(found, 0) + 1
    if counts:
        return "video" if "video" in counts else max(sorted(counts), key=lambda k: counts[k])
    words = set(re.split(r"[^a-z0-9]+", text))
    order: tuple[MediaKind, ...] = ("video", "audio", "image")
    for media in order:
        if words & set(_KIND_WORDS[media]) - {"frame", "clip"}:
            return media
    kinds = {f["media"] for f in fields if f["media"]}
    return next((media for media in order if media in kinds), "image")


def _generated_names(package_dir: Path, op_id: str) -> tuple[str, str, str | None]:
    """(endpoint module, body class, input class) the generator wrote for one operation."""
    module = module_of(op_id)
    endpoint = package_dir / "api" / "default" / f"{module}.py"
    if not endpoint.exists():
        raise RegenerateError(f"{op_id}: the generator wrote no {endpoint.name}")
    match = re.search(r"\bbody: (\w+)", endpoint.read_text(encoding="utf-8"))
    if not match:
        raise RegenerateError(f"{op_id}: {endpoint.name} takes no JSON body")
    body = match.group(1)
    body_file = _model_file(package_dir, body)
    found = re.search(r"^    input_: (\w+)", body_file.read_text(encoding="utf-8"), re.M)
    input_class = None
    if found:
        input_class = f"{PACKAGE}.models.{_model_file(package_dir, found.group(1)).stem}:{found.group(1)}"
    return f"{PACKAGE}.api.default.{module}", f"{PACKAGE}.models.{body_file.stem}:{body}", input_class


def _model_file(package_dir: Path, name: str) -> Path:
    for path in sorted((package_dir / "models").glob("*.py")):
        if f"class {name}:" in path.read_text(encoding="utf-8"):
            return path
    raise RegenerateError(f"no generated model file defines {name}")


def model_catalog(merged: dict[str, Any], package_dir: Path | None = None) -> list[Entry]:
    """One entry per market model operation of ``merged``: model id, operation, generated names, fields.

    The image field is the ``input`` array whose items are URIs (``input_urls`` in every document so far;
    the name is read, not assumed). Without ``package_dir`` the generated names are left out.
    """
    entries: list[Entry] = []
    for path, method, op in market_operations(merged):
        body = resolved(merged, op["requestBody"]["content"][JSON]["schema"])
        input_schema = body.get("properties", {}).get("input", {})
        required = set(input_schema.get("required", []))
        fields = [
            _field(name, schema, name in required)
            for name, schema in input_schema.get("properties", {}).items()
            if isinstance(schema, dict)
        ]
        # The field ``edit`` sends its images in: the first array of image URLs (``input_urls`` in
        # the GPT Image documents; the name is read, not assumed).
        image = next((f["name"] for f in fields if f["type"] == "array" and f["media"] == "image"), None)
        names: tuple[str | None, str | None, str | None] = (
            _generated_names(package_dir, op["operationId"]) if package_dir else (None, None, None)
        )
        model = model_id(op)
        if model is None:  # merge() gives a virtual path to model operations only
            raise RegenerateError(f"{op['operationId']}: a market operation without a model id")
        entries.append(
            {
                "model": model,
                "operation_id": op["operationId"],
                "method": method.upper(),
                "path": path,
                "endpoint_module": names[0],
                "body_class": names[1],
                "input_class": names[2],
                "type_stem": pascal(op["operationId"]),
                "input_required": "input" in body.get("required", []),
                "callback_field": "callBackUrl" if "callBackUrl" in body.get("properties", {}) else None,
                "image_field": image,
                "fields": fields,
                "output": _output_kind(op, input_schema, fields),
                "document": op.get(DOCUMENT_KEY),
                "prompt_field": "prompt" if any(f["name"] == "prompt" for f in fields) else None,
            }
        )
    return entries
