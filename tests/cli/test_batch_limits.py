"""``batch`` keeps kie.ai's account limits through the client's scheduler: its flags, a shared store, and
an item still waiting for its createTask slot when the run is interrupted."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
from cli_support import SECRET_KEY, Run, write_manifest

from kie_gpt_image._cli import ExitCode
from kie_gpt_image._cli._batch import BatchEvent
from kie_gpt_image.emulator import Emulator, Schedule

CREATE = "gpt-image-1-5-image-to-image"


def _items(count: int) -> list[dict[str, object]]:
    return [{"images": ["in.png"], "prompt": f"edit number {i}"} for i in range(count)]


def _states(journal: Path) -> dict[str, str]:
    with sqlite3.connect(journal) as db:
        return dict(db.execute("SELECT item_id, state FROM items").fetchall())


@pytest.fixture
def emulator() -> Emulator:
    # kie.ai's create window, shrunk to 3 per second so that the test takes about two seconds.
    return Emulator(
        api_key=SECRET_KEY, schedule=Schedule.instant(), rate_limit=3, rate_window=1.0, poll_limit=100_000
    )


def test_rate_store_keeps_the_budget_in_a_sqlite_file(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(tmp_path, _items(7))
    store = tmp_path / "budget.db"
    result = run(
        "batch",
        str(manifest),
        "--no-download",
        "--json",
        "--rate-limit",
        "3",
        "--rate-window",
        "1",
        "--poll-rate",
        "1000",
        "--rate-store",
        f"sqlite:///{store}",
    )
    assert result.code == ExitCode.OK, result.err
    assert result.json()["counts"]["done"] == 7
    assert emulator.call_count(CREATE) == 7  # not one createTask was answered 429
    assert emulator.limit_counters.create_rate_429s == 0
    with sqlite3.connect(store) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert any(name.endswith("_create") for name in tables)
    assert any(name.endswith("_running") for name in tables)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--rate-store", "postgres://db"),
        ("--max-running", "0"),
        ("--poll-rate", "0"),
        ("--rate-window", "-1"),
    ],
)
def test_bad_limit_flags_are_refused_before_anything_is_sent(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator, flag: str, value: str
) -> None:
    manifest = write_manifest(tmp_path, _items(1))
    result = run("batch", str(manifest), flag, value)
    assert result.code == ExitCode.USAGE
    assert flag in result.err
    assert emulator.call_count(CREATE) == 0


def test_an_item_still_waiting_for_its_slot_stays_pending_when_interrupted(
    run: Run, image: Path, tmp_path: Path
) -> None:
    # One task may run at a time and the first never ends: the second item waits for a running slot.
    # Ctrl-C then must not leave it "submitting" (which a re-run reports as unknown): nothing was sent.
    manifest = write_manifest(tmp_path, _items(2))

    def ctrl_c_once_one_task_runs(event: BatchEvent) -> None:
        if event.state == "submitted":
            signal.raise_signal(signal.SIGINT)

    slow = Emulator(api_key=SECRET_KEY, schedule=Schedule(0.0, 0.0, 3600.0), poll_limit=100_000)
    result = run(
        "batch",
        str(manifest),
        "--no-download",
        "--max-running",
        "1",
        on_batch_event=ctrl_c_once_one_task_runs,
        transport=slow.transport,
        async_transport=slow.transport,
    )
    assert result.code == ExitCode.INTERRUPTED
    assert slow.call_count(CREATE) == 1
    assert sorted(_states(tmp_path / "jobs.jsonl.journal.sqlite").values()) == ["pending", "submitted"]
