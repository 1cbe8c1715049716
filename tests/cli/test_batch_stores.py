"""``batch`` with a journal or a ``--rate-store`` it cannot use: a usage error naming the flag, before
anything is sent (issue 24, item 12), not "a bug"."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Run, write_manifest

from kie_gpt_image._cli import ExitCode
from kie_gpt_image.emulator import Emulator


def _manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path, [{"images": ["in.png"], "prompt": "p", "id": "a"}])


def _nothing_sent(emulator: Emulator) -> None:
    assert emulator.call_count("upload-file-stream") == 0
    assert emulator.call_count("gpt-image-1-5-image-to-image") == 0


def test_a_journal_that_cannot_be_opened_names_the_flag(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    # A folder that is a file (what a read-only folder also gives: the lock file cannot be created).
    result = run(
        "batch", str(_manifest(tmp_path)), "--journal", str(tmp_path / "in.png" / "j.sqlite"), "--json"
    )
    assert result.code == ExitCode.USAGE
    error = result.json()["error"]
    assert error["type"] == "StoreUnavailableError"
    assert error["field"] == "--journal"
    assert "cannot open the journal" in error["message"]
    assert "bug" not in result.err
    _nothing_sent(emulator)


def test_a_journal_file_that_cannot_be_written_names_the_flag(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    # A folder where the journal should be: the lock opens, the database does not.
    (tmp_path / "j.sqlite").mkdir()
    result = run("batch", str(_manifest(tmp_path)), "--journal", str(tmp_path / "j.sqlite"))
    assert result.code == ExitCode.USAGE
    assert "--journal: cannot open the journal" in result.err
    assert "bug" not in result.err
    _nothing_sent(emulator)


@pytest.mark.parametrize(
    "store",
    ["sqlite:///{tmp}/no/such/folder/limits.db", "redis://:hunter2-secret@127.0.0.1:1/0"],
    ids=["sqlite-missing-folder", "redis-refused"],
)
def test_a_rate_store_that_cannot_be_used_names_the_flag(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator, store: str
) -> None:
    store = store.format(tmp=tmp_path)
    result = run("batch", str(_manifest(tmp_path)), "--rate-store", store)
    assert result.code == ExitCode.USAGE
    (line,) = [line for line in result.err.splitlines() if "error:" in line]
    assert line.startswith("kie-gpt-image: error: --rate-store: the budget store ")
    assert "could not be opened" in line
    assert "hunter2-secret" not in result.err
    assert "bug" not in result.err
    _nothing_sent(emulator)
