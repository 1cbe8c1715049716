"""Every model of the generated catalog, end to end at the emulator: a body valid for its document is
accepted, recordInfo answers the model's result shape, and the result file is of the model's media kind
(by magic bytes); bodies that break the document are answered 422 as kie.ai does."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from emulator_support import FakeClock, make_client, png_bytes

from kie_gpt_image import _api
from kie_gpt_image.emulator import Emulator, Schedule
from kie_gpt_image.emulator._media import tiny_mp4, tiny_wav

MODELS = _api.model_specs()
CREATE = "/api/v1/jobs/createTask"


def _mp3() -> bytes:
    # One MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz: 417 bytes) of silence: all-zero side info.
    return b"\xff\xfb\x90\x64" + bytes(413)


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 32), (20, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


# A small file of each kind and type a media field may accept, the first accepted one used.
_FILES: Mapping[str, list[tuple[str, str, Any]]] = {
    "image": [("image/png", "in.png", png_bytes), ("image/jpeg", "in.jpg", _jpeg)],
    "video": [("video/mp4", "in.mp4", lambda: tiny_mp4("input"))],
    "audio": [("audio/wav", "in.wav", lambda: tiny_wav("input")), ("audio/mpeg", "in.mp3", _mp3)],
}
_ALIASES = {"audio/x-wav": "audio/wav", "audio/mp3": "audio/mpeg", "image/jpg": "image/jpeg"}


def _kind_of(content: bytes) -> str | None:
    """The media kind of a result by its magic bytes (the library's image sniffing is not ours to extend)."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") or content.startswith(b"\xff\xd8\xff"):
        return "image"
    if content[4:8] == b"ftyp":
        return "video"
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        return "audio"
    return None


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    # One emulator for the module (no limits to trip, tiny images): each test makes its own tasks.
    with Emulator(
        schedule=Schedule.instant(),
        clock=FakeClock(),
        credits=10**9,
        rate_limit=10**6,
        max_running=10**6,
        poll_limit=10**6,
        max_image_side=64,
    ) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with make_client(emu) as client:
        yield client


def _upload(http: httpx.Client, emu: Emulator, media: str, accepted: tuple[str, ...] | None) -> str:
    wanted = {_ALIASES.get(m, m) for m in accepted or ()}
    choices = _FILES[media]
    mime, name, make = next((c for c in choices if not wanted or c[0] in wanted), choices[0])
    reply = http.post(
        f"{emu.upload_base_url}/api/file-stream-upload",
        files={"file": (name, make(), mime)},
        data={"uploadPath": f"tests/{media}"},
    )
    return str(reply.json()["data"]["downloadUrl"])


def _value(schema: Mapping[str, Any]) -> Any:
    """A value valid for ``schema``: its enum's first, its default, else the smallest of its type."""
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for alternative in schema.get("oneOf") or schema.get("anyOf") or ():
        return _value(alternative)
    kind = schema.get("type")
    if kind == "string":
        return "x" * max(int(schema.get("minLength", 0)), min(12, int(schema.get("maxLength", 12))))
    if kind in ("integer", "number"):
        low = schema.get("minimum", 1)
        return int(low) if kind == "integer" else low
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value(schema.get("items", {"type": "string"}))] * max(1, int(schema.get("minItems", 1)))
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _value(properties.get(name, {"type": "string"})) for name in schema.get("required", ())}
    return "x"


def _valid_input(http: httpx.Client, emu: Emulator, model: str) -> dict[str, Any]:
    """The required fields of ``model`` (a prompt a prompt, each media field an uploaded file of its kind)."""
    spec = MODELS[model]
    values: dict[str, Any] = {}
    for field in spec.fields:
        if not field.required:
            continue
        if field.media is not None:
            url = _upload(http, emu, field.media, field.mime_types)
            values[field.name] = [url] * max(1, field.min_items or 1) if field.type == "array" else url
        elif field.name == spec.prompt_field:
            values[field.name] = "a small test"
        else:
            values[field.name] = _value(field.schema)
    return values


def _create(http: httpx.Client, emu: Emulator, model: str, values: Mapping[str, Any]) -> httpx.Response:
    return http.post(f"{emu.base_url}{CREATE}", json={"model": model, "input": dict(values)})


def test_the_catalog_holds_models_of_every_output() -> None:
    outputs = {spec.output for spec in MODELS.values()}
    assert outputs == {"image", "video", "audio", "data"}


@pytest.mark.parametrize("model", list(MODELS))
def test_every_model_runs_end_to_end(http: httpx.Client, emu: Emulator, model: str) -> None:
    spec = MODELS[model]
    created = _create(http, emu, model, _valid_input(http, emu, model))
    assert created.json()["code"] == 200, created.json()
    task_id = created.json()["data"]["taskId"]
    record = http.get(f"{emu.base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()["data"]
    assert (record["state"], record["model"]) == ("success", model)
    result = json.loads(record["resultJson"])
    if spec.output == "data":
        assert "resultUrls" not in result
        assert result, "a data result is a non-empty object"
        return
    (url,) = result["resultUrls"]
    download = http.get(url)
    assert download.status_code == 200
    assert _kind_of(download.content) == spec.output
    assert download.headers["content-type"].startswith(f"{spec.output}/")


def test_a_data_result_is_shaped_like_its_documents_example(http: httpx.Client, emu: Emulator) -> None:
    # sora-2-characters' page: "the `resultJson` field contains: {"character_id": "example_123456789"}".
    model = "sora-2-characters"
    if model not in MODELS:
        pytest.skip("the catalog has no sora-2-characters")  # pragma: no cover - it ships in openapi/
    created = _create(http, emu, model, _valid_input(http, emu, model)).json()["data"]["taskId"]
    record = emu.task_record(created)
    assert record is not None
    result = json.loads(record["resultJson"])
    assert list(result) == ["character_id"]
    assert isinstance(result["character_id"], str)
    assert created.rpartition("_")[2] in result["character_id"]  # one id per task


def _first(predicate: Any) -> tuple[str, Any]:
    for model, spec in MODELS.items():
        for field in spec.fields:
            if predicate(spec, field):
                return model, field
    raise AssertionError("no model in the catalog fits")  # pragma: no cover


def _rejected(reply: httpx.Response) -> str:
    body = reply.json()
    assert body["code"] == 422, body
    assert body["data"] is None
    return str(body["msg"])


def test_a_missing_required_field_is_answered_422(http: httpx.Client, emu: Emulator) -> None:
    model, field = _first(
        lambda spec, field: field.required and field.media is None and spec.prompt_field is None
    )
    values = _valid_input(http, emu, model)
    del values[field.name]
    assert _rejected(_create(http, emu, model, values)) == f"input.{field.name} is required"


def test_a_value_outside_the_enum_is_answered_422(http: httpx.Client, emu: Emulator) -> None:
    model, field = _first(lambda spec, field: field.enum is not None and field.type == "string")
    values = {**_valid_input(http, emu, model), field.name: "no such value"}
    assert _rejected(_create(http, emu, model, values)).startswith(f"input.{field.name} must be one of")


def test_a_media_url_string_of_the_wrong_kind_is_answered_422(http: httpx.Client, emu: Emulator) -> None:
    model, field = _first(
        lambda spec, field: field.required and field.media in ("video", "audio") and field.type == "string"
    )
    image = _upload(http, emu, "image", None)
    values = {**_valid_input(http, emu, model), field.name: image}
    message = _rejected(_create(http, emu, model, values))
    assert message.startswith(f"input.{field.name} is image/png")


def test_a_media_field_naming_a_missing_upload_is_answered_422(http: httpx.Client, emu: Emulator) -> None:
    model, field = _first(lambda spec, field: field.required and field.media is not None)
    url = f"{emu.files_base_url}/kieai/market/tests/never-uploaded.bin"
    values = {**_valid_input(http, emu, model), field.name: [url] if field.type == "array" else url}
    assert "no file at" in _rejected(_create(http, emu, model, values))


def test_a_nested_item_is_checked_against_its_schema(http: httpx.Client, emu: Emulator) -> None:
    def nested(spec: Any, field: Any) -> bool:
        items = field.schema.get("items", {})
        return field.type == "array" and items.get("type") == "object" and bool(items.get("required"))

    model, field = _first(nested)
    item_schema = field.schema["items"]
    missing = item_schema["required"][0]
    item = {
        name: _value(item_schema["properties"][name]) for name in item_schema["required"] if name != missing
    }
    values = {**_valid_input(http, emu, model), field.name: [item]}
    assert _rejected(_create(http, emu, model, values)) == f"input.{field.name}[0].{missing} is required"


def test_a_model_without_a_prompt_runs_without_one(http: httpx.Client, emu: Emulator) -> None:
    model = next(
        model for model, spec in MODELS.items() if spec.prompt_field is None and spec.output != "data"
    )
    values = _valid_input(http, emu, model)
    assert "prompt" not in values
    assert _create(http, emu, model, values).json()["code"] == 200


def test_result_files_are_small(http: httpx.Client, emu: Emulator) -> None:
    for output in ("video", "audio"):
        model = next(model for model, spec in MODELS.items() if spec.output == output)
        task_id = _create(http, emu, model, _valid_input(http, emu, model)).json()["data"]["taskId"]
        record = emu.task_record(task_id)
        assert record is not None
        (url,) = json.loads(record["resultJson"])["resultUrls"]
        assert len(http.get(url).content) < 20_000
