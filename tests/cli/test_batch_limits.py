"""``batch`` keeps kie.ai's account limits through the client's scheduler: its flags, a shared store, and
an item still waiting for its createTask slot when the run is interrupted."""

from __future__ import annotations

import signal
import sqlite3
import time
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


def _served_run(emulator: Emulator, tmp_path: Path, *argv: str, env: dict[str, str]) -> tuple[int, str]:
    """``batch`` against the emulator served on loopback (its callbacks go over the network)."""
    import io

    from kie_gpt_image._cli import Context, main

    err = io.StringIO()
    with emulator.serve(port=0) as server:
        code = main(
            [*argv, "--base-url", server.base_url, "--upload-base-url", server.upload_base_url],
            context=Context(env=env, stdout=io.StringIO(), stderr=err, tty=False),
        )
    return code, err.getvalue()


def test_listen_ends_each_wait_when_its_callback_arrives(image: Path, tmp_path: Path) -> None:
    emulator = Emulator(api_key=SECRET_KEY, schedule=Schedule(0.0, 0.0, 0.3))
    manifest = write_manifest(tmp_path, _items(3))
    env = {"KIE_API_KEY": SECRET_KEY, "KIE_WEBHOOK_HMAC_KEY": emulator.webhook_hmac_key}
    # Polls 60 s apart: the batch ends within seconds only if the callbacks end its waits.
    argv = ("batch", str(manifest), "--no-download", "--poll-interval", "60", "--listen", "127.0.0.1:0")
    started = time.monotonic()
    code, err = _served_run(emulator, tmp_path, *argv, env=env)
    assert code == ExitCode.OK, err
    assert time.monotonic() - started < 20
    assert "receiving callbacks at http://127.0.0.1:" in err
    delivered = emulator.callback_attempts_made
    assert len(delivered) == 3
    assert all(attempt.status_code == 200 for attempt in delivered)
    # Each wait: its first poll (running), then the one poll the callback asked for.
    assert emulator.call_count("get-task-details") == 6
    assert set(_states(tmp_path / "jobs.jsonl.journal.sqlite").values()) == {"done"}


def test_with_listen_polls_only_back_callbacks_up(image: Path, tmp_path: Path) -> None:
    # 3 s tasks: kie.ai's schedule would poll each at 0 and 2 s before its callback; with --listen the
    # next scheduled poll is 30 s away, so each wait polls once, then once more when its callback comes.
    emulator = Emulator(api_key=SECRET_KEY, schedule=Schedule(0.0, 0.0, 3.0))
    manifest = write_manifest(tmp_path, _items(3))
    env = {"KIE_API_KEY": SECRET_KEY, "KIE_WEBHOOK_HMAC_KEY": emulator.webhook_hmac_key}
    code, err = _served_run(
        emulator, tmp_path, "batch", str(manifest), "--no-download", "--listen", "127.0.0.1:0", env=env
    )
    assert code == ExitCode.OK, err
    assert len(emulator.callback_attempts_made) == 3
    assert emulator.call_count("get-task-details") == 6
    assert set(_states(tmp_path / "jobs.jsonl.journal.sqlite").values()) == {"done"}


@pytest.mark.parametrize(
    ("argv", "env", "field"),
    [
        (("--listen", "127.0.0.1:0"), {}, "KIE_WEBHOOK_HMAC_KEY"),
        (("--listen", "nohost"), {"KIE_WEBHOOK_HMAC_KEY": "k"}, "--listen"),
        (("--listen", "0.0.0.0:0"), {"KIE_WEBHOOK_HMAC_KEY": "k"}, "--callback-url"),
        (("--callback-url", "https://example.com/cb"), {"KIE_WEBHOOK_HMAC_KEY": "k"}, "--listen"),
    ],
)
def test_bad_callback_flags_are_refused_before_anything_is_sent(
    image: Path, tmp_path: Path, argv: tuple[str, ...], env: dict[str, str], field: str
) -> None:
    emulator = Emulator(api_key=SECRET_KEY, schedule=Schedule.instant())
    manifest = write_manifest(tmp_path, _items(1))
    code, err = _served_run(
        emulator, tmp_path, "batch", str(manifest), *argv, env={"KIE_API_KEY": SECRET_KEY, **env}
    )
    assert code == ExitCode.USAGE
    assert field in err
    assert emulator.call_count(CREATE) == 0
