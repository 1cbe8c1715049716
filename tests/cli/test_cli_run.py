"""``run MODEL KEY=VALUE [KEY=@PATH]``, ``models``, and manifest lines in ``run``'s form (issue 23 item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Run, write_manifest

import kie_gpt_image as kie
from kie_gpt_image import _api
from kie_gpt_image._cli._run import parse_fields


def test_run_uploads_at_path_and_saves_with_the_contents_suffix(
    run: Run, image: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run(
        "run",
        "gpt-image-2-image-to-image",
        "prompt=make it blue",
        f"input_urls=@{image}",
        "aspect_ratio=1:1",
        "-o",
        f"{out}/",
        "--json",
    )
    assert result.code == 0, result.err
    data = result.json()
    assert data["task_id"] in result.err
    assert [Path(p).suffix for p in data["files"]] == [".png"]
    assert Path(data["files"][0]).read_bytes().startswith(b"\x89PNG")


def test_run_without_waiting_prints_the_task_id(run: Run) -> None:
    result = run("run", "gpt-image-2-text-to-image", "prompt=a fox", "--no-wait")
    assert result.code == 0, result.err
    assert result.out.startswith("task_")


def test_run_refuses_an_unknown_model_with_the_nearest_ids(run: Run) -> None:
    result = run("run", "gpt-image-2-text-to-imag", "prompt=a fox")
    assert result.code == 2
    assert "did you mean 'gpt-image-2-text-to-image'" in result.err


def test_run_refuses_a_bad_field_before_anything_is_sent(run: Run, tmp_path: Path) -> None:
    result = run("run", "gpt-image-2-image-to-image", "prompt=x", f"input_urls=@{tmp_path / 'none.png'}")
    assert result.code == 2
    assert "input_urls[0]" in result.err


def test_values_parse_as_json_where_they_parse_and_strings_stay_text() -> None:
    spec = _api.MODELS["gpt-image-2-image-to-image"]
    fields = parse_fields(["prompt=5", "input_urls=@a.png", "input_urls=@b.png", "n=3", "x=[1, 2]"], spec)
    assert fields["prompt"] == "5"  # a string field takes the text as typed
    assert fields["input_urls"] == [Path("a.png"), Path("b.png")]  # a repeated key is a list
    assert (fields["n"], fields["x"]) == (3, [1, 2])


def test_run_model_help_lists_the_models_fields(run: Run) -> None:
    result = run("run", "gpt-image-2-image-to-image", "--help")
    assert result.code == 0
    assert "fields of gpt-image-2-image-to-image" in result.out
    assert "input_urls: image files (@path or URL); required" in result.out
    assert "resolution: string; one of 1K, 2K, 4K" in result.out


def test_models_lists_the_catalogue(run: Run) -> None:
    result = run("models", "--json")
    assert result.code == 0
    models = {m["model"]: m for m in result.json()["models"]}
    assert set(models) == set(_api.MODELS)
    assert models["gpt-image-2-image-to-image"]["media_fields"] == {"input_urls": "image"}
    plain = run("models")
    assert "gpt-image/1.5-image-to-image  [image]  media: input_urls (image)" in plain.out


def test_a_manifest_line_may_give_the_models_input(run: Run, image: Path, tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        [
            {
                "id": "a",
                "model": "gpt-image-2-image-to-image",
                "input": {"prompt": "x", "input_urls": [image.name]},
            },
            {"id": "b", "images": [image.name], "prompt": "flat keys still work", "quality": "high"},
        ],
    )
    result = run("batch", str(manifest), "--no-download", "--json")
    assert result.code == 0, result.err
    assert [item["outcome"] for item in result.json()["items"]] == ["done", "done"]


def test_a_manifest_line_with_input_keeps_its_fields_inside(run: Run, image: Path, tmp_path: Path) -> None:
    line = {"model": "gpt-image-2-image-to-image", "input": {"prompt": "x"}, "resolution": "2K"}
    manifest = write_manifest(tmp_path, [line])
    result = run("batch", str(manifest), "--check")
    assert result.code == 2
    assert 'resolution: give it inside "input"' in result.err


@pytest.mark.parametrize("model", list(_api.MODELS))
def test_run_help_of_every_model_lists_its_fields(run: Run, model: str) -> None:
    result = run("run", model, "--help")
    assert result.code == 0
    for field in _api.MODELS[model].fields:
        assert f"  {field.name.strip()}: " in result.out


def test_edit_and_generate_refuse_a_model_without_a_prompt() -> None:
    from kie_gpt_image._inputs import check_task

    for spec in _api.MODELS.values():
        if _api.prompt_field(spec) is None:
            with pytest.raises(kie.InvalidInputError, match="takes no prompt: call run"):
                check_task(spec.model, [], "a prompt", {}, "any")


def test_wait_with_an_output_folder_prints_a_data_result(run: Run, tmp_path: Path) -> None:
    # A model whose result is data (sora-2-characters: a character id), not files: nothing to save.
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0\0\0\x18ftypisom\0\0\0\0isommp41\0\0\0\x08mdat")
    created = run("run", "sora-2-characters", f"character_file_url=@{video}", "--no-wait")
    assert created.code == 0, created.err
    waited = run("wait", created.out.strip(), "-o", f"{tmp_path / 'out'}/")
    assert waited.code == 0, waited.err
    assert "character_id" in waited.out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
