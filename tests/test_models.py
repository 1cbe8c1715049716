"""Every market model through the same client: options from the catalog, checked before any upload,
sent as each model's document describes (issue 12 items 3 and 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_kie import FILES, Harness, image_bytes

import kie_gpt_image as kie
from kie_gpt_image import _api, _inputs

PNG = image_bytes("PNG")
URL = "https://example.com/a.png"
I2I2 = "gpt-image-2-image-to-image"
T2I2 = "gpt-image-2-text-to-image"
T2I15 = "gpt-image/1.5-text-to-image"


def _body(harness: Harness, index: int = -1) -> dict[str, Any]:
    return json.loads(harness.fake.calls("create")[index].content)  # type: ignore[no-any-return]


def test_the_default_model_sends_its_defaults(harness: Harness) -> None:
    result = harness("edit", [URL], "make it blue")
    assert isinstance(result, (kie.EditResult, kie.AsyncEditResult))
    assert _body(harness) == {
        "model": "gpt-image/1.5-image-to-image",
        "input": {"input_urls": [URL], "prompt": "make it blue", "aspect_ratio": "3:2", "quality": "medium"},
    }


def test_gpt_image_2_edit_uploads_and_sends_its_own_options(harness: Harness) -> None:
    result = harness("edit", [PNG, URL], "make it blue", model=I2I2, aspect_ratio="16:9", resolution="2K")
    assert result.urls == (f"{FILES}/r/task_1-0.png",)
    assert len(harness.fake.calls("upload-stream")) == 1
    assert _body(harness) == {
        "model": I2I2,
        "input": {
            "prompt": "make it blue",
            "input_urls": [f"{FILES}/u/in-0.png", URL],
            "aspect_ratio": "16:9",
            "resolution": "2K",
        },
    }
    # An optional field without a default is left to kie.ai when not given.
    harness("create_task", [URL], "p", model=I2I2)
    assert _body(harness)["input"] == {"prompt": "p", "input_urls": [URL]}


def test_generate_uses_the_text_to_image_models(harness: Harness) -> None:
    result = harness("generate", "a red fox")
    assert isinstance(result, (kie.EditResult, kie.AsyncEditResult))
    assert _body(harness) == {
        "model": T2I15,
        "input": {"prompt": "a red fox", "aspect_ratio": "1:1", "quality": "medium"},
    }
    task = harness("generate", "a red fox", model=T2I2, resolution="4K", aspect_ratio="16:9", wait=False)
    assert task == kie.Task("task_1")
    assert _body(harness) == {
        "model": T2I2,
        "input": {"prompt": "a red fox", "aspect_ratio": "16:9", "resolution": "4K"},
    }
    assert len(harness.fake.calls("record")) == 1  # the first waited, the second did not
    assert harness.fake.calls("upload-stream") == []


def test_a_model_result_is_downloaded_like_any_other(harness: Harness, tmp_path: Path) -> None:
    result = harness("generate", "a red fox", model=T2I2, resolution="1K")
    paths = harness.run(result.save(tmp_path))
    assert [Path(p).read_bytes() for p in paths] == [harness.fake.result_body]


def test_a_model_task_error_is_the_same_typed_error(harness: Harness) -> None:
    from fake_kie import envelope

    harness.fake.script("create", envelope(code=402, msg="Insufficient credits", data=None))
    with pytest.raises(kie.InsufficientCreditsError) as caught:
        harness("generate", "a red fox", model=T2I2)
    assert caught.value.operation == "gpt-image-2-text-to-image"


@pytest.mark.parametrize(
    ("method", "arguments", "field", "problem"),
    [
        ("edit", {"resolution": "2K"}, "resolution", "is not an option of gpt-image/1.5-image-to-image"),
        ("edit", {"aspect_ration": "1:1"}, "aspect_ration", "did you mean 'aspect_ratio'?"),
        ("edit", {"aspect_ratio": "auto"}, "aspect_ratio", "is not one of 1:1, 2:3, 3:2"),
        ("edit", {"quality": "ultra"}, "quality", "is not one of medium, high"),
        ("edit", {"model": I2I2, "quality": "high"}, "quality", f"is not an option of {I2I2}"),
        ("edit", {"model": I2I2, "resolution": "8K"}, "resolution", "is not one of 1K, 2K, 4K"),
        ("edit", {"model": I2I2, "aspect_ratio": 1}, "aspect_ratio", "is not one of auto"),
        ("edit", {"model": I2I2, "prompt": "x" * 20_001}, "prompt", "at most 20000"),
        ("edit", {"model": I2I2, "images": [URL] * 17}, "images", "1 to 16"),
        ("edit", {"model": I2I2, "images": [image_bytes("GIF")]}, "images[0]", "not a supported image"),
        ("edit", {"model": "gpt-image-3"}, "model", "'gpt-image-3' is not one of"),
        ("edit", {"model": T2I2}, "model", "takes no input images: call generate()"),
        ("create_task", {"model": T2I15}, "model", "call generate()"),
        ("generate", {"model": I2I2}, "model", "needs input images: call edit()"),
        ("generate", {"model": T2I2, "quality": "high"}, "quality", f"is not an option of {T2I2}"),
        ("generate", {"model": T2I2, "prompt": "x" * 20_001}, "prompt", "at most 20000"),
        ("generate", {"resolution": "1K"}, "resolution", f"is not an option of {T2I15}"),
    ],
)
def test_a_bad_option_is_refused_before_any_upload(
    harness: Harness, method: str, arguments: dict[str, Any], field: str, problem: str
) -> None:
    call = {"prompt": "p", **arguments}
    if method != "generate":
        call.setdefault("images", [PNG, URL])  # a local image first: it must not be uploaded
    with pytest.raises(kie.InvalidInputError) as caught:
        harness(method, **call)
    assert caught.value.field == field
    assert problem in str(caught.value)
    assert harness.fake.requests == []


def test_gpt_image_2_images_follow_the_seed_image_policy(harness: Harness) -> None:
    # Its documents state no file size or types: the 1.5 document's are the policy (_api.image_limits).
    big = PNG + b"\0" * _api.MAX_INPUT_IMAGE_BYTES
    with pytest.raises(kie.InvalidInputError, match=r"over kie\.ai's limit"):
        harness("edit", [big], "p", model=I2I2)
    assert _inputs.ImageLimits.of(_api.MODELS[I2I2]) == _inputs.DEFAULT_IMAGE_LIMITS
    assert harness.fake.requests == []


def test_the_old_exports_come_from_the_catalog() -> None:
    seed = kie.MODELS[kie.DEFAULT_EDIT_MODEL]
    assert kie.DEFAULT_EDIT_MODEL == "gpt-image/1.5-image-to-image"
    with pytest.deprecated_call():  # left the root (issue 26): each model has its own
        assert kie.ASPECT_RATIOS == seed.field("aspect_ratio").enum  # type: ignore[union-attr]
    with pytest.deprecated_call():
        assert kie.QUALITIES == seed.field("quality").enum  # type: ignore[union-attr]
    with pytest.deprecated_call():
        assert kie.MODEL == kie.DEFAULT_EDIT_MODEL
    assert (kie.DEFAULT_ASPECT_RATIO, kie.DEFAULT_QUALITY) == ("3:2", "medium")
    assert kie.DEFAULT_GENERATE_MODEL == T2I15


# ------------------------------------------------------------------ the generic checks, one by one


def _field(name: str, kind: str, **limits: Any) -> Any:
    values: dict[str, Any] = {
        "name": name,
        "type": kind,
        "required": False,
        "has_default": False,
        "default": None,
        "enum": None,
        "items_type": None,
        "items_format": None,
        "format": None,
        "min_items": None,
        "max_items": None,
        "min_length": None,
        "max_length": None,
        "minimum": None,
        "maximum": None,
        "max_file_bytes": None,
        "mime_types": None,
        "description": "",
        "media": None,
        "schema": {"type": kind},
    }
    values.update(limits)
    return _api.FieldSpec(**values)


_SPEC = _api.ModelSpec(
    model="acme/any",
    operation_id="acme-any",
    method="POST",
    path="/api/v1/jobs/createTask",
    endpoint_module="",
    body_class="",
    input_class=None,
    options_type="",
    input_required=True,
    callback_field=None,
    image_field=None,
    fields=(
        _field("prompt", "string", required=True),
        _field("steps", "integer", minimum=1, maximum=50),
        _field("guidance", "number", maximum=20),
        _field("style", "string", min_length=2, max_length=5),
        _field("tags", "array", items_type="string", max_items=2),
        _field("safe", "boolean"),
        _field("seed", "integer", required=True),
        _field("size", "string", required=True, has_default=True, default="m", enum=("s", "m")),
    ),
    output="image",
    document="acme--any.json",
    prompt_field="prompt",
)


@pytest.mark.parametrize(
    ("options", "field", "problem"),
    [
        ({"steps": 0}, "steps", "below the minimum of 1"),
        ({"steps": 51}, "steps", "above the maximum of 50"),
        ({"steps": 2.5}, "steps", "must be an integer, not float"),
        ({"steps": True}, "steps", "must be an integer, not bool"),
        ({"guidance": "7"}, "guidance", "must be a number, not str"),
        ({"guidance": float("nan")}, "guidance", "finite"),
        ({"style": "x"}, "style", "at least 2 characters"),
        ({"style": "xxxxxx"}, "style", "at most 5 characters"),
        ({"tags": ["a", "b", "c"]}, "tags", "at most 2"),
        ({"tags": ["a", 1]}, "tags[1]", "must be a string"),
        ({"safe": "yes"}, "safe", "must be a boolean"),
        ({"size": "l"}, "size", "is not one of s, m"),
        ({}, "seed", "is required by acme/any"),
    ],
)
def test_every_limit_a_document_states_is_checked(options: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(kie.InvalidInputError) as caught:
        _inputs.check_options(_SPEC, {"seed": 1, **options} if field != "seed" else options)
    assert caught.value.field == field
    assert problem in str(caught.value)


def test_valid_options_are_returned_in_document_order_with_required_defaults() -> None:
    given = {"safe": False, "seed": 7, "tags": ("a",), "steps": 50, "guidance": 1, "style": None}
    assert _inputs.check_options(_SPEC, given) == {
        "steps": 50,
        "guidance": 1,
        "tags": ["a"],
        "safe": False,
        "seed": 7,
        "size": "m",
    }


def test_the_create_body_is_built_by_each_models_generated_class() -> None:
    request = _api.create_task_request(T2I2, {"prompt": "p", "resolution": "2K"}, "https://me.example/cb")
    assert request.paid
    assert request.operation == "gpt-image-2-text-to-image"
    assert request.kwargs["json"] == {
        "model": T2I2,
        "input": {"prompt": "p", "resolution": "2K"},
        "callBackUrl": "https://me.example/cb",
    }
    assert _api.create_body_problem({"model": "nope", "input": {}}) is not None
    assert _api.create_body_problem({"model": T2I2, "input": {"prompt": "p"}}) is None


# ------------------------------------------------------------------ against the emulator, every model


@pytest.mark.parametrize(
    ("method", "model", "options", "size"),
    [
        ("edit", I2I2, {"aspect_ratio": "16:9", "resolution": "2K"}, 16 / 9),
        ("generate", T2I15, {"aspect_ratio": "2:3", "quality": "high"}, 2 / 3),
        ("generate", T2I2, {"aspect_ratio": "3:4"}, 3 / 4),
    ],
)
def test_every_model_end_to_end_against_the_emulator(
    mode: str, tmp_path: Path, method: str, model: str, options: dict[str, Any], size: float
) -> None:
    from PIL import Image

    from kie_gpt_image.emulator import Emulator, Schedule

    fast = kie.PollPolicy(early_interval=0.01, middle_interval=0.01, late_interval=0.01, timeout=10)
    args: list[Any] = [[PNG], "make it"] if method == "edit" else ["draw it"]
    with Emulator(schedule=Schedule.instant()) as emulator:
        if mode == "sync":
            with emulator.client(poll_policy=fast) as client:
                (path,) = getattr(client, method)(*args, model=model, **options).save(tmp_path)
        else:
            import asyncio

            async def run() -> list[Path]:
                async with emulator.async_client(poll_policy=fast) as client:
                    result = await getattr(client, method)(*args, model=model, **options)
                    return await result.save(tmp_path)  # type: ignore[no-any-return]

            (path,) = asyncio.run(run())
        (created,) = [e for e in emulator.exchanges if e.request.url.path == "/api/v1/jobs/createTask"]
        sent = json.loads(created.request.content)
    assert sent["model"] == model
    assert {k: sent["input"][k] for k in options} == options
    with Image.open(path) as image:
        width, height = image.size
    assert abs(width / height - size) < 0.01
