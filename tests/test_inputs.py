"""Every bad input is a typed error raised before anything is sent or spent."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fake_kie import KEY, FakeKie, Harness, image_bytes

import kie_gpt_image as kie
from kie_gpt_image import _api

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
    h("create_task", [GOOD], "p", callback_url="http://127.0.0.1:9000/cb")
    assert len(fake_kie.calls("create")) == 1


def test_every_allowed_value_is_accepted(harness: Harness) -> None:
    for ratio in kie.ASPECT_RATIOS:
        for quality in kie.QUALITIES:
            harness("create_task", [GOOD], "p", aspect_ratio=ratio, quality=quality)
    assert len(harness.fake.calls("create")) == len(kie.ASPECT_RATIOS) * len(kie.QUALITIES)


def test_a_single_image_need_not_be_wrapped_in_a_list(harness: Harness) -> None:
    harness("create_task", PNG, "p")
    assert len(harness.fake.calls("upload-stream")) == 1
