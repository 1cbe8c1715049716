"""Bounded decoding (``_decoding``): a compressed body is inflated a piece at a time, never more than a
piece past its cap, so a gzip bomb is refused before it is in memory (issue 25 item 3)."""

from __future__ import annotations

import asyncio
import gzip
import inspect
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

import kie_gpt_image as kie
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


# ------------------------------------------------------------------------------------ through the client

MIB = 1024 * 1024
RECORD = (
    b'{"code": 200, "msg": "success", "data": {"taskId": "task_1", "state": "success", '
    b'"resultJson": "{\\"resultUrls\\": [\\"https://results.example/r/1.png\\"]}"}}'
)


def _gzip_bomb(head: bytes, inflated: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return packer.compress(head) + packer.compress(bytes(inflated)) + packer.flush()


class _Server:
    """recordInfo and result downloads on a MockTransport; a body given as ``bomb`` goes out streamed, in
    16 KiB raw chunks, gzip-encoded (as a network read would hand it over)."""

    def __init__(self, record: bytes | None = None, image: bytes | None = None) -> None:
        self.record, self.image = record, image
        self.seen: list[httpx.Request] = []

    def _reply(self, body: bytes | None, plain: bytes) -> httpx.Response:
        if body is None:
            return httpx.Response(200, content=plain)
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=_chunks(body, 16 * 1024))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.host == "results.example":
            return self._reply(self.image, PNG)
        return self._reply(self.record, RECORD)


class _AsyncChunks(httpx.AsyncByteStream):
    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in _chunks(self._data, 16 * 1024):
            yield chunk


class _AsyncServer(_Server):
    def _reply(self, body: bytes | None, plain: bytes) -> httpx.Response:
        if body is None:
            return httpx.Response(200, content=plain)
        return httpx.Response(200, headers={"content-encoding": "gzip"}, stream=_AsyncChunks(body))


def _peak_while(call: Callable[[], object]) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        try:
            call()
        except Exception as exc:
            return exc, tracemalloc.get_traced_memory()[1]
        return None, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _run_client(server: _Server, mode: str, action: Callable[[Any], Any]) -> Callable[[], object]:
    options: dict[str, Any] = {"max_reply_bytes": MIB, "max_download_bytes": 2 * MIB}
    if mode == "sync":

        def run_sync() -> object:
            with kie.Client("k", transport=httpx.MockTransport(server), **options) as client:
                return action(client)

        return run_sync

    async def run() -> object:
        async with kie.AsyncClient("k", transport=httpx.MockTransport(server), **options) as client:
            value = action(client)
            return await value if inspect.isawaitable(value) else value

    return lambda: asyncio.run(run())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_gzip_bomb_recordinfo_reply_is_reply_too_large_before_it_is_in_memory(mode: str) -> None:
    server = (_AsyncServer if mode == "async" else _Server)(record=_gzip_bomb(b'{"code": 200, ', 64 * MIB))
    error, peak = _peak_while(_run_client(server, mode, lambda client: client.get_task("task_1")))
    assert isinstance(error, kie.ReplyTooLargeError)
    assert "task_1" in str(error) or error.task_id == "task_1"
    assert peak < 4 * MIB  # the 1 MiB cap and a piece beyond it, not the 64 MiB the body inflates to


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_gzip_bomb_download_is_result_too_large_before_it_is_in_memory(mode: str) -> None:
    server = (_AsyncServer if mode == "async" else _Server)(image=_gzip_bomb(PNG[:16], 64 * MIB))

    def download(client: Any) -> object:
        if mode == "sync":
            return client.read_results(client.get_task("task_1"))

        async def both() -> object:
            return await client.read_results(await client.get_task("task_1"))

        return both()

    error, peak = _peak_while(_run_client(server, mode, download))
    assert isinstance(error, ResultTooLargeError)
    assert error.task_id == "task_1"
    assert peak < 8 * MIB  # the 2 MiB cap and a piece beyond it (and what was kept of it)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_compressed_replies_arrive_decoded_and_only_bounded_encodings_are_offered(mode: str) -> None:
    server = (_AsyncServer if mode == "async" else _Server)(
        record=gzip.compress(RECORD), image=gzip.compress(PNG)
    )

    def fetch(client: Any) -> object:
        if mode == "sync":
            info = client.get_task("task_1")
            return info, client.read_results(info)

        async def both() -> object:
            info = await client.get_task("task_1")
            return info, await client.read_results(info)

        return both()

    info, images = _run_client(server, mode, fetch)()  # type: ignore[misc]
    assert info.result_urls == ("https://results.example/r/1.png",)
    assert images == [PNG]
    assert [r.headers["accept-encoding"] for r in server.seen] == [ACCEPT_ENCODING] * 2
