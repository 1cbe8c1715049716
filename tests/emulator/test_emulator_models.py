"""The GPT Image models of the generated catalog in depth: createTask validates against each one's document,
the result PNG has that model's size, recordInfo echoes the model and body; a regenerated new model is
served. (Every model of the catalog, whatever its media, runs end to end in test_emulator_catalog.py.)"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_support import png_bytes, png_data_url
from PIL import Image

from kie_api.models_catalog import MODELS as CATALOG
from kie_api.models_catalog import ModelSpec
from kie_gpt_image.emulator import Emulator, Schedule, size_for
from kie_gpt_image.emulator._run import add_options, announcement, emulator_from_options

ROOT = Path(__file__).resolve().parents[2]
CheckExchange = Callable[[httpx.Request, httpx.Response | None], None]
Checked = Callable[[httpx.Response], httpx.Response]

I2I_15, T2I_15 = "gpt-image/1.5-image-to-image", "gpt-image/1.5-text-to-image"
I2I_2, T2I_2 = "gpt-image-2-image-to-image", "gpt-image-2-text-to-image"
GPT_IMAGE_2 = [I2I_2, T2I_2]
GPT_IMAGE = [I2I_15, T2I_15, I2I_2, T2I_2]
GPT_IMAGE_EDIT = [I2I_15, I2I_2]
# The GPT Image models these tests were written for (image results, a prompt, `input_urls`); every other
# market model of openapi/ is served as issue 23 item 7 describes, tested in test_emulator_catalog.py.
MODELS = {model: spec for model, spec in CATALOG.items() if model in GPT_IMAGE}


def test_the_catalog_holds_the_four_gpt_image_models() -> None:
    # The parametrized tests below run over these four.
    assert {I2I_15, T2I_15, I2I_2, T2I_2} <= set(MODELS)


def _upload(http: httpx.Client, emu: Emulator, content: bytes, name: str = "in.png") -> str:
    reply = http.post(
        f"{emu.upload_base_url}/api/file-base64-upload",
        json={"base64Data": png_data_url(content), "uploadPath": "in", "fileName": name},
    )
    return str(reply.json()["data"]["downloadUrl"])


def valid_body(spec: ModelSpec, image_url: str, **options: Any) -> dict[str, Any]:
    """A body the model's document accepts: its required fields (a default or the first enum value), the
    prompt, one input image when it takes images, plus ``options``."""
    values: dict[str, Any] = {}
    for field in spec.fields:
        if field.name == spec.image_field:
            values[field.name] = [image_url]
        elif field.name == "prompt":
            values[field.name] = "a lighthouse at dusk"
        elif field.required:
            values[field.name] = field.default if field.has_default else (field.enum or ("x",))[0]
    return {"model": spec.model, "input": {**values, **options}}


def _create(http: httpx.Client, emu: Emulator, body: object) -> httpx.Response:
    return http.post(f"{emu.base_url}/api/v1/jobs/createTask", json=body)


def _record(http: httpx.Client, emu: Emulator, task_id: str) -> dict[str, Any]:
    reply = http.get(f"{emu.base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id})
    return reply.json()["data"]  # type: ignore[no-any-return]


def _result_size(http: httpx.Client, emu: Emulator, body: dict[str, Any]) -> tuple[int, int]:
    created = _create(http, emu, body).json()
    assert created["code"] == 200, created
    record = _record(http, emu, created["data"]["taskId"])
    assert record["state"] == "success"
    (url,) = json.loads(record["resultJson"])["resultUrls"]
    reply = http.get(url)
    assert (reply.status_code, reply.headers["content-type"]) == (200, "image/png")
    with Image.open(io.BytesIO(reply.content)) as image:
        assert image.format == "PNG"
        return image.size


def _assert_422(reply: httpx.Response, emu: Emulator, *words: str) -> None:
    # kie.ai's validation error: HTTP 200, code 422 in the envelope, data null; nothing charged.
    body = reply.json()
    assert (reply.status_code, body["code"], body["data"]) == (200, 422, None), body
    for word in words:
        assert word in body["msg"], body["msg"]
    assert emu.credits == 1000
    assert emu.create_times == []


# -- the GPT Image models ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", GPT_IMAGE)
def test_a_valid_create_succeeds_and_recordinfo_echoes_model_and_body(
    emulator: Emulator, http: httpx.Client, checked: Checked, model: str
) -> None:
    spec = MODELS[model]
    body = valid_body(spec, _upload(http, emulator, png_bytes(size=(80, 80))))
    body["callBackUrl"] = "http://127.0.0.1:9/callback"
    created = checked(_create(http, emulator, body)).json()
    assert created["code"] == 200
    record = _record(http, emulator, created["data"]["taskId"])
    assert record["model"] == model
    assert json.loads(record["param"]) == body
    width, height = _result_size(http, emulator, body)
    ratio = body["input"].get("aspect_ratio", "1:1")  # "auto": the square input's (or 1:1) proportions
    w, h = (int(part) for part in ratio.split(":"))
    assert abs(width / height - w / h) < 0.01


@pytest.mark.parametrize("model", GPT_IMAGE)
def test_a_value_outside_an_enum_is_422(emulator: Emulator, http: httpx.Client, model: str) -> None:
    spec = MODELS[model]
    enum_fields = [field for field in spec.fields if field.enum]
    assert enum_fields, "every published model has an enum option"
    for field in enum_fields:
        body = valid_body(spec, "https://example.com/a.png", **{field.name: "not-a-value"})
        _assert_422(_create(http, emulator, body), emulator, f"input.{field.name}", "not-a-value")


@pytest.mark.parametrize("model", GPT_IMAGE)
@pytest.mark.parametrize("prompt", [None, "", "   ", 7])
def test_a_missing_or_empty_prompt_is_422(
    emulator: Emulator, http: httpx.Client, model: str, prompt: object
) -> None:
    body = valid_body(MODELS[model], "https://example.com/a.png")
    if prompt is None:
        del body["input"]["prompt"]
    else:
        body["input"]["prompt"] = prompt
    _assert_422(_create(http, emulator, body), emulator, "input.prompt")


@pytest.mark.parametrize("model", GPT_IMAGE_EDIT)
def test_too_many_images_is_422_and_the_maximum_is_accepted(
    emulator: Emulator, http: httpx.Client, model: str
) -> None:
    spec = MODELS[model]
    assert spec.image_field is not None
    field = spec.field(spec.image_field)
    assert field is not None
    assert field.max_items == 16  # both published image-to-image documents say 16
    body = valid_body(spec, "")
    body["input"][spec.image_field] = ["https://example.com/a.png"] * 17
    _assert_422(_create(http, emulator, body), emulator, "at most 16")
    body["input"][spec.image_field] = ["https://example.com/a.png"] * 16
    assert _create(http, emulator, body).json()["code"] == 200


@pytest.mark.parametrize("model", GPT_IMAGE_EDIT)
@pytest.mark.parametrize("urls", [None, "https://example.com/a.png", ["not a url"], [3]])
def test_image_urls_must_be_a_list_of_http_urls(
    emulator: Emulator, http: httpx.Client, model: str, urls: object
) -> None:
    spec = MODELS[model]
    assert spec.image_field is not None
    body = valid_body(spec, "")
    if urls is None:
        del body["input"][spec.image_field]
    else:
        body["input"][spec.image_field] = urls
    _assert_422(_create(http, emulator, body), emulator, f"input.{spec.image_field}")


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-image/9-image-to-image", "input": {"prompt": "p", "input_urls": []}},
        {"model": 15, "input": {"prompt": "p"}},
        {"input": {"prompt": "p"}},
        {"model": "gpt-image-2-text-to-image"},
        {"model": "gpt-image-2-text-to-image", "input": "a cat"},
        ["gpt-image-2-text-to-image"],
    ],
)
def test_an_unknown_model_or_a_malformed_body_is_422(
    emulator: Emulator, http: httpx.Client, body: object
) -> None:
    _assert_422(_create(http, emulator, body), emulator)


def test_the_unknown_model_reply_names_the_models_it_serves(emulator: Emulator, http: httpx.Client) -> None:
    reply = _create(http, emulator, {"model": "gpt-image/9", "input": {"prompt": "p"}})
    _assert_422(reply, emulator, "'gpt-image/9'", *MODELS)


# -- what gpt-image-2's documents add ---------------------------------------------------------------


@pytest.mark.parametrize("model", GPT_IMAGE_2)
def test_prompt_length_follows_the_documented_20000_characters(
    emulator: Emulator, http: httpx.Client, model: str
) -> None:
    body = valid_body(MODELS[model], "https://example.com/a.png", prompt="x" * 20_001)
    _assert_422(_create(http, emulator, body), emulator, "at most 20000 characters")
    body["input"]["prompt"] = "x" * 20_000
    assert _create(http, emulator, body).json()["code"] == 200


@pytest.mark.parametrize("model", GPT_IMAGE_2)
@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"aspect_ratio": "1:1", "resolution": "4K"}, ["4K", "1:1"]),
        ({"aspect_ratio": "auto", "resolution": "2K"}, ["2K", "auto"]),
        ({"resolution": "4K"}, ["4K", "auto"]),  # no ratio is auto: 1K only
        ({"resolution": 2}, ["input.resolution"]),
        ({"aspect_ratio": "5:4"}, ["input.aspect_ratio", "5:4"]),
    ],
)
def test_resolution_rules_of_the_gpt_image_2_pages_are_422(
    emulator: Emulator, http: httpx.Client, model: str, options: dict[str, Any], words: list[str]
) -> None:
    body = valid_body(MODELS[model], "https://example.com/a.png", **options)
    _assert_422(_create(http, emulator, body), emulator, *words)


# Expected sizes (what a user downloads): gpt-image-2's resolution is the long side (1K/2K/4K =
# 1024/2048/4096), scaled down to the emulator's default cap of 1536 with the ratio's proportions kept.
GPT_IMAGE_2_SIZES = [
    ({"aspect_ratio": "1:1", "resolution": "1K"}, (1024, 1024)),
    ({"aspect_ratio": "16:9", "resolution": "1K"}, (1024, 576)),
    ({"aspect_ratio": "9:16"}, (576, 1024)),  # no resolution: 1K
    ({"aspect_ratio": "4:3", "resolution": "2K"}, (1536, 1152)),  # 2048x1536, capped
    ({"aspect_ratio": "3:4", "resolution": "4K"}, (1152, 1536)),  # 3072x4096, capped
    ({"aspect_ratio": "16:9", "resolution": "2K"}, (1536, 864)),  # 2048x1152, capped
    ({"aspect_ratio": "1:1", "resolution": "2K"}, (1536, 1536)),
]


@pytest.mark.parametrize("model", GPT_IMAGE_2)
@pytest.mark.parametrize(("options", "size"), GPT_IMAGE_2_SIZES)
def test_gpt_image_2_renders_the_ratio_and_resolution(
    emulator: Emulator,
    http: httpx.Client,
    checked: Checked,
    model: str,
    options: dict[str, Any],
    size: tuple[int, int],
) -> None:
    body = valid_body(MODELS[model], _upload(http, emulator, png_bytes(size=(30, 90))), **options)
    checked(_create(http, emulator, body))
    assert _result_size(http, emulator, body) == size


def test_auto_takes_the_input_image_proportions_or_square_without_images(
    emulator: Emulator, http: httpx.Client
) -> None:
    landscape = _upload(http, emulator, png_bytes(size=(64, 48)), "landscape.png")
    portrait = _upload(http, emulator, png_bytes(size=(50, 100)), "portrait.png")
    i2i, t2i = MODELS[I2I_2], MODELS[T2I_2]
    assert _result_size(http, emulator, valid_body(i2i, landscape, aspect_ratio="auto")) == (1024, 768)
    assert _result_size(http, emulator, valid_body(i2i, portrait)) == (512, 1024)  # no ratio: auto
    # The first input the emulator holds decides; a foreign URL (never fetched) is skipped.
    body = valid_body(i2i, "https://example.com/a.png")
    body["input"]["input_urls"].append(portrait)
    assert _result_size(http, emulator, body) == (512, 1024)
    assert _result_size(http, emulator, valid_body(i2i, "https://example.com/a.png")) == (1024, 1024)
    assert _result_size(http, emulator, valid_body(t2i, "", aspect_ratio="auto")) == (1024, 1024)
    assert _result_size(http, emulator, valid_body(t2i, "")) == (1024, 1024)


def test_the_image_cap_is_an_option(clock: Callable[[], float]) -> None:
    with (
        Emulator(schedule=Schedule.instant(), clock=clock, max_image_side=None) as full,
        httpx.Client(transport=full.transport, headers={"Authorization": f"Bearer {full.api_key}"}) as http,
    ):
        body = valid_body(MODELS[T2I_2], "", aspect_ratio="16:9", resolution="2K")
        assert _result_size(http, full, body) == (2048, 1152)
    with (
        Emulator(schedule=Schedule.instant(), clock=clock, max_image_side=512) as small,
        httpx.Client(transport=small.transport, headers={"Authorization": f"Bearer {small.api_key}"}) as http,
    ):
        body = valid_body(MODELS[I2I_15], "https://example.com/a.png", aspect_ratio="3:2")
        assert _result_size(http, small, body) == (512, 341)


def test_the_command_line_sets_the_cap_and_announces_the_models() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser)
    assert emulator_from_options(parser.parse_args(["--max-image-side", "0"]))[0].max_image_side is None
    assert emulator_from_options(parser.parse_args(["--max-image-side", "800"]))[0].max_image_side == 800
    emu, _ = emulator_from_options(parser.parse_args([]))
    assert emu.max_image_side == 1536
    with emu, emu.serve(port=0) as server:
        lines = announcement(emu, server)
    outputs = sorted({spec.output for spec in CATALOG.values()})
    counts = ", ".join(f"{sum(spec.output == kind for spec in CATALOG.values())} {kind}" for kind in outputs)
    assert f"  models           {len(CATALOG)} market models ({counts}); list: kie-gpt-image models" in lines


# -- gpt-image/1.5 --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [I2I_15, T2I_15])
@pytest.mark.parametrize(
    ("ratio", "size"), [("1:1", (1024, 1024)), ("3:2", (1536, 1024)), ("2:3", (1024, 1536))]
)
def test_gpt_image_15_renders_the_gpt_image_sizes(
    emulator: Emulator, http: httpx.Client, model: str, ratio: str, size: tuple[int, int]
) -> None:
    body = valid_body(MODELS[model], "https://example.com/a.png", aspect_ratio=ratio)
    assert _result_size(http, emulator, body) == size


def test_text_to_image_renders_without_input_images(emulator: Emulator, http: httpx.Client) -> None:
    body = valid_body(MODELS[T2I_15], "")
    assert "input_urls" not in body["input"]
    assert _result_size(http, emulator, body) == (1024, 1024)  # its documented default ratio, 1:1


@pytest.mark.parametrize("model", GPT_IMAGE_EDIT)
def test_an_input_url_on_the_emulator_host_must_name_a_file_it_holds(
    emulator: Emulator, http: httpx.Client, model: str
) -> None:
    body = valid_body(MODELS[model], f"{emulator.files_base_url}/kieai/market/in/missing.png")
    _assert_422(_create(http, emulator, body), emulator, "no file at")
    body = valid_body(MODELS[model], f"{emulator.files_base_url}/r/task_gpt-image_1.png")
    _assert_422(_create(http, emulator, body), emulator, "no file at")


def test_an_input_type_the_document_refuses_is_422(emulator: Emulator, http: httpx.Client) -> None:
    gif = http.post(
        f"{emulator.upload_base_url}/api/file-stream-upload",
        files={"file": ("a.gif", b"GIF89a" + b"\x00" * 32, "image/gif")},
        data={"uploadPath": "in"},
    ).json()["data"]["downloadUrl"]
    # gpt-image/1.5-image-to-image states "Accepted types: image/jpeg, image/png, image/webp".
    _assert_422(_create(http, emulator, valid_body(MODELS[I2I_15], gif)), emulator, "image/gif")
    # gpt-image-2-image-to-image states no types: the emulator has no reason to refuse it.
    assert _create(http, emulator, valid_body(MODELS[I2I_2], gif)).json()["code"] == 200


def test_size_for_falls_back_to_the_ratio_proportions() -> None:
    assert size_for("5:4") == (1024, 819)
    assert size_for("5:4", "2K") == (2048, 1638)
    assert size_for("21:9", "1K", max_side=512) == (512, 219)
    assert size_for("auto", input_size=(300, 200)) == (1024, 683)
    assert size_for(None) == (1024, 1024)
    assert size_for("3:2", "8K", max_side=None) == (8192, 5461)
    for junk in ("weird", "0:0", "1:0", "nan:1", "", "-1:2", "1:2:3"):
        assert size_for(junk) == (1024, 1024), junk
    assert size_for("4:3", "huge") == (1024, 768)


# -- a model added to openapi/ and regenerated ------------------------------------------------------

_NEW_MODEL_PROBE = """
import io, json, httpx
from PIL import Image
from kie_gpt_image.emulator import Emulator, Schedule
with Emulator(schedule=Schedule.instant()) as emu, httpx.Client(
    transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}
) as http:
    def create(inp):
        body = {"model": "acme/poster-v1", "input": inp}
        return http.post(f"{emu.base_url}/api/v1/jobs/createTask", json=body).json()
    good = create({"prompt": "a poster", "aspect_ratio": "5:4", "guidance": 3})
    record = http.get(f"{emu.base_url}/api/v1/jobs/recordInfo", params={"taskId": good["data"]["taskId"]})
    data = record.json()["data"]
    url = json.loads(data["resultJson"])["resultUrls"][0]
    print(good["code"], data["model"], Image.open(io.BytesIO(http.get(url).content)).size)
    print(create({"prompt": "a poster", "aspect_ratio": "7:1"})["code"])
    print(create({"prompt": "a poster", "guidance": 21})["code"])
"""


def test_a_model_added_to_openapi_and_regenerated_is_served(tmp_path: Path) -> None:
    specs = tmp_path / "openapi"
    shutil.copytree(ROOT / "openapi", specs)
    doc = json.loads((specs / "gpt--gpt-image-2-text-to-image.json").read_text(encoding="utf-8"))
    operation = doc["paths"]["/api/v1/jobs/createTask"]["post"]
    operation["operationId"] = "acme-poster-v1"
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    schema["properties"]["model"].update(enum=["acme/poster-v1"], default="acme/poster-v1")
    inputs = schema["properties"]["input"]["properties"]
    inputs["aspect_ratio"]["enum"] = ["1:1", "5:4"]
    inputs["guidance"] = {"type": "number", "maximum": 20}
    del inputs["resolution"]
    (specs / "acme--poster-v1.json").write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "generated"
    regenerate = [sys.executable, str(ROOT / "scripts" / "regenerate"), "--spec-dir", str(specs)]
    subprocess.run([*regenerate, "--output", str(out)], check=True, capture_output=True, cwd=ROOT)  # noqa: S603
    probe = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _NEW_MODEL_PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(out), "PATH": ""},
    )
    # Served with no emulator edit: accepted, echoed, sized 5:4 (long side 1024), its enum and bound
    # enforced from the new document.
    assert probe.stdout.splitlines() == ["200 acme/poster-v1 (1024, 819)", "422", "422"]


# -- over loopback --------------------------------------------------------------------------------


def test_every_model_over_loopback(check_exchange: CheckExchange) -> None:
    with Emulator(schedule=Schedule.instant()) as emu, emu.serve(port=0) as server:
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        with httpx.Client(headers=headers, timeout=10, trust_env=False) as http:
            upload = http.post(
                f"{server.upload_base_url}/api/file-stream-upload",
                files={"file": ("in.png", png_bytes(size=(90, 30)), "image/png")},
                data={"uploadPath": "in"},
            )
            image_url = upload.json()["data"]["downloadUrl"]
            sizes = {}
            for model in GPT_IMAGE:
                spec = MODELS[model]
                created = http.post(
                    f"{server.base_url}/api/v1/jobs/createTask", json=valid_body(spec, image_url)
                )
                check_exchange(created.request, created)
                task_id = created.json()["data"]["taskId"]
                deadline = time.monotonic() + 10
                while (record := _record_at(http, server.base_url, task_id))["state"] != "success":
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
                assert record["model"] == model
                (url,) = json.loads(record["resultJson"])["resultUrls"]
                with Image.open(io.BytesIO(http.get(url).content)) as image:
                    sizes[model] = image.size
                bad = http.post(
                    f"{server.base_url}/api/v1/jobs/createTask",
                    json=valid_body(spec, image_url, aspect_ratio="5:4"),
                )
                assert bad.json()["code"] == 422
    # 1.5: its documents' default ratios; gpt-image-2 without a ratio: auto (the 3:1 input, or 1:1).
    assert sizes[I2I_15] == (1536, 1024)
    assert sizes[T2I_15] == (1024, 1024)
    assert sizes[I2I_2] == (1024, 341)
    assert sizes[T2I_2] == (1024, 1024)


def _record_at(http: httpx.Client, base_url: str, task_id: str) -> dict[str, Any]:
    return http.get(f"{base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()["data"]  # type: ignore[no-any-return]
