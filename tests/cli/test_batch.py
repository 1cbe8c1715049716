"""``batch``: validation before spending, the journal, resuming, unknown outcomes, and the rate limit."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import SECRET_KEY, Run, png_bytes, write_manifest

from kie_gpt_image._cli import Context, ExitCode
from kie_gpt_image._cli._batch import BatchEvent
from kie_gpt_image._cli._journal import Journal
from kie_gpt_image._cli._manifest import load_manifest
from kie_gpt_image.emulator import Emulator, Fault, Outcome, Schedule

CREATE = "gpt-image-1-5-image-to-image"


class SlowReplies(httpx.AsyncBaseTransport):
    """The emulator, with every reply held back a little after the request was processed."""

    def __init__(self, emulator: Emulator) -> None:
        self._inner = emulator.transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        await asyncio.sleep(0.002)
        return response


def _items(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"images": ["in.png"], "prompt": f"edit number {i}", **extra} for i in range(count)]


def _states(journal: Path) -> dict[str, str]:
    with sqlite3.connect(journal) as db:
        return dict(db.execute("SELECT item_id, state FROM items").fetchall())


def test_small_batch_downloads_results_next_to_the_manifest(run: Run, image: Path, tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path, [*_items(2), {"id": "x", "images": ["in.png"], "prompt": "p", "out": "res"}]
    )
    result = run("batch", str(manifest), "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["counts"]["done"] == 3
    assert data["credits_used"] == 12
    by_id = {item["id"]: item for item in data["items"]}
    assert Path(by_id["1"]["files"][0]).parent == tmp_path
    assert Path(by_id["x"]["files"][0]).parent == tmp_path / "res"
    assert all(Path(item["files"][0]).read_bytes().startswith(b"\x89PNG") for item in data["items"])
    assert (tmp_path / "jobs.jsonl.journal.sqlite").exists()
    assert "batch: 3 done, 0 failed, 0 unknown, 0 skipped" in result.err


def test_200_items_each_created_exactly_once(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(tmp_path, _items(200))
    result = run(
        "batch",
        str(manifest),
        "--no-download",
        "--concurrency",
        "32",
        "--rate-limit",
        "100000",
        "--poll-rate",
        "100000",
    )
    assert result.code == 0, result.err
    assert "batch: 200 done" in result.err
    assert emulator.call_count(CREATE) == 200
    # One upload for the one distinct input file, however many items use it.
    assert emulator.call_count("upload-file-stream") == 1
    assert set(_states(tmp_path / "jobs.jsonl.journal.sqlite").values()) == {"done"}

    again = run("batch", str(manifest), "--no-download", "--json")
    assert again.code == 0
    assert again.json()["counts"]["skipped"] == 200
    assert emulator.call_count(CREATE) == 200


def test_interrupted_run_resumes_without_creating_any_task_twice(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(tmp_path, _items(200))
    journaled: list[str] = []

    def ctrl_c_after_50_task_ids(event: BatchEvent) -> None:
        if event.state == "submitted" and event.task_id:
            journaled.append(event.task_id)
            if len(journaled) == 50:
                signal.raise_signal(signal.SIGINT)  # exactly what Ctrl-C does

    args = (
        "batch",
        str(manifest),
        "--no-download",
        "--concurrency",
        "16",
        "--rate-limit",
        "100000",
        "--poll-rate",
        "100000",
    )
    # Replies take time, as on a network: Ctrl-C lands while createTask calls are in flight.
    first = run(*args, on_batch_event=ctrl_c_after_50_task_ids, async_transport=SlowReplies(emulator))
    assert first.code == ExitCode.INTERRUPTED
    assert "interrupted; the journal is consistent: resume with: kie-gpt-image batch" in first.err
    assert "batch: " in first.err  # the graceful path: the run stopped and summarised itself
    states = _states(tmp_path / "jobs.jsonl.journal.sqlite")
    created_before = emulator.call_count(CREATE)
    assert 50 <= created_before < 200
    # Every createTask that went out has its task id in the journal (in-flight ones were let finish).
    assert "submitting" not in states.values()
    assert sum(state in ("submitted", "done") for state in states.values()) == created_before

    second = run(*args, "--json")
    assert second.code == 0, second.err
    assert second.json()["counts"]["done"] + second.json()["counts"]["skipped"] == 200
    assert emulator.call_count(CREATE) == 200
    assert set(_states(tmp_path / "jobs.jsonl.journal.sqlite").values()) == {"done"}


def test_unknown_outcome_is_not_resubmitted_unless_asked(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    # The 3rd createTask is processed (a task is created and paid), then the connection drops.
    emulator.faults.on(CREATE, 3, Fault.drop_after())
    manifest = write_manifest(tmp_path, _items(5))
    first = run("batch", str(manifest), "--no-download", "--concurrency", "1")
    assert first.code == ExitCode.UNKNOWN
    assert "batch: 4 done, 0 failed, 1 unknown" in first.err
    assert "item 3 (line 3): submission outcome unknown" in first.err
    assert "--resubmit-unknown" in first.err
    assert emulator.call_count(CREATE) == 5

    second = run("batch", str(manifest), "--no-download")
    assert second.code == ExitCode.UNKNOWN
    assert emulator.call_count(CREATE) == 5

    third = run("batch", str(manifest), "--no-download", "--resubmit-unknown", "--json")
    assert third.code == 0, third.err
    assert third.json()["counts"]["done"] == 1
    assert emulator.call_count(CREATE) == 6


def test_crash_while_submitting_is_reported_as_unknown(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(tmp_path, _items(4))
    journal = tmp_path / "j.sqlite"
    # The journal as a run that died right after marking item 4 "submitting" leaves it.
    items, _ = load_manifest(manifest)
    with Journal(journal) as crashed:
        crashed.add([(item.id, item.line, item.fingerprint) for item in items])
        crashed.update("4", "submitting")
    result = run("batch", str(manifest), "--journal", str(journal), "--no-download", "--json")
    assert result.code == ExitCode.UNKNOWN
    outcomes = {item["id"]: item["outcome"] for item in result.json()["items"]}
    assert outcomes == {"1": "done", "2": "done", "3": "done", "4": "unknown"}
    assert "in flight" in result.json()["items"][3]["error"]
    assert emulator.call_count(CREATE) == 3


def test_failed_tasks_and_worst_exit_code(run: Run, image: Path, tmp_path: Path, emulator: Emulator) -> None:
    emulator.outcome = lambda body: Outcome.fail() if "fail" in body["input"]["prompt"] else Outcome.success()
    manifest = write_manifest(tmp_path, [*_items(2), {"images": ["in.png"], "prompt": "please fail"}])
    result = run("batch", str(manifest), "--no-download")
    assert result.code == ExitCode.TASK_FAILED
    assert "batch: 2 done, 1 failed" in result.err
    assert "item 3: task task_gpt-image_" in result.err
    # Finished items are not retried, and the exit code still reflects the failure.
    again = run("batch", str(manifest), "--no-download")
    assert again.code == ExitCode.TASK_FAILED
    assert emulator.call_count(CREATE) == 3


def test_not_accepted_items_are_retried_on_the_next_run(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    emulator.faults.on(CREATE, None, Fault.body_code(402))
    manifest = write_manifest(tmp_path, _items(2))
    first = run("batch", str(manifest), "--no-download")
    assert first.code == ExitCode.API
    assert "resume with: kie-gpt-image batch" in first.err
    emulator.faults.clear()
    second = run("batch", str(manifest), "--no-download")
    assert second.code == 0
    assert len(emulator.create_times) == 2


def test_every_bad_line_is_reported_before_any_request(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    (tmp_path / "notes.txt").write_text("text")
    lines: list[Any] = [
        {"images": ["in.png"], "prompt": "fine"},
        "{not json",
        {"images": ["in.png"]},
        {"images": ["in.png"], "prompt": "x", "aspect_ratio": "4:3"},
        {"images": ["missing.png"], "prompt": "x"},
        {"images": ["in.png"] * 17, "prompt": "x"},
        {"images": ["notes.txt"], "prompt": "x"},
        {"images": ["in.png"], "prompt": "x", "qualty": "high"},
        {"id": "1", "images": ["in.png"], "prompt": "x"},
        {"images": ["in.png"], "prompt": "x", "quality": "ultra"},
    ]
    manifest = write_manifest(tmp_path, lines)
    result = run("batch", str(manifest), "--json")
    assert result.code == ExitCode.USAGE
    reported = [entry["line"] for entry in result.json()["error"]["lines"]]
    assert reported == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert "line 5: images[0]: cannot read" in result.err
    assert "line 6: images: 17 given" in result.err
    assert "line 9: id '1' already used on line 1" in result.err
    assert emulator.exchanges == []
    assert not (tmp_path / "jobs.jsonl.journal.sqlite").exists()


def test_a_changed_line_is_not_matched_to_its_old_journal_entry(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(tmp_path, _items(2))
    assert run("batch", str(manifest), "--no-download").code == 0
    write_manifest(tmp_path, [*_items(1), {"images": ["in.png"], "prompt": "something else"}])
    result = run("batch", str(manifest), "--no-download")
    assert result.code == ExitCode.USAGE
    assert "line 2: item '2' changed since the journal recorded it" in result.err
    assert emulator.call_count(CREATE) == 2


def test_a_second_runner_on_the_same_journal_is_refused(run: Run, image: Path, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, _items(1))
    with Journal(tmp_path / "jobs.jsonl.journal.sqlite"):
        result = run("batch", str(manifest))
    assert result.code == ExitCode.USAGE
    assert "another batch run is using" in result.err


def test_check_validates_without_sending(run: Run, image: Path, tmp_path: Path, emulator: Emulator) -> None:
    manifest = write_manifest(tmp_path, _items(3))
    result = run("batch", str(manifest), "--check", "--json")
    assert result.code == 0
    assert result.json() == {"manifest": str(manifest), "items": 3, "valid": True}
    assert emulator.exchanges == []


# A virtual clock running SCALE times faster than real time: 10 virtual seconds pass in half a second,
# long enough that a machine under load still sends a burst well within one window.
SCALE = 20.0


def _virtual_clock() -> float:
    return time.monotonic() * SCALE


async def _virtual_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds / SCALE)


def _rate_limited_run(tmp_path: Path, count: int, *extra: str) -> tuple[Emulator, int]:
    from kie_gpt_image._cli import main

    (tmp_path / "in.png").write_bytes(png_bytes())
    # The documented limit: 20 new tasks per 10 s, enforced by the emulator on the same virtual clock (the
    # poll limit is lifted: this is about creates, and 40 pollers on a 20x clock would meet it under load).
    emulator = Emulator(
        api_key=SECRET_KEY,
        schedule=Schedule.instant(),
        clock=_virtual_clock,
        rate_limit=20,
        rate_window=10.0,
        poll_limit=10**6,
    )
    manifest = write_manifest(tmp_path, _items(count))
    ctx = Context(
        env={"KIE_API_KEY": SECRET_KEY},
        async_transport=emulator.transport,
        async_sleep=_virtual_sleep,
        clock=_virtual_clock,
        tty=False,
    )
    argv = ["batch", str(manifest), "--no-download", "--concurrency", "40", *extra]
    code = main(
        [*argv, "--base-url", emulator.base_url, "--upload-base-url", emulator.upload_base_url], context=ctx
    )
    return emulator, code


def test_rate_limiter_keeps_creates_within_the_documented_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator, code = _rate_limited_run(tmp_path, 45)
    assert code == 0, capsys.readouterr().err
    times = emulator.create_times
    assert len(times) == 45
    assert emulator.call_count(CREATE) == 45  # not a single 429
    assert all(later - earlier >= 10.0 for earlier, later in zip(times, times[20:], strict=False))
    # ... and it really held creates back: 45 creates need two full windows after the first burst.
    assert times[-1] - times[0] >= 20.0


def test_without_the_limiter_the_emulator_answers_429(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The control experiment for the test above: the same batch with the client limit lifted.
    emulator, _ = _rate_limited_run(tmp_path, 45, "--rate-limit", "1000")
    capsys.readouterr()
    assert emulator.call_count(CREATE) > len(emulator.create_times)
