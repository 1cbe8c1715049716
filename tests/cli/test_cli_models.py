"""The CLI offers every model and its options from the catalog: ``--model``, one flag per option with
the enum as choices, a ``generate`` command, and the manifest's ``model`` field (issue 12 item 4)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import Result, png_bytes, write_manifest
from fake_kie import FakeKie

from kie_gpt_image._cli import Context, ExitCode, main
from kie_gpt_image._cli._manifest import load_manifest

KEY = "sk-test-cli-models-0123"


@pytest.fixture
def fake() -> FakeKie:
    return FakeKie()


def _run(fake: FakeKie, *argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()

    async def no_sleep(seconds: float) -> None:
        return None

    ctx = Context(
        env={"KIE_API_KEY": KEY},
        stdout=out,
        stderr=err,
        tty=False,
        transport=httpx.MockTransport(fake.handler),
        async_transport=httpx.MockTransport(fake.handler),
        sleep=lambda seconds: None,
        async_sleep=no_sleep,
    )
    code = main(list(argv), context=ctx)
    return Result(code, out.getvalue(), err.getvalue())


def _inputs(fake: FakeKie) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in fake.calls("create")]


def test_edit_with_another_model_and_its_options(fake: FakeKie, tmp_path: Path) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes())
    argv = ["edit", str(image), "-p", "x", "--model", "gpt-image-2-image-to-image", "--resolution", "2K"]
    result = _run(fake, *argv, "--aspect-ratio", "auto", "--json")
    assert result.code == ExitCode.OK, result.err
    assert result.json()["task_id"] == "task_1"
    (body,) = _inputs(fake)
    assert body["model"] == "gpt-image-2-image-to-image"
    assert body["input"]["resolution"] == "2K"
    assert body["input"]["aspect_ratio"] == "auto"
    assert len(body["input"]["input_urls"]) == 1  # uploaded first


def test_generate_command_with_the_default_and_another_model(fake: FakeKie) -> None:
    assert _run(fake, "generate", "-p", "a fox", "--quality", "high", "--no-wait").code == ExitCode.OK
    argv = ["generate", "-p", "a fox", "--model", "gpt-image-2-text-to-image", "--resolution", "4K"]
    assert _run(fake, *argv).code == ExitCode.OK
    first, second = _inputs(fake)
    assert first == {
        "model": "gpt-image/1.5-text-to-image",
        "input": {"prompt": "a fox", "aspect_ratio": "1:1", "quality": "high"},
    }
    assert second == {"model": "gpt-image-2-text-to-image", "input": {"prompt": "a fox", "resolution": "4K"}}
    assert fake.calls("upload-stream") == []


@pytest.mark.parametrize(
    "argv",
    [
        ["edit", "a.png", "-p", "x", "--resolution", "2K"],  # not an option of the default model
        ["edit", "a.png", "-p", "x", "--model", "gpt-image-2-image-to-image", "--quality", "high"],
        ["edit", "a.png", "-p", "x", "--model", "gpt-image-2-image-to-image", "--resolution", "8K"],
        ["edit", "a.png", "-p", "x", "--model", "gpt-image-2-text-to-image"],  # takes no images
        ["generate", "-p", "x", "--model", "gpt-image/1.5-image-to-image"],
        ["generate", "-p", "x", "--aspect-ratio", "16:9"],
    ],
)
def test_an_option_the_model_does_not_take_is_a_usage_error(fake: FakeKie, argv: list[str]) -> None:
    result = _run(fake, *argv)
    assert result.code == ExitCode.USAGE
    assert fake.requests == []


def test_help_lists_the_chosen_models_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edit", "--help"]) == 0
    default = capsys.readouterr().out
    assert "options of gpt-image/1.5-image-to-image" in default
    assert "--quality {medium,high}" in default
    assert "--resolution" not in default
    assert main(["edit", "--model", "gpt-image-2-image-to-image", "--help"]) == 0
    chosen = capsys.readouterr().out
    assert "--resolution {1K,2K,4K}" in chosen
    assert "--aspect-ratio {auto,1:1,9:16,16:9,4:3,3:4}" in chosen
    assert "--quality" not in chosen
    assert main(["generate", "--help"]) == 0
    assert "options of gpt-image/1.5-text-to-image" in capsys.readouterr().out


def test_manifest_lines_choose_their_model_and_options(fake: FakeKie, tmp_path: Path) -> None:
    (tmp_path / "in.png").write_bytes(png_bytes())
    lines: list[Any] = [
        {"id": "a", "images": ["in.png"], "prompt": "edit", "quality": "high"},
        {
            "id": "b",
            "model": "gpt-image-2-image-to-image",
            "images": ["in.png"],
            "prompt": "e2",
            "resolution": "2K",
        },
        {"id": "c", "model": "gpt-image-2-text-to-image", "prompt": "draw", "aspect_ratio": "16:9"},
    ]
    manifest = write_manifest(tmp_path, lines)
    result = _run(fake, "batch", str(manifest), "--no-download", "--json")
    assert result.code == ExitCode.OK, result.err
    bodies = {b["input"]["prompt"]: b for b in _inputs(fake)}
    assert bodies["edit"]["model"] == "gpt-image/1.5-image-to-image"
    assert bodies["edit"]["input"]["quality"] == "high"
    assert bodies["e2"]["model"] == "gpt-image-2-image-to-image"
    assert bodies["e2"]["input"]["resolution"] == "2K"
    assert bodies["draw"] == {
        "model": "gpt-image-2-text-to-image",
        "input": {"prompt": "draw", "aspect_ratio": "16:9"},
    }


def test_manifest_problems_name_the_model(tmp_path: Path) -> None:
    (tmp_path / "in.png").write_bytes(png_bytes())
    lines: list[Any] = [
        {"images": ["in.png"], "prompt": "x", "resolution": "2K"},
        {"model": "gpt-image-2-image-to-image", "images": ["in.png"], "prompt": "x", "resolution": "9K"},
        {"model": "gpt-image-2-text-to-image", "images": ["in.png"], "prompt": "x"},
        {"model": "nope", "prompt": "x"},
    ]
    items, problems = load_manifest(write_manifest(tmp_path, lines))
    assert items == []
    messages = [str(p) for p in problems]
    assert "line 1: resolution: unknown field (allowed for gpt-image/1.5-image-to-image" in messages[0]
    assert "resolution" in messages[1]
    assert "is not one of 1K, 2K, 4K" in messages[1]
    assert "takes no input images" in messages[2]
    assert messages[3].startswith("line 4: model:")


def test_journal_fingerprints_of_default_lines_are_unchanged(tmp_path: Path) -> None:
    # The digest a journal written before there were several models holds for this line.
    (tmp_path / "in.png").write_bytes(png_bytes())
    (item,), _ = load_manifest(write_manifest(tmp_path, [{"images": ["in.png"], "prompt": "p"}]))
    import hashlib

    blob = json.dumps([item.images, "p", "3:2", "medium"], ensure_ascii=False)
    assert item.fingerprint == hashlib.sha256(blob.encode()).hexdigest()[:32]
