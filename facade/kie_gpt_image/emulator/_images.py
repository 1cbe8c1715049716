"""Result images: their sizes per model, and a real PNG composed from the task's input images with Pillow.

Pillow is an optional extra (``kie-gpt-image[emulator]``) and is imported only here, only when an image
is generated or measured. The output is deterministic: the same inputs, prompt and size give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["DEFAULT_MAX_IMAGE_SIDE", "EmulatorDependencyError", "compose_result", "image_size", "size_for"]

# Pixel sizes, which no model document states (they give only the enum values, which the emulator reads
# from the generated catalog). Everything else about a model's sizes follows from these two tables:
#
# - gpt-image/1.5 (https://docs.kie.ai/market/gpt-image/1-5-image-to-image and .../1-5-text-to-image)
#   renders the OpenAI gpt-image family's sizes (reference §1).
_FIXED_SIZES: dict[str, tuple[int, int]] = {"1:1": (1024, 1024), "3:2": (1536, 1024), "2:3": (1024, 1536)}
# - gpt-image-2 (https://docs.kie.ai/market/gpt/gpt-image-2-image-to-image and .../gpt-image-2-text-to-image)
#   takes ``resolution`` 1K/2K/4K: the long side of the image, its proportions those of ``aspect_ratio``.
_RESOLUTION_LONG_SIDES: dict[str, int] = {"1K": 1024, "2K": 2048, "4K": 4096}
# Any other ratio ("5:4", or "auto" resolved to an input image's proportions) without a resolution: the
# ratio's proportions with this long side (gpt-image-2's 1K, the gpt-image family's short side).
_DEFAULT_LONG_SIDE = 1024

DEFAULT_MAX_IMAGE_SIDE = 1536
"""The emulator's default cap on a result's long side: larger sizes (2K, 4K) are scaled down to it, their
proportions kept, so results stay cheap to render; gpt-image/1.5's sizes fit under it unchanged."""


class EmulatorDependencyError(RuntimeError):
    """The emulator needs an optional dependency that is not installed."""


def _proportions(ratio: str | None) -> tuple[float, float] | None:
    """``(w, h)`` of a ``"w:h"`` ratio, or ``None`` for ``auto``, an absent ratio or anything unparsable."""
    try:
        width, height = (float(part) for part in (ratio or "").split(":"))
    except ValueError:
        return None
    if not (math.isfinite(width) and math.isfinite(height)) or width <= 0 or height <= 0:
        return None
    return width, height


def _long_side(resolution: str) -> int:
    # A resolution this table lacks but spelt the same way ("8K") still reads as N x 1024.
    if resolution in _RESOLUTION_LONG_SIDES:
        return _RESOLUTION_LONG_SIDES[resolution]
    digits = resolution.upper().removesuffix("K")
    return int(digits) * 1024 if digits.isdigit() and 0 < int(digits) <= 16 else _DEFAULT_LONG_SIDE


def size_for(
    aspect_ratio: str | None,
    resolution: str | None = None,
    *,
    input_size: tuple[int, int] | None = None,
    max_side: int | None = None,
) -> tuple[int, int]:
    """The (width, height) of a result.

    Args:
        aspect_ratio: ``"w:h"``; ``"auto"`` or ``None`` takes the proportions of ``input_size`` (the first
            input image), else 1:1; anything unparsable is 1:1.
        resolution: gpt-image-2's ``1K``/``2K``/``4K`` (the long side: 1024/2048/4096), or ``None`` for a
            model without one: gpt-image/1.5's sizes for its ratios, a long side of 1024 for any other.
        input_size: The (width, height) of the first input image, if the emulator holds it.
        max_side: Scale the result down (proportions kept) so its long side is at most this many pixels.

    Returns:
        The size in pixels, each side at least 1.
    """
    proportions = _proportions(aspect_ratio)
    if proportions is None and aspect_ratio not in (None, "auto"):
        proportions = (1.0, 1.0)
    if proportions is None and input_size is not None and min(input_size) > 0:
        proportions = (float(input_size[0]), float(input_size[1]))
    width, height = proportions or (1.0, 1.0)
    if resolution is None and aspect_ratio in _FIXED_SIZES:
        width, height = (float(side) for side in _FIXED_SIZES[aspect_ratio])
    else:
        long_side = _long_side(resolution) if resolution is not None else _DEFAULT_LONG_SIDE
        width, height = width * long_side / max(width, height), height * long_side / max(width, height)
    # One rounding, after any scaling down, so the proportions stay as close as whole pixels allow.
    scale = min(1.0, max_side / max(width, height)) if max_side is not None else 1.0
    return max(1, round(width * scale)), max(1, round(height * scale))


def image_size(content: bytes) -> tuple[int, int] | None:
    """The (width, height) of an image the emulator holds, or ``None`` if Pillow cannot read it."""
    _require_pillow()
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as opened:
            return opened.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


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


def compose_result(inputs: Sequence[tuple[str, bytes | None]], prompt: str, size: tuple[int, int]) -> bytes:
    """Compose ``inputs`` ((url, bytes or ``None`` for a foreign URL) pairs) into a tinted PNG of ``size``.

    Inputs are laid out on a grid, each fitted into its cell; the prompt's hash picks the background and
    tint; without inputs (a text-to-image model) the canvas is the tint alone. Raises
    ``EmulatorDependencyError`` if Pillow is missing.
    """
    _require_pillow()
    from PIL import Image, ImageOps, UnidentifiedImageError

    tint = _tint(prompt)
    canvas = Image.new("RGB", size, tint)
    count = len(inputs)
    if count:
        columns = math.ceil(math.sqrt(count))
        rows = math.ceil(count / columns)
        cell = (max(1, size[0] // columns), max(1, size[1] // rows))
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
