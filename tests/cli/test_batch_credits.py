"""``batch --max-credits``, ``--task-cost`` and ``--dry-run`` against the emulator's task cost and balance
(issue 27, item 1): the run never lets the credits spent and reserved pass the budget or the balance."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cli_support import Run, write_manifest

from kie_gpt_image._cli import ExitCode
from kie_gpt_image.emulator import Emulator

CREATE = "gpt-image-1-5-image-to-image"


def _states(journal: Path) -> list[str]:
    with sqlite3.connect(journal) as db:
        return sorted(state for (state,) in db.execute("SELECT state FROM items"))


def _manifest(tmp_path: Path, n: int) -> Path:
    return write_manifest(tmp_path, [{"images": ["in.png"], "prompt": f"p{i}"} for i in range(n)])


def test_the_budget_stops_the_run_and_the_rest_stays_pending(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    emulator.task_cost = 4
    manifest = _manifest(tmp_path, 5)
    journal = tmp_path / "jobs.jsonl.journal.sqlite"
    first = run("batch", str(manifest), "--max-credits", "10", "--no-download", "--json")
    assert first.code == ExitCode.BUDGET, first.err
    data = first.json()
    # The first task runs alone (its cost unknown), then each reserves 4: 4 + 4 <= 10 < 12.
    assert data["counts"]["done"] == 2
    assert data["counts"]["not started"] == 3
    assert data["credits"] == {
        "used": 8.0, "reserved": 0.0, "left": 2.0, "limit": 10.0, "max_credits": 10.0, "balance": 100000.0
    }  # fmt: skip
    assert emulator.call_count(CREATE) == 2
    assert _states(journal) == ["done", "done", "pending", "pending", "pending"]
    assert "credits: 8 used, 0 reserved, 2 left of 10" in first.err
    assert "resume with" in first.err

    # The next run knows the cost from the journal: no task alone first, two more fit in its budget.
    second = run("batch", str(manifest), "--max-credits", "8", "--no-download")
    assert second.code == ExitCode.BUDGET, second.err
    assert emulator.call_count(CREATE) == 4
    assert _states(journal) == ["done", "done", "done", "done", "pending"]


def test_the_balance_is_a_second_bound(run: Run, image: Path, tmp_path: Path, emulator: Emulator) -> None:
    emulator.task_cost = 4
    emulator.credits = 9  # the account's balance
    result = run("batch", str(_manifest(tmp_path, 4)), "--max-credits", "100", "--task-cost",
                 f"{'gpt-image/1.5-image-to-image'}=4", "--no-download")  # fmt: skip
    assert result.code == ExitCode.BUDGET, result.err
    assert emulator.call_count(CREATE) == 2  # 4 + 4 <= 9 < 12
    assert "left of 9" in result.err


def test_dry_run_says_what_would_be_sent_and_sends_nothing(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(
        tmp_path,
        [
            *({"images": ["in.png"], "prompt": f"p{i}"} for i in range(3)),
            {"prompt": "a cat", "model": "gpt-image-2-text-to-image", "id": "t"},
        ],
    )
    dry = run("batch", str(manifest), "--dry-run", "--task-cost", "gpt-image-2-text-to-image=6")
    assert dry.code == ExitCode.OK, dry.err
    assert "gpt-image/1.5-image-to-image: 3 task(s), cost unknown" in dry.err
    assert "gpt-image-2-text-to-image: 1 task(s), 6 credits each, 6 in all" in dry.err
    assert "4 task(s) would be sent, unknown; nothing was sent" in dry.err
    assert emulator.call_count(CREATE) == 0
    assert emulator.call_count("upload-file-stream") == 0

    assert run("batch", str(manifest), "--no-download").code == ExitCode.OK
    (tmp_path / "more.jsonl").write_text(manifest.read_text() + '{"images": ["in.png"], "prompt": "new"}\n')
    journal = str(tmp_path / "jobs.jsonl.journal.sqlite")
    again = run("batch", str(tmp_path / "more.jsonl"), "--journal", journal, "--dry-run", "--json")
    data = again.json()
    assert data["tasks"] == 1  # the finished lines are skipped
    assert data["models"] == [
        {"model": "gpt-image/1.5-image-to-image", "tasks": 1, "task_cost": float(emulator.task_cost),
         "cost": float(emulator.task_cost)}
    ]  # fmt: skip


def test_a_bad_task_cost_is_a_usage_error(run: Run, image: Path, tmp_path: Path) -> None:
    result = run("batch", str(_manifest(tmp_path, 1)), "--task-cost", "nope=3")
    assert result.code == ExitCode.USAGE
    assert "--task-cost" in result.err
