"""Batch manifests: JSONL, one edit per line, every line validated before anything is spent.

A line looks like::

    {"id": "look-1", "images": ["person.jpg", "https://example.com/dress.png"], "prompt": "...",
     "aspect_ratio": "2:3", "quality": "high", "out": "results/"}

``images`` are paths relative to the manifest's folder, or http(s) URLs; ``id`` defaults to the line
number; ``out`` (relative to the manifest's folder) defaults to the manifest's folder. The rules for
images, prompt, aspect ratio and quality are the library's own checks (``_inputs``), so the manifest
accepts exactly what ``Client.edit`` accepts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _inputs
from .._errors import InvalidInputError

__all__ = ["FIELDS", "ManifestError", "ManifestItem", "load_manifest"]

FIELDS = ("id", "images", "prompt", "aspect_ratio", "quality", "out")
"""The keys a manifest line may have; anything else is reported (it is usually a typo)."""


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
    aspect_ratio: str
    quality: str
    out: Path
    """Folder the results are saved to."""

    @property
    def fingerprint(self) -> str:
        """A digest of what would be submitted: a journal entry for a changed line is not reused."""
        blob = json.dumps([self.images, self.prompt, self.aspect_ratio, self.quality], ensure_ascii=False)
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
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInputError(unknown[0], f"unknown field (allowed: {', '.join(FIELDS)})")
    item_id = data.get("id", number)
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or not str(item_id).strip():
        raise InvalidInputError("id", "must be a non-empty string or an integer")
    if "images" not in data:
        raise InvalidInputError("images", "missing")
    images = data["images"]
    if not isinstance(images, list) or not all(isinstance(entry, str) and entry for entry in images):
        raise InvalidInputError("images", "must be a list of paths or URLs (strings)")
    if "prompt" not in data:
        raise InvalidInputError("prompt", "missing")
    # Local entries are resolved against the manifest's folder, then the library checks them all
    # (count, readability, type by content, size), exactly as Client.edit would.
    resolved = [entry if _inputs.is_url_like(entry) else str((base / entry).resolve()) for entry in images]
    _inputs.check_images(resolved)
    prompt = _inputs.check_prompt(data["prompt"])
    ratio = _inputs.check_aspect_ratio(data.get("aspect_ratio"))
    quality = _inputs.check_quality(data.get("quality"))
    out = data.get("out")
    if out is not None and (not isinstance(out, str) or not out.strip()):
        raise InvalidInputError("out", "must be a folder path (string)")
    folder = (base / out).resolve() if out else base
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError("out", f"{str(folder)!r} exists and is not a folder")
    return ManifestItem(number, str(item_id).strip(), tuple(resolved), prompt, ratio, quality, folder)


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
