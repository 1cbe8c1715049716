"""``run(model, input={...})``: any model with its own fields, media fields taking local files, nested
fields checked by path, results of any kind (issue 23 items 3-5)."""

from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from fake_kie import FILES, Harness, envelope, image_bytes, record

import kie_gpt_image as kie
from kie_gpt_image import _api
from kie_gpt_image._download import FileSink, MemorySink, check_download_caps
from kie_gpt_image._inputs import check_media, check_run
from kie_gpt_image._media import accepts, sniff_media_type
from kie_gpt_image._schema import check_schema
from kie_gpt_image.emulator import Emulator, Schedule

# ------------------------------------------------------------------------- small real-looking files


def mp4(brand: bytes = b"isom") -> bytes:
    return struct.pack(">I", 24) + b"ftyp" + brand + b"\0\0\0\0" + b"isommp41" + b"\0" * 40


def wav() -> bytes:
    data = b"\0\0" * 64
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + (b"data" + struct.pack("<I", len(data)) + data)
    )


MEDIA = {
    "video/mp4": mp4(),
    "video/quicktime": mp4(b"qt  "),
    "audio/mp4": mp4(b"M4A "),
    "video/webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\0" * 40,
    "video/x-matroska": b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska" + b"\0" * 40,
    "audio/wav": wav(),
    "audio/mpeg": b"ID3\x04\0\0\0\0\0\0" + b"\xff\xfb\x90\x00" * 16,
    "audio/ogg": b"OggS\0\x02" + b"\0" * 58,
    "audio/flac": b"fLaC\0\0\0\x22" + b"\0" * 56,
    "audio/aac": b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\0" * 57,
    "image/png": image_bytes("PNG"),
}


@pytest.mark.parametrize(("mime", "data"), MEDIA.items())
def test_media_types_come_from_the_magic_bytes(mime: str, data: bytes) -> None:
    sniffed = sniff_media_type(data[:64])
    assert sniffed is not None
    assert sniffed[0] == mime


def test_the_documents_aliases_name_one_type() -> None:
    assert accepts(("audio/mp3",), "audio/mpeg")
    assert accepts(("audio/x-wav",), "audio/wav")
    assert accepts(("image/jpg",), "image/jpeg")
    assert accepts(("video/x-matroska",), "video/webm")
    assert not accepts(("video/mp4",), "audio/mpeg")


def _field(name: str, type_: str, **given: Any) -> _api.FieldSpec:
    """A catalog field with the defaults of a plain one and ``given`` (``media``, limits, ...)."""
    base: dict[str, Any] = {f.name: None for f in dataclasses.fields(_api.FieldSpec)}
    base.update(name=name, type=type_, required=False, has_default=False, description="", schema={})
    base.update(given)
    return _api.FieldSpec(**base)


def test_a_video_field_takes_a_local_video_and_refuses_an_image(tmp_path: Path) -> None:
    field = _field("video_url", "string", media="video", mime_types=("video/mp4", "video/quicktime"))
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(MEDIA["video/mp4"])
    checked = check_media(field, clip)
    assert not isinstance(checked, (str, list))
    assert (checked.mime_type, checked.name) == ("video/mp4", "clip.mp4")
    with pytest.raises(kie.InvalidInputError, match=r"video_url: not a supported video .*it is image/png"):
        check_media(field, MEDIA["image/png"])
    with pytest.raises(kie.InvalidInputError, match="video_url: takes one video"):
        check_media(field, [clip, clip])


def test_an_audio_field_states_its_size_limit(tmp_path: Path) -> None:
    field = _field("audio_url", "string", media="audio", max_file_bytes=100, mime_types=("audio/wav",))
    with pytest.raises(kie.InvalidInputError, match=r"over kie\.ai's limit of 100 bytes per audio"):
        check_media(field, ("voice.wav", MEDIA["audio/wav"]))


def test_an_array_media_field_takes_one_file_or_a_list(tmp_path: Path) -> None:
    field = _field("image_urls", "array", media="image", items_type="string", max_items=2)
    assert isinstance(check_media(field, image_bytes()), list)
    assert len(check_media(field, [image_bytes(), "https://example.com/a.png"])) == 2
    with pytest.raises(kie.InvalidInputError, match="image_urls: 3 given"):
        check_media(field, [image_bytes()] * 3)
    with pytest.raises(kie.InvalidInputError, match=r"image_urls\[1\]: empty file"):
        check_media(field, [image_bytes(), b""])


MULTI_PROMPT = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["prompt", "duration"],
        "properties": {
            "prompt": {"type": "string", "minLength": 1},
            "duration": {"type": "integer", "minimum": 1},
        },
    },
}


@pytest.mark.parametrize(
    ("value", "path", "problem"),
    [
        ([{}], "multi_prompt[0].prompt", "is required"),
        (
            [{"prompt": "a", "duration": 2}, {"prompt": "", "duration": 2}],
            "multi_prompt[1].prompt",
            "at least 1",
        ),
        ([{"prompt": "a", "duration": 0}], "multi_prompt[0].duration", "below the minimum"),
        ([{"prompt": "a", "duration": "2"}], "multi_prompt[0].duration", "must be integer"),
        (["a"], "multi_prompt[0]", "must be object"),
    ],
)
def test_nested_items_are_checked_by_path(value: Any, path: str, problem: str) -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        check_schema("multi_prompt", value, MULTI_PROMPT)
    assert caught.value.field == path
    assert problem in caught.value.problem


@pytest.mark.parametrize(
    ("model", "input", "path"),
    [
        ("elevenlabs/text-to-dialogue-v3", {"dialogue": [{}]}, "dialogue[0].text"),
        (
            "elevenlabs/text-to-dialogue-v3",
            {"dialogue": [{"text": "hi", "voice": "nobody"}]},
            "dialogue[0].voice",
        ),
        (
            "wan/2-7-image",
            {"prompt": "p", "color_palette": [{"hex": "red", "ratio": "10.00%"}] * 3},
            "color_palette[0].hex",
        ),
    ],
)
def test_nested_items_of_the_catalogue_are_checked_before_any_upload(
    emulator: Emulator, model: str, input: dict[str, Any], path: str
) -> None:
    with emulator, emulator.client() as client, pytest.raises(kie.InvalidInputError) as caught:
        client.run(model, input=input)
    assert caught.value.field == path
    assert emulator.exchanges == []


def test_one_of_takes_a_value_matching_a_branch() -> None:
    schema = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    check_schema("input", "a", schema)
    check_schema("input", ["a"], schema)
    with pytest.raises(kie.InvalidInputError, match="input"):
        check_schema("input", 3, schema)


# ------------------------------------------------------------------------- run() on the emulator


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(schedule=Schedule.instant())


def test_run_uploads_a_local_file_and_returns_the_files(emulator: Emulator, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes())
    with emulator, emulator.client() as client:
        result = client.run(
            "gpt-image-2-image-to-image", input={"prompt": "make it blue", "input_urls": [photo]}
        )
        assert isinstance(result, kie.RunResult)
        assert isinstance(result.files[0], kie.ResultFile)
        assert result.data["resultUrls"] == list(result.urls)
        paths = result.save(tmp_path / "out/")
    assert paths[0].suffix == ".png"
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    creates = [e for e in emulator.exchanges if e.request.url.path == "/api/v1/jobs/createTask"]
    body = json.loads(creates[0].request.content)
    assert body["input"]["input_urls"][0].startswith("https://")


@pytest.mark.anyio
async def test_async_run_without_waiting_returns_the_task(emulator: Emulator) -> None:
    with emulator:
        async with emulator.async_client() as client:
            task = await client.run("gpt-image-2-text-to-image", input={"prompt": "a fox"}, wait=False)
            assert isinstance(task, kie.Task)
            result = await client.run("gpt-image-2-text-to-image", input={"prompt": "a fox"})
            assert isinstance(result, kie.AsyncRunResult)
            assert (await result.bytes())[0].startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("model", "input", "field", "message"),
    [
        ("gpt-image-2-text-to-imag", {"prompt": "x"}, "model", "did you mean 'gpt-image-2-text-to-image'"),
        (
            "gpt-image-2-text-to-image",
            {"prompt": "x", "aspect_ration": "1:1"},
            "aspect_ration",
            "did you mean",
        ),
        ("gpt-image-2-text-to-image", {}, "prompt", "is required"),
        ("gpt-image-2-text-to-image", {"prompt": "x", "resolution": "8K"}, "resolution", "not one of"),
        (
            "gpt-image-2-image-to-image",
            {"prompt": "x", "input_urls": ["missing.png"]},
            "input_urls[0]",
            "cannot read",
        ),
        (
            "gpt-image-2-image-to-image",
            {"prompt": "x", "input_urls": [b"GIF89a"]},
            "input_urls[0]",
            "not a supported image",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    emulator: Emulator, model: str, input: dict[str, Any], field: str, message: str
) -> None:
    with emulator, emulator.client() as client:
        with pytest.raises(kie.InvalidInputError) as caught:
            client.run(model, input=input)
    assert caught.value.field == field
    assert message in str(caught.value)
    assert emulator.exchanges == []


def test_validate_false_sends_the_input_as_given_and_uploads_local_paths(
    emulator: Emulator, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes())
    with emulator, emulator.client() as client:
        with pytest.raises(kie.APIError):  # the emulator knows no such model: 422, after the upload
            client.run(
                "brand-new/model", input={"image": photo, "strength": 0.5, "x": "photo.png"}, validate=False
            )
    creates = [e for e in emulator.exchanges if e.request.url.path == "/api/v1/jobs/createTask"]
    body = json.loads(creates[0].request.content)
    assert body["model"] == "brand-new/model"
    assert body["input"]["image"].startswith("https://")
    assert body["input"]["strength"] == 0.5
    assert body["input"]["x"] == "photo.png"  # a string is never guessed to be a file


def test_edit_goes_through_the_run_path() -> None:
    plan = check_run(
        "gpt-image-2-image-to-image", {"prompt": "p", "input_urls": ["https://example.com/a.png"]}
    )
    assert plan.media == ("input_urls",)
    assert plan.with_urls(["https://h/u.png"]) == {"prompt": "p", "input_urls": ["https://h/u.png"]}


# ------------------------------------------------------------------------- results of any kind


def test_a_data_result_does_not_fail_the_wait(harness: Harness) -> None:
    data = record("success", urls=[], resultJson=json.dumps({"character_id": "char_1"}))
    harness.fake.script("record", envelope(data=data))
    info = harness("wait", "task_1").info
    result_class = kie.RunResult if harness.mode == "sync" else kie.AsyncRunResult
    result = result_class.from_info(info, harness.client)  # type: ignore[arg-type]
    assert result.data == {"character_id": "char_1"}
    assert result.files == ()
    assert harness.run(result.save("out/")) == []


def test_a_video_result_is_saved_with_its_suffix_under_the_video_cap(tmp_path: Path) -> None:
    caps = check_download_caps({"image": 10})
    sink = FileSink(f"{FILES}/r/x.png", caps, tmp_path / "task-0.png", by_content=True)
    sink.start(200, {"content-length": str(len(MEDIA["video/mp4"]))})
    sink.write(MEDIA["video/mp4"])
    sink.finish()
    assert sink.path.name == "task-0.mp4"
    assert sink.path.read_bytes() == MEDIA["video/mp4"]


def test_the_cap_of_the_contents_kind_applies() -> None:
    sink = MemorySink(f"{FILES}/r/x", check_download_caps({"image": 100}))
    sink.start(200, {})
    with pytest.raises(kie.ResultTooLargeError, match="100-byte cap"):
        sink.write(image_bytes() + b"\0" * 200)
    with pytest.raises(kie.InvalidInputError, match="max_download_bytes"):
        check_download_caps({"film": 3})


def test_a_body_that_is_no_media_file_is_refused() -> None:
    sink = MemorySink(f"{FILES}/r/x", 1000)
    sink.start(200, {})
    with pytest.raises(kie.DownloadError, match="did not return an image, video or audio file"):
        sink.write(b"<html>" + b" " * 100)
