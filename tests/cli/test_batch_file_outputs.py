"""A manifest line whose ``out`` names a file (``out/job-07.png``) resumes and re-runs (issue 24, item 7)."""

from __future__ import annotations

from pathlib import Path

from cli_support import Run, write_manifest

from kie_gpt_image._cli import ExitCode
from kie_gpt_image.emulator import Emulator

CREATE = "gpt-image-1-5-image-to-image"


def test_a_file_named_as_out_is_written_and_the_batch_resumes_and_reruns(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(
        tmp_path,
        [
            {"id": "job-07", "images": ["in.png"], "prompt": "p", "out": "out/job-07.png"},
            {"id": "job-08", "images": ["in.png"], "prompt": "q", "out": "out/"},
        ],
    )
    assert run("batch", str(manifest), "--check").code == ExitCode.OK
    first = run("batch", str(manifest), "--json")
    assert first.code == ExitCode.OK, first.err
    target = tmp_path / "out" / "job-07.png"
    assert target.read_bytes().startswith(b"\x89PNG")
    by_id = {item["id"]: item for item in first.json()["items"]}
    assert by_id["job-07"]["files"] == [str(target)]

    resumed = run("batch", str(manifest), "--json")  # the file exists now: once refused as "not a folder"
    assert resumed.code == ExitCode.OK, resumed.err
    assert resumed.json()["counts"]["skipped"] == 2
    assert emulator.call_count(CREATE) == 2

    target.write_bytes(b"old")
    rerun = run("batch", str(manifest), "--journal", str(tmp_path / "second.sqlite"))
    assert rerun.code == ExitCode.OK, rerun.err
    assert emulator.call_count(CREATE) == 4
    assert target.read_bytes().startswith(b"\x89PNG")  # overwritten by the new run's result


def test_out_naming_an_existing_non_image_file_is_still_refused(
    run: Run, image: Path, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("x")
    manifest = write_manifest(tmp_path, [{"images": ["in.png"], "prompt": "p", "out": "notes.txt"}])
    result = run("batch", str(manifest), "--check")
    assert result.code == ExitCode.USAGE
    assert "is not a folder" in result.err
