"""Small valid video and audio files, made with the standard library alone, and the types of uploads.

A video result is an MP4 (ISO BMFF, ``ftyp``/``moov``/``mdat``) holding a few H.264 frames coded as
I_PCM macroblocks: raw samples need no transform, entropy coder or encoder library, yet any H.264
decoder (browsers, ffmpeg, players) plays them (ITU-T H.264 §7.3.5, ``mb_type`` I_PCM; ISO/IEC 14496-15
for the ``avcC`` box). An audio result is a short 16-bit PCM WAV tone (``wave``). Both are deterministic:
the same seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import wave
from collections.abc import Iterable, Sequence

__all__ = ["MEDIA_ALIASES", "same_media_type", "sniff_media_type", "tiny_mp4", "tiny_wav"]

# -- H.264 (baseline, I_PCM only) -------------------------------------------------------------------

_SIDE = 32  # pixels: 2 x 2 macroblocks per frame (4 x 384 bytes), small yet a real picture
_FRAMES = 3
_FPS = 2


class _Bits:
    """An MSB-first bit writer with H.264's Exp-Golomb codes (§9.1)."""

    def __init__(self) -> None:
        self._bits: list[int] = []

    def u(self, count: int, value: int) -> None:
        self._bits.extend((value >> shift) & 1 for shift in range(count - 1, -1, -1))

    def ue(self, value: int) -> None:
        code = value + 1
        self.u(code.bit_length() - 1, 0)
        self.u(code.bit_length(), code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align(self) -> None:
        while len(self._bits) % 8:
            self._bits.append(0)

    def raw(self, data: bytes) -> None:
        for byte in data:
            self.u(8, byte)

    def trailing(self) -> bytes:
        """Close with ``rbsp_trailing_bits`` and return the RBSP bytes."""
        self._bits.append(1)
        self.align()
        out = bytearray()
        for index in range(0, len(self._bits), 8):
            byte = 0
            for bit in self._bits[index : index + 8]:
                byte = byte << 1 | bit
            out.append(byte)
        return bytes(out)


def _nal(ref_idc: int, unit_type: int, rbsp: bytes) -> bytes:
    # Emulation prevention (§7.4.1): no 00 00 0x (x <= 3) may appear inside a NAL unit.
    out = bytearray([ref_idc << 5 | unit_type])
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _sps(width_mbs: int, height_mbs: int) -> bytes:
    bits = _Bits()
    bits.u(8, 66)  # profile_idc: Baseline
    bits.u(8, 0xC0)  # constraint_set0/1: decodable by Baseline and Main decoders
    bits.u(8, 30)  # level_idc 3.0
    bits.ue(0)  # seq_parameter_set_id
    bits.ue(0)  # log2_max_frame_num_minus4
    bits.ue(0)  # pic_order_cnt_type
    bits.ue(0)  # log2_max_pic_order_cnt_lsb_minus4
    bits.ue(0)  # max_num_ref_frames: intra only
    bits.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    bits.ue(width_mbs - 1)
    bits.ue(height_mbs - 1)
    bits.u(1, 1)  # frame_mbs_only_flag
    bits.u(1, 1)  # direct_8x8_inference_flag
    bits.u(1, 0)  # frame_cropping_flag
    bits.u(1, 0)  # vui_parameters_present_flag
    return _nal(3, 7, bits.trailing())


def _pps() -> bytes:
    bits = _Bits()
    bits.ue(0)  # pic_parameter_set_id
    bits.ue(0)  # seq_parameter_set_id
    bits.u(1, 0)  # entropy_coding_mode_flag: CAVLC
    bits.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
    bits.ue(0)  # num_slice_groups_minus1
    bits.ue(0)  # num_ref_idx_l0_default_active_minus1
    bits.ue(0)  # num_ref_idx_l1_default_active_minus1
    bits.u(1, 0)  # weighted_pred_flag
    bits.u(2, 0)  # weighted_bipred_idc
    bits.se(0)  # pic_init_qp_minus26
    bits.se(0)  # pic_init_qs_minus26
    bits.se(0)  # chroma_qp_index_offset
    bits.u(1, 0)  # deblocking_filter_control_present_flag
    bits.u(1, 0)  # constrained_intra_pred_flag
    bits.u(1, 0)  # redundant_pic_cnt_present_flag
    return _nal(3, 8, bits.trailing())


def _idr_slice(macroblocks: Iterable[tuple[bytes, bytes, bytes]], idr_pic_id: int) -> bytes:
    bits = _Bits()
    bits.ue(0)  # first_mb_in_slice
    bits.ue(7)  # slice_type: I (every slice of the picture)
    bits.ue(0)  # pic_parameter_set_id
    bits.u(4, 0)  # frame_num (an IDR's is 0)
    bits.ue(idr_pic_id)  # differs between consecutive IDR pictures (§7.4.3)
    bits.u(4, 0)  # pic_order_cnt_lsb
    bits.u(1, 0)  # no_output_of_prior_pics_flag
    bits.u(1, 0)  # long_term_reference_flag
    bits.se(0)  # slice_qp_delta
    for luma, cb, cr in macroblocks:
        bits.ue(25)  # mb_type I_PCM
        bits.align()  # pcm_alignment_zero_bit
        bits.raw(luma + cb + cr)
    return _nal(3, 5, bits.trailing())


def _ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    # BT.601 studio range, which is what an H.264 stream without VUI is read as.
    r, g, b = rgb
    y = 16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256
    cb = 128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256
    cr = 128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256
    return tuple(max(16, min(240, round(v))) for v in (y, cb, cr))  # type: ignore[return-value]


def _frame(colors: Sequence[tuple[int, int, int]], side_mbs: int) -> list[tuple[bytes, bytes, bytes]]:
    """One frame's macroblocks, each a flat colour (cycling through ``colors``), in raster order."""
    blocks = []
    for index in range(side_mbs * side_mbs):
        y, cb, cr = _ycbcr(colors[index % len(colors)])
        blocks.append((bytes([y]) * 256, bytes([cb]) * 64, bytes([cr]) * 64))
    return blocks


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags), *parts)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _moov(sps: bytes, pps: bytes, sizes: Sequence[int], chunk_offset: int) -> bytes:
    timescale, delta = 1000, 1000 // _FPS
    duration = delta * len(sizes)
    avcc = _box(
        b"avcC",
        bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]),  # 4-byte NAL lengths, one SPS
        struct.pack(">H", len(sps)),
        sps,
        bytes([1]),
        struct.pack(">H", len(pps)),
        pps,
    )
    avc1 = _box(
        b"avc1",
        bytes(6),
        struct.pack(">H", 1),  # data_reference_index
        bytes(16),
        struct.pack(">HHIIIH", _SIDE, _SIDE, 0x480000, 0x480000, 0, 1),
        bytes(32),  # compressorname
        struct.pack(">Hh", 0x18, -1),
        avcc,
    )
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
        _full_box(b"stts", 0, 0, struct.pack(">III", 1, len(sizes), delta)),
        _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, len(sizes), 1)),
        _full_box(b"stsz", 0, 0, struct.pack(">II", 0, len(sizes)), *(struct.pack(">I", s) for s in sizes)),
        _full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset)),
    )
    minf = _box(
        b"minf",
        _full_box(b"vmhd", 0, 1, bytes(8)),
        _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1))),
        stbl,
    )
    mdia = _box(
        b"mdia",
        _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0)),  # und
        _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\0"),
        minf,
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, 1, 0, duration),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", _SIDE << 16, _SIDE << 16),
    )
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIIIIH", 0, 0, timescale, duration, 0x10000, 0x100),
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", 2),
    )
    return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))


def _palette(seed: str) -> list[tuple[int, int, int]]:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    # Kept away from black and white, like the image results' tint.
    return [tuple(48 + b % 160 for b in digest[i : i + 3]) for i in range(0, 24, 3)]  # type: ignore[misc]


def tiny_mp4(seed: str) -> bytes:
    """A playable MP4 (H.264 Baseline, 32x32, a few frames at 2 fps) whose colours come from ``seed``."""
    side_mbs = _SIDE // 16
    palette = _palette(seed)
    sps, pps = _sps(side_mbs, side_mbs), _pps()
    samples = []
    for index in range(_FRAMES):
        colors = palette[index:] + palette[:index]  # the blocks' colours move from frame to frame
        nal = _idr_slice(_frame(colors, side_mbs), idr_pic_id=index % 2)
        samples.append(struct.pack(">I", len(nal)) + nal)
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso2avc1mp41")
    sizes = [len(sample) for sample in samples]
    moov_size = len(_moov(sps, pps, sizes, 0))
    moov = _moov(sps, pps, sizes, len(ftyp) + moov_size + 8)  # the first sample, past mdat's header
    return ftyp + moov + _box(b"mdat", *samples)


# -- audio -----------------------------------------------------------------------------------------

_RATE = 8000


def tiny_wav(seed: str, seconds: float = 0.5) -> bytes:
    """A short mono 16-bit PCM WAV tone whose pitch comes from ``seed``."""
    pitch = 220 + hashlib.sha256(seed.encode("utf-8")).digest()[0] * 2
    frames = b"".join(
        struct.pack("<h", round(8000 * math.sin(2 * math.pi * pitch * n / _RATE)))
        for n in range(round(_RATE * seconds))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(_RATE)
        writer.writeframes(frames)
    return out.getvalue()


# -- the types of uploaded media -------------------------------------------------------------------

MEDIA_ALIASES: tuple[frozenset[str], ...] = (
    frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}),
    frozenset({"audio/mpeg", "audio/mp3", "audio/mpeg3"}),
    frozenset({"video/avi", "video/x-msvideo", "video/msvideo"}),
    frozenset({"video/quicktime", "video/mov"}),
    frozenset({"audio/mp4", "audio/x-m4a", "audio/m4a"}),
    frozenset({"audio/aac", "audio/x-aac"}),
    frozenset({"image/jpeg", "image/jpg"}),
)
"""Spellings of one type that kie.ai's documents use interchangeably (its "Accepted types" lists)."""


def same_media_type(found: str, accepted: str) -> bool:
    """Whether the stored type ``found`` is the accepted type ``accepted`` (or one of its spellings)."""
    found, accepted = found.lower(), accepted.lower()
    return found == accepted or any(found in group and accepted in group for group in MEDIA_ALIASES)


def sniff_media_type(content: bytes) -> str | None:
    """The video or audio type of ``content`` from its magic bytes, or ``None``."""
    head = content[:16]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        return "audio/mp4" if brand in (b"M4A ", b"M4B ") else "video/mp4"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "video/webm"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/avi"
    if head[:4] == b"OggS":
        return "audio/ogg"
    if head[:4] == b"fLaC":
        return "audio/flac"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return "audio/mpeg"  # an ID3 tag, or an MPEG audio frame sync with layer III
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac"  # ADTS
    return None
