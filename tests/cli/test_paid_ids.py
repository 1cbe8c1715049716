"""Issue 11's command-line guarantees: bad text and destinations stop before anything is sent, and a paid
task id is always printed, whatever fails after createTask (saving, the journal)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cli_support import Run, write_manifest

from kie_gpt_image._cli import ExitCode
from kie_gpt_image._cli._commands import Destination, check_destination
from kie_gpt_image._cli._journal import Journal
from kie_gpt_image.emulator import Emulator, Fault

CREATE = "gpt-image-1-5-image-to-image"


def _nothing_sent(emulator: Emulator) -> bool:
    return emulator.call_count("upload-file-stream") == 0 and emulator.call_count(CREATE) == 0


@pytest.mark.parametrize(
    ("option", "value"),
    [("-p", "caf\udce9"), ("--callback-url", "https://me.example/caf\udce9")],  # argv bytes b"caf\xe9"
)
def test_text_that_is_not_utf8_is_a_usage_error_before_any_upload(
    run: Run, image: Path, emulator: Emulator, option: str, value: str
) -> None:
    argv = ["edit", str(image), "-p", "blue", option, value]
    result = run(*argv, "--json")
    assert result.code == ExitCode.USAGE
    error = result.json()["error"]
    assert error["field"] == ("--prompt" if option == "-p" else "--callback-url")
    assert "0xe9" in error["message"]
    assert _nothing_sent(emulator)


def test_an_existing_file_as_output_is_refused_before_anything_is_sent(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    result = run("edit", str(image), "-p", "blue", "-o", str(existing))
    assert result.code == ExitCode.USAGE
    assert "exists and is not a folder" in result.err
    assert _nothing_sent(emulator)
    assert existing.read_text() == "keep me"


def test_output_under_a_file_is_refused_before_anything_is_sent(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    (tmp_path / "plain").write_text("x")
    result = run("edit", str(image), "-p", "blue", "-o", str(tmp_path / "plain" / "out.png"))
    assert result.code == ExitCode.USAGE
    assert _nothing_sent(emulator)


def test_output_with_an_image_suffix_is_the_file_name(run: Run, image: Path, tmp_path: Path) -> None:
    target = tmp_path / "new" / "edited.png"
    result = run("edit", str(image), "-p", "blue", "-o", str(target), "--json")
    assert result.code == 0, result.err
    assert result.json()["files"] == [str(target)]
    assert target.read_bytes().startswith(b"\x89PNG")
    folder = run("edit", str(image), "-p", "blue", "-o", f"{tmp_path / 'folder.png'}/", "--json")
    assert folder.code == 0, folder.err
    assert Path(folder.json()["files"][0]).parent == tmp_path / "folder.png"


def test_several_results_get_numbered_names(tmp_path: Path) -> None:
    dest = check_destination(str(tmp_path / "look.webp"))
    assert dest == Destination(tmp_path / "look.webp", is_file=True)
    assert [p.name for p in dest.file_names(2)] == ["look-1.webp", "look-2.webp"]
    assert [p.name for p in dest.file_names(1)] == ["look.webp"]
    assert not check_destination(str(tmp_path)).is_file
    assert not check_destination(str(tmp_path / "results")).is_file


def test_saving_that_fails_after_payment_prints_the_id_and_does_not_claim_nothing_was_spent(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    emulator.faults.on("files", None, Fault.http_error(500))
    result = run("edit", str(image), "-p", "blue", "-o", str(tmp_path / "out"), sleep=lambda _: None)
    assert result.code == ExitCode.SAVE_FAILED
    assert emulator.call_count(CREATE) == 1
    task_id = re.findall(r"task (\S+) created", result.err)[0]
    assert f"task {task_id} succeeded (credits were spent)" in result.err
    assert f"kie-gpt-image wait {task_id} -o" in result.err
    assert "nothing was sent" not in result.err
    assert result.out.strip().startswith("https://")  # the result URL, to fetch by hand
    as_json = run("wait", task_id, "-o", str(tmp_path / "out"), "--json", sleep=lambda _: None)
    assert as_json.code == ExitCode.SAVE_FAILED
    assert as_json.json()["error"]["task_id"] == task_id


def test_a_manifest_line_with_a_lone_surrogate_fails_check_with_its_line(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(
        tmp_path,
        [
            {"images": ["in.png"], "prompt": "fine"},
            '{"images": ["in.png"], "prompt": "bad \\ud800 text"}',
            '{"id": "x\\udce9", "images": ["in.png"], "prompt": "fine"}',
        ],
    )
    result = run("batch", str(manifest), "--check", "--json")
    assert result.code == ExitCode.USAGE
    lines = {entry["line"]: entry["message"] for entry in result.json()["error"]["lines"]}
    assert set(lines) == {2, 3}
    assert "prompt" in lines[2]
    assert "unpaired surrogate" in lines[2]
    assert "id" in lines[3]
    assert _nothing_sent(emulator)


def test_paid_ids_reach_the_user_when_the_journal_cannot_record_them(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_update = Journal.update
    writes = {"submitted": 0}

    def disk_full_on_the_third_id(self: Journal, item_id: str, state: str, **fields: Any) -> None:
        if state == "submitted" and fields.get("task_id"):
            writes["submitted"] += 1
            if writes["submitted"] >= 3:
                raise sqlite3.OperationalError("database or disk is full")
        real_update(self, item_id, state, **fields)

    monkeypatch.setattr(Journal, "update", disk_full_on_the_third_id)
    manifest = write_manifest(tmp_path, [{"images": ["in.png"], "prompt": f"p{i}"} for i in range(5)])
    result = run("batch", str(manifest), "--no-download", "--concurrency", "1", "--json")
    assert result.code == ExitCode.INTERNAL
    assert emulator.call_count(CREATE) == 3
    lost = result.json()["unjournaled"]
    assert [entry["id"] for entry in lost] == ["3"]
    task_id = lost[0]["task_id"]
    assert f"task {task_id} was created (and is paid for)" in result.err
    assert "disk is full" in result.err
    with sqlite3.connect(tmp_path / "jobs.jsonl.journal.sqlite") as db:
        journaled = {row[0] for row in db.execute("SELECT task_id FROM items WHERE task_id IS NOT NULL")}
    assert task_id not in journaled
    assert len(journaled) == 2


def test_ctrl_c_while_saving_prints_the_task_id(
    run: Run, image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kie_gpt_image._results import EditResult

    def interrupted(self: EditResult, dest: object = ".") -> list[Path]:
        raise KeyboardInterrupt

    monkeypatch.setattr(EditResult, "save", interrupted)
    result = run("edit", str(image), "-p", "blue", "-o", str(tmp_path / "out"))
    assert result.code == ExitCode.INTERRUPTED
    task_id = re.findall(r"task (\S+) created", result.err)[0]
    assert f"save them with: kie-gpt-image wait {task_id} -o DEST" in result.err
