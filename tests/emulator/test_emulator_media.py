"""The emulator's video and audio results are small valid files, and uploads of media are typed by content."""

from __future__ import annotations

import io
import struct
import wave

import pytest

from kie_gpt_image.emulator._media import same_media_type, sniff_media_type, tiny_mp4, tiny_wav


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, bytes]]:
    """The (type, payload) of each ISO BMFF box in ``data[start:end]``; fails on a size that does not fit."""
    end = len(data) if end is None else end
    found = []
    while start < end:
        (size,) = struct.unpack(">I", data[start : start + 4])
        assert 8 <= size <= end - start, f"box at {start} claims {size} bytes"
        found.append((data[start + 4 : start + 8], data[start + 8 : start + size]))
        start += size
    return found


def _child(payload: bytes, kind: bytes, skip: int = 0) -> bytes:
    return dict(_boxes(payload, skip))[kind]


def test_the_video_is_an_mp4_of_h264_frames_whose_table_points_at_them() -> None:
    video = tiny_mp4("a lighthouse")
    assert video[4:8] == b"ftyp"
    assert sniff_media_type(video) == "video/mp4"
    assert len(video) < 10_000
    top = _boxes(video)
    assert [kind for kind, _ in top] == [b"ftyp", b"moov", b"mdat"]
    moov = dict(top)[b"moov"]
    stbl = _child(_child(_child(_child(moov, b"trak"), b"mdia"), b"minf"), b"stbl")
    stsd = _child(stbl, b"stsd")
    assert stsd[12:16] == b"avc1"  # the one sample entry: H.264
    stsz = _child(stbl, b"stsz")
    _, _, count, *sizes = struct.unpack(f">{len(stsz) // 4}I", stsz)
    assert count == len(sizes) >= 2
    (offset,) = struct.unpack(">I", _child(stbl, b"stco")[8:12])
    # Each sample is one length-prefixed IDR slice NAL unit, back to back from the chunk offset.
    for size in sizes:
        (nal_length,) = struct.unpack(">I", video[offset : offset + 4])
        assert nal_length == size - 4
        assert video[offset + 4] & 0x1F == 5
        offset += size
    assert offset == len(video)


def test_the_video_depends_on_its_seed_only() -> None:
    assert tiny_mp4("a") == tiny_mp4("a") != tiny_mp4("b")


def test_the_audio_is_a_short_wav() -> None:
    audio = tiny_wav("a song")
    assert audio[:4] == b"RIFF"
    assert audio[8:12] == b"WAVE"
    assert sniff_media_type(audio) == "audio/wav"
    with wave.open(io.BytesIO(audio)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth()) == (1, 2)
        assert 0 < reader.getnframes() / reader.getframerate() <= 1


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x00\x00\x00\x18ftypqt  ", "video/quicktime"),
        (b"\x00\x00\x00\x18ftypM4A ", "audio/mp4"),
        (b"\x1aE\xdf\xa3\x01\x00", "video/webm"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/avi"),
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x00", "audio/mpeg"),
        (b"\xff\xf1\x50\x80", "audio/aac"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"fLaC\x00", "audio/flac"),
        (b"\x89PNG\r\n\x1a\n", None),
        (b"hello", None),
    ],
)
def test_uploaded_media_is_typed_by_its_magic_bytes(head: bytes, mime: str | None) -> None:
    assert sniff_media_type(head + bytes(16)) == mime


def test_the_documents_spellings_of_one_type_are_one_type() -> None:
    assert same_media_type("audio/wav", "audio/x-wav")
    assert same_media_type("audio/mpeg", "audio/mp3")
    assert same_media_type("video/avi", "video/x-msvideo")
    assert not same_media_type("audio/wav", "audio/mpeg")
