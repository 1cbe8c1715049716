"""Image files by their content: the type from the magic bytes, and whether the file is complete.

No decoding and no Pillow: the completeness checks walk the container structure only, reading a few
bytes per chunk or segment and seeking over the rest, so a 10 MB input costs little before it is sent
(``scripts/bench_inputs.py`` measures it). What counts as complete, per format:

- **PNG**: the chunks are walked from the signature (each chunk header says how long it is) until the
  ``IEND`` chunk, which must be whole. Bytes after ``IEND`` are tolerated, as decoders ignore them.
  CRCs are not verified (that would read every byte).
- **JPEG**: the marker segments are walked (by their length fields, so an EXIF thumbnail's own end
  marker is skipped) up to the first start-of-scan; from there the data is scanned for the end-of-image
  marker ``FFD9``, which cannot occur inside entropy-coded data (``FF`` is stuffed as ``FF00`` there,
  ITU-T T.81 §B.1.1.5). Bytes after the end marker are tolerated: phones append trailers and whole
  videos ("motion photos") after a complete JPEG.
- **WebP**: the RIFF header's length field plus 8 must equal the number of bytes given, exactly
  (RFC 9649 §2.5): fewer is a truncated file, more is something other than one WebP image.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

__all__ = ["SIGNATURES", "incomplete_reason", "sniff_image_type"]

ReadAt = Callable[[int, int], bytes]
"""``read_at(offset, count)``: up to ``count`` bytes of the image from ``offset`` (fewer at its end)."""

SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", ".png"),
    (b"WEBP", 8, "image/webp", ".webp"),
)
"""``(magic, offset, mime type, extension)``; magic bytes, not file names, decide the type (a WebP file
is ``RIFF....WEBP``)."""

_SCAN_CHUNK = 1 << 20


def sniff_image_type(head: bytes) -> tuple[str, str] | None:
    """Return ``(mime type, extension)`` for a JPEG/PNG/WebP header, else ``None``.

    Args:
        head: the first bytes of the file (16 are enough).
    """
    for magic, offset, mime, ext in SIGNATURES:
        if head[offset : offset + len(magic)] == magic and (mime != "image/webp" or head[:4] == b"RIFF"):
            return mime, ext
    return None


def incomplete_reason(mime: str, read_at: ReadAt, size: int) -> str | None:
    """Why an image of type ``mime`` and ``size`` bytes is truncated or damaged, or ``None`` if complete.

    Args:
        mime: the sniffed type (``image/png``, ``image/jpeg`` or ``image/webp``).
        read_at: reads the image's bytes at an offset (see ``ReadAt``).
        size: the number of bytes the image has.

    Returns:
        A short reason for the user (``None`` when the structure is complete, or for other types).
    """
    check = _CHECKS.get(mime)
    return None if check is None else check(read_at, size)


def _png(read_at: ReadAt, size: int) -> str | None:
    position = 8  # after the signature
    while True:
        header = read_at(position, 8)
        if len(header) < 8:
            return f"truncated PNG: it ends at byte {size} before its IEND chunk"
        length, kind = struct.unpack(">I4s", header)
        if length > 0x7FFFFFFF:  # PNG spec §5.3: a chunk length is at most 2**31 - 1
            return f"damaged PNG: impossible chunk length at byte {position}"
        end = position + 12 + length  # length, type, data, CRC
        if end > size:
            name = kind.decode("latin-1")
            return f"truncated PNG: its {name!r} chunk at byte {position} needs {end} bytes, it has {size}"
        if kind == b"IEND":
            return None
        position = end


# Markers without a length field: TEM and RSTn (ITU-T T.81 Table B.1).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _jpeg(read_at: ReadAt, size: int) -> str | None:
    position = 2  # after SOI
    while True:
        header = read_at(position, 4)
        if len(header) < 2:
            return f"truncated JPEG: it ends at byte {size} before its image data"
        if header[0] != 0xFF:
            return f"damaged JPEG: no marker at byte {position}"
        marker = header[1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == 0xD9:
            return None
        if marker in _STANDALONE:
            position += 2
            continue
        if len(header) < 4:
            return f"truncated JPEG: it ends at byte {size} inside a marker segment"
        end = position + 2 + int.from_bytes(header[2:4], "big")
        if end > size:
            return f"truncated JPEG: the segment at byte {position} needs {end} bytes, it has {size}"
        if marker == 0xDA:  # start of scan: entropy-coded data follows, up to EOI
            return None if _find_eoi(read_at, end, size) else "truncated JPEG: no end-of-image marker (FFD9)"
        position = end


def _find_eoi(read_at: ReadAt, start: int, size: int) -> bool:
    previous = b""
    position = start
    while position < size:
        chunk = read_at(position, _SCAN_CHUNK)
        if not chunk:
            return False
        if b"\xff\xd9" in previous + chunk[:1] or b"\xff\xd9" in chunk:
            return True
        previous = chunk[-1:]
        position += len(chunk)
    return False


def _webp(read_at: ReadAt, size: int) -> str | None:
    declared = int.from_bytes(read_at(4, 4), "little") + 8
    if declared > size:
        return f"truncated WebP: its RIFF header says {declared} bytes, it has {size}"
    if declared < size:
        return f"damaged WebP: {size - declared} bytes follow the end of its RIFF data ({declared} bytes)"
    return None


_CHECKS: dict[str, Callable[[ReadAt, int], str | None]] = {
    "image/png": _png,
    "image/jpeg": _jpeg,
    "image/webp": _webp,
}
