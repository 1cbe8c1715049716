"""Result images: a real PNG composed from the task's input images with Pillow.

Pillow is an optional extra (``kie-gpt-image[emulator]``) and is imported only here, only when an image
is generated. The output is deterministic: the same inputs, prompt and aspect ratio give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["EmulatorDependencyError", "compose_result", "size_for"]

# The output sizes of the OpenAI gpt-image family (reference §1): 1024 on the short side, 1536 on the
# long side, 1024x1024 when square.
_SHORT, _LONG = 1024, 1536


class EmulatorDependencyError(RuntimeError):
    """The emulator needs an optional dependency that is not installed."""


def size_for(aspect_ratio: str) -> tuple[int, int]:
    """The (width, height) of a result for ``aspect_ratio`` (``"w:h"``); anything unparsable is square."""
    try:
        width, height = (float(part) for part in aspect_ratio.split(":"))
    except ValueError:
        return _SHORT, _SHORT
    if not (math.isfinite(width) and math.isfinite(height)) or width <= 0 or height <= 0 or width == height:
        return _SHORT, _SHORT
    return (_LONG, _SHORT) if width > height else (_SHORT, _LONG)


def _require_pillow() -> None:
    try:
        import PIL  # noqa: F401
    except ImportError as exc:
        raise EmulatorDependencyError(
            "the kie-gpt-image emulator needs Pillow to generate result images: "
            "pip install 'kie-gpt-image[emulator]'"
        ) from exc


def _tint(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    # Keep the tint away from black so tiles stay visible under it.
    return (64 + digest[0] % 192, 64 + digest[1] % 192, 64 + digest[2] % 192)


def _placeholder(size: tuple[int, int], seed: str) -> Image.Image:
    """A grey tile with a cross: an input the emulator does not host (it never fetches foreign URLs)."""
    from PIL import Image, ImageDraw

    shade = 96 + hashlib.sha256(seed.encode("utf-8")).digest()[0] % 64
    tile = Image.new("RGB", size, (shade, shade, shade))
    draw = ImageDraw.Draw(tile)
    width, height = size
    draw.line([(0, 0), (width - 1, height - 1)], fill=(230, 230, 230), width=6)
    draw.line([(0, height - 1), (width - 1, 0)], fill=(230, 230, 230), width=6)
    draw.rectangle([(0, 0), (width - 1, height - 1)], outline=(230, 230, 230), width=6)
    return tile


def compose_result(inputs: Sequence[tuple[str, bytes | None]], prompt: str, aspect_ratio: str) -> bytes:
    """Compose ``inputs`` ((url, bytes or ``None`` for a foreign URL) pairs) into a tinted PNG.

    The canvas has the size ``aspect_ratio`` implies; inputs are laid out on a grid, each fitted into its
    cell; the prompt's hash picks the background and tint. Raises ``EmulatorDependencyError`` if Pillow
    is missing.
    """
    _require_pillow()
    from PIL import Image, ImageOps, UnidentifiedImageError

    size = size_for(aspect_ratio)
    tint = _tint(prompt)
    canvas = Image.new("RGB", size, tint)
    count = len(inputs)
    if count:
        columns = math.ceil(math.sqrt(count))
        rows = math.ceil(count / columns)
        cell = (size[0] // columns, size[1] // rows)
        for index, (url, content) in enumerate(inputs):
            tile: Image.Image | None = None
            if content is not None:
                try:
                    with Image.open(io.BytesIO(content)) as opened:
                        tile = ImageOps.fit(opened.convert("RGB"), cell)
                except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
                    tile = None
            if tile is None:
                tile = _placeholder(cell, url)
            canvas.paste(tile, ((index % columns) * cell[0], (index // columns) * cell[1]))
    # A translucent wash of the tint marks the image as "edited" by this prompt.
    canvas = Image.blend(canvas, Image.new("RGB", size, tint), 0.25)
    out = io.BytesIO()
    # compress_level=1: results are regenerated on demand; speed matters more than size here.
    canvas.save(out, format="PNG", compress_level=1)
    return out.getvalue()
