"""Bounded decoding (``_decoding``): a compressed body is inflated a piece at a time, never more than a
piece past its cap, so a gzip bomb is refused before it is in memory (issue 25 item 3)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import httpx
import pytest

from kie_gpt_image import ResultTooLargeError
from kie_gpt_image._decoding import ACCEPT_ENCODING, PIECE, BoundedDecoder
from kie_gpt_image._download import MemorySink

BODY = b"".join(b"%06d: some reply text that compresses\n" % i for i in range(20_000))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400


class TooLarge(Exception):
    pass


def _chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def _deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def _decode(encoded: bytes, encoding: str | None, cap: int = 10**9) -> tuple[bytes, int]:
    decoder = BoundedDecoder(encoding, cap, TooLarge)
    pieces = [p for raw in _chunks(encoded) for p in decoder.decode(raw)] + list(decoder.flush())
    return b"".join(pieces), max((len(p) for p in pieces), default=0)


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (None, lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _deflate_raw),  # some servers send deflate without its zlib header, as httpx allows
        ("GZIP, gzip", lambda b: gzip.compress(gzip.compress(b))),
        ("deflate, gzip", lambda b: gzip.compress(zlib.compress(b))),
    ],
)
def test_every_encoding_offered_decodes_as_httpx_would(encoding: str | None, encode: object) -> None:
    encoded = encode(BODY)  # type: ignore[operator]
    decoded, _ = _decode(encoded, encoding)
    assert decoded == BODY
    # The same bytes as httpx's own decoding of that reply.
    headers = {"content-encoding": encoding} if encoding else {}
    assert httpx.Response(200, headers=headers, content=encoded).content == BODY


def test_the_client_offers_only_the_encodings_it_can_bound() -> None:
    assert {e.strip() for e in ACCEPT_ENCODING.split(",")} == {"gzip", "deflate"}


def test_an_encoding_never_offered_passes_as_it_came_counted_raw() -> None:
    decoded, _ = _decode(b"\x1b\x00compressed-ish", "br")
    assert decoded == b"\x1b\x00compressed-ish"
    with pytest.raises(TooLarge):
        _decode(b"x" * 100, "br", cap=99)


def test_a_gzip_bomb_is_refused_a_piece_past_the_cap() -> None:
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)  # 64 MiB of zeros in ~64 KB
    cap = 1024 * 1024
    decoder = BoundedDecoder("gzip", cap, TooLarge)
    largest = [0]

    def inflate() -> None:
        for raw in _chunks(bomb, 16 * 1024):
            largest.extend(len(piece) for piece in decoder.decode(raw))

    with pytest.raises(TooLarge):
        inflate()
    assert max(largest) <= PIECE
    assert decoder.size <= cap + 1  # never more than one byte past the cap was produced


def test_a_body_exactly_at_the_cap_is_accepted() -> None:
    decoded, largest = _decode(gzip.compress(BODY), "gzip", cap=len(BODY))
    assert decoded == BODY
    assert largest <= PIECE
    with pytest.raises(TooLarge):
        _decode(gzip.compress(BODY), "gzip", cap=len(BODY) - 1)


def test_a_corrupt_body_is_httpx_s_decoding_error() -> None:
    with pytest.raises(httpx.DecodingError):
        _decode(b"\x1f\x8b\x08\x00not really gzip at all", "gzip")


# ------------------------------------------------------------------------------------ downloads


def test_a_download_inflated_past_its_cap_is_result_too_large_before_it_is_in_memory() -> None:
    bomb = gzip.compress(PNG[:16] + bytes(32 * 1024 * 1024))
    sink = MemorySink("https://results.example/x.png", 1024 * 1024)
    sink.start(200, {"content-encoding": "gzip", "content-length": str(len(bomb))})

    def download() -> None:
        for raw in _chunks(bomb, 16 * 1024):
            sink.write_raw(raw)

    with pytest.raises(ResultTooLargeError):
        download()
    assert sink.received <= 1024 * 1024 + 1


def test_a_compressed_download_arrives_decoded() -> None:
    sink = MemorySink("https://results.example/x.png", 10**7)
    encoded = gzip.compress(PNG)
    sink.start(200, {"content-encoding": "gzip"})
    for raw in _chunks(encoded, 333):
        sink.write_raw(raw)
    sink.finish()
    assert sink.content == PNG
