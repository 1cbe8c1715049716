"""Issue 13 item 1: each result image is an object (url, index, bytes on demand, save to an exact file
name, to_pil), and ``EditResult.save`` follows one rule for files and folders (shared with the CLI)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import httpx
import pytest
from fake_kie import FILES, Harness, envelope, image_bytes, record
from PIL import Image

import kie_gpt_image as kie

TWO = [f"{FILES}/r/a.png", f"{FILES}/r/b.png"]


def _result(harness: Harness, urls: list[str] | None = None) -> kie.EditResult | kie.AsyncEditResult:
    harness.fake.script("record", envelope(data=record("success", urls=urls)))
    result: kie.EditResult | kie.AsyncEditResult = harness("wait", "task_1")
    return result


def test_each_result_image_has_its_url_and_index(harness: Harness) -> None:
    result = _result(harness, TWO)
    assert [image.url for image in result.images] == TWO
    assert [image.index for image in result.images] == [0, 1]
    assert {image.task_id for image in result.images} == {"task_1"}
    expected = kie.ResultImage if harness.mode == "sync" else kie.AsyncResultImage
    assert all(isinstance(image, expected) for image in result.images)
    assert result.urls == tuple(TWO)  # EditResult.urls stays


def test_an_image_reads_its_bytes_on_demand_without_the_key(harness: Harness) -> None:
    result = _result(harness, TWO)
    assert harness.fake.calls("files") == [], "nothing is downloaded before it is asked for"
    data = harness.run(result.images[1].read())
    assert data == harness.fake.result_body
    assert harness.run(result.images[1].bytes()) == data
    fetched = harness.fake.calls("files")
    assert [str(r.url) for r in fetched] == [TWO[1], TWO[1]]
    assert all("authorization" not in r.headers for r in fetched)


def test_an_image_is_saved_under_exactly_the_name_given(harness: Harness, tmp_path: Path) -> None:
    result = _result(harness)
    target = tmp_path / "out" / "edited.png"
    written = harness.run(result.images[0].save(target))
    assert written == target
    assert target.read_bytes() == harness.fake.result_body
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["edited.png"], "no folder, no .part"


def test_an_image_saved_to_a_folder_gets_the_library_name(harness: Harness, tmp_path: Path) -> None:
    result = _result(harness, TWO)
    written = harness.run(result.images[1].save(f"{tmp_path}/pics/"))
    assert written == tmp_path / "pics" / "task_1-1.png"
    assert written.read_bytes() == harness.fake.result_body


def test_to_pil_decodes_the_image(harness: Harness) -> None:
    harness.fake.result_body = image_bytes("PNG", size=(5, 3))
    result = _result(harness)
    picture = harness.run(result.images[0].to_pil())
    assert isinstance(picture, Image.Image)
    assert picture.size == (5, 3)


def test_to_pil_without_pillow_says_how_to_install_it_and_downloads_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _result(harness)
    monkeypatch.setitem(sys.modules, "PIL", None)  # ``import PIL`` now raises ImportError
    with pytest.raises(kie.InvalidInputError, match="pip install pillow") as caught:
        harness.run(result.images[0].to_pil())
    assert isinstance(caught.value.__cause__, ImportError)
    assert harness.fake.calls("files") == []


def test_to_pil_of_bytes_pillow_cannot_read_is_a_download_error(harness: Harness) -> None:
    harness.fake.result_body = image_bytes("PNG")[:40]  # a PNG signature, then nothing usable
    result = _result(harness)
    with pytest.raises(kie.DownloadError, match="could not be decoded") as caught:
        harness.run(result.images[0].to_pil())
    assert caught.value.task_id == "task_1"


def test_save_to_a_file_name_writes_that_file_not_a_folder(harness: Harness, tmp_path: Path) -> None:
    # Issue 13: result.save("out/edited.png") created a folder out/edited.png/ holding task_...-0.png.
    result = _result(harness)
    paths = harness.run(result.save(tmp_path / "out" / "edited.png"))
    assert paths == [tmp_path / "out" / "edited.png"]
    assert (tmp_path / "out" / "edited.png").is_file()


def test_save_several_images_to_a_file_name_numbers_them(harness: Harness, tmp_path: Path) -> None:
    result = _result(harness, TWO)
    paths = harness.run(result.save(str(tmp_path / "look.webp")))
    assert [p.name for p in paths] == ["look-1.webp", "look-2.webp"]
    assert all(p.read_bytes() == harness.fake.result_body for p in paths)


@pytest.mark.parametrize("given", ["folder/", "folder.png/", "plain"])
def test_a_trailing_slash_or_no_image_suffix_is_a_folder(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _result(harness, TWO)
    paths = harness.run(result.save(given))
    folder = tmp_path / given.rstrip("/")
    assert [p.resolve() for p in paths] == [folder / "task_1-0.png", folder / "task_1-1.png"]
    assert folder.is_dir()


def test_an_existing_folder_with_an_image_suffix_is_a_folder(harness: Harness, tmp_path: Path) -> None:
    (tmp_path / "album.png").mkdir()
    result = _result(harness)
    assert harness.run(result.save(tmp_path / "album.png")) == [tmp_path / "album.png" / "task_1-0.png"]


def test_bytes_and_files_come_from_one_download_path(harness: Harness, tmp_path: Path) -> None:
    # A host's refusal reaches memory and disk alike, through the same retried, key-free fetch.
    harness.fake.script("files", httpx.Response(404))
    result = _result(harness)
    with pytest.raises(kie.DownloadError):
        harness.run(result.images[0].read())
    harness.fake.script("files", httpx.Response(404))
    with pytest.raises(kie.DownloadError):
        harness.run(result.images[0].save(tmp_path / "a.png"))
    assert not (tmp_path / "a.png").exists()
    assert len(harness.fake.calls("files")) == 2


def test_a_bad_destination_is_refused_before_downloading(harness: Harness) -> None:
    result = _result(harness)
    with pytest.raises(kie.InvalidInputError, match="dest"):
        harness.run(result.save(42))  # type: ignore[arg-type]
    assert harness.fake.calls("files") == []


def test_pil_result_round_trips(harness: Harness) -> None:
    result = _result(harness)
    picture = harness.run(result.images[0].to_pil())
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    assert Image.open(buffer).size == picture.size
