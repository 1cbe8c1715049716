"""Media files by their content: image, video and audio types from their magic bytes.

The images' own module (``_images``) knows JPEG, PNG and WebP and whether such a file is complete; this
one adds the video and audio containers kie.ai's market documents accept (their "Accepted types":
``video/mp4``, ``video/quicktime``, ``video/webm``, ``video/x-matroska``, ``video/avi``, ``audio/mpeg``,
``audio/wav``, ``audio/aac``, ``audio/mp4``, ``audio/ogg``) and FLAC, and the aliases the documents use
for one type (``audio/mp3`` is ``audio/mpeg``, ``image/jpg`` is ``image/jpeg``). Only the type is read
from a video or audio file, from its first bytes (``HEAD_BYTES``): no decoding, nothing imported.
"""

from __future__ import annotations

from ._images import sniff_image_type

__all__ = [
    "DEFAULT_TYPES",
    "HEAD_BYTES",
    "accepts",
    "canonical",
    "kind_of",
    "sniff_media_type",
    "suffix_for",
]

HEAD_BYTES = 64
"""Bytes of a file's start that ``sniff_media_type`` reads (a Matroska header names its doctype there)."""

# One name per type: the documents spell some types two ways.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/x-aac": "audio/aac",
    "audio/x-flac": "audio/flac",
    "video/x-msvideo": "video/avi",
    "video/mov": "video/quicktime",
    # WebM is a Matroska profile: a document accepting either takes both (the doctype is all that differs).
    "video/x-matroska": "video/webm",
}

_SUFFIXES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "video/avi": ".avi",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/aac": ".aac",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
}

DEFAULT_TYPES: dict[str, tuple[str, ...]] = {
    "image": ("image/jpeg", "image/png", "image/webp"),
    "video": ("video/mp4", "video/quicktime", "video/webm"),
    "audio": ("audio/mpeg", "audio/wav", "audio/aac", "audio/mp4", "audio/ogg", "audio/flac"),
}
"""What a media field whose document states no accepted types takes, per kind."""

# QuickTime files written without an ``ftyp`` box start with one of these atoms (Apple's QuickTime File
# Format, "Atoms"): ``moov``, ``mdat``, ``wide``, ``free``, ``skip``, ``pnot``.
_QT_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def canonical(mime: str) -> str:
    """The one name of ``mime`` (lower case, aliases resolved, parameters dropped)."""
    base = mime.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def accepts(allowed: tuple[str, ...], mime: str) -> bool:
    """Whether a file of type ``mime`` is one of ``allowed`` (aliases are the same type)."""
    return canonical(mime) in {canonical(a) for a in allowed}


def kind_of(mime: str) -> str:
    """``image``, ``video`` or ``audio``: the media kind of a type."""
    return mime.split("/", 1)[0]


def suffix_for(mime: str) -> str:
    """The file suffix of a type (``.mp4`` for ``video/mp4``); ``.bin`` for one not known here."""
    return _SUFFIXES.get(mime) or _SUFFIXES.get(canonical(mime), ".bin")


def _mpeg_audio(b1: int) -> str | None:
    # An MPEG audio frame header: 11 sync bits, then version (2 bits) and layer (2 bits). Layer 00 is
    # ADTS (AAC, ISO/IEC 13818-7); otherwise an MP3 frame, unless the version is the reserved 01.
    if b1 & 0xE0 != 0xE0:
        return None
    if b1 & 0x06 == 0:
        return "audio/aac" if b1 & 0xF0 == 0xF0 else None
    return None if b1 & 0x18 == 0x08 else "audio/mpeg"


def sniff_media_type(head: bytes) -> tuple[str, str] | None:
    """Return ``(mime type, suffix)`` of an image, video or audio file from its first bytes, else None.

    Args:
        head: the file's first bytes (``HEAD_BYTES`` are enough).
    """
    image = sniff_image_type(head)
    if image is not None:
        return image
    mime: str | None = None
    box = head[4:8]
    if box == b"ftyp":
        brand = head[8:12]
        mime = (
            "video/quicktime"
            if brand == b"qt  "
            else "audio/mp4"
            if brand[:3] in (b"M4A", b"M4B")
            else "video/mp4"
        )
    elif box in _QT_ATOMS:
        mime = "video/quicktime"
    elif head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska, or its WebM profile
        mime = "video/webm" if b"webm" in head[:HEAD_BYTES] else "video/x-matroska"
    elif head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        mime = "audio/wav"
    elif head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        mime = "video/avi"
    elif head[:3] == b"ID3":
        mime = "audio/mpeg"
    elif head[:4] == b"OggS":
        mime = "audio/ogg"
    elif head[:4] == b"fLaC":
        mime = "audio/flac"
    elif len(head) >= 2 and head[0] == 0xFF:
        mime = _mpeg_audio(head[1])
    return None if mime is None else (mime, _SUFFIXES[mime])
