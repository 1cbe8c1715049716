"""Every bad input is a typed error raised before anything is sent or spent."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_kie import KEY, FakeKie, Harness, image_bytes

import kie_gpt_image as kie
from kie_gpt_image import _api
from kie_gpt_image.emulator import Emulator, Schedule

PNG = image_bytes("PNG")
GOOD = "https://example.com/a.png"


class _Text(io.StringIO):
    name = "t.png"


def _bad_cases(tmp: Path) -> list[tuple[str, dict[str, Any], str]]:
    gif = tmp / "anim.gif"
    gif.write_bytes(image_bytes("GIF"))
    renamed = tmp / "really-a-gif.png"
    renamed.write_bytes(image_bytes("GIF"))
    empty = tmp / "empty.png"
    empty.write_bytes(b"")
    text = tmp / "notes.jpg"
    text.write_text("hello")
    big = tmp / "big.png"
    big.write_bytes(PNG + b"\0" * (_api.MAX_INPUT_IMAGE_BYTES))
    folder = tmp / "folder"
    folder.mkdir()
    return [
        ("images", {"images": []}, "1 to 16"),
        ("images", {"images": [GOOD] * 17}, "17 given"),
        ("images", {"images": 42}, "give a list"),
        ("images[0]", {"images": [tmp / "missing.png"]}, "cannot read"),
        ("images[0]", {"images": [folder]}, "not a regular file"),
        ("images[0]", {"images": [gif]}, "not a supported image"),
        ("images[0]", {"images": [renamed]}, "not a supported image"),
        ("images[0]", {"images": [empty]}, "empty file"),
        ("images[0]", {"images": [text]}, "not a supported image"),
        ("images[0]", {"images": [big]}, "over kie.ai's limit"),
        ("images[1]", {"images": [GOOD, b"GIF89a......"]}, "not a supported image"),
        ("images[0]", {"images": [b""]}, "empty file"),
        ("images[0]", {"images": [_Text("abc")]}, "binary mode"),
        ("images[0]", {"images": [12.5]}, "unsupported type"),
        ("images[0]", {"images": ["ftp://example.com/a.png"]}, "not an http(s) URL"),
        ("images[0]", {"images": ["https://"]}, "not an http(s) URL"),
        ("images[0]", {"images": ["https://exa mple.com/a.png"]}, "not an http(s) URL"),
        ("images[2]", {"images": [GOOD, PNG, "file:///etc/passwd"]}, "not an http(s) URL"),
        ("prompt", {"prompt": ""}, "must not be empty"),
        ("prompt", {"prompt": "   \n"}, "must not be empty"),
        ("prompt", {"prompt": None}, "must be a string"),
        ("prompt", {"prompt": b"bytes"}, "must be a string"),
        ("aspect_ratio", {"aspect_ratio": "16:9"}, "is not one of 1:1, 2:3, 3:2"),
        ("aspect_ratio", {"aspect_ratio": "3-2"}, "is not one of"),
        ("aspect_ratio", {"aspect_ratio": 1.5}, "is not one of"),
        ("quality", {"quality": "ultra"}, "is not one of"),
        ("quality", {"quality": "HIGH"}, "is not one of"),
        ("callback_url", {"callback_url": "http://me.example/cb"}, "must be https"),
        ("callback_url", {"callback_url": "not a url"}, "not an http(s) URL"),
        ("callback_url", {"callback_url": "javascript:alert(1)"}, "not an http(s) URL"),
        ("callback_url", {"callback_url": 7}, "must be a string"),
        ("timeout", {"timeout": -1}, "non-negative"),
    ]


def test_there_are_at_least_thirty_bad_input_cases(tmp_path: Path) -> None:
    assert len(_bad_cases(tmp_path)) >= 30


@pytest.mark.parametrize("index", range(32))
def test_bad_edit_input_raises_before_any_request(harness: Harness, tmp_path: Path, index: int) -> None:
    field, override, problem = _bad_cases(tmp_path)[index]
    arguments: dict[str, Any] = {"images": [GOOD, PNG], "prompt": "make it blue", **override}
    for method in ("edit", "create_task"):
        if method == "create_task":
            arguments.pop("timeout", None)
            if field == "timeout":
                continue
        with pytest.raises(kie.InvalidInputError) as caught:
            harness(method, **arguments)
        assert caught.value.field == field
        assert problem in str(caught.value)
    assert harness.fake.requests == []


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "field"),
    [
        ("get_task", ("",), {}, "task_id"),
        ("get_task", (None,), {}, "task_id"),
        ("wait", ("t",), {"timeout": "soon"}, "timeout"),
        ("upload", (b"nope",), {}, "source"),
        ("upload", (PNG,), {"method": "carrier-pigeon"}, "method"),
        ("upload", (PNG,), {"file_name": "../x.png"}, "file_name"),
        ("download_url", ("not a url",), {}, "url"),
        ("download", ("not a result",), {}, "result"),
    ],
)
def test_bad_arguments_of_other_methods(
    harness: Harness, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        harness(method, *args, **kwargs)
    assert caught.value.field == field
    assert harness.fake.requests == []


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIE_API_KEY", raising=False)
    with pytest.raises(kie.MissingApiKeyError, match="KIE_API_KEY"):
        kie.Client()
    with pytest.raises(kie.MissingApiKeyError):
        kie.AsyncClient(api_key="  ")


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch, fake_kie: FakeKie) -> None:
    import httpx

    monkeypatch.setenv("KIE_API_KEY", KEY)
    with kie.Client(transport=httpx.MockTransport(fake_kie.handler)) as client:
        assert client.credits() == 100
    assert fake_kie.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"api_key": "two words"}, "api_key"),
        ({"api_key": "line\nbreak"}, "api_key"),
        ({"base_url": "api.kie.ai"}, "base_url"),
        ({"upload_base_url": "ftp://x"}, "upload_base_url"),
        ({"max_download_bytes": 0}, "max_download_bytes"),
        ({"max_retries": 1, "retry_policy": kie.RetryPolicy()}, "max_retries"),
    ],
)
def test_bad_client_settings(options: dict[str, Any], field: str) -> None:
    options.setdefault("api_key", KEY)
    for cls in (kie.Client, kie.AsyncClient):
        with pytest.raises(kie.InvalidInputError) as caught:
            cls(**options)
        assert caught.value.field == field


def test_http_callback_allowed_when_asked(fake_kie: FakeKie, make_harness, mode: str) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode, allow_http_callback=True)
    with pytest.warns(kie.LoopbackCallbackWarning):  # kie.ai itself could not reach it (issue 17)
        h("create_task", [GOOD], "p", callback_url="http://127.0.0.1:9000/cb")
    assert len(fake_kie.calls("create")) == 1


def test_every_allowed_value_is_accepted(harness: Harness) -> None:
    fields = kie.MODELS[kie.DEFAULT_EDIT_MODEL].field
    ratios, qualities = fields("aspect_ratio").enum or (), fields("quality").enum or ()
    for ratio in ratios:
        for quality in qualities:
            harness("create_task", [GOOD], "p", aspect_ratio=ratio, quality=quality)
    assert len(harness.fake.calls("create")) == len(ratios) * len(qualities)


def test_a_single_image_need_not_be_wrapped_in_a_list(harness: Harness) -> None:
    harness("create_task", PNG, "p")
    assert len(harness.fake.calls("upload-stream")) == 1


# ------------------------------------------------------------------ text that cannot be sent (issue 11.1)

LONE = "\ud800"


@pytest.mark.parametrize(
    ("field", "override"),
    [
        ("prompt", {"prompt": f"make it {LONE} blue"}),
        ("prompt", {"prompt": "caf\udce9"}),  # what Python makes of the non-UTF-8 argument b"caf\xe9"
        ("callback_url", {"callback_url": f"https://me.example/cb?{LONE}"}),
        ("images[0]", {"images": [f"https://example.com/{LONE}.png"]}),
    ],
)
def test_text_with_a_lone_surrogate_is_refused_before_any_upload(
    harness: Harness, field: str, override: dict[str, Any]
) -> None:
    # A local image first: before the fix it was uploaded, then createTask raised UnicodeEncodeError.
    arguments: dict[str, Any] = {"images": [PNG], "prompt": "p", **override}
    for method in ("edit", "create_task"):
        with pytest.raises(kie.InvalidInputError) as caught:
            harness(method, **arguments)
        assert caught.value.field == field
        assert "unpaired surrogate" in str(caught.value)
    assert harness.fake.requests == []


def test_surrogate_escaped_byte_is_named() -> None:
    from kie_gpt_image import _inputs

    with pytest.raises(kie.InvalidInputError, match=r"'\\udce9' \(the byte 0xe9\) at position 3"):
        _inputs.check_prompt("caf\udce9")


# ------------------------------------------------------------------ local inputs that escaped (issue 11.3)


def test_path_with_a_nul_byte_closed_file_and_text_file_are_typed(harness: Harness, tmp_path: Path) -> None:
    real = tmp_path / "in.png"
    real.write_bytes(PNG)
    closed = real.open("rb")
    closed.close()
    text_mode = real.open("r", encoding="utf-8")  # a real text file over PNG bytes: reading it fails
    try:
        cases = [
            ([str(tmp_path / "a\0b.png")], "NUL byte"),
            ([tmp_path / "a\0b.png"], "NUL byte"),
            ([closed], "closed"),
            ([text_mode], "binary mode"),
        ]
        for images, problem in cases:
            with pytest.raises(kie.InvalidInputError) as caught:
                harness("create_task", images, "p")
            assert caught.value.field == "images[0]"
            assert problem in str(caught.value)
    finally:
        text_mode.close()
    assert harness.fake.requests == []


# ------------------------------------------------------------------ a file name that is not UTF-8 (11.4)


def _non_utf8_file(folder: Path) -> Path:
    path = folder / os.fsdecode(b"caf\xe9.png")  # "caf\udce9.png": Python's name for those bytes
    path.write_bytes(PNG)
    return path


def test_a_file_name_that_is_not_utf8_is_uploaded_under_a_safe_name(tmp_path: Path) -> None:
    emulator = Emulator(schedule=Schedule.instant())
    with emulator.client() as client:
        uploaded = client.upload(_non_utf8_file(tmp_path))
        result = client.edit([_non_utf8_file(tmp_path)], "make it blue", timeout=5)
    assert uploaded.url
    assert result.urls
    assert emulator.call_count("upload-file-stream") == 2


def test_the_multipart_file_name_is_the_safe_one(harness: Harness, tmp_path: Path) -> None:
    harness("upload", _non_utf8_file(tmp_path))
    (request,) = harness.fake.calls("upload-stream")
    assert b'filename="caf_.png"' in request.content


# ------------------------------------------------------------------ what openai/httpx users pass (13.2)


def test_file_name_and_content_tuples(harness: Harness, tmp_path: Path) -> None:
    harness("create_task", [("photo.png", PNG), ("other.png", io.BytesIO(PNG))], "p")
    harness("create_task", ("single.png", PNG), "p")  # one tuple alone is one named image
    bodies = [call.content for call in harness.fake.calls("upload-stream")]
    named = sorted(
        name for body in bodies for name in (b"photo.png", b"other.png", b"single.png") if name in body
    )
    assert named == [b"other.png", b"photo.png", b"single.png"]  # one edit's uploads run concurrently
    assert b'filename="single.png"' in bodies[2]  # the second call's upload comes after the first's


def test_a_bad_tuple_names_the_file_in_the_message(harness: Harness) -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        harness("create_task", [GOOD, ("cat.png", b"GIF89a......")], "p")
    assert caught.value.field == "images[1]"
    assert "'cat.png': not a supported image" in str(caught.value)
    with pytest.raises(kie.InvalidInputError, match="content type given is 'image/jpeg'"):
        harness("create_task", [("cat.png", PNG, "image/jpeg")], "p")
    with pytest.raises(kie.InvalidInputError, match="a tuple must be"):
        harness("create_task", [(1, PNG)], "p")
    assert harness.fake.requests == []


@pytest.mark.parametrize(
    ("kind", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_pil_images_keep_their_format(harness: Harness, tmp_path: Path, kind: str, mime: str) -> None:
    from PIL import Image

    path = tmp_path / f"source.{kind.lower()}"
    path.write_bytes(image_bytes(kind))
    with Image.open(path) as opened:
        harness("create_task", opened, "p")
    (request,) = harness.fake.calls("upload-stream")
    assert f"Content-Type: {mime}".encode() in request.content
    assert b'filename="source.' in request.content


def test_pil_images_of_other_formats_become_lossless_png(harness: Harness) -> None:
    from PIL import Image

    drawn = Image.new("RGBA", (5, 4), (1, 2, 3, 128))  # no format: made in memory
    cmyk = Image.new("CMYK", (3, 3))
    harness("create_task", [drawn, cmyk], "p")
    uploads = harness.fake.calls("upload-stream")  # concurrent: in either order
    assert [b"Content-Type: image/png" in upload.content for upload in uploads] == [True, True]
    first_pixels = {}
    for upload in uploads:
        with Image.open(io.BytesIO(upload.content[upload.content.index(b"\x89PNG") :])) as back:
            first_pixels[back.mode] = back.getpixel((0, 0))
    assert first_pixels["RGBA"] == (1, 2, 3, 128)  # the drawn image, alpha kept


def test_pil_images_are_recognised_without_importing_pillow() -> None:
    # In a fresh interpreter, checking inputs must not import Pillow (it is optional).
    code = (
        "import sys, kie_gpt_image._inputs as i;"
        "i.check_image('x', 'https://example.com/a.png');"
        "import pytest\n"
        "try: i.check_image('x', 12.5)\n"
        "except Exception: pass\n"
        "assert 'PIL' not in sys.modules, sorted(m for m in sys.modules if 'PIL' in m)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr


def test_home_directory_is_expanded(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "p.png").write_bytes(PNG)
    harness("create_task", ["~/p.png"], "p")
    assert len(harness.fake.calls("upload-stream")) == 1


@pytest.mark.parametrize("value", ["example.com/cat.png", "www.x.org/a.jpg", "cdn.example.co.uk:8443/a.png"])
def test_a_host_name_without_scheme_suggests_https(harness: Harness, value: str, tmp_path: Path) -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        harness("create_task", [value], "p")
    assert caught.value.field == "images[0]"
    assert f"'https://{value}'" in str(caught.value)
    assert harness.fake.requests == []


def test_a_missing_plain_file_gets_no_url_hint(harness: Harness) -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        harness("create_task", ["photos/cat.png"], "p")
    assert "https://" not in str(caught.value)


# ------------------------------------------------------------------ FastAPI/Starlette UploadFile (17.4)


@pytest.fixture
def upload_file() -> Iterator[Callable[[bytes], Any]]:
    """Starlette's ``UploadFile`` over a spooled temporary file, as its form parser makes it."""
    from starlette.datastructures import UploadFile

    made: list[Any] = []

    def make(data: bytes) -> Any:
        spooled = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
        spooled.write(data)
        spooled.seek(0)
        made.append(spooled)
        return UploadFile(spooled, filename="user photo.png")

    yield make
    for spooled in made:
        spooled.close()


@pytest.mark.filterwarnings("error")  # a never-awaited coroutine warning fails the test
def test_starlette_upload_file_is_accepted_in_both_clients(harness: Harness, upload_file: Any) -> None:
    upload = upload_file(PNG)
    harness("create_task", upload, "p")
    harness("create_task", [upload, GOOD], "p")  # read again from the start: seekable
    calls = harness.fake.calls("upload-stream")
    assert len(calls) == 2
    assert all(b'filename="user photo.png"' in call.content and PNG in call.content for call in calls)


def test_a_stream_already_read_to_its_end_says_seek(harness: Harness, upload_file: Any) -> None:
    upload = upload_file(PNG)
    upload.file.read()
    stream = io.BytesIO(PNG)
    stream.read()
    for value in (upload, stream):
        with pytest.raises(kie.InvalidInputError) as caught:
            harness("create_task", [value], "p")
        assert "at its end" in str(caught.value)
        assert "seek(0)" in str(caught.value)
    assert harness.fake.requests == []


def test_an_object_with_only_an_async_read_is_refused_without_a_warning(harness: Harness) -> None:
    class AsyncOnly:
        async def read(self, size: int = -1) -> bytes:
            return PNG

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(kie.InvalidInputError, match="async read"):
            harness("create_task", [AsyncOnly()], "p")


# ------------------------------------------------------------------ incomplete images (17.5)


def _truncations() -> list[tuple[str, bytes]]:
    png, jpeg, webp = image_bytes("PNG", (64, 64)), image_bytes("JPEG", (64, 64)), image_bytes("WEBP")
    return [
        ("png-100", png[:100]),
        ("png-no-iend", png[:-12]),
        ("png-half-iend", png[:-6]),
        ("jpeg-no-eoi", jpeg[:-2]),
        ("jpeg-half", jpeg[: len(jpeg) // 2]),
        ("jpeg-headers-only", jpeg[:30]),
        ("webp-short", webp[:-4]),
        ("webp-long", webp + b"\0\0"),
    ]


@pytest.mark.parametrize("case", range(8))
def test_truncated_images_are_refused_before_any_upload(harness: Harness, tmp_path: Path, case: int) -> None:
    name, data = _truncations()[case]
    path = tmp_path / f"{name}.img"
    path.write_bytes(data)
    for value in (data, path, io.BytesIO(data), ("named.png", data)):
        with pytest.raises(kie.InvalidInputError) as caught:
            harness("create_task", [GOOD, value], "p")
        assert caught.value.field == "images[1]"
        assert "truncated" in str(caught.value) or "damaged" in str(caught.value)
    assert harness.fake.requests == []


def test_complete_images_pass_with_trailing_bytes_where_decoders_ignore_them(harness: Harness) -> None:
    from PIL import Image

    thumb = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "camera"
    # A JPEG whose EXIF segment holds an end-of-image marker: the segment walk must step over it.
    Image.new("RGB", (64, 64), "red").save(thumb, "JPEG", exif=exif.tobytes() + b"\xff\xd9" * 4)
    images = [
        image_bytes("PNG") + b"trailing",
        image_bytes("JPEG") + b"a motion photo's video",
        thumb.getvalue(),
        image_bytes("WEBP"),
    ]
    harness("create_task", images, "p")
    assert len(harness.fake.calls("upload-stream")) == 4
    with pytest.raises(kie.InvalidInputError, match="truncated JPEG"):
        harness("create_task", [thumb.getvalue()[:-2]], "p")


# ------------------------------------------------------------------ http callbacks: loopback only (17.6)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000/cb", "http://127.9.8.7/cb", "http://[::1]:8000/cb", "http://localhost/cb"]
)
def test_http_callback_to_loopback_is_allowed_when_asked(make_harness, mode: str, url: str) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode, allow_http_callback=True)
    with pytest.warns(kie.LoopbackCallbackWarning):  # kie.ai itself could not reach it (issue 17)
        h("create_task", [GOOD], "p", callback_url=url)
    assert len(h.fake.calls("create")) == 1


@pytest.mark.parametrize(
    "url",
    ["http://me.example/cb", "http://10.0.0.5/cb", "http://localhost.evil.example/cb", "http://[::2]/cb"],
)
def test_http_callback_elsewhere_stays_refused(make_harness, mode: str, url: str) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode, allow_http_callback=True)
    with pytest.raises(kie.InvalidInputError) as caught:
        h("create_task", [GOOD], "p", callback_url=url)
    assert caught.value.field == "callback_url"
    assert "only to loopback hosts" in str(caught.value)
    assert h.fake.requests == []


def test_an_upload_file_name_that_is_not_text_is_refused_before_sending() -> None:
    sample = Path(__file__).resolve().parent.parent / "examples" / "samples" / "person.png"
    with Emulator(schedule=Schedule.instant()) as emulator, emulator.client() as client:
        with pytest.raises(kie.InvalidInputError, match="file_name"):
            client.upload(sample, file_name="caf\udce9.png")
        assert emulator.call_count("upload-file-stream") == 0
