"""Batch manifests: JSONL, one task per line, every line validated before anything is spent.

A line looks like::

    {"id": "look-1", "images": ["person.jpg", "https://example.com/dress.png"], "prompt": "...",
     "aspect_ratio": "2:3", "quality": "high", "out": "results/"}

``images`` are paths relative to the manifest's folder, or http(s) URLs; ``id`` defaults to the line
number; ``out`` (relative to the manifest's folder, a folder or an image file name such as
``out/job-07.png``) defaults to the manifest's folder; ``model`` defaults
to ``gpt-image/1.5-image-to-image`` (a text-to-image model takes no ``images``). Every other key is an
option of the line's model, exactly those its document names (``kie_api.models_catalog``). The rules
are the library's own checks (``_inputs.check_task``), so a line accepts exactly what ``Client.edit`` /
``Client.generate`` accept.

A line may instead give the model's ``input`` object as ``run`` takes it, with the model's own field
names (``{"model": "...", "input": {"prompt": "...", "image_urls": ["a.png"]}, "out": "..."}``); its
image field's entries are then the ``images`` (paths relative to the manifest's folder), its prompt the
``prompt``, its other fields the options. (A model with media fields besides its image field, or without
a prompt, is refused on such a line for now: ``kie-gpt-image run`` takes it.)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _api, _inputs
from .._download import parse_destination
from .._errors import InvalidInputError

__all__ = ["FIELDS", "ManifestError", "ManifestItem", "load_manifest"]

FIELDS = ("id", "model", "images", "prompt", "out", "input")
"""The keys every manifest line may have; besides them, the options of the line's model (anything else
is reported: it is usually a typo)."""


@dataclass(frozen=True, slots=True)
class ManifestItem:
    """One validated manifest line."""

    line: int
    """1-based line number in the manifest."""
    id: str
    """The item's id (``id``, or the line number)."""
    images: tuple[str, ...]
    """Absolute local paths or http(s) URLs."""
    prompt: str
    model: str
    """The line's model (``model``, default ``gpt-image/1.5-image-to-image``)."""
    options: dict[str, Any]
    """The model's options, checked, with the defaults its document requires filled in."""
    out: Path
    """Where the results are saved: a folder, or a file name with an image suffix (several results:
    ``stem-1.png``, ...), as ``EditResult.save`` reads it."""

    @property
    def fingerprint(self) -> str:
        """A digest of what would be submitted: a journal entry for a changed line is not reused."""
        parts: list[Any] = [self.images, self.prompt]
        if self.model == _api.MODEL and set(self.options) == {"aspect_ratio", "quality"}:
            # The digest journals written before there were several models hold: they stay valid.
            parts += [self.options["aspect_ratio"], self.options["quality"]]
        else:
            parts += [self.model, sorted(self.options.items())]
        blob = json.dumps(parts, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ManifestError:
    """One problem with one line."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _check_texts(value: object, field: str) -> None:
    # JSON can spell a lone surrogate ("\ud800"); such text cannot be sent, journaled or printed as UTF-8.
    if isinstance(value, str):
        _inputs.check_text(field, value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _inputs.check_text(field, key)
            _check_texts(inner, key if field == "line" else f"{field}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check_texts(inner, f"{field}[{index}]")


def _item(number: int, raw: object, base: Path) -> ManifestItem:
    if not isinstance(raw, dict):
        raise InvalidInputError("line", "must be a JSON object")
    _check_texts(raw, "line")
    data: dict[str, Any] = raw
    model = data.get("model", _api.MODEL)
    spec = _inputs.check_model(model, "any")
    if "input" in data:
        data = _flattened(data, spec)
    options = {k: v for k, v in data.items() if k not in FIELDS}
    others = [f.name for f in _api.media_fields(spec) if f.name != spec.image_field and f.name in options]
    if others:  # the batch uploads and journals the image field's files only
        raise InvalidInputError(
            others[0],
            f"a batch line takes files in {spec.image_field or 'no field'} only for now: run this one "
            f"with: kie-gpt-image run {spec.model} ...",
        )
    unknown = sorted(set(options) - {f.name for f in spec.fields} - {"prompt", spec.image_field})
    if unknown:
        allowed = [*FIELDS, *(f.name for f in spec.fields if f.name not in ("prompt", spec.image_field))]
        raise InvalidInputError(unknown[0], f"unknown field (allowed for {spec.model}: {', '.join(allowed)})")
    item_id = data.get("id", number)
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or not str(item_id).strip():
        raise InvalidInputError("id", "must be a non-empty string or an integer")
    images = data.get("images", [] if not spec.takes_images else None)
    if images is None:
        raise InvalidInputError("images", "missing")
    if not isinstance(images, list) or not all(isinstance(entry, str) and entry for entry in images):
        raise InvalidInputError("images", "must be a list of paths or URLs (strings)")
    if "prompt" not in data:
        raise InvalidInputError("prompt", "missing")
    # Local entries are resolved against the manifest's folder, then the library checks them all
    # (count, readability, type by content, size, the prompt, every option), exactly as Client.edit would.
    resolved = [entry if _inputs.is_url_like(entry) else str((base / entry).resolve()) for entry in images]
    task = _inputs.check_task(spec.model, resolved, data["prompt"], options, "any")
    out = data.get("out")
    if out is not None and (not isinstance(out, str) or not out.strip()):
        raise InvalidInputError("out", "must be a folder or an image file name (string)")
    folder = base
    if out:
        # The library's one rule (``EditResult.save``, ``-o``): an image suffix names a file, which an
        # earlier run of this manifest may already have written (a re-run overwrites it).
        text = str(base / out) + ("/" if out.endswith(("/", "\\")) else "")
        folder = parse_destination(text, "out").path.resolve()
    prompt = str(task.input["prompt"])
    checked = {k: v for k, v in task.input.items() if k != "prompt"}
    return ManifestItem(number, str(item_id).strip(), tuple(resolved), prompt, spec.model, checked, folder)


def _flattened(data: dict[str, Any], spec: _api.ModelSpec) -> dict[str, Any]:
    """A line giving ``input`` (``run``'s form) as the flat line the batch runs: the image field's entries
    as ``images``, every other field as a key of its own."""
    given = data["input"]
    if not isinstance(given, dict):
        raise InvalidInputError("input", "must be a JSON object of the model's fields")
    clash = sorted((set(data) - {*FIELDS}) | (set(data) & {"images", "prompt"}))
    if clash:
        raise InvalidInputError(
            clash[0], 'give it inside "input" (a line with "input" holds every field there)'
        )
    flat = {k: v for k, v in data.items() if k != "input"}
    for name, value in given.items():
        if name == spec.image_field:
            flat["images"] = value if isinstance(value, list) else [value]
        else:
            flat[name] = value
    return flat


def load_manifest(path: Path) -> tuple[list[ManifestItem], list[ManifestError]]:
    """Parse and validate every line of ``path``; return the items and *all* the problems found.

    Blank lines are skipped. Raises ``InvalidInputError`` only when the file itself cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError("manifest", f"cannot read {str(path)!r}: {exc}") from None
    base = path.resolve().parent
    items: list[ManifestItem] = []
    errors: list[ManifestError] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            errors.append(ManifestError(number, f"not valid JSON ({exc})"))
            continue
        try:
            item = _item(number, raw, base)
        except InvalidInputError as exc:
            errors.append(ManifestError(number, str(exc)))
            continue
        if item.id in seen:
            errors.append(ManifestError(number, f"id {item.id!r} already used on line {seen[item.id]}"))
            continue
        seen[item.id] = number
        items.append(item)
    if not items and not errors:
        errors.append(ManifestError(0, "the manifest has no items"))
    return items, errors
