"""Every task model of the catalogue, end to end through ``run()`` against the emulator (issue 23 item 8).

The catalogue is the one ``scripts/regenerate`` wrote from ``openapi/`` (never ../shared): each model gets
the input its document requires, a small local file in every media field (a PNG for images; a minimal
MP4 or WAV for video and audio), and must come back as its document's kind of result.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fake_kie import image_bytes

import kie_gpt_image as kie
from kie_gpt_image import _api
from kie_gpt_image._media import sniff_media_type
from kie_gpt_image.emulator import Emulator, Schedule


def _mp4() -> bytes:
    return struct.pack(">I", 24) + b"ftypisom\0\0\0\0isommp41" + struct.pack(">I", 8) + b"mdat"


def _wav() -> bytes:
    data = b"\0\0" * 800
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    made = {
        "image": ("in.png", image_bytes("PNG", (64, 64))),
        "video": ("in.mp4", _mp4()),
        "audio": ("in.wav", _wav()),
    }
    paths = {}
    for kind, (name, data) in made.items():
        paths[kind] = folder / name
        paths[kind].write_bytes(data)
    return paths


def _sample(schema: Mapping[str, Any], name: str) -> Any:
    """A small value the schema accepts (the document's default or first enum value when it has one)."""
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        return _sample(branches[0], name)
    kind = schema.get("type", "string")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "array":
        item = schema.get("items") or {"type": "string"}
        return [_sample(item, name) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: _sample(properties.get(key, {}), key) for key in schema.get("required") or ()}
    if schema.get("format") == "uri" or name.endswith("url"):
        return "https://example.com/input"
    return "a small test " + "x" * max(0, int(schema.get("minLength", 0)) - 13)


def _value(field: _api.FieldSpec, files: Mapping[str, Path]) -> Any:
    media = _api.field_media(field)
    if media is not None:
        path = files[media]
        return [path] * max(1, field.min_items or 1) if field.type == "array" else path
    if field.enum:
        return field.default if field.has_default else field.enum[0]
    schema = _api.field_schema(field) or {"type": field.type}
    if field.type == "string" and field.min_length:
        return "x" * field.min_length
    if field.type in ("integer", "number") and field.minimum is not None:
        return field.minimum if field.type == "number" else int(field.minimum)
    return _sample(schema, field.name)


def _input(spec: _api.ModelSpec, files: Mapping[str, Path]) -> dict[str, Any]:
    given = {}
    for field in spec.fields:
        if field.name == _api.prompt_field(spec):
            given[field.name] = "a small test"
        elif _api.field_media(field) is not None or (field.required and not field.has_default):
            given[field.name] = _value(field, files)
    return given


def _models() -> Iterator[str]:
    return iter(_api.MODELS)


@pytest.mark.parametrize("model", list(_models()))
def test_every_model_runs_end_to_end(model: str, files: dict[str, Path], tmp_path: Path) -> None:
    spec = _api.MODELS[model]
    with Emulator(schedule=Schedule.instant()) as emulator, emulator.client() as client:
        result = client.run(model, input=_input(spec, files))
        saved = result.save(tmp_path / "out/")
    creates = [e for e in emulator.exchanges if e.request.url.path == "/api/v1/jobs/createTask"]
    sent = json.loads(creates[0].request.content)["input"]
    assert ("prompt" in sent) == (_api.prompt_field(spec) is not None)  # prompt-less models get none
    for field in _api.media_fields(spec):  # every local file was uploaded: kie.ai gets URLs only
        urls = sent[field.name] if field.type == "array" else [sent[field.name]]
        assert all(url.startswith("https://") for url in urls), field.name
    output = _api.model_output(spec)
    if output == "data":
        assert result.data
        return
    assert saved, f"{model}: no result file"
    for path in saved:
        sniffed = sniff_media_type(path.read_bytes()[:64])
        assert sniffed is not None
        assert sniffed[0].split("/")[0] == output
        assert path.suffix == sniffed[1]
    assert isinstance(result, kie.RunResult)
