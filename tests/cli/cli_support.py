"""Helpers shared by the CLI tests (imported by name, like tests/emulator's emulator_support)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

# Distinctive, so that "the key never appears in any output" is a meaningful assertion.
SECRET_KEY = "sk-test-Secret-9f3c2a7e1b"


@dataclass
class Result:
    """What one CLI run showed the user."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Run = Callable[..., Result]


def png_bytes(color: str = "red", size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def write_manifest(folder: Path, lines: list[Any], name: str = "jobs.jsonl") -> Path:
    """A manifest of ``lines`` (dicts are JSON-encoded, strings written as they are)."""
    path = folder / name
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path
