"""A journal written by the previous schema (class names, not exit codes) is migrated on open, and the
batch it belongs to resumes: finished items skipped, existing tasks waited for, nothing paid twice."""

from __future__ import annotations

import sqlite3
import string
import time
from pathlib import Path

import pytest
from cli_support import Run, write_manifest

from kie_gpt_image._cli import ExitCode
from kie_gpt_image._cli._journal import SCHEMA_VERSION, Journal
from kie_gpt_image._cli._manifest import load_manifest
from kie_gpt_image._cli._states import ItemState
from kie_gpt_image.emulator import Emulator

CREATE = "gpt-image-1-5-image-to-image"
FIXTURE = Path(__file__).parent / "fixtures" / "journal_schema1.sql"
IDS = "abcdefgh"


def _old_journal(tmp_path: Path, emulator: Emulator, image: Path) -> tuple[Path, Path, dict[str, str]]:
    """The manifest, a schema-1 journal for it built from the fixture script, and the two task ids the
    old run had created (real tasks at the emulator)."""
    manifest = write_manifest(tmp_path, [{"id": i, "images": ["in.png"], "prompt": f"edit {i}"} for i in IDS])
    items, problems = load_manifest(manifest)
    assert problems == []
    with emulator.client() as client:
        tasks = {name: client.create_task([str(image)], f"edit {name}").task_id for name in ("b", "g")}
    values = {f"fp_{item.id}": item.fingerprint for item in items}
    values.update(
        task_b=tasks["b"], task_g=tasks["g"], now=repr(time.time()), url="https://files.example/in.png"
    )
    journal = tmp_path / "old.journal.sqlite"
    with sqlite3.connect(journal) as db:
        db.executescript(string.Template(FIXTURE.read_text(encoding="utf-8")).substitute(values))
    db.close()
    return manifest, journal, tasks


def _columns(journal: Path) -> list[str]:
    with sqlite3.connect(journal) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(items)")]
    db.close()
    return columns


def test_opening_a_schema_1_journal_stores_exit_codes_instead_of_class_names(
    tmp_path: Path, emulator: Emulator, image: Path
) -> None:
    _, path, tasks = _old_journal(tmp_path, emulator, image)
    assert "error_kind" in _columns(path)
    with Journal(path) as journal:
        entries = journal.entries()
    assert {item_id: entry.exit_code for item_id, entry in entries.items()} == {
        "a": None,
        "b": None,
        "c": ExitCode.UNKNOWN,
        "d": ExitCode.USAGE,  # an InvalidInputError: 2, as in edit (schema 1's runs counted it as 3)
        "e": ExitCode.TASK_FAILED,
        "f": ExitCode.UNKNOWN,  # no class name: "submitting" means a task may exist
        "g": ExitCode.TIMEOUT,
        "h": ExitCode.API,
    }
    # Everything else is carried over as it was.
    states = ["done", "submitted", "unknown", "error", "failed", "submitting", "submitted", "error"]
    assert [entries[i].state for i in IDS] == states
    assert all(isinstance(entries[i].state, ItemState) for i in IDS)
    assert entries["b"].task_id == tasks["b"]
    assert entries["a"].result_urls == ("https://files.example/a-1.png",)
    assert entries["g"].error is not None
    assert "still 'generating'" in entries["g"].error
    columns = _columns(path)
    assert "error_kind" not in columns
    assert "exit_code" in columns
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == (SCHEMA_VERSION,)
    db.close()


def test_an_old_batch_resumes_after_the_migration_without_paying_twice(
    run: Run, tmp_path: Path, emulator: Emulator, image: Path
) -> None:
    manifest, journal, tasks = _old_journal(tmp_path, emulator, image)
    created_before = emulator.call_count(CREATE)
    result = run("batch", str(manifest), "--journal", str(journal), "--no-download", "--json")
    # Only the two items that never had a task are submitted (d: bad input then, h: no credits then).
    assert emulator.call_count(CREATE) == created_before + 2
    report = result.json()
    outcomes = {item["id"]: item["outcome"] for item in report["items"]}
    assert outcomes == {
        "a": "skipped",
        "b": "done",  # the old run's task, waited for
        "c": "unknown",
        "d": "done",
        "e": "skipped",
        "f": "unknown",
        "g": "done",  # the old run's task, waited for
        "h": "done",
    }
    task_ids = {item["id"]: item["task_id"] for item in report["items"]}
    assert (task_ids["b"], task_ids["g"]) == (tasks["b"], tasks["g"])
    # The worst outcome: submissions of unknown outcome (they need a look at the kie.ai task list).
    assert result.code == ExitCode.UNKNOWN
    assert report["exit_code"] == ExitCode.UNKNOWN
    codes = {item["id"]: item["exit_code"] for item in report["items"]}
    assert codes == {"a": 0, "b": 0, "c": 6, "d": 0, "e": 4, "f": 6, "g": 0, "h": 0}

    again = run("batch", str(manifest), "--journal", str(journal), "--no-download", "--json")
    assert again.code == ExitCode.UNKNOWN
    assert emulator.call_count(CREATE) == created_before + 2


@pytest.mark.parametrize(("version", "message"), [("3", "has schema 3"), ("0", "has schema 0")])
def test_a_journal_of_an_unknown_schema_is_refused_and_left_alone(
    run: Run, tmp_path: Path, emulator: Emulator, image: Path, version: str, message: str
) -> None:
    manifest, journal, _ = _old_journal(tmp_path, emulator, image)
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE meta SET value=? WHERE key='schema'", (version,))
    db.close()
    created_before = emulator.call_count(CREATE)
    result = run("batch", str(manifest), "--journal", str(journal))
    assert result.code == ExitCode.USAGE
    assert message in result.err
    assert emulator.call_count(CREATE) == created_before
    assert "error_kind" in _columns(journal)  # untouched


def test_a_journal_row_in_a_state_that_does_not_exist_is_refused(
    run: Run, tmp_path: Path, emulator: Emulator, image: Path
) -> None:
    manifest, journal, _ = _old_journal(tmp_path, emulator, image)
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE items SET state='paid' WHERE item_id='a'")
    db.close()
    result = run("batch", str(manifest), "--journal", str(journal))
    assert result.code == ExitCode.USAGE
    assert "unknown state 'paid'" in result.err
    assert "error_kind" in _columns(journal)  # the failed migration was rolled back
