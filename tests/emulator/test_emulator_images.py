"""Result images: real PNGs of the size the aspect ratio implies, deterministic, composed from inputs."""

from __future__ import annotations

import io
import json
import sys

import httpx
import pytest
from emulator_support import create_body, png_data_url
from PIL import Image

from kie_api.models.gpt_image_15_image_to_image_body_input_aspect_ratio import (
    GptImage15ImageToImageBodyInputAspectRatio,
)
from kie_gpt_image.emulator import Emulator, EmulatorDependencyError, size_for

# Reference §1: the gpt-image family's output sizes.
EXPECTED_SIZES = {"1:1": (1024, 1024), "3:2": (1536, 1024), "2:3": (1024, 1536)}


def _result(http: httpx.Client, emu: Emulator, body: dict[str, object]) -> bytes:
    task_id = http.post(f"{emu.base_url}/api/v1/jobs/createTask", json=body).json()["data"]["taskId"]
    data = http.get(f"{emu.base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()["data"]
    (url,) = json.loads(data["resultJson"])["resultUrls"]
    reply = http.get(url)
    assert (reply.status_code, reply.headers["content-type"]) == (200, "image/png")
    return reply.content


@pytest.mark.parametrize("ratio", [m.value for m in GptImage15ImageToImageBodyInputAspectRatio])
def test_result_png_has_the_size_of_the_aspect_ratio(
    emulator: Emulator, http: httpx.Client, ratio: str
) -> None:
    with Image.open(io.BytesIO(_result(http, emulator, create_body(aspect_ratio=ratio)))) as image:
        assert (image.format, image.size) == ("PNG", EXPECTED_SIZES[ratio])


def test_results_are_deterministic_for_the_same_inputs_and_prompt(
    emulator: Emulator, http: httpx.Client
) -> None:
    first = _result(http, emulator, create_body(prompt="a red hat"))
    second = _result(http, emulator, create_body(prompt="a red hat"))
    other = _result(http, emulator, create_body(prompt="a blue hat"))
    assert first == second
    assert first != other


def test_uploaded_inputs_are_composed_and_foreign_ones_are_placeholders(
    emulator: Emulator, http: httpx.Client
) -> None:
    red = io.BytesIO()
    Image.new("RGB", (80, 80), (255, 0, 0)).save(red, format="PNG")
    upload = http.post(
        f"{emulator.upload_base_url}/api/file-base64-upload",
        json={"base64Data": png_data_url(red.getvalue()), "uploadPath": "in", "fileName": "red.png"},
    ).json()["data"]["downloadUrl"]
    hosted = _result(http, emulator, create_body([upload], prompt="p"))
    foreign = _result(http, emulator, create_body(["https://example.com/red.png"], prompt="p"))
    with Image.open(io.BytesIO(hosted)) as image:
        r, g, b = image.convert("RGB").getpixel((512, 300))  # type: ignore[misc]
        assert r > g + 100
        assert r > b + 100
    with Image.open(io.BytesIO(foreign)) as image:
        r, g, b = image.convert("RGB").getpixel((512, 300))  # type: ignore[misc]
        assert abs(r - g) < 100
        assert abs(g - b) < 100


def test_many_inputs_and_a_chained_result_as_input(emulator: Emulator, http: httpx.Client) -> None:
    first = _result(http, emulator, create_body(prompt="one"))
    task_id = emulator.exchanges[0].response.json()["data"]["taskId"]
    chained = create_body([f"{emulator.files_base_url}/r/{task_id}.png"] * 3 + ["https://x.test/a"] * 13)
    with Image.open(io.BytesIO(_result(http, emulator, chained))) as image:
        assert image.size == (1024, 1024)
    assert first.startswith(b"\x89PNG")


@pytest.mark.parametrize("ratio", ["weird", "0:0", "1:0", "nan:1", ""])
def test_unparsable_aspect_ratios_are_square(ratio: str) -> None:
    assert size_for(ratio) == (1024, 1024)


def test_missing_pillow_names_the_extra(
    emulator: Emulator, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(EmulatorDependencyError, match=r"kie-gpt-image\[emulator\]"):
        _result(http, emulator, create_body())
